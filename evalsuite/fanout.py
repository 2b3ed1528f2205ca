"""Evaluation fan-out on Ray: each (model, task) pair that must run is one Ray task; the driver stores the results.

:func:`embedbench.evalsuite.runner.run_eval` hands its pairs here when ``[compute] engine = "ray"``
(:mod:`embedbench.compute`). Each Ray task loads its pair's model through the shared embedding cache
(every worker reads and writes the same SQLite file, so a text encoded by one task is a cache hit for
the next) and evaluates it with :func:`~embedbench.evalsuite.runner.evaluate_pair`, writing nothing;
the :class:`~embedbench.evalsuite.types.TaskResult` comes back to the driver, which saves it through
the one :class:`~embedbench.evalsuite.results.ResultsStore` (:func:`~embedbench.evalsuite.runner.save_pair`).

The workers see the driver's ``EMBEDBENCH_*`` and Hugging Face offline settings (passed with each task),
so on a cluster the cache and model folders must be on a file system every node shares.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from embedbench import compute
from embedbench.compute import ComputeConfig
from embedbench.errors import EmbedbenchError

if TYPE_CHECKING:
    from embedbench.evalsuite.runner import Pair
    from embedbench.evalsuite.types import TaskResult

TASK_RETRIES = 3
"""Times Ray re-runs a pair whose worker died (a pair that raises is not retried: its error is the answer)."""

def driver_env() -> dict[str, str]:
    """The driver's cache, model and offline settings now (the variables the encode engine forwards), so each
    pair's worker uses the same folders even when they changed after the cluster started."""
    from embedbench.ray_engine import _FORWARDED_ENV

    return {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_ENV)}


def evaluate_in_worker(pair: Pair, env: dict[str, str], threads: int) -> tuple[TaskResult, float]:
    """Run one pair in a Ray worker (the driver's cache settings, ``threads`` CPU threads, the local engine);
    its result and seconds."""
    os.environ.update(env)
    compute.activate(ComputeConfig())  # the pair encodes here, in its own worker
    from embedbench.evalsuite.runner import evaluate_pair

    if not pair.model.lexical:
        import torch

        pair.model.get()
        torch.set_num_threads(max(1, threads))
    return evaluate_pair(pair)


def submit_pairs(pairs: list[Pair], cfg: ComputeConfig) -> list[Any]:
    """One Ray task per pair (``cfg.cpus_per_actor`` CPUs, ``cfg.gpus_per_actor`` GPUs each); their object refs."""
    import ray

    from embedbench.ray_engine import ensure_ray

    ensure_ray(cfg)
    remote = ray.remote(evaluate_in_worker).options(
        num_cpus=cfg.cpus_per_actor, num_gpus=cfg.gpus_per_actor, max_retries=TASK_RETRIES
    )
    env, threads = driver_env(), int(max(1, cfg.cpus_per_actor))
    return [remote.remote(unloaded(pair), env, threads) for pair in pairs]


def unloaded(pair: Pair) -> Pair:
    """``pair`` with its model not loaded (the driver may hold it, e.g. from planning): the worker loads its own."""
    if pair.model.lexical or pair.model.loaded is None:
        return pair
    return dataclasses.replace(pair, model=dataclasses.replace(pair.model, loaded=None))


def run_pairs(pairs: list[Pair], cfg: ComputeConfig | None = None) -> Iterator[tuple[Pair, TaskResult, float]]:
    """Evaluate ``pairs`` as parallel Ray tasks; yield ``(pair, result, seconds)`` in the order of ``pairs``.

    The same contract as :func:`embedbench.evalsuite.runner.evaluate_local`, so the runner saves each
    result as it arrives. A pair that fails raises its own error here (an ``EmbedbenchError`` keeps its
    one-line message).
    """
    if not pairs:
        return
    import ray

    refs = submit_pairs(pairs, cfg or compute.active())
    try:
        for pair, ref in zip(pairs, refs, strict=True):
            try:
                result, seconds = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, EmbedbenchError):
                    raise EmbedbenchError(str(cause)) from None
                raise
            yield pair, result, seconds
    finally:
        for ref in refs:
            ray.cancel(ref)



compute.register("ray", "evaluate_pairs", run_pairs)
