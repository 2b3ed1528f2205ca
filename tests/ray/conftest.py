"""One local Ray cluster (``ray.init(num_cpus=2)``) for every Ray test of the session, and the Ray engine setting.

The tests cover encoding, faults, memory, mining, the eval fan-out and the CLI's ``--engine ray``.

Starting a cluster costs seconds, so every Ray test shares this one; ``ray_cfg`` is the ``[compute]``
section the tests encode with (two actors of one CPU, small batches so a few hundred texts make many).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest

from embedbench import compute
from embedbench.compute import ComputeConfig


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A local two-CPU Ray cluster, shut down when the session ends."""
    import ray
    import ray.data

    from embedbench.ray_engine import ensure_ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ensure_ray(ComputeConfig(engine="ray"))  # a no-op now: the engine joins the running cluster
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    yield
    ray.shutdown()


@pytest.fixture
def ray_cfg(ray_cluster: None) -> ComputeConfig:
    """The Ray engine with two one-CPU actors and batches of 32."""
    return ComputeConfig(engine="ray", actors=2, cpus_per_actor=1, batch_size=32)


@pytest.fixture
def ray_engine(ray_cfg: ComputeConfig) -> Iterator[ComputeConfig]:
    """``ray_cfg`` activated for the test (every ``CachedEncoder`` encodes its misses on Ray), then local again."""
    before = compute.active()
    compute.activate(ray_cfg)
    yield ray_cfg
    compute.activate(before)


@pytest.fixture(scope="session")
def encode_locally() -> Callable[[Sequence[str]], np.ndarray]:
    """The local engine's vectors for texts (tiny model, batch 32, no cache), whatever engine is active."""
    from embedbench.encode import load_encoder

    def encode(texts: Sequence[str]) -> np.ndarray:
        before = compute.active()
        compute.activate(ComputeConfig())
        try:
            return load_encoder("tiny", cache=False, show_progress=False, batch_size=32).encode(texts)
        finally:
            compute.activate(before)

    return encode
