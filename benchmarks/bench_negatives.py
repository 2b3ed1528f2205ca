"""Benchmark: hard-negative mining, sentence-transformers' ``mine_hard_negatives`` vs ours, and FAISS at 1M.

Part 1 mines the same SciFact train pairs against the SciFact corpus with all-MiniLM-L6-v2 (top-3,
ranks [0, 30), relative margin 0.05, n-tuples, FAISS, encode batch 64 for both) in three child
processes: the reference (it encodes everything), ours with a cold cache (a fresh temporary
embedding database) and ours warm (the same database again). Each child reports the mining call's
wall time, CPU time (a fairer figure on a shared machine) and its peak resident memory (``ru_maxrss``), total and above the child's baseline after
loading the model and data.

Part 2 times search alone on 1M generated 384-d unit vectors (a Gaussian mixture, so that IVF has
clusters to find): exact ``IndexFlatIP`` vs a trained IVF index, with IVF's recall@10 against exact.

Run with ``make bench`` or ``python benchmarks/bench_negatives.py [--pairs N] [--vectors N] [--queries N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODEL = "all-MiniLM-L6-v2"
WINDOW = {"range_min": 0, "range_max": 30, "relative_margin": 0.05, "num_negatives": 3}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _scifact(n_pairs: int):
    import polars as pl

    from embedbench.data import beir_pairs, doc_text, read_beir
    from embedbench.paths import data_dir

    data = read_beir(data_dir() / "scifact", "train")
    pairs = beir_pairs(data).head(n_pairs)
    corpus = data.corpus.select(doc_text(pl.col("title"), pl.col("text"))).to_series().to_list()
    return pairs, corpus


def child(variant: str, n_pairs: int) -> dict:
    """Run one variant in this process and return its figures."""
    from embedbench.encode import load_encoder
    from embedbench.prep.negatives import MiningConfig, mine_hard_negatives

    pairs, corpus = _scifact(n_pairs)
    encoder = load_encoder(MODEL, batch_size=64, show_progress=False)
    base, cpu0 = _peak_mb(), _cpu_s()
    t0 = time.perf_counter()
    if variant == "reference":
        from datasets import Dataset
        from sentence_transformers.util import mine_hard_negatives as st_mine

        ds = Dataset.from_dict({"anchor": pairs["anchor"].to_list(), "positive": pairs["positive"].to_list()})
        out = st_mine(
            ds, encoder.model, corpus=corpus, sampling_strategy="top", output_format="n-tuple", use_faiss=True,
            batch_size=64, verbose=False, **WINDOW,
        )
        rows, encoded = len(out), None
    else:
        cfg = MiningConfig(model=MODEL, output="n-tuples", index="flat", **WINDOW)
        result = mine_hard_negatives(pairs, corpus, encoder, cfg)
        rows, encoded = result.dataset.height, result.stats.encoded
    wall = time.perf_counter() - t0
    peak = _peak_mb()
    return {"variant": variant, "wall_s": wall, "cpu_s": _cpu_s() - cpu0, "peak_mb": peak, "above_baseline_mb": peak - base, "rows": rows,
            "encoded": encoded, "pairs": pairs.height, "corpus": len(corpus)}


def run_child(variant: str, n_pairs: int, db: Path) -> dict:
    env = {**os.environ, "EMBEDBENCH_EMBEDDINGS": str(db)}
    cmd = [sys.executable, __file__, "--child", variant, "--pairs", str(n_pairs)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def mining_part(n_pairs: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "embeddings.sqlite"
        results = [run_child(v, n_pairs, db) for v in ("reference", "cold", "warm")]
    ref = results[0]
    print(f"\nmining: {ref['pairs']} SciFact train pairs, corpus {ref['corpus']:,} docs, {MODEL}, {WINDOW}")
    print(f"  {'variant':<10} {'wall s':>8} {'vs ref':>8} {'cpu s':>8} {'peak MB':>9} {'above base MB':>14} {'rows':>6}  encoded")
    for r in results:
        print(
            f"  {r['variant']:<10} {r['wall_s']:8.2f} {ref['wall_s'] / r['wall_s']:7.1f}x {r['cpu_s']:8.1f} {r['peak_mb']:9.0f} "
            f"{r['above_baseline_mb']:14.0f} {r['rows']:6}  {r['encoded'] or '-'}"
        )
    return results


def _mixture(rng: np.random.Generator, n: int, centres: np.ndarray, noise: float = 0.6) -> np.ndarray:
    x = centres[rng.integers(0, len(centres), n)] + noise * rng.standard_normal((n, centres.shape[1]), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def faiss_part(n_vectors: int, n_queries: int, nlist: int | None, nprobes: list[int]) -> dict:
    import numpy as np

    from embedbench.index import IndexPlan, build_index, plan_index, recall_at_k, search_batches

    rng = np.random.default_rng(0)
    dim = 384
    centres = rng.standard_normal((4096, dim), dtype=np.float32)  # within a cluster, cosine ~ 1 / (1 + noise^2)
    t0 = time.perf_counter()
    base = np.empty((n_vectors, dim), dtype=np.float32)
    for s in range(0, n_vectors, 100_000):
        base[s : s + 100_000] = _mixture(rng, min(100_000, n_vectors - s), centres)
    queries = _mixture(rng, n_queries, centres)
    gen_s = time.perf_counter() - t0

    def timed_search(index: object, k: int = 10) -> tuple[float, np.ndarray]:
        t = time.perf_counter()
        parts = list(search_batches(index, queries, k, batch_size=1024))
        return time.perf_counter() - t, np.concatenate([p[2] for p in parts])

    t = time.perf_counter()
    flat = build_index(base, IndexPlan("flat"))
    flat_build = time.perf_counter() - t
    flat_s, exact_ids = timed_search(flat)
    del flat
    plan = plan_index(n_vectors, "ivf", nlist=nlist, nprobe=max(nprobes))
    t = time.perf_counter()
    ivf = build_index(base, plan)
    ivf_build = time.perf_counter() - t
    print(f"\nFAISS search alone: {n_vectors:,} x {dim}-d unit vectors (Gaussian mixture), {n_queries:,} queries, top-10")
    print(f"  generated in {gen_s:.1f} s; exact IndexFlatIP: add {flat_build:.1f} s, search {flat_s:.2f} s "
          f"({n_queries / flat_s:,.0f} q/s)")
    print(f"  IVF nlist={plan.nlist}: train + add {ivf_build:.1f} s")
    out = {"vectors": n_vectors, "queries": n_queries, "flat_search_s": flat_s, "ivf_build_s": ivf_build, "ivf": []}
    for nprobe in nprobes:
        ivf.nprobe = nprobe
        s, ids = timed_search(ivf)
        rec = recall_at_k(ids, exact_ids, 10)
        out["ivf"].append({"nprobe": nprobe, "search_s": s, "recall@10": rec})
        print(f"    nprobe={nprobe:<4} search {s:7.2f} s ({n_queries / s:8,.0f} q/s, {flat_s / s:5.1f}x exact)  "
              f"recall@10 {rec:.4f}")
    return out


def main() -> None:
    """Parse options, run both parts, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", choices=["reference", "cold", "warm"], help=argparse.SUPPRESS)
    ap.add_argument("--pairs", type=int, default=919, help="SciFact train pairs to mine (919 = all)")
    ap.add_argument("--vectors", type=int, default=1_000_000, help="generated vectors for the FAISS part")
    ap.add_argument("--queries", type=int, default=2000, help="queries for the FAISS part")
    ap.add_argument("--nlist", type=int, default=None, help="IVF lists (default sqrt(vectors))")
    ap.add_argument("--nprobe", type=int, nargs="+", default=[8, 32, 64], help="IVF lists probed (several to sweep)")
    ap.add_argument("--skip-mining", action="store_true")
    ap.add_argument("--skip-faiss", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.pairs)))
        return
    if not args.skip_mining:
        mining_part(args.pairs)
    if not args.skip_faiss:
        faiss_part(args.vectors, args.queries, args.nlist, args.nprobe)


if __name__ == "__main__":
    main()
