"""Model fingerprints: a pure hash of the model files, and the explicit cache that remembers it."""

from __future__ import annotations

import json
import os

from embedbench.fingerprint import FingerprintCache, file_state, folder_fingerprint, model_fingerprint


def _model(folder):
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden": 4}')
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "README.md").write_text("not part of the fingerprint")
    return folder


def test_folder_fingerprint_is_pure_and_path_independent(tmp_path):
    a = _model(tmp_path / "a")
    b = _model(tmp_path / "b")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert folder_fingerprint(a, file_state(a)) == folder_fingerprint(b, file_state(b))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
    (b / "README.md").write_text("changed")
    assert folder_fingerprint(a, file_state(a)) == folder_fingerprint(b, file_state(b))


def test_cache_stores_the_state_and_is_trusted_only_while_files_are_unchanged(tmp_path):
    folder = _model(tmp_path / "m").resolve()
    cache = FingerprintCache(tmp_path / "fp.json")
    first = model_fingerprint(folder, cache)
    stored = json.loads((tmp_path / "fp.json").read_text())
    assert stored[str(folder)]["fingerprint"] == first
    assert cache.get(folder, file_state(folder)) == first
    cache.put(folder, file_state(folder), "remembered")
    assert model_fingerprint(folder, cache) == "remembered"  # unchanged files: not re-hashed
    (folder / "model.safetensors").write_bytes(b"new weights")
    os.utime(folder / "model.safetensors", ns=(1, 1))
    assert cache.get(folder, file_state(folder)) is None
    assert model_fingerprint(folder, cache) not in ("remembered", first)
