"""pytest-benchmark benchmarks: each times our path and the obvious alternative in the same run and reports the ratio.

``make bench`` runs them (``pytest benchmarks --benchmark-only``) and prints pytest-benchmark's table of
times, then the table of ratios (``alternative / ours``, also in each benchmark's ``extra_info``).
``make bench-compare`` saves a baseline the first time and compares later runs with it.

- cache: encoding cold (encode + store) vs warm (cache only);
- mining: ours (cold cache, warm cache) vs sentence-transformers' ``mine_hard_negatives``, same pairs, corpus, window;
- eval: the suite (shared cache) vs sentence-transformers' evaluators + ``mteb.evaluate`` by hand, cold and warm,
  with the same scores both ways;
- prep: our MinHash-LSH vs datasketch's on planted near-duplicates (recall of both kept), and exact dedupe
  (Polars) vs a dict loop;
- backends: each backend and precision vs torch fp32 on the same texts (cosine to torch fp32 kept).

The figures come from the helpers of the ``bench_*.py`` scripts (which still run on their own, e.g.
``bench_backends.py`` writes reports/backends.md). Sizes: ``benchmarks/conftest.py`` (``EMBEDBENCH_BENCH_SIZE``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bench_cache
import bench_eval
import bench_negatives
import bench_prep
import numpy as np
import pytest
from bench_timing import timed

from embedbench.backend_spec import Backend, Precision, tag
from embedbench.cache import EmbeddingCache
from embedbench.encode import CachedEncoder, load_encoder

pytestmark = pytest.mark.bench


@pytest.fixture(scope="session")
def encoder(size: dict[str, Any]) -> CachedEncoder:
    """The benchmark model, loaded once, torch fp32, no cache (each benchmark brings its own)."""
    return load_encoder(size["model"], cache=False, show_progress=False)


def cached(encoder: CachedEncoder, db: Path) -> CachedEncoder:
    """The same loaded model behind the embedding cache at ``db``."""
    return CachedEncoder(encoder.model, name=encoder.name, fingerprint=encoder.fingerprint, cache=EmbeddingCache(db),
                         show_progress=False)


def test_cache_cold_vs_warm(bench, encoder, size, tmp_path):
    texts = bench_cache.stsb_test_sentences()[: size["cache_texts"]]
    fresh = iter(range(1_000_000))

    def cold_setup() -> tuple:
        return (cached(encoder, tmp_path / f"cold-{next(fresh)}.sqlite"),)

    cold_s, cold = bench.alternative(lambda enc: enc.encode(texts), setup=cold_setup)
    warm_db = tmp_path / "warm.sqlite"
    cached(encoder, warm_db).encode(texts)
    warm_s, warm = bench.ours(lambda enc: (enc.encode(texts), enc.misses), setup=lambda: (cached(encoder, warm_db),))
    assert np.array_equal(warm[0], cold) and warm[1] == 0  # warm encoded nothing and gave the same vectors
    bench.info(texts=len(texts), model=size["model"])
    bench.ratio("cold_over_warm", cold_s / warm_s, "encoding through a warm cache vs cold (encode + store)")


@pytest.fixture(scope="session")
def mining_inputs(size: dict[str, Any]) -> tuple[Any, list[str]]:
    pairs, corpus = bench_negatives._scifact(size["mining_pairs"])
    return pairs, corpus[: size["mining_docs"]] if size["mining_docs"] else corpus


@pytest.fixture(scope="session")
def st_mining(encoder, mining_inputs, size) -> tuple[float, int]:
    """sentence-transformers' ``mine_hard_negatives`` on the pairs and corpus: median seconds and rows."""
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives as st_mine

    pairs, corpus = mining_inputs
    ds = Dataset.from_dict({"anchor": pairs["anchor"].to_list(), "positive": pairs["positive"].to_list()})

    def run() -> int:
        return len(st_mine(ds, encoder.model, corpus=corpus, sampling_strategy="top", output_format="n-tuple",
                           use_faiss=True, batch_size=64, verbose=False, **bench_negatives.WINDOW))

    return timed(run, rounds=size["heavy_rounds"])


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_mining_vs_sentence_transformers(bench, encoder, mining_inputs, st_mining, size, tmp_path, cache):
    from embedbench.prep.negatives import MiningConfig, mine_hard_negatives

    bench.rounds = size["heavy_rounds"]
    pairs, corpus = mining_inputs
    cfg = MiningConfig(model=size["model"], output="n-tuples", index="flat", shortfall=size["mining_shortfall"],
                       **bench_negatives.WINDOW)
    fresh = iter(range(1_000_000))
    warm_db = tmp_path / "warm.sqlite"
    if cache == "warm":
        mine_hard_negatives(pairs, corpus, cached(encoder, warm_db), cfg)

    def setup() -> tuple:
        return (cached(encoder, warm_db if cache == "warm" else tmp_path / f"cold-{next(fresh)}.sqlite"),)

    ours_s, result = bench.ours(lambda enc: mine_hard_negatives(pairs, corpus, enc, cfg), setup=setup)
    st_s, st_rows = st_mining
    assert result.dataset.height > 0 and (st_rows > 0 or size["name"] == "tiny")  # tiny: the margin leaves ST none
    bench.info(pairs=pairs.height, corpus=len(corpus), rows=result.dataset.height, st_rows=st_rows,
               encoded=result.stats.encoded, model=size["model"])
    bench.ratio(f"st_over_ours_{cache}", st_s / ours_s, f"sentence-transformers mine_hard_negatives vs ours ({cache} cache)",
                target=1.0 if cache == "cold" else 5.0)


