"""The process exit codes of `alpha-panda-tui` (documented in the README)."""

EXIT_OK = 0
EXIT_FAILED = 1  # the engine could not start or did not stop cleanly; a control command failed
EXIT_CONFIG = 2  # invalid configuration or input file: one message names the field and the fix
EXIT_ALREADY_RUNNING = 3  # another engine holds this data dir or this database
