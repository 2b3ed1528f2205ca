"""One local Ray cluster for the ray-scale tests (2 CPUs), and the ``ray`` engine switched on around a test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from embedbench import compute
from embedbench.compute import ComputeConfig

RAY = ComputeConfig(engine="ray", actors=2, cpus_per_actor=1, batch_size=32)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A local cluster for the session (reused if another fixture started one first), shut down at the end."""
    import ray
    import ray.data

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    yield
    if started:
        ray.shutdown()


@pytest.fixture
def ray_engine(ray_cluster: None) -> Iterator[ComputeConfig]:
    """The ``ray`` engine active for one test; the previous setting restored after it."""
    before = compute.active()
    compute.activate(RAY)
    yield RAY
    compute.activate(before)
