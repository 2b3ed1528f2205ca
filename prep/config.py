"""Schema of the ``[prep]`` section of bench.toml: evaluation splits, and sets with their sources and steps.

Example::

    [prep]
    model = "all-MiniLM-L6-v2"            # tokenizer for the too-long flag, encoder for semantic dedupe

    [prep.eval.stsb-test]                  # an evaluation split the leakage check protects
    source = { kind = "stsb", path = "stsbenchmark", split = "test" }

    [prep.sets.stsb]
    train = [{ kind = "stsb", path = "stsbenchmark", split = "train" }]
    dev = [{ kind = "stsb", path = "stsbenchmark", split = "dev" }]
    steps = ["normalise", "exact", "near", "leakage"]
    near = { on = "row", threshold = 0.9 }

Unknown keys are errors that list the allowed keys; choices list their allowed values.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from embedbench.config import DEFAULT_CONFIG, PREPARED_DIR, Experiment, StrictModel
from embedbench.data.shapes import SHAPES
from embedbench.data.spec import SourceSpec
from embedbench.errors import EmbedbenchError
from embedbench.models import DEFAULT_MODEL
from embedbench.prep.negatives.config import NegativesConfig
from embedbench.prep.teacher import TeacherConfig

_SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Step(StrEnum):
    """Filter stages, run in the order listed in ``steps``."""

    normalise = "normalise"
    exact = "exact"
    near = "near"
    semantic = "semantic"
    leakage = "leakage"


class NormaliseConfig(StrictModel):
    """Unicode form, whitespace, and the too-long check (``max_tokens = "model"``: the model's max sequence length)."""

    form: Literal["NFC", "NFKC"] = "NFC"
    lowercase: bool = False
    max_tokens: int | Literal["model"] = "model"
    token_count: Literal["tokenizer", "estimate"] = "tokenizer"
    long_texts: Literal["flag", "drop"] = "flag"


class ExactConfig(StrictModel):
    """Exact dedupe: on the row key (default: the shape's text columns) and, one by one, on single ``columns``."""

    row: bool = True
    key: list[str] | None = None
    columns: list[str] = []


class NearConfig(StrictModel):
    """MinHash-LSH near-duplicates on one column or the whole ``row``."""

    on: str = "row"
    threshold: float = Field(0.8, gt=0.0, lt=1.0)
    num_perm: int = Field(128, ge=16, le=1024)
    shingle: Literal["char", "word"] = "char"
    ngram: int = Field(5, ge=1, le=32)
    seed: int = Field(1, ge=0)
    verify: bool = True
    recall_weight: float = Field(0.9, gt=0.0, lt=1.0)
    """Weight of missed pairs vs false candidates when choosing bands x rows (datasketch uses 0.5)."""


class SemanticConfig(StrictModel):
    """Embedding near-duplicates: cosine >= ``threshold`` (FAISS range search) on one column or the row."""

    on: str = "row"
    threshold: float = Field(0.95, gt=0.0, le=1.0)
    model: str | None = None
    """Registry name or folder; default: ``[prep] model``."""


class SemanticLeakConfig(StrictModel):
    """Semantic leakage: training texts within a cosine ``threshold`` of an evaluation text (embeddings).

    ``threshold`` has no default on purpose: read ``embedbench contamination --calibrate`` (sampled
    pairs in each similarity band, for this data and model) and pick where copies and rewordings stop.
    """

    threshold: float = Field(gt=0.0, le=1.0)
    model: str | None = None
    """Registry name or folder; default: ``[prep] model``."""
    action: Literal["drop", "flag"] = "drop"
    """``drop``: reason ``leak_semantic``; ``flag``: keep the row, record its match (manifest ``leakage``)."""


class LeakageConfig(StrictModel):
    """Which evaluation splits to protect (default: all in ``[prep.eval]``), the near-duplicate test and the
    optional semantic test (``semantic = { threshold = 0.9 }``)."""

    against: list[str] | None = None
    near: bool = True
    threshold: float = Field(0.8, gt=0.0, lt=1.0)
    shingle: Literal["char", "word"] = "char"
    ngram: int = Field(5, ge=1, le=32)
    num_perm: int = Field(128, ge=16, le=1024)
    semantic: SemanticLeakConfig | None = None


class SplitConfig(StrictModel):
    """Grouped, hash-based split of the ``train`` sources when the set has no ``dev`` (or ``test``) sources."""

    dev: float = Field(0.1, ge=0.0, lt=1.0)
    test: float = Field(0.0, ge=0.0, lt=1.0)
    group_by: str | None = None
    """Column whose value keeps rows together (default: the shape's first column, e.g. ``anchor``)."""
    seed: int = Field(13, ge=0)

    @model_validator(mode="after")
    def _fractions(self) -> SplitConfig:
        if self.dev + self.test >= 1.0:
            raise ValueError(f"dev + test fractions must be below 1, got {self.dev} + {self.test}")
        return self


class EvalSplit(StrictModel):
    """One evaluation split: a source and the text columns to protect (default: the shape's text columns)."""

    source: SourceSpec
    columns: list[str] | None = None


class SetConfig(StrictModel):
    """One prepared set: sources per split, filter steps and their settings, optional negatives hook."""

    train: list[SourceSpec] = Field(min_length=1)
    dev: list[SourceSpec] = []
    test: list[SourceSpec] = []
    steps: list[Step] = [Step.normalise, Step.exact, Step.near, Step.leakage]
    normalise: NormaliseConfig = Field(default_factory=NormaliseConfig)
    exact: ExactConfig = Field(default_factory=ExactConfig)
    near: NearConfig = Field(default_factory=NearConfig)
    semantic: SemanticConfig = Field(default_factory=SemanticConfig)
    leakage: LeakageConfig = Field(default_factory=LeakageConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    negatives: NegativesConfig | None = None
    """Hard-negative mining of the train/dev pairs: ``MiningConfig`` keys, plus the ``corpus`` to mine from."""
    teacher: TeacherConfig | None = None
    """Teacher labels for distillation (after mining): ``model``, ``outputs`` (margin, scores, embeddings), ``splits``."""

    @property
    def shape(self) -> str:
        """The output shape shared by every source."""
        return self.train[0].shape

    @field_validator("steps")
    @classmethod
    def _unique_steps(cls, steps: list[Step]) -> list[Step]:
        dup = sorted({s.value for s in steps if steps.count(s) > 1})
        if dup:
            raise ValueError(f"step(s) {dup} listed twice; each step runs once")
        return steps

    @model_validator(mode="after")
    def _same_shape(self) -> SetConfig:
        for role in ("train", "dev", "test"):
            for i, spec in enumerate(getattr(self, role)):
                if spec.shape != self.shape:
                    raise ValueError(
                        f"{role}[{i}] produces {spec.shape!r} but train[0] produces {self.shape!r}; "
                        f"all sources of a set must have one shape, one of {list(SHAPES)}"
                    )
        if self.negatives is not None:
            if self.shape != "pairs":
                raise ValueError(f"negatives needs a 'pairs' set, this set produces {self.shape!r}")
        return self


class PrepConfig(StrictModel):
    """The whole ``[prep]`` section."""

    output_dir: str = PREPARED_DIR
    """Where the sets are written (``<output_dir>/<set>/``); ``[train]`` reads them from here."""
    report: str = "reports/prep.md"
    model: str = DEFAULT_MODEL
    eval: dict[str, EvalSplit] = {}
    sets: dict[str, SetConfig] = {}

    @model_validator(mode="after")
    def _names(self) -> PrepConfig:
        for kind, names in (("set", self.sets), ("eval split", self.eval)):
            for name in names:
                if not _SET_NAME.match(name):
                    raise ValueError(
                        f"{kind} name {name!r} must be letters, digits, '.', '_' or '-' (it names files)"
                    )
        for name, cfg in self.sets.items():
            if Step.leakage in cfg.steps:
                unknown = [s for s in cfg.leakage.against or [] if s not in self.eval]
                if unknown:
                    raise ValueError(
                        f"sets.{name}.leakage.against names unknown evaluation split(s) {unknown}; "
                        f"allowed: {sorted(self.eval)} (declare them under [prep.eval.<name>])"
                    )
        return self

    def against(self, name: str) -> list[str]:
        """Names of the evaluation splits set ``name`` is checked against."""
        cfg = self.sets[name]
        if Step.leakage not in cfg.steps:
            return []
        return list(cfg.leakage.against) if cfg.leakage.against is not None else list(self.eval)


def load_prep_config(path: str | Path = DEFAULT_CONFIG) -> PrepConfig:
    """The ``[prep]`` section of experiment file ``path`` (errors name the key and the allowed values)."""
    experiment = Experiment.load(path)
    if experiment.prep is None:
        raise EmbedbenchError(f"{path}: no [prep] section; add one (see prep/config.py for an example)")
    return experiment.section("prep", PrepConfig)
