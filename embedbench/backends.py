"""Fast CPU encoding backends: torch, ONNX Runtime and OpenVINO, each in fp32 or dynamically quantised int8.

A backend replaces only the transformer inside a ``SentenceTransformer``: tokenisation, prompts,
length-sorted batching, pooling and normalisation stay sentence-transformers' own, so every backend
encodes exactly the same way and only the matrix arithmetic differs.

Exports are built once from the local model folder (offline) and kept beside it under
``models_dir()/<name>-<fingerprint>/<backend>-<precision>/`` with a ``backend.json`` that holds the
export's own fingerprint, so the embedding cache never mixes backends or precisions.

Recipes (sentence-transformers' ``backend="onnx"/"openvino"`` needs optimum, which here would force
transformers 4 or another torch, so the same steps are done with the runtimes' own tools):

- ``onnx-fp32``: ``torch.onnx.export`` (TorchScript exporter) of the Hugging Face model, dynamic batch
  and sequence axes, output ``last_hidden_state``.
- ``onnx-int8``: onnxruntime ``quantize_dynamic`` of that graph: MatMul weights int8 per output
  channel, activations quantised per tensor at run time (optimum's ``avx512_vnni`` dynamic recipe, but
  per channel: per tensor kept STSB but let long SciFact abstracts drift to cosine 0.90 of fp32).
- ``openvino-fp32``: ``openvino.convert_model`` of the fp32 ONNX graph, run with
  ``INFERENCE_PRECISION_HINT=f32`` (OpenVINO otherwise runs bf16 on CPUs with AMX/avx512_bf16).
- ``openvino-int8``: NNCF int8 weight compression; the CPU plugin quantises activations dynamically.
- ``torch-int8``: ``torch.ao.quantization.quantize_dynamic`` of the Linear layers (per-channel weights), in
  memory. Deprecated in torch 2.13, slower than fp32 here and about 1 STS Benchmark point worse on
  MiniLM-L6 (activations use 7-bit ranges on x86): kept for comparison; prefer ``onnx`` int8.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from embedbench.backend_spec import (
    AUTO,
    BACKEND_ENV,
    Backend,
    BackendChoice,
    Precision,
    check_choice,
    default_backend,
    display_name,
    parse_backend,
    parse_choice,
    parse_precision,
    tag,
)
from embedbench.errors import EmbedbenchError
from embedbench.io import file_sha256, package_versions, read_manifest, write_json_atomic
from embedbench.models import ResolvedModel, _materialise, load_resolved
from embedbench.paths import models_dir
from embedbench.throughput import cpu_threads

__all__ = ["BackendInfo", "LoadedBackend", "choose_backend", "cpu_threads", "describe", "export", "load_backend"]

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedbench.backend_auto import Choice

# Bump when a recipe changes: old exports and their cached embeddings are then left alone.
RECIPE_VERSION = 2
MANIFEST = "backend.json"
ONNX_FILE = "model.onnx"
OPENVINO_FILE = "openvino_model.xml"
_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class BackendInfo:
    """What a backend and precision of a model are filed under: display name, folder, fingerprint, and why
    this backend (``reason``, for provenance)."""

    name: str
    path: str
    fingerprint: str
    backend: Backend
    precision: Precision
    reason: str = ""


@dataclass(frozen=True)
class LoadedBackend:
    """A model ready to encode with one backend and precision, and what its embeddings are filed under."""

    model: SentenceTransformer
    info: BackendInfo


def export_dir(resolved: ResolvedModel, backend: Backend, precision: Precision) -> Path:
    """Folder of one export: ``models_dir()/<name>-<fingerprint>/<backend>-<precision>``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", resolved.name)
    return models_dir() / f"{safe}-{resolved.fingerprint}" / tag(backend, precision)


def _derived_fingerprint(base: str, backend: Backend, precision: Precision, content: str = "") -> str:
    h = hashlib.sha256(f"{base}|{tag(backend, precision)}|recipe{RECIPE_VERSION}|{content}".encode())
    return h.hexdigest()[:16]


