"""Mining through the shared cache, files written by ``write_mining``, and the ``embedbench mine`` command."""

from __future__ import annotations

import json
import math
import zlib

import polars as pl
import pytest
from typer.testing import CliRunner

from embedbench.cache import EmbeddingCache
from embedbench.cli import app
from embedbench.encode import load_encoder
from embedbench.prep.negatives import MiningConfig, mine_hard_negatives
from embedbench.prep.negatives.io import write_mining
from embedbench.prep.negatives.report import render_mining_section

PAIRS = pl.DataFrame({
    "anchor": ["how do cats sleep", "why is the sky blue", "why is the sky blue", "what do bees make"],
    "positive": ["cats sleep sixteen hours a day", "rayleigh scattering of sunlight", "blue light scatters more",
                 "bees make honey from nectar"],
    "query_id": ["1", "2", "2", "3"],
})
CORPUS = [f"filler sentence number {i} about topic {i % 7}" for i in range(40)]


class Circle:
    """Anchors at 0°, 120°, 240°, their positives 2-3° away, other texts at crc32-scattered angles."""

    name, fingerprint = "circle", "c1"
    PLACED = {a: 120.0 * i for i, a in enumerate(PAIRS["anchor"].unique(maintain_order=True))}

    def encode(self, texts):
        import numpy as np

        placed = {**self.PLACED, **{p: self.PLACED[a] + 2 + i % 2 for i, (a, p) in enumerate(PAIRS.select("anchor", "positive").rows())}}
        deg = [placed.get(t, zlib.crc32(t.encode()) % 360) for t in texts]
        return np.array([[math.cos(math.radians(d)), math.sin(math.radians(d))] for d in deg], dtype=np.float32)


def test_rerun_through_the_cache_encodes_nothing(tmp_path):
    store = EmbeddingCache(tmp_path / "emb.sqlite")
    cfg = MiningConfig(model="tiny", range_max=10, num_negatives=2, output="n-tuples")
    first_enc = load_encoder("tiny", cache=store, show_progress=False)
    first = mine_hard_negatives(PAIRS, CORPUS, first_enc, cfg)
    n_unique = 3 + len(CORPUS) + 4  # anchors, corpus, positives
    assert first.stats.encoded == {"hits": 0, "misses": n_unique}
    again = mine_hard_negatives(PAIRS, CORPUS, load_encoder("tiny", cache=store, show_progress=False), cfg)
    assert again.stats.encoded == {"hits": n_unique, "misses": 0}
    assert again.dataset.equals(first.dataset)


def test_write_mining_files_and_report_section(tmp_path):
    cfg = MiningConfig(range_max=10, num_negatives=2, relative_margin=0.05, output="triplets", output_scores=True)
    result = mine_hard_negatives(PAIRS, CORPUS, Circle(), cfg)
    paths = write_mining(result, tmp_path / "out", stem="train")
    assert pl.read_parquet(paths["dataset"]).equals(result.dataset)
    assert pl.read_parquet(paths["dropped"]).height == result.stats.dropped_pairs
    stats = json.loads(paths["stats"].read_text())
    assert stats["removed"] == result.stats.removed and stats["config"]["relative_margin"] == 0.05
    assert stats["config_hash"] and stats["provenance"]["versions"]["faiss-cpu"]
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"
    md = paths["report"].read_text()
    assert "| known_positive |" in md and "![score distributions](train.scores.png)" in md
    assert "Sample of mined negatives" in md
    # rendering from the stored JSON alone gives the same section
    assert render_mining_section(stats, tmp_path / "again.png").replace("again.png", "train.scores.png") == md
    section = render_mining_section(stats, tmp_path / "out" / "plots" / "p.png", link_from=tmp_path)
    assert "](out/plots/p.png)" in section


@pytest.fixture()
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "emb.sqlite"))
    PAIRS.write_parquet(tmp_path / "pairs.parquet")
    (tmp_path / "corpus.txt").write_text("\n".join(CORPUS))
    return tmp_path


def test_cli_mine(files):
    args = ["mine", "--pairs", str(files / "pairs.parquet"), "--corpus", str(files / "corpus.txt"), "--model", "tiny",
            "--out", str(files / "out"), "--range-max", "8", "--num-negatives", "2", "--output", "n-tuples",
            "--relative-margin", "-1"]  # tiny's scores are random: margins off for plumbing
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "mined 4 rows (n-tuples) for 3 anchors" in text, text
    out = pl.read_parquet(files / "out" / "negatives.parquet")
    assert out.columns == ["anchor", "positive", "negative_1", "negative_2"] and out.height == 4
    assert (files / "out" / "negatives.stats.json").is_file() and (files / "out" / "negatives.md").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--relative-margin", "1.5"], "--relative-margin: Input should be less than 1"),
        (["--model", "no-such-model"], "unknown model"),
        (["--range-min", "10", "--range-max", "5"], "range_max"),
        (["--output", "pairs"], "--output: Input should be"),
    ],
)
def test_cli_mine_bad_options(files, extra, message):
    args = ["mine", "--pairs", str(files / "pairs.parquet"), "--out", str(files / "out"), *extra]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
    assert "Traceback" not in res.output


def test_cli_mine_pairs_without_positive_column(files):
    pl.DataFrame({"query": ["q"], "doc": ["d"]}).write_parquet(files / "bad.parquet")
    res = CliRunner().invoke(app, ["mine", "--pairs", str(files / "bad.parquet"), "--out", str(files / "o")])
    assert res.exit_code == 2 and "missing column" in res.output


def test_cli_mine_other_keys_as_options(files):
    args = ["mine", "--pairs", str(files / "pairs.parquet"), "--corpus", str(files / "corpus.txt"), "--model", "tiny",
            "--out", str(files / "out"), "--range-max", "8", "-o", "relative-margin=none", "-o", "sampling=random",
            "-o", "output_scores=true", "-o", "seed=7"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    stats = json.loads((files / "out" / "negatives.stats.json").read_text())
    assert {k: stats["config"][k] for k in ("relative_margin", "sampling", "output_scores", "seed")} == {
        "relative_margin": None, "sampling": "random", "output_scores": True, "seed": 7,
    }
    assert "scores" in pl.read_parquet(files / "out" / "negatives.parquet").columns
    bad = CliRunner().invoke(app, ["mine", "--pairs", str(files / "pairs.parquet"), "--out", str(files / "o"), "-o", "nprobe"])
    assert bad.exit_code == 2 and "expected key=value" in " ".join(bad.output.split()), bad.output
