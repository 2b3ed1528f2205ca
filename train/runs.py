"""Every run of a ``[train]`` section, one after the other: one per base model of ``base_models``.

Each run is the single-base :func:`embedbench.train.run.train` of its own config (same datasets and
settings, its own base and folder), so each is skipped when up to date by the same manifest check. A
run whose base needs a GPU (``requires = "gpu"``) is skipped on a machine without one, with the reason.
Every base name and output folder is checked before the first run trains, so a typo in the third base
does not wait for the first two to finish.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from embedbench import models
from embedbench.errors import EmbedbenchError
from embedbench.io import check_output_dir
from embedbench.train.config import RunConfig, TrainConfig
from embedbench.train.run import TrainResult, train

Status = Literal["trained", "up to date", "needs a GPU"]


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one run: trained, up to date, or skipped because it needs a GPU."""

    run: RunConfig
    status: Status
    result: TrainResult | None = None
    """The run's result (None when it was skipped for want of a GPU)."""

    @property
    def run_dir(self) -> Path:
        """The run's model folder."""
        return self.run.config.run_dir

    @property
    def base_model(self) -> str:
        """The base model as the config names it."""
        return self.run.config.base_model


def check_runs(cfg: TrainConfig, *, source: str | Path | None = None) -> list[RunConfig]:
    """``cfg``'s runs, each one this machine will train checked: output folder and base model name (loads nothing)."""
    where = f"{source}: " if source is not None else ""
    key = "train.base_models" if cfg.base_models is not None else "train.base_model"
    runs = cfg.runs()
    for r in runs:
        if not r.available():
            continue
        check_output_dir(r.config.run_dir, f"{where}[train] output_dir / run {r.config.run!r}")
        try:
            models.lookup(r.config.base_model)
        except EmbedbenchError as exc:
            raise EmbedbenchError(f"{where}{key} = {r.config.base_model!r} (run {r.config.run!r}): {exc}") from None
    return runs


def train_all(
    cfg: TrainConfig, *, force: bool = False, callbacks: list[Any] | None = None, source: str | Path | None = None
) -> Iterator[RunOutcome]:
    """Train every run of ``cfg`` in order, yielding each outcome as soon as it is known.

    ``force`` retrains every run this machine can train; ``callbacks`` and ``source`` go to each
    :func:`~embedbench.train.run.train`. All runs are checked (:func:`check_runs`) before the first trains.
    """
    for r in check_runs(cfg, source=source):
        if not r.available():
            yield RunOutcome(r, "needs a GPU")
            continue
        result = train(r.config, force=force, callbacks=callbacks, source=source)
        yield RunOutcome(r, "up to date" if result.skipped else "trained", result)
