"""``embedbench losses``: the loss catalogue, and which losses fit each prepared set of the config."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from embedbench.cli._output import ConfigOption, console, user_errors
from embedbench.config import DEFAULT_CONFIG
from embedbench.train.catalogue import catalogue, set_fits


@user_errors
def losses_command(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """List every loss (inputs, labels, batch sampler), then each prepared set's fitting and chosen loss."""
    table = Table(title="embedbench losses")
    for col in ("loss", "inputs (shape: columns)", "labels", "batch sampler"):
        table.add_column(col, overflow="fold")
    for row in catalogue():
        table.add_row(row.loss, escape(row.inputs), escape(row.labels), row.sampler)
    console.print(table)
    sets = Table(title=f"prepared sets of {config}")
    for col in ("set", "shape", "columns", "losses that fit", "chosen"):
        sets.add_column(col, overflow="fold")
    for fit in set_fits(config):
        sets.add_row(
            fit.set, fit.shape or "-", ", ".join(fit.columns) or "-", ", ".join(fit.fits) or "-",
            escape(f"{fit.chosen} ({fit.why})" if fit.chosen else fit.why),
        )
    console.print(sets)
