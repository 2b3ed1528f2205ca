"""Benchmark: encode the STS Benchmark test sentences with all-MiniLM-L6-v2 cold, then warm through the cache.

Run with ``make bench`` (or ``python benchmarks/bench_cache.py``). Uses a temporary cache file so the
cold run really encodes. Prints both wall times and their ratio.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embedbench.cache import EmbeddingCache  # noqa: E402
from embedbench.encode import load_encoder  # noqa: E402
from embedbench.paths import data_dir  # noqa: E402


def stsb_test_sentences() -> list[str]:
    """Both sides of every STS Benchmark test pair (2,758 sentences)."""
    texts: list[str] = []
    with open(data_dir() / "stsbenchmark" / "sts-test.csv", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            texts += [row[5], row[6]]
    return texts


def main() -> None:
    """Time a cold and a warm encode of the same sentences and print the ratio."""
    texts = stsb_test_sentences()
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddingCache(Path(tmp) / "bench.sqlite")
        cold_enc = load_encoder("all-MiniLM-L6-v2", cache=store, show_progress=False)
        t0 = time.perf_counter()
        cold = cold_enc.encode(texts)
        cold_s = time.perf_counter() - t0
        warm_enc = load_encoder("all-MiniLM-L6-v2", cache=store, show_progress=False)
        t0 = time.perf_counter()
        warm = warm_enc.encode(texts)
        warm_s = time.perf_counter() - t0
    assert (warm == cold).all() and warm_enc.misses == 0
    print(f"cache benchmark: {len(texts)} STSB test sentences ({cold_enc.misses} unique), all-MiniLM-L6-v2")
    print(f"  cold (encode + store): {cold_s:8.3f} s  ({cold_enc.misses / cold_s:,.0f} texts/s)")
    print(f"  warm (cache only):     {warm_s:8.3f} s  ({len(texts) / warm_s:,.0f} texts/s)")
    print(f"  warm is {cold_s / warm_s:,.0f}x faster")


if __name__ == "__main__":
    main()
