"""The experiment file (``bench.toml``): load it and validate each section with clear errors.

Each pipeline package owns the schema of its own section (``prep.config``, ``train.config``,
``evalsuite.config``); this module only reads TOML and turns pydantic errors into messages that
name the file, the key and the allowed values.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from embedbench.errors import EmbedbenchError

M = TypeVar("M", bound=BaseModel)

DEFAULT_CONFIG = Path("bench.toml")


def load_toml(path: str | Path = DEFAULT_CONFIG, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Parse an experiment file; a missing file or a syntax error raises ``EmbedbenchError`` naming it.

    A file may start with ``extends = "other.toml"`` (relative to itself): the other file is loaded
    first and this one's tables are merged over it key by key, so a profile (quick, full, ci) states
    only what it changes. Lists and scalars replace; tables merge.
    """
    path = Path(path)
    if not path.is_file():
        raise EmbedbenchError(f"config file {path} not found; pass --config PATH or create bench.toml")
    if path.resolve() in _seen:
        raise EmbedbenchError(f"{path}: 'extends' loops back to itself ({' -> '.join(map(str, _seen))})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
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
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in (section, *err["loc"]))
            lines.append(f"  {key}: {err['msg']} (got {err.get('input')!r})")
        raise EmbedbenchError(f"{source}: invalid [{section}] section:\n" + "\n".join(lines)) from None
