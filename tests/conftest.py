"""Shared test setup: offline hub, caches isolated in a session folder, torch as the default backend, real data location.

The cache variables are set here, when pytest imports this file and before any test module imports
embedbench, huggingface_hub, datasets or mteb (some of them read their cache folder at import). Every
cache the suite could write, ours and the libraries', points into one temporary folder for the session,
so a run never reads or writes the user's ``~/.cache`` and counts never depend on how warm it is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

SESSION_CACHE = Path(tempfile.mkdtemp(prefix="embedbench-tests-")).resolve()
CACHE_ENV = {
    "EMBEDBENCH_CACHE": SESSION_CACHE / "embedbench",
    "EMBEDBENCH_MODELS_CACHE": SESSION_CACHE / "embedbench" / "models",
    "EMBEDBENCH_EMBEDDINGS": SESSION_CACHE / "embedbench" / "embeddings.sqlite",
    "HF_HOME": SESSION_CACHE / "huggingface",
    "HF_DATASETS_CACHE": SESSION_CACHE / "huggingface" / "datasets",
    "MTEB_CACHE": SESSION_CACHE / "mteb",
    "MPLCONFIGDIR": SESSION_CACHE / "matplotlib",
}
# Overwrite, not setdefault: a user's own cache variables must not leak into the suite.
os.environ.update({name: str(path) for name, path in CACHE_ENV.items()})
# The suite runs torch unless a test opts in to another backend: "auto" would export and time every
# model it meets (backend_auto's own tests set EMBEDBENCH_BACKEND=auto with monkeypatch).
os.environ["EMBEDBENCH_BACKEND"] = "torch"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from embedbench.paths import data_dir  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def session_cache() -> Iterator[Path]:
    """The session's cache folder (every path of ``CACHE_ENV`` lies in it); removed when the session ends."""
    yield SESSION_CACHE
    shutil.rmtree(SESSION_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_data():
    """The real datasets folder (../shared/data); tests that need it skip nothing: it must exist."""
    path = data_dir()
    if not path.is_dir():
        raise RuntimeError(f"real data not found at {path}; set EMBEDBENCH_DATA")
    return path
