"""What the console shows, as plain data the app and the widgets may both use (no Textual, no app).

`rows.py`: the row types of each pane; the pane models that fold bus events into them
(`market.py`, `trading.py`, `portfolio.py`, `engine_status.py`, `event_log.py`), each with a
`revision` (`revision.py`); `keys.py`: the table of every key.
"""
