"""CLI commands of the prep package, registered on the main app by ``embedbench.cli``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer, user_errors: Callable) -> None:
    """Add this package's commands to ``app``; wrap each command function with ``user_errors``."""

    @app.command("prep")
    @user_errors
    def prep_command(
        config: Annotated[
            Path, typer.Option("--config", "-c", help="experiment file with a prep section")
        ] = Path("bench.toml"),
        sets: Annotated[
            list[str] | None, typer.Option("--set", "-s", help="prepare only this set (repeatable)")
        ] = None,
        force: Annotated[
            bool, typer.Option("--force", help="rebuild sets even when nothing changed")
        ] = False,
    ) -> None:
        """Build the prepared sets of the prep section: clean, dedupe, check leakage, split; write Parquet, manifest, report."""
        from embedbench.prep.pipeline import run_prep_file

        run_prep_file(config, sets=sets or None, force=force, log=typer.echo)

    from embedbench.cli.mine import register_mine

    register_mine(app, user_errors)
