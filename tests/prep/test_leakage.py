"""Leakage check: exact and near matches against evaluation texts, by hand and on real data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from embedbench.prep.leakage import eval_texts, leak_exact, leak_near, leak_semantic, leakage_summary
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


# -- semantic leakage -------------------------------------------------------------------------------
# One evaluation split, four training rows whose answer is known: an exact copy, a case-and-punctuation
# variant (MinHash catches it, exact does not), a paraphrase only embeddings catch (char-5-gram Jaccard
# 0.32; cosine 0.95 under all-MiniLM-L6-v2) and a clean control (cosine < 0.2 with every eval text).
HELD = [
    "A man is playing a guitar on stage.",
    "The cat sat on the mat near the window.",
    "Stock markets fell sharply on Monday after the announcement.",
]
KNOWN = {
    "exact copy": "A man is playing a guitar on stage.",
    "case and punctuation": "a man is playing a guitar on stage!",
    "paraphrase": "Near the window, a cat was sitting on the mat.",
    "control": "Heavy rain is expected across the north tomorrow.",
}


@pytest.fixture(scope="module")
def minilm():
    from embedbench.encode import load_encoder

    return load_encoder("all-MiniLM-L6-v2", show_progress=False)


def known_rows():
    return rows(list(KNOWN.values()), ["unrelated positive text number one"] * len(KNOWN))


def test_only_the_semantic_check_catches_the_paraphrase(minilm):
    ev = eval_texts(pl.DataFrame({"text": HELD}), ["text"], name="ev")
    cols = ["anchor"]
    exact = partition(leak_exact(known_rows(), cols, ev)).dropped
    near = partition(leak_near(known_rows(), cols, ev, hasher=MinHasher(threshold=0.8))).dropped
    sem = partition(leak_semantic(known_rows(), cols, ev, encoder=minilm, threshold=0.9)).dropped
    assert exact["row_id"].to_list() == [0]
    assert sorted(near["row_id"].to_list()) == [0, 1]
    assert sorted(sem["row_id"].to_list()) == [0, 1, 2]  # the control (3) stays
    para = sem.filter(pl.col("row_id") == 2).row(0, named=True)
    assert para["reason"] == "leak_semantic"
    assert (para["duplicate_of"], para["duplicate_text"]) == ("ev:2", HELD[1])
    cosine = float(para["detail"].rsplit("cosine=", 1)[1])
    assert 0.9 <= cosine < 1.0
    # the score is the real cosine of the two texts (checked against a plain NumPy dot product)
    a, b = minilm.encode([KNOWN["paraphrase"], HELD[1]])
    assert cosine == pytest.approx(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)), abs=1e-4)


def test_semantic_flag_keeps_rows_and_records_the_match(minilm):
    ev = eval_texts(pl.DataFrame({"text": HELD}), ["text"], name="ev")
    out = leak_semantic(known_rows(), ["anchor", "positive"], ev, encoder=minilm, threshold=0.9, action="flag")
    assert partition(out).dropped.height == 0
    flagged = out.filter(pl.col("leak_semantic_cosine").is_not_null()).sort("row_id")
    assert flagged["row_id"].to_list() == [0, 1, 2]
    assert flagged["leak_semantic_text"].to_list() == [HELD[0], HELD[0], HELD[1]]
    assert flagged["leak_semantic_cosine"][0] == pytest.approx(1.0, abs=1e-5)
    summary = leakage_summary(out, partition(out).dropped, {"model": "m", "threshold": 0.9, "action": "flag"})
    assert summary["semantic"]["matched"] == 3 and summary["semantic"]["threshold"] == 0.9
    assert [f["match_text"] for f in summary["semantic"]["flagged"]] == [HELD[0], HELD[0], HELD[1]]


def test_prep_records_the_semantic_threshold_in_the_manifest(tmp_path):
    """The pipeline wires the option: the model's fingerprint is an input, the manifest names the threshold."""
    import json

    from embedbench.config import validate_section
    from embedbench.prep.config import PrepConfig
    from embedbench.prep.pipeline import run_prep

    def jsonl(name, texts):
        path = tmp_path / name
        path.write_text("".join(json.dumps({"anchor": t, "positive": f"positive {i}"}) + "\n" for i, t in enumerate(texts)))
        return str(path)

    train = jsonl("train.jsonl", [*KNOWN.values(), *(f"filler sentence number {i}" for i in range(8))])
    held = jsonl("held.jsonl", HELD)
    data = {
        "output_dir": "out",
        "eval": {"held": {"source": {"kind": "table", "path": held, "output": "pairs"}, "columns": ["anchor"]}},
        "sets": {
            "toy": {
                "train": [{"kind": "table", "path": train, "output": "pairs"}],
                "steps": ["normalise", "leakage"],
                "normalise": {"token_count": "estimate", "max_tokens": 64},
                "leakage": {"near": False, "semantic": {"threshold": 0.99, "model": "tiny", "action": "flag"}},
                "split": {"dev": 0.0},
            }
        },
    }
    (outcome,) = run_prep(validate_section(PrepConfig, data, section="prep"), root=tmp_path, log=lambda _: None, report=False)
    m = outcome.manifest
    assert "model.leakage" in [i["key"] for i in m["inputs"]]
    sem = m["leakage"]["semantic"]
    assert (sem["model"], sem["threshold"], sem["action"]) == ("tiny", 0.99, "flag")
    assert m["leakage"]["leak_exact"] == 1  # the exact copy; flagged rows stay in train
    assert m["splits"]["train"] == len(KNOWN) + 8 - 1
    assert {f["match_text"] for f in sem["flagged"]} >= {HELD[0]}  # the case variant (cosine 0.996 under tiny)
    with pytest.raises(Exception, match="threshold"):
        validate_section(PrepConfig, {**data, "sets": {"toy": {**data["sets"]["toy"], "leakage": {"semantic": {}}}}}, section="prep")
