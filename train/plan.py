"""Plan a fine-tuning run before any model loads: read and check every input, choose losses, hash.

``plan_training`` reads each dataset, picks its loss from the shape (or checks the named one against
the columns), checks loss options and wrappers, checks the evaluation files, resolves the base and
guide models to their fingerprints, and hashes inputs and config. Any mismatch fails here, with the
file and the fix, so a bad config never costs a model load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from embedbench import models
from embedbench.data.shapes import SHAPE_COLUMNS, detect_shape
from embedbench.errors import EmbedbenchError
from embedbench.io import config_hash, file_sha256, read_manifest
from embedbench.train.callbacks import check_callbacks
from embedbench.train.columns import CheckedData, check_columns, check_label, read_dataset
from embedbench.train.config import DatasetSpec, TrainConfig
from embedbench.train.losses import LossSpec, check_options, check_wrappers, choose_loss, spec_for
from embedbench.train.unsupervised import prepare_texts

# Where things live (their content is hashed as inputs) and checkpoint bookkeeping do not change the model.
# ``base_models`` is unset in each run's own config (its base is ``base_model``), so a base added to the list
# leaves the other runs up to date.
_NOT_HASHED = {"prepared_dir", "output_dir", "save_steps", "save_total_limit", "keep_checkpoints", "base_models"}


@dataclass(frozen=True)
class PlannedDataset:
    """A checked training dataset: its file, content hash, loss, the checked data and the frame the loss reads.

    ``frame`` is ``data.frame`` with the loss's teacher label as ``label``, or, for single texts, the
    pairs the unsupervised loss takes; ``label_dim`` is the teacher embedding width (MSE, EmbedDistill).
    """

    spec: DatasetSpec
    file: Path
    sha256: str
    loss: LossSpec
    data: CheckedData
    frame: pl.DataFrame
    label_dim: int | None = None
    dev_file: Path | None = None
    dev: CheckedData | None = None
    dev_frame: pl.DataFrame | None = None
    """The dev split checked against the same loss (for its evaluators) and in the loss's form (eval loss)."""


@dataclass(frozen=True)
class TrainPlan:
    """Everything decided before a model loads."""

    config: TrainConfig
    datasets: list[PlannedDataset]
    base_model: str
    base_fingerprint: str
    guides: dict[str, str]
    inputs: dict[str, Any]
    inputs_hash: str
    config_hash: str
    eval_corpus: Path | None = None
    """Distractor documents of the ``dev`` retrieval evaluator (``[train.eval] corpus`` or the set's mining corpus)."""


def _loss_name(spec: DatasetSpec, frame: pl.DataFrame, where: str) -> str:
    """The loss the config names, else the one chosen from the frame's shape."""
    if spec.loss is not None:
        return spec.loss
    shape = detect_shape(list(frame.columns))
    if shape is None:
        known = "; ".join(f"{k}: ({', '.join(v)})" for k, v in SHAPE_COLUMNS.items())
        raise EmbedbenchError(
            f"{where}: cannot choose a loss for columns ({', '.join(frame.columns)}); "
            f"expected one of the shapes {known}, or name a loss in [train.datasets] (name = {spec.name!r})"
        )
    return choose_loss(shape.name)


def _fit(
    cfg: TrainConfig, spec: DatasetSpec, loss: LossSpec, frame: pl.DataFrame, where: str
) -> tuple[CheckedData, pl.DataFrame, int | None]:
    """Check ``frame`` against ``loss``; return it checked, in the form the loss reads, and the label width."""
    data = check_columns(frame, loss=loss.name, shapes=loss.shapes, where=where)
    if loss.score_range is not None:
        lo, hi = loss.score_range
        bad = data.frame.with_row_index("row", offset=1).filter(~pl.col("score").is_between(lo, hi))
        if bad.height:
            raise EmbedbenchError(
                f"{where}: row {bad['row'][0]}, column 'score' is {bad['score'][0]}; loss {loss.name} "
                f"needs scores in [{lo}, {hi}] (normalise them in prep)"
            )
    fed, label_dim = data.frame, None
    if loss.label is not None:
        label, label_dim = check_label(frame, data.shape, loss.label, loss=loss.name, where=where)
        fed = fed.with_columns(label)
    if loss.prepare is not None:
        fed = prepare_texts(loss.prepare, data.frame, seed=cfg.seed, options=spec.loss_options)
    return data, fed, label_dim


def dev_file(cfg: TrainConfig, spec: DatasetSpec) -> Path | None:
    """The dev split beside a dataset's training split (``<set>/dev.parquet``), when per-dataset evaluation is on."""
    if cfg.eval is None or not (cfg.eval.datasets or cfg.eval.loss):
        return None
    file = cfg.dataset_file(spec)
    if file.name != f"{spec.split}.parquet":  # a file of its own, not a prepared set's split
        return None
    dev = file.with_name(f"{cfg.eval.split}.parquet")
    return dev if dev != file and dev.is_file() else None


