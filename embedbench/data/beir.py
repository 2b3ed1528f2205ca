"""BEIR folders (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``), e.g. SciFact.

Quirks handled: the qrels header line ``query-id corpus-id score``; ``queries.jsonl`` holding the
queries of every split (the split's qrels decide which belong to it); a missing ``title``; ids that
are JSON numbers. Duplicate ids and qrels naming unknown ids are errors (they would silently change
an evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from embedbench.data.common import (
    ROW,
    cast_column,
    parse_jsonl,
    raise_first_bad,
    read_lines,
    require_file,
    require_not_null,
    require_unique,
    split_fields,
    where,
)
from embedbench.data.shapes import CORPUS, QRELS, QUERIES, check_schema
from embedbench.errors import EmbedbenchError

QRELS_HEADER = ("query-id", "corpus-id", "score")


@dataclass(frozen=True)
class BeirData:
    """One split of a BEIR dataset: ``corpus`` (doc_id, title, text, row), ``queries`` (query_id, text, row)
    limited to the split's qrels, and ``qrels`` (query_id, doc_id, score, row)."""

    corpus: pl.DataFrame
    queries: pl.DataFrame
    qrels: pl.DataFrame
    split: str

    @property
    def relevant_docs(self) -> dict[str, dict[str, int]]:
        """Qrels as mteb's ``{query_id: {doc_id: score}}``."""
        out: dict[str, dict[str, int]] = {}
        for qid, did, score in self.qrels.select("query_id", "doc_id", "score").iter_rows():
            out.setdefault(qid, {})[did] = score
        return out


def read_corpus(path: str | Path) -> pl.DataFrame:
    """``corpus.jsonl`` rows ``{"_id", "title", "text"}`` -> frame ``doc_id, title, text, row``.

    A missing or null title becomes ``""``; a missing ``_id`` or ``text`` and duplicate ids raise.
    """
    path = require_file(path, "a BEIR corpus.jsonl")
    df = parse_jsonl(path, {"_id": pl.String, "title": pl.String, "text": pl.String}, "BEIR corpus lines")
    require_not_null(df, ["_id", "text"], path, fix='every corpus line needs "_id" and "text"')
    require_unique(df, "_id", path)
    df = df.rename({"_id": "doc_id"}).with_columns(pl.col("title").fill_null(""))
    df = df.select("doc_id", "title", "text", ROW)
    check_schema(df, CORPUS, str(path))
    return df


def read_queries(path: str | Path) -> pl.DataFrame:
    """``queries.jsonl`` rows ``{"_id", "text"}`` -> frame ``query_id, text, row``; duplicate ids raise."""
    path = require_file(path, "a BEIR queries.jsonl")
    df = parse_jsonl(path, {"_id": pl.String, "text": pl.String}, "BEIR query lines")
    require_not_null(df, ["_id", "text"], path, fix='every query line needs "_id" and "text"')
    require_unique(df, "_id", path)
    df = df.rename({"_id": "query_id"}).select("query_id", "text", ROW)
    check_schema(df, QUERIES, str(path))
    return df


def read_qrels(path: str | Path) -> pl.DataFrame:
    """``qrels/<split>.tsv`` (``query-id TAB corpus-id TAB score``, header optional) -> ``query_id, doc_id, score, row``.

    Scores must be integers (graded relevance is kept); a repeated (query, doc) pair raises.
    """
    path = require_file(path, "a BEIR qrels TSV (query-id, corpus-id, score)")
    lines = read_lines(path, what="BEIR qrels lines")
    first = lines.item(0, "line").strip().lower().replace("_", "-").split("\t")
    if tuple(first) == QRELS_HEADER:
        lines = lines.slice(1)
    if lines.height == 0:
        raise EmbedbenchError(
            f"{path}: no qrels after the header line; expected query-id, corpus-id, score lines"
        )
    df = split_fields(lines, path, ["query_id", "doc_id", "score"])
    df = cast_column(df, "score", pl.Int64, path, "an integer relevance score")
    df = df.with_columns(pl.col("query_id", "doc_id").str.strip_chars())
    dup = df.filter(pl.struct("query_id", "doc_id").is_duplicated())
    if dup.height:
        r = dup.row(0, named=True)
        rows = dup.filter((pl.col("query_id") == r["query_id"]) & (pl.col("doc_id") == r["doc_id"]))[
            ROW
        ].to_list()
        raise EmbedbenchError(
            f"{where(path, rows[-1])}: pair ({r['query_id']}, {r['doc_id']}) is judged more than once, "
            f"on lines {rows}; keep one line"
        )
    df = df.select("query_id", "doc_id", "score", ROW)
    check_schema(df, QRELS, str(path))
    return df


def require_known(
    qrels: pl.DataFrame, column: str, known: pl.DataFrame, path: Path, other: Path, label: str | None = None
) -> None:
    """Raise naming the first qrels line whose ``column`` id is not in ``known`` (read from ``other``)."""
    raise_first_bad(
        qrels.join(known.select(column), on=column, how="anti"),
        path,
        label or {"query_id": "query-id", "doc_id": "corpus-id"}[column],
        lambda r: f"id {r[column]!r} is not in {other}",
        f"add it to {other.name} or remove the qrels line",
    )


def read_beir(folder: str | Path, split: str) -> BeirData:
    """Read a BEIR folder's corpus, queries and ``qrels/<split>.tsv``; queries are limited to the split's qrels.

    Args:
        folder: folder holding ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/``.
        split: qrels file name without ``.tsv`` (e.g. ``"test"``, ``"train"``).
    """
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        have = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise EmbedbenchError(f"{qrels_path}: no qrels for split {split!r}; available splits: {have}")
    corpus = read_corpus(folder / "corpus.jsonl")
    queries = read_queries(folder / "queries.jsonl")
    qrels = read_qrels(qrels_path)
    require_known(qrels, "query_id", queries, qrels_path, folder / "queries.jsonl")
    require_known(qrels, "doc_id", corpus, qrels_path, folder / "corpus.jsonl")
    queries = queries.join(
        qrels.select("query_id").unique(), on="query_id", how="semi", maintain_order="left"
    )
    return BeirData(corpus=corpus, queries=queries, qrels=qrels, split=split)


def doc_text(title: pl.Expr, text: pl.Expr) -> pl.Expr:
    """mteb's document string: ``(title + " " + text).strip()`` (the text alone when the title is empty)."""
    return pl.concat_str([title.fill_null(""), pl.lit(" "), text.fill_null("")]).str.strip_chars()


def beir_pairs(data: BeirData, min_score: int = 1) -> pl.DataFrame:
    """(query, relevant document) pairs: ``anchor, positive, query_id, doc_id, score`` in qrels order.

    Only judgements with ``score >= min_score`` count as relevant (BEIR's score 0 means not relevant).
    """
    return (
        data.qrels.filter(pl.col("score") >= min_score)
        .join(
            data.queries.select("query_id", pl.col("text").alias("anchor")),
            on="query_id",
            maintain_order="left",
        )
        .join(
            data.corpus.select("doc_id", doc_text(pl.col("title"), pl.col("text")).alias("positive")),
            on="doc_id",
            maintain_order="left",
        )
        .select("anchor", "positive", "query_id", "doc_id", "score")
    )
