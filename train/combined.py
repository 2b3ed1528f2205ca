"""Losses made of two sentence-transformers losses on one batch: InfoNCE (MNRL) plus Global Orthogonal Regularization.

This is the combination the sentence-transformers documentation of
``GlobalOrthogonalRegularizationLoss`` shows (the EmbeddingGemma recipe): the batch is embedded once,
MultipleNegativesRankingLoss and GOR are computed from the same embeddings, and the trainer logs and
sums the parts (``info_nce``, ``gor_mean``, ``gor_second_moment``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sentence_transformers.sentence_transformer.losses import (
    GlobalOrthogonalRegularizationLoss,
    MultipleNegativesRankingLoss,
)
from sentence_transformers.util import cos_sim
from torch import Tensor, nn


class InfoNCEGORLoss(nn.Module):
    """MultipleNegativesRankingLoss plus GlobalOrthogonalRegularizationLoss on the same embeddings.

    Args:
        model: the SentenceTransformer being trained.
        scale: MNRL's logit scale.
        similarity_fct: similarity for both parts (default cosine).
        mean_weight: weight of GOR's mean term (0 or None turns it off).
        second_moment_weight: weight of GOR's second-moment term.
    """

    def __init__(
        self,
        model: Any,
        scale: float = 20.0,
        similarity_fct: Any = cos_sim,
        mean_weight: float | None = 1.0,
        second_moment_weight: float | None = 1.0,
    ) -> None:
        super().__init__()
        self.model = model
        self.info_nce = MultipleNegativesRankingLoss(model, scale=scale, similarity_fct=similarity_fct)
        self.gor = GlobalOrthogonalRegularizationLoss(
            model, similarity_fct=similarity_fct, mean_weight=mean_weight, second_moment_weight=second_moment_weight
        )

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> dict[str, Tensor]:
        """The parts by name; the trainer sums them and logs each."""
        embeddings = [self.model(f)["sentence_embedding"] for f in sentence_features]
        parts: dict[str, Tensor] = {"info_nce": self.info_nce.compute_loss_from_embeddings(embeddings, labels)}
        gor = self.gor.compute_loss_from_embeddings(embeddings)
        parts.update(gor if isinstance(gor, dict) else {"gor": gor})
        return parts

    def get_config_dict(self) -> dict[str, Any]:
        """For the model card: both parts' settings."""
        return {"info_nce": self.info_nce.get_config_dict(), "gor": self.gor.get_config_dict()}
