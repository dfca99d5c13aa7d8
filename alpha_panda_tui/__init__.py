"""Alpha Panda TUI: the command line, the Textual console, the bus<->UI bridge and the headless runner."""

__version__ = "0.1.0"
