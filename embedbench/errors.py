"""One exception type for problems the user can fix (bad input, missing package, unknown name)."""


class EmbedbenchError(Exception):
    """An error caused by the user's input or environment; the CLI prints it without a traceback."""
