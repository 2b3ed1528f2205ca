"""Trainer callbacks named in ``[train] callbacks``: checked before a model loads, built when training starts.

Any ``transformers.TrainerCallback`` subclass of the ``transformers`` package can be named; its
options are checked against its signature. ``EarlyStoppingCallback`` needs evaluation during training
and a metric to compare checkpoints by: :func:`check_callbacks` requires ``[train.eval] steps``,
``save_steps`` a multiple of it, and takes ``metric_for_best_model`` (default the ``dev`` evaluator's
nDCG@10); the trainer then keeps the best checkpoint and loads it at the end.
"""

from __future__ import annotations

import inspect
from typing import Any

from embedbench.errors import EmbedbenchError
from embedbench.train.config import TrainConfig

DEFAULT_BEST_METRIC = "dev_cosine_ndcg@10"
"""The metric early stopping watches when the config names none (the ``dev`` retrieval evaluator's)."""


def _callback_class(name: str) -> type:
    import transformers  # imports torch lazily; only the named attribute is touched

    cls = getattr(transformers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, transformers.TrainerCallback)):
        raise EmbedbenchError(
            f"[train] callbacks: {name!r} is not a transformers TrainerCallback; e.g. EarlyStoppingCallback"
        )
    return cls


def needs_best_model(cfg: TrainConfig) -> bool:
    """Whether a callback compares checkpoints (early stopping), so the best one must be tracked."""
    return any(c.name == "EarlyStoppingCallback" for c in cfg.callbacks)


def best_metric(cfg: TrainConfig) -> str:
    """The metric checkpoints are compared by (without the trainer's ``eval_`` prefix)."""
    return cfg.metric_for_best_model or DEFAULT_BEST_METRIC


def check_callbacks(cfg: TrainConfig) -> None:
    """Fail early for unknown callbacks, unknown options, and early stopping without what it needs."""
    for i, spec in enumerate(cfg.callbacks):
        params = inspect.signature(_callback_class(spec.name).__init__).parameters
        unknown = sorted(set(spec.options) - set(params) - {"self"})
        if unknown:
            allowed = [p for p in params if p not in ("self", "args", "kwargs")]
            raise EmbedbenchError(
                f"[train] callbacks[{i}] {spec.name}: no option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
            )
    if needs_best_model(cfg):
        steps = cfg.eval.steps if cfg.eval else None
        if steps is None:
            raise EmbedbenchError(
                "[train] callbacks: EarlyStoppingCallback needs evaluation during training: set [train.eval] steps"
            )
        if cfg.save_steps % steps:
            raise EmbedbenchError(
                f"[train] save_steps = {cfg.save_steps} must be a multiple of [train.eval] steps = {steps} for "
                "early stopping (the best checkpoint is chosen among the evaluated ones)"
            )


def build_callbacks(cfg: TrainConfig) -> list[Any]:
    """The configured callbacks, instantiated."""
    return [_callback_class(c.name)(**c.options) for c in cfg.callbacks]
