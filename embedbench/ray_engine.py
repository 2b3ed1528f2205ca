"""Encoding on Ray Data: a pool of encoder actors, each loading the model once, fed by ``map_batches``.

The driver keeps the embedding cache: it looks every text up, sends only the misses to the cluster
(sorted by length, so a model batch pads little, as the local engine does), and writes the vectors
that come back to the cache in bounded chunks as they arrive. A worker that dies mid-encode is
restarted by Ray and its batch retried (Ray Data's actor pool defaults: ``max_restarts=-1``,
``max_task_retries=-1``); what the driver already committed stays committed. Each row carries its
position, so the result is in input order whatever order the batches finish in.

Every actor loads the model through :func:`embedbench.encode.load_encoder` with the driver's
backend and precision (any backend of the registry) and checks the fingerprint, so its vectors are
the local engine's (same model, same batch size, same length-sorted batches).

Corpora too large for the driver go through :mod:`embedbench.ray_shards` (Parquet shards).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from embedbench import compute
from embedbench.backend_spec import split_spec
from embedbench.cache import unique_in_order
from embedbench.compute import ComputeConfig
from embedbench.errors import EmbedbenchError

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data

    from embedbench.encode import CachedEncoder

# Rows per input block: small enough that every actor gets several, large enough to batch well.
MAX_BLOCK_ROWS = 8192
# Environment the workers need to find the same models, caches and offline settings as the driver.
_FORWARDED_ENV = ("EMBEDBENCH_", "HF_", "TRANSFORMERS_", "SENTENCE_TRANSFORMERS_", "TOKENIZERS_PARALLELISM")


class _ResolvedLike(Protocol):
    name: str
    path: str


@dataclass(frozen=True)
class EncoderSpec:
    """What an encoder actor loads: a ``load_encoder`` name, its backend and precision, and the key settings.

    ``fingerprint``, when set, must equal the loaded model's: an actor that loads another model
    (a folder changed underneath, another machine's registry build) fails instead of mixing spaces.
    """

    source: str
    backend: str = "torch"
    precision: str = "fp32"
    prompt: str | None = None
    normalize: bool = True
    fingerprint: str | None = None


def _loadable(name: str) -> str:
    """``name`` as a worker can load it: a model folder becomes absolute (workers do not share the driver's cwd)."""
    return str(Path(name).resolve()) if Path(name).is_dir() else name


def as_spec(model: str | EncoderSpec | _ResolvedLike | CachedEncoder) -> EncoderSpec:
    """An ``EncoderSpec`` from a spec string (``NAME@BACKEND-PRECISION``), a resolved model or an encoder."""
    if isinstance(model, EncoderSpec):
        return model
    if isinstance(model, str):
        name, backend, precision = split_spec(model)
        return EncoderSpec(_loadable(name), backend.value, precision.value)
    from embedbench.encode import CachedEncoder

    if isinstance(model, CachedEncoder):
        source = _loadable(split_spec(model.source)[0])
        return EncoderSpec(
            source, model.backend, model.precision, model.prompt or None, model.normalize, model.fingerprint,
        )
    if hasattr(model, "path"):  # a ResolvedModel
        return EncoderSpec(model.path, fingerprint=getattr(model, "fingerprint", None))
    raise TypeError(f"cannot encode on Ray with {model!r}: expected a spec string, ResolvedModel or CachedEncoder")


def ensure_ray(cfg: ComputeConfig) -> None:
    """Connect to ``cfg.address``, or start a local cluster with this machine's CPUs; once per process.

    The workers get the driver's ``EMBEDBENCH_*``/``HF_*`` variables, so they find the same models,
    caches and offline setting.
    """
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise EmbedbenchError(
            "[compute] engine = \"ray\" needs Ray Data, which is not installed; run "
            "`pip install 'embedbench[ray]'` (or `make setup`), or use --engine local"
        ) from None
    if ray.is_initialized():
        return
    env = {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_ENV)}
    kwargs: dict[str, Any] = {
        "include_dashboard": False, "ignore_reinit_error": True, "runtime_env": {"env_vars": env},
        "log_to_driver": False,
    }
    try:
        if cfg.address:
            ray.init(address=cfg.address, **kwargs)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, **kwargs)
    except ConnectionError as exc:
        raise EmbedbenchError(
            f"[compute] address = {cfg.address!r}: cannot reach the Ray cluster ({exc}); start it "
            "(`ray start --head`) or drop `address` to run a local cluster"
        ) from None


def pool_size(cfg: ComputeConfig) -> int:
    """Encoder actors to start: ``cfg.actors``, fewer when the cluster's CPUs cannot hold that many."""
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 0))
    fits = math.floor(cpus / cfg.cpus_per_actor + 1e-9) if cfg.cpus_per_actor else cfg.actors
    if fits < 1:
        raise EmbedbenchError(
            f"[compute] cpus_per_actor = {cfg.cpus_per_actor}: the Ray cluster has {cpus:g} CPUs, too few "
            "for one encoder actor; lower cpus_per_actor or add workers"
        )
    return max(1, min(cfg.actors, fits))


