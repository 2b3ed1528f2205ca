"""The README's "Bring your own data" block, run as it is (the tiny model in the default run, all-MiniLM-L6-v2
in the slow run) on real data in the shapes it names, each figure against an independent reference:
sentence-transformers' EmbeddingSimilarityEvaluator (STS), pytrec_eval (graded retrieval with zero grades),
mteb's own classification and clustering protocol (AbsTaskClassification / AbsTaskClustering)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.evalsuite.results import ResultsStore

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block() -> str:
    """The TOML block of the README's "Bring your own data" section that holds ``[[eval.tasks]]``."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Bring your own data", 1)[1].split("\n## ", 1)[0]
    return next(b for b in re.findall(r"```toml\n(.*?)```", section, re.S) if "[[eval.tasks]]" in b)


def write_data(root: Path, shared: Path) -> None:
    """my/sts.csv (own header, 1-5 scores, a set column), my/beir (graded qrels with zeros), my/intents.json."""
    from embedbench.data import read_labelled, read_stsb

    my = root / "my"
    my.mkdir()
    with open(my / "sts.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["left", "right", "rating", "set"])
        for split, n in (("train", 20), ("test", 80)):
            for s1, s2, score in read_stsb(shared / "stsbenchmark" / f"sts-{split}.csv").head(n).select(
                "sentence1", "sentence2", "score_raw").iter_rows():
                w.writerow([s1, s2, 1 + 4 * score / 5, split])
    beir = my / "beir"
    (beir / "qrels").mkdir(parents=True)
    qrels = (shared / "scifact" / "qrels" / "test.tsv").read_text().splitlines()[1:26]
    corpus = (shared / "scifact" / "corpus.jsonl").read_text().splitlines()
    judged = [q.split("\t") for q in qrels]
    extra = [json.loads(d)["_id"] for d in corpus[:60]]
    lines = ["query-id\tcorpus-id\tscore"]
    for i, (q, d, _) in enumerate(judged):
        lines.append(f"{q}\t{d}\t{2 if i % 3 == 0 else 1}")
        lines.append(f"{q}\t{extra[i]}\t0")  # judged, not relevant
    lines.append(f"{judged[0][0]}x\t{extra[40]}\t0")  # a query judged 0 only: skipped, counted
    (beir / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    qids = {q for q, _, _ in judged} | {judged[0][0] + "x"}
    queries = [json.loads(q) for q in (shared / "scifact" / "queries.jsonl").read_text().splitlines()]
    queries = [q for q in queries if q["_id"] in qids] + [{"_id": judged[0][0] + "x", "text": "zero grades only"}]
    (beir / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    docs = {d for _, d, _ in judged} | set(extra)
    (beir / "corpus.jsonl").write_text("\n".join(d for d in corpus if json.loads(d)["_id"] in docs) + "\n")
    cats = json.loads((shared / "banking77" / "categories.json").read_text())[:5]
    splits = {
        s: [list(r) for r in read_labelled(shared / "banking77" / f"{s}.csv").filter(
            read_labelled(shared / "banking77" / f"{s}.csv")["label"].is_in(cats)).select("text", "label").iter_rows()]
        for s in ("train", "test")
    }
    (my / "intents.json").write_text(json.dumps(splits))


def run_readme(tmp_path: Path, shared: Path, model: str, quick: bool = False) -> ResultsStore:
    """Run the README block with ``model`` (``quick``: clustering samples of 256 texts, not 2,048)."""
    write_data(tmp_path, shared)
    block = readme_block().replace('models = ["all-MiniLM-L6-v2"]', f'models = ["{model}"]')
    if quick:
        block = block.replace("subset_size = 2048", "subset_size = 256")
    (tmp_path / "bench.toml").write_text(block, encoding="utf-8")  # results go to results/ beside it
    out = CliRunner().invoke(app, ["eval", "--config", str(tmp_path / "bench.toml")])
    assert out.exit_code == 0, out.output
    return ResultsStore(tmp_path / "results")


def check_sts_and_retrieval(store: ResultsStore, tmp_path: Path, model: str, st_shim) -> dict[str, float]:
    import pytrec_eval
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    from embedbench.encode import load_encoder

    enc = load_encoder(model, show_progress=False)
    sts = store.load(model, "my-sts")
    rows = [r for r in csv.DictReader(open(tmp_path / "my" / "sts.csv", encoding="utf-8")) if r["set"] == "test"]
    assert sts.n_items == len(rows) == 80 and max(sts.per_item["gold"]) <= 1.0
    st = EmbeddingSimilarityEvaluator(
        [r["left"] for r in rows], [r["right"] for r in rows], [float(r["rating"]) for r in rows], write_csv=False
    )(st_shim(enc))
    assert sts.metrics["spearman"] == pytest.approx(st["spearman_cosine"], abs=1e-4)

    ret = store.load(model, "my-search")
    beir = tmp_path / "my" / "beir"
    docs = [json.loads(d) for d in (beir / "corpus.jsonl").read_text().splitlines()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (beir / "queries.jsonl").read_text().splitlines())}
    qrels: dict[str, dict[str, int]] = {}
    for line in (beir / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        q, d, s = line.split("\t")
        qrels.setdefault(q, {})[d] = int(s)
    d_emb = enc.encode([(d["title"] + " " + d["text"]).strip() for d in docs])
    d_emb /= np.linalg.norm(d_emb, axis=1, keepdims=True)
    run = {}
    for q in qrels:
        v = enc.encode([queries[q]])[0]
        sims = d_emb @ (v / np.linalg.norm(v))
        run[q] = {docs[i]["_id"]: float(sims[i]) for i in np.argsort(-sims)[:100]}
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "map_cut.100"}).evaluate(run)
    assert sorted(ret.per_item["id"]) == sorted(q for q in qrels if any(s > 0 for s in qrels[q].values()))
    assert ret.provenance["skipped_queries_without_relevant"] == 1
    assert ret.provenance["judgements_below_threshold"] == 26 and ret.provenance["negative_judgements"] == 0
    assert ret.per_item["ndcg@10"] == pytest.approx([ref[q]["ndcg_cut_10"] for q in ret.per_item["id"]], abs=1e-4)
    assert ret.per_item["map@100"] == pytest.approx([ref[q]["map_cut_100"] for q in ret.per_item["id"]], abs=1e-4)
    return {"spearman": sts.metrics["spearman"], "st_spearman": st["spearman_cosine"], "ndcg@10": ret.metrics["ndcg@10"],
            "pytrec_ndcg@10": float(np.mean([ref[q]["ndcg_cut_10"] for q in ret.per_item["id"]]))}


def test_readme_block_runs_with_the_tiny_model(tmp_path, shared_data, st_shim, monkeypatch):
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "emb.sqlite"))
    store = run_readme(tmp_path, shared_data, "tiny", quick=True)
    check_sts_and_retrieval(store, tmp_path, "tiny", st_shim)
    cls = store.load("tiny", "my-intents")
    clu = store.load("tiny", "my-intent-clusters")
    assert cls.n_items == 200 and cls.provenance["n_labels"] == 5 and len(cls.provenance["per_experiment"]) == 10
    assert clu.n_items == 10 and clu.main_metric == "v_measure"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{ kind = "table", path = "my/sts.csv", output = "scored", where = { lang = "en" } }',
         r"my/sts.csv: filter \(`where`\) column 'lang' not found.*; the file has \['left', 'right', 'rating', 'set'\]"),
        ('{ kind = "table", path = "my/sts.csv", output = "scored", split_column = "set", split = "dev" }',
         r"my/sts.csv, column 'set': split keeps no rows: expected 'dev', the column holds \['train', 'test'\]"),
        ('{ kind = "table", path = "my/sts.csv", output = "scored", columns = { sentence1 = "left", sentence2 = "right", score = "rating" }, score_range = [0, 1] }',
         r"my/sts.csv, line 2, column 'rating': score 5.0 is outside the declared score_range \[0, 1\]"),
        ('{ kind = "table", path = "my/sts.csv", output = "scored", colums = { a = "b" } }',
         r"task 'bad': source.colums: Extra inputs are not permitted"),
    ],
)
def test_broken_source_exits_2_with_one_line(tmp_path, shared_data, source, message):
    write_data(tmp_path, shared_data)
    (tmp_path / "bench.toml").write_text(f'[eval]\nmodels = ["tiny"]\n[[eval.tasks]]\nname = "bad"\ntask = "sts"\nsource = {source}\n')
    out = CliRunner().invoke(app, ["eval", "--config", str(tmp_path / "bench.toml")])
    assert out.exit_code == 2, out.output
    errors = [line for line in out.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.search(message, errors[0]), out.output


def mteb_reference(tmp_path: Path, enc) -> tuple[dict, dict]:
    """mteb's own classification and clustering tasks on my/intents.json (labels numbered in sorted order)."""
    from datasets import Dataset, DatasetDict

    from embedbench.evalsuite.tasks.mteb_run import run_mteb
    from embedbench.evalsuite.tasks.mteb_tasks import Banking77Clustering, LocalBanking77Classification

    splits = json.loads((tmp_path / "my" / "intents.json").read_text())
    names = sorted({label for rows in splits.values() for _, label in rows})

    def ds(rows, text, label):
        return Dataset.from_dict({text: [t for t, _ in rows], label: [names.index(x) for _, x in rows]})

    cls, clu = LocalBanking77Classification(), Banking77Clustering()
    cls.dataset = DatasetDict({s: ds(r, "text", "label") for s, r in splits.items()})
    clu.dataset = DatasetDict({"test": ds(splits["test"], "sentences", "labels")})
    cls.data_loaded = clu.data_loaded = True
    a, b = run_mteb(enc, [cls, clu])
    return a.metrics, b.metrics


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny", pytest.param("all-MiniLM-L6-v2", marks=pytest.mark.real)])
def test_readme_block_equals_the_references(tmp_path, shared_data, st_shim, model, capsys):
    from embedbench.encode import load_encoder

    store = run_readme(tmp_path, shared_data, model)
    figures = check_sts_and_retrieval(store, tmp_path, model, st_shim)
    a, b = mteb_reference(tmp_path, load_encoder(model, show_progress=False))
    cls, clu = store.load(model, "my-intents"), store.load(model, "my-intent-clusters")
    assert cls.metrics["accuracy"] == pytest.approx(a["accuracy"], abs=1e-4)
    assert cls.metrics["f1"] == pytest.approx(a["f1"], abs=1e-4)
    assert clu.metrics["v_measure"] == pytest.approx(b["v_measure"], abs=1e-4)
    with capsys.disabled():
        print(f"\n{model}: {figures} accuracy {cls.metrics['accuracy']:.6f} / mteb {a['accuracy']:.6f}, "
              f"v_measure {clu.metrics['v_measure']:.6f} / mteb {b['v_measure']:.6f}")
