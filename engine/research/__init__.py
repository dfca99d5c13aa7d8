"""Research: replay recorded ticks through the live pipeline, report, and sweep parameters."""
