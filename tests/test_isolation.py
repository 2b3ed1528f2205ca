"""The suite never touches the user's caches: every cache path lies in the session folder, and work lands there."""

from __future__ import annotations

from pathlib import Path

from embedbench.cache import EmbeddingCache
from embedbench.encode import load_encoder
from embedbench.models import resolve
from embedbench.paths import cache_dir, embedding_db, models_dir

USER_CACHE = Path.home() / ".cache"


def inside(path: Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def test_our_cache_paths_lie_in_the_session_folder(session_cache):
    for path in (cache_dir(), models_dir(), embedding_db()):
        assert inside(path, session_cache), path
        assert not inside(path, USER_CACHE), path


def test_library_cache_paths_lie_in_the_session_folder(session_cache):
    import datasets  # the hub libraries are heavy: import them only for this test
    import huggingface_hub.constants as hub
    import mteb

    paths = {
        "HF_HOME": hub.HF_HOME,
        "HF_HUB_CACHE": hub.HF_HUB_CACHE,
        "HF_DATASETS_CACHE": datasets.config.HF_DATASETS_CACHE,
        "MTEB_CACHE": mteb.ResultCache().cache_path,
    }
    for name, path in paths.items():
        assert inside(Path(path), session_cache), f"{name}={path}"
        assert not inside(Path(path), USER_CACHE), f"{name}={path}"


def test_encoding_and_building_a_model_write_into_the_session_folder(session_cache):
    assert inside(resolve("tiny").path, session_cache)
    load_encoder("tiny").encode(["isolated one", "isolated two"])
    store = EmbeddingCache()
    assert inside(store.path, session_cache) and store.path.is_file()
    assert "tiny" in {s.model for s in store.stats()}
