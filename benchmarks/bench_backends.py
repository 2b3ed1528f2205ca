"""Benchmark: encoding throughput of every backend × precision against torch fp32, in one run.

Run with ``make bench`` (or ``python benchmarks/bench_backends.py``); writes ``reports/backends.md``.

For all-MiniLM-L6-v2 and all-mpnet-base-v2 it times STS Benchmark test sentences and SciFact abstracts
(``(title + " " + text).strip()``), interleaving the configurations round by round so that load from
other processes hits them alike; the ratios to torch fp32 are medians of per-round ratios. It also
counts the FLOPs the model did (padded tokens × (2 × linear parameters + attention term)) against the
CPU's peak, and, for MiniLM-L6, the accuracy of each configuration: STS Benchmark test Spearman and
nDCG@10 of the SciFact test queries over the abstracts relevant to them (a small, easy sub-corpus: a
delta indicator, not the published SciFact score). Accuracy embeddings go through the shared cache
(one space per backend and precision), so a second run only re-times.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from embedbench.backends import Backend, Precision, cpu_threads, tag  # noqa: E402
from embedbench.encode import CachedEncoder, load_encoder  # noqa: E402
from embedbench.io import write_text_atomic  # noqa: E402
from embedbench.paths import data_dir  # noqa: E402

CONFIGS = [(b, p) for b in Backend for p in Precision]
BASE = (Backend.TORCH, Precision.FP32)
# Texts timed per model and dataset, and rounds: sized so the whole run stays ~15 min on 2 busy cores.
SIZES = {"all-MiniLM-L6-v2": {"stsb": 512, "scifact": 128}, "all-mpnet-base-v2": {"stsb": 192, "scifact": 32}}
ROUNDS = {"all-MiniLM-L6-v2": 3, "all-mpnet-base-v2": 2}
BATCH = 32


def stsb_test() -> tuple[list[str], list[str], list[float]]:
    """STS Benchmark test pairs and gold scores (tab-separated, no header, quoting off)."""
    s1, s2, gold = [], [], []
    with open(data_dir() / "stsbenchmark" / "sts-test.csv", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            s1.append(row[5])
            s2.append(row[6])
            gold.append(float(row[4]))
    return s1, s2, gold


def scifact_test() -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    """SciFact test queries, their qrels, and the abstracts relevant to them (mteb's document string)."""
    root = data_dir() / "scifact"
    qrels: dict[str, dict[str, int]] = {}
    with open(root / "qrels" / "test.tsv", encoding="utf-8") as f:
        for row in list(csv.reader(f, delimiter="\t"))[1:]:
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    wanted = {d for rel in qrels.values() for d in rel}
    docs = {}
    with open(root / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if str(d["_id"]) in wanted:
                docs[str(d["_id"])] = (d["title"] + " " + d["text"]).strip()
    with open(root / "queries.jsonl", encoding="utf-8") as f:
        queries = {str(q["_id"]): q["text"] for q in map(json.loads, f) if str(q["_id"]) in qrels}
    return docs, queries, qrels


def model_work(enc: CachedEncoder, texts: list[str]) -> tuple[float, int, int]:
    """FLOPs, padded tokens and real tokens of encoding ``texts`` the way sentence-transformers batches them."""
    model = enc.model
    cfg = model[0].model.config
    layers, hidden = cfg.num_hidden_layers, cfg.hidden_size
    linear = sum(m.weight.numel() for n, m in model[0].model.named_modules()
                 if isinstance(m, torch.nn.Linear) and "pooler" not in n)
    order = np.argsort([-model._input_length(t) for t in texts])
    flops, padded, real = 0.0, 0, 0
    for start in range(0, len(texts), enc.batch_size):
        batch = [texts[i] for i in order[start : start + enc.batch_size]]
        mask = model.tokenizer(batch, padding=True, truncation=True, max_length=model.max_seq_length)["attention_mask"]
        n, seq = len(mask), len(mask[0])
        # per token: 2 FLOPs per linear weight, plus QK^T and AV over the padded sequence (2·seq·d each) per layer
        flops += n * seq * (2 * linear + 4 * layers * seq * hidden)
        padded += n * seq
        real += int(sum(map(sum, mask)))
    return flops, padded, real


def cpu_peak() -> dict[str, float | str]:
    """Peak FLOP/s of the CPUs this process may use, from lscpu flags and /proc/cpuinfo's clock."""
    flags = set(subprocess.run(["lscpu"], capture_output=True, text=True).stdout.split())
    mhz = float(next(line.split(":")[1] for line in open("/proc/cpuinfo") if line.startswith("cpu MHz")))
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    fma_units = 2  # assumed: server Xeons with AVX-512 have two FMA ports
    fp32_cycle = lanes * 2 * fma_units  # FMA = 2 FLOPs
    int8_cycle = fp32_cycle * 4 if ("avx512_vnni" in flags or "avx_vnni" in flags) else fp32_cycle * 2
    cores = cpu_threads()
    return {
        "cores": cores, "ghz": mhz / 1000, "fp32_per_cycle": fp32_cycle, "int8_per_cycle": int8_cycle,
        "fp32": cores * mhz * 1e6 * fp32_cycle, "int8": cores * mhz * 1e6 * int8_cycle,
        "amx": "amx_int8" in flags, "isa": "AVX-512" if lanes == 16 else "AVX2",
    }


def time_model(model_name: str, datasets: dict[str, list[str]], rounds: int) -> dict:
    """Interleaved timing of every configuration; returns per-dataset throughput, ratios, work and agreement."""
    encoders = {c: load_encoder(model_name, backend=c[0], precision=c[1], cache=False, show_progress=False,
                                batch_size=BATCH) for c in CONFIGS}
    out = {}
    for ds, texts in datasets.items():
        for enc in encoders.values():
            enc.encode(texts[:BATCH])  # warm-up: first-call allocation and graph compilation
        secs: dict[tuple, list[float]] = {c: [] for c in CONFIGS}
        embs = {}
        for r in range(rounds):
            for c in CONFIGS[r % len(CONFIGS):] + CONFIGS[: r % len(CONFIGS)]:
                time.sleep(0.3)  # let the previous runtime's spinning threads park
                t0 = time.perf_counter()
                embs[c] = encoders[c].encode(texts)
                secs[c].append(time.perf_counter() - t0)
        ratios = {c: statistics.median(b / s for b, s in zip(secs[BASE], secs[c], strict=True)) for c in CONFIGS}
        cos = {c: np.einsum("ij,ij->i", embs[c], embs[BASE]) for c in CONFIGS}
        flops, padded, real = model_work(encoders[BASE], texts)
        out[ds] = {"n": len(texts), "secs": secs, "ratio": ratios, "cos": cos,
                   "flops": flops, "padded": padded, "real": real}
    return out


def accuracy(model_name: str) -> dict[tuple, tuple[float, float]]:
    """STS Benchmark test Spearman and SciFact (relevant-abstract sub-corpus) nDCG@10 per configuration."""
    from ranx import Qrels, Run, evaluate

    s1, s2, gold = stsb_test()
    docs, queries, qrels = scifact_test()
    doc_ids, q_ids = list(docs), list(queries)
    result = {}
    for c in CONFIGS:
        enc = load_encoder(model_name, backend=c[0], precision=c[1], show_progress=False)
        e = enc.encode(s1 + s2)
        rho = spearmanr(np.einsum("ij,ij->i", e[: len(s1)], e[len(s1):]), gold).statistic
        scores = enc.encode([queries[q] for q in q_ids]) @ enc.encode([docs[d] for d in doc_ids]).T
        top = np.argsort(-scores, axis=1)[:, :10]
        run = {q: {doc_ids[j]: float(scores[i, j]) for j in top[i]} for i, q in enumerate(q_ids)}
        result[c] = (float(rho), float(evaluate(Qrels(qrels), Run(run), "ndcg@10")))
    return result


def render(results: dict, acc: dict, peak: dict, started: dict, wall: float, argv: str) -> str:
    """The Markdown report."""
    lines = [
        "# Encoding backends: throughput and accuracy against torch fp32",
        "",
        f"Generated {started['date']} by `{argv}` in {wall / 60:.1f} min on {platform.node()} "
        f"({peak['cores']} CPUs, {peak['isa']}, {peak['ghz']:.1f} GHz nominal, AMX: {peak['amx']}). "
        f"Load average at start {started['load']}, at end {os.getloadavg()[0]:.1f}.",
        "",
        "**The machine is shared with other jobs, so absolute texts/s are noisy; compare the ratios.** "
        "Each configuration is timed on the same texts in interleaved rounds (order rotated each round), and "
        "a ratio is the median over rounds of torch-fp32 time / configuration time within the same round.",
        f"Settings: batch {BATCH}, length-sorted batches (sentence-transformers' own), {peak['cores']} intra-op "
        "threads in every runtime, no embedding cache while timing.",
        "",
        "Machine limit: FLOPs = padded tokens × (2 × linear weights + 4 × layers × padded length × hidden) "
        "(the attention term counts QKᵀ and AV; embeddings, softmax, layer norm and pooling are ignored). "
        f"Peak = CPUs × {peak['ghz']:.1f} GHz × FLOPs/cycle, assuming two 512-bit FMA units per core: "
        f"{peak['fp32_per_cycle']} fp32 FLOPs/cycle ({peak['fp32'] / 1e9:.0f} GFLOP/s) and, with VNNI, "
        f"{peak['int8_per_cycle']} int8 ops/cycle ({peak['int8'] / 1e9:.0f} GOP/s). Turbo clocks are unknown in this "
        "VM and AMX tiles (far higher int8/bf16 peaks) are not counted, so the fp32 % is the meaningful one. "
        "int8 rows are measured against the int8 peak.",
    ]
    for model_name, per_ds in results.items():
        for ds, r in per_ds.items():
            base_s = statistics.median(r["secs"][BASE])
            lines += [
                "", f"## {model_name}, {ds} ({r['n']} texts, {r['real']:,} tokens, {r['padded']:,} with padding, "
                f"{r['flops'] / r['padded'] / 1e6:.0f} MFLOP per padded token)", "",
                "| backend | texts/s (median) | × torch fp32 (median, min–max) | GFLOP/s | % of peak | cosine to torch fp32 (mean / min) |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for c in CONFIGS:
                s = statistics.median(r["secs"][c])
                per_round = [b / x for b, x in zip(r["secs"][BASE], r["secs"][c], strict=True)]
                gflops = r["flops"] / s / 1e9
                limit = peak["int8"] if c[1] is Precision.INT8 else peak["fp32"]
                lines.append(
                    f"| {tag(*c)} | {r['n'] / s:,.1f} | {r['ratio'][c]:.2f} ({min(per_round):.2f}–{max(per_round):.2f}) "
                    f"| {gflops:,.1f} | {100 * gflops * 1e9 / limit:.0f}% | {r['cos'][c].mean():.5f} / {r['cos'][c].min():.5f} |"
                )
            lines.append(f"\ntorch fp32 took {base_s:.2f} s (median).")
    if acc:
        base = acc[BASE]
        lines += [
            "", "## Accuracy, all-MiniLM-L6-v2", "",
            "STS Benchmark test: Spearman of cosine similarity, 1,379 pairs. SciFact: nDCG@10 of the 300 test queries "
            "over only the abstracts relevant to some test query (easy sub-corpus; compare the deltas, not the level). "
            "Δ in points (× 100).", "",
            "| backend | STSB Spearman | Δ STSB | SciFact-sub nDCG@10 | Δ SciFact-sub |",
            "|---|---:|---:|---:|---:|",
        ]
        for c in CONFIGS:
            rho, ndcg = acc[c]
            lines.append(f"| {tag(*c)} | {rho:.4f} | {100 * (rho - base[0]):+.2f} | {ndcg:.4f} | {100 * (ndcg - base[1]):+.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Time every backend × precision on both models and datasets; write reports/backends.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(SIZES))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of timed texts")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "reports" / "backends.md"))
    args = parser.parse_args()
    started = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "load": f"{os.getloadavg()[0]:.1f}"}
    t0 = time.perf_counter()
    s1, s2, _ = stsb_test()
    stsb = list(dict.fromkeys(s1 + s2))
    docs = list(scifact_test()[0].values())
    results = {}
    for name in args.models:
        n = {k: max(BATCH, int(v * args.scale)) for k, v in SIZES.get(name, SIZES["all-MiniLM-L6-v2"]).items()}
        results[name] = time_model(name, {"STS Benchmark": stsb[: n["stsb"]], "SciFact abstracts": docs[: n["scifact"]]},
                                   ROUNDS.get(name, 2))
        for ds, r in results[name].items():
            print(name, ds, {tag(*c): round(v, 2) for c, v in r["ratio"].items()}, flush=True)
    acc = accuracy("all-MiniLM-L6-v2") if "all-MiniLM-L6-v2" in args.models else {}
    report = render(results, acc, cpu_peak(), started, time.perf_counter() - t0,
                    "python benchmarks/bench_backends.py" + (f" --scale {args.scale}" if args.scale != 1 else ""))
    write_text_atomic(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
