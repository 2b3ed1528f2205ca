"""SNLI as three parallel line files ``s1.<split>``, ``s2.<split>``, ``labels.<split>``.

Quirks handled: PTB-tokenised sentences end with a space (stripped); the files are aligned by line
number (different line counts raise). Labels: ``entailment``, ``neutral``, ``contradiction``; the
SNLI convention ``-`` (annotators did not agree) is dropped with reason ``"no gold label"``; any other
label raises, since it means a wrong or misaligned file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from embedbench.data.common import ROW, SOURCE, drop_rows, read_lines, require_file, where
from embedbench.data.shapes import PAIR, PAIR_CLASS, TRIPLET, check_schema
from embedbench.errors import EmbedbenchError

LABELS = ("entailment", "neutral", "contradiction")
NO_GOLD = "-"
NO_GOLD_REASON = "no gold label"


def read_snli(folder: str | Path, split: str, dropped: list[pl.DataFrame] | None = None) -> pl.DataFrame:
    """SNLI ``split`` -> ``premise, hypothesis, label, source, row`` (label one of ``LABELS``, as a string).

    Rows labelled ``-`` are skipped and appended to ``dropped`` with reason ``"no gold label"``.
    """
    folder = Path(folder)
    paths = {
        name: require_file(folder / f"{stem}.{split}", f"SNLI {name} lines of split {split!r}")
        for name, stem in (("premise", "s1"), ("hypothesis", "s2"), ("label", "labels"))
    }
    cols = {name: read_lines(path, what=f"SNLI {name} lines") for name, path in paths.items()}
    counts = {paths[name].name: df.height for name, df in cols.items()}
    if len(set(counts.values())) > 1:
        raise EmbedbenchError(
            f"{folder}: the parallel SNLI files have different line counts {counts}; "
            "they must be aligned line by line (restore the files from the same release)"
        )
    df = pl.DataFrame(
        {
            "premise": cols["premise"]["line"].str.strip_chars(),
            "hypothesis": cols["hypothesis"]["line"].str.strip_chars(),
            "label": cols["label"]["line"].str.strip_chars(),
            SOURCE: pl.repeat(f"snli/{split}", cols["label"].height, eager=True),
            ROW: cols["label"][ROW],
        }
    )
    unknown = df.filter(~pl.col("label").is_in([*LABELS, NO_GOLD]))
    if unknown.height:
        r = unknown.row(0, named=True)
        raise EmbedbenchError(
            f"{where(paths['label'], r[ROW])}: unknown label {r['label']!r}; expected one of {list(LABELS)} "
            f"(or {NO_GOLD!r} for no gold label)"
            + (f" ({unknown.height - 1} more such lines)" if unknown.height > 1 else "")
            + "; check that the labels file belongs to these sentence files"
        )
    drop_rows(df.filter(pl.col("label") == NO_GOLD), NO_GOLD_REASON, dropped)
    out = df.filter(pl.col("label") != NO_GOLD)
    check_schema(out, PAIR_CLASS, str(folder))
    return out


def snli_entailment_pairs(df: pl.DataFrame) -> pl.DataFrame:
    """(premise, entailed hypothesis) pairs: ``anchor, positive`` (+ provenance columns), in file order."""
    check_schema(df, PAIR_CLASS, "snli_entailment_pairs")
    extra = [c for c in (SOURCE, ROW) if c in df.columns]
    out = df.filter(pl.col("label") == "entailment").select(
        pl.col("premise").alias("anchor"), pl.col("hypothesis").alias("positive"), *extra
    )
    check_schema(out, PAIR, "snli_entailment_pairs")
    return out


def snli_triplets(df: pl.DataFrame, both_directions: bool = True) -> pl.DataFrame:
    """``anchor, positive, negative`` triplets as in sentence-transformers' AllNLI ``triplet`` subset.

    For each premise that has at least one entailment and one contradiction hypothesis (in order of its
    first entailment): (premise, entailment, contradiction), taking the first of each in file order; with
    ``both_directions`` (AllNLI's recipe) also (entailment, premise, contradiction).
    """
    check_schema(df, PAIR_CLASS, "snli_triplets")

    def first(label: str) -> pl.DataFrame:
        by_premise = df.filter(pl.col("label") == label).group_by("premise", maintain_order=True)
        return by_premise.agg(pl.col("hypothesis").first().alias(label))

    wide = first("entailment").join(first("contradiction"), on="premise", maintain_order="left")
    forward = wide.select(
        pl.col("premise").alias("anchor"),
        pl.col("entailment").alias("positive"),
        pl.col("contradiction").alias("negative"),
    )
    if not both_directions:
        out = forward
    else:
        backward = wide.select(
            pl.col("entailment").alias("anchor"),
            pl.col("premise").alias("positive"),
            pl.col("contradiction").alias("negative"),
        )
        out = (
            pl.concat([forward.with_row_index("_i"), backward.with_row_index("_i")])
            .sort("_i", maintain_order=True)
            .drop("_i")
        )
    check_schema(out, TRIPLET, "snli_triplets")
    return out
