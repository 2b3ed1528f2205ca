"""Readers: real-world sources into typed Polars frames (shapes in ``embedbench.data.shapes``).

One module per format: ``beir`` (SciFact), ``sts`` (STS Benchmark, STS12–16), ``snli``, ``mrpc``,
``labelled`` (Banking77), ``table`` (any CSV/TSV/JSONL/Parquet with a column mapping), ``hub``
(``datasets.load_dataset``, online only), and ``spec`` (``SourceSpec`` + ``read_source`` dispatch).

Policy: structural problems raise ``EmbedbenchError`` naming file, line, column, what was expected and
the fix (missing columns, nulls, wrong types, malformed lines, unknown labels, unknown or duplicate ids,
empty files, undecodable bytes). Rows are dropped only where the format itself says "no value"
(SNLI ``-`` labels: ``"no gold label"``; empty STS gold lines: ``"unscored (empty gold line)"``); pass a
list as ``dropped`` to receive them with a ``reason`` column. Empty texts are kept: the pipeline's
normalise stage drops them with a reason.
"""

from embedbench.data.beir import (
    BeirData,
    beir_pairs,
    doc_text,
    read_beir,
    read_corpus,
    read_qrels,
    read_queries,
)
from embedbench.data.hub import load_hub
from embedbench.data.labelled import labelled_pairs, labelled_triplets, read_labelled
from embedbench.data.mrpc import mrpc_positive_pairs, read_mrpc
from embedbench.data.snli import read_snli, snli_entailment_pairs, snli_triplets
from embedbench.data.spec import OUTPUTS, SourceSpec, read_source, resolve_path
from embedbench.data.sts import read_sts_gold, read_sts_pair, read_stsb
from embedbench.data.table import conform, read_frame, read_table

__all__ = [
    "OUTPUTS",
    "BeirData",
    "SourceSpec",
    "beir_pairs",
    "conform",
    "doc_text",
    "labelled_pairs",
    "labelled_triplets",
    "load_hub",
    "mrpc_positive_pairs",
    "read_beir",
    "read_corpus",
    "read_frame",
    "read_labelled",
    "read_mrpc",
    "read_qrels",
    "read_queries",
    "read_snli",
    "read_source",
    "read_sts_gold",
    "read_sts_pair",
    "read_stsb",
    "read_table",
    "resolve_path",
    "snli_entailment_pairs",
    "snli_triplets",
]
