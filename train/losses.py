"""Which sentence-transformers loss fits which data, the batch sampler it needs, and building it.

``LOSSES`` lists every supported loss with the shapes it accepts (names from ``embedbench.data.shapes``), its batch
sampler (``no_duplicates`` for in-batch-negative losses, ``group_by_label`` for the batch-triplet
losses) and its options. ``AUTO_LOSS`` picks a loss from the shape when the config names none.
Everything here except :func:`build_loss` / :func:`wrap_loss` runs without torch or a model, so a
mismatch fails before any model loads.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from embedbench.data.shapes import ShapeName
from embedbench.errors import EmbedbenchError
from embedbench.models import DEFAULT_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from torch import nn

Sampler = Literal["no_duplicates", "group_by_label", "batch_sampler"]
Label = Literal["teacher_margin", "teacher_scores", "teacher_embedding"]
"""Label columns a prepared set carries for the distillation losses (written by ``prep/teacher.py``)."""
Prepare = Literal["ct-pairs", "tsdae"]
"""How single texts become the loss's inputs: pairs for ContrastiveTensionLoss, (noisy, original) for TSDAE."""

_RANKING: tuple[ShapeName, ...] = ("pairs", "triplets", "n-tuples")
_WITH_NEGATIVES: tuple[ShapeName, ...] = ("triplets", "n-tuples")
_ANY_TEXTS: tuple[ShapeName, ...] = ("texts", "pairs", "triplets", "n-tuples")


@dataclass(frozen=True)
class LossSpec:
    """A loss by name: its class in ``sentence_transformers.sentence_transformer.losses`` and needs.

    ``cls`` is a class of sentence-transformers' losses module, or ``module:Class`` for one of ours;
    ``label`` names the column the loss reads as its label (fed to the trainer as ``label``);
    ``prepare`` says how single texts are turned into the loss's inputs; ``guide`` marks losses that
    take a guide model (``loss_options.guide``); ``inputs`` / ``labels`` are the catalogue's words.
    """

    name: str
    cls: str
    shapes: tuple[ShapeName, ...]
    sampler: Sampler
    defaults: dict[str, Any] = field(default_factory=dict)
    score_range: tuple[float, float] | None = None
    label: Label | None = None
    prepare: Prepare | None = None
    guide: bool = False
    labels: str = "none"


_GUIDE = {"guide": DEFAULT_MODEL}
_BOTH_WAYS = {"directions": ("query_to_doc", "doc_to_query"), "partition_mode": "per_direction"}

