"""The Hugging Face hub path, for users who are online (tests never take it; these machines cannot reach the hub)."""

from __future__ import annotations

import polars as pl

from embedbench.errors import EmbedbenchError


def load_hub(name: str, subset: str | None = None, split: str = "train") -> pl.DataFrame:
    """``datasets.load_dataset(name, subset, split=split)`` as a Polars frame (columns as published).

    Map its columns onto a prep shape with ``prep.sources.table.conform`` (``read_source`` does this).
    """
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise EmbedbenchError("the hub path needs the `datasets` package: pip install datasets") from exc
    try:
        ds = datasets.load_dataset(name, subset, split=split)
    except Exception as exc:  # the hub raises many types (connection, missing config, missing split)
        raise EmbedbenchError(
            f"cannot load hub dataset {name!r} (subset {subset!r}, split {split!r}): {exc}. "
            "Offline? Use a local source (kind = beir|stsb|sts|snli|mrpc|labelled|table) instead"
        ) from None
    return ds.to_polars()
