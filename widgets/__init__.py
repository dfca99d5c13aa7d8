"""Textual widgets for the console, one concern each."""
