"""Benchmark: the evaluation suite (shared embedding cache) against the same evaluation done by hand.

The same tasks for the same model, two ways, in one run:

- **suite**: ``evalsuite.runner.run_eval`` on STSB test, SciFact, mteb's STSBenchmark and mteb's
  SciFact (local data), one ``CachedEncoder`` for all four, a fresh embedding cache (cold), then the
  same evaluation forced again on the now warm cache (warm).
- **by hand**: what a user does without the suite: sentence-transformers'
  ``EmbeddingSimilarityEvaluator`` and ``InformationRetrievalEvaluator``, plus a separate
  ``mteb.evaluate`` run of the same two tasks, with no shared cache (cold; then again: warm, the
  model loaded, but every text is encoded again).

Prints wall times, the by-hand / suite ratio cold and warm, and checks that both ways report the same
Spearman and nDCG@10. SciFact's corpus is sliced (the relevant abstracts of all test claims plus the
first other ones, ``--docs`` in all; ``--docs 0`` keeps the full corpus) to keep the run short on CPU.

    python benchmarks/bench_eval.py [--docs 1000] [--model all-MiniLM-L6-v2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from embedbench.models import DEFAULT_MODEL  # noqa: E402 - after the offline settings


def make_scifact_slice(src: Path, dst: Path, n_docs: int, n_qrels: int = 0) -> None:
    """A BEIR folder with the test queries (the first ``n_qrels`` judgements' only, when given), their relevant
    documents and other documents up to ``n_docs``."""
    (dst / "qrels").mkdir(parents=True)
    qrels = (src / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    if n_qrels > 0:
        qrels = qrels[: n_qrels + 1]
    (dst / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    queries = (src / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    if n_qrels > 0:
        judged = {line.split("\t")[0] for line in qrels[1:]}
        queries = [q for q in queries if str(json.loads(q)["_id"]) in judged]
    (dst / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    corpus = (src / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    if n_docs > 0:
        relevant = {line.split("\t")[1] for line in qrels[1:]}
        keep = [d for d in corpus if json.loads(d)["_id"] in relevant]
        keep += [d for d in corpus if json.loads(d)["_id"] not in relevant][: max(0, n_docs - len(keep))]
        corpus = keep
    (dst / "corpus.jsonl").write_text("\n".join(corpus) + "\n", encoding="utf-8")


def suite_run(model: str, stsb: Path, scifact: Path, results: Path, force: bool) -> tuple[float, dict[str, float], int]:
    """Wall time, main metrics and texts encoded for one ``run_eval`` of the four tasks."""
    from embedbench.evalsuite.config import EvalConfig
    from embedbench.evalsuite.runner import run_eval

    cfg = EvalConfig.model_validate({
        "models": [model], "results_dir": str(results),
        "tasks": [
            {"name": "stsb", "path": str(stsb / "sts-test.csv")},
            {"name": "scifact", "path": str(scifact)},
            {"name": "mteb-STSBenchmark", "path": str(stsb)},
            {"name": "mteb-SciFact", "path": str(scifact)},
        ],
    })
    started = time.perf_counter()
    run = run_eval(cfg, force=force, log=lambda s: None, show_progress=False)
    seconds = time.perf_counter() - started
    return seconds, {r.task: r.value for r in run.records if r.value is not None}, run.encoded.get(model, 0)


def by_hand_run(st_model, stsb: Path, scifact: Path) -> tuple[float, dict[str, float]]:  # noqa: ANN001
    """Wall time and main metrics of sentence-transformers evaluators + a separate mteb run (no cache)."""
    import mteb
    from sentence_transformers.sentence_transformer.evaluation import (
        EmbeddingSimilarityEvaluator,
        InformationRetrievalEvaluator,
    )

    from embedbench.data import read_beir, read_stsb
    from embedbench.evalsuite.tasks.mteb_tasks import mteb_task

    started = time.perf_counter()
    sts = read_stsb(stsb / "sts-test.csv")
    sts_eval = EmbeddingSimilarityEvaluator(
        sts["sentence1"].to_list(), sts["sentence2"].to_list(), sts["score"].to_list(), main_similarity="cosine",
        name="stsb", show_progress_bar=False,
    )
    spearman = sts_eval(st_model)["stsb_spearman_cosine"]
    beir = read_beir(scifact, "test")
    corpus = {d: ((t or "") + " " + (x or "")).strip()
              for d, t, x in zip(beir.corpus["doc_id"], beir.corpus["title"], beir.corpus["text"], strict=True)}
    judged = {q: {d for d, s in rel.items() if s > 0} for q, rel in beir.relevant_docs.items()}
    queries = {q: t for q, t in zip(beir.queries["query_id"], beir.queries["text"], strict=True) if judged.get(q)}
    ir_eval = InformationRetrievalEvaluator(queries, corpus, judged, name="scifact", show_progress_bar=False,
                                            main_score_function="cosine")
    ndcg = ir_eval(st_model)["scifact_cosine_ndcg@10"]
    out = mteb.evaluate(st_model, [mteb_task("STSBenchmark", stsb), mteb_task("SciFact", scifact)], cache=None,
                        overwrite_strategy="always", encode_kwargs={"batch_size": 64, "show_progress_bar": False},
                        show_progress_bar=False, co2_tracker=False, raise_error=True)
    mteb_scores = {tr.task_name: tr.get_score() for tr in out.task_results}
    seconds = time.perf_counter() - started
    return seconds, {"stsb": spearman, "scifact": ndcg, "mteb-STSBenchmark": mteb_scores["STSBenchmark"],
                     "mteb-SciFact": mteb_scores["SciFact"]}


def main(argv: list[str] | None = None) -> int:
    """Run both ways cold and warm; print the figures (and write them as JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--docs", type=int, default=1000, help="SciFact documents kept (0: the full corpus)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_eval."))
    os.environ["EMBEDBENCH_EMBEDDINGS"] = str(work / "embeddings.sqlite")  # a cold, private cache
    try:
        from embedbench.models import load_model
        from embedbench.paths import data_dir

        stsb = work / "stsbenchmark"
        stsb.mkdir()
        shutil.copy(data_dir() / "stsbenchmark" / "sts-test.csv", stsb / "sts-test.csv")
        scifact = work / "scifact"
        make_scifact_slice(data_dir() / "scifact", scifact, args.docs)
        n_docs = len((scifact / "corpus.jsonl").read_text().splitlines())

        suite_cold, suite_scores, encoded_cold = suite_run(args.model, stsb, scifact, work / "results", force=False)
        print(f"suite cold: {suite_cold:.1f} s", flush=True)
        suite_warm, _, encoded_warm = suite_run(args.model, stsb, scifact, work / "results", force=True)
        print(f"suite warm: {suite_warm:.1f} s", flush=True)
        model = load_model(args.model)
        hand_cold, hand_scores = by_hand_run(model, stsb, scifact)
        print(f"by hand cold: {hand_cold:.1f} s", flush=True)
        hand_warm, _ = by_hand_run(model, stsb, scifact)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    figures = {
        "model": args.model, "scifact_docs": n_docs, "stsb_pairs": 1379, "cpus": os.cpu_count(),
        "suite_cold_s": round(suite_cold, 1), "suite_warm_s": round(suite_warm, 1),
        "by_hand_cold_s": round(hand_cold, 1), "by_hand_warm_s": round(hand_warm, 1),
        "ratio_cold": round(hand_cold / suite_cold, 2), "ratio_warm": round(hand_warm / suite_warm, 2),
        "suite_texts_encoded_cold": encoded_cold, "suite_texts_encoded_warm": encoded_warm,
        "scores_suite": suite_scores, "scores_by_hand": hand_scores,
    }
    print(f"eval benchmark: {args.model}, STSB test (1379 pairs) + SciFact test ({n_docs} docs), "
          f"STS + retrieval + the two mteb tasks")
    print(f"  suite (shared cache): cold {suite_cold:7.1f} s ({encoded_cold} texts encoded)   "
          f"warm {suite_warm:6.1f} s ({encoded_warm} encoded)")
    print(f"  by hand (ST + mteb):  cold {hand_cold:7.1f} s   warm {hand_warm:6.1f} s")
    print(f"  by hand / suite:      cold {hand_cold / suite_cold:5.2f}x   warm {hand_warm / suite_warm:5.2f}x")
    worst = max(abs(suite_scores[k] - hand_scores[k]) for k in hand_scores)
    print(f"  same scores both ways: max |difference| = {worst:.2e} "
          + ", ".join(f"{k}={hand_scores[k]:.4f}" for k in hand_scores))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
