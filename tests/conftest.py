"""Shared test setup: offline hub, real data location, small helpers."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from embedbench.paths import data_dir  # noqa: E402


@pytest.fixture(scope="session")
def shared_data():
    """The real datasets folder (../shared/data); tests that need it skip nothing: it must exist."""
    path = data_dir()
    if not path.is_dir():
        raise RuntimeError(f"real data not found at {path}; set EMBEDBENCH_DATA")
    return path
