"""The one corpus reader: document texts from a BEIR folder, a table, or a text file with one document a line.

Used wherever a pool of documents is needed (the negatives stage, ``embedbench mine --corpus``, the
training-time retrieval evaluator), so the same path gives the same texts everywhere:

- a folder holding ``corpus.jsonl``, or a file named ``corpus.jsonl``: BEIR documents, read with
  :func:`embedbench.data.beir.read_corpus` (ids checked);
- a ``.txt`` file: one document a line (blank lines are kept; mining ignores them);
- any other CSV, TSV, JSONL or Parquet table with a ``text`` column and an optional ``title``.

Documents with a title are mteb's string, ``(title + " " + text).strip()`` (:func:`doc_text`), so
corpora with titles hit the shared embedding cache like the eval suite's retrieval tasks.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from embedbench.data.beir import doc_text, read_corpus
from embedbench.data.common import read_lines
from embedbench.data.table import read_frame
from embedbench.errors import EmbedbenchError

KINDS = "a BEIR folder or corpus.jsonl, a CSV/TSV/JSONL/Parquet table with a `text` column, or a .txt file"


def read_corpus_texts(path: str | Path) -> pl.Series:
    """Document texts of the corpus at ``path`` (a ``text`` Series, in file order); see the module docstring.

    Errors name the file (and the line, for undecodable bytes or malformed JSON) and what to change.
    """
    path = Path(path)
    if path.is_dir():
        if not (path / "corpus.jsonl").is_file():
            raise EmbedbenchError(f"{path}: a corpus folder must hold corpus.jsonl (BEIR layout); or point at {KINDS}")
        path = path / "corpus.jsonl"
    if not path.is_file():
        raise EmbedbenchError(f"{path}: corpus not found; expected {KINDS}")
    if path.name == "corpus.jsonl":
        frame = read_corpus(path)
    elif path.suffix.lower() == ".txt":
        return read_lines(path, what="one document a line")["line"].alias("text")
    else:
        frame = read_frame(path)
    if "text" not in frame.columns:
        found = ", ".join(c for c in frame.columns if c != "row")
        raise EmbedbenchError(
            f"{path}: a corpus needs a 'text' column; found ({found}); name the document column `text` "
            "(and the titles, if any, `title`)"
        )
    title = pl.col("title").cast(pl.String) if "title" in frame.columns else pl.lit("")
    return frame.select(doc_text(title, pl.col("text").cast(pl.String)).alias("text")).to_series()
