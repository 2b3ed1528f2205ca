"""One exception type for problems the user can fix (bad input, missing package, unknown name), and the exit codes.

Every command exits with one of three codes:

* ``EXIT_OK`` (0): the work was done, or the check passed;
* ``EXIT_FAILED_CHECK`` (1): a check ran and gave a failing verdict (``embedbench check`` found a regression);
* ``EXIT_BAD_INPUT`` (2): bad input, usage or configuration; nothing was done that a rerun would trust.
"""

EXIT_OK = 0
EXIT_FAILED_CHECK = 1
EXIT_BAD_INPUT = 2


class EmbedbenchError(Exception):
    """An error caused by the user's input or environment; the CLI prints it as one line and exits 2."""