LOSSES: dict[str, LossSpec] = {
    s.name: s
    for s in (
        LossSpec("MultipleNegativesRankingLoss", "MultipleNegativesRankingLoss", _RANKING, "no_duplicates"),
        LossSpec(
            "MultipleNegativesSymmetricRankingLoss", "MultipleNegativesRankingLoss", ("pairs",), "no_duplicates",
            defaults=_BOTH_WAYS,
        ),
        LossSpec(
            "CachedMultipleNegativesRankingLoss", "CachedMultipleNegativesRankingLoss", _RANKING, "no_duplicates"
        ),
        LossSpec(
            "CachedMultipleNegativesSymmetricRankingLoss", "CachedMultipleNegativesRankingLoss", ("pairs",),
            "no_duplicates", defaults=_BOTH_WAYS,
        ),
        LossSpec("GISTEmbedLoss", "GISTEmbedLoss", _RANKING, "no_duplicates", defaults=_GUIDE, guide=True),
        LossSpec("CachedGISTEmbedLoss", "CachedGISTEmbedLoss", _RANKING, "no_duplicates", defaults=_GUIDE, guide=True),
        LossSpec("MegaBatchMarginLoss", "MegaBatchMarginLoss", ("pairs",), "no_duplicates"),
        LossSpec(
            "InfoNCEGORLoss", "embedbench.train.combined:InfoNCEGORLoss", _RANKING, "no_duplicates",
        ),
        LossSpec("GlobalOrthogonalRegularizationLoss", "GlobalOrthogonalRegularizationLoss", _ANY_TEXTS, "batch_sampler"),
        LossSpec("CoSENTLoss", "CoSENTLoss", ("scored",), "batch_sampler", labels="float similarity score"),
        LossSpec(
            "AnglELoss", "AnglELoss", ("scored", *_WITH_NEGATIVES), "batch_sampler",
            labels="float similarity score (scored); none (triplets, n-tuples)",
        ),
        LossSpec(
            "CosineSimilarityLoss", "CosineSimilarityLoss", ("scored",), "batch_sampler", score_range=(-1.0, 1.0),
            labels="float similarity score in [-1, 1]",
        ),
        LossSpec("SoftmaxLoss", "SoftmaxLoss", ("pair-class",), "batch_sampler", labels="class"),
        LossSpec("ContrastiveLoss", "ContrastiveLoss", ("binary-pairs",), "batch_sampler", labels="0/1"),
        LossSpec("OnlineContrastiveLoss", "OnlineContrastiveLoss", ("binary-pairs",), "batch_sampler", labels="0/1"),
        LossSpec("BatchAllTripletLoss", "BatchAllTripletLoss", ("labelled",), "group_by_label", labels="class"),
        LossSpec("BatchHardTripletLoss", "BatchHardTripletLoss", ("labelled",), "group_by_label", labels="class"),
        LossSpec(
            "BatchHardSoftMarginTripletLoss", "BatchHardSoftMarginTripletLoss", ("labelled",), "group_by_label",
            labels="class",
        ),
        LossSpec("BatchSemiHardTripletLoss", "BatchSemiHardTripletLoss", ("labelled",), "group_by_label", labels="class"),
        LossSpec("TripletLoss", "TripletLoss", ("triplets",), "batch_sampler"),
        LossSpec(
            "MarginMSELoss", "MarginMSELoss", _WITH_NEGATIVES, "batch_sampler", label="teacher_margin",
            defaults={"similarity_fct": "pairwise_cos_sim"},
            labels="teacher_margin: teacher(a,p) - teacher(a,n) (a list of n margins for n-tuples)",
        ),
        LossSpec(
            "DistillKLDivLoss", "DistillKLDivLoss", _WITH_NEGATIVES, "batch_sampler", label="teacher_scores",
            defaults={"similarity_fct": "pairwise_cos_sim", "temperature": 0.05},
            labels="teacher_scores: [teacher(a,p), teacher(a,n_1) ..]",
        ),
        LossSpec(
            "MSELoss", "MSELoss", _ANY_TEXTS, "batch_sampler", label="teacher_embedding",
            labels="teacher_embedding: one teacher embedding per text column (projection when widths differ)",
        ),
        LossSpec(
            "EmbedDistillLoss", "EmbedDistillLoss", _ANY_TEXTS, "batch_sampler", label="teacher_embedding",
            labels="teacher_embedding: one teacher embedding per text column (projection when widths differ)",
        ),
        LossSpec("ContrastiveTensionLoss", "ContrastiveTensionLoss", ("texts",), "batch_sampler", prepare="ct-pairs"),
        LossSpec(
            "ContrastiveTensionLossInBatchNegatives", "ContrastiveTensionLossInBatchNegatives", ("texts",),
            "no_duplicates",
        ),
        LossSpec("DenoisingAutoEncoderLoss", "DenoisingAutoEncoderLoss", ("texts",), "batch_sampler", prepare="tsdae"),
    )
}
LOSS_NAMES: tuple[str, ...] = tuple(LOSSES)

