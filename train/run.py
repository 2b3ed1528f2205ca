"""One fine-tuning run: train (resuming from a checkpoint), save, verify, record.

``train`` takes the plan of :func:`embedbench.train.plan.plan_training` (every input checked and hashed
before a model loads), then

1. skips when ``models/<run>/manifest.json`` records the same input and config hashes ("up to date")
   and the folder's model files still have the fingerprint the manifest records (a truncated or
   changed weights file is retrained, saying why);
2. resumes from the last checkpoint in ``models/<run>/.checkpoints`` when that checkpoint was written
   by the same inputs and config (stale checkpoints are removed);
3. trains with ``SentenceTransformerTrainer`` (a loss and a batch sampler per dataset);
4. saves the sentence-transformers folder (with its generated model card), reloads it and requires
   equal embeddings on a probe set (``np.allclose(atol=1e-5)``);
5. writes ``train_log.json`` and, last, ``manifest.json``: a folder without a current manifest is an
   unfinished run.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from embedbench import models
from embedbench.errors import EmbedbenchError
from embedbench.fingerprint import model_fingerprint
from embedbench.io import (
    check_output_dir,
    clean_temps,
    is_up_to_date,
    provenance,
    read_manifest,
    write_json_atomic,
)
from embedbench.train.callbacks import build_callbacks
from embedbench.train.config import TrainConfig
from embedbench.train.evaluation import build_dev_evaluator, combine, natural_evaluators, sample_corpus
from embedbench.train.losses import build_loss, wrap_loss
from embedbench.train.plan import TrainPlan, guide_name, plan_training

CHECKPOINTS = ".checkpoints"
PROBE_TEXTS = (
    "A man is playing a guitar.",
    "The new movie is awesome.",
    "Aspirin reduces the risk of heart attack.",
    "Where is the nearest train station?",
)


@dataclass(frozen=True)
class TrainResult:
    """What a run did: where the model is, whether it was skipped, steps, time, losses and metrics."""

    run_dir: Path
    skipped: bool
    steps: int = 0
    seconds: float = 0.0
    resumed_from: str | None = None
    losses: list[float] = field(default_factory=list)
    eval_before: dict[str, float] = field(default_factory=dict)
    eval_after: dict[str, float] = field(default_factory=dict)
    retrained_because: str | None = None
    """Why an up-to-date run was trained again (its model files no longer matched the manifest)."""


_OUR_FILES = ("manifest.json", "embedbench.json", "train_log.json", "modules.json", CHECKPOINTS)


def _prepare_run_dir(plan: TrainPlan, force: bool) -> str | None:
    """Clear the run folder (keeping matching checkpoints); return the checkpoint to resume from."""
    from transformers.trainer_utils import get_last_checkpoint  # expensive (torch); only when training

    run_dir = plan.config.run_dir
    ckpt_dir = run_dir / CHECKPOINTS
    stamp = read_manifest(ckpt_dir / "run.json") or {}
    matching = stamp.get("inputs_hash") == plan.inputs_hash and stamp.get("config_hash") == plan.config_hash
    if run_dir.exists():
        if any(run_dir.iterdir()) and not any((run_dir / name).exists() for name in _OUR_FILES):
            raise EmbedbenchError(
                f"{run_dir} exists and is not a training run folder (no manifest.json, modules.json or "
                f"{CHECKPOINTS}); refusing to clear it: choose another [train] run name or output_dir"
            )
        for child in run_dir.iterdir():
            if child.name == CHECKPOINTS and matching and not force:
                continue
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(ckpt_dir / "run.json", {"inputs_hash": plan.inputs_hash, "config_hash": plan.config_hash})
    return get_last_checkpoint(str(ckpt_dir))


def _hardware(precision: dict[str, bool]) -> dict[str, Any]:
    import torch  # expensive; only when training

    cuda = torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch_threads": torch.get_num_threads(),
        "precision": "bf16" if precision["bf16"] else "fp16" if precision["fp16"] else "fp32",
    }


def _probe_texts(plan: TrainPlan) -> list[str]:
    first = plan.datasets[0].data
    texts = first.frame[first.shape.texts[0]].head(12).to_list()
    return [*PROBE_TEXTS, *texts]


def verify_reload(model: Any, folder: Path, texts: list[str], *, atol: float = 1e-5) -> float:
    """Reload ``folder`` and require its embeddings of ``texts`` to equal ``model``'s; returns the max diff."""
    from sentence_transformers import SentenceTransformer  # expensive (torch); only when a model is saved

    reloaded = SentenceTransformer(str(folder), device=str(model.device), local_files_only=True)
    a = model.encode(texts, convert_to_numpy=True, show_progress_bar=False)
    b = reloaded.encode(texts, convert_to_numpy=True, show_progress_bar=False)
    diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
    if not np.allclose(a, b, atol=atol):
        raise EmbedbenchError(
            f"{folder}: the saved model does not reproduce the trained one (max abs difference {diff:.2e} "
            f"> {atol} on {len(texts)} probe texts, shapes {a.shape} vs {b.shape}); the save is broken"
        )
    return diff


