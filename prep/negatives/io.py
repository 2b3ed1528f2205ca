"""Files in and out of hard-negative mining: read (anchor, positive) pairs, write the mined set and its record.

Corpora are read by the one corpus reader, :func:`embedbench.data.corpus.read_corpus_texts`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from embedbench.data.shapes import PAIR, check_schema
from embedbench.data.table import read_frame
from embedbench.io import config_hash, provenance, write_json_atomic, write_parquet_atomic, write_text_atomic
from embedbench.prep.negatives.report import render_mining_section
from embedbench.prep.negatives.types import MiningResult


def read_pairs(path: str | Path) -> pl.DataFrame:
    """(anchor, positive) pairs from a Parquet, JSONL, CSV or TSV file (extra columns are kept as provenance)."""
    df = read_frame(path)
    check_schema(df, PAIR, str(path))
    return df.drop("row") if "row" in df.columns else df


def write_mining(result: MiningResult, out_dir: str | Path, *, stem: str = "negatives") -> dict[str, Path]:
    """Write the dataset (Parquet), stats (JSON), examples and dropped pairs, and the report snippet + plot.

    Returns the written paths by role. Every file is written atomically.
    """
    out = Path(out_dir)
    paths = {
        "dataset": write_parquet_atomic(result.dataset, out / f"{stem}.parquet"),
        "examples": write_parquet_atomic(result.examples, out / f"{stem}.examples.parquet"),
        "dropped": write_parquet_atomic(result.dropped, out / f"{stem}.dropped.parquet"),
    }
    stats = {**result.stats.to_dict(), "config_hash": config_hash(result.stats.config), "provenance": provenance()}
    paths["stats"] = write_json_atomic(out / f"{stem}.stats.json", stats)
    section = render_mining_section(result.stats, out / f"{stem}.scores.png")
    paths["plot"] = out / f"{stem}.scores.png"
    paths["report"] = write_text_atomic(out / f"{stem}.md", section)
    return paths
