"""What the report needs about each evaluated model and about the run's plan, kept beside the results.

Two JSON files in the results folder, written by ``embedbench eval`` and read by ``embedbench report``
(so the report still renders from stored files alone):

* ``models.json``: per model (display name) a :class:`ModelFacts`: backend it ran with, the base model a
  fine-tuned model was trained from, parameters, dimension, size on disk, encode throughput measured on
  this machine (short sentences and long documents), training time.
* ``plan.json``: the last run's :class:`PlanRow` per (model, task): texts to encode, cache hits, the
  estimated and the measured seconds, and the pairs the experiment leaves out with their estimated cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedbench.io import read_manifest, write_json_atomic

MODELS_FILE = "models.json"
PLAN_FILE = "plan.json"


@dataclass(frozen=True)
class ModelFacts:
    """One evaluated model: how it ran and what it costs (None: not known, e.g. BM25's dimension)."""

    name: str
    fingerprint: str = ""
    backend: str = "torch"
    precision: str = "fp32"
    backend_reason: str = ""
    """Why this backend: e.g. ``"fastest exact (onnx 2.5/s, openvino 2.2/s, torch 1.6/s long texts)"``."""
    base_model: str | None = None
    """Display name of the base model a fine-tuned model was trained from (None: not fine-tuned here)."""
    parameters: int | None = None
    dimension: int | None = None
    max_seq_length: int | None = None
    size_mb: float | None = None
    short_per_s: float | None = None
    """Encode throughput on short sentences (texts/s), measured on ``machine``."""
    long_per_s: float | None = None
    """Encode throughput on long documents (texts/s, truncated at ``max_seq_length``), measured on ``machine``."""
    machine: str = ""
    train_seconds: float | None = None
    """Fine-tuning wall time of a model trained by ``[train]``."""


@dataclass
class PlanRow:
    """One (model, task) of a run: what it will encode, what that should cost, what it took.

    ``evalsuite.plan`` fills it while planning; ``plan.json`` stores it with the measured seconds.
    """

    model: str
    task: str
    status: str
    """``run`` | ``up to date`` | ``not applicable`` | ``left out``."""
    texts: int = 0
    """Unique texts the task asks the model to encode."""
    cached: int = 0
    """Of those, already in the embedding cache (or encoded by an earlier pair of the run)."""
    tokens: int = 0
    """Tokens of the texts to encode (after truncation)."""
    est_seconds: float | None = None
    """Estimated wall time: encoding plus ``overhead_seconds`` (None: no throughput known)."""
    overhead_seconds: float = 0.0
    """The task's own work without encoding (its dry run's seconds)."""
    actual_seconds: float | None = None
    reason: str = ""
    """Why a pair is left out (the experiment file's words)."""

    @property
    def to_encode(self) -> int:
        """Texts this pair will encode: ``texts - cached``."""
        return self.texts - self.cached


@dataclass(frozen=True)
class PlanFile:
    """``plan.json``: the rows of the last ``embedbench eval`` and when and where it was planned."""

    rows: list[PlanRow] = field(default_factory=list)
    machine: str = ""
    created: str = ""


def save_model_facts(results_dir: str | Path, facts: Iterable[ModelFacts]) -> Path:
    """Merge ``facts`` into ``models.json`` (by name; newer facts replace older), atomically."""
    merged = load_model_facts(results_dir)
    merged.update({f.name: f for f in facts})
    data = {name: dataclasses.asdict(f) for name, f in sorted(merged.items())}
    return write_json_atomic(Path(results_dir) / MODELS_FILE, data)


def load_model_facts(results_dir: str | Path) -> dict[str, ModelFacts]:
    """``models.json`` by model name; empty when absent or unreadable (the report then leaves cells blank)."""
    data = read_manifest(Path(results_dir) / MODELS_FILE) or {}
    known = {f.name for f in dataclasses.fields(ModelFacts)}
    return {name: ModelFacts(**{k: v for k, v in row.items() if k in known}) for name, row in data.items()
            if isinstance(row, dict)}


def save_plan(results_dir: str | Path, plan: PlanFile) -> Path:
    """Write ``plan.json`` atomically (the last run's plan replaces the previous one)."""
    return write_json_atomic(Path(results_dir) / PLAN_FILE, dataclasses.asdict(plan))


def load_plan(results_dir: str | Path) -> PlanFile | None:
    """``plan.json``, or None when absent or unreadable."""
    data: dict[str, Any] | None = read_manifest(Path(results_dir) / PLAN_FILE)
    if not data:
        return None
    known = {f.name for f in dataclasses.fields(PlanRow)}
    rows = [PlanRow(**{k: v for k, v in r.items() if k in known}) for r in data.get("rows", []) if isinstance(r, dict)]
    return PlanFile(rows=rows, machine=str(data.get("machine", "")), created=str(data.get("created", "")))
