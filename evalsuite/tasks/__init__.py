"""Evaluation tasks: the task kinds, the registry of built-in tasks, and ``get_task``.

Every task is a frozen dataclass with ``name``, ``task_type``, ``texts()`` (the texts it encodes, for
contamination checks) and ``evaluate(encoder) -> TaskResult`` (computing only; the results store
writes). Each reads its data through one ``source`` (the same keys as prep's sources,
``embedbench.data.spec.SourceSpec``), so any file prep reads can be evaluated.

``KINDS`` maps a task kind (``sts``, ``retrieval``, ``classification``…) to its class: a config entry
``{ name = "my-sts", task = "sts", source = { ... } }`` builds one. ``TASKS`` maps a built-in task name
(``scifact``, ``stsb``…) to a factory, resolved against the data folder (``$EMBEDBENCH_DATA`` or
``../shared/data``) or, for ``scifact-mini``, the small SciFact slice shipped in ``evalsuite/data/``;
options given with a built-in name override its fields, and source keys (``path``, ``split``,
``limit``…) override its source's. Names ``mteb-<Name>`` run through ``mteb.evaluate``: ``<Name>`` with
a local-data class in ``mteb_tasks.LOCAL_TASKS`` (the one list of them) reads the data folder; any
other mteb task name is mteb's own task, which reads the hub (the online path).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from embedbench.data.spec import SourceSpec
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.tasks.base import PACKAGE_DATA, Task, dataset_label
from embedbench.evalsuite.tasks.bm25 import BM25Retriever
from embedbench.evalsuite.tasks.classification import ClassificationTask
from embedbench.evalsuite.tasks.clustering import ClusteringTask
from embedbench.evalsuite.tasks.mteb_run import MTEB_PREFIX, MtebTask
from embedbench.evalsuite.tasks.pairclass import PairClassificationTask
from embedbench.evalsuite.tasks.paraphrase import ParaphraseMiningTask
from embedbench.evalsuite.tasks.reranking import RerankingTask
from embedbench.evalsuite.tasks.retrieval import RetrievalTask
from embedbench.evalsuite.tasks.sts import STSTask
from embedbench.evalsuite.tasks.triplet import TripletTask
from embedbench.paths import data_dir

KINDS: dict[str, type] = {
    "retrieval": RetrievalTask,
    "sts": STSTask,
    "pair-classification": PairClassificationTask,
    "triplet": TripletTask,
    "classification": ClassificationTask,
    "clustering": ClusteringTask,
    "reranking": RerankingTask,
    "paraphrase-mining": ParaphraseMiningTask,
}
"""Task kind -> its class (``task = "<kind>"`` in a config entry, with a ``source``)."""

SOURCE_KEYS = frozenset(SourceSpec.model_fields)


def _source(kind: str, path: str, **keys: Any) -> SourceSpec:
    return SourceSpec(kind=kind, path=str(data_dir() / path), **keys)  # type: ignore[arg-type]


def _sts_year(year: int) -> Callable[[], Task]:
    return lambda: STSTask(f"sts{year}", _source("sts", f"sts12-16/STS{year}"))


TASKS: dict[str, Callable[[], Task]] = {
    "scifact": lambda: RetrievalTask("scifact", _source("beir", "scifact", split="test")),
    "scifact-mini": lambda: RetrievalTask(
        "scifact-mini", SourceSpec(kind="beir", path=str(PACKAGE_DATA / "scifact-mini"), split="test")
    ),
    "stsb": lambda: STSTask("stsb", _source("stsb", "stsbenchmark", split="test")),
    **{f"sts{y}": _sts_year(y) for y in range(12, 17)},
    "snli-triplets": lambda: TripletTask("snli-triplets", _source("snli", "snli", split="test", output="triplets")),
    "mrpc": lambda: PairClassificationTask("mrpc", _source("mrpc", "mrpc", split="test", output="pair-class")),
    "banking77": lambda: ClassificationTask(
        "banking77", _source("labelled", "banking77", labels="banking77/categories.json")
    ),
    "banking77-clustering": lambda: ClusteringTask(
        "banking77-clustering", _source("labelled", "banking77", split="test"), subset_size=2048
    ),
}
"""Our own built-in tasks: name -> factory (the mteb ones are ``mteb-<Name>``, see ``local_mteb_tasks``)."""


@dataclass(frozen=True)
class Option:
    """One option of a task kind or one source key: its name, type, default and what it does."""

    name: str
    type: str
    default: str
    help: str


def _arg_docs(cls: type) -> dict[str, str]:
    """``name: text`` lines of a class docstring's ``Args:`` section (continuation lines joined)."""
    docs: dict[str, str] = {}
    current = None
    inside = False
    for line in (inspect.getdoc(cls) or "").splitlines():
        if line.strip() == "Args:":
            inside = True
            continue
        if inside:
            match = re.match(r"^\s{4}(\w+):\s*(.*)$", line)
            if match:
                current = match.group(1)
                docs[current] = match.group(2)
            elif line.startswith("        ") and current:
                docs[current] += " " + line.strip()
            elif line.strip():
                inside = False
    return docs


def _default(value: Any) -> str:
    if value is dataclasses.MISSING:
        return "(required)"
    return repr(list(value) if isinstance(value, tuple) else value)