AUTO_LOSS: dict[ShapeName, str] = {
    "pairs": "MultipleNegativesRankingLoss",
    "triplets": "MultipleNegativesRankingLoss",
    "n-tuples": "MultipleNegativesRankingLoss",
    "scored": "CoSENTLoss",
    "binary-pairs": "OnlineContrastiveLoss",
    "pair-class": "SoftmaxLoss",
    "labelled": "BatchAllTripletLoss",
    "texts": "ContrastiveTensionLossInBatchNegatives",
}
"""Shape -> the loss used when the config names none (sentence-transformers' usual recommendation; for
single texts the in-batch Contrastive Tension loss, which needs no decoder, unlike TSDAE)."""

PREPARE_OPTIONS: dict[Prepare, dict[str, Any]] = {"ct-pairs": {"pos_neg_ratio": 8}, "tsdae": {"del_ratio": 0.6}}
"""Options of the single-text preparation, settable in ``loss_options`` beside the loss's own."""

# Arguments we fill ourselves; the user may not set them in loss_options.
_FILLED = {"self", "model", "loss", "guide", "embedding_dimension", "num_labels"}
_EXTRA_OPTIONS = ("guide", *(k for opts in PREPARE_OPTIONS.values() for k in opts))
_METRIC_NAMESPACES = {
    "ContrastiveLoss": "SiameseDistanceMetric",
    "OnlineContrastiveLoss": "SiameseDistanceMetric",
    "TripletLoss": "TripletDistanceMetric",
    "BatchAllTripletLoss": "BatchHardTripletLossDistanceFunction",
    "BatchHardTripletLoss": "BatchHardTripletLossDistanceFunction",
    "BatchSemiHardTripletLoss": "BatchHardTripletLossDistanceFunction",
    "BatchHardSoftMarginTripletLoss": "BatchHardTripletLossDistanceFunction",
}


def spec_for(name: str) -> LossSpec:
    """The ``LossSpec`` of ``name``; an unknown name lists the allowed ones."""
    try:
        return LOSSES[name]
    except KeyError:
        raise EmbedbenchError(f"unknown loss {name!r}; allowed: {', '.join(LOSS_NAMES)}") from None


def choose_loss(shape: ShapeName) -> str:
    """The default loss for a dataset shape."""
    return AUTO_LOSS[shape]


def shapes_for(loss: str) -> tuple[ShapeName, ...]:
    """The shapes loss ``loss`` accepts."""
    return spec_for(loss).shapes