def _plan_dataset(cfg: TrainConfig, spec: DatasetSpec) -> PlannedDataset:
    file = cfg.dataset_file(spec)
    frame = read_dataset(file)
    where = str(file)
    loss = spec_for(_loss_name(spec, frame, where))
    data, fed, label_dim = _fit(cfg, spec, loss, frame, where)
    if loss.sampler == "group_by_label" and (cfg.batch_size < 4 or cfg.batch_size % 2):
        raise EmbedbenchError(
            f"[train] batch_size = {cfg.batch_size}: loss {loss.name} (dataset {spec.name!r}) samples batches by "
            "label and needs an even batch_size >= 4"
        )
    check_options(loss.name, spec.loss_options, where=f"[train.datasets] {spec.name!r}")
    dev_path = dev_file(cfg, spec)
    dev = dev_fed = None
    if dev_path is not None:
        dev, dev_fed, _ = _fit(cfg, spec, loss, read_dataset(dev_path), str(dev_path))
    return PlannedDataset(spec, file, file_sha256(file), loss, data, fed, label_dim, dev_path, dev, dev_fed)


def set_corpus(eval_file: Path) -> dict[str, str] | None:
    """The mining corpus a prepared set's manifest records (``path``, ``sha256``), for the dev distractors."""
    manifest = read_manifest(eval_file.parent / "manifest.json") or {}
    for item in manifest.get("inputs", []):
        if str(item.get("key", "")).endswith(".negatives.corpus") and item.get("path"):
            if Path(item["path"]).exists():
                return {"path": str(item["path"]), "sha256": str(item["sha256"])}
    return None


def _check_eval_file(path: Path) -> None:
    if not path.is_file():
        raise EmbedbenchError(f"{path}: evaluation file not found; run `embedbench prep` or fix [train.eval]")
    columns = list(pl.read_parquet_schema(path)) if path.suffix == ".parquet" else []
    if columns and not {"anchor", "positive"} <= set(columns):
        raise EmbedbenchError(
            f"{path}: retrieval evaluation needs columns (anchor, positive); found ({', '.join(columns)})"
        )


def _config_for_hash(cfg: TrainConfig) -> dict[str, Any]:
    """The config that decides the model and its log (paths and checkpoint settings left out)."""
    data = cfg.model_dump(mode="json", exclude=_NOT_HASHED)
    for d in data["datasets"]:
        if d.get("path"):
            d["path"] = Path(d["path"]).name
    if data.get("eval"):
        for key in ("path", "corpus"):
            if data["eval"].get(key):
                data["eval"][key] = Path(data["eval"][key]).name
    return data


def guide_name(dataset: PlannedDataset) -> str:
    """The guide model a GISTEmbedLoss dataset names (its loss option, else the loss's default)."""
    return str(dataset.spec.loss_options.get("guide", dataset.loss.defaults.get("guide", "")))


def plan_training(cfg: TrainConfig) -> TrainPlan:
    """Read and check every input (columns vs. loss, options, wrappers) and hash them; loads no model."""
    datasets = [_plan_dataset(cfg, spec) for spec in cfg.datasets]
    check_callbacks(cfg)
    if cfg.card.datasets and len(cfg.card.datasets) != len(cfg.datasets):
        raise EmbedbenchError(
            f"[train.card] datasets lists {len(cfg.card.datasets)} name(s) for {len(cfg.datasets)} training "
            f"dataset(s) ({', '.join(d.name for d in cfg.datasets)}); give one per dataset, in order"
        )
    check_wrappers(
        [d.loss.name for d in datasets], matryoshka_dims=cfg.matryoshka_dims,
        adaptive_layers=cfg.adaptive_layers, where="[train]",
    )
    inputs: dict[str, Any] = {d.spec.name: {"path": str(d.file), "sha256": d.sha256} for d in datasets}
    for d in datasets:
        if d.dev_file is not None:
            inputs[f"{d.spec.name}:dev"] = {"path": str(d.dev_file), "sha256": file_sha256(d.dev_file)}
    eval_file = cfg.eval_file()
    eval_corpus = None
    if eval_file is not None:
        _check_eval_file(eval_file)
        inputs["eval"] = {"path": str(eval_file), "sha256": file_sha256(eval_file)}
        if cfg.eval and cfg.eval.corpus is not None:
            if not cfg.eval.corpus.is_file():
                raise EmbedbenchError(f"{cfg.eval.corpus}: [train.eval] corpus file not found")
            inputs["eval_corpus"] = {"path": str(cfg.eval.corpus), "sha256": file_sha256(cfg.eval.corpus)}
        elif cfg.eval and cfg.eval.set_corpus and (found := set_corpus(eval_file)) is not None:
            inputs["eval_corpus"] = found
        if "eval_corpus" in inputs:
            eval_corpus = Path(inputs["eval_corpus"]["path"])
    base = models.resolve(cfg.base_model)
    guides = {}
    for d in datasets:
        if d.loss.guide:
            guide = guide_name(d)
            guides[guide] = models.resolve(guide).fingerprint
    inputs["base_model"] = {"name": base.name, "fingerprint": base.fingerprint}
    inputs["guides"] = guides
    hashed = {k: (v["sha256"] if isinstance(v, dict) and "sha256" in v else v) for k, v in inputs.items()}
    return TrainPlan(
        cfg, datasets, base.path, base.fingerprint, guides, inputs, config_hash(hashed),
        config_hash(_config_for_hash(cfg)), eval_corpus,
    )
