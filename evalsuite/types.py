"""What an evaluation task returns: numbers plus the per-item columns that statistics resample.

``per_item`` holds equal-length columns, one entry per query / pair / triplet. ``aggregations``
says how each metric is recomputed from those columns, so bootstrap CIs and paired tests work for
any task without knowing it:

- ``"mean:COL"``: mean of column COL (retrieval per-query metrics, triplet ``correct``)
- ``"spearman:PRED,GOLD"`` / ``"pearson:PRED,GOLD"``: correlation of two columns (STS)
- ``"ap:SCORE,LABEL"``: average precision of scores against 0/1 labels (pair classification)
- ``"best_f1:SCORE,LABEL"``: F1 at the best threshold (pair classification)

A metric missing from ``aggregations`` (e.g. mteb's own scores) has no CI. ``mteb_json`` is mteb's
own result where mteb produced it: the results store files it apart (``<model>/mteb/``), never inside ours.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass
class TaskResult:
    """One model on one task."""

    task: str
    task_type: str
    model: str
    model_fingerprint: str
    dataset: str
    dataset_hash: str
    main_metric: str
    metrics: dict[str, float]
    per_item: dict[str, list[Any]] = field(default_factory=dict)
    aggregations: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)
    mteb_json: dict[str, Any] | None = None

    @property
    def n_items(self) -> int:
        """Number of queries / pairs / triplets evaluated."""
        return len(next(iter(self.per_item.values()), []))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of our own fields (the results store writes this; ``mteb_json`` is filed apart)."""
        out = asdict(replace(self, mteb_json=None))
        del out["mteb_json"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskResult:
        """Inverse of ``to_dict``."""
        return cls(**data)
