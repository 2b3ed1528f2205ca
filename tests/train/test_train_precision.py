"""fp16/bf16 are chosen automatically on a GPU, fp32 on CPU; asking for half precision on CPU is an error."""

from __future__ import annotations

import pytest
import torch

from embedbench.errors import EmbedbenchError
from embedbench.train.trainer import precision_flags


@pytest.mark.parametrize(
    ("cuda", "bf16_ok", "precision", "expected"),
    [
        (False, False, "auto", {"fp16": False, "bf16": False}),
        (True, True, "auto", {"fp16": False, "bf16": True}),
        (True, False, "auto", {"fp16": True, "bf16": False}),
        (True, True, "fp16", {"fp16": True, "bf16": False}),
        (True, True, "fp32", {"fp16": False, "bf16": False}),
        (False, False, "fp32", {"fp16": False, "bf16": False}),
    ],
)
def test_precision_flags(monkeypatch, cuda, bf16_ok, precision, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_ok)
    assert precision_flags(precision) == expected


def test_half_precision_on_cpu_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(EmbedbenchError, match="precision = 'bf16' needs a CUDA GPU"):
        precision_flags("bf16")
