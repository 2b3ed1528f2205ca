"""``embedbench prep``: build the prepared sets of an experiment file's prep section."""

from __future__ import annotations

from typing import Annotated

import typer

from embedbench.cli._output import ConfigOption, EngineOption, activate_engine, user_errors
from embedbench.config import DEFAULT_CONFIG
from embedbench.prep.pipeline import run_prep_file


@user_errors
def prep_command(
    config: ConfigOption = DEFAULT_CONFIG,
    sets: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="prepare only this set (repeatable)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="rebuild sets even when nothing changed")
    ] = False,
    engine: EngineOption = None,
) -> None:
    """Build the prepared sets of the prep section: clean, dedupe, check leakage, split; write Parquet, manifest, report."""
    activate_engine(config, engine)
    run_prep_file(config, sets=sets or None, force=force, log=typer.echo)
