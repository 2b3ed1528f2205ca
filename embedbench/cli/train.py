"""``embedbench train``: fine-tune each base model of an experiment file's train section, one line per run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from embedbench.cli._output import ConfigOption, user_errors
from embedbench.config import DEFAULT_CONFIG
from embedbench.models import describe_name
from embedbench.train.config import load_train_config
from embedbench.train.evaluation import EVAL_NAME, PRIMARY_METRIC
from embedbench.train.runs import RunOutcome, train_all


def outcome_line(outcome: RunOutcome) -> str:
    """The one line ``embedbench train`` prints for a run: trained (steps, time, loss, dev metric), up to date, or skipped."""
    where, base = outcome.run_dir, describe_name(outcome.base_model)
    if outcome.status == "needs a GPU":
        return f"{where}: skipped: needs a GPU (base {base} has requires = \"gpu\"; this machine has no CUDA GPU)"
    result = outcome.result
    if result is None or result.skipped:
        return f"{where}: up to date (base {base}; same data and [train] config); --force retrains"
    parts = [f"{where}: trained {result.steps} steps in {result.seconds:.0f} s from {base}"]
    if result.resumed_from:
        parts[0] += f", resumed from {Path(result.resumed_from).name}"
    if result.retrained_because:
        parts[0] += f" (data and [train] config unchanged but {result.retrained_because})"
    if result.losses:
        parts.append(f"loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f}")
    key = f"{EVAL_NAME}_{PRIMARY_METRIC}"
    if key in result.eval_after:
        before = result.eval_before.get(key)
        parts.append(f"{key} {f'{before:.4f} -> ' if before is not None else ''}{result.eval_after[key]:.4f}")
    return "; ".join(parts)


@user_errors
def train_command(
    config: ConfigOption = DEFAULT_CONFIG,
    force: Annotated[
        bool, typer.Option("--force", help="retrain even when up to date; ignore old checkpoints")
    ] = False,
) -> None:
    """Fine-tune each base model of the config's train section on its prepared datasets into models/<run>/.

    One run per base (``base_models``), one after the other; each prints one line as it ends.
    """
    for outcome in train_all(load_train_config(config), force=force, source=config):
        typer.echo(outcome_line(outcome))
