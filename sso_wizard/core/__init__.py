"""Plain-Python core: no textual, no click. Callable from tests, scripts, the CLI and the TUI."""
