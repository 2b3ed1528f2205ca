"""The ``[train]`` section of ``bench.toml``: a validated pydantic schema and its loader.

Relative paths (datasets, corpus, output) are resolved against the folder of the config file, so
``embedbench train --config some/dir/bench.toml`` works from any working directory.

Example::

    [train]
    run = "minilm-scifact"
    base_model = "all-MiniLM-L6-v2"
    epochs = 1
    batch_size = 16

    [[train.datasets]]
    name = "scifact"
    set = "scifact"                 # data/prepared/scifact/train.parquet
    loss = "MultipleNegativesRankingLoss"   # optional: chosen from the columns when absent
    loss_options = { scale = 20.0 }

    [train.eval]
    set = "scifact"                 # its dev split feeds a retrieval evaluator

Several bases, one recipe: ``base_models`` instead of ``base_model`` trains the same datasets with the
same settings once per base, one after the other, each into its own folder (``models/<run>-<base name>``
unless the entry names its ``run``)::

    base_models = ["all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2",
                   { model = "all-mpnet-base-v2", requires = "gpu" }]   # skipped on a CPU-only machine

:meth:`TrainConfig.runs` gives each run as a single-base config (the names come from
:func:`embedbench.config.train_runs`, which the ``"@train"`` wiring uses too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from embedbench.config import (
    DEFAULT_CONFIG,
    MODELS_DIR,
    PREPARED_DIR,
    RUN,
    RUN_PATTERN,
    BaseModels,
    Experiment,
    StrictModel,
    TrainRun,
    train_runs,
    validate_section,
)
from embedbench.errors import EmbedbenchError
from embedbench.models import DEFAULT_MODEL, REGISTRY
from embedbench.train.losses import LOSS_NAMES

Precision = Literal["auto", "fp32", "fp16", "bf16"]

# Each dataset's loss becomes a torch submodule named after the dataset, so a dataset may not be named
# like an ``nn.Module`` attribute (``train``, ``eval``, ``forward`` ...).
_RESERVED_NAMES = frozenset(
    {"train", "eval", "forward", "state_dict", "parameters", "modules", "children", "to", "cpu", "cuda", "float",
     "half", "double", "type", "apply", "zero_grad", "training", "dataset_name", "return_loss"}
)


class DatasetSpec(StrictModel):
    """One training dataset: a prepared set (by name) or a Parquet file, and optionally its loss."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    set: str | None = None
    path: Path | None = None
    split: str = "train"
    loss: str | None = None
    loss_options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.set is None) == (self.path is None):
            raise ValueError("give exactly one of `set` (a prepared set name) or `path` (a Parquet file)")
        if self.loss is not None and self.loss not in LOSS_NAMES:
            raise ValueError(f"unknown loss {self.loss!r}; allowed: {', '.join(LOSS_NAMES)}")
        return self


class EvalSpec(StrictModel):
    """Retrieval evaluation during training on a dev split of (anchor, positive) pairs.

    ``set``/``path`` name the dev data (default: the first dataset's ``dev`` split); ``corpus`` adds
    distractor documents (Parquet or JSONL with ``doc_id``/``_id``, optional ``title``, ``text``).
    """

    set: str | None = None
    path: Path | None = None
    split: str = "dev"
    corpus: Path | None = None
    max_queries: int | None = Field(default=None, gt=0)
    steps: int | None = Field(default=None, gt=0)
    before_training: bool = True
    set_corpus: bool = True
    """Without ``corpus``: use the mining corpus the eval set's manifest records as distractors."""
    max_corpus: int | None = Field(default=2000, ge=0)
    """At most this many distractor documents (a seeded sample when the corpus is larger); 0 or None: all."""
    datasets: bool = True
    """Also evaluate every training dataset on its own dev split with the evaluators that fit its shape."""
    loss: bool = True
    """Also compute each dataset's loss on its dev split (the eval-dataset loss)."""

    @model_validator(mode="after")
    def _at_most_one_source(self) -> EvalSpec:
        if self.set is not None and self.path is not None:
            raise ValueError("give at most one of `set` or `path`")
        return self


