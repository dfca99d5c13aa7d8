"""What the console shows, as plain data both the app and the widgets may use (no Textual, no app).

`rows.py`: the row types of each pane; `keys.py`: the table of every key.
"""
