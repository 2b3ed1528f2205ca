"""The one timing helper of the pytest-benchmark benchmarks (``conftest.py``, ``test_benchmarks.py``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[..., Any], *, setup: Callable[[], Any] | None = None, rounds: int = 1) -> tuple[float, Any]:
    """Median seconds of ``fn`` over ``rounds`` (``setup()`` before each round, untimed; its tuple is the arguments)."""
    times, out = [], None
    for _ in range(rounds):
        args = setup() if setup else ()
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out
