"""Evaluation during training: the dev split's natural evaluators per dataset, and the retrieval adapter.

Per training dataset with a dev split (:func:`natural_evaluators`), by its shape:

- pairs, triplets, n-tuples: ``InformationRetrievalEvaluator`` (``<name>-dev-retrieval``), built as below;
- triplets, n-tuples: ``TripletEvaluator`` (``<name>-dev-triplet``, on the first negative);
- scored pairs: ``EmbeddingSimilarityEvaluator`` (``<name>-dev-sts``);
- 0/1 pairs: ``BinaryClassificationEvaluator`` (``<name>-dev-binary``);

combined with ``SequentialEvaluator`` (:func:`combine`), beside the ``[train.eval]`` retrieval
evaluator named ``dev``. The retrieval adapter:

The adapter turns a prepared dev file into sentence-transformers' ``InformationRetrievalEvaluator``
(the trainer calls it at ``eval.steps`` and at the end; its metrics go to ``train_log.json``):

- queries: the distinct ``anchor`` texts (the first ``max_queries`` in file order, if set);
- corpus: the distinct ``positive`` texts of the whole dev file; as distractors, its ``negative``
  / ``negative_i`` texts (mined hard negatives, when the set has them) and the documents of an
  optional corpus (read by :func:`embedbench.data.corpus.read_corpus_texts`: a BEIR folder or
  corpus.jsonl, a table with ``text`` and optional ``title`` joined as mteb does, or a ``.txt`` file);
- relevant documents: each query's positives. Ids are content hashes of the texts, so the same
  document from the dev file and the corpus file is one document, with or without id columns.

A model under training has no stable fingerprint, so this evaluator encodes with the live model
instead of the shared embedding cache; the eval suite's own tasks score saved models.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from embedbench.data.corpus import read_corpus_texts
from embedbench.errors import EmbedbenchError
from embedbench.io import sha256_text

if TYPE_CHECKING:
    from sentence_transformers.base.evaluation import SentenceEvaluator
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

EVAL_NAME = "dev"
PRIMARY_METRIC = "cosine_ndcg@10"


def _id(text: str) -> str:
    return sha256_text(text)[:16]


def _read_table(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise EmbedbenchError(f"{path}: evaluation file not found; run `embedbench prep` or fix [train.eval]")
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix in (".jsonl", ".json"):
        return pl.read_ndjson(path)
    raise EmbedbenchError(f"{path}: expected a .parquet or .jsonl file")


def retrieval_data(
    dev: pl.DataFrame, *, corpus: list[str] | None = None, max_queries: int | None = None, where: str = "dev"
) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    """``(queries, corpus, relevant_docs)`` by content-hash id, from a dev frame of anchor/positive pairs."""
    missing = [c for c in ("anchor", "positive") if c not in dev.columns]
    if missing:
        raise EmbedbenchError(
            f"{where}: retrieval evaluation needs columns (anchor, positive); found ({', '.join(dev.columns)})"
        )
    pairs = dev.select("anchor", "positive").drop_nulls()
    if pairs.height == 0:
        raise EmbedbenchError(f"{where}: no (anchor, positive) rows to evaluate on")
    docs = {_id(t): t for t in pairs["positive"].unique(maintain_order=True).to_list()}
    negatives = [c for c in dev.columns if c == "negative" or c.startswith("negative_")]
    for col in negatives:
        for text in dev[col].drop_nulls().unique(maintain_order=True).to_list():
            docs.setdefault(_id(text), text)
    for text in corpus or ():
        docs.setdefault(_id(text), text)
    anchors = pairs["anchor"].unique(maintain_order=True).to_list()
    if max_queries is not None:
        anchors = anchors[:max_queries]
    queries = {_id(a): a for a in anchors}
    relevant: dict[str, set[str]] = {}
    for anchor, positive in pairs.filter(pl.col("anchor").is_in(anchors)).iter_rows():
        relevant.setdefault(_id(anchor), set()).add(_id(positive))
    return queries, docs, relevant


def build_dev_evaluator(
    dev_file: Path, *, corpus_file: Path | None = None, max_queries: int | None = None, batch_size: int = 32,
    corpus: list[str] | None = None,
) -> InformationRetrievalEvaluator:
    """An ``InformationRetrievalEvaluator`` named ``dev`` over ``dev_file`` (see the module docstring).

    Distractors: the documents of ``corpus_file``, else the texts ``corpus``.
    """
    texts = read_corpus_texts(corpus_file).to_list() if corpus_file is not None else corpus
    return retrieval_evaluator(
        EVAL_NAME, _read_table(dev_file), corpus=texts, max_queries=max_queries, batch_size=batch_size,
        where=str(dev_file),
    )


def sample_corpus(path: Path, max_docs: int | None, *, seed: int) -> list[str]:
    """The documents of corpus ``path``: all of them, or a seeded sample of ``max_docs`` when it has more."""
    texts = read_corpus_texts(path)
    if max_docs and len(texts) > max_docs:
        texts = texts.sample(max_docs, seed=seed)
    return texts.to_list()

def retrieval_evaluator(
    name: str, dev: pl.DataFrame, *, corpus: list[str] | None = None, max_queries: int | None = None,
    batch_size: int = 32, where: str = "dev",
) -> InformationRetrievalEvaluator:
    """An ``InformationRetrievalEvaluator`` named ``name`` over the (anchor, positive[, negatives]) frame ``dev``."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    queries, docs, relevant = retrieval_data(dev, corpus=corpus, max_queries=max_queries, where=where)
    return InformationRetrievalEvaluator(
        dict[str, Any](queries), dict[str, Any](docs), relevant, name=name, batch_size=batch_size, write_csv=False,
        show_progress_bar=False, main_score_function="cosine",
    )


