"""What every command prints through: the two consoles and the wrapper that turns user errors into one line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from embedbench.errors import EXIT_BAD_INPUT, EmbedbenchError

# Tables stay readable in logs and CI (no terminal, 80 columns by default): print them 160 wide there.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Print an ``EmbedbenchError`` as one ``error:`` line on stderr and exit 2 (bad input) instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EmbedbenchError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper  # type: ignore[return-value]


ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="experiment file (bench.toml or a profile extending it)")
]
"""The ``--config`` option every pipeline command takes (default: ``embedbench.config.DEFAULT_CONFIG``)."""

EngineOption = Annotated[
    str | None,
    typer.Option("--engine", help="where encoding runs: local or ray (default: \\[compute] engine of the experiment file)"),
]


def activate_engine(config: Path | None, engine: str | None) -> None:
    """Make ``[compute]`` of ``config`` (``--engine`` overriding it) the engine of this command.

    For an engine other than ``local`` its modules are imported here (they register their hooks with
    :mod:`embedbench.compute`), so the library never imports an optional engine itself.
    """
    import importlib

    from embedbench import compute

    cfg = compute.load_compute_config(config, engine) if config is not None else compute.load_compute_config(engine=engine)
    for (name, _), module in compute.HOOK_MODULES.items():
        if name == cfg.engine:
            importlib.import_module(module)
    compute.activate(cfg)
