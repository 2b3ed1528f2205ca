"""Benchmark: exact dedupe of 1M generated rows, and our MinHash-LSH vs datasketch's on planted near-duplicates.

Part 1 builds 1M (anchor, positive) rows, about a quarter of them exact copies of earlier rows, and
times :func:`prep.dedupe.exact_dedupe` on the row key (Polars expressions): rows/s and the growth of
peak resident memory (``ru_maxrss``; Polars allocates outside Python, so tracemalloc would not see
it). A plain-Python ``dict`` pass over the same rows is the reference: both must drop the same rows.

Part 2 generates distinct sentences plus copies with 1-4 words replaced (planted near-duplicates),
then finds near-duplicate pairs at Jaccard threshold 0.7 (character 5-grams, 128 permutations) with
datasketch (``MinHash.bulk`` + ``MinHashLSH`` insert and query, its default 0.5/0.5 weights) and with
ours (:class:`prep.minhash.MinHasher`: the same weights, then our default recall weight 0.9; both
verify candidates by estimated Jaccard). Truth: planted pairs whose exact Jaccard is >= 0.7.
Recall = truth pairs reported / truth pairs; precision = reported pairs whose exact Jaccard >= 0.7.

Run with ``make bench`` or ``python benchmarks/bench_prep.py [--rows N] [--docs N]``.
"""

from __future__ import annotations

import argparse
import random
import resource
import time

import numpy as np
import polars as pl

from embedbench.prep.dedupe import exact_dedupe
from embedbench.prep.marks import init_marks, partition
from embedbench.prep.minhash import MinHasher, jaccard


def rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generated_rows(n: int, seed: int = 0) -> pl.DataFrame:
    """``n`` rows; ~25% repeat an earlier row exactly (vectorised generation)."""
    rng = np.random.default_rng(seed)
    unique = int(n * 0.75)
    ids = np.concatenate([np.arange(unique), rng.integers(0, unique, n - unique)])
    rng.shuffle(ids)
    base = pl.DataFrame({"i": ids})
    return base.select(
        anchor=pl.format("what is item {} in category {}", pl.col("i"), pl.col("i") % 97),
        positive=pl.format("item {} is a thing of kind {} with details", pl.col("i"), pl.col("i") % 13),
    )


def bench_exact(n: int) -> None:
    """Part 1: exact row-key dedupe of ``n`` rows."""
    frame = init_marks(generated_rows(n), "gen")
    before = rss_mb()
    t0 = time.perf_counter()
    out = exact_dedupe(frame, ["anchor", "positive"])
    polars_s = time.perf_counter() - t0
    peak_growth = rss_mb() - before
    dropped = partition(out).dropped["row_id"].to_list()

    t0 = time.perf_counter()
    seen: dict[tuple[str, str], int] = {}
    ref = []
    for i, key in enumerate(zip(frame["anchor"].to_list(), frame["positive"].to_list(), strict=True)):
        if key in seen:
            ref.append(i)
        else:
            seen[key] = i
    python_s = time.perf_counter() - t0
    assert dropped == ref, "Polars and the dict reference disagree"
    print(f"exact dedupe, {n:,} rows ({len(dropped):,} duplicates)")
    print(f"  polars expressions: {polars_s:.2f} s = {n / polars_s:,.0f} rows/s; peak RSS +{peak_growth:.0f} MB")
    print(f"  python dict loop  : {python_s:.2f} s = {n / python_s:,.0f} rows/s (reference, same rows dropped)")


def planted_docs(n: int, seed: int = 0) -> tuple[list[str], list[tuple[int, int]]]:
    """``n`` distinct sentences and ``n // 5`` edited copies; returns texts and (copy, original) pairs."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(20000)]
    texts = [" ".join(rng.choice(vocab) for _ in range(25)) for _ in range(n)]
    planted = []
    for _ in range(n // 5):
        original = rng.randrange(n)
        words = texts[original].split()
        for _ in range(rng.randint(1, 4)):
            words[rng.randrange(len(words))] = rng.choice(vocab)
        planted.append((len(texts), original))
        texts.append(" ".join(words))
    return texts, planted


def datasketch_pairs(texts: list[str], threshold: float, num_perm: int) -> set[tuple[int, int]]:
    """Candidate pairs (i, j), j < i, from datasketch: MinHash.bulk, MinHashLSH insert + query."""
    from datasketch import MinHash, MinHashLSH

    shingles = [[t[i : i + 5].encode() for i in range(max(len(t) - 4, 1))] for t in (s.lower() for s in texts)]
    sigs = MinHash.bulk(shingles, num_perm=num_perm)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    with lsh.insertion_session() as session:
        for i, m in enumerate(sigs):
            session.insert(i, m)
    return {(i, j) for i, m in enumerate(sigs) for j in lsh.query(m) if j < i}


def ours_pairs(texts: list[str], hasher: MinHasher) -> set[tuple[int, int]]:
    """Verified pairs (doc, root) from our vectorised MinHash-LSH."""
    sig = hasher.signatures(pl.Series(texts))
    pairs = hasher.self_pairs(sig)
    return set(zip(pairs["doc"].to_list(), pairs["root"].to_list(), strict=True))


def score(name: str, seconds: float, found: set[tuple[int, int]], truth: set[tuple[int, int]], texts: list[str], t: float) -> float:
    recall = len(found & truth) / len(truth)
    good = sum(1 for a, b in found if (a, b) in truth or jaccard(texts[a], texts[b]) >= t)
    precision = good / len(found) if found else 1.0
    print(f"  {name:<34} {seconds:7.2f} s  recall {recall:.3f}  precision {precision:.3f}  pairs {len(found):,}")
    return seconds


def bench_minhash(n: int, threshold: float = 0.7, num_perm: int = 128) -> None:
    """Part 2: near-duplicate pairs, datasketch vs ours, on planted data."""
    texts, planted = planted_docs(n)
    truth = {(a, b) for a, b in planted if jaccard(texts[a], texts[b]) >= threshold}
    print(f"near-duplicates: {len(texts):,} texts, {len(planted):,} planted copies, {len(truth):,} with Jaccard >= {threshold}")
    t0 = time.perf_counter()
    ds = datasketch_pairs(texts, threshold, num_perm)
    ds_s = score("datasketch (weights 0.5/0.5)", time.perf_counter() - t0, ds, truth, texts, threshold)
    for label, weight in (("ours (weights 0.5/0.5, verified)", 0.5), ("ours (recall weight 0.9, verified)", 0.9)):
        hasher = MinHasher(threshold=threshold, num_perm=num_perm, recall_weight=weight)
        t0 = time.perf_counter()
        found = ours_pairs(texts, hasher)
        s = score(label, time.perf_counter() - t0, found, truth, texts, threshold)
        print(f"    bands x rows {hasher.bands} x {hasher.rows}; speed-up over datasketch {ds_s / s:.1f}x")


def main() -> None:
    """Run both parts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the exact-dedupe part")
    parser.add_argument("--docs", type=int, default=20_000, help="distinct texts for the near-duplicate part")
    args = parser.parse_args()
    bench_exact(args.rows)
    bench_minhash(args.docs)


if __name__ == "__main__":
    main()