def kind_options(kind: str) -> list[Option]:
    """The options of a task kind (its dataclass fields but ``task_type``), documented from its docstring."""
    cls = KINDS[kind]
    docs = _arg_docs(cls)
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name == "task_type":
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory  # type: ignore[misc]
        type_name = str(hints.get(f.name, f.type)).replace("typing.", "").replace("embedbench.data.spec.", "")
        out.append(Option(f.name, type_name.replace("<class '", "").replace("'>", ""), _default(default), docs.get(f.name, "")))
    return out


def source_keys() -> list[Option]:
    """The keys of a ``source`` table (``SourceSpec``'s fields), with their documentation."""
    out = []
    for name, field in SourceSpec.model_fields.items():
        default = "(required)" if field.is_required() else repr(field.default)
        type_name = str(field.annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")
        out.append(Option(name, type_name, default, field.description or ""))
    return out


def builtin_summary(name: str) -> str:
    """One line for a built-in task: its kind and source."""
    task = TASKS[name]()
    kind = next(k for k, cls in KINDS.items() if isinstance(task, cls))
    spec = getattr(task, "source", None)
    if spec is None:
        return kind
    keys = spec.model_dump(exclude_defaults=True, exclude={"path"})
    return f"{kind}: " + ", ".join(f"{k}={v!r}" for k, v in {"path": dataset_label(spec.path), **keys}.items())


def local_mteb_tasks() -> Mapping[str, Callable[..., Any]]:
    """mteb task name -> its local-data class (``mteb_tasks.LOCAL_TASKS``)."""
    from embedbench.evalsuite.tasks.mteb_tasks import LOCAL_TASKS  # imports mteb (seconds): only when asked

    return LOCAL_TASKS


def is_builtin(name: str) -> bool:
    """True for a task kind, a name in ``TASKS`` or ``mteb-<Name>`` of a local mteb task (mteb is imported only for the latter)."""
    if name in TASKS or name in KINDS:
        return True
    return name.startswith(MTEB_PREFIX) and name[len(MTEB_PREFIX) :] in local_mteb_tasks()


def task_names() -> list[str]:
    """Every built-in task name: ours, then ``mteb-<Name>`` of each local mteb task."""
    return [*TASKS, *(MTEB_PREFIX + n for n in local_mteb_tasks())]


def _with_source_keys(task: Any, name: str, options: dict[str, Any]) -> Any:
    """Move options that are source keys (``path``, ``split``, ``limit``…) into the task's ``source``."""
    fields = {f.name for f in dataclasses.fields(task)}
    keys = {k: options.pop(k) for k in list(options) if k in SOURCE_KEYS and k not in fields}
    if not keys:
        return task
    source = options.get("source", task.source if "source" in fields else None)
    if source is None:
        raise EmbedbenchError(f"task {name!r}: source key(s) {sorted(keys)} given, but the task has no `source`")
    base = source.model_dump(exclude_unset=True) if isinstance(source, SourceSpec) else dict(source)
    options["source"] = {**base, **keys}
    return task


def get_task(name: str, /, **options: Any) -> Task:
    """A task by kind or registry name, with fields overridden by ``options`` (e.g. ``source={...}``,
    ``path=…``, ``split="train"``; source keys go to the task's source).

    ``mteb-<Name>`` without a local-data class is mteb's own task ``<Name>`` (hub data, online only).
    """
    if name in KINDS:
        if "source" not in options and not (name == "retrieval" and "queries" in options):
            raise EmbedbenchError(
                f"task kind {name!r} needs a `source` (the same keys as prep's sources); `embedbench tasks` shows them"
            )
        cls = KINDS[name]
        fields = {f.name for f in dataclasses.fields(cls)}
        keys = {k: options.pop(k) for k in list(options) if k in SOURCE_KEYS and k not in fields}
        if keys:
            options["source"] = {**dict(options.get("source") or {}), **keys}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise EmbedbenchError(
                f"task kind {name!r} has no option(s) {unknown}; its options: {sorted(fields - {'task_type'})}"
            )
        return cls(**{"name": name, **options})  # type: ignore[no-any-return]
    if name in TASKS:
        task = TASKS[name]()
    elif name.startswith(MTEB_PREFIX) and len(name) > len(MTEB_PREFIX):
        mteb_name = name[len(MTEB_PREFIX) :]
        task = MtebTask(name, mteb_name, online=mteb_name not in local_mteb_tasks())
    else:
        raise EmbedbenchError(
            f"unknown task {name!r}; task kinds: {', '.join(KINDS)}; built-in tasks: {', '.join(task_names())} "
            "(or mteb-<any mteb task name>)"
        )
    if options:
        options = dict(options)
        if not isinstance(task, MtebTask):
            task = _with_source_keys(task, name, options)
        fields = {f.name for f in dataclasses.fields(task)}  # type: ignore[arg-type]
        unknown = sorted(set(options) - fields)
        if unknown:
            raise EmbedbenchError(
                f"task {name!r} has no option(s) {unknown}; its options: {sorted(fields - {'task_type'})}"
            )
        task = dataclasses.replace(task, **options)  # type: ignore[type-var]
    return task


__all__ = [
    "KINDS",
    "Option",
    "builtin_summary",
    "kind_options",
    "source_keys",
    "PACKAGE_DATA",
    "TASKS",
    "Task",
    "get_task",
    "is_builtin",
    "local_mteb_tasks",
    "task_names",
    "BM25Retriever",
    "ClassificationTask",
    "ClusteringTask",
    "ParaphraseMiningTask",
    "RerankingTask",
    "RetrievalTask",
    "STSTask",
    "TripletTask",
    "PairClassificationTask",
    "MtebTask",
]
