"""Single texts into the inputs of the unsupervised losses: Contrastive Tension pairs and TSDAE's noisy copies.

- ``ct_pairs``: ContrastiveTensionLoss compares two encoders on pairs that are sometimes the same text
  (positive) and otherwise two different texts; sentence-transformers' ``ContrastiveTensionDataLoader``
  makes one identical pair per ``pos_neg_ratio`` pairs, and so does this (seeded, as a frame).
  The loss derives the 0/1 label from whether the two inputs are equal, so no label column is written.
- ``delete_words`` / ``tsdae_pairs``: the deletion noise of ``DenoisingAutoEncoderDataset.delete``
  (each word dropped with probability ``del_ratio`` = 0.6, at least one word kept). sentence-transformers'
  own function needs nltk (not installed here) and draws from NumPy's global generator; this one splits
  on whitespace and takes a seeded generator, so a run is reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from embedbench.errors import EmbedbenchError


def delete_words(text: str, rng: np.random.Generator, del_ratio: float = 0.6) -> str:
    """``text`` with each whitespace-separated word deleted with probability ``del_ratio`` (one word always kept)."""
    words = text.split()
    if not words:
        return text
    keep = rng.random(len(words)) > del_ratio
    if not keep.any():
        keep[rng.integers(len(words))] = True
    return " ".join(w for w, k in zip(words, keep, strict=True) if k)


def tsdae_pairs(texts: pl.Series, *, seed: int, del_ratio: float = 0.6) -> pl.DataFrame:
    """``(damaged, original)`` pairs, the inputs of DenoisingAutoEncoderLoss, in the order of ``texts``."""
    if not 0.0 <= del_ratio < 1.0:
        raise EmbedbenchError(f"loss_options.del_ratio = {del_ratio}: expected a number in [0, 1)")
    rng = np.random.default_rng(seed)
    originals = texts.to_list()
    return pl.DataFrame({"damaged": [delete_words(t, rng, del_ratio) for t in originals], "original": originals})


def ct_pairs(texts: pl.Series, *, seed: int, pos_neg_ratio: int = 8) -> pl.DataFrame:
    """``(text1, text2)`` pairs: every ``pos_neg_ratio``-th pair repeats its text, the others pair two different texts.

    Like ``ContrastiveTensionDataLoader``, each text is used once: a positive pair takes one text, a
    negative pair two, from a seeded shuffle.
    """
    if pos_neg_ratio < 2:
        raise EmbedbenchError(f"loss_options.pos_neg_ratio = {pos_neg_ratio}: expected an integer >= 2")
    items = texts.to_list()
    if len(set(items)) < 2:
        raise EmbedbenchError("ContrastiveTensionLoss needs at least two different texts")
    order = np.random.default_rng(seed).permutation(len(items))
    first: list[str] = []
    second: list[str] = []
    i = k = 0
    while i < len(order):
        a = items[order[i]]
        if k % pos_neg_ratio == 0:
            first.append(a)
            second.append(a)
            i += 1
        elif i + 1 == len(order):
            break  # one text left for a negative pair: dropped, as the data loader does
        else:
            first.append(a)
            second.append(items[order[i + 1]])
            i += 2
        k += 1
    return pl.DataFrame({"text1": first, "text2": second})


def prepare_texts(how: str, frame: pl.DataFrame, *, seed: int, options: dict[str, Any]) -> pl.DataFrame:
    """The training frame for single texts (column ``text``) under preparation ``how`` (``ct-pairs`` | ``tsdae``)."""
    if how == "ct-pairs":
        return ct_pairs(frame["text"], seed=seed, pos_neg_ratio=int(options.get("pos_neg_ratio", 8)))
    if how == "tsdae":
        return tsdae_pairs(frame["text"], seed=seed, del_ratio=float(options.get("del_ratio", 0.6)))
    raise EmbedbenchError(f"unknown text preparation {how!r}; expected ct-pairs or tsdae")
