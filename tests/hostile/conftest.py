"""The hostile-input workspace: tiny files of its own (pairs, STS, labelled texts, a corpus) and one
experiment file with a ``[prep]`` and an ``[eval]`` section, in a fresh folder with its own embedding cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PAIRS = [{"anchor": f"question {i} about topic {i * 3}", "positive": f"answer {i} with details"} for i in range(12)]

STS = [  # genre, file, year, id, score (0-5), sentence 1, sentence 2: the STS benchmark's layout
    ("main-captions", "MSRvid", "2012test", f"{i:04d}", f"{(i * 7) % 6:.3f}", f"A man is doing thing {i}.",
     f"Someone does thing {i * 2 % 5}.")
    for i in range(12)
]

CONFIG = """\
[prep]
output_dir = "prepared"
report = "reports/prep.md"

[prep.sets.toy]
train = [{ kind = "table", path = "pairs.jsonl", output = "pairs" }]
normalise = { token_count = "estimate", max_tokens = 64 }

[eval]
models = ["tiny"]
bootstrap = 100
report_name = "mini"
tasks = [{ name = "sts-mini", task = "stsb", path = "sts.tsv" }]

[eval.check]
candidate = "tiny"
tolerance = 0.0
"""


class Workspace:
    """A folder holding the tiny inputs and ``bench.toml``; helpers to change them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in PAIRS), encoding="utf-8")
        (root / "sts.tsv").write_text("".join("\t".join(r) + "\n" for r in STS), encoding="utf-8")
        (root / "corpus.txt").write_text("".join(f"document number {i} on a topic\n" for i in range(20)), encoding="utf-8")
        self.config = root / "bench.toml"
        self.config.write_text(CONFIG, encoding="utf-8")

    def edit(self, old: str, new: str) -> None:
        """Replace ``old`` (which must occur) with ``new`` in ``bench.toml``."""
        text = self.config.read_text(encoding="utf-8")
        assert old in text, old
        self.config.write_text(text.replace(old, new, 1), encoding="utf-8")

    def append(self, text: str) -> None:
        """Add ``text`` at the end of ``bench.toml``."""
        with self.config.open("a", encoding="utf-8") as f:
            f.write("\n" + text + "\n")

    def write(self, rel: str, content: str | bytes) -> Path:
        """Write a file under the workspace (bytes as given, text as UTF-8)."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    """A fresh workspace as the working directory, with an embedding cache of its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "embeddings.sqlite"))
    return Workspace(tmp_path)
