"""Where the heavy work runs: the ``[compute]`` section and the engine every step encodes through.

``engine = "local"`` (the default) encodes in this process, exactly as without the section.
``engine = "ray"`` sends the texts the embedding cache does not hold to a Ray cluster (Ray Data
``map_batches`` over a pool of encoder actors, each loading the model once), mines hard negatives
with an IVF index searched by actors, and fans evaluation out as Ray tasks; see
:mod:`embedbench.ray_engine`. ``address`` joins an existing cluster; without it a local one starts.

Example::

    [compute]
    engine = "ray"
    address = "ray://head:10001"   # default: start a local cluster
    actors = 4                     # encoder actors
    cpus_per_actor = 2
    gpus_per_actor = 0             # 1 on a GPU cluster
    batch_size = 64

The CLI's ``--engine local|ray`` overrides ``engine`` for one command. The active setting is process
wide (:func:`activate`, :func:`active`), set once by the command that reads the experiment file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from embedbench.config import DEFAULT_CONFIG, Experiment, StrictModel
from embedbench.errors import EmbedbenchError

Engine = Literal["local", "ray"]
ENGINES: tuple[str, ...] = ("local", "ray")


class ComputeConfig(StrictModel):
    """The ``[compute]`` section: which engine runs encoding, mining and evaluation, and its resources."""

    engine: Engine = "local"
    address: str | None = None
    """A running Ray cluster (``ray.init(address=...)``); None starts a local one."""
    actors: int = Field(default=2, ge=1)
    """Encoder actors in the Ray Data pool (each holds one copy of the model)."""
    cpus_per_actor: float = Field(default=1.0, gt=0)
    gpus_per_actor: float = Field(default=0.0, ge=0)
    batch_size: int = Field(default=64, ge=1)
    """Texts per ``map_batches`` batch (also the model batch inside an actor)."""
    shard_dir: Path | None = None
    """Shared folder for the (text hash -> vector) Parquet shards workers write; default: under the cache."""


_active = ComputeConfig()
_hooks: dict[tuple[str, str], Callable[..., Any]] = {}
HOOK_MODULES = {
    ("ray", "encode_missing"): "embedbench.ray_engine",
    ("ray", "evaluate_pairs"): "embedbench.evalsuite.fanout",
}
"""Which module registers each engine's hooks (on import); the CLI imports them for ``--engine ray``."""


def register(engine: str, hook: str, fn: Callable[..., Any]) -> None:
    """Make ``fn`` the ``hook`` of ``engine``: ``encode_missing`` (``CachedEncoder``'s misses) or
    ``evaluate_pairs`` (the runner's (model, task) pairs). The engine modules call this when imported,
    so the core (``encode``) and the runner never import an engine: no import cycles, Ray stays optional."""
    _hooks[(engine, hook)] = fn


def hook(hook_name: str, cfg: ComputeConfig | None = None) -> Callable[..., Any] | None:
    """The active (or ``cfg``'s) engine's ``hook_name``; None for the local engine.

    An engine whose module was never imported is one clear error naming the import.
    """
    cfg = cfg or _active
    if cfg.engine == "local":
        return None
    fn = _hooks.get((cfg.engine, hook_name))
    if fn is None:
        module = HOOK_MODULES.get((cfg.engine, hook_name), "the engine's module")
        raise EmbedbenchError(
            f"[compute] engine = {cfg.engine!r} is active but {module} was not imported (it registers the "
            f"{hook_name!r} hook); import it first (the CLI's --engine does), or activate engine 'local'"
        )
    return fn


def activate(cfg: ComputeConfig) -> ComputeConfig:
    """Make ``cfg`` the engine every later encode, mine and eval in this process uses; returns it."""
    global _active
    _active = cfg
    return cfg


def active() -> ComputeConfig:
    """The engine setting in force (``engine = "local"`` unless a command activated another)."""
    return _active


def load_compute_config(path: str | Path = DEFAULT_CONFIG, engine: str | None = None) -> ComputeConfig:
    """The ``[compute]`` section of experiment file ``path`` (defaults when absent), ``engine`` overriding it."""
    cfg = Experiment.load(path).section("compute", ComputeConfig) if Path(path).is_file() else ComputeConfig()
    if engine is not None:
        if engine not in ENGINES:
            raise EmbedbenchError(f"--engine {engine!r}: unknown engine; choose one of: {', '.join(ENGINES)}")
        cfg = cfg.model_copy(update={"engine": engine})
    return cfg
