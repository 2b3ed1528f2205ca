"""The streaming path of the Ray engine: corpora too large for the driver, as (text hash -> vector) Parquet shards.

The driver never holds the corpus or its vectors. Texts come as an iterator (read chunk by chunk,
looked up in the embedding cache, and only the misses spooled to Parquet input files) or as a
Ray Dataset with a ``text`` column (encoded whole: the caller chose what to send). One Ray Data
pipeline reads the input, encodes it on the actor pool of :mod:`embedbench.ray_engine`, and the
workers write the shards to ``shard_dir``. The cache then ingests the shards in bounded chunks
(:func:`ingest_shards`), or an index reads them directly (:func:`iter_shards`).

A shard holds two columns (:data:`SHARD_COLUMNS`): ``text_hash`` (the 16-byte
:func:`embedbench.cache.text_hash`) and ``vec`` (a fixed-size list of float32). A repeated text in
different chunks may appear in two shards with the same vector; ingesting it twice is harmless.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embedbench.cache import EmbeddingCache, Space, text_hash
from embedbench.compute import ComputeConfig
from embedbench.paths import cache_dir
from embedbench.ray_engine import EncoderSpec, as_spec, encode_dataset, ensure_ray, vectors_from_arrow

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data

    from embedbench.encode import CachedEncoder

SHARD_COLUMNS = ("text_hash", "vec")
# Texts the driver reads, looks up and spools at a time: bounds its memory whatever the corpus size.
SPOOL_CHUNK = 50_000
# Rows per shard file and per input file (Ray Data splits them into batches).
ROWS_PER_FILE = 50_000


def default_shard_dir(cfg: ComputeConfig) -> Path:
    """A fresh folder for one encode's shards: under ``cfg.shard_dir``, else under the cache folder."""
    root = cfg.shard_dir or cache_dir() / "ray-shards"
    return Path(root) / uuid.uuid4().hex[:12]


def _chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def spool_texts(
    texts: Iterable[str], folder: Path, *, cache: EmbeddingCache | None = None, space: Space | None = None,
    chunk: int = SPOOL_CHUNK,
) -> tuple[int, int]:
    """Write ``texts`` as Parquet input files (``text_hash``, ``text``), chunk by chunk; returns (sent, cached).

    With a cache and its space, texts the cache holds are left out (counted as cached); repeats
    within a chunk are written once.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    sent = cached = 0
    for n, part in enumerate(_chunks(texts, chunk)):
        unique = list(dict.fromkeys(part))
        hashes = [text_hash(t) for t in unique]
        if cache is not None and space is not None:
            found = cache.get_many(space, hashes)
            keep = [i for i, h in enumerate(hashes) if h not in found]
            cached += len(unique) - len(keep)
            unique, hashes = [unique[i] for i in keep], [hashes[i] for i in keep]
            del found
        if not unique:
            continue
        table = pa.table({"text_hash": pa.array(hashes, pa.binary(16)), "text": pa.array(unique, pa.string())})
        pq.write_table(table, folder / f"texts-{n:06d}.parquet")
        sent += len(unique)
    return sent, cached


def _with_hashes(batch: pa.Table) -> pa.Table:
    """A ``text`` batch with its ``text_hash`` column (for a Dataset given without one)."""
    import pyarrow as pa

    hashes = [text_hash(t) for t in batch.column("text").to_pylist()]
    return pa.table({"text_hash": pa.array(hashes, pa.binary(16)), "text": batch.column("text")})


def encode_to_shards(
    model: str | EncoderSpec | CachedEncoder, texts: Iterable[str] | ray.data.Dataset, cfg: ComputeConfig,
    shard_dir: Path | None = None, *, cache: EmbeddingCache | None = None, space: Space | None = None,
    chunk: int = SPOOL_CHUNK,
) -> Path:
    """Encode ``texts`` on Ray into Parquet shards under ``shard_dir`` (default :func:`default_shard_dir`).

    ``texts``: an iterable of strings (misses only, when ``cache`` and ``space`` are given) or a Ray
    Dataset with a ``text`` column. ``chunk``: texts the driver reads and looks up at a time (its
    memory is proportional to this, not to the corpus). Returns the folder holding the shards.
    """
    import ray.data

    ensure_ray(cfg)
    shard_dir = Path(shard_dir) if shard_dir is not None else default_shard_dir(cfg)
    out = shard_dir / "vectors"
    spool = shard_dir / "_texts"
    if isinstance(texts, ray.data.Dataset):
        ds = texts.select_columns(["text"]).map_batches(_with_hashes, batch_format="pyarrow", num_cpus=0.25)
    else:
        sent, _ = spool_texts(texts, spool, cache=cache, space=space, chunk=chunk)
        if not sent:
            out.mkdir(parents=True, exist_ok=True)
            return out
        # no CPU for the reads: the encoder actors may hold every CPU of a small cluster
        ds = ray.data.read_parquet(str(spool), num_cpus=0)
    encode_dataset(ds, as_spec(model), cfg).write_parquet(str(out), max_rows_per_file=ROWS_PER_FILE)
    shutil.rmtree(spool, ignore_errors=True)
    return out


def iter_shards(folder: Path, chunk: int = 1024) -> Iterator[tuple[list[bytes], np.ndarray]]:
    """``(hashes, vectors)`` chunks of at most ``chunk`` rows from the shards in ``folder`` (file by file)."""
    import pyarrow.parquet as pq

    for path in sorted(Path(folder).glob("*.parquet")):
        with pq.ParquetFile(path) as pf:
            for batch in pf.iter_batches(batch_size=chunk, columns=list(SHARD_COLUMNS)):
                yield batch.column("text_hash").to_pylist(), vectors_from_arrow(batch.column("vec"))


def ingest_shards(cache: EmbeddingCache, space: Space, folder: Path, chunk: int = 1024) -> int:
    """Store every shard row of ``folder`` in ``cache`` under ``space``, ``chunk`` rows per transaction; rows stored."""
    rows = 0
    for hashes, vecs in iter_shards(folder, chunk):
        cache.put_many(space, hashes, vecs)
        rows += len(hashes)
    return rows


def encode_corpus(
    encoder: CachedEncoder, texts: Iterable[str] | ray.data.Dataset, cfg: ComputeConfig,
    shard_dir: Path | None = None, *, keep_shards: bool = False, chunk: int = SPOOL_CHUNK,
) -> int:
    """Bring ``encoder``'s cache up to date with a corpus of any size; returns the vectors ingested.

    The streaming counterpart of ``encoder.encode(texts)``: misses go through the shards and into the
    cache; nothing proportional to the corpus stays in the driver. ``keep_shards`` leaves the shards
    (e.g. for an index to read); otherwise they are removed once ingested. ``chunk``: as in
    :func:`encode_to_shards`.
    """
    if encoder.cache is None:
        raise ValueError("encode_corpus needs an encoder with a cache (load_encoder(..., cache=True))")
    folder = encode_to_shards(encoder, texts, cfg, shard_dir, cache=encoder.cache, space=encoder.space, chunk=chunk)
    rows = ingest_shards(encoder.cache, encoder.space, folder)
    if not keep_shards:
        shutil.rmtree(folder.parent, ignore_errors=True)
    return rows
