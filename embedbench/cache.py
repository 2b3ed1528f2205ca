"""A persistent embedding cache in SQLite, shared by prep (mining, semantic dedupe) and the eval suite.

Rows are keyed by an *embedding space* (model fingerprint + prompt + max sequence length +
normalisation) and the SHA-256 of the text. Every write happens in a transaction, so an exception
or a killed process leaves the store readable and consistent: at worst the last batch is missing.

A file that is not a database, or a damaged one (truncated, overwritten), holds nothing that can be
trusted and nothing that cannot be recomputed: on opening it is moved aside as
``<name>.damaged-<time>`` and a new cache is started, said in one line on stderr. Damage found later
(a page read mid-run) is an ``EmbedbenchError`` naming the file and ``embedbench cache clear``, which
moves it aside the same way.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from embedbench.errors import EmbedbenchError
from embedbench.io import sha256_text
from embedbench.paths import embedding_db

_LOOKUP_CHUNK = 500
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
"""SQLite's codes for a file that is not a database or is damaged (a locked or busy one is not)."""
_SIDE_FILES = ("-wal", "-shm", "-journal")


def is_damage(exc: BaseException) -> bool:
    """True when ``exc`` says the database file is damaged or not a database."""
    return isinstance(exc, sqlite3.DatabaseError) and getattr(exc, "sqlite_errorcode", None) in _DAMAGED


