"""Teacher scores: label each row of a prepared set with a stronger bi-encoder, for the distillation losses.

No cross-encoder installs offline here, so the teacher is a bi-encoder from the registry (e.g.
all-MiniLM-L6-v2 teaching paraphrase-MiniLM-L3-v2, or all-mpnet-base-v2 teaching MiniLM-L6). Every text
is encoded once through the shared embedding cache (:func:`embedbench.encode.load_encoder`), normalised,
and the teacher's cosine similarities become the label column each loss reads (``train/losses.py``):

==============  ========================  ===============================================================
output          column                    value per row
==============  ========================  ===============================================================
``margin``      ``teacher_margin``        ``t(a, p) - t(a, n)`` (triplets), a list of n margins (n-tuples)
``scores``      ``teacher_scores``        ``[t(a, p), t(a, n_1) .. t(a, n_n)]``
``embeddings``  ``teacher_embedding``     one teacher embedding per text column
==============  ========================  ===============================================================

``margin`` feeds MarginMSELoss, ``scores`` DistillKLDivLoss, ``embeddings`` MSELoss / EmbedDistillLoss
(train adds a learnt projection when the student's width differs). The statistics (score
distributions, histograms) go into the set's manifest under ``teacher``, with the teacher's
fingerprint; the prep report draws them.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field

from embedbench.config import StrictModel
from embedbench.data.shapes import detect_shape
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.prep.negatives.assemble import HIST_EDGES, score_summary
from embedbench.prep.negatives.report import plot_score_distributions

TeacherOutput = Literal["margin", "scores", "embeddings"]
COLUMNS: dict[str, str] = {"margin": "teacher_margin", "scores": "teacher_scores", "embeddings": "teacher_embedding"}
"""Output name -> the label column it writes (the names ``train/losses.py`` reads)."""


class TeacherConfig(StrictModel):
    """A set's ``teacher`` table: which model scores the rows, what it writes, on which splits."""

    model: str = Field(min_length=1, description="registry name or model folder of the teacher bi-encoder")
    outputs: list[TeacherOutput] = Field(default_factory=lambda: ["margin"], min_length=1)
    splits: list[Literal["train", "dev", "test"]] = Field(default_factory=lambda: ["train", "dev"], min_length=1)
    batch_size: int = Field(64, ge=1)


def _text_columns(frame: pl.DataFrame, outputs: list[str], where: str) -> tuple[str, ...]:
    shape = detect_shape(list(frame.columns))
    if shape is None:
        raise EmbedbenchError(
            f"{where}: the teacher scores (anchor, positive, negative..) rows; found columns ({', '.join(frame.columns)})"
        )
    needs_negatives = [o for o in outputs if o in ("margin", "scores")]
    if needs_negatives and shape.name not in ("triplets", "n-tuples"):
        raise EmbedbenchError(
            f"{where}: teacher output(s) {needs_negatives} need triplets or n-tuples (mine negatives first: "
            f"`negatives = {{ ... }}`); this set is {shape.name} ({', '.join(shape.texts)}). "
            'Use outputs = ["embeddings"] for it'
        )
    return shape.texts


