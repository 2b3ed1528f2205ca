"""The manifest written beside each prepared set (``manifest.json``)."""

from __future__ import annotations

from typing import Any, Protocol

import polars as pl

from embedbench.io import provenance
from embedbench.prep.config import PrepConfig, SetConfig, Step
from embedbench.prep.leakage import leakage_summary
from embedbench.prep.marks import KEPT
from embedbench.prep.store import SPLITS


class RunContext(Protocol):
    """What the manifest needs from a run (:class:`embedbench.prep.pipeline.Context` fits)."""

    config: PrepConfig

    def model(self, name: str) -> Any:
        """A loaded SentenceTransformer (for its max sequence length)."""
        ...


def build_manifest(
    name: str,
    cfg: SetConfig,
    inputs: list[dict[str, Any]],
    inputs_hash: str,
    cfg_hash: str,
    frame: pl.DataFrame,
    dropped: pl.DataFrame,
    rows: dict[str, int],
    splits: dict[str, pl.DataFrame],
    timings: dict[str, float],
    ctx: RunContext,
) -> dict[str, Any]:
    """A set's manifest: inputs and hashes, config, provenance, rows per stage, drops per stage and reason, token flags, timings."""
    by_stage = dropped.group_by("stage", "reason").len().sort("stage", "reason")
    drops: dict[str, dict[str, int]] = {}
    for stage, reason, n in by_stage.iter_rows():
        drops.setdefault(str(stage), {})[str(reason)] = int(n)
    flagged = (
        int(frame.select((KEPT & pl.col("too_long")).sum()).item()) if "too_long" in frame.columns else None
    )
    norm = cfg.normalise
    tokens = None
    if Step.normalise in cfg.steps:
        how = (
            f"tokenizer of {ctx.config.model}"
            if norm.token_count == "tokenizer"
            else "estimate (words + punctuation + 2, a lower bound)"
        )
        limit = (
            norm.max_tokens
            if isinstance(norm.max_tokens, int)
            else ctx.model(ctx.config.model).max_seq_length
        )
        tokens = {"count": how, "max_tokens": limit, "flagged_too_long": flagged, "action": norm.long_texts}
    return {
        "set": name,
        "shape": cfg.shape,
        "columns": list(next(iter(s for s in splits.values() if s.height), splits["train"]).columns),
        "inputs": inputs,
        "inputs_hash": inputs_hash,
        "config_hash": cfg_hash,
        "config": cfg.model_dump(mode="json"),
        "against": ctx.config.against(name),
        "provenance": provenance(),
        "rows": {**rows, "out": sum(s.height for s in splits.values())},
        "splits": {sp: splits[sp].height for sp in SPLITS},
        "drops": drops,
        "drops_total": {
            str(r): int(n) for r, n in dropped.group_by("reason").len().sort("reason").iter_rows()
        },
        "tokens": tokens,
        "leakage": _leakage(cfg, frame, dropped, ctx) if Step.leakage in cfg.steps else None,
        "timings": timings,
    }


def _leakage(cfg: SetConfig, frame: pl.DataFrame, dropped: pl.DataFrame, ctx: RunContext) -> dict[str, Any]:
    """Rows each leakage check matched, and the semantic check's model, threshold and action."""
    sem = cfg.leakage.semantic
    settings = None
    if sem is not None:
        settings = {"model": sem.model or ctx.config.model, "threshold": sem.threshold, "action": sem.action}
    return leakage_summary(frame, dropped, settings)
