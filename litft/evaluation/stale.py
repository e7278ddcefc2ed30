"""`litft evaluate stale`: which answers went stale when the documents changed, and did the update fix them?

After a refresh (`litft refresh`, or crawl --refresh -> process -> synthesize --refresh -> split), the test split's
questions about changed chunks carry the new text's answers. An evaluation folder in which the run before the update
(`--previous`, by default the first run row) and the updated run (`--updated`, by default the last) answered the
refreshed test split is read back here with the refresh's changes.json: questions are grouped by what happened to
their source chunk (changed, added, unchanged), each row's ROUGE-L is given per group, and each row's per-question
difference to the previous model, paired bootstrap interval, on each group. On `changed` the previous model's
answers are the stale ones; on `unchanged` a drop would be forgetting. Nothing is generated: the answers are
answers.csv's, so this runs in seconds on any evaluation folder.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from litft.common.checks import require_dir, require_file
from litft.common.errors import LitftError
from litft.common.io import atomic_write_json, read_json
from litft.common.outputs import check_in_place_files, record_own_files
from litft.evaluation.results import interval_text, mean, rouge_scores
from litft.evaluation.review.table import ANSWER, format_table, read_csv
from litft.evaluation.statistics import paired_bootstrap

STALE_FILE = "stale.json"
GROUPS = ("changed", "added", "unchanged")


def read_changes(path: Path) -> dict[str, set[str]]:
    """The chunk ids of a changes.json by what happened to them: changed (the new ids), added, removed."""
    changes = read_json(path)
    chunks = changes.get("chunks") if isinstance(changes, dict) else None
    try:
        return {
            "changed": {str(pair["new"]) for pair in chunks["changed"]},
            "added": {str(chunk_id) for chunk_id in chunks["added"]},
            "removed": {str(chunk_id) for chunk_id in chunks["removed"]},
        }
    except (TypeError, KeyError):
        raise LitftError(
            f"{path} is not a changes.json of `litft process`: it needs chunks.changed [{{old, new}}], "
            "chunks.added and chunks.removed."
        ) from None


def question_groups(source_ids: list[str | None], changes: dict[str, set[str]]) -> list[str]:
    """Each question's group by its source chunk: changed, added, or unchanged (also a question with no source)."""
    return [
        "changed" if sid in changes["changed"] else "added" if sid in changes["added"] else "unchanged"
        for sid in source_ids
    ]


def _source_ids(report: dict, rows: list[dict[str, str]]) -> list[str | None]:
    """Each answers.csv row's source chunk: its source_id column, else the test file's record with that question
    and reference."""
    if rows and "source_id" in rows[0]:
        return [row["source_id"] or None for row in rows]
    from litft.models.instructions import read_instructions

    by_text = {(r.question, r.reference): r.source_id for r in read_instructions(report["test_file"]["path"], True)}
    return [by_text.get((row["question"], row["reference"])) for row in rows]


def _pick(labels: list[str], given: str | None, default: str, flag: str) -> str:
    if given is None:
        return default
    if given not in labels:
        raise LitftError(f"{flag} {given!r} is not a row of this evaluation; it has {', '.join(labels)}.")
    return given


def stale_report(
    questions: list[dict[str, str | None]],
    answers: dict[str, list[str]],
    groups: list[str],
    scores: dict[str, list[float]],
    previous: str,
    updated: str,
) -> dict[str, Any]:
    """Per group and row: questions, mean ROUGE-L and the paired interval against `previous`; and the changed
    questions one by one with the previous (stale) and updated answers (`questions`: question, reference,
    source_id; `answers` and `scores`: each row's, in the questions' order)."""
    table: dict[str, Any] = {}
    for group in GROUPS:
        members = [i for i, g in enumerate(groups) if g == group]
        rows = {}
        for label, values in scores.items():
            deltas = [values[i] - scores[previous][i] for i in members]
            compared = label != previous and len(members) > 0
            rows[label] = {
                "rougeL": mean([values[i] for i in members]),
                "vs_previous": asdict(paired_bootstrap(deltas)) if compared else None,
            }
        table[group] = {"n": len(members), "rows": rows}
    changed = [
        {
            **questions[i],
            "previous": answers[previous][i],
            "updated": answers[updated][i],
            "rougeL_previous": scores[previous][i],
            "rougeL_updated": scores[updated][i],
        }
        for i, group in enumerate(groups)
        if group == "changed"
    ]
    return {"previous": previous, "updated": updated, "groups": table, "changed_questions": changed}


