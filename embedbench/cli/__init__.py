"""The ``embedbench`` command line: one Typer app whose commands only parse options and call library code.

Pipeline commands live beside their packages (``prep/cli.py``, ``train/cli.py``,
``evalsuite/cli.py``) and are registered here, so this file stays an index of commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from embedbench.errors import EmbedbenchError

app = typer.Typer(
    name="embedbench",
    help="Dataset prep, fine-tuning and evaluation for sentence-embedding models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cache_app = typer.Typer(help="Inspect or clear the shared embedding cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
# Tables stay readable in logs and CI (no terminal, 80 columns by default): print them 160 wide there.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Print an ``EmbedbenchError`` as one clear message and exit 1 instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EmbedbenchError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@app.command("models")
@user_errors
def models_command() -> None:
    """List the model registry: dimension, parameters, size on disk, installed or not."""
    from embedbench.models import list_models

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


@app.command("resolve")
@user_errors
def resolve_command(
    name: str = typer.Argument(..., help="registry name, folder, or hub id"),
    backend: str = typer.Option("torch", help="torch, onnx or openvino (exported once, beside the model)"),
    precision: str = typer.Option("fp32", help="fp32 or int8 (dynamic quantisation)"),
) -> None:
    """Resolve a model (building or exporting it once if needed) and print its name, folder and fingerprint."""
    from embedbench.backends import describe
    from embedbench.models import resolve

    r = describe(resolve(name), backend, precision)
    console.print(f"{r.name}\t{r.path}\t{r.fingerprint}", soft_wrap=True)


@cache_app.command("stats")
@user_errors
def cache_stats_command() -> None:
    """Hits, misses and size per model and embedding space."""
    from embedbench.cache import EmbeddingCache

    store = EmbeddingCache()
    table = Table(title=f"embedding cache: {store.path}")
    for col in ("model", "fingerprint", "prompt", "max len", "norm", "dim", "texts", "hits", "misses", "MB"):
        table.add_column(col)
    for s in store.stats():
        table.add_row(
            s.model, s.fingerprint, repr(s.prompt) if s.prompt else "-", str(s.max_seq_length), str(s.normalize),
            str(s.dim), str(s.rows), str(s.hits), str(s.misses), f"{s.bytes / 1e6:.1f}",
        )
    console.print(table)


@cache_app.command("clear")
@user_errors
def cache_clear_command(model: str = typer.Option(None, help="clear only this model name")) -> None:
    """Delete cached embeddings (all, or one model's)."""
    from embedbench.cache import EmbeddingCache

    n = EmbeddingCache().clear(model)
    console.print(f"deleted {n} cached embeddings" + (f" of {model}" if model else ""))


def _register_pipeline_commands() -> None:
    from embedbench.cli.eval import register as register_eval
    from embedbench.cli.prep import register as register_prep
    from embedbench.cli.train import register as register_train

    for register in (register_prep, register_train, register_eval):
        register(app, user_errors)


_register_pipeline_commands()


def main() -> None:
    """Entry point for ``python -m embedbench``."""
    app(prog_name="embedbench")


if __name__ == "__main__":
    main()
