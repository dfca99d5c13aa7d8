"""The sandbox's matching engine: orders against the simulated book, the fills they make, and the
positions and margins of the sandbox account."""