def stale_table(report: dict[str, Any]) -> str:
    """The printed table: one line per row, ROUGE-L and the interval against the previous model per group."""
    groups = report["groups"]
    headers = ["model"] + [f"{g} (n={groups[g]['n']}) L / vs previous" for g in GROUPS]
    lines = []
    for label in groups["changed"]["rows"]:
        cells = [label]
        for group in GROUPS:
            row = groups[group]["rows"][label]
            cells.append(f"{row['rougeL']:.4f} {interval_text(row['vs_previous'])}".rstrip())
        lines.append(cells)
    return format_table(headers, lines)


def stale(
    eval_dir: Path, changes: Path, previous: str | None = None, updated: str | None = None, overwrite: bool = False
) -> dict[str, Any]:
    """Stale answers after a refresh: ROUGE-L per row on the questions whose source chunk changed, was added or
    stayed, and each row's paired interval against the model before the update; writes stale.json.

    Args:
        eval_dir: A `litft evaluate` folder in which the run before the update and the updated run answered the
            refreshed test split (`litft evaluate test.json --runs OLD_RUN NEW_RUN`).
        changes: The refresh's changes.json (`litft process --previous`), naming changed and added chunks.
        previous: The row of the model before the update (default: the first closed-book run row).
        updated: The row of the updated model (default: the last closed-book run row).
        overwrite: Replace a stale.json in eval_dir that litft did not write.
    """
    require_dir(eval_dir, "eval_dir", "give the folder `litft evaluate` wrote")
    require_file(changes, "--changes")
    eval_dir = Path(eval_dir)
    report = read_json(eval_dir / "report.json")
    change_sets = read_changes(changes)
    runs = [model["label"] for model in report["models"] if model.get("role") == "run" and not model.get("rag")]
    if len(runs) < 2 and (previous is None or updated is None):
        raise LitftError(
            f"{eval_dir} holds {len(runs)} run row(s); evaluate the previous and the updated run together."
        )
    labels = [model["label"] for model in report["models"]]
    previous, updated = _pick(labels, previous, runs[0], "--previous"), _pick(labels, updated, runs[-1], "--updated")
    check_in_place_files(eval_dir, [STALE_FILE], overwrite, "eval_dir")
    _, rows = read_csv(eval_dir / "answers.csv")
    source_ids = _source_ids(report, rows)
    questions = [
        {"question": row["question"], "reference": row["reference"], "source_id": sid}
        for row, sid in zip(rows, source_ids, strict=True)
    ]
    answers = {label: [row[ANSWER + label] for row in rows] for label in labels}
    references = [row["reference"] for row in rows]
    scores = {label: [s["rougeL"] for s in rouge_scores(answers[label], references)] for label in labels}
    result = stale_report(questions, answers, question_groups(source_ids, change_sets), scores, previous, updated)
    result["changes"] = str(Path(changes).resolve())
    atomic_write_json(eval_dir / STALE_FILE, result)
    record_own_files(eval_dir, [STALE_FILE], "evaluation")
    changed = result["groups"]["changed"]["n"]
    print(f"stale answers: {changed} of {len(rows)} questions come from changed chunks ({previous} -> {updated})")
    print(stale_table(result))
    print(f"wrote {eval_dir / STALE_FILE}")
    return result
