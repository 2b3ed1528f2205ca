"""Evaluation tasks: the registry of built-in tasks over the data folder, and ``get_task``.

Every task is a frozen dataclass with ``name``, ``task_type`` and ``evaluate(encoder) -> TaskResult``
(computing only; the results store writes). ``TASKS`` maps a task name to a factory, so paths are
resolved against the data folder (``$EMBEDBENCH_DATA`` or ``../shared/data``) when the task is made.
Names starting with ``mteb-`` run through ``mteb.evaluate``; ``mteb-<AnyTask>`` without a local class
is mteb's own task, which reads the hub (the online path).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.tasks.base import Task
from embedbench.evalsuite.tasks.bm25 import BM25_NAME, BM25Retriever
from embedbench.evalsuite.tasks.mteb_run import MTEB_PREFIX, MtebTask
from embedbench.evalsuite.tasks.pairclass import PairClassificationTask
from embedbench.evalsuite.tasks.retrieval import RetrievalTask
from embedbench.evalsuite.tasks.sts import STSTask
from embedbench.evalsuite.tasks.triplet import TripletTask
from embedbench.paths import data_dir

MTEB_LOCAL = (
    "STSBenchmark",
    "STS12",
    "STS13",
    "STS14",
    "STS15",
    "STS16",
    "SciFact",
    "Banking77Classification",
    "Banking77Clustering",
)


def _sts_year(year: int) -> Callable[[], Task]:
    return lambda: STSTask(f"sts{year}", data_dir() / "sts12-16" / f"STS{year}", fmt="sts")


def _mteb(name: str) -> Callable[[], Task]:
    return lambda: MtebTask(MTEB_PREFIX + name, name)


TASKS: dict[str, Callable[[], Task]] = {
    "scifact": lambda: RetrievalTask("scifact", data_dir() / "scifact", split="test"),
    "stsb": lambda: STSTask("stsb", data_dir() / "stsbenchmark" / "sts-test.csv", fmt="stsb"),
    **{f"sts{y}": _sts_year(y) for y in range(12, 17)},
    "snli-triplets": lambda: TripletTask("snli-triplets", data_dir() / "snli", fmt="snli", split="test"),
    "mrpc": lambda: PairClassificationTask(
        "mrpc", data_dir() / "mrpc" / "msr_paraphrase_test.txt", fmt="mrpc"
    ),
    **{MTEB_PREFIX + n: _mteb(n) for n in MTEB_LOCAL},
}
"""Built-in task name -> factory."""


def get_task(name: str, **options: Any) -> Task:
    """A task by registry name, with fields overridden by ``options`` (e.g. ``path=…``, ``split="train"``).

    ``mteb-<Name>`` outside the registry is mteb's own task ``<Name>`` (hub data, online only).
    """
    if name in TASKS:
        task = TASKS[name]()
    elif name.startswith(MTEB_PREFIX) and len(name) > len(MTEB_PREFIX):
        task = MtebTask(name, name[len(MTEB_PREFIX) :], online=True)
    else:
        raise EmbedbenchError(
            f"unknown task {name!r}; known tasks: {', '.join(TASKS)} (or mteb-<any mteb task name>)"
        )
    if options:
        fields = {f.name for f in dataclasses.fields(task)}  # type: ignore[arg-type]
        unknown = sorted(set(options) - fields)
        if unknown:
            raise EmbedbenchError(
                f"task {name!r} has no option(s) {unknown}; its options: {sorted(fields - {'task_type'})}"
            )
        task = dataclasses.replace(task, **options)  # type: ignore[type-var]
    return task


def load_model(name: str, **encoder_options: Any) -> Any:
    """What tasks evaluate: ``"bm25"`` is the BM25 baseline (retrieval only), any other name an encoder
    from ``embedbench.encode.load_encoder`` (registry name or model folder) behind the shared cache."""
    if name == BM25_NAME:
        return BM25Retriever()
    from embedbench.encode import load_encoder

    return load_encoder(name, **encoder_options)


def supports(task: Task, model: object) -> bool:
    """Whether ``task`` can evaluate ``model`` (lexical retrievers only fit retrieval tasks)."""
    from embedbench.encode import Encoder

    return isinstance(model, Encoder) or task.task_type == "retrieval"


__all__ = [
    "TASKS",
    "Task",
    "get_task",
    "load_model",
    "supports",
    "BM25Retriever",
    "RetrievalTask",
    "STSTask",
    "TripletTask",
    "PairClassificationTask",
    "MtebTask",
]
