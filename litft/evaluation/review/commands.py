"""`litft review serve | import | summarize`: light entry points that check paths and values first.

The web stack (FastAPI, uvicorn) and the statistics (numpy, scikit-learn, matplotlib) load only after the
evaluation folder, the reviewer name, the port and the host/token pair were checked.
"""

from __future__ import annotations

from pathlib import Path

from litft.common.checks import check_bind, is_loopback, require_file
from litft.common.errors import LitftError
from litft.evaluation.review.items import answers_csv, folder_salt, read_evaluation
from litft.evaluation.review.store import ReviewStore, check_reviewer
from litft.evaluation.review.table import ANSWER, SCORE, model_labels, parse_score, read_csv


def serve(
    eval_dir: Path,
    reviewer: str | None = None,
    port: int = 8501,
    host: str = "127.0.0.1",
    token: str | None = None,
) -> None:
    """Open the blind review page of an evaluation folder: one question at a time, answers as A, B, C.

    Args:
        eval_dir: The --out_dir of `litft evaluate` (answers.csv, report.json); scores go to eval_dir/reviews/.
        reviewer: Your name (letters, digits, `-_.`); without it the page asks each reviewer for theirs.
        port: The port to listen on.
        host: The address to bind; anything but loopback (e.g. 0.0.0.0 for a team on a LAN) needs --token.
        token: A shared secret every request must carry (the printed link has it).
    """
    answers_csv(eval_dir)
    if reviewer is not None:
        check_reviewer(reviewer)
    if not is_loopback(host) and not token:
        raise LitftError(f"--host {host} lets other machines in; give a shared secret with --token as well.")
    if token is not None and len(token) < 8:
        raise LitftError("--token must be at least 8 characters; a short secret is guessed quickly.")
    check_bind(host, port)
    from litft.evaluation.review.server import ReviewSession, run_server

    salt = folder_salt(Path(eval_dir))
    run_server(ReviewSession(read_evaluation(eval_dir, salt), salt, reviewer), host, port, token)


def import_sheet(answers: Path, reviewer: str, eval_dir: Path | None = None) -> int:
    """Take the scores of a filled-in answers.csv (today's spreadsheet flow) into a reviewer's review file.

    Only scores that differ from the reviewer's latest are appended, so importing the same sheet twice adds
    nothing. Identical answers are one item: the sheet must give them one score.

    Args:
        answers: The answers.csv with score_<model> columns filled in (a spreadsheet's re-save is fine).
        reviewer: Whose scores these are (letters, digits, `-_.`).
        eval_dir: The evaluation folder the sheet belongs to (default: the sheet's folder).
    """
    require_file(answers, "ANSWERS", "give the answers.csv with score_<model> columns filled in")
    check_reviewer(reviewer)
    eval_dir = Path(eval_dir) if eval_dir is not None else Path(answers).parent
    salt = folder_salt(answers_csv(eval_dir).parent)
    evaluation = read_evaluation(eval_dir, salt)
    scores = _sheet_scores(Path(answers), evaluation)
    store = ReviewStore(evaluation.reviews_dir, reviewer)
    items = evaluation.items()
    added = 0
    for item_id, score in scores.items():
        saved = store.latest.get(item_id)
        if saved is None or saved["score"] != score:
            store.record(items[item_id], score, saved.get("note", "") if saved else "", source="import")
            added += 1
    print(f"imported {added} scores for {reviewer} into {store.path} ({len(scores) - added} already there)")
    return added


def _sheet_scores(path: Path, evaluation) -> dict[str, int]:
    """Item id -> score of every filled-in score_ cell, matched to the folder's questions and answers."""
    fields, rows = read_csv(path)
    labels = [label for label in model_labels(fields) if SCORE + label in fields]
    if not labels:
        raise LitftError(f"{path} has no score_<model> columns; give the answers.csv that `litft evaluate` wrote.")
    if len(rows) != len(evaluation.questions):
        raise LitftError(
            f"{path} has {len(rows)} questions and {evaluation.directory}/answers.csv {len(evaluation.questions)}; "
            "give the sheet of this evaluation (or --eval_dir)."
        )
    scores: dict[str, int] = {}
    for question, row in zip(evaluation.questions, rows, strict=True):
        line = question.index + 2
        by_text = {item.text: item for item in question.items}
        for label in labels:
            score = parse_score(row.get(SCORE + label), f"{path} line {line}, column {SCORE + label}")
            item = by_text.get((row.get(ANSWER + label) or "").strip())
            if score is None:
                continue
            if item is None or label not in item.models:
                raise LitftError(f"{path} line {line}: the answer of {label} is not the one in {evaluation.directory}.")
            if scores.get(item.id, score) != score:
                raise LitftError(f"{path} line {line}: identical answers got different scores; give them one score.")
            scores[item.id] = score
    return scores


def summarize(eval_dir: Path, overwrite: bool = False) -> dict:
    """The human review's table: per model % of each 0-3 score, mean with 95% interval, agreement, win rates.

    Writes summary.json, summary.md and summary.png into eval_dir/reviews/ and prints the Markdown.

    Args:
        eval_dir: The evaluation folder whose reviews/ holds the reviewers' files.
        overwrite: Replace summary files in reviews/ that litft did not write.
    """
    answers_csv(eval_dir)
    from litft.evaluation.review.summary import summarize_reviews

    return summarize_reviews(Path(eval_dir), overwrite)