# OpenVINO names generated nodes from a process-wide counter ("Constant_6549"): the same model converted
# twice writes different XML. The counters are not part of the model, so the fingerprint ignores them.
_GENERATED_NAME = re.compile(rb'(name="[A-Za-z]+)_\d+"')


def _file_digest(path: Path) -> str:
    if path.suffix == ".xml":
        return hashlib.sha256(_GENERATED_NAME.sub(rb'\1_"', path.read_bytes())).hexdigest()
    return file_sha256(path)


def _dir_sha256(folder: Path) -> str:
    """Content hash of an export folder (its manifest aside): the same export built twice hashes the same."""
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.name != MANIFEST:
            h.update(p.name.encode())
            h.update(_file_digest(p).encode())
    return h.hexdigest()


def _write_manifest(folder: Path, resolved: ResolvedModel, backend: Backend, precision: Precision) -> None:
    write_json_atomic(folder / MANIFEST, {
        "model": resolved.name,
        "base_fingerprint": resolved.fingerprint,
        "backend": backend.value,
        "precision": precision.value,
        "recipe_version": RECIPE_VERSION,
        "fingerprint": _derived_fingerprint(resolved.fingerprint, backend, precision, _dir_sha256(folder)),
        "versions": package_versions(("torch", "transformers", "onnx", "onnxruntime", "openvino", "nncf")),
    })


def export(resolved: ResolvedModel, backend: Backend | str, precision: Precision | str) -> Path:
    """Build the ONNX or OpenVINO export of a local model once (atomically) and return its folder.

    Later calls return the existing folder. ``torch`` needs no export and is refused here.
    """
    backend, precision = parse_backend(backend), parse_precision(precision)
    if backend is Backend.TORCH:
        raise EmbedbenchError("the torch backend runs the model folder itself; there is nothing to export")
    if not resolved.is_local:
        raise EmbedbenchError(
            f"backend {backend} needs a local model folder, got hub id {resolved.name!r}; download it first"
        )
    target = export_dir(resolved, backend, precision)
    meta = read_manifest(target / MANIFEST)
    if meta and meta.get("recipe_version") == RECIPE_VERSION:
        return target
    if meta:  # built by an older recipe: rebuild (its fingerprint, and so its cache space, changes too)
        shutil.rmtree(target)
    fp32_onnx = export(resolved, Backend.ONNX, Precision.FP32) / ONNX_FILE if tag(backend, precision) != "onnx-fp32" else None

    def build(tmp: Path) -> None:
        if fp32_onnx is None:
            _export_onnx(resolved, tmp / ONNX_FILE)
        elif backend is Backend.ONNX:
            _quantize_onnx(fp32_onnx, tmp / ONNX_FILE)
        else:
            _convert_openvino(fp32_onnx, tmp / OPENVINO_FILE, int8=precision is Precision.INT8)
        _write_manifest(tmp, resolved, backend, precision)

    return _materialise(target, build, marker=MANIFEST)


class _ExportWrapper(torch.nn.Module):
    """Positional inputs in, ``last_hidden_state`` out: the shape ``torch.onnx.export`` traces."""

    def __init__(self, hf_model: torch.nn.Module, names: tuple[str, ...]) -> None:
        super().__init__()
        self.hf_model, self.names = hf_model, names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.hf_model(**dict(zip(self.names, inputs, strict=True))).last_hidden_state


def _transformer_module(model: SentenceTransformer) -> Any:
    from sentence_transformers.base.modules.transformer import Transformer

    first = model[0]
    if not isinstance(first, Transformer):
        raise EmbedbenchError(
            f"backends need a sentence-transformers model whose first module is a Transformer, got {type(first).__name__}"
        )
    return first


