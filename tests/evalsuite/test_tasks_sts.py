"""STS task: hand-worked correlations with a bag-of-words encoder, the STS12-16 layout, bad input, and
agreement with sentence-transformers' EmbeddingSimilarityEvaluator and mteb's STSBenchmark on the real data."""

from __future__ import annotations

import math

import pytest

from embedbench.data import SourceSpec
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.statistics import aggregate
from embedbench.evalsuite.tasks import get_task
from embedbench.evalsuite.tasks.bm25 import BM25Retriever
from embedbench.evalsuite.tasks.sts import STSTask

# cosines 1, 1/2, 0 and 1/sqrt(3); gold 5, 2.5, 0, 1 -> ranks (4,2,1,3) vs (4,3,1,2): rho = 1 - 6*2/60 = 0.8
PAIRS = [("a b", "a b", 5.0), ("a b", "a c", 2.5), ("a", "c", 0.0), ("a b c", "a", 1.0)]


def stsb(path):
    return SourceSpec(kind="stsb", path=str(path))


def write_stsb(path, pairs):
    lines = [f"main-news\tMSRvid\t2012test\t{i:04d}\t{s}\t{a}\t{b}" for i, (a, b, s) in enumerate(pairs)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_hand_worked_correlations(tmp_path, bow):
    r = STSTask("toy", stsb(write_stsb(tmp_path / "sts-test.csv", PAIRS))).evaluate(bow)
    assert r.per_item["score"] == pytest.approx([1.0, 0.5, 0.0, 1 / math.sqrt(3)])
    assert r.per_item["gold"] == pytest.approx([1.0, 0.5, 0.0, 0.2])  # 0-5 scaled to [0, 1]
    assert r.per_item["id"] == ["1", "2", "3", "4"]  # line numbers
    assert r.metrics["spearman"] == pytest.approx(0.8)
    assert r.main_metric == "spearman" and r.task_type == "sts"
    for m in r.metrics:
        assert aggregate(r, m) == pytest.approx(r.metrics[m])
    assert len(bow.calls) == 1 and len(bow.encoded) == 5  # "a b" appears three times, encoded once


def test_sts_year_folder_pools_subsets_and_skips_unscored(tmp_path, bow):
    year = tmp_path / "STS99"
    year.mkdir()
    (year / "STS.input.one.txt").write_text("a b\ta b\na\tc\na b\ta c\n")
    (year / "STS.gs.one.txt").write_text("5\n\n2.5\n")  # the middle pair is unscored
    (year / "STS.input.two.txt").write_text("a b c\ta\n")
    (year / "STS.gs.two.txt").write_text("1\n")
    r = STSTask("sts99", {"kind": "sts", "path": str(year)}).evaluate(bow)
    assert r.per_item["id"] == ["one:1", "one:3", "two:1"]
    assert r.per_item["score"] == pytest.approx([1.0, 0.5, 1 / math.sqrt(3)])
    assert r.metrics["spearman"] == pytest.approx(0.5)  # ranks (3,1,2) vs (3,2,1)


def test_bad_input_raises(tmp_path, bow):
    with pytest.raises(EmbedbenchError, match="score"):
        STSTask("x", stsb(write_stsb(tmp_path / "bad.csv", [("a", "b", 7.0), ("a", "c", 1.0)]))).evaluate(bow)
    with pytest.raises(EmbedbenchError, match="varying"):
        STSTask("x", stsb(write_stsb(tmp_path / "flat.csv", [("a", "b", 2.0), ("a", "c", 2.0)]))).evaluate(bow)
    with pytest.raises(EmbedbenchError, match="not found"):
        STSTask("x", stsb(tmp_path / "missing.csv")).evaluate(bow)
    with pytest.raises(EmbedbenchError, match=r"task 'x': source.format: Input should be 'csv'.*\(got 'xml'\)"):
        STSTask("x", {"kind": "table", "path": str(tmp_path), "output": "scored", "format": "xml"})
    with pytest.raises(EmbedbenchError, match="only supports retrieval"):
        STSTask("x", stsb(write_stsb(tmp_path / "ok.csv", PAIRS))).evaluate(BM25Retriever())


def test_registry_sts_years_have_their_sizes(shared_data):
    """The STS12-16 entries read the real folders: pair counts as in the data README (unscored skipped)."""
    sizes = {f"sts{y}": get_task(f"sts{y}").frame().height for y in range(12, 17)}
    assert sizes == {"sts12": 3108, "sts13": 1500, "sts14": 3750, "sts15": 3000, "sts16": 1186}


@pytest.mark.slow
def test_stsb_matches_sentence_transformers_and_mteb(shared_data, st_shim):
    """MiniLM-L6 on STS Benchmark test: our Spearman equals ST's evaluator and mteb's STSBenchmark to 1e-4
    (and the published 0.8203); all three encode through the shared cache."""
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    from embedbench.data import read_stsb
    from embedbench.encode import load_encoder
    from embedbench.evalsuite.tasks.mteb_run import run_mteb
    from embedbench.evalsuite.tasks.mteb_tasks import LocalSTSBenchmark

    enc = load_encoder("all-MiniLM-L6-v2", show_progress=False)
    ours = get_task("stsb").evaluate(enc)
    df = read_stsb(shared_data / "stsbenchmark" / "sts-test.csv")
    st = EmbeddingSimilarityEvaluator(
        df["sentence1"].to_list(), df["sentence2"].to_list(), df["score"].to_list(), write_csv=False
    )(st_shim(enc))
    mteb_result = run_mteb(enc, [LocalSTSBenchmark()])[0]

    assert ours.n_items == 1379
    assert ours.metrics["spearman"] == pytest.approx(st["spearman_cosine"], abs=1e-4)
    assert ours.metrics["pearson"] == pytest.approx(st["pearson_cosine"], abs=1e-4)
    assert ours.metrics["spearman"] == pytest.approx(mteb_result.metrics["cosine_spearman"], abs=1e-4)
    assert ours.metrics["pearson"] == pytest.approx(mteb_result.metrics["cosine_pearson"], abs=1e-4)
    assert ours.metrics["spearman"] == pytest.approx(0.8203, abs=5e-5)
