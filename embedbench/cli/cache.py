"""``embedbench cache stats`` and ``embedbench cache clear``: the shared embedding cache."""

from __future__ import annotations

import typer
from rich.table import Table

from embedbench.cache import EmbeddingCache
from embedbench.cli._output import console, user_errors


@user_errors
def stats_command() -> None:
    """Hits, misses and size per model and embedding space."""
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


@user_errors
def clear_command(model: str = typer.Option(None, help="clear only this model name")) -> None:
    """Delete cached embeddings (all, or one model's)."""
    n = EmbeddingCache().clear(model)
    console.print(f"deleted {n} cached embeddings" + (f" of {model}" if model else ""))