def _split_log(history: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    steps: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    for entry in history:
        if "loss" in entry:
            steps.append({k: entry[k] for k in ("step", "epoch", "loss", "learning_rate", "grad_norm") if k in entry})
        elif any(k.startswith("eval_") for k in entry):
            evals.append({k.removeprefix("eval_"): v for k, v in entry.items()})
    return steps, evals


def train(
    cfg: TrainConfig, *, force: bool = False, callbacks: list[Any] | None = None, source: str | Path | None = None
) -> TrainResult:
    """Fine-tune ``cfg.base_model`` on ``cfg.datasets`` into ``models/<run>/`` (see the module docstring).

    ``force`` retrains even when up to date and ignores existing checkpoints. ``callbacks`` are extra
    ``transformers.TrainerCallback`` objects (tests use one to interrupt a run). ``source`` (the
    experiment file) is named in errors about a configured value. The output folder and the base
    model are checked before anything else.
    """
    where = f"{source}: " if source is not None else ""
    run_dir = cfg.run_dir
    check_output_dir(run_dir, f"{where}[train] output_dir / run")
    try:
        models.lookup(cfg.base_model)  # the name alone: building and hashing wait for the plan
    except EmbedbenchError as exc:
        raise EmbedbenchError(f"{where}train.base_model = {cfg.base_model!r}: {exc}") from None
    clean_temps(cfg.output_dir)
    plan = plan_training(cfg)
    because = None
    if not force and (run_dir / "modules.json").is_file() and is_up_to_date(
        run_dir / "manifest.json", plan.inputs_hash, plan.config_hash
    ):
        because = model_files_problem(run_dir)
        if because is None:
            return TrainResult(run_dir, skipped=True)
    result = _train(plan, force=force, callbacks=callbacks or [])
    return replace(result, retrained_because=because)


def model_files_problem(run_dir: Path) -> str | None:
    """Why a finished run's model files cannot be trusted (their fingerprint is not the recorded one), or None."""
    recorded = (read_manifest(run_dir / "manifest.json") or {}).get("model_fingerprint")
    try:
        now = model_fingerprint(run_dir)
    except (EmbedbenchError, OSError) as exc:
        return f"its model files do not read ({exc})"
    if now != recorded:
        return f"its model files changed since training (fingerprint {now}, recorded {recorded})"
    return None


def _losses_and_datasets(plan: TrainPlan, model: Any, device: str) -> tuple[dict, dict, dict[int, str]]:
    """Per dataset: the HF ``Dataset``, its (wrapped) loss, and its batch sampler keyed by dataset id."""
    from datasets import Dataset  # expensive (pyarrow, torch); only when training

    cfg = plan.config
    guides = {name: models.load_model(name, device=device) for name in plan.guides}
    train_sets: dict[str, Any] = {}
    losses: dict[str, Any] = {}
    samplers: dict[int, str] = {}
    for d in plan.datasets:
        ds = Dataset.from_polars(d.frame)
        guide = guides.get(guide_name(d))
        loss = build_loss(
            d.loss.name, model, d.spec.loss_options, num_labels=d.data.num_labels, guide=guide, label_dim=d.label_dim
        )
        losses[d.spec.name] = wrap_loss(
            loss, model, matryoshka_dims=cfg.matryoshka_dims, matryoshka_options=cfg.matryoshka_options,
            adaptive_layers=cfg.adaptive_layers, adaptive_layer_options=cfg.adaptive_layer_options,
        )
        train_sets[d.spec.name] = ds
        samplers[id(ds)] = d.loss.sampler
    return train_sets, losses, samplers


def _card(model: Any, plan: TrainPlan) -> None:
    """Model card fields: ``[train.card]`` (name, language, license, datasets, tags) and the base model's hub id."""
    card, data = plan.config.card, model.model_card_data
    data.model_name = card.model_name or plan.config.run
    if card.language:
        data.language = card.language
    if card.license:
        data.license = card.license
    if card.tags:
        data.add_tags(card.tags)
    if card.datasets:
        data.train_datasets = [{"name": n, **({"id": n} if n.count("/") == 1 else {})} for n in card.datasets]
    base_hub_id = models.hub_id(plan.inputs["base_model"]["name"])
    if base_hub_id is not None:  # named and linked in the generated card
        data.base_model = base_hub_id


def build_evaluation(plan: TrainPlan) -> tuple[Any, dict[str, Any]]:
    """The trainer's evaluator (``dev`` retrieval plus each dataset's natural ones) and its eval datasets."""
    from datasets import Dataset  # expensive (pyarrow, torch); only when training

    cfg = plan.config
    spec = cfg.eval
    eval_file = cfg.eval_file()
    if spec is None or eval_file is None:
        return None, {}
    corpus = sample_corpus(plan.eval_corpus, spec.max_corpus, seed=cfg.seed) if plan.eval_corpus else None
    evaluators = [build_dev_evaluator(eval_file, max_queries=spec.max_queries, batch_size=cfg.batch_size, corpus=corpus)]
    eval_sets: dict[str, Any] = {}
    for d in plan.datasets:
        if d.dev is None or d.dev_frame is None:
            continue
        if spec.datasets:
            skip = ("retrieval",) if d.dev_file == eval_file else ()
            evaluators += natural_evaluators(
                d.spec.name, d.dev.frame, d.dev.shape.name, skip=skip, max_queries=spec.max_queries,
                batch_size=cfg.batch_size, where=str(d.dev_file),
            )
        if spec.loss:
            eval_sets[d.spec.name] = Dataset.from_polars(d.dev_frame)
    return combine(evaluators), eval_sets


def _describe(evaluator: Any) -> list[dict[str, Any]]:
    """Name, class and size of each evaluator (for the log)."""
    if evaluator is None:
        return []
    out = []
    for e in getattr(evaluator, "evaluators", [evaluator]):
        size = {k: len(getattr(e, k)) for k in ("queries", "corpus", "anchors", "sentences1") if hasattr(e, k)}
        out.append({"name": e.name, "class": type(e).__name__, "primary_metric": e.primary_metric, **size})
    return out


def _evaluate(trainer: Any, evaluator: Any) -> dict[str, float]:
    """The evaluators' metrics on the current model, and each dev split's loss (``<dataset>_loss``)."""
    out = {k: float(v) for k, v in evaluator(trainer.model).items()} if evaluator is not None else {}
    if trainer.eval_dataset:
        trainer.evaluator = None  # the trainer would run it once per eval dataset
        try:
            out.update(_metrics(trainer.evaluate()))
        finally:
            trainer.evaluator = evaluator
    return out


def _metrics(result: dict[str, Any]) -> dict[str, float]:
    """Trainer metrics without the ``eval_`` prefix and without its timings."""
    skip = ("runtime", "samples_per_second", "steps_per_second", "epoch")
    return {k.removeprefix("eval_"): float(v) for k, v in result.items() if not k.endswith(skip)}


def _manifest(plan: TrainPlan, *, global_step: int, resume: str | None, seconds: float, max_diff: float) -> dict:
    from embedbench.train.trainer import precision_flags  # imports torch and the trainer; only when training

    cfg = plan.config
    datasets = {
        d.spec.name: {
            "rows": d.data.frame.height, "shape": d.data.shape.name, "columns": list(d.data.shape.columns),
            "ignored_columns": list(d.data.ignored_columns), "loss": d.loss.name, "sampler": d.loss.sampler,
            "label_map": d.data.label_map,
        }
        for d in plan.datasets
    }
    return {
        "step": "train", "run": cfg.run, "inputs_hash": plan.inputs_hash, "config_hash": plan.config_hash,
        "inputs": plan.inputs, "datasets": datasets, "config": cfg.model_dump(mode="json"), "seed": cfg.seed,
        "base_kind": "sentence-transformers" if (Path(plan.base_model) / "modules.json").is_file()
        else "plain transformer (mean pooling added)",
        "global_step": global_step, "resumed_from": resume, "seconds": seconds, "reload_max_abs_diff": max_diff,
        "model_fingerprint": model_fingerprint(cfg.run_dir),
        "hardware": _hardware(precision_flags(cfg.precision)), **provenance(),
    }


def _train(plan: TrainPlan, *, force: bool, callbacks: list[Any]) -> TrainResult:
    # expensive (torch, the trainer); imported only when a run really trains
    import torch
    from datasets import DatasetDict
    from transformers import set_seed

    from embedbench.train.trainer import PerDatasetSamplerTrainer, training_arguments

    cfg = plan.config
    started = time.perf_counter()
    resume = _prepare_run_dir(plan, force)
    set_seed(cfg.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = models.load_model(plan.base_model, device=device)
    if cfg.max_seq_length is not None:
        model.max_seq_length = cfg.max_seq_length
    _card(model, plan)
    train_sets, losses, samplers = _losses_and_datasets(plan, model, device)
    evaluator, eval_sets = build_evaluation(plan)
    ckpt_dir = cfg.run_dir / CHECKPOINTS
    trainer = PerDatasetSamplerTrainer(
        model=model, args=training_arguments(cfg, ckpt_dir, eval_steps=cfg.eval.steps if cfg.eval else None),
        train_dataset=DatasetDict(train_sets), loss=losses, evaluator=evaluator,
        callbacks=[*build_callbacks(cfg), *callbacks],
        samplers=samplers, eval_dataset=DatasetDict(eval_sets) if eval_sets else None,
    )
    eval_before = _evaluate(trainer, evaluator) if cfg.eval and cfg.eval.before_training else {}
    first = len(trainer.state.log_history)
    trainer.train(resume_from_checkpoint=resume)
    during = trainer.state.log_history[first:]
    eval_after = _evaluate(trainer, evaluator)
    model.save(str(cfg.run_dir))
    max_diff = verify_reload(model, cfg.run_dir, _probe_texts(plan))
    seconds = round(time.perf_counter() - started, 2)
    models.write_model_meta(
        cfg.run_dir, name=cfg.run, base_model=plan.inputs["base_model"]["name"],
        base_fingerprint=plan.base_fingerprint, train_seconds=seconds,
    )
    steps, _ = _split_log(trainer.state.log_history)
    _, evals = _split_log(during)
    global_step = int(trainer.state.global_step)
    write_json_atomic(cfg.run_dir / "train_log.json", {
        "run": cfg.run, "global_step": global_step, "resumed_from": resume,
        "evaluators": _describe(evaluator), "eval_before": eval_before, "eval_after": eval_after, "eval": evals,
        "steps": steps,
        "trainer_summary": next((e for e in reversed(trainer.state.log_history) if "train_runtime" in e), {}),
    })
    if not cfg.keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    manifest = _manifest(plan, global_step=global_step, resume=resume, seconds=seconds, max_diff=max_diff)
    write_json_atomic(cfg.run_dir / "manifest.json", manifest)  # last: marks the run as finished
    return TrainResult(
        cfg.run_dir, skipped=False, steps=global_step, seconds=seconds, resumed_from=resume,
        losses=[s["loss"] for s in steps], eval_before=eval_before, eval_after=eval_after,
    )
