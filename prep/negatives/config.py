"""How to mine: :class:`MiningConfig` (model, window, filters, sampling, output, index) and the set-level
:class:`NegativesConfig` (the same options plus the ``corpus`` a prepared set mines from)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from embedbench.config import StrictModel, validate_section
from embedbench.models import DEFAULT_MODEL

MiningOutput = Literal["triplets", "n-tuples", "binary-pairs", "labeled-list"]
"""Output shapes, named as everywhere else (:mod:`embedbench.data.shapes`); ``labeled-list`` is
sentence-transformers' ``(anchor, [documents], [labels])`` for rerankers (LambdaLoss, reranking evaluation)."""


class MiningConfig(StrictModel):
    """How to mine: model, candidate window, false-negative filters, sampling, output shape and index.

    Defaults follow NV-Retriever's TopK-PercPos (95%): top sampling with ``relative_margin=0.05``.
    """

    model: str = Field(DEFAULT_MODEL, min_length=1, description="registry name or model folder")
    range_min: int = Field(0, ge=0, description="skip this many best candidates (0 = start at the top)")
    range_max: int = Field(50, ge=1, description="consider candidates ranked below this")
    num_negatives: int = Field(3, ge=1, le=1000, description="negatives per anchor")
    absolute_margin: float | None = Field(None, ge=0.0, le=2.0, description="drop if neg + m > positive score")
    relative_margin: float | None = Field(
        0.05, ge=0.0, lt=1.0, description="drop if neg > pos - |pos| * r (0.05 = NV-Retriever TopK-PercPos)"
    )
    max_score: float | None = Field(None, ge=-1.0, le=1.0, description="drop candidates scoring above")
    min_score: float | None = Field(None, ge=-1.0, le=1.0, description="drop candidates scoring below")
    sampling: Literal["top", "random"] = Field("top", description="top | random")
    seed: int = Field(12345, ge=0, description="seed for random sampling, padding and the example sample")
    output: MiningOutput = Field("triplets", description="triplets | n-tuples | binary-pairs | labeled-list")
    include_positives: bool = Field(
        False, description="keep the anchor's positives among the candidates (a full ranking, for reranking sets)"
    )
    teacher: str | None = Field(
        None, min_length=1, description="rescore candidates with this (stronger) model for the false-negative filter"
    )
    teacher_relative_margin: float | None = Field(
        0.05, ge=0.0, lt=1.0, description="with teacher: drop if teacher(a,c) > t_pos - |t_pos| * r"
    )
    teacher_absolute_margin: float | None = Field(
        None, ge=0.0, le=2.0, description="with teacher: drop if teacher(a,c) + m > teacher(a,p)"
    )
    output_scores: bool = Field(False, description="add similarity scores to the output")
    shortfall: Literal["keep", "drop", "pad-random"] = Field(
        "drop", description="anchors with fewer than num_negatives: keep them short, drop them, or pad at random"
    )
    index: Literal["auto", "flat", "ivf"] = Field("auto", description="auto | flat | ivf")
    auto_threshold: int = Field(200_000, ge=1, description="auto: exact search up to this corpus size, IVF above")
    nlist: int | None = Field(None, ge=1, description="IVF lists (default sqrt(corpus size))")
    nprobe: int = Field(32, ge=1, description="IVF lists searched per query")
    batch_size: int = Field(1024, ge=1, description="anchors per search batch (memory ~ batch_size x k)")
    query_prompt: str | None = Field(None, description="prompt prepended to anchors")
    corpus_prompt: str | None = Field(None, description="prompt prepended to corpus texts")
    examples: int = Field(20, ge=0, le=10_000, description="anchors sampled into the eyeballing frame")

    @model_validator(mode="after")
    def _check_ranges(self) -> MiningConfig:
        if self.range_max <= self.range_min:
            raise ValueError(f"range_max ({self.range_max}) must be greater than range_min ({self.range_min})")
        if self.num_negatives > self.range_max - self.range_min:
            raise ValueError(
                f"num_negatives ({self.num_negatives}) does not fit the window [range_min={self.range_min}, "
                f"range_max={self.range_max}): raise range_max or lower num_negatives"
            )
        if self.min_score is not None and self.max_score is not None and self.min_score >= self.max_score:
            raise ValueError(f"min_score ({self.min_score}) must be below max_score ({self.max_score})")
        if self.nlist is not None and self.nprobe > self.nlist:
            raise ValueError(f"nprobe ({self.nprobe}) cannot exceed nlist ({self.nlist})")
        if self.include_positives and self.output not in ("n-tuples", "labeled-list"):
            raise ValueError(
                f"include_positives keeps the ranking order, which needs output 'n-tuples' or 'labeled-list' "
                f"(got {self.output!r})"
            )
        return self


class NegativesConfig(MiningConfig):
    """A prepared set's ``negatives`` table: the mining options, plus the ``corpus`` whose documents join
    the candidate pool (a BEIR folder or corpus.jsonl, a table with ``text``, or a ``.txt`` file; relative
    paths are tried in the working directory, then in the data folder). Without it, the set's positives
    are the pool."""

    corpus: str | None = Field(None, min_length=1, description="documents added to the candidate pool")

    def mining(self) -> MiningConfig:
        """The mining options alone (what the mining statistics record)."""
        return MiningConfig.model_validate(self.model_dump(exclude={"corpus"}))


def make_config(**options: Any) -> MiningConfig:
    """Build a :class:`MiningConfig`, turning validation errors into one ``EmbedbenchError``."""
    return validate_section(MiningConfig, options, section="mine", source="mining options")
