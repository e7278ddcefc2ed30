"""Tune on your reviews, end to end on the demo: evaluate -> review -> preferences -> DPO on the LoRA run -> evaluate.

    python scripts/tune_on_reviews.py                          # runs `litft demo` first (a few minutes on a CPU)
    python scripts/tune_on_reviews.py --demo_out out/demo      # on a finished demo's folder
    python scripts/tune_on_reviews.py --fast                   # the demo's --fast size: a smoke run of the loop

The steps, each a `litft` command printed before it runs:
1. `litft evaluate` of the demo's runs (lora, adapter_v2, full, and the base) on the TRAINING questions
   (split/train.json): the answers to review. The test questions are never reviewed or trained on.
2. The review: a stand-in reviewer, `rouge-bot`, fills in the score_ columns of answers.csv by the ROUGE-L F1 of each
   answer against its reference (>= 0.6: 3, >= 0.3: 2, an answer that is no answer (`is_no_answer`): 1, else 0),
   and `litft review import` takes the sheet in, as a person's filled-in sheet would be. With people's reviews
   (`litft review serve`) this step is theirs; the stand-in only shows the loop runs.
3. `litft review preferences --reference true`: pairs from the scores (ties and margins below 1 skipped) and the
   reference answer chosen over every answer scored 0.
4. `litft merge_lora` of the demo's LoRA run, `litft prepare preference`, and `litft finetune dpo` (LoRA on the
   merged run: the reference is the LoRA run itself, with the new adapters off; beta 0.1, lr --lr, --epochs).
5. `litft evaluate` of the LoRA run and the DPO run on the held-out TEST questions, then the before/after rows:
   each row's ROUGE-L with its 95% interval against the base, and the DPO run against the LoRA run (paired
   bootstrap over the test questions, `litft.evaluation.statistics`).

Everything goes into --out (default out/tune_on_reviews). Prints the table and one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
from pathlib import Path

BOT = "rouge-bot"
FULL_SCORE, PARTIAL_SCORE = 0.6, 0.3  # ROUGE-L F1 for a 3 and for a 2
DPO_SETTINGS = [  # the demo's LoRA shape (configs/lora.yaml) and DPO's usual beta
    *("--beta", "0.1", "--lora.r", "16", "--lora.alpha", "32", "--lora.dropout", "0"),
    *("--lora.query", "true", "--lora.key", "true", "--lora.value", "true", "--lora.projection", "true"),
    *("--lora.mlp", "true", "--train.micro_batch_size", "8", "--train.global_batch_size", "8"),
    *("--train.lr_warmup_steps", "5", "--train.log_interval", "10", "--train.save_interval", "null"),
    *("--precision", "32-true", "--accelerator", "cpu", "--quiet", "true"),
]
EVALUATE = ["--sampling.max_new_tokens", "48", "--batch_size", "16", "--quiet", "true"]


def litft(*args: str) -> None:
    """Run one litft command as a user would, printing it first."""
    print("$ litft " + shlex.join(args), file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "litft.cli", *args], check=True, stdout=sys.stderr)


def review_by_rouge(eval_dir: Path, sheet: Path) -> dict[int, int]:
    """answers.csv with every score_ cell filled in by the stand-in reviewer; returns the count of each score."""
    from litft.evaluation.no_answer import is_no_answer
    from litft.evaluation.results import rouge_scores
    from litft.evaluation.review.table import ANSWER, SCORE, model_labels, read_csv, sheet_cell

    fields, rows = read_csv(eval_dir / "answers.csv")
    counts = dict.fromkeys(range(4), 0)
    for label in model_labels(fields):
        answers = [row[ANSWER + label] for row in rows]
        scores = rouge_scores(answers, [row["reference"] for row in rows])
        for row, answer, rouge in zip(rows, answers, scores, strict=True):
            score = 3 if rouge["rougeL"] >= FULL_SCORE else 2 if rouge["rougeL"] >= PARTIAL_SCORE else 0
            if score == 0 and is_no_answer(answer, row["question"]):
                score = 1
            row[SCORE + label] = str(score)
            counts[score] += 1
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows({name: sheet_cell(cell or "") for name, cell in row.items()} for row in rows)
    return counts


def before_after(eval_dir: Path, before: str, after: str) -> dict:
    """The two rows' ROUGE-L with intervals against the base, and the after-minus-before interval."""
    from litft.evaluation.results import rouge_scores
    from litft.evaluation.review.table import ANSWER, read_csv
    from litft.evaluation.statistics import paired_bootstrap

    report = json.loads((eval_dir / "report.json").read_text())
    rows = {model["label"]: model for model in report["models"]}
    _, answers = read_csv(eval_dir / "answers.csv")
    references = [row["reference"] for row in answers]
    per_question = {
        label: [score["rougeL"] for score in rouge_scores([row[ANSWER + label] for row in answers], references)]
        for label in (before, after)
    }
    delta = paired_bootstrap([a - b for a, b in zip(per_question[after], per_question[before], strict=True)])
    result = {"questions": len(answers)}
    for label in ("base", before, after):
        interval = (rows[label].get("vs_base") or {}).get("rougeL")
        # with unanswerable test questions (`answerable: false`): abstention, hallucination, false-abstention rates
        result[label] = {
            "rougeL": rows[label]["rougeL"],
            "vs_base": interval,
            "abstention": rows[label].get("abstention"),
        }
    result["after_minus_before"] = {"mean": delta.mean, "low": delta.low, "high": delta.high}
    return result