def _export_onnx(resolved: ResolvedModel, out: Path) -> None:
    model = load_resolved(resolved)
    hf = _transformer_module(model).model.eval()
    # Two texts of different length, so the traced graph handles padding; batch and sequence stay dynamic.
    features = model.tokenizer(["a short text", "a somewhat longer text to pad against"], padding=True, return_tensors="pt")
    names = tuple(n for n in _INPUT_NAMES if n in features)
    dynamic = {n: {0: "batch", 1: "sequence"} for n in (*names, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _ExportWrapper(hf, names), tuple(features[n] for n in names), str(out), dynamo=False,
            input_names=list(names), output_names=["last_hidden_state"], dynamic_axes=dynamic, opset_version=17,
        )


def _quantize_onnx(src: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic warns about optional pre-processing on the root logger
    try:
        quantize_dynamic(
            src, out, weight_type=QuantType.QInt8, per_channel=True, reduce_range=False,
            op_types_to_quantize=["MatMul"],
        )
    finally:
        root.setLevel(level)


def _convert_openvino(src: Path, out: Path, *, int8: bool) -> None:
    try:
        import openvino as ov
    except ImportError as exc:
        raise EmbedbenchError("the openvino backend needs: pip install openvino nncf") from exc
    ov_model = ov.convert_model(str(src))
    if int8:
        import nncf

        nncf.set_log_level(logging.WARNING)
        ov_model = nncf.compress_weights(ov_model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    ov.save_model(ov_model, str(out), compress_to_fp16=False)


class ExportedTransformer(torch.nn.Module):
    """Stands in for the Hugging Face model inside sentence-transformers' ``Transformer`` module.

    Takes the tokenizer's tensors, runs the exported graph, returns ``{"last_hidden_state": tensor}``.
    ``inputs_seen`` records the (batch, sequence) shape of every call, to check batching.
    """

    def __init__(self, config: Any, input_names: tuple[str, ...]) -> None:
        super().__init__()
        self.config = config
        self.input_names = input_names
        self.inputs_seen: list[tuple[int, int]] = []

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Run the graph on int64 numpy inputs; returns ``last_hidden_state``."""
        raise NotImplementedError

    def forward(self, **features: Any) -> dict[str, torch.Tensor]:
        inputs = {n: features[n].cpu().numpy().astype(np.int64, copy=False) for n in self.input_names}
        self.inputs_seen.append(tuple(inputs["input_ids"].shape))
        return {"last_hidden_state": torch.from_numpy(np.ascontiguousarray(self.run(inputs)))}


class OnnxRuntimeTransformer(ExportedTransformer):
    """An ONNX Runtime CPU session with intra-op threads = cores, one inter-op thread, all graph optimisations."""

    def __init__(self, path: Path, config: Any, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        super().__init__(config, tuple(i.name for i in self.session.get_inputs()))

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """One session run."""
        return self.session.run(["last_hidden_state"], inputs)[0]


class OpenVINOTransformer(ExportedTransformer):
    """An OpenVINO CPU model compiled for latency (one stream) with threads = cores and f32 inference."""

    def __init__(self, path: Path, config: Any, threads: int) -> None:
        import openvino as ov

        self.compiled = ov.Core().compile_model(str(path), "CPU", {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": "f32",
        })
        self.request = self.compiled.create_infer_request()
        super().__init__(config, tuple(p.get_any_name() for p in self.compiled.inputs))

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """One synchronous inference; the output is copied out of the request's buffer."""
        return np.array(self.request.infer(inputs)[self.compiled.output(0)], copy=True)


def describe(
    resolved: ResolvedModel, backend: BackendChoice | str | None = None, precision: Precision | str = Precision.FP32,
    *, device: str | None = None, threads: int | None = None,
) -> BackendInfo:
    """Name, folder and fingerprint of a model under a backend and precision, exporting it once if needed.

    ``backend=None`` is the default (:func:`embedbench.backend_spec.default_backend`); ``"auto"`` picks the
    fastest exact fp32 backend here (:mod:`embedbench.backend_auto`, measured once and remembered) and
    keeps the model's plain name, with the chosen backend's fingerprint.
    torch fp32 keeps the model's own name and fingerprint (existing cached embeddings stay valid);
    torch int8 derives its fingerprint from the model's; ONNX and OpenVINO take their export's.
    """
    choice = default_backend() if backend is None else parse_choice(backend)
    precision = parse_precision(precision)
    check_choice(choice, precision)
    if choice == AUTO:
        picked = choose_backend(resolved, device=device, threads=threads)
        info = describe(resolved, picked.backend, picked.precision)
        return replace(info, name=resolved.name, reason=f"auto: {picked.reason}")
    backend = parse_backend(choice)
    name = display_name(resolved.name, backend, precision)
    reason = _fixed_reason(backend, precision)
    if backend is Backend.TORCH:
        fingerprint = resolved.fingerprint
        if precision is Precision.INT8:
            fingerprint = _derived_fingerprint(resolved.fingerprint, backend, precision)
        return BackendInfo(name, resolved.path, fingerprint, backend, precision, reason)
    folder = export(resolved, backend, precision)
    meta = read_manifest(folder / MANIFEST) or {}
    if "fingerprint" not in meta:
        raise EmbedbenchError(f"{folder / MANIFEST} has no fingerprint; delete {folder} and run again to re-export")
    return BackendInfo(name, str(folder), str(meta["fingerprint"]), backend, precision, reason)


def choose_backend(
    resolved: ResolvedModel, *, device: str | None = None, threads: int | None = None, remeasure: bool = False,
) -> Choice:
    """Backend auto's choice for a model here (:func:`embedbench.backend_auto.choose`), loading candidates with
    :func:`load_backend` when it has to measure."""
    from embedbench.backend_auto import choose

    def load(backend: Backend) -> tuple[SentenceTransformer, str]:
        loaded = load_backend(resolved, backend, Precision.FP32, threads=threads)
        return loaded.model, loaded.info.fingerprint

    return choose(resolved, load=load, device=device, remeasure=remeasure)


def _fixed_reason(backend: Backend, precision: Precision) -> str:
    """Why a backend that was not chosen by measurement runs: the environment default, or it was named."""
    if precision is Precision.FP32 and os.environ.get(BACKEND_ENV, "").strip().lower() == backend.value:
        return f"${BACKEND_ENV}={backend.value}"
    return f"named: {tag(backend, precision)}"


def load_backend(
    resolved: ResolvedModel, backend: BackendChoice | str | None = None, precision: Precision | str = Precision.FP32,
    *, device: str | None = None, threads: int | None = None,
) -> LoadedBackend:
    """Load a resolved model with a backend and precision (exporting once if needed).

    ``backend=None`` is the default backend (``auto`` unless ``$EMBEDBENCH_BACKEND`` says otherwise).

    Threads: torch's intra-op threads, ONNX Runtime's ``intra_op_num_threads`` and OpenVINO's
    ``INFERENCE_NUM_THREADS`` are all set to ``threads`` (default: ``cpu_threads()``).
    """
    info = describe(resolved, backend, precision, device=device, threads=threads)
    threads = threads or cpu_threads()
    if info.backend is not Backend.TORCH and device not in (None, "cpu"):
        raise EmbedbenchError(f"backend {info.backend} runs on the CPU only; drop device={device!r} or use backend torch")
    model = load_resolved(resolved, device=device)
    if info.backend is Backend.TORCH:
        if model.device.type == "cpu":
            torch.set_num_threads(threads)
        if info.precision is Precision.INT8:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
                torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear: qconfig}, inplace=True)
        return LoadedBackend(model, info)
    module = _transformer_module(model)
    if info.backend is Backend.ONNX:
        runtime: ExportedTransformer = OnnxRuntimeTransformer(Path(info.path) / ONNX_FILE, module.model.config, threads)
    else:
        runtime = OpenVINOTransformer(Path(info.path) / OPENVINO_FILE, module.model.config, threads)
    module.model = runtime  # the torch weights are freed
    return LoadedBackend(model, info)
