"""Path functions are pure (asking creates nothing) and the data folder is found without a checkout."""

from __future__ import annotations

from embedbench import paths
from embedbench.paths import cache_dir, data_dir, embedding_db, models_dir

CACHE_VARS = ("EMBEDBENCH_CACHE", "EMBEDBENCH_MODELS_CACHE", "EMBEDBENCH_EMBEDDINGS")


def test_cache_paths_create_nothing(tmp_path, monkeypatch):
    for name in CACHE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBEDBENCH_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    assert models_dir() == tmp_path / "cache" / "models"
    assert embedding_db() == tmp_path / "cache" / "embeddings.sqlite"
    assert not (tmp_path / "cache").exists()


def test_cache_paths_follow_their_own_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDBENCH_MODELS_CACHE", str(tmp_path / "m"))
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "e.sqlite"))
    assert models_dir() == tmp_path / "m"
    assert embedding_db() == tmp_path / "e.sqlite"
    assert not (tmp_path / "m").exists()


def test_data_dir_prefers_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDBENCH_DATA", str(tmp_path / "mydata"))
    assert data_dir() == tmp_path / "mydata"


def test_data_dir_beside_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBEDBENCH_DATA", raising=False)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    assert data_dir() == (tmp_path / "shared" / "data").resolve()


def test_data_dir_of_an_installed_package_assumes_no_checkout(tmp_path, monkeypatch):
    """Installed (no pyproject.toml above the package) and nothing beside the working directory: the
    working-directory candidate is returned, so the reader's error names a folder the user can create."""
    monkeypatch.delenv("EMBEDBENCH_DATA", raising=False)
    site = tmp_path / "site-packages" / "embedbench"
    site.mkdir(parents=True)
    (tmp_path / "shared" / "data").mkdir(parents=True)  # beside site-packages: must not be picked
    monkeypatch.setattr(paths, "__file__", str(site / "paths.py"))
    (tmp_path / "work" / "here").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work" / "here")
    assert data_dir() == (tmp_path / "work" / "shared" / "data").resolve()
    assert not data_dir().exists()


def test_no_repo_root():
    assert not hasattr(paths, "repo_root"), "embedbench must not assume it runs from a checkout"
