"""The sentence-transformers trainer with one batch sampler per dataset, and its training arguments.

sentence-transformers takes one ``batch_sampler`` for all datasets; a multi-dataset run can mix an
in-batch-negative loss (needs ``NO_DUPLICATES``) with a batch-triplet loss (needs
``GROUP_BY_LABEL``), so :class:`PerDatasetSamplerTrainer` picks the sampler per dataset object.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from sentence_transformers.base.sampler import (
    BatchSamplers,
    DefaultBatchSampler,
    GroupByLabelBatchSampler,
    NoDuplicatesBatchSampler,
)
from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments
from torch.utils.data import RandomSampler

from embedbench.errors import EmbedbenchError
from embedbench.train.callbacks import best_metric, needs_best_model
from embedbench.train.config import TrainConfig


class PerDatasetSamplerTrainer(SentenceTransformerTrainer):
    """``SentenceTransformerTrainer`` whose batch sampler is chosen per training dataset.

    Args:
        samplers: ``{id(dataset): "no_duplicates" | "group_by_label" | "batch_sampler"}`` for the
            datasets passed as ``train_dataset``; others fall back to ``args.batch_sampler``.
    """

    def __init__(self, *args: Any, samplers: Mapping[int, str] | None = None, **kwargs: Any) -> None:
        self._samplers = dict(samplers or {})
        super().__init__(*args, **kwargs)

    def get_batch_sampler(  # noqa: D102 - see SentenceTransformerTrainer.get_batch_sampler
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
    ) -> Any:
        kind = self._samplers.get(id(dataset))
        kwargs: dict[str, Any] = {
            "batch_size": batch_size, "drop_last": drop_last, "valid_label_columns": valid_label_columns,
            "generator": generator, "seed": seed,
        }
        if kind == "no_duplicates":
            return NoDuplicatesBatchSampler(dataset, **kwargs)
        if kind == "group_by_label":
            return GroupByLabelBatchSampler(dataset, **kwargs)
        if kind == "batch_sampler":
            return DefaultBatchSampler(RandomSampler(dataset, generator=generator), **kwargs)
        return super().get_batch_sampler(dataset, batch_size, drop_last, valid_label_columns, generator, seed)


def precision_flags(precision: str) -> dict[str, bool]:
    """``fp16``/``bf16`` trainer flags: ``auto`` is bf16 on a GPU that supports it, else fp16, fp32 on CPU."""
    cuda = torch.cuda.is_available()
    if precision == "auto":
        if not cuda:
            return {"fp16": False, "bf16": False}
        bf16 = torch.cuda.is_bf16_supported()
        return {"fp16": not bf16, "bf16": bf16}
    if precision in ("fp16", "bf16") and not cuda:
        raise EmbedbenchError(f"[train] precision = {precision!r} needs a CUDA GPU; use 'auto' or 'fp32' on CPU")
    return {"fp16": precision == "fp16", "bf16": precision == "bf16"}


def training_arguments(cfg: TrainConfig, checkpoint_dir: Path, *, eval_steps: int | None) -> Any:
    """``SentenceTransformerTrainingArguments`` for ``cfg``; checkpoints go to ``checkpoint_dir``."""
    precision = precision_flags(cfg.precision)
    best: dict[str, Any] = {}
    if needs_best_model(cfg):
        metric = best_metric(cfg)
        best = {
            "load_best_model_at_end": True, "metric_for_best_model": f"eval_{metric}",
            "greater_is_better": not metric.endswith("loss"),
        }
    return SentenceTransformerTrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        warmup_steps=float(cfg.warmup_ratio),
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        eval_strategy="steps" if eval_steps else "no",
        eval_steps=eval_steps,
        batch_sampler=BatchSamplers.BATCH_SAMPLER,
        multi_dataset_batch_sampler=cfg.multi_dataset_sampler,
        report_to="none",
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        fp16=precision["fp16"],
        bf16=precision["bf16"],
        **best,
    )
