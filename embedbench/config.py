"""The experiment file (``bench.toml``): read it once, wire its sections together, validate each one.

Each pipeline package owns the schema of its own section (``prep.config``, ``train.config``,
``evalsuite.config``), every schema built on :class:`StrictModel`. This module cannot import them (the
core depends on no pipeline), so :class:`Experiment` holds the sections as tables and does what only
the whole file can: ``extends`` profiles, the top-level keys, and the wiring between steps:

* ``[train] prepared_dir`` defaults to ``[prep] output_dir`` (train reads what prep wrote);
* ``"@train"`` in ``[eval] models`` names the models ``[train]`` writes (also as ``"@train@onnx-int8"``):
  ``<output_dir>/<run>`` for one ``base_model``, one folder per base for ``base_models``
  (:func:`train_runs`), only the runs this machine can train (a base with ``requires = "gpu"`` needs a
  GPU); in ``[eval.check] candidate`` it is the first of them, and ``candidate`` defaults to it when the
  file has a ``[train]`` section.

Each section is then validated by its owner's ``load_*_config``, errors naming the file, the key and
the allowed values.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from embedbench.data.common import decode
from embedbench.errors import EmbedbenchError

M = TypeVar("M", bound=BaseModel)

DEFAULT_CONFIG = Path("bench.toml")

PREPARED_DIR = "data/prepared"
"""Default ``[prep] output_dir``, and so ``[train] prepared_dir``."""
MODELS_DIR = "models"
"""Default ``[train] output_dir``."""
RUN = "finetuned"
"""Default ``[train] run``: the trained model is ``models/finetuned``."""
RUN_PATTERN = r"^[A-Za-z0-9_.-]+$"
"""What a run name may hold: it names a folder and the model's results."""
TRAINED = "@train"
"""In ``[eval] models``: every model ``[train]`` writes on this machine; in ``[eval.check] candidate``: the first."""
SECTIONS = ("prep", "train", "eval", "compute")


class StrictModel(BaseModel):
    """Base of every config section: frozen, and an unknown key is an error that lists the allowed keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.model_config.get("extra") == "forbid":
            allowed = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
            unknown = sorted(set(data) - allowed)
            if unknown:
                raise PydanticCustomError(
                    UNKNOWN_KEYS,
                    "unknown key(s) {unknown}; allowed keys: {allowed}",
                    {"unknown": unknown, "allowed": sorted(cls.model_fields)},
                )
        return data


UNKNOWN_KEYS = "unknown_keys"
"""Error type of :class:`StrictModel`'s unknown-key check; :func:`error_lines` reports each key at its own place."""


def error_lines(
    exc: ValidationError, *, prefix: tuple[str, ...], name: Callable[[tuple[Any, ...]], str] | None = None
) -> list[str]:
    """One line per validation error: the full dotted key (``prep.sets.s.negatives.num_negatives``), the
    problem and the value found. An unknown key is named itself, with the keys allowed beside it.

    ``name`` turns a location into what the user wrote (default: ``prefix`` and the location, dotted).
    """

    def key(loc: tuple[Any, ...]) -> str:
        return name(loc) if name is not None else ".".join(str(p) for p in (*prefix, *loc))

    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if err["type"] == UNKNOWN_KEYS:
            ctx = err.get("ctx") or {}
            given = err.get("input") if isinstance(err.get("input"), dict) else {}
            for unknown in ctx.get("unknown", []):
                lines.append(
                    f"  {key((*loc, unknown))}: unknown key (got {given.get(unknown)!r}); "
                    f"allowed keys at {key(loc) if loc or prefix else 'the top'}: {ctx.get('allowed')}"
                )
            continue
        message = err["msg"].removeprefix("Value error, ")
        given = err.get("input")  # a whole table (a check across its keys) is not repeated back
        lines.append(f"  {key(loc)}: {message}" + ("" if isinstance(given, dict) else f" (got {given!r})"))
    return lines