class EncodeActor:
    """The stateful ``map_batches`` callable: loads the model once, then embeds batch after batch.

    Input batches are Arrow tables with a ``text`` column (and any key columns, passed through);
    output tables carry the key columns and ``vec`` (a fixed-size list of float32).
    """

    def __init__(self, spec: EncoderSpec, batch_size: int, threads: int) -> None:
        from embedbench import compute
        from embedbench.encode import load_encoder

        compute.activate(ComputeConfig())  # inside a worker every encode is local
        self.encoder = load_encoder(
            spec.source, backend=spec.backend, precision=spec.precision, prompt=spec.prompt,
            normalize=spec.normalize, batch_size=batch_size, cache=False, show_progress=False, threads=threads,
        )
        if spec.fingerprint and self.encoder.fingerprint != spec.fingerprint:
            raise EmbedbenchError(
                f"model {spec.source!r} on a Ray worker has fingerprint {self.encoder.fingerprint}, the driver's "
                f"has {spec.fingerprint}; give every node the same model files (or a shared EMBEDBENCH_CACHE)"
            )

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Embed ``batch["text"]``; keep the other columns, drop the text, add ``vec``."""

        texts = batch.column("text").to_pylist()
        vecs = self.encoder.encode(texts)
        keys = batch.drop_columns(["text"])
        return keys.append_column("vec", vectors_to_arrow(vecs))


def vectors_to_arrow(vecs: np.ndarray) -> pa.FixedSizeListArray:
    """A ``(n, dim)`` float32 matrix as an Arrow fixed-size-list column (what the shards store)."""
    import pyarrow as pa

    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1), pa.float32()), vecs.shape[1])


def vectors_from_arrow(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The ``vec`` column back as an ``(n, dim)`` float32 matrix."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    dim = column.type.list_size
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, dim)


def encode_dataset(ds: ray.data.Dataset, spec: EncoderSpec, cfg: ComputeConfig) -> ray.data.Dataset:
    """``ds`` (a ``text`` column plus key columns) through the encoder actor pool: keys plus ``vec``."""
    import ray.data

    return ds.map_batches(
        EncodeActor,
        fn_constructor_kwargs={
            "spec": spec, "batch_size": cfg.batch_size, "threads": max(1, int(cfg.cpus_per_actor)),
        },
        batch_size=cfg.batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=pool_size(cfg)),
        num_cpus=cfg.cpus_per_actor,
        num_gpus=cfg.gpus_per_actor or None,
        udf_modifying_row_count=False,
    )


def _text_blocks(texts: Sequence[str], positions: Sequence[int], cfg: ComputeConfig) -> list[pa.Table]:
    """Texts with their positions cut into blocks, several per actor, so every worker gets data."""
    import pyarrow as pa

    n = len(texts)
    rows = min(MAX_BLOCK_ROWS, max(cfg.batch_size, math.ceil(n / (4 * cfg.actors))))
    return [
        pa.table({"i": pa.array(positions[s : s + rows], pa.int64()), "text": pa.array(texts[s : s + rows], pa.string())})
        for s in range(0, n, rows)
    ]


def iter_encoded(
    model: str | EncoderSpec | _ResolvedLike | CachedEncoder, texts: Sequence[str], cfg: ComputeConfig,
    positions: Sequence[int] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Encode ``texts`` on Ray; yields ``(positions, vectors)`` batches as they finish (any order).

    ``positions`` (default ``0..n-1``) label the texts; each yielded batch says which rows it holds.
    """
    import ray.data

    ensure_ray(cfg)
    if positions is None:
        positions = range(len(texts))
    if not texts:
        return
    ds = encode_dataset(ray.data.from_arrow(_text_blocks(texts, list(positions), cfg)), as_spec(model), cfg)
    for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        table: pa.Table = batch  # type: ignore[assignment]  # batch_format="pyarrow"
        yield table.column("i").to_numpy(), vectors_from_arrow(table.column("vec"))


def encode_on_ray(
    model: str | EncoderSpec | _ResolvedLike | CachedEncoder, texts: Sequence[str], cfg: ComputeConfig,
) -> np.ndarray:
    """Embed ``texts`` on the Ray cluster; ``(len(texts), dim)`` float32 in input order, no cache involved.

    Repeated texts are encoded once; the texts go out sorted by length (as the local engine batches them).
    """
    unique, inverse = unique_in_order(texts)
    order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
    out: np.ndarray | None = None
    for idx, vecs in iter_encoded(model, [unique[i] for i in order], cfg, order):
        if out is None:
            out = np.empty((len(unique), vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
    if out is None:
        raise EmbedbenchError("encode_on_ray: no texts to encode (an empty list has no dimension)")
    return out[inverse]


def encode_missing_on_ray(
    encoder: CachedEncoder, unique: list[str], hashes: list[bytes], missing: list[int], out: np.ndarray,
    *, chunk: int, cfg: ComputeConfig,
) -> None:
    """``CachedEncoder._encode_missing`` on Ray: fill ``out[missing]``, committing to the cache every ``chunk`` rows.

    A chunk is committed as soon as its vectors are back, so a failure later loses only what had not
    yet come back.
    """
    order = sorted(missing, key=lambda i: len(unique[i]))
    progress = None
    if encoder.show_progress and len(order) > chunk:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(order), desc=f"encode {encoder.name} (ray)", unit="text")
    pending_idx: list[np.ndarray] = []
    pending = 0

    def commit() -> None:
        nonlocal pending
        if encoder.cache is not None and pending:
            idx = np.concatenate(pending_idx)
            encoder.cache.put_many(encoder.space, [hashes[i] for i in idx], out[idx])
        pending_idx.clear()
        pending = 0

    try:
        for idx, vecs in iter_encoded(encoder, [unique[i] for i in order], cfg, order):
            if vecs.shape[1] != out.shape[1]:
                raise EmbedbenchError(
                    f"model {encoder.name!r} on Ray returned {vecs.shape[1]}-dim vectors, expected {out.shape[1]}"
                )
            out[idx] = vecs
            pending_idx.append(idx)
            pending += len(idx)
            if pending >= chunk:
                commit()
            if progress is not None:
                progress.update(len(idx))
    except BaseException:
        commit()  # what came back before the failure is kept
        raise
    else:
        commit()
    finally:
        if progress is not None:
            progress.close()


compute.register("ray", "encode_missing", encode_missing_on_ray)
