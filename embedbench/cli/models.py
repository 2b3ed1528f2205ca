"""``embedbench models`` and ``embedbench resolve``: the model registry as a table, one model resolved."""

from __future__ import annotations

import typer
from rich.table import Table

from embedbench.cli._output import console, user_errors
from embedbench.models import list_models, resolve


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


@user_errors
def resolve_command(
    name: str = typer.Argument(..., help="registry name, folder, or hub id"),
    backend: str = typer.Option("torch", help="torch, onnx or openvino (exported once, beside the model)"),
    precision: str = typer.Option("fp32", help="fp32 or int8 (dynamic quantisation)"),
) -> None:
    """Resolve a model (building or exporting it once if needed) and print its name, folder and fingerprint."""
    from embedbench.backends import describe  # imports torch: keep `embedbench --help` instant

    r = describe(resolve(name), backend, precision)
    console.print(f"{r.name}\t{r.path}\t{r.fingerprint}", soft_wrap=True)
