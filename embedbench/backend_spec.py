"""How a model spec names its backend and precision: ``NAME@BACKEND-PRECISION`` (e.g. ``all-MiniLM-L6-v2@onnx-int8``).

Pure naming, no torch: results, the report and the runner name models through this module;
:mod:`embedbench.backends` builds and loads what the names say.

A name without ``@`` means the default backend: ``auto`` (the fastest exact fp32 backend measured on
this machine, :mod:`embedbench.backend_auto`), or what ``$EMBEDBENCH_BACKEND`` says.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Literal, TypeAlias

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


AUTO: Literal["auto"] = "auto"
"""Not a backend but a choice among them: the fastest exact fp32 backend of the model on this machine."""

BackendChoice: TypeAlias = Backend | Literal["auto"]
BACKEND_ENV = "EMBEDBENCH_BACKEND"


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


def parse_choice(value: str | Backend) -> BackendChoice:
    """``value`` as a backend or ``"auto"``; an unknown value names the valid ones."""
    if str(value).lower() == AUTO:
        return AUTO
    try:
        return Backend(str(value).lower())
    except ValueError:
        raise EmbedbenchError(f"unknown backend {value!r}; choose one of: {AUTO}, {', '.join(Backend)}") from None


def default_backend() -> BackendChoice:
    """What a model name without ``@`` runs with: ``$EMBEDBENCH_BACKEND`` (torch, onnx, openvino, auto), else auto."""
    value = os.environ.get(BACKEND_ENV, "").strip()
    if not value:
        return AUTO
    try:
        return parse_choice(value)
    except EmbedbenchError:
        raise EmbedbenchError(
            f"${BACKEND_ENV}={value!r}: unknown backend; set it to one of: {AUTO}, {', '.join(Backend)} (or unset it)"
        ) from None


def check_choice(backend: BackendChoice, precision: Precision) -> None:
    """Refuse ``auto`` with int8: a quantised backend changes the embeddings, so it is never chosen silently."""
    if backend == AUTO and precision is not Precision.FP32:
        raise EmbedbenchError(
            f"backend auto chooses among exact fp32 backends only, got precision {precision}; "
            "name a quantised backend explicitly, e.g. all-MiniLM-L6-v2@onnx-int8"
        )


def tag(backend: Backend, precision: Precision) -> str:
    """``"onnx-int8"`` etc.: the export folder name and the suffix of non-default model names."""
    return f"{backend.value}-{precision.value}"


def split_spec(spec: str) -> tuple[str, Backend, Precision]:
    """``"all-MiniLM-L6-v2@onnx-int8"`` -> (model, backend, precision).

    No ``@`` means the default backend (:func:`default_backend`, ``auto`` unless ``$EMBEDBENCH_BACKEND``
    says otherwise) in fp32. ``NAME@auto-fp32`` asks for auto explicitly; ``auto`` with int8 is refused.
    """
    if "@" not in spec:
        return spec, default_backend(), Precision.FP32
    name, _, suffix = spec.rpartition("@")
    backend, _, precision = suffix.partition("-")
    if not name or not precision:
        raise EmbedbenchError(
            f"model {spec!r}: expected NAME@BACKEND-PRECISION, e.g. all-MiniLM-L6-v2@onnx-int8 "
            f"(backends: {', '.join(Backend)}; precisions: {', '.join(Precision)})"
        )
    choice, prec = parse_choice(backend), parse_precision(precision)
    try:
        check_choice(choice, prec)
    except EmbedbenchError as exc:
        raise EmbedbenchError(f"model {spec!r}: {exc}") from None
    return name, choice, prec


def display_name(name: str, backend: BackendChoice, precision: Precision) -> str:
    """The model name results are filed under: unchanged for torch fp32 and auto, ``name@onnx-int8`` otherwise.

    Auto chooses only exact backends, so its results are the model's own (provenance says which backend).
    """
    if precision is Precision.FP32 and (backend == AUTO or backend is Backend.TORCH):
        return name
    return f"{name}@{tag(backend, precision)}"
