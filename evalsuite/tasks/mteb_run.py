"""Run mteb tasks with our encoder (through the shared embedding cache) and keep mteb's own results.

``MtebEncoder`` is an mteb encoder (``AbsEncoder``) whose ``encode`` sends mteb's texts through our
``Encoder``: a text already embedded by any step (prep, training, our own tasks) is not encoded again.
``run_mteb`` calls ``mteb.evaluate`` and returns, per task, the scores as our ``TaskResult`` (no per-item
columns, so no CI) with mteb's own JSON result (``TaskResult.to_dict()``, JSON-safe) in its ``mteb_json``
field, which the results store files apart. ``MtebTask`` is the registry entry: one mteb task behind our
``Task`` contract.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from embedbench.encode import Encoder
from embedbench.evalsuite.tasks.base import dataset_label, encode_texts, model_fingerprint, require_encoder
from embedbench.evalsuite.types import TaskResult
from embedbench.io import provenance

MTEB_PREFIX = "mteb-"


@functools.cache
def _encoder_class() -> type:
    from mteb.models.abs_encoder import AbsEncoder
    from mteb.models.model_meta import ModelMeta, ScoringFunction

    class MtebEncoder(AbsEncoder):
        """mteb's encoder protocol over our ``Encoder`` (cosine similarity).

        Like mteb's own sentence-transformers wrapper, it applies the model's ``query`` / ``document``
        prompts (``SentenceTransformer.prompts``) by mteb's prompt type, and no task instructions.
        """

        def __init__(self, encoder: Encoder) -> None:
            self.encoder = encoder
            self.model = getattr(encoder, "model", None)
            name = encoder.name if "/" in encoder.name else f"embedbench/{encoder.name}"
            dim = getattr(encoder, "dim", None)
            self.mteb_model_meta = ModelMeta.create_empty(
                overwrites={
                    "name": name,
                    "revision": encoder.fingerprint or None,
                    "similarity_fn_name": ScoringFunction.COSINE,
                    "embed_dim": dim,
                    "framework": ["Sentence Transformers", "PyTorch"],
                }
            )

        def encode(
            self,
            inputs: Any,
            *,
            task_metadata: Any,
            hf_split: str,
            hf_subset: str,
            prompt_type: Any = None,
            **kwargs: Any,
        ) -> np.ndarray:
            """Collect the dataloader's texts and embed them through the cached encoder."""
            texts = [t for batch in inputs for t in batch["text"]]
            return encode_texts(self._side(prompt_type), texts)

        def _side(self, prompt_type: Any) -> Encoder:
            prompts = getattr(self.model, "prompts", None) or {}
            prompt = prompts.get(getattr(prompt_type, "value", prompt_type) or "")
            with_prompt = getattr(self.encoder, "with_prompt", None)
            return with_prompt(prompt) if prompt and with_prompt is not None else self.encoder

    return MtebEncoder


def mteb_encoder(encoder: Encoder) -> Any:
    """Wrap ``encoder`` as an mteb encoder (``mteb.models.AbsEncoder``)."""
    return _encoder_class()(encoder)


def _flat_scores(scores: list[dict[str, Any]]) -> dict[str, float]:
    """Scalar scores of one split; with several subsets (languages) they are prefixed ``subset/``."""
    out: dict[str, float] = {}
    single = len(scores) == 1
    for entry in scores:
        prefix = "" if single else f"{entry.get('hf_subset', 'default')}/"
        for key, value in entry.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[prefix + key] = float(value)
    return out


def _spread(scores: list[dict[str, Any]], main: str) -> list[float]:
    """The main score of each of mteb's runs, where it reports them (one subset only): classification's
    ``scores_per_experiment``, clustering's ``v_measures`` per level; empty otherwise."""
    if len(scores) != 1:
        return []
    entry = scores[0]
    if isinstance(entry.get("scores_per_experiment"), list):
        return [float(e[main]) for e in entry["scores_per_experiment"] if isinstance(e, dict) and main in e]
    if main == "v_measure" and isinstance(entry.get("v_measures"), dict):
        return [float(v) for level in entry["v_measures"].values() for v in level]
    return []


def _dataset_name(path: str) -> str:
    """A local task's folder relative to the data folder (never a machine path); hub names as given."""
    return dataset_label(path) if Path(path).exists() else path


