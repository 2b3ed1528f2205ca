"""Normalisation stages: NFC, whitespace, empty texts, too-long flag (estimate and real tokenizer)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from embedbench.prep.marks import drops_by_reason, init_marks, partition
from embedbench.prep.normalise import count_tokens, drop_empty, flag_long, normalise, tokenizer_counter


def frame(anchors, positives=None):
    positives = positives or ["p"] * len(anchors)
    return init_marks(
        pl.DataFrame(
            {"anchor": anchors, "positive": positives}, schema={"anchor": pl.String, "positive": pl.String}
        ),
        "t",
    )


def test_nfc_and_whitespace():
    out = frame(["Cafe\u0301", "  a\t\u00a0b \n c  ", "x\u2003\u2003y"]).pipe(normalise, ["anchor"])
    assert out["anchor"].to_list() == ["Caf\u00e9", "a b c", "x y"]


def test_lowercase_and_nfkc():
    out = frame(["\ufb01ne  THING"]).pipe(normalise, ["anchor"], form="NFKC", lowercase=True)
    assert out["anchor"].to_list() == ["fine thing"]


def test_empty_whitespace_and_null_are_dropped_with_reason():
    f = frame(["ok", "   ", None, "fine"], ["p", "q", "r", "\t\n"])
    out = f.pipe(normalise, ["anchor", "positive"]).pipe(drop_empty, ["anchor", "positive"])
    parts = partition(out)
    assert parts.kept["anchor"].to_list() == ["ok"]
    assert parts.dropped["reason"].to_list() == ["empty_text"] * 3
    assert parts.dropped["detail"].to_list() == ["column=anchor", "column=anchor", "column=positive"]
    assert parts.dropped["stage"].unique().to_list() == ["normalise"]


def test_estimate_counts_words_and_punctuation_plus_specials():
    out = count_tokens(frame(["Hello, world!", "a b"], ["one", "x y z ."]), ["anchor", "positive"], None)
    # "Hello , world !" = 4 pieces + [CLS]/[SEP]; the second row's longest text is "x y z ." = 4 + 2
    assert out["n_tokens"].to_list() == [6, 6]


def test_flag_long_keeps_or_drops():
    f = frame(["one two three four", "one"])
    flagged = flag_long(f, ["anchor"], max_tokens=5)
    assert flagged["too_long"].to_list() == [True, False]
    assert partition(flagged).dropped.height == 0
    dropped = flag_long(f, ["anchor"], max_tokens=5, drop=True)
    assert drops_by_reason(dropped) == {"too_long": 1}
    assert partition(dropped).dropped["detail"].to_list() == ["tokens=6>5"]


@pytest.fixture(scope="module")
def tokenizer():
    from embedbench.models import load_model

    return load_model("tiny", device="cpu").tokenizer  # MiniLM-L6's word-piece tokenizer


def test_tokenizer_counts_match_the_tokenizer(tokenizer):
    texts = ["Pyridostatin stabilizes the G-quadruplex.", "a", "unbelievably antidisestablishmentarianism"]
    out = count_tokens(frame(texts), ["anchor"], tokenizer_counter(tokenizer))
    expected = [len(tokenizer(t)["input_ids"]) for t in texts]
    assert out["n_tokens"].to_list() == expected


def test_estimate_is_a_lower_bound_on_real_text(tokenizer, shared_data):
    from embedbench.data import read_snli

    texts = read_snli(shared_data / "snli", "test")["premise"].unique().head(300).to_list()
    f = frame(texts)
    est = count_tokens(f, ["anchor"], None)["n_tokens"].to_numpy()
    real = count_tokens(f, ["anchor"], tokenizer_counter(tokenizer))["n_tokens"].to_numpy()
    assert np.all(est <= real)
    assert np.mean(est == real) > 0.5  # close on plain English
