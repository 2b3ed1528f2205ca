"""Files in and out of hard-negative mining: read pairs and a corpus, write the mined set and its record."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from embedbench.data.shapes import PAIR, check_schema
from embedbench.errors import EmbedbenchError
from embedbench.prep.negatives.mine import MiningResult


def read_pairs(path: str | Path) -> pl.DataFrame:
    """(anchor, positive) pairs from a Parquet, JSONL, CSV or TSV file (extra columns are kept as provenance)."""
    from embedbench.data import read_frame

    df = read_frame(path)
    check_schema(df, PAIR, str(path))
    return df.drop("row") if "row" in df.columns else df


def read_corpus_texts(path: str | Path) -> pl.Series:
    """Candidate texts from a BEIR folder or ``corpus.jsonl``, a table with a ``text`` column, or a ``.txt`` file.

    A table with a ``title`` column gives mteb's document string ``(title + " " + text).strip()``,
    so SciFact-style corpora hit the shared embedding cache. A ``.txt`` file holds one text per line.
    """
    from embedbench.data import doc_text, read_corpus, read_frame

    path = Path(path)
    if path.is_dir():
        if not (path / "corpus.jsonl").is_file():
            raise EmbedbenchError(f"{path}: a corpus folder must hold corpus.jsonl (BEIR layout)")
        path = path / "corpus.jsonl"
    if path.name == "corpus.jsonl":
        df = read_corpus(path)
    elif path.suffix.lower() == ".txt":
        if not path.is_file():
            raise EmbedbenchError(f"{path}: corpus file not found")
        return pl.Series("text", path.read_text(encoding="utf-8").splitlines(), dtype=pl.String)
    else:
        df = read_frame(path)
    if "text" not in df.columns:
        raise EmbedbenchError(f"{path}: the corpus needs a `text` column (optionally `title`); found {df.columns}")
    title = pl.col("title").cast(pl.String) if "title" in df.columns else pl.lit("")
    return df.select(doc_text(title, pl.col("text").cast(pl.String)).alias("text")).to_series()


def write_mining(result: MiningResult, out_dir: str | Path, *, stem: str = "negatives") -> dict[str, Path]:
    """Write the dataset (Parquet), stats (JSON), examples and dropped pairs, and the report snippet + plot.

    Returns the written paths by role. Every file is written atomically.
    """
    from embedbench.io import (
        config_hash,
        provenance,
        write_json_atomic,
        write_parquet_atomic,
        write_text_atomic,
    )
    from embedbench.prep.negatives.report import render_mining_section

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
