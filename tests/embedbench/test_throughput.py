"""Throughput: the per-token-count time estimate worked out by hand, measuring once per model + backend +
machine, token counts truncated like the model truncates, and the probe texts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedbench import throughput
from embedbench.encode import load_encoder
from embedbench.throughput import Throughput, estimate_seconds, seconds_per_text, throughput_of


def _tp(max_tokens: int | None = None) -> Throughput:
    # short probe: 100 texts/s at 10 tokens (0.01 s each); long probe: 10 texts/s at 210 tokens (0.1 s each)
    return Throughput(100.0, 10.0, 10.0, 210.0, "torch", "fp32", "test machine", max_tokens)


def test_estimate_interpolates_the_cost_per_text_between_the_probes():
    tp = _tp()
    assert seconds_per_text(tp, 10) == pytest.approx(0.01)
    assert seconds_per_text(tp, 110) == pytest.approx(0.055)  # half way: half way between 0.01 and 0.1
    assert seconds_per_text(tp, 210) == pytest.approx(0.1)
    assert seconds_per_text(tp, 3) == pytest.approx(0.01)  # below the short probe: a short text's cost
    assert seconds_per_text(tp, 410) == pytest.approx(0.19)  # beyond the long probe: the same slope
    assert estimate_seconds(tp, [3, 10, 110, 210, 410]) == pytest.approx(0.01 + 0.01 + 0.055 + 0.1 + 0.19)
    assert estimate_seconds(tp, []) == 0.0
    assert estimate_seconds(_tp(max_tokens=210), [410, 1000]) == pytest.approx(0.2)  # truncated by the model


class CountingEncoder:
    """No tokenizer (counts words), no cache; records how often it encodes."""

    name = "fake"
    fingerprint = "fp-fake"
    backend = "onnx"
    precision = "fp32"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.ones((len(texts), 4), dtype=np.float32) / 2


def test_throughput_is_measured_once_per_model_backend_and_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDBENCH_CACHE", str(tmp_path))
    enc = CountingEncoder()
    tp = throughput_of(enc)
    assert enc.calls == 3  # warm-up, short probe, long probe
    assert (tp.backend, tp.precision, tp.machine) == ("onnx", "fp32", throughput.machine_id())
    assert tp.short_per_s > 0 and tp.long_per_s > 0 and tp.long_tokens > 10 * tp.short_tokens
    assert throughput_of(enc) == tp and enc.calls == 3  # remembered
    stored = json.loads((tmp_path / "throughput.json").read_text())
    assert [e["model"] for e in stored.values()] == ["fake"]
    enc.backend = "openvino"
    throughput_of(enc)
    assert enc.calls == 6  # another backend is another measurement
    monkeypatch.setattr(throughput, "machine_id", lambda: "another machine")
    throughput_of(enc)
    assert enc.calls == 9 and len(json.loads((tmp_path / "throughput.json").read_text())) == 3


def test_probe_texts_are_real_short_sentences_and_long_documents():
    short, long = throughput.probe_texts()
    assert (len(short), len(long)) == (64, 16) and len(set(short)) == 64
    assert max(map(len, short)) < 200 and min(map(len, long)) > 1800


def test_token_counts_include_special_tokens_and_truncate_like_the_model(tmp_path):
    enc = load_encoder("tiny", cache=False, show_progress=False)  # torch: the suite's default backend
    short, long = throughput.probe_texts()
    counts = throughput.token_counts(enc, ["hi", *long[:2]])
    assert counts[0] == 3  # [CLS] hi [SEP]
    assert counts[1:] == [enc.model.max_seq_length] * 2
    tp = throughput_of(enc)
    assert (tp.backend, tp.max_tokens, tp.long_tokens) == ("torch", enc.model.max_seq_length, enc.model.max_seq_length)
    assert "x" in throughput.machine_id()  # CPU model and usable cores