class CardSpec(StrictModel):
    """Model card fields (sentence-transformers' ``model_card_data``); unset ones are left to the library."""

    model_name: str | None = None
    """Name in the card's title (default: the run name)."""
    language: list[str] | None = None
    license: str | None = None
    datasets: list[str] = Field(default_factory=list)
    """Names (or hub ids) of the training data, listed under the card's datasets."""
    tags: list[str] = Field(default_factory=list)


class CallbackSpec(StrictModel):
    """A ``transformers`` trainer callback by class name, with its keyword options."""

    name: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


class TrainConfig(StrictModel):
    """Everything that decides a fine-tuning run (its hash guards the output folder)."""

    run: str = Field(default=RUN, pattern=RUN_PATTERN)
    base_model: str = DEFAULT_MODEL
    base_models: BaseModels = None
    """Several bases trained with this one recipe, one run each (instead of ``base_model``); see :meth:`runs`."""
    datasets: list[DatasetSpec] = Field(min_length=1)
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int | None = Field(default=None, gt=0)
    batch_size: int = Field(default=16, ge=2)
    learning_rate: float = Field(default=2e-5, gt=0)
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1)
    weight_decay: float = Field(default=0.01, ge=0)
    seed: int = 42
    max_seq_length: int | None = Field(default=None, gt=0)
    precision: Precision = "auto"
    logging_steps: int = Field(default=1, gt=0)
    save_steps: int = Field(default=200, gt=0)
    save_total_limit: int = Field(default=2, gt=0)
    keep_checkpoints: bool = False
    multi_dataset_sampler: Literal["proportional", "round_robin"] = "proportional"
    matryoshka_dims: list[int] | None = None
    matryoshka_options: dict[str, Any] = Field(default_factory=dict)
    adaptive_layers: bool = False
    adaptive_layer_options: dict[str, Any] = Field(default_factory=dict)
    eval: EvalSpec | None = None
    card: CardSpec = Field(default_factory=CardSpec)
    callbacks: list[CallbackSpec] = Field(default_factory=list)
    """e.g. ``[{ name = "EarlyStoppingCallback", options = { early_stopping_patience = 2 } }]``."""
    metric_for_best_model: str | None = None
    """Metric the best checkpoint is chosen by (early stopping), e.g. ``dev_cosine_ndcg@10`` or ``scifact_loss``."""
    prepared_dir: Path = Path(PREPARED_DIR)
    """Where the prepared sets are read from; in an experiment file it defaults to ``[prep] output_dir``."""
    output_dir: Path = Path(MODELS_DIR)

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        names = [d.name for d in self.datasets]
        if len(set(names)) != len(names):
            raise ValueError(f"dataset names must be unique, got {names}")
        clashes = [n for n in names if n in _RESERVED_NAMES or n.startswith("_")]
        if clashes:
            raise ValueError(f"dataset name(s) {clashes} are reserved by torch modules; rename them (e.g. '{clashes[0]}_set')")
        if self.matryoshka_dims is not None:
            dims = self.matryoshka_dims
            if not dims or any(d <= 0 for d in dims) or len(set(dims)) != len(dims):
                raise ValueError(f"matryoshka_dims must be distinct positive integers, got {dims}")
        if self.matryoshka_options and self.matryoshka_dims is None:
            raise ValueError("matryoshka_options needs matryoshka_dims")
        if self.adaptive_layer_options and not self.adaptive_layers:
            raise ValueError("adaptive_layer_options needs adaptive_layers = true")
        return self

    @property
    def run_dir(self) -> Path:
        """``<output_dir>/<run>``: the model folder with log and manifest (of a single-base config)."""
        if self.base_models is not None:
            raise EmbedbenchError(
                f"[train] base_models gives {len(self.base_models)} runs, each with its own folder; "
                "take them from TrainConfig.runs()"
            )
        return self.output_dir / self.run

    def runs(self) -> list[RunConfig]:
        """Every run this config asks for, in order, each as a single-base config (``base_models`` unset)."""
        if self.base_models is None:
            return [RunConfig(TrainRun(self.run, self.base_model), self)]
        named = train_runs({"run": self.run, "base_models": self.base_models})
        return [
            RunConfig(r, self.model_copy(update={"run": r.run, "base_model": r.base_model, "base_models": None}))
            for r in named
        ]

    def dataset_file(self, spec: DatasetSpec) -> Path:
        """The Parquet file a dataset spec names."""
        if spec.path is not None:
            return spec.path
        return self.prepared_dir / str(spec.set) / f"{spec.split}.parquet"

    def eval_file(self) -> Path | None:
        """The dev Parquet file of the evaluation, or None when evaluation is off."""
        if self.eval is None:
            return None
        if self.eval.path is not None:
            return self.eval.path
        if self.eval.set is not None:
            return self.prepared_dir / self.eval.set / f"{self.eval.split}.parquet"
        first = self.datasets[0]
        return self.dataset_file(first).with_name(f"{self.eval.split}.parquet")