def to_task_result(native: dict[str, Any], task: Any, encoder: Encoder, seconds: float) -> TaskResult:
    """Our ``TaskResult`` for one mteb result (main metric = the task's ``main_score``; no per-item data),
    carrying ``native`` as its ``mteb_json``."""
    meta = task.metadata
    split = meta.eval_splits[0]
    metrics = _flat_scores(native["scores"][split])
    main = meta.main_score if meta.main_score in metrics else "main_score"
    spread = _spread(native["scores"][split], main)
    if spread and f"{main}_std" not in metrics:
        metrics[f"{main}_std"] = float(np.std(spread))
    return TaskResult(
        task=MTEB_PREFIX + meta.name,
        task_type="mteb",
        model=encoder.name,
        model_fingerprint=model_fingerprint(encoder),
        dataset=_dataset_name(str(meta.dataset["path"])),
        dataset_hash=str(meta.dataset.get("revision", "")),
        main_metric=main,
        metrics=metrics,
        config={"mteb_task": meta.name, "mteb_type": meta.type, "split": split},
        seconds=round(seconds, 3),
        provenance={**provenance(), **({f"{main}_per_run": spread} if spread else {})},
        mteb_json=native,
    )


def run_mteb(encoder: Encoder, tasks: Sequence[Any], *, batch_size: int = 64) -> list[TaskResult]:
    """Evaluate ``encoder`` on mteb ``tasks`` with ``mteb.evaluate`` (computing only: mteb writes no files).

    Args:
        encoder: our encoder (its cache makes repeated texts free).
        tasks: mteb task objects (e.g. from ``mteb_tasks.mteb_task``).
        batch_size: passed to mteb's dataloaders.
    """
    import mteb  # seconds to import: only when an mteb task runs

    encoder = require_encoder(encoder, ", ".join(t.metadata.name for t in tasks))
    model = mteb_encoder(encoder)
    started = time.perf_counter()
    out = mteb.evaluate(
        model,
        list(tasks),
        cache=None,
        overwrite_strategy="always",
        encode_kwargs={"batch_size": batch_size, "show_progress_bar": False},
        show_progress_bar=False,
        co2_tracker=False,
        raise_error=True,
    )
    by_name = {t.metadata.name: t for t in tasks}
    results = []
    for tr in out.task_results:
        native = json.loads(json.dumps(tr.to_dict(), default=str))
        seconds = float(native.get("evaluation_time") or (time.perf_counter() - started))
        results.append(to_task_result(native, by_name[tr.task_name], encoder, seconds))
    return results


@dataclass(frozen=True)
class MtebTask:
    """One mteb task behind our ``Task`` contract (the result carries mteb's JSON in ``mteb_json``).

    Args:
        name: our task name (``"mteb-STSBenchmark"``).
        mteb_name: mteb's task name (``"STSBenchmark"``).
        path: local data override; None uses the data folder (local tasks) or the hub (others).
        online: use mteb's own task (hub data) even when a local class exists.
        batch_size: mteb dataloader batch size.
    """

    name: str
    mteb_name: str
    path: Path | None = None
    online: bool = False
    batch_size: int = 64
    task_type: str = "mteb"

    def build(self) -> Any:
        """The mteb task object."""
        from embedbench.evalsuite.tasks.mteb_tasks import mteb_task  # imports mteb (seconds): only when run

        return mteb_task(self.mteb_name, self.path, self.online)

    def texts(self) -> list[str]:
        """The texts of the task's evaluation side (every text column but ids of its eval splits; loads the data).

        Training splits that are not evaluation splits (e.g. a classification task's ``train``) are left out.
        """
        task = self.build()
        task.load_data()
        evaluated = set(task.metadata.eval_splits)
        out: list[str] = []

        def walk(obj: Any, key: str | None = None) -> None:
            if key in ("train", "validation", "dev") and key not in evaluated:
                return
            if hasattr(obj, "column_names") and hasattr(obj, "features"):  # a datasets.Dataset
                for column in obj.column_names:
                    is_id = column in ("id", "_id") or column.endswith(("-id", "_id"))
                    if not is_id and getattr(obj.features[column], "dtype", None) == "string":
                        out.extend(obj[column])
            elif isinstance(obj, dict) or hasattr(obj, "items"):
                for k, v in obj.items():
                    walk(v, str(k))

        walk(task.dataset)
        return out

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Run the task through ``mteb.evaluate``; returns our view of mteb's result, under this task's name."""
        result = run_mteb(encoder, [self.build()], batch_size=self.batch_size)[0]
        config = {**result.config, "path": str(self.path) if self.path else None, "online": self.online}
        return replace(result, task=self.name, config=config)
