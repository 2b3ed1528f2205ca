"""What every task shares: the ``Task`` protocol, encoding once, dataset hashes and result assembly."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import polars as pl
from pydantic import ValidationError

from embedbench.cache import unique_in_order
from embedbench.data.spec import SourceSpec, read_source, resolve_path, source_files
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.types import TaskResult
from embedbench.io import file_sha256, provenance, tree_sha256
from embedbench.paths import data_dir

PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"
"""Evaluation data shipped with embedbench (``evalsuite/data/``; its READMEs give sources and licences)."""


@runtime_checkable
class Task(Protocol):
    """An evaluation task: a frozen dataclass naming its data and options; computing only, no writing."""

    name: str
    task_type: str

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Score one model on this task."""
        ...


def require_encoder(model: object, task: str) -> Encoder:
    """``model`` if it is an embedding ``Encoder``; otherwise a clear error (e.g. BM25 on an STS task)."""
    if not isinstance(model, Encoder):
        raise EmbedbenchError(
            f"task {task!r} needs an embedding model (an Encoder with encode(texts)); "
            f"got {getattr(model, 'name', type(model).__name__)!r}, which only supports retrieval tasks"
        )
    return model


def encode_texts(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """Embed ``texts`` (float32, input order) encoding each distinct text once, whatever the encoder."""
    unique, inverse = unique_in_order(texts)
    emb = np.asarray(encoder.encode(unique), dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(unique):
        raise EmbedbenchError(
            f"encoder {encoder.name!r} returned shape {emb.shape} for {len(unique)} texts; expected ({len(unique)}, dim)"
        )
    return emb[inverse]


def dataset_hash(*paths: str | Path) -> str:
    """Content hash of the files (or folders) a task reads, in the order given."""
    h = hashlib.sha256()
    for p in map(Path, paths):
        if p.is_dir():
            h.update(tree_sha256(p).encode())
        elif p.is_file():
            h.update(file_sha256(p).encode())
        else:
            raise EmbedbenchError(
                f"{p}: not found; the task's data path must name an existing file or folder"
            )
    return h.hexdigest()[:16]


def dataset_label(path: str | Path, split: str | None = None) -> str:
    """Short dataset name: the path relative to the data folder, the shipped data or the working directory
    when inside one of them, plus the split."""
    p = Path(path).resolve()
    label = str(p)
    for root in (data_dir(), PACKAGE_DATA, Path.cwd()):
        try:
            label = str(p.relative_to(root.resolve()))
            break
        except ValueError:
            continue
    return f"{label}:{split}" if split else label


def task_config(task: object) -> dict[str, Any]:
    """The task's dataclass fields as JSON-ready values (paths become strings, sources their set keys)."""
    out = {}
    for f in dataclasses.fields(task):  # type: ignore[arg-type]
        v = getattr(task, f.name)
        if isinstance(v, SourceSpec):
            v = v.model_dump(mode="json", exclude_defaults=True)
        out[f.name] = str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
    return out


# ------------------------------------------------------------------------------- sources


def as_source(task: str, value: Any, key: str = "source") -> SourceSpec:
    """``value`` (a ``SourceSpec`` or the config table of one) as a ``SourceSpec``; a bad table raises naming
    ``task``, ``key`` and the offending source key (the same keys as prep's sources)."""
    if isinstance(value, SourceSpec):
        return value
    if not isinstance(value, dict):
        raise EmbedbenchError(
            f"task {task!r}: {key} must be a table such as {{ kind = \"table\", path = \"my.csv\", output = \"scored\" }}, "
            f"got {value!r}"
        )
    try:
        return SourceSpec.model_validate(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        got = err.get("input")
        found = f" (got {got!r})" if where and not isinstance(got, dict) else ""
        raise EmbedbenchError(
            f"task {task!r}: {key}{'.' + where if where else ''}: {err['msg']}{found}; "
            "`embedbench tasks` lists the source keys"
        ) from None


class SourceTask:
    """What the tasks that read one ``source`` share: the source coerced from its config table on creation,
    and the content hash of the files it reads. Mixed into their frozen dataclasses."""

    name: str
    source: SourceSpec

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", as_source(self.name, self.source))

    def dataset_hash(self) -> str:
        """Content hash of the files the source reads."""
        return source_hash(self.source)

    def check_positive(self, *keys: str) -> None:
        """Raise naming the first of the integer options ``keys`` that is below 1."""
        for key in keys:
            if getattr(self, key) < 1:
                raise EmbedbenchError(f"task {self.name!r}: {key} must be at least 1, got {getattr(self, key)}")


def with_output(spec: SourceSpec, output: str) -> SourceSpec:
    """``spec`` producing ``output`` (set when the source left it to its kind's default)."""
    if spec.output == output:
        return spec
    try:
        return SourceSpec.model_validate({**spec.model_dump(exclude_unset=True), "output": output})
    except ValidationError as exc:
        raise EmbedbenchError(
            f"source {spec.kind}:{spec.path}: {exc.errors()[0]['msg']}; this task needs the {output!r} shape"
        ) from None


def read_task_source(task: str, spec: SourceSpec, output: str) -> pl.DataFrame:
    """The rows of ``spec`` in shape ``output`` (with ``row``), through the one data layer (``read_source``)."""
    spec = with_output(spec, output)
    try:
        return read_source(spec)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise EmbedbenchError(f"task {task!r}: cannot read {spec.kind}:{spec.path}: {exc}") from None


def source_hash(*specs: SourceSpec | None) -> str:
    """Content hash of every file the sources read."""
    return dataset_hash(*(p for spec in specs if spec is not None for p in source_files(spec)))


def source_label(spec: SourceSpec) -> str:
    """Short dataset name of a source (see ``dataset_label``)."""
    return dataset_label(resolve_path(spec.path), spec.split)


def row_ids(df: pl.DataFrame) -> list[str]:
    """Per-item ids: the source's line or row number (``subset:row`` when the source pools sub-sets)."""
    if "subset" in df.columns:
        return df.select(pl.format("{}:{}", "subset", "row")).to_series().to_list()
    return df["row"].cast(pl.String).to_list()


def model_fingerprint(model: object) -> str:
    """The model's fingerprint attribute (empty when it has none)."""
    return str(getattr(model, "fingerprint", ""))


def build_result(
    task: Any,
    model: object,
    *,
    dataset: str,
    dataset_hash: str,
    main_metric: str,
    metrics: dict[str, float],
    per_item: dict[str, list[Any]],
    aggregations: dict[str, str],
    started: float,
    extra: dict[str, Any] | None = None,
) -> TaskResult:
    """Assemble a ``TaskResult`` with the task's config, timing and provenance."""
    prov = provenance()
    if extra:
        prov.update(extra)
    return TaskResult(
        task=task.name,
        task_type=task.task_type,
        model=str(getattr(model, "name", type(model).__name__)),
        model_fingerprint=model_fingerprint(model),
        dataset=dataset,
        dataset_hash=dataset_hash,
        main_metric=main_metric,
        metrics={k: float(v) for k, v in metrics.items()},
        per_item=per_item,
        aggregations=aggregations,
        config=task_config(task),
        seconds=round(time.perf_counter() - started, 3),
        provenance=prov,
    )


def check_limit(task: str, limit: int | None) -> None:
    """A task's ``limit`` (first N items, for quick runs) must be None or positive."""
    if limit is not None and limit < 1:
        raise EmbedbenchError(
            f"task {task!r}: limit must be a positive number of items or unset, got {limit}"
        )


def check_options(name: str, limit: int | None, fmt: str, formats: Collection[str], kind: str) -> None:
    """Validate a task's ``limit`` and its input format (``formats``: the allowed names)."""
    check_limit(name, limit)
    if fmt not in formats:
        raise EmbedbenchError(f"task {name!r}: unknown {kind} format {fmt!r}; use one of {list(formats)}")


def first_n(df: Any, limit: int | None) -> Any:
    """The first ``limit`` rows of a frame (all when ``limit`` is None)."""
    return df if limit is None else df.head(limit)


def check_finite(values: np.ndarray, what: str, where: str, rows: Sequence[int] | None = None) -> None:
    """Raise naming the first NaN/inf entry of ``values`` (e.g. a gold score)."""
    bad = np.flatnonzero(~np.isfinite(np.asarray(values, dtype=np.float64)))
    if bad.size:
        i = int(bad[0])
        place = f"line {rows[i]}" if rows is not None else f"item {i + 1}"
        raise EmbedbenchError(
            f"{where}, {place}: {what} is {values[i]!r}; expected a finite number ({bad.size} such entries); fix or drop them"
        )
