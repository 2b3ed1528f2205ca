"""Helpers for train tests: toy Parquet datasets of every shape and a config builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from embedbench.train.config import TrainConfig, parse_train_config

TOPICS = ("cats", "rockets", "bread", "rivers", "guitars", "tax law", "volcanoes", "chess")


def toy_frame(shape: str) -> pl.DataFrame:
    """Eight rows (one batch) of ``shape``, with texts distinct enough for in-batch negatives."""
    q = [f"what do we know about {t}?" for t in TOPICS]
    d = [f"a short text about {t} and facts on {t}" for t in TOPICS]
    n = [f"an unrelated note number {i} on weather" for i in range(8)]
    if shape == "pairs":
        return pl.DataFrame({"anchor": q, "positive": d, "query_id": [str(i) for i in range(8)]})
    if shape == "triplets":
        return pl.DataFrame({"anchor": q, "positive": d, "negative": n})
    if shape == "n-tuples":
        return pl.DataFrame({"anchor": q, "positive": d, "negative_1": n, "negative_2": [x + " again" for x in n]})
    if shape == "scored":
        return pl.DataFrame({"sentence1": q, "sentence2": d[:4] + n[:4], "score": [1.0, 0.9, 0.8, 0.7, 0.1, 0.2, 0.0, 0.3]})
    if shape == "binary-pairs":
        return pl.DataFrame({"sentence1": q, "sentence2": d[:4] + n[:4], "label": [1, 1, 1, 1, 0, 0, 0, 0]})
    if shape == "pair-class":
        return pl.DataFrame(
            {"premise": q, "hypothesis": d[:3] + n[:3] + d[6:],
             "label": ["entailment"] * 3 + ["contradiction"] * 3 + ["neutral"] * 2}
        )
    if shape == "labelled":
        return pl.DataFrame({"text": q, "label": ["animal", "space", "food", "nature"] * 2})
    if shape == "texts":
        return pl.DataFrame({"text": q + d})
    raise ValueError(shape)


@pytest.fixture
def make_config(tmp_path: Path):
    """Write frames as Parquet under ``tmp_path`` and return a validated config that trains on them."""

    def make(
        frames: dict[str, pl.DataFrame],
        losses: dict[str, str] | None = None,
        options: dict[str, dict[str, Any]] | None = None,
        **train: Any,
    ) -> TrainConfig:
        specs = []
        for name, frame in frames.items():
            file = tmp_path / f"{name}.parquet"
            frame.write_parquet(file)
            spec: dict[str, Any] = {"name": name, "path": file.name}
            if losses and name in losses:
                spec["loss"] = losses[name]
            if options and name in options:
                spec["loss_options"] = options[name]
            specs.append(spec)
        data = {
            "run": "toy", "base_model": "tiny", "datasets": specs, "max_steps": 4, "batch_size": 8,
            "learning_rate": 2e-3, "warmup_ratio": 0.0, "weight_decay": 0.0, "save_steps": 1000, **train,
        }
        return parse_train_config(data, source=tmp_path / "bench.toml")

    return make


@pytest.fixture
def toy():
    """``toy(shape)``: eight rows of a dataset shape (see ``toy_frame``)."""
    return toy_frame


@pytest.fixture(scope="session")
def second_tiny(tmp_path_factory) -> Path:
    """A second tiny base model: a folder ``tiny-b`` (the tiny model's architecture, other random weights)."""
    from embedbench.convert import build_tiny_model
    from embedbench.models import resolve

    out = tmp_path_factory.mktemp("bases") / "tiny-b"
    out.mkdir()
    build_tiny_model(Path(resolve("tiny").path), out, seed=1)
    return out
