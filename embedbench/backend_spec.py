"""How a model spec names its backend and precision: ``NAME@BACKEND-PRECISION`` (e.g. ``all-MiniLM-L6-v2@onnx-int8``).

Pure naming, no torch: results, the report and the runner name models through this module;
:mod:`embedbench.backends` builds and loads what the names say.
"""

from __future__ import annotations

from enum import StrEnum

from embedbench.errors import EmbedbenchError


class Backend(StrEnum):
    """Where the transformer runs."""

    TORCH = "torch"
    ONNX = "onnx"
    OPENVINO = "openvino"


class Precision(StrEnum):
    """Arithmetic of the transformer's matrix products."""

    FP32 = "fp32"
    INT8 = "int8"


def parse_backend(value: str | Backend) -> Backend:
    """``value`` as a ``Backend``; an unknown value names the valid ones."""
    try:
        return Backend(str(value).lower())
    except ValueError:
        raise EmbedbenchError(f"unknown backend {value!r}; choose one of: {', '.join(Backend)}") from None


def parse_precision(value: str | Precision) -> Precision:
    """``value`` as a ``Precision``; an unknown value names the valid ones."""
    try:
        return Precision(str(value).lower())
    except ValueError:
        raise EmbedbenchError(f"unknown precision {value!r}; choose one of: {', '.join(Precision)}") from None


def tag(backend: Backend, precision: Precision) -> str:
    """``"onnx-int8"`` etc.: the export folder name and the suffix of non-default model names."""
    return f"{backend.value}-{precision.value}"


def split_spec(spec: str) -> tuple[str, Backend, Precision]:
    """``"all-MiniLM-L6-v2@onnx-int8"`` -> (model, backend, precision); no ``@`` means torch fp32."""
    if "@" not in spec:
        return spec, Backend.TORCH, Precision.FP32
    name, _, suffix = spec.rpartition("@")
    backend, _, precision = suffix.partition("-")
    if not name or not precision:
        raise EmbedbenchError(
            f"model {spec!r}: expected NAME@BACKEND-PRECISION, e.g. all-MiniLM-L6-v2@onnx-int8 "
            f"(backends: {', '.join(Backend)}; precisions: {', '.join(Precision)})"
        )
    return name, parse_backend(backend), parse_precision(precision)


def display_name(name: str, backend: Backend, precision: Precision) -> str:
    """The model name results are filed under: unchanged for torch fp32, ``name@onnx-int8`` otherwise."""
    if backend is Backend.TORCH and precision is Precision.FP32:
        return name
    return f"{name}@{tag(backend, precision)}"
