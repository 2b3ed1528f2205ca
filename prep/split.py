"""Deterministic, grouped train/dev(/test) split for sources that come without one.

Each row whose ``split`` is ``"auto"`` goes to a split chosen by a hash of its group key (``anchor``,
``query_id``, …) and a seed, so every row of a group lands in the same split, the assignment of a
group never depends on the other rows, and it is the same on every machine and Polars version: the
hash is a polynomial over the key's Unicode code points mixed with splitmix64, computed with NumPy.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from embedbench.prep.minhash import mix64

AUTO = "auto"
_BASE = np.uint64(0x100000001B3)


def stable_hash(values: pl.Series, seed: int = 0) -> np.ndarray:
    """uint64 hash of each value's string form; stable across runs, machines and library versions."""
    text = values.cast(pl.String).fill_null("\x00null")
    lengths = text.str.len_chars().to_numpy().astype(np.int64)
    cps = np.frombuffer("".join(text.to_list()).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    # position from the end of its own string: value * BASE**(len-1-i), summed per string
    ends = np.repeat(np.cumsum(lengths), lengths)
    back = ends - 1 - np.arange(cps.size)
    with np.errstate(over="ignore"):
        powers = np.cumprod(
            np.concatenate(([np.uint64(1)], np.full(max(int(lengths.max(initial=0)), 1), _BASE)))
        )
        terms = mix64(cps + np.uint64(1)) * powers[back]
        sums = np.zeros(len(text), dtype=np.uint64)
        nonempty = np.flatnonzero(lengths > 0)
        if nonempty.size:
            starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[nonempty]
            sums[nonempty] = np.add.reduceat(terms, starts)
        return mix64(sums ^ mix64(np.full(len(text), np.uint64(seed) + lengths.astype(np.uint64))))


def assign_split(
    frame: pl.DataFrame, *, group_by: str, dev: float, test: float = 0.0, seed: int = 13
) -> pl.DataFrame:
    """Stage: give rows with ``split == "auto"`` a split: ``dev`` / ``test`` fractions of the groups, rest train.

    The unit of the split is the group (``group_by`` column), not the row; fractions are of groups,
    so row fractions are close to them when groups are of similar size.
    """
    u = stable_hash(frame[group_by], seed).astype(np.float64) / 2.0**64
    target = np.where(u < dev, "dev", np.where(u < dev + test, "test", "train"))
    return frame.with_columns(
        split=pl.when(pl.col("split") == AUTO)
        .then(pl.Series(target, dtype=pl.String))
        .otherwise(pl.col("split"))
    )