@pytest.fixture(scope="session")
def eval_data(size, tmp_path_factory) -> tuple[Path, Path]:
    import mteb  # noqa: F401 - imported before anything is timed, so neither side pays for it
    from sentence_transformers.sentence_transformer import evaluation  # noqa: F401

    from embedbench.paths import data_dir

    work = tmp_path_factory.mktemp("bench-eval")
    stsb = work / "stsbenchmark"
    stsb.mkdir()
    lines = (data_dir() / "stsbenchmark" / "sts-test.csv").read_text(encoding="utf-8").splitlines()
    lines = lines[: size["eval_pairs"]] if size["eval_pairs"] else lines
    (stsb / "sts-test.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    scifact = work / "scifact"
    bench_eval.make_scifact_slice(data_dir() / "scifact", scifact, size["eval_docs"], 15 if size["name"] == "tiny" else 0)
    return stsb, scifact


@pytest.fixture(scope="session")
def by_hand(encoder, eval_data, size) -> dict[str, tuple[float, dict[str, float]]]:
    """sentence-transformers evaluators + ``mteb.evaluate``, no shared cache: cold, then again (warm: model loaded)."""
    stsb, scifact = eval_data
    cold = bench_eval.by_hand_run(encoder.model, stsb, scifact)
    warm_s, (_, scores) = timed(lambda: bench_eval.by_hand_run(encoder.model, stsb, scifact), rounds=size["heavy_rounds"])
    return {"cold": cold, "warm": (warm_s, scores)}


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_eval_suite_vs_by_hand(bench, eval_data, by_hand, size, tmp_path, monkeypatch, cache):
    bench.rounds = size["heavy_rounds"]
    stsb, scifact = eval_data
    fresh = iter(range(1_000_000))
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "warm.sqlite"))
    if cache == "warm":
        bench_eval.suite_run(size["model"], stsb, scifact, tmp_path / "results-warm", force=False)

    def setup() -> tuple:
        if cache == "cold":
            monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / f"cold-{next(fresh)}.sqlite"))
        return (tmp_path / f"results-{cache}-{next(fresh)}",)

    ours_s, (_, scores, encoded) = bench.ours(
        lambda results: bench_eval.suite_run(size["model"], stsb, scifact, results, force=True), setup=setup)
    hand_s, hand_scores = by_hand[cache]
    worst = max(abs(scores[k] - hand_scores[k]) for k in hand_scores)
    assert worst < 1e-4, f"suite and by-hand scores differ by {worst}: {scores} vs {hand_scores}"
    bench.info(encoded=encoded, scores=json.loads(json.dumps(scores)), max_score_difference=worst, model=size["model"])
    bench.ratio(f"by_hand_over_suite_{cache}", hand_s / ours_s,
                f"ST evaluators + mteb by hand vs the suite ({cache} cache)")


