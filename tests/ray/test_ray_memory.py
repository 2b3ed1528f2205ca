"""The streaming path keeps the driver's memory independent of the corpus size.

Generated short texts go through ``encode_corpus`` (spool misses to Parquet, encode on the actor
pool, workers write shards, the cache ingests them in chunks) at two sizes; a side thread samples
the driver's resident memory, and its peak above the level before the run must not grow with the
size (a warm-up run first pays the one-time costs: imports, the first pipeline). Sizes:
``EMBEDBENCH_RAY_MEMORY_SIZES`` (default ``10000,100000``, about a minute; the issue's ``100000,1000000``
took about 17 minutes on 2 shared cores, with the same flat peak).
"""

from __future__ import annotations

import os
import threading
import time

import psutil
import pytest

from embedbench.cache import EmbeddingCache
from embedbench.encode import load_encoder
from embedbench.ray_shards import encode_corpus

MARGIN_MB = 24.0
CHUNK = 10_000  # texts the driver holds at a time: below the smaller size, so both runs fill whole chunks


class PeakRss:
    """Samples this process's RSS every 20 ms while in the ``with`` block; ``peak_mb`` above the start."""

    def __init__(self) -> None:
        self.proc = psutil.Process(os.getpid())
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self.start = self.proc.memory_info().rss
        self.peak = self.start
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def _texts(n: int):
    """``n`` short distinct generated texts, produced lazily (the driver never holds the list)."""
    return (f"short text number {i} of {n}" for i in range(n))


@pytest.mark.slow
def test_driver_memory_does_not_grow_with_corpus_size(ray_cfg, tmp_path):
    sizes = [int(s) for s in os.environ.get("EMBEDBENCH_RAY_MEMORY_SIZES", "10000,100000").split(",")]
    cfg = ray_cfg.model_copy(update={"actors": 1, "batch_size": 256, "shard_dir": tmp_path / "shards"})
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    enc = load_encoder("tiny", cache=cache, show_progress=False, batch_size=256)
    encode_corpus(enc, (f"warm-up {i}" for i in range(CHUNK)), cfg, chunk=CHUNK)  # one-time costs (imports, first pipeline)
    peaks, seconds = [], []
    for n in sizes:
        t0 = time.perf_counter()
        with PeakRss() as rss:
            assert encode_corpus(enc, _texts(n), cfg, chunk=CHUNK) == n
        seconds.append(time.perf_counter() - t0)
        peaks.append(rss.peak_mb)
    stats = {s.fingerprint: s for s in cache.stats()}[enc.fingerprint]
    assert stats.rows == CHUNK + sum(sizes)
    print(f"driver peak RSS above start: {dict(zip(sizes, [round(p, 1) for p in peaks], strict=True))} MB; "
          f"seconds: {dict(zip(sizes, [round(s, 1) for s in seconds], strict=True))}")
    assert peaks[-1] <= peaks[0] + MARGIN_MB, f"driver peak grew with the corpus: {peaks} MB for {sizes} texts"