def label_frame(frame: pl.DataFrame, encoder: Encoder, outputs: list[str], *, where: str) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``frame`` with the teacher's label columns appended, and the score statistics of this frame."""
    texts = _text_columns(frame, outputs, where)
    if frame.height == 0:
        return frame, {"rows": 0}
    unique = pl.concat([frame[c] for c in texts]).unique(maintain_order=True)
    emb = np.asarray(encoder.encode(unique.to_list()), dtype=np.float32)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb /= np.where(norms > 0, norms, 1.0)
    index = pl.DataFrame({"text": unique, "i": np.arange(len(unique))})
    cols = [frame.select(pl.col(c).alias("text")).join(index, on="text", how="left", maintain_order="left")["i"].to_numpy() for c in texts]
    out = frame
    stats: dict[str, Any] = {"rows": frame.height, "dim": int(emb.shape[1])}
    if "margin" in outputs or "scores" in outputs:
        anchor = emb[cols[0]]
        pos = np.einsum("ij,ij->i", anchor, emb[cols[1]])
        neg = np.stack([np.einsum("ij,ij->i", anchor, emb[c]) for c in cols[2:]], axis=1)
        margin = pos[:, None] - neg
        if "margin" in outputs:
            value = margin[:, 0].astype(np.float64) if len(cols) == 3 else margin.tolist()
            out = out.with_columns(pl.Series(COLUMNS["margin"], value))
        if "scores" in outputs:
            out = out.with_columns(pl.Series(COLUMNS["scores"], np.hstack([pos[:, None], neg]).tolist()))
        stats.update({
            "positive": score_summary(pos), "negative": score_summary(neg.ravel()), "margin": score_summary(margin.ravel()),
            "negative_above_positive": int((margin < 0).sum()),
            "histogram": {
                "edges": HIST_EDGES.tolist(),
                "positive": np.histogram(pos, HIST_EDGES)[0].tolist(),
                "negative": np.histogram(neg.ravel(), HIST_EDGES)[0].tolist(),
            },
        })
    if "embeddings" in outputs:
        per_row = np.stack([emb[c] for c in cols], axis=1)  # (rows, columns, dim)
        out = out.with_columns(pl.Series(COLUMNS["embeddings"], per_row.tolist(), dtype=pl.List(pl.List(pl.Float32))))
    return out, stats


def label_splits(
    splits: dict[str, pl.DataFrame], config: TeacherConfig, encoder: Encoder, *, fingerprint: str, where: str
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """Label the configured splits; returns the new splits and the manifest's ``teacher`` entry."""
    started = time.perf_counter()
    hits0, misses0 = getattr(encoder, "hits", 0), getattr(encoder, "misses", 0)
    out = dict(splits)
    per_split: dict[str, Any] = {}
    for sp in config.splits:
        frame = splits.get(sp)
        if frame is not None and frame.height:
            out[sp], per_split[sp] = label_frame(frame, encoder, list(config.outputs), where=f"{where} ({sp})")
    return out, {
        "model": config.model, "fingerprint": fingerprint, "outputs": list(config.outputs),
        "columns": [COLUMNS[o] for o in config.outputs], "similarity": "cosine", "splits": per_split,
        "encoded": {"hits": getattr(encoder, "hits", 0) - hits0, "misses": getattr(encoder, "misses", 0) - misses0},
        "seconds": round(time.perf_counter() - started, 3),
    }


def render_teacher_section(stats: dict[str, Any], plot: Any | None = None) -> list[str]:
    """Markdown lines for the report: the teacher, its columns, score distributions per split (and a plot)."""
    lines = [
        "", "### Teacher scores", "",
        f"Teacher `{stats['model']}` (fingerprint `{str(stats['fingerprint'])[:16]}`), cosine similarity; "
        f"columns {', '.join(f'`{c}`' for c in stats['columns'])}; {stats['encoded']['misses']} texts encoded, "
        f"{stats['encoded']['hits']} from the cache.",
    ]
    rows = []
    for sp, s in stats["splits"].items():
        for part in ("positive", "negative", "margin"):
            if part in s:
                d = s[part]
                rows.append([sp, part, d.get("count", 0), *(f"{d[k]:.4f}" if k in d else "-" for k in ("mean", "std", "min", "median", "max"))])
        if "negative_above_positive" in s:
            rows.append([sp, "negative above positive", s["negative_above_positive"], "-", "-", "-", "-", "-"])
    if rows:
        header = ["split", "teacher score", "count", "mean", "std", "min", "median", "max"]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    train = stats["splits"].get("train") or next(iter(stats["splits"].values()), {})
    if plot is not None and "histogram" in train:
        plot_score_distributions(
            train, plot, title=f"teacher scores: {stats['model']}", negatives="negatives",
            xlabel="teacher cosine similarity to the anchor",
        )
        lines += ["", f"![teacher score distributions]({plot.name})"]
    return lines
