"""Evaluation tasks: the registry of built-in tasks, and ``get_task``.

Every task is a frozen dataclass with ``name``, ``task_type`` and ``evaluate(encoder) -> TaskResult``
(computing only; the results store writes). ``TASKS`` maps a task name to a factory, so paths are
resolved when the task is made: against the data folder (``$EMBEDBENCH_DATA`` or ``../shared/data``),
or, for ``scifact-mini``, the small SciFact slice shipped in ``evalsuite/data/``.
Names ``mteb-<Name>`` run through ``mteb.evaluate``: ``<Name>`` with a local-data class in
``mteb_tasks.LOCAL_TASKS`` (the one list of them) reads the data folder; any other mteb task name is
mteb's own task, which reads the hub (the online path).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.tasks.base import PACKAGE_DATA, Task
from embedbench.evalsuite.tasks.bm25 import BM25Retriever
from embedbench.evalsuite.tasks.mteb_run import MTEB_PREFIX, MtebTask
from embedbench.evalsuite.tasks.pairclass import PairClassificationTask
from embedbench.evalsuite.tasks.retrieval import RetrievalTask
from embedbench.evalsuite.tasks.sts import STSTask
from embedbench.evalsuite.tasks.triplet import TripletTask
from embedbench.paths import data_dir


def _sts_year(year: int) -> Callable[[], Task]:
    return lambda: STSTask(f"sts{year}", data_dir() / "sts12-16" / f"STS{year}", fmt="sts")


TASKS: dict[str, Callable[[], Task]] = {
    "scifact": lambda: RetrievalTask("scifact", data_dir() / "scifact", split="test"),
    "scifact-mini": lambda: RetrievalTask("scifact-mini", PACKAGE_DATA / "scifact-mini", split="test"),
    "stsb": lambda: STSTask("stsb", data_dir() / "stsbenchmark" / "sts-test.csv", fmt="stsb"),
    **{f"sts{y}": _sts_year(y) for y in range(12, 17)},
    "snli-triplets": lambda: TripletTask("snli-triplets", data_dir() / "snli", fmt="snli", split="test"),
    "mrpc": lambda: PairClassificationTask(
        "mrpc", data_dir() / "mrpc" / "msr_paraphrase_test.txt", fmt="mrpc"
    ),
}
"""Our own built-in tasks: name -> factory (the mteb ones are ``mteb-<Name>``, see ``local_mteb_tasks``)."""


def local_mteb_tasks() -> Mapping[str, Callable[..., Any]]:
    """mteb task name -> its local-data class (``mteb_tasks.LOCAL_TASKS``)."""
    from embedbench.evalsuite.tasks.mteb_tasks import LOCAL_TASKS  # imports mteb (seconds): only when asked

    return LOCAL_TASKS


def is_builtin(name: str) -> bool:
    """True for a name in ``TASKS`` or ``mteb-<Name>`` of a local mteb task (mteb is imported only for the latter)."""
    if name in TASKS:
        return True
    return name.startswith(MTEB_PREFIX) and name[len(MTEB_PREFIX) :] in local_mteb_tasks()


def task_names() -> list[str]:
    """Every built-in task name: ours, then ``mteb-<Name>`` of each local mteb task."""
    return [*TASKS, *(MTEB_PREFIX + n for n in local_mteb_tasks())]


def get_task(name: str, **options: Any) -> Task:
    """A task by registry name, with fields overridden by ``options`` (e.g. ``path=…``, ``split="train"``).

    ``mteb-<Name>`` without a local-data class is mteb's own task ``<Name>`` (hub data, online only).
    """
    if name in TASKS:
        task = TASKS[name]()
    elif name.startswith(MTEB_PREFIX) and len(name) > len(MTEB_PREFIX):
        mteb_name = name[len(MTEB_PREFIX) :]
        task = MtebTask(name, mteb_name, online=mteb_name not in local_mteb_tasks())
    else:
        raise EmbedbenchError(
            f"unknown task {name!r}; known tasks: {', '.join(task_names())} (or mteb-<any mteb task name>)"
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


__all__ = [
    "PACKAGE_DATA",
    "TASKS",
    "Task",
    "get_task",
    "is_builtin",
    "local_mteb_tasks",
    "task_names",
    "BM25Retriever",
    "RetrievalTask",
    "STSTask",
    "TripletTask",
    "PairClassificationTask",
    "MtebTask",
]
