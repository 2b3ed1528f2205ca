"""Leakage check: exact and near matches against evaluation texts, by hand and on real data."""

from __future__ import annotations

import polars as pl

from embedbench.prep.leakage import eval_texts, leak_exact, leak_near
from embedbench.prep.marks import init_marks, partition
from embedbench.prep.minhash import MinHasher
from embedbench.prep.normalise import normalise


def rows(anchors, positives, splits=None):
    df = pl.DataFrame({"anchor": anchors, "positive": positives, "split": splits or ["auto"] * len(anchors)})
    return init_marks(df, "train")


def test_eval_texts_refs_and_uniqueness():
    ev = pl.DataFrame({"sentence1": ["a", "b", ""], "sentence2": ["c", "a", "d"], "row": [10, 11, 12]})
    out = eval_texts(ev, ["sentence1", "sentence2"], name="stsb-test")
    assert out.rows() == [
        ("a", "stsb-test:10", "stsb-test"),
        ("b", "stsb-test:11", "stsb-test"),
        ("c", "stsb-test:10", "stsb-test"),
        ("d", "stsb-test:12", "stsb-test"),
    ]


def test_exact_leak_any_column_and_test_rows_exempt():
    ev = eval_texts(pl.DataFrame({"text": ["held out", "other"]}), ["text"], name="ev")
    f = rows(["fine", "x", "held out", "held out"], ["p", "other", "q", "r"], ["auto", "dev", "auto", "test"])
    out = leak_exact(f, ["anchor", "positive"], ev)
    d = partition(out).dropped
    assert d["row_id"].to_list() == [1, 2]  # the test row (3) is the set's own evaluation data
    assert d["reason"].unique().to_list() == ["leak_exact"]
    assert d["duplicate_of"].to_list() == ["ev:2", "ev:1"]
    assert d["detail"].to_list() == ["column=positive; split=ev", "column=anchor; split=ev"]


def test_near_leak_by_hand():
    ev = eval_texts(
        pl.DataFrame({"text": ["The quick brown fox jumps over the lazy dog today."]}), ["text"], name="ev"
    )
    f = rows(
        ["The quick brown fox jumps over the lazy dog today!", "Completely different sentence here."],
        ["p", "q"],
    )
    out = leak_near(f, ["anchor", "positive"], ev, hasher=MinHasher(threshold=0.8))
    d = partition(out).dropped
    assert d["row_id"].to_list() == [0]
    assert d["reason"].to_list() == ["leak_near"]
    assert d["duplicate_of"].to_list() == ["ev:1"]
    assert d["detail"].item().startswith("column=anchor; split=ev; jaccard=")


def test_mrpc_train_leaks_into_test_match_a_set_reference(shared_data):
    """Exact leakage of MRPC train positive pairs into MRPC test, checked against plain Python sets."""
    from embedbench.data import mrpc_positive_pairs, read_mrpc

    train = mrpc_positive_pairs(read_mrpc(shared_data / "mrpc" / "msr_paraphrase_train.txt"))
    test = read_mrpc(shared_data / "mrpc" / "msr_paraphrase_test.txt")
    cols = ["anchor", "positive"]
    f = init_marks(train.with_columns(split=pl.lit("auto")), "mrpc").pipe(normalise, cols)
    ev_frame = test.pipe(normalise, ["sentence1", "sentence2"])
    ev = eval_texts(ev_frame, ["sentence1", "sentence2"], name="mrpc-test")
    out = leak_exact(f, cols, ev)
    held = set(ev_frame["sentence1"]) | set(ev_frame["sentence2"])
    expected = sum(1 for a, p in f.select(cols).iter_rows() if a in held or p in held)
    assert expected > 50
    assert partition(out).dropped.height == expected


def test_scifact_negated_claims_are_near_leaks(shared_data):
    """SciFact train claims that negate a test claim ("stabilizes" / "destabilizes") are caught."""
    from embedbench.data import beir_pairs, read_beir

    train = beir_pairs(read_beir(shared_data / "scifact", "train"))
    test = read_beir(shared_data / "scifact", "test").queries
    f = init_marks(train.with_columns(split=pl.lit("auto")), "scifact")
    ev = eval_texts(test, ["text"], name="scifact-test")
    out = leak_near(leak_exact(f, ["anchor"], ev), ["anchor"], ev, hasher=MinHasher(threshold=0.8))
    d = partition(out).dropped
    assert d.filter(pl.col("reason") == "leak_near").height >= 20
    hit = d.filter(pl.col("anchor").str.contains("Pyridostatin stabilizes"))
    assert hit["duplicate_text"].to_list()[0].startswith("Pyridostatin destabilizes")