def print_table(figures: dict, before: str, after: str) -> None:
    from litft.evaluation.abstention import RATES, rate_text

    def interval(value: dict | None) -> str:
        return "-" if not value else f"{value['mean']:+.3f} [{value['low']:+.3f}, {value['high']:+.3f}]"

    print(f"{'row':<8} {'ROUGE-L':>8}  vs base (95% interval)")
    for label in ("base", before, after):
        abstention = figures[label]["abstention"] or {}
        rates = "".join(f"  {name} {rate_text(value)}" for name, value in abstention.items() if name in RATES)
        print(f"{label:<8} {figures[label]['rougeL']:>8.3f}  {interval(figures[label]['vs_base'])}{rates}")
    print(f"{after} - {before}: {interval(figures['after_minus_before'])} over {figures['questions']} test questions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/tune_on_reviews"))
    parser.add_argument("--demo_out", type=Path, help="a finished `litft demo` folder (default: run the demo)")
    parser.add_argument("--fast", action="store_true", help="the demo's --fast size: a smoke run")
    parser.add_argument("--epochs", type=int, default=1, help="DPO epochs over the pairs")
    # 1e-3 (a tenth of the demo LoRA's rate) for 2 epochs took the LoRA run's test ROUGE-L from 0.30 to 0.12
    parser.add_argument("--lr", type=float, default=1e-4, help="DPO's learning rate")
    args = parser.parse_args()
    out, demo = args.out, args.demo_out or args.out / "demo"
    out.mkdir(parents=True, exist_ok=True)
    if args.demo_out is None:
        litft("demo", "--out", str(demo), "--fast", str(args.fast).lower())
    runs = [str(demo / name) for name in ("lora", "adapter_v2", "full")]
    reviewed, prefs = out / "evaluate_train", out / "prefs.jsonl"
    litft("evaluate", "--test_file", str(demo / "split" / "train.json"), "--runs", *runs, "--out_dir", str(reviewed),
          "--overwrite", "true", *EVALUATE)  # fmt: skip
    counts = review_by_rouge(reviewed, out / "scored.csv")
    litft("review", "import", str(out / "scored.csv"), "--reviewer", BOT, "--eval_dir", str(reviewed))
    litft("review", "preferences", str(reviewed), "--out", str(prefs), "--reference", "true")
    merged, pref_data, dpo = out / "lora_merged", out / "preference_data", out / "dpo"
    litft("merge_lora", str(demo / "lora" / "final"), "--out_dir", str(merged), "--overwrite", "true")
    litft("prepare", "preference", "--data", str(prefs), "--checkpoint_dir", str(merged), "--prompt_style", "alpaca",
          "--val_fraction", "0.1", "--out", str(pref_data), "--overwrite", "true", "--quiet", "true")  # fmt: skip
    litft("finetune", "dpo", str(merged), str(pref_data), "--out_dir", str(dpo), "--overwrite", "true",
          "--train.epochs", str(args.epochs), "--optimizer.lr", str(args.lr), *DPO_SETTINGS)  # fmt: skip
    after = out / "evaluate_test"
    litft("evaluate", "--test_file", str(demo / "split" / "test.json"), "--runs", str(demo / "lora"), str(dpo),
          "--base", str(demo / "pretrain" / "final"), "--out_dir", str(after), "--overwrite", "true",
          *EVALUATE)  # fmt: skip
    figures = before_after(after, "lora", "dpo")
    pairs = sum(1 for _ in prefs.open())
    print(f"stand-in review of {sum(counts.values())} answers: {counts}; {pairs} preference pairs")
    print_table(figures, "lora", "dpo")
    print(json.dumps({"name": "tune_on_reviews", "scores": counts, "pairs": pairs, **figures}))


if __name__ == "__main__":
    main()
