"""What ``embedbench eval`` writes beside the results for the report: ``models.json`` and ``plan.json`` rows.

``facts_of`` gathers a loaded model's :class:`ModelFacts` (backend and why, base model and training
time from a fine-tuned folder's ``embedbench.json``, size, the throughput measured by the plan);
``plan_rows`` turns the plan and the measured seconds into :class:`PlanRow` s.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from embedbench.evalsuite.model_facts import ModelFacts, PlanFile
from embedbench.evalsuite.plan import Plan
from embedbench.models import model_meta


def _parameters(encoder: Any, name: str) -> int | None:
    """Parameter count: the torch module's, else the registry's figure, else None."""
    model = getattr(encoder, "model", None)
    try:
        count = sum(p.numel() for p in model.parameters()) if model is not None else 0
    except (AttributeError, TypeError):
        count = 0
    if count:
        return int(count)
    from embedbench.models import REGISTRY

    spec = REGISTRY.get(name)
    return int(spec.params_m * 1e6) if spec is not None else None


def _folder(name: str) -> Path | None:
    """The model's folder on disk (None: hub-only or not resolvable)."""
    from embedbench.errors import EmbedbenchError
    from embedbench.models import resolve

    try:
        path = Path(resolve(name.split("@", 1)[0]).path)
    except EmbedbenchError:
        return None
    return path if path.is_dir() else None


def facts_of(model: Any, throughput: Any = None) -> ModelFacts:
    """The :class:`ModelFacts` of a ``runner.EvalModel`` (loaded for an encoder; BM25 has no encoder facts)."""
    if model.lexical:
        return ModelFacts(name=model.name, fingerprint=model.fingerprint, backend="bm25", precision="")
    encoder = model.get()
    st = getattr(encoder, "model", None)
    folder = _folder(model.spec)
    meta = model_meta(folder) if folder is not None else {}
    from embedbench.models import _folder_size_mb  # the registry's own size measure

    train_seconds = meta.get("train_seconds")
    return ModelFacts(
        name=model.name,
        fingerprint=model.fingerprint,
        backend=str(getattr(encoder, "backend", "torch")),
        precision=str(getattr(encoder, "precision", "fp32")),
        backend_reason=str(getattr(encoder, "backend_reason", "") or ""),
        base_model=meta.get("base_model"),
        parameters=_parameters(encoder, model.name),
        dimension=int(encoder.dim) if hasattr(encoder, "dim") else None,
        max_seq_length=getattr(st, "max_seq_length", None),
        size_mb=round(_folder_size_mb(folder), 1) if folder is not None else None,
        short_per_s=getattr(throughput, "short_per_s", None),
        long_per_s=getattr(throughput, "long_per_s", None),
        machine=str(getattr(throughput, "machine", "") or ""),
        train_seconds=float(train_seconds) if isinstance(train_seconds, (int, float)) else None,
    )


def plan_file(plan: Plan, actual: dict[tuple[str, str], float]) -> PlanFile:
    """``plan.json`` of a run: each pair's plan with its measured seconds (``actual``, by (model, task))."""
    rows = [
        dataclasses.replace(
            p, est_seconds=None if p.est_seconds is None else round(p.est_seconds, 2),
            overhead_seconds=round(p.overhead_seconds, 2),
            actual_seconds=round(actual[(p.model, p.task)], 2) if (p.model, p.task) in actual else None,
        )
        for p in plan.pairs
    ]
    return PlanFile(rows=rows, machine=plan.machine, created=datetime.now(UTC).isoformat(timespec="seconds"))
