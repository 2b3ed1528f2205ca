"""CLI commands of the train package, registered on the main app by ``embedbench.cli``."""

from __future__ import annotations

from collections.abc import Callable

import typer


def register(app: typer.Typer, user_errors: Callable) -> None:
    """Add this package's commands to ``app``; wrap each command function with ``user_errors``."""
