"""``embedbench models`` and ``embedbench resolve``: the model registry as a table, one model resolved."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from embedbench.cli._output import console, user_errors
from embedbench.models import list_models, resolve

if TYPE_CHECKING:
    from embedbench.backend_auto import Choice


@user_errors
def models_command() -> None:
    """List the model registry: dimension, parameters, size on disk, installed or not."""
    table = Table(title="embedbench models")
    table.add_column("name", no_wrap=True)
    for col in ("dim", "params (M)", "size (MB)", "installed"):
        table.add_column(col, justify="right")
    table.add_column("install / notes", overflow="fold")
    for row in list_models():
        size = f"{row.size_mb:.0f}" if row.size_mb is not None else "-"
        table.add_row(
            row.name, str(row.dim), f"{row.params_m:.1f}", size, "yes" if row.installed else "no",
            row.description if row.installed else row.install,
        )
    console.print(table)
    console.print("Also accepted: any local sentence-transformers folder, or a hub id (org/name) when online.")
    from embedbench.backend_auto import remembered_choices  # reads backends.json; measures nothing

    choices = remembered_choices()
    if choices:
        console.print("Backend auto on this machine (`embedbench resolve NAME` for the measurements):")
        for c in choices:
            console.print(f"  {c.model}: {c.backend.value}-{c.precision.value}  ({c.reason})", soft_wrap=True)


def choice_table(choice: Choice) -> Table:
    """The measurements behind an auto choice: per candidate backend its speeds, distance to torch, note."""
    table = Table(title=f"{choice.model} on {choice.machine}: auto = {choice.backend.value} "
                        f"(measured {choice.measured_at or '-'}, {choice.rounds} round(s))")
    table.add_column("backend", no_wrap=True)
    for col in ("short texts/s", "long texts/s", "probe s", "max abs diff vs torch"):
        table.add_column(col, justify="right")
    table.add_column("note", overflow="fold")
    for c in choice.candidates:
        tp = c.throughput or {}
        table.add_row(
            c.backend + (" *" if c.backend == choice.backend.value else ""),
            f"{tp['short_per_s']:.1f}" if tp else "-", f"{tp['long_per_s']:.2f}" if tp else "-",
            f"{c.probe_seconds:.2f}" if c.probe_seconds is not None else "-",
            f"{c.max_abs_diff:.1e}" if c.max_abs_diff is not None else "-", c.left_out or ("exact" if c.exact else ""),
        )
    return table


@user_errors
def resolve_command(
    name: str = typer.Argument(..., help="registry name, folder, or hub id"),
    backend: str = typer.Option(
        None, help="auto (the fastest exact fp32 backend here, measured once), torch, onnx or openvino "
                   "(exported once, beside the model); default: $EMBEDBENCH_BACKEND, else auto",
        show_default=False,
    ),
    precision: str = typer.Option("fp32", help="fp32 or int8 (dynamic quantisation; never chosen by auto)"),
    remeasure: bool = typer.Option(False, "--remeasure", help="with auto: measure the backends again"),
) -> None:
    """Resolve a model (building or exporting it once if needed) and print its name, folder and fingerprint.

    With backend auto, also the measurements the choice rests on.
    """
    from embedbench.backend_auto import choose
    from embedbench.backend_spec import AUTO, default_backend, parse_choice
    from embedbench.backends import describe  # imports torch: keep `embedbench --help` instant

    resolved = resolve(name)
    choice = default_backend() if backend is None else parse_choice(backend)
    picked = choose(resolved, remeasure=remeasure) if choice == AUTO else None
    r = describe(resolved, choice, precision)
    console.print(f"{r.name}\t{r.path}\t{r.fingerprint}", soft_wrap=True)
    if picked is not None:
        console.print(f"backend: {r.backend.value}-{r.precision.value}: {r.reason}", soft_wrap=True)
        if picked.candidates:
            console.print(choice_table(picked))
