"""Where embedbench keeps its caches (models assembled from parts, embeddings, fingerprints)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of embedbench's caches: ``$EMBEDBENCH_CACHE`` or ``~/.cache/embedbench``."""
    root = os.environ.get("EMBEDBENCH_CACHE") or Path.home() / ".cache" / "embedbench"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Folder for models embedbench builds or reassembles (mpnet, L3, tiny)."""
    path = Path(os.environ.get("EMBEDBENCH_MODELS_CACHE") or cache_dir() / "models")
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedding_db() -> Path:
    """The SQLite file of the shared embedding cache."""
    return Path(os.environ.get("EMBEDBENCH_EMBEDDINGS") or cache_dir() / "embeddings.sqlite")


def repo_root() -> Path:
    """The project checkout this package runs from (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def data_dir() -> Path:
    """The real datasets: ``$EMBEDBENCH_DATA`` or ``../shared/data`` beside the checkout."""
    env = os.environ.get("EMBEDBENCH_DATA")
    return Path(env) if env else (repo_root().parent / "shared" / "data").resolve()
