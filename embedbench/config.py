"""The experiment file (``bench.toml``): read it once, wire its sections together, validate each one.

Each pipeline package owns the schema of its own section (``prep.config``, ``train.config``,
``evalsuite.config``), every schema built on :class:`StrictModel`. This module cannot import them (the
core depends on no pipeline), so :class:`Experiment` holds the sections as tables and does what only
the whole file can: ``extends`` profiles, the top-level keys, and the wiring between steps:

* ``[train] prepared_dir`` defaults to ``[prep] output_dir`` (train reads what prep wrote);
* ``"@train"`` in ``[eval] models`` or ``[eval.check] candidate`` names the model ``[train]`` writes
  (``<output_dir>/<run>``, also as ``"@train@onnx-int8"``); ``candidate`` defaults to it when the
  file has a ``[train]`` section.

Each section is then validated by its owner's ``load_*_config``, errors naming the file, the key and
the allowed values.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
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
TRAINED = "@train"
"""In ``[eval] models`` and ``[eval.check] candidate``: the model ``[train]`` writes."""
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


def trained_model(train: dict[str, Any]) -> str:
    """``<output_dir>/<run>`` of a ``[train]`` table, with the defaults filled in."""
    return f"{str(train.get('output_dir', MODELS_DIR)).rstrip('/')}/{train.get('run', RUN)}"


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

    def model(name: Any) -> Any:
        if not isinstance(name, str) or not (name == TRAINED or name.startswith(TRAINED + "@")):
            return name
        if train is None:
            raise EmbedbenchError(
                f"{source}: [eval] names {name!r} (the model [train] writes) but the file has no [train] "
                "section; name the model folder instead"
            )
        return trained_model(train) + name[len(TRAINED):]

    if isinstance(ev.get("models"), list):
        ev["models"] = [model(m) for m in ev["models"]]
    check = ev.get("check")
    if isinstance(check, dict) or (check is None and train is not None):
        check = dict(check or {})
        if train is not None:
            check.setdefault("candidate", TRAINED)
        if "candidate" in check:
            check["candidate"] = model(check["candidate"])
        ev["check"] = check
    return out