def losses_for(shape: ShapeName, columns: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Losses that accept ``shape``; a loss reading a label column fits only when ``columns`` has it."""
    return [s.name for s in LOSSES.values() if shape in s.shapes and (s.label is None or s.label in columns)]


def _loss_class(cls_name: str) -> type:
    if ":" in cls_name:
        import importlib

        module, _, attr = cls_name.partition(":")
        return getattr(importlib.import_module(module), attr)
    return getattr(_losses_module(), cls_name)


def allowed_options(name: str) -> tuple[str, ...]:
    """Keyword options ``loss_options`` may set for loss ``name`` (from the class signature)."""
    spec = spec_for(name)
    params = inspect.signature(_loss_class(spec.cls)).parameters
    extra: tuple[str, ...] = ("guide",) if spec.guide else ()
    if spec.prepare is not None:
        extra += tuple(PREPARE_OPTIONS[spec.prepare])
    return tuple(p for p in params if p not in _FILLED) + extra


def check_options(name: str, options: dict[str, Any], *, where: str) -> None:
    """Fail early when ``options`` holds a key the loss does not take, listing the allowed keys."""
    allowed = allowed_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise EmbedbenchError(
            f"{where}: loss {name} has no option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )


def _convert_option(loss_name: str, key: str, value: Any) -> Any:
    """Turn TOML values into what the loss takes (function names, tuples)."""
    if key == "similarity_fct" and isinstance(value, str):
        from sentence_transformers import util

        fn = getattr(util, value, None)
        if fn is None or not callable(fn):
            raise EmbedbenchError(f"loss {loss_name}: similarity_fct {value!r} is not in sentence_transformers.util")
        return fn
    if key == "distance_metric" and isinstance(value, str):
        namespace = getattr(_losses_module(), _METRIC_NAMESPACES[loss_name])
        choices = [k for k in vars(namespace) if not k.startswith("_")]
        if value not in choices:
            raise EmbedbenchError(f"loss {loss_name}: distance_metric {value!r}; allowed: {', '.join(choices)}")
        return getattr(namespace, value)
    if isinstance(value, list):
        return tuple(value)
    return value


def _losses_module() -> Any:
    from sentence_transformers.sentence_transformer import losses

    return losses


def build_loss(
    name: str,
    model: SentenceTransformer,
    options: dict[str, Any] | None = None,
    *,
    num_labels: int = 0,
    guide: SentenceTransformer | None = None,
    label_dim: int | None = None,
) -> nn.Module:
    """Instantiate loss ``name`` for ``model`` with the spec's defaults overridden by ``options``.

    ``num_labels`` is required by SoftmaxLoss; ``guide`` (a loaded model) by GISTEmbedLoss and
    CachedGISTEmbedLoss; ``label_dim`` (the teacher embedding width) gives MSELoss / EmbedDistillLoss a
    learnt projection when it differs from the model's width.
    """
    spec = spec_for(name)
    merged = {**spec.defaults, **(options or {})}
    for key in _EXTRA_OPTIONS:
        merged.pop(key, None)
    if spec.label == "teacher_embedding" and label_dim and "projection_dim" not in merged:
        if label_dim != model.get_embedding_dimension():
            merged["projection_dim"] = label_dim
    kwargs = {k: _convert_option(name, k, v) for k, v in merged.items()}
    cls = _loss_class(spec.cls)
    if name == "SoftmaxLoss":
        if num_labels < 2:
            raise EmbedbenchError(f"loss SoftmaxLoss needs at least 2 classes, found {num_labels}")
        return cls(model, embedding_dimension=model.get_embedding_dimension(), num_labels=num_labels, **kwargs)
    if spec.guide:
        if guide is None:
            raise EmbedbenchError(f"loss {name} needs a guide model (loss_options.guide)")
        return cls(model, guide=guide, **kwargs)
    return cls(model, **kwargs)


def check_wrappers(
    loss_names: list[str], *, matryoshka_dims: list[int] | None, adaptive_layers: bool, where: str
) -> None:
    """Fail early for wrapper combinations that cannot work (SoftmaxLoss has a fixed-size classifier)."""
    if (matryoshka_dims or adaptive_layers) and "SoftmaxLoss" in loss_names:
        raise EmbedbenchError(
            f"{where}: matryoshka_dims / adaptive_layers cannot wrap SoftmaxLoss (its classifier expects the "
            "full embedding); use another loss or turn the wrapper off"
        )


def wrap_loss(
    loss: nn.Module,
    model: SentenceTransformer,
    *,
    matryoshka_dims: list[int] | None = None,
    matryoshka_options: dict[str, Any] | None = None,
    adaptive_layers: bool = False,
    adaptive_layer_options: dict[str, Any] | None = None,
) -> nn.Module:
    """Wrap ``loss`` in MatryoshkaLoss, AdaptiveLayerLoss, or both at once (Matryoshka2dLoss)."""
    losses = _losses_module()
    dims = sorted(matryoshka_dims or [], reverse=True)
    full = model.get_embedding_dimension()
    if dims and full is not None and dims[0] > full:
        raise EmbedbenchError(f"matryoshka_dims {dims} exceed the model's embedding dimension {full}")
    if dims and adaptive_layers:
        opts = {**(matryoshka_options or {}), **(adaptive_layer_options or {})}
        return losses.Matryoshka2dLoss(model, loss, matryoshka_dims=dims, **opts)
    if dims:
        return losses.MatryoshkaLoss(model, loss, matryoshka_dims=dims, **(matryoshka_options or {}))
    if adaptive_layers:
        return losses.AdaptiveLayerLoss(model, loss, **(adaptive_layer_options or {}))
    return loss