NATURAL = {
    "pairs": ("retrieval",),
    "triplets": ("retrieval", "triplet"),
    "n-tuples": ("retrieval", "triplet"),
    "scored": ("sts",),
    "binary-pairs": ("binary",),
}
"""Shape -> the kinds of evaluator its dev split gets (other shapes: the eval loss only)."""

MAIN_METRIC = {
    "retrieval": "cosine_ndcg@10", "triplet": "cosine_accuracy", "sts": "spearman_cosine", "binary": "cosine_ap",
}
"""Kind -> the metric a person reads first (the key is ``<evaluator name>_<metric>``)."""


def natural_evaluators(
    dataset: str, dev: pl.DataFrame, shape: str, *, skip: tuple[str, ...] = (), corpus: list[str] | None = None,
    max_queries: int | None = None, batch_size: int = 32, where: str = "dev",
) -> list[SentenceEvaluator]:
    """The evaluators that fit a dev frame of ``shape`` (see the module docstring), named ``<dataset>-dev-<kind>``."""
    from sentence_transformers.sentence_transformer.evaluation import (
        BinaryClassificationEvaluator,
        EmbeddingSimilarityEvaluator,
        TripletEvaluator,
    )

    out: list[SentenceEvaluator] = []
    common = {"batch_size": batch_size, "show_progress_bar": False, "write_csv": False}
    for kind in NATURAL.get(shape, ()):
        if kind in skip:
            continue
        name = f"{dataset}-dev-{kind}"
        if kind == "retrieval":
            out.append(retrieval_evaluator(name, dev, corpus=corpus, max_queries=max_queries, batch_size=batch_size, where=where))
        elif kind == "triplet":
            negative = "negative" if "negative" in dev.columns else "negative_1"
            rows = dev.select("anchor", "positive", negative).drop_nulls()
            out.append(TripletEvaluator(
                rows["anchor"].to_list(), rows["positive"].to_list(), rows[negative].to_list(), name=name,
                similarity_fn_names=["cosine"], **common,
            ))
        elif kind == "sts":
            out.append(EmbeddingSimilarityEvaluator(
                dev["sentence1"].to_list(), dev["sentence2"].to_list(), dev["score"].cast(pl.Float64).to_list(),
                name=name, similarity_fn_names=["cosine"], **common,
            ))
        elif kind == "binary":
            out.append(BinaryClassificationEvaluator(
                dev["sentence1"].to_list(), dev["sentence2"].to_list(), dev["label"].cast(pl.Int64).to_list(),
                name=name, similarity_fn_names=["cosine"], **common,
            ))
    return out


def combine(evaluators: list[SentenceEvaluator]) -> SentenceEvaluator | None:
    """One evaluator for the trainer: the only one, or a ``SequentialEvaluator`` whose main score is the first's."""
    from sentence_transformers.base.evaluation import SequentialEvaluator

    if not evaluators:
        return None
    if len(evaluators) == 1:
        return evaluators[0]
    return SequentialEvaluator(evaluators, main_score_function=lambda scores: scores[0])
