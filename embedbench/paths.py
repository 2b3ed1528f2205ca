"""Where embedbench finds its data and keeps its caches. Pure: asking for a path creates nothing.

The folders are created by the code that writes into them (the embedding cache, the model builders,
the fingerprint memo), so a read-only question such as "where is the cache?" never touches the disk.
"""

from __future__ import annotations

import os
from pathlib import Path

_SHARED_DATA = Path("..") / "shared" / "data"


def cache_dir() -> Path:
    """Root of embedbench's caches: ``$EMBEDBENCH_CACHE`` or ``~/.cache/embedbench``."""
    return Path(os.environ.get("EMBEDBENCH_CACHE") or Path.home() / ".cache" / "embedbench")


def models_dir() -> Path:
    """Folder for models embedbench builds or reassembles (mpnet, L3, tiny): ``$EMBEDBENCH_MODELS_CACHE``
    or ``<cache_dir>/models``."""
    return Path(os.environ.get("EMBEDBENCH_MODELS_CACHE") or cache_dir() / "models")


def embedding_db() -> Path:
    """The SQLite file of the shared embedding cache: ``$EMBEDBENCH_EMBEDDINGS`` or ``<cache_dir>/embeddings.sqlite``."""
    return Path(os.environ.get("EMBEDBENCH_EMBEDDINGS") or cache_dir() / "embeddings.sqlite")


def data_dir() -> Path:
    """The folder of the real datasets that relative source and task paths are looked up in.

    In order: ``$EMBEDBENCH_DATA``; else ``../shared/data`` beside the working directory, when it
    exists; else ``../shared/data`` beside the source tree embedbench runs from, when it is a
    checkout (an editable install) and the folder exists there. An installed embedbench has no
    checkout, so set ``$EMBEDBENCH_DATA`` or run from the folder beside ``shared/data``. When no
    candidate exists the working-directory one is returned, and the reader that needs it names it.
    """
    env = os.environ.get("EMBEDBENCH_DATA")
    if env:
        return Path(env).expanduser()
    here = (Path.cwd() / _SHARED_DATA).resolve()
    if here.is_dir():
        return here
    source_tree = Path(__file__).resolve().parents[1]
    if (source_tree / "pyproject.toml").is_file() and (source_tree / _SHARED_DATA).is_dir():
        return (source_tree / _SHARED_DATA).resolve()
    return here