def _warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spaces (
    space TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    prompt TEXT NOT NULL,
    max_seq_length INTEGER,
    normalize INTEGER NOT NULL,
    dim INTEGER,
    hits INTEGER NOT NULL DEFAULT 0,
    misses INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS embeddings (
    space TEXT NOT NULL,
    text_hash BLOB NOT NULL,
    vec BLOB NOT NULL,
    PRIMARY KEY (space, text_hash)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Space:
    """What makes two embeddings of the same text comparable."""

    model: str
    fingerprint: str
    prompt: str = ""
    max_seq_length: int | None = None
    normalize: bool = True

    @property
    def key(self) -> str:
        """Short stable id of this space."""
        raw = f"{self.fingerprint}|{self.prompt}|{self.max_seq_length}|{int(self.normalize)}"
        return sha256_text(raw)[:24]


@dataclass(frozen=True)
class SpaceStats:
    """Counters and size of one embedding space in the cache."""

    model: str
    fingerprint: str
    prompt: str
    max_seq_length: int | None
    normalize: bool
    dim: int | None
    rows: int
    hits: int
    misses: int
    bytes: int

    @property
    def hit_ratio(self) -> float:
        """Hits over all lookups (0 when nothing was looked up)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def text_hash(text: str) -> bytes:
    """16-byte digest identifying a text inside a space."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class EmbeddingCache:
    """Store and fetch float32 vectors by (space, text); safe across processes (SQLite WAL)."""

    def __init__(self, path: str | Path | None = None, *, notice: Callable[[str], None] = _warn) -> None:
        self.path = Path(path) if path else embedding_db()
        if self.path.is_dir():
            raise EmbedbenchError(
                f"embedding cache {self.path} is a folder, expected a SQLite file; remove it or set "
                "$EMBEDBENCH_EMBEDDINGS to a file path"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbedbenchError(
                f"embedding cache {self.path}: cannot make its folder ({exc.strerror or exc}); set "
                "$EMBEDBENCH_EMBEDDINGS or $EMBEDBENCH_CACHE to a writable place"
            ) from None
        self._local = threading.local()
        self._notice = notice
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            self._start_over(exc)

    def _open(self) -> None:
        conn = self._conn()
        conn.executescript(_SCHEMA)
        conn.execute("SELECT COUNT(*) FROM spaces").fetchone()  # reads the schema and a table: damage shows here

    def _start_over(self, exc: BaseException) -> Path:
        """Move the damaged file (and its WAL) aside as ``<name>.damaged-<time>`` and open a new cache."""
        self.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        if aside.exists():  # damaged twice within a second: keep both
            aside = aside.with_name(f"{aside.name}-{os.getpid()}")
        os.replace(self.path, aside)
        for suffix in _SIDE_FILES:
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + suffix))
        self._open()
        self._notice(
            f"embedding cache {self.path} was damaged ({exc}); moved it aside to {aside.name} and started a "
            "new cache (its embeddings are computed again as needed)"
        )
        return aside

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Damage found while reading or writing becomes one error line naming the file and the fix."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            raise self._damaged(exc) from None

    def _damaged(self, exc: BaseException) -> EmbedbenchError:
        return EmbedbenchError(
            f"embedding cache {self.path} is damaged ({exc}); run `embedbench cache clear` "
            "(it moves the file aside and starts a new cache)"
        )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=120, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def register(self, space: Space) -> None:
        """Record a space's description (idempotent)."""
        with self._guard():
            self._register(space)

    def _register(self, space: Space) -> None:
        self._conn().execute(
            "INSERT OR IGNORE INTO spaces(space, model, fingerprint, prompt, max_seq_length, normalize)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (space.key, space.model, space.fingerprint, space.prompt, space.max_seq_length, int(space.normalize)),
        )

    def get_many(self, space: Space, hashes: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Vectors found for ``hashes`` in ``space`` (missing ones are absent from the result)."""
        with self._guard():
            return self._get_many(space, hashes)

    def _get_many(self, space: Space, hashes: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        conn = self._conn()
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            chunk = list(hashes[start : start + _LOOKUP_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT text_hash, vec FROM embeddings WHERE space = ? AND text_hash IN ({marks})",
                [space.key, *chunk],
            )
            for h, blob in rows:
                found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, space: Space, hashes: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store vectors for ``hashes`` in one transaction (all or nothing)."""
        if len(hashes) != len(vectors):
            raise ValueError(f"got {len(hashes)} hashes but {len(vectors)} vectors")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._guard():
            self._put_many(space, hashes, vectors)

    def _put_many(self, space: Space, hashes: Sequence[bytes], vectors: np.ndarray) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings(space, text_hash, vec) VALUES (?, ?, ?)",
                ((space.key, h, v.tobytes()) for h, v in zip(hashes, vectors, strict=True)),
            )
            conn.execute("UPDATE spaces SET dim = ? WHERE space = ?", (int(vectors.shape[1]), space.key))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def count(self, space: Space, hits: int, misses: int) -> None:
        """Add to a space's hit and miss counters."""
        with self._guard():
            self._conn().execute(
                "UPDATE spaces SET hits = hits + ?, misses = misses + ? WHERE space = ?",
                (hits, misses, space.key),
            )

    def stats(self) -> list[SpaceStats]:
        """One row per space: model, settings, rows stored, hits, misses, bytes of vectors."""
        with self._guard():
            return self._stats()

    def _stats(self) -> list[SpaceStats]:
        rows = self._conn().execute(
            "SELECT s.model, s.fingerprint, s.prompt, s.max_seq_length, s.normalize, s.dim, s.hits, s.misses,"
            " COUNT(e.text_hash), COALESCE(SUM(LENGTH(e.vec)), 0)"
            " FROM spaces s LEFT JOIN embeddings e ON e.space = s.space GROUP BY s.space ORDER BY s.model"
        )
        return [
            SpaceStats(m, fp, p, msl, bool(n), d, rows_, h, mi, b)
            for m, fp, p, msl, n, d, h, mi, rows_, b in rows
        ]

    def clear(self, model: str | None = None) -> int:
        """Delete cached vectors (of one model name, or all); returns rows deleted.

        Clearing everything in a damaged file moves it aside and starts a new cache (returns 0).
        """
        try:
            return self._clear(model)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            if model is not None:
                raise self._damaged(exc) from None
            self._start_over(exc)
            return 0

    def _clear(self, model: str | None) -> int:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if model is None:
                n = conn.execute("DELETE FROM embeddings").rowcount
                conn.execute("DELETE FROM spaces")
            else:
                keys = [r[0] for r in conn.execute("SELECT space FROM spaces WHERE model = ?", (model,))]
                n = 0
                for k in keys:
                    n += conn.execute("DELETE FROM embeddings WHERE space = ?", (k,)).rowcount
                conn.execute("DELETE FROM spaces WHERE model = ?", (model,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("VACUUM")
        return n

    def integrity_ok(self) -> bool:
        """SQLite's own integrity check."""
        return self._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def unique_in_order(texts: Iterable[str]) -> tuple[list[str], np.ndarray]:
    """Unique texts in first-seen order and, for each input, the index of its unique text."""
    index: dict[str, int] = {}
    inverse = [index.setdefault(t, len(index)) for t in texts]
    return list(index), np.asarray(inverse, dtype=np.int64)
