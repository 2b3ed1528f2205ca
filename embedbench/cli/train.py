"""``embedbench train``: fine-tune the base model of an experiment file's train section."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from embedbench.cli._output import ConfigOption, user_errors
from embedbench.config import DEFAULT_CONFIG
from embedbench.train.config import load_train_config
from embedbench.train.evaluation import EVAL_NAME, PRIMARY_METRIC
from embedbench.train.run import train


@user_errors
def train_command(
    config: ConfigOption = DEFAULT_CONFIG,
    force: Annotated[
        bool, typer.Option("--force", help="retrain even when up to date; ignore old checkpoints")
    ] = False,
) -> None:
    """Fine-tune the base model of the config's train section on its prepared datasets into models/<run>/."""
    result = train(load_train_config(config), force=force, source=config)
    if result.skipped:
        typer.echo(f"{result.run_dir}: up to date (same data and [train] config); --force retrains")
        return
    if result.retrained_because:
        typer.echo(f"{result.run_dir}: data and [train] config unchanged but {result.retrained_because}; retrained")
    resumed = f", resumed from {Path(result.resumed_from).name}" if result.resumed_from else ""
    typer.echo(f"trained {result.steps} steps in {result.seconds:.0f} s{resumed} -> {result.run_dir}")
    if result.losses:
        typer.echo(f"loss: first {result.losses[0]:.4f}, last {result.losses[-1]:.4f}")
    key = f"{EVAL_NAME}_{PRIMARY_METRIC}"
    if key in result.eval_after:
        before = result.eval_before.get(key)
        shown = f"{before:.4f} -> " if before is not None else ""
        typer.echo(f"{key}: {shown}{result.eval_after[key]:.4f}")
