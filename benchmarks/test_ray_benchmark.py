"""pytest-benchmark: the Ray engine against the local engine on the same texts (``make bench``).

Ours is ``encode_on_ray`` on a local two-CPU cluster (two one-CPU encoder actors, each loading the
model: the pool's start-up is part of every call, as it is of every real call); the alternative is the
local engine, the same model in this process with two threads. The ratio ``local_over_ray`` is
expected below 1 on two cores: the Ray engine is there for clusters, and what this benchmark keeps
honest is its overhead on one machine (and that its vectors are the local ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import bench_cache
import numpy as np
import pytest

from embedbench.compute import ComputeConfig
from embedbench.encode import load_encoder

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def ray_cfg() -> Iterator[ComputeConfig]:
    """A local two-CPU cluster for this module, and the engine setting the benchmark encodes with."""
    import ray
    import ray.data

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    yield ComputeConfig(engine="ray", actors=2, cpus_per_actor=1, batch_size=32)
    if started:
        ray.shutdown()


def test_ray_vs_local_encode(bench, size: dict[str, Any], ray_cfg):
    from embedbench.ray_engine import encode_on_ray

    texts = bench_cache.stsb_test_sentences()[: size["cache_texts"]]
    local = load_encoder(size["model"], cache=False, show_progress=False, batch_size=32, threads=2)
    local_s, expected = bench.alternative(lambda: local.encode(texts))
    ray_s, got = bench.ours(lambda: encode_on_ray(size["model"], texts, ray_cfg))
    assert float(np.abs(got - expected).max()) < 1e-6  # the same vectors both ways
    bench.info(texts=len(texts), model=size["model"], actors=ray_cfg.actors, ray_texts_per_s=round(len(texts) / ray_s, 1),
               local_texts_per_s=round(len(texts) / local_s, 1))
    bench.ratio("local_over_ray", local_s / ray_s, "the local engine's time over Ray's on 2 cores (pool start-up included)")