def test_minhash_vs_datasketch(bench, size):
    from embedbench.prep.minhash import MinHasher, jaccard

    threshold, num_perm = 0.7, 128
    texts, planted = bench_prep.planted_docs(size["minhash_docs"])
    truth = {(a, b) for a, b in planted if jaccard(texts[a], texts[b]) >= threshold}
    ds_s, ds_pairs = bench.alternative(lambda: bench_prep.datasketch_pairs(texts, threshold, num_perm))
    hasher = MinHasher(threshold=threshold, num_perm=num_perm)
    ours_s, our_pairs = bench.ours(lambda: bench_prep.ours_pairs(texts, hasher))
    recall = len(our_pairs & truth) / len(truth)
    bench.info(texts=len(texts), truth_pairs=len(truth), recall_ours=recall,
               recall_datasketch=len(ds_pairs & truth) / len(truth))
    assert recall >= 0.9
    bench.ratio("datasketch_over_ours", ds_s / ours_s, "datasketch MinHash + MinHashLSH vs our MinHash-LSH")


def test_exact_dedupe_vs_dict_loop(bench, size):
    from embedbench.prep.dedupe import exact_dedupe
    from embedbench.prep.marks import init_marks, partition

    frame = init_marks(bench_prep.generated_rows(size["dedupe_rows"]), "gen")

    def dict_loop() -> list[int]:
        seen: set[tuple[str, str]] = set()
        dropped = []
        for i, key in enumerate(zip(frame["anchor"].to_list(), frame["positive"].to_list(), strict=True)):
            if key in seen:
                dropped.append(i)
            seen.add(key)
        return dropped

    loop_s, ref = bench.alternative(dict_loop)
    ours_s, out = bench.ours(lambda: exact_dedupe(frame, ["anchor", "positive"]))
    assert partition(out).dropped["row_id"].to_list() == ref
    bench.info(rows=frame.height, duplicates=len(ref))
    bench.ratio("dict_loop_over_polars", loop_s / ours_s, "a Python dict loop vs our Polars exact dedupe")


@pytest.fixture(scope="session")
def backend_texts(size) -> list[str]:
    return bench_cache.stsb_test_sentences()[: size["backend_texts"]]


@pytest.mark.parametrize("config", [(b, p) for b in Backend for p in Precision if (b, p) != (Backend.TORCH, Precision.FP32)],
                         ids=lambda c: tag(*c))
def test_backend_vs_torch_fp32(bench, encoder, backend_texts, size, config):
    backend, precision = config
    other = load_encoder(size["model"], backend=backend, precision=precision, cache=False, show_progress=False)
    torch_s, ref = bench.alternative(lambda: encoder.encode(backend_texts))
    ours_s, emb = bench.ours(lambda: other.encode(backend_texts))
    cos = np.sum(emb * ref, axis=1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref, axis=1))
    bench.info(texts=len(backend_texts), cosine_mean=float(cos.mean()), cosine_min=float(cos.min()), model=size["model"])
    assert cos.min() > (0.999 if precision is Precision.FP32 else 0.8)
    bench.ratio("torch_fp32_over_backend", torch_s / ours_s, f"torch fp32 vs {tag(backend, precision)} encoding")
