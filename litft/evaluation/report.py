"""What `litft evaluate` leaves behind: answers.csv, report.json's contents, the summary on stdout, and
`litft evaluate summarize`, which turns the reviewers' filled-in answers.csv into the 0-3 table."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from litft.common.errors import LitftError
from litft.common.io import atomic_write_json
from litft.evaluation.gate import release_gate
from litft.evaluation.harness import TASKS_NOTE
from litft.evaluation.lineage import LINEAGE_COLUMNS
from litft.evaluation.results import ROUGE_TYPES, mean, results_table
from litft.evaluation.review.table import format_review_table, read_csv, review_rows, write_answers_csv


def write_answers(out_dir: Path, records, results, verdicts, judge_report, lineage: list[dict]):
    """answers.csv (each question's lineage, every row's answers, the judge's scores, empty score_ columns to
    review), a note on what it merged, and the judge's 0-3 review table (into judge_report) when answers were
    judged."""
    answers_csv = out_dir / "answers.csv"
    note = write_answers_csv(
        answers_csv,
        [r.question for r in records],
        [r.reference or "" for r in records],
        {r.label: r.answers for r in results},
        verdicts,
        [{name: _cell(origin[name]) for name in LINEAGE_COLUMNS} for origin in lineage],
    )
    review = None
    if verdicts:
        fields, rows = read_csv(answers_csv)
        review = [row for row in review_rows(fields, rows) if row.source == "judge"]
        judge_report["review"] = [row.as_dict() for row in review]
    return answers_csv, note, review


def _cell(value) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def build_report(test_file, records, chosen, settings, options, results, judge_report, answers_csv, out_dir) -> dict:
    """report.json: what was evaluated, with which settings and versions, and every model's numbers."""
    import rouge_score
    import torch

    from litft import __version__

    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "litft_version": __version__,
        "torch_version": torch.__version__,
        "test_file": {
            "path": str(Path(test_file).resolve()),
            "sha256": hashlib.sha256(Path(test_file).read_bytes()).hexdigest(),
            "records": chosen["records"],
            "records_used": len(records),
            "limit": chosen["limit"],
            "sample": chosen["sample"],
        },
        "settings": {
            "sampling": asdict(settings),
            "greedy": settings.greedy,
            "batch_size": options["batch_size"],
            "device": options["device"],
            "precision": options["precision"],
            "quantize": options["quantize"],
            "prompt_style": options["prompt_style"],
            "base_dir": str(options["base_dir"]) if options["base_dir"] else None,
        },
        "rouge": {
            "types": list(ROUGE_TYPES),
            "measure": "F",
            "use_stemmer": True,
            "package": f"rouge-score {getattr(rouge_score, '__version__', '')}".strip(),
            "averaging": "mean over test records",
        },
        "reference_mean_words": mean([len((r.reference or "").split()) for r in records]),
        "tasks": options["tasks"] and options["tasks"].describe(),
        "models": [r.summary() for r in results],
        "release_gate": release_gate(results, options["max_regression"]),
        "judge": judge_report,
        "outputs": {"answers_csv": str(answers_csv), "generations": str(out_dir / "generations")},
    }


def _chosen_note(test_file: dict) -> str:
    """How the scored records were chosen from the test file, when not all of them were."""
    if test_file["sample"]:
        sample = test_file["sample"]
        return f" (sampled from {test_file['records']} with seed {sample['seed']}: {sample['chunks']} source chunks)"
    if test_file["records_used"] < test_file["records"] and test_file["limit"]:
        return f" (the first {test_file['limit']} of {test_file['records']})"
    return ""


def print_summary(results, report, review, judge_model, answers_csv: Path, note: str) -> None:
    print(results_table(results))
    words = report["reference_mean_words"]
    records = report["test_file"]["records_used"]
    chosen = _chosen_note(report["test_file"])
    print(f"references: {records} records{chosen}, mean {words:.1f} words; ROUGE F-measure, stemmer on")
    if any(r.vs_base for r in results):
        print(
            "L vs base: mean per-question ROUGE-L difference to the closed-book base, paired bootstrap 95% interval "
            f"(10,000 resamples); * the interval excludes 0, so the difference is unlikely to be noise at n={records}"
        )
    print("no answer: answers that are empty, a refusal or a repeat of the question (report.json has the reasons)")
    if report["general_text"]:
        scored = report["general_text"]
        print(
            f"general ppl: perplexity on {scored['path']} (at most {scored['max_tokens']:,} tokens), lower is better; "
            "a rise over the base is what tuning cost in general text"
        )
    if report["tasks"]:
        print(TASKS_NOTE)
    if report["contamination"]:
        found = report["contamination"]
        dropped = "left out of the scores" if found["decontaminated"] else "--decontaminate leaves them out"
        print(
            f"contamination: {found['count']} test records share a run of {found['n']}+ words with "
            f"{found['train_file']} ({dropped})"
        )
    if any(r.from_cache == r.n for r in results):
        print("* answers reused from generations/ (tokens/s as measured when they were generated)")
    if report["api"] and report["api"]["failed"]:
        failed = report["api"]["failed"]
        print(f"warning: {len(failed)} API answers failed and count as empty (first: {failed[0]}); re-run to retry")
    if review:
        print(f"\njudge {judge_model} (0-3 review scale):\n{format_review_table(review)}")
    report_path = Path(report["outputs"]["answers_csv"]).with_name("report.json")
    print(
        f"\nwrote {report_path} and {answers_csv} "
        f"(fill in the score_ columns, then `litft evaluate summarize {answers_csv}`)"
    )
    if note:
        print(note)


def summarize(answers_csv: Path, out: Path | None = None) -> dict:
    """Turn a filled-in answers.csv into the table of percentages per model and score.

    Scores: 0 = not relevant (Incorrect), 1 = no answer, 2 = partially relevant, 3 = relevant. Empty cells are
    left out; judge_<model> columns (from --judge.model) get their own rows, marked "(judge)".

    Args:
        answers_csv: The answers.csv written by `litft evaluate`, with score_<model> columns filled in.
        out: Also write the table as JSON here.
    """
    fields, rows = read_csv(answers_csv)
    if not rows:
        raise LitftError(
            f"{answers_csv} has a header but no answers; give the answers.csv that `litft evaluate` wrote."
        )
    table = review_rows(fields, rows, str(answers_csv))
    print(format_review_table(table))
    result = {"answers_csv": str(answers_csv), "rows": [row.as_dict() for row in table]}
    if out is not None:
        atomic_write_json(out, result)
    return result
