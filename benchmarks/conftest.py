"""pytest-benchmark setup for ``benchmarks/``: sizes, shared models, and the ratio each benchmark reports.

Every benchmark times our path with pytest-benchmark (``benchmark.pedantic``: fixed rounds, a setup per
round that is not timed) and the obvious alternative in the same run with the same clock, and stores
``alternative / ours`` in ``benchmark.extra_info`` (kept by ``--benchmark-save``/``--benchmark-json``).
At the end of the session a table of all ratios is printed (pytest-benchmark's own table shows times).

``EMBEDBENCH_BENCH_SIZE=tiny`` shrinks every input and uses the "tiny" model, so the whole module runs
in the default test run (``tests/test_benchmarks_run.py``, with ``--benchmark-disable``) and cannot rot;
the default, ``full``, uses all-MiniLM-L6-v2 on real-sized slices (``make bench``): 3 rounds each, 1 for
the heavy ones (mining on all 919 SciFact train pairs and the full corpus; the four-task evaluation).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the bench_*.py scripts' helpers import as top-level modules

from bench_timing import timed  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SIZES: dict[str, dict[str, Any]] = {
    "full": {"model": "all-MiniLM-L6-v2", "rounds": 3, "heavy_rounds": 1, "cache_texts": 2758, "mining_pairs": 919, "mining_docs": 0, "mining_shortfall": "drop",
             "eval_docs": 1000, "eval_pairs": 0, "minhash_docs": 20_000, "dedupe_rows": 1_000_000, "backend_texts": 512},
    "tiny": {"model": "tiny", "rounds": 1, "heavy_rounds": 1, "cache_texts": 64, "mining_pairs": 12, "mining_docs": 150, "mining_shortfall": "keep",
             "eval_docs": 60, "eval_pairs": 40, "minhash_docs": 300, "dedupe_rows": 2000, "backend_texts": 16},
}


@dataclass(frozen=True)
class Ratio:
    """One reported ratio: which benchmark, what it compares, its value and the target (if the issue set one)."""

    test: str
    name: str
    value: float
    target: float | None
    meaning: str

    @property
    def met(self) -> str:
        return "-" if self.target is None else ("yes" if self.value >= self.target else "NO")


RATIOS: list[Ratio] = []


@pytest.fixture(scope="session")
def size() -> dict[str, Any]:
    """The sizes of this run (``EMBEDBENCH_BENCH_SIZE``: ``full`` or ``tiny``)."""
    name = os.environ.get("EMBEDBENCH_BENCH_SIZE", "full")
    if name not in SIZES:
        raise pytest.UsageError(f"EMBEDBENCH_BENCH_SIZE={name!r}: expected one of {', '.join(SIZES)}")
    return {"name": name, **SIZES[name]}


@dataclass
class Bench:
    """One benchmark's comparison: our path through pytest-benchmark, the alternative on the same clock, the ratios."""

    benchmark: Any
    rounds: int

    def ours(self, fn: Callable[..., Any], *, setup: Callable[[], Any] | None = None) -> tuple[float, Any]:
        """Time ``fn`` with pytest-benchmark (pedantic mode, ``rounds`` rounds); median seconds and the result."""
        times: list[float] = []
        results: list[Any] = []

        def target(*args: Any) -> Any:
            t0 = time.perf_counter()
            results.append(fn(*args))
            times.append(time.perf_counter() - t0)
            return results[-1]

        def pedantic_setup() -> tuple[tuple, dict]:
            return tuple(setup() if setup else ()), {}

        self.benchmark.pedantic(target, setup=pedantic_setup if setup else None, rounds=self.rounds, iterations=1)
        return statistics.median(times), results[-1]

    def alternative(self, fn: Callable[..., Any], *, setup: Callable[[], Any] | None = None) -> tuple[float, Any]:
        """Time the alternative the same way (``rounds`` rounds, median), outside pytest-benchmark's table."""
        return timed(fn, setup=setup, rounds=self.rounds)

    def ratio(self, name: str, value: float, meaning: str, target: float | None = None) -> float:
        """Store ``value`` in ``benchmark.extra_info[name]`` (with its target) and in the session's ratio table."""
        self.benchmark.extra_info[name] = round(value, 4)
        if target is not None:
            self.benchmark.extra_info[f"{name}_target"] = target
        RATIOS.append(Ratio(self.benchmark.name, name, value, target, meaning))
        return value

    def info(self, **values: Any) -> None:
        """Other figures worth keeping beside the timings (sizes, recall, agreement)."""
        self.benchmark.extra_info.update(values)


@pytest.fixture
def bench(benchmark: Any, size: dict[str, Any]) -> Bench:
    """The ``Bench`` of this benchmark (rounds from the size)."""
    benchmark.extra_info["size"] = size["name"]
    return Bench(benchmark, size["rounds"])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print every ratio the benchmarks reported (alternative time / our time; above 1 = we are faster)."""
    if not RATIOS:
        return
    tr = terminalreporter
    tr.section("embedbench ratios (alternative / ours; > 1 means ours is faster)")
    width = max(len(r.test) for r in RATIOS)
    tr.write_line(f"{'benchmark':<{width}}  {'ratio':<24} {'value':>9}  {'target':>6}  met  what")
    for r in RATIOS:
        target = "-" if r.target is None else f">={r.target:g}"
        tr.write_line(f"{r.test:<{width}}  {r.name:<24} {r.value:9.2f}  {target:>6}  {r.met:<3}  {r.meaning}")
