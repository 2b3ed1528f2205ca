"""STS files: the STS Benchmark TSVs and the SemEval STS12–16 ``input`` / ``gs`` (gold standard) layout.

Scores are 0–5 in both; the readers return ``score = score_raw / 5`` in [0, 1] and keep ``score_raw``.

Quirks handled:
- STS Benchmark ``*.csv`` files are tab-separated, with 7 or 9 fields (two trailing source fields on
  some rows), and sentences containing ``"``: fields are split on tabs with no quoting at all.
- STS12–16: an empty gold line means the pair is unscored; it is skipped (as MTEB does) and reported
  as dropped with reason ``"unscored (empty gold line)"``. Gold files without an input file
  (``STS12/STS.gs.ALL.txt``, ``STS13/STS.gs.SMT.txt``) are ignored. Input files that are not valid
  UTF-8 are read with replacement characters. STS16 input lines carry two extra source fields.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from embedbench.data.common import (
    ROW,
    SOURCE,
    cast_column,
    drop_rows,
    read_lines,
    require_file,
    require_range,
    split_fields,
)
from embedbench.data.shapes import SCORED, check_schema
from embedbench.errors import EmbedbenchError

STS_MAX = 5.0
STSB_FIELDS = ["genre", "file", "year", "id", "score_raw", "sentence1", "sentence2"]
UNSCORED = "unscored (empty gold line)"


def _scored(df: pl.DataFrame, path: Path, label: str) -> pl.DataFrame:
    """Cast ``score_raw`` to float, check 0–5, add ``score`` in [0, 1]; ``label`` names the score field in messages."""
    df = cast_column(df, "score_raw", pl.Float64, path, f"a numeric similarity score in [0, {STS_MAX:g}]", label)
    require_range(df, "score_raw", 0.0, STS_MAX, path, label)
    return df.with_columns((pl.col("score_raw") / STS_MAX).alias("score"))


def read_stsb(path: str | Path) -> pl.DataFrame:
    """One STS Benchmark file -> ``sentence1, sentence2, score, score_raw, genre, source, row``.

    Each line is ``genre, file, year, id, score, sentence1, sentence2`` (+ up to 2 ignored source fields).
    """
    path = require_file(path, "an STS Benchmark TSV (genre, file, year, id, score, sentence1, sentence2)")
    lines = read_lines(path, what="STS Benchmark lines")
    df = split_fields(lines, path, STSB_FIELDS, max_fields=len(STSB_FIELDS) + 2)
    df = _scored(df, path, "score (field 5)")
    out = df.select(
        "sentence1", "sentence2", "score", "score_raw", "genre", pl.lit(path.name).alias(SOURCE), ROW
    )
    check_schema(out, SCORED, str(path))
    return out


def _subset_name(gold: Path) -> tuple[str, Path]:
    """``STS.gs.MSRpar.txt`` -> (``MSRpar``, its ``STS.input.MSRpar.txt``)."""
    prefix, _, rest = gold.name.partition(".gs.")
    return rest.removesuffix(".txt"), gold.with_name(f"{prefix}.input.{rest}")


def read_sts_pair(
    input_path: str | Path, gold_path: str | Path, dropped: list[pl.DataFrame] | None = None
) -> pl.DataFrame:
    """One STS12–16 sub-set: input lines ``s1 TAB s2 [TAB source1 TAB source2]`` aligned with gold scores.

    Returns ``sentence1, sentence2, score, score_raw, source, row`` (``row`` = line number in both files);
    pairs with an empty gold line are skipped and appended to ``dropped`` with their reason.
    """
    input_path = require_file(input_path, "an STS input file (sentence1 TAB sentence2)")
    gold_path = require_file(gold_path, "an STS gold-standard file (one score per line)")
    pairs = split_fields(
        read_lines(input_path, lossy=True, what="STS input lines"),
        input_path,
        ["sentence1", "sentence2"],
        max_fields=4,
    )
    gold = read_lines(gold_path, what="STS gold scores").rename({"line": "score_raw"})
    if gold.height != pairs.height:
        raise EmbedbenchError(
            f"{gold_path}: {gold.height} gold lines but {input_path.name} has {pairs.height} input lines; "
            "the files must be aligned line by line (one score, possibly empty, per input pair)"
        )
    df = pairs.join(gold, on=ROW, maintain_order="left").with_columns(pl.lit(input_path.name).alias(SOURCE))
    unscored = pl.col("score_raw").str.strip_chars() == ""
    drop_rows(df.filter(unscored), UNSCORED, dropped)
    df = _scored(df.filter(~unscored), gold_path, "gold score")
    return df.select("sentence1", "sentence2", "score", "score_raw", SOURCE, ROW)


def read_sts_gold(folder: str | Path, dropped: list[pl.DataFrame] | None = None) -> pl.DataFrame:
    """Every sub-set of one STS12–16 year folder -> ``sentence1, sentence2, score, score_raw, subset, source, row``.

    Sub-sets are found by their gold files (``*.gs.<subset>.txt``) in name order; a gold file without a
    matching input file is ignored. Unscored pairs go to ``dropped`` (reason ``"unscored (empty gold line)"``).
    """
    folder = Path(folder)
    golds = [g for g in sorted(folder.glob("*.gs.*.txt")) if _subset_name(g)[1].is_file()]
    if not golds:
        raise EmbedbenchError(
            f"{folder}: no STS gold files with a matching input file (expected STS*.gs.<set>.txt beside "
            "STS*.input.<set>.txt); point the source at one STS year folder, e.g. sts12-16/STS12"
        )
    frames = []
    for gold in golds:
        subset, input_path = _subset_name(gold)
        sub_dropped: list[pl.DataFrame] = []
        frames.append(
            read_sts_pair(input_path, gold, sub_dropped).with_columns(pl.lit(subset).alias("subset"))
        )
        if dropped is not None:
            dropped.extend(d.with_columns(pl.lit(subset).alias("subset")) for d in sub_dropped)
    out = pl.concat(frames).select("sentence1", "sentence2", "score", "score_raw", "subset", SOURCE, ROW)
    check_schema(out, SCORED, str(folder))
    return out
