"""Small builders the test folders share (plain functions: importing this module sets nothing)."""

from __future__ import annotations

import json
from pathlib import Path


def write_stsb_slice(shared_data: Path, path: Path, *, pairs: int = 40) -> Path:
    """The header and first ``pairs`` lines of the STS Benchmark test file at ``path`` (real data, tiny-sized)."""
    lines = (shared_data / "stsbenchmark" / "sts-test.csv").read_text(encoding="utf-8").splitlines()[:pairs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_scifact_slice(shared_data: Path, beir: Path, *, qrels: int, extra_docs: int) -> Path:
    """A BEIR folder at ``beir`` with the first ``qrels`` SciFact test judgements, their queries, their
    documents and the first ``extra_docs`` corpus documents as distractors (real data, small enough for tiny)."""
    (beir / "qrels").mkdir(parents=True)
    lines = (shared_data / "scifact" / "qrels" / "test.tsv").read_text().splitlines()
    kept = lines[1 : qrels + 1]
    (beir / "qrels" / "test.tsv").write_text("\n".join([lines[0], *kept]) + "\n")
    qids, rel_docs = {q.split("\t")[0] for q in kept}, {q.split("\t")[1] for q in kept}
    queries = [q for q in (shared_data / "scifact" / "queries.jsonl").read_text().splitlines()
               if json.loads(q)["_id"] in qids]
    (beir / "queries.jsonl").write_text("\n".join(queries) + "\n")
    corpus = (shared_data / "scifact" / "corpus.jsonl").read_text().splitlines()
    docs = [d for d in corpus if json.loads(d)["_id"] in rel_docs] + corpus[:extra_docs]
    (beir / "corpus.jsonl").write_text("\n".join(dict.fromkeys(docs)) + "\n")
    return beir
