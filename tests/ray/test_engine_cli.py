"""``embedbench prep`` and ``mine`` with ``--engine ray`` write what the local engine writes (real SciFact slice, tiny).

``prep`` in the default run, and ``mine``, run Ray on the embedding cache the local run filled: they check
the Ray search actors and the pipeline on Ray. ``prep`` marked ``real`` starts each engine from its own
empty cache, so on Ray every text is encoded by the Ray Data actor pool too (vectors agree to ~1e-7:
scores are compared to 1e-6, everything else exactly); it takes minutes on 2 shared cores, mostly
starting encoder actors, so it is left to ``make test-real``.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.data import beir_pairs, doc_text, read_beir

runner = CliRunner()


@pytest.fixture(scope="module")
def slice_files(shared_data, tmp_path_factory) -> Path:
    """150 SciFact train (query, abstract) pairs as JSONL and 250 other abstracts as a .txt corpus."""
    folder = tmp_path_factory.mktemp("scifact-slice")
    data = read_beir(shared_data / "scifact", "train")
    pairs = beir_pairs(data).head(150).select("anchor", "positive")
    pairs.write_ndjson(folder / "pairs.jsonl")
    docs = data.corpus.head(250).select(doc_text(pl.col("title"), pl.col("text"))).to_series().to_list()
    (folder / "corpus.txt").write_text("\n".join(" ".join(d.split()) for d in docs) + "\n", encoding="utf-8")
    return folder


def invoke(args: list[str], cache: Path, monkeypatch) -> str:
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(cache))
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def parquet_files(folder: Path) -> dict[str, pl.DataFrame]:
    return {p.relative_to(folder).as_posix(): pl.read_parquet(p) for p in sorted(folder.rglob("*.parquet"))}


def assert_same_files(ray: dict[str, pl.DataFrame], local: dict[str, pl.DataFrame]) -> None:
    """The same files with the same rows: texts, ids and ranks exactly, float scores to 1e-6."""
    assert ray.keys() == local.keys()
    for name, frame in local.items():
        assert_frame_equal(ray[name], frame, check_exact=False, rtol=0, atol=1e-6)


@pytest.mark.slow
@pytest.mark.real  # ~35-150 s (worker pools import torch); mine below runs the same CLI path in make test
@pytest.mark.parametrize("cache", ["shared", "fresh"])
def test_prep_on_ray_writes_the_local_sets(slice_files, tmp_path, ray_cluster, monkeypatch, cache):
    config = tmp_path / "bench.toml"
    template = (
        f"""
[prep]
output_dir = "prepared-ENGINE"
model = "tiny"
[prep.sets.scifact]
train = [{{ kind = "table", path = "{slice_files / 'pairs.jsonl'}", output = "pairs" }}]
steps = ["normalise", "exact"]
normalise = {{ token_count = "estimate", max_tokens = 512 }}
split = {{ dev = 0.0 }}
negatives = {{ model = "tiny", corpus = "{slice_files / 'corpus.txt'}", num_negatives = 2, range_max = 20, relative_margin = 0.0, output = "n-tuples", shortfall = "keep", index = "ivf", nlist = 8, nprobe = 8, batch_size = 32 }}

[compute]
actors = 2
cpus_per_actor = 1
batch_size = 32
"""
    )
    out = {}
    monkeypatch.chdir(tmp_path)
    for engine in ("local", "ray"):
        config.write_text(template.replace("ENGINE", engine), encoding="utf-8")
        db = tmp_path / (f"{engine}.sqlite" if cache == "fresh" else "emb.sqlite")
        invoke(["prep", "--config", str(config), "--engine", engine], db, monkeypatch)
        out[engine] = parquet_files(tmp_path / f"prepared-{engine}" / "scifact")
    assert {"train.parquet", "negatives-train.parquet", "negatives-train.examples.parquet"} <= set(out["local"])
    assert_same_files(out["ray"], out["local"])
    stats = json.loads((tmp_path / "prepared-ray" / "scifact" / "negatives-train.stats.json").read_text())
    assert stats["index"] == "IVF(nlist=8, nprobe=8) on Ray (2 search actors)"
    assert (stats["encoded"]["misses"] > 0) == (cache == "fresh")


def test_mine_on_ray_writes_the_local_negatives(slice_files, tmp_path, ray_cluster, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no bench.toml here: [compute] defaults, --engine decides
    args = ["mine", "--pairs", str(slice_files / "pairs.jsonl"), "--corpus", str(slice_files / "corpus.txt"),
            "--model", "tiny", "--num-negatives", "3", "--range-max", "25", "--relative-margin", "-1",
            "--output", "n-tuples", "--shortfall", "keep", "--option", "sampling=random",
            "--option", "batch_size=40"]
    for engine in ("local", "ray"):
        invoke([*args, "--out", str(tmp_path / engine), "--engine", engine], tmp_path / "emb.sqlite", monkeypatch)
    local, ray = parquet_files(tmp_path / "local"), parquet_files(tmp_path / "ray")
    assert local["negatives.parquet"].height == 150
    for name, frame in local.items():  # the same vectors and index: exactly the same files
        assert ray[name].equals(frame), name
    stats = json.loads((tmp_path / "ray" / "negatives.stats.json").read_text())
    assert stats["index"] == "exact (IndexFlatIP) on Ray (2 search actors)" and stats["encoded"]["misses"] == 0
