"""The prep teacher step: labels equal the teacher's own cosine scores, bad shapes fail, the pipeline records it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from embedbench.config import validate_section
from embedbench.encode import load_encoder
from embedbench.errors import EmbedbenchError
from embedbench.models import load_model, resolve
from embedbench.prep.config import PrepConfig
from embedbench.prep.pipeline import run_prep
from embedbench.prep.teacher import label_frame

TOPICS = ("cats", "rockets", "bread", "rivers", "guitars", "tax law", "volcanoes", "chess", "tides", "maps")


@pytest.fixture(scope="module")
def tiny():
    return load_encoder("tiny", cache=False, show_progress=False)


def ntuples(n: int) -> pl.DataFrame:
    frame = pl.DataFrame(
        {"anchor": [f"what about {t}?" for t in TOPICS], "positive": [f"{t} are discussed here" for t in TOPICS]}
    )
    negs = {f"negative_{i}": [f"note {i} on weather number {j}" for j in range(len(TOPICS))] for i in range(1, n + 1)}
    frame = frame.with_columns(**{k: pl.Series(v) for k, v in negs.items()})
    return frame.rename({"negative_1": "negative"}) if n == 1 else frame


@pytest.mark.parametrize("n", [1, 3])
def test_labels_are_the_teachers_cosine_scores(tiny, n):
    from sentence_transformers.util import pairwise_cos_sim

    frame = ntuples(n)
    out, stats = label_frame(frame, tiny, ["margin", "scores", "embeddings"], where="toy")
    model = load_model("tiny")
    texts = list(frame.columns)

    def enc(col: str):
        return model.encode(frame[col].to_list(), convert_to_tensor=True)

    pos = pairwise_cos_sim(enc("anchor"), enc("positive")).numpy()
    negs = np.stack([pairwise_cos_sim(enc("anchor"), enc(c)).numpy() for c in texts[2:]], axis=1)
    scores = np.array(out["teacher_scores"].to_list())
    np.testing.assert_allclose(scores, np.hstack([pos[:, None], negs]), atol=1e-5)
    margin = np.array(out["teacher_margin"].to_list()).reshape(len(frame), n)
    np.testing.assert_allclose(margin, pos[:, None] - negs, atol=1e-5)
    emb = np.array(out["teacher_embedding"].to_list())
    assert emb.shape == (len(frame), len(texts), 32)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=-1), 1.0, atol=1e-5)
    assert stats["positive"]["count"] == len(frame) and stats["negative"]["count"] == len(frame) * n
    assert stats["negative_above_positive"] == int((margin < 0).sum())


def test_margin_on_pairs_says_to_mine_negatives_first(tiny):
    pairs = ntuples(1).drop("negative")
    with pytest.raises(EmbedbenchError, match=r"toy: teacher output\(s\) \['margin'\] need triplets .*mine negatives"):
        label_frame(pairs, tiny, ["margin"], where="toy")
    out, _ = label_frame(pairs, tiny, ["embeddings"], where="toy")  # embeddings fit any texts
    assert out["teacher_embedding"].list.len().to_list() == [2] * len(pairs)


@pytest.mark.slow
def test_pipeline_teacher_step_writes_labels_fingerprint_and_report(tmp_path: Path):
    from embedbench.train.config import parse_train_config
    from embedbench.train.plan import plan_training

    rows = [{"anchor": f"question {i} about {t}", "positive": f"answer {i}: {t} explained"} for i, t in enumerate(TOPICS * 3)]
    src = tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data = {
        "output_dir": "out", "report": "reports/prep.md",
        "sets": {"toy": {
            "train": [{"kind": "table", "path": str(src), "output": "pairs"}],
            "steps": ["normalise", "exact"], "normalise": {"token_count": "estimate", "max_tokens": 64},
            "split": {"dev": 0.2, "seed": 3},
            "negatives": {"model": "tiny", "num_negatives": 1, "range_max": 8, "relative_margin": None, "shortfall": "keep"},
            "teacher": {"model": "tiny", "outputs": ["margin", "scores"]},
        }},
    }
    cfg = validate_section(PrepConfig, data, section="prep", source="test.toml")
    (outcome,) = run_prep(cfg, root=tmp_path, log=lambda _: None)
    train = pl.read_parquet(tmp_path / "out" / "toy" / "train.parquet")
    assert train.columns == ["anchor", "positive", "negative", "teacher_margin", "teacher_scores"]
    teacher = outcome.manifest["teacher"]
    assert teacher["fingerprint"] == resolve("tiny").fingerprint
    assert {"key": "model.teacher", "source": "tiny", "sha256": teacher["fingerprint"]} in outcome.manifest["inputs"]
    report = (tmp_path / "reports" / "prep.md").read_text()
    assert "### Teacher scores" in report and (tmp_path / "reports" / "prep_toy_teacher.png").is_file()
    plan = plan_training(parse_train_config(
        {"datasets": [{"name": "toy", "set": "toy", "loss": "MarginMSELoss"}], "base_model": "tiny", "prepared_dir": "out"},
        source=tmp_path / "bench.toml",
    ))
    assert plan.datasets[0].frame.columns == ["anchor", "positive", "negative", "label"]
    second = run_prep(cfg, root=tmp_path, log=lambda _: None)[0]
    assert second.skipped
