"""What `litft demo` prints at the end: the evaluation table with its abstention and grounding columns, the stage
times, and where each output was written."""

from __future__ import annotations

import os
from pathlib import Path

from litft.evaluation.results import interval_text


def _abstention_cells(abstention: dict | None) -> str:
    if abstention is None:
        return f"{'':>9}{'':>13}"
    rates = abstention["abstention_rate"]["rate"], abstention["false_abstention_rate"]
    return f"{rates[0]:>9.2f}{rates[1]['rate'] if rates[1] else 0.0:>13.2f}"


def _grounding_cells(grounding: dict | None) -> str:
    if grounding is None:
        return f"{'':>10}{'':>10}"
    return f"{grounding['source_share']:>10.2f}{grounding['recall_at_k']:>10.2f}"


def print_summary(out: Path, report: dict, timings: list[tuple[str, float]], seconds: float, rag_k: int) -> None:
    """The demo's closing table (every row's scores, abstention and grounding), stage times and where things are."""
    models = report["models"]
    print(
        "\n== litft demo: results on the held-out test split "
        f"({models[0]['n']} questions whose source chunks no training record came from; "
        f"+rag: the top {rag_k} retrieved chunks in the prompt)"
    )
    width = max(len(row["label"]) for row in models) + 2
    print(
        f"{'model':<{width}}{'ROUGE-1':>9}{'ROUGE-2':>9}{'ROUGE-L':>9}{'L vs base [95% CI]':>26}{'general ppl':>13}"
        f"{'abstain':>9}{'false abst.':>13}{'grounded':>10}{'recall@k':>10}"
    )
    for row in models:
        delta = interval_text((row["vs_base"] or {}).get("rougeL"))
        delta += " " if delta and not delta.endswith("*") else ""  # values line up whether or not they carry `*`
        ppl = f"{row['general_text']['perplexity']:.2f}" if row["general_text"] else ""
        print(
            f"{row['label']:<{width}}{row['rouge1']:>9.4f}{row['rouge2']:>9.4f}{row['rougeL']:>9.4f}{delta:>26}"
            f"{ppl:>13}{_abstention_cells(row['abstention'])}{_grounding_cells(row['grounding'])}"
        )
    print(
        "* the 95% interval excludes 0; general ppl: perplexity on a public-domain sample of general English "
        "(a rise over the base is what tuning cost outside the domain)\n"
        'abstain: share of the unanswerable questions answered "I don\'t know"; false abst.: of the answerable ones; '
        "grounded: share of +rag answers whose words come from the question's source chunk; recall@k: questions "
        "whose source chunk was retrieved"
    )
    print("\nstage times: " + ", ".join(f"{name} {secs:.0f}s" for name, secs in timings) + f"; total {seconds:.0f}s")
    print(f"\nwritten under {out}{os.sep}:")
    for path, what in (
        ("urls.json, site/pages.jsonl", "crawled URLs and extracted page text"),
        ("site/chunks.jsonl, site/pretrain.txt", "cleaned chunks and the pretraining text"),
        ("qa.jsonl, qa.filtered.jsonl, split/", "synthesized records, the kept ones, train.json/test.json"),
        ("tokenizer/, pretrain_data/, finetune_data/", "the tokenizer and the tokenized datasets"),
        ("configs/", "the training configs the commands above used"),
        ("pretrain/final/", "the pretrained base checkpoint (a litgpt checkpoint)"),
        ("lora/, adapter_v2/, full/", "fine-tuning runs: final/ checkpoints and logs/metrics.csv"),
        ("index/", "the BM25 retrieval index over the chunks (`litft index search`)"),
        ("evaluate/", "report.json, answers.csv (a review sheet) and generations/"),
        ("loss_curves.png", "training and validation loss of every run"),
    ):
        print(f"  {path:<44}{what}")
    print(f"\nask a model: litft generate --checkpoint_dir {out / 'lora' / 'final'} --prompt 'Who teaches CS 320?'")
    print(f"review the answers blind: litft review serve {out / 'evaluate'} --reviewer YOUR_NAME")