@dataclass(frozen=True)
class RunConfig:
    """One run of a ``[train]`` section: its name, base and requirement, and the single-base config it trains."""

    run: TrainRun
    config: TrainConfig

    def available(self) -> bool:
        """True when this machine can train it (see :meth:`TrainRun.available`)."""
        return self.run.available()


def _resolve_base(name: str, base: Path) -> str:
    """A base model named by a folder relative to the config file, made absolute; any other name as given."""
    folder = Path(name)
    if not folder.is_absolute() and (base / folder).is_dir() and name not in REGISTRY:
        return str(base / folder)
    return name


def _resolve_paths(cfg: TrainConfig, base: Path) -> TrainConfig:
    """Make relative paths absolute against ``base`` (the config file's folder)."""

    def fix(p: Path | None) -> Path | None:
        return None if p is None or p.is_absolute() else (base / p)

    datasets = [d.model_copy(update={"path": fix(d.path) or d.path}) for d in cfg.datasets]
    update: dict[str, Any] = {
        "datasets": datasets,
        "prepared_dir": fix(cfg.prepared_dir) or cfg.prepared_dir,
        "output_dir": fix(cfg.output_dir) or cfg.output_dir,
    }
    if cfg.eval is not None:
        update["eval"] = cfg.eval.model_copy(
            update={"path": fix(cfg.eval.path) or cfg.eval.path, "corpus": fix(cfg.eval.corpus) or cfg.eval.corpus}
        )
    if _resolve_base(cfg.base_model, base) != cfg.base_model:
        update["base_model"] = _resolve_base(cfg.base_model, base)
    if cfg.base_models is not None:
        update["base_models"] = [e.model_copy(update={"model": _resolve_base(e.model, base)}) for e in cfg.base_models]
    return cfg.model_copy(update=update)


def parse_train_config(data: dict[str, Any], *, source: str | Path = DEFAULT_CONFIG) -> TrainConfig:
    """Validate a ``[train]`` table (already parsed) and resolve its paths against ``source``'s folder."""
    if not data or not data.get("datasets"):
        raise EmbedbenchError(
            f"{source}: [train] needs at least one dataset: add a [[train.datasets]] table with a name and a "
            'prepared set, e.g. name = "scifact" and set = "scifact"'
        )
    train_runs(data, source=source)  # run names: both base keys at once, malformed entries, clashes
    cfg = validate_section(TrainConfig, data, section="train", source=source)
    return _resolve_paths(cfg, Path(source).resolve().parent)


def load_train_config(path: str | Path = DEFAULT_CONFIG) -> TrainConfig:
    """The ``[train]`` section of experiment file ``path`` (``prepared_dir`` defaults to ``[prep] output_dir``)."""
    return parse_train_config(Experiment.load(path).train or {}, source=path)