def load_toml(path: str | Path = DEFAULT_CONFIG, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Parse an experiment file; a missing file or a syntax error raises ``EmbedbenchError`` naming it.

    A file may start with ``extends = "other.toml"`` (relative to itself): the other file is loaded
    first and this one's tables are merged over it key by key, so a profile (quick, full, ci) states
    only what it changes. Lists and scalars replace; tables merge.
    """
    path = Path(path)
    if path.is_dir():
        raise EmbedbenchError(f"config file {path} is a folder, expected a TOML file; pass --config PATH/bench.toml")
    if not path.is_file():
        raise EmbedbenchError(f"config file {path} not found; pass --config PATH or create bench.toml")
    if path.resolve() in _seen:
        raise EmbedbenchError(f"{path}: 'extends' loops back to itself ({' -> '.join(map(str, _seen))})")
    try:
        # the one decoder with located errors (line and byte of a non-UTF-8 byte); an empty file is an empty config
        text = decode(path, what="a TOML experiment file") if path.read_bytes().strip() else ""
        data = tomllib.loads(text)
    except OSError as exc:
        raise EmbedbenchError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise EmbedbenchError(f"{path}: invalid TOML: {exc}") from exc
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise EmbedbenchError(f"{path}: 'extends' must be a file name string, got {parent!r}")
    base = load_toml(path.parent / parent, (*_seen, path.resolve()))
    return merge_tables(base, data)


def merge_tables(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base``: nested tables merge, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_tables(out[key], value)
        else:
            out[key] = value
    return out


def validate_section(model: type[M], data: Any, *, section: str, source: str | Path = DEFAULT_CONFIG) -> M:
    """Validate ``data`` against ``model``; errors name ``source``, the dotted key and what was expected."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        lines = error_lines(exc, prefix=(section,))
        raise EmbedbenchError(f"{source}: invalid [{section}] section:\n" + "\n".join(lines)) from None


class Experiment(StrictModel):
    """One experiment file, read once: its sections as tables, with the steps wired together.

    ``Experiment.load(path)`` is the only reader of the file; ``section(name, model)`` validates one
    section with its owner's schema.
    """

    source: Path
    prep: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    eval: dict[str, Any] | None = None
    compute: dict[str, Any] | None = None

    @classmethod
    def load(cls, path: str | Path = DEFAULT_CONFIG) -> Experiment:
        """Read ``path`` (with its ``extends`` chain) and wire its sections; unknown top-level keys are errors."""
        data = load_toml(path)
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            raise EmbedbenchError(
                f"{path}: unknown top-level key(s) {unknown}; allowed: {list(SECTIONS)} and 'extends'"
            )
        for name in SECTIONS:
            if name in data and not isinstance(data[name], dict):
                raise EmbedbenchError(f"{path}: {name!r} must be a table ([{name}]), got {data[name]!r}")
        return cls(source=Path(path), **wire(data, source=path))

    @property
    def folder(self) -> Path:
        """The folder relative paths in the file are resolved against."""
        return self.source.resolve().parent

    def section(self, name: str, model: type[M]) -> M:
        """Section ``name`` validated with ``model`` (an absent section gets the model's defaults)."""
        return validate_section(model, getattr(self, name), section=name, source=self.source)


class BaseEntry(StrictModel):
    """One entry of ``[train] base_models`` written as a table: the base, what it needs, its run name."""

    model: str = Field(min_length=1)
    """The base model: a registry name, a local folder or a hub id."""
    requires: Literal["gpu"] | None = None
    """``"gpu"``: train (and evaluate) this base only on a machine with a CUDA GPU; skipped elsewhere."""
    run: str | None = Field(default=None, pattern=RUN_PATTERN)
    """Its run (and folder) name; default ``<[train] run>-<base name>``."""


def _as_entries(value: Any) -> Any:
    """``base_models`` entries as tables: a bare name ``"x"`` is ``{ model = "x" }``."""
    if not isinstance(value, list):
        return value
    for i, v in enumerate(value):
        if not isinstance(v, str | dict | BaseEntry):
            raise ValueError(
                f'entry {i} is {v!r}; expected a model name or a table {{ model = "...", requires = "gpu", run = "..." }}'
            )
    return [{"model": v} if isinstance(v, str) else v for v in value]


BaseModels = Annotated[list[BaseEntry] | None, BeforeValidator(_as_entries), Field(min_length=1)]
"""``[train] base_models``: each entry a model name or a :class:`BaseEntry` table."""


class _Bases(StrictModel):
    """The keys of ``[train]`` that decide its runs (the rest of the section is ``train.config``'s)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run: str = Field(default=RUN, pattern=RUN_PATTERN)
    base_model: str | None = None
    base_models: BaseModels = None


@dataclass(frozen=True)
class TrainRun:
    """One fine-tuning run of ``[train]``: its name (the folder under ``output_dir``), base model and need."""

    run: str
    base_model: str | None
    """As written in the file (None: ``[train]``'s default base model)."""
    requires: str | None = None

    def available(self) -> bool:
        """True when this machine meets the run's requirement (a GPU for ``requires = "gpu"``)."""
        return self.requires is None or gpu_available()


@functools.cache
def gpu_available() -> bool:
    """True when torch sees a CUDA GPU; torch is imported only when a run requires one."""
    import torch  # expensive; only asked for runs with ``requires = "gpu"``

    return bool(torch.cuda.is_available())


def base_slug(name: str) -> str:
    """The part of a base model's name that a run is named after: the last path part, safe for a folder.

    ``all-MiniLM-L6-v2`` stays as it is; ``org/model`` and ``../bases/my-model/`` give ``model`` and
    ``my-model``.
    """
    last = name.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", last).strip("-") or "base"


def train_runs(train: dict[str, Any], *, source: str | Path = DEFAULT_CONFIG) -> list[TrainRun]:
    """The runs a ``[train]`` table asks for, in order (the one place that names them).

    ``base_model`` (or neither key): one run named ``run``. ``base_models``: one run per entry, named
    ``<run>-<base name>`` unless the entry gives ``run``. Raises ``EmbedbenchError`` for both keys at once,
    a malformed entry, or two runs with one name.
    """
    bases = validate_section(_Bases, train, section="train", source=source)
    if bases.base_models is None:
        return [TrainRun(bases.run, bases.base_model)]
    if bases.base_model is not None:
        raise EmbedbenchError(
            f"{source}: [train] gives both base_model ({bases.base_model!r}: one run, models/<run>) and "
            "base_models (one run per base); keep one of them (a profile that extends a file overrides "
            "its base_models with base_models = [...], e.g. [{ model = \"...\", run = \"...\" }] for one run)"
        )
    runs = []
    for e in bases.base_models:
        runs.append(TrainRun(e.run or f"{bases.run}-{base_slug(e.model)}", e.model, e.requires))
    names = [r.run for r in runs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise EmbedbenchError(
            f"{source}: [train] base_models gives run name(s) {twice} more than once (runs: {names}); "
            'give the entries distinct names, e.g. { model = "...", run = "other-name" }'
        )
    return runs


def trained_models(train: dict[str, Any], *, source: str | Path = DEFAULT_CONFIG) -> list[str]:
    """``<output_dir>/<run>`` of each run of a ``[train]`` table this machine can train, in order."""
    folder = str(train.get("output_dir", MODELS_DIR)).rstrip("/")
    return [f"{folder}/{r.run}" for r in train_runs(train, source=source) if r.available()]


def wire(data: dict[str, Any], *, source: str | Path = DEFAULT_CONFIG) -> dict[str, Any]:
    """The sections of ``data`` with the values one step takes from another filled in (see the module doc)."""
    out = {name: dict(data[name]) for name in SECTIONS if name in data}
    train = out.get("train")
    if train is not None and "prepared_dir" not in train:
        train["prepared_dir"] = out.get("prep", {}).get("output_dir", PREPARED_DIR)
    if train is not None:
        out.setdefault("eval", {})
    ev = out.get("eval")
    if ev is None:
        return out

    def models(name: Any) -> list[Any]:
        if not isinstance(name, str) or not (name == TRAINED or name.startswith(TRAINED + "@")):
            return [name]
        if train is None:
            raise EmbedbenchError(
                f"{source}: [eval] names {name!r} (the models [train] writes) but the file has no [train] "
                "section; name the model folder instead"
            )
        return [folder + name[len(TRAINED):] for folder in trained_models(train, source=source)]

    def first(name: Any) -> Any:
        found = models(name)
        if not found:
            raise EmbedbenchError(
                f"{source}: [eval.check] candidate = {name!r} but no [train] run can train on this machine "
                '(every base model has requires = "gpu" and there is no GPU); name a model as the candidate'
            )
        return found[0]

    if isinstance(ev.get("models"), list):
        ev["models"] = [m for name in ev["models"] for m in models(name)]
    check = ev.get("check")
    if isinstance(check, dict) or (check is None and train is not None):
        check = dict(check or {})
        if train is not None and "candidate" not in check and trained_models(train, source=source):
            check["candidate"] = TRAINED
        if "candidate" in check:
            check["candidate"] = first(check["candidate"])
        ev["check"] = check
    return out
