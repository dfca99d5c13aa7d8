"""The console's screens: dashboard, strategy detail, order trace, and the dialogs."""
