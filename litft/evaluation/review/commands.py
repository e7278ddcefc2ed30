"""`litft review serve | import | summarize`: light entry points that check paths and values first.

The web stack (FastAPI, uvicorn) and the statistics (numpy, scikit-learn, matplotlib) load only after the
evaluation folder, the reviewer name, the port and the host/token pair were checked.
"""

from __future__ import annotations

from pathlib import Path

from litft.common.checks import check_bind, is_loopback, require_file
from litft.common.errors import LitftError
from litft.evaluation.review.items import Evaluation, Question, answers_csv, folder_salt, read_evaluation
from litft.evaluation.review.store import ReviewStore, check_reviewer
from litft.evaluation.review.table import ANSWER, ROW_ID, SCORE, model_labels, parse_score, read_csv


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


def _sheet_scores(path: Path, evaluation: Evaluation) -> dict[str, int]:
    """Item id -> score of every filled-in score_ cell, matched to the folder's questions and answers."""
    fields, rows = read_csv(path)
    labels = [label for label in model_labels(fields) if SCORE + label in fields]
    if not labels:
        raise LitftError(f"{path} has no score_<model> columns; give the answers.csv that `litft evaluate` wrote.")
    scores: dict[str, int] = {}
    for line, question, row in _matched_rows(path, fields, rows, evaluation):
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


def _matched_rows(
    path: Path, fields: list[str], rows: list[dict[str, str]], evaluation: Evaluation
) -> list[tuple[int, Question, dict[str, str]]]:
    """(line, question, row) of every sheet row, matched by the id column, or by question and reference in a sheet
    written before ids: a sorted sheet still scores the right questions. A row that matches no question, two rows
    of one question and a question without a row are refused."""
    where = f"{evaluation.directory / 'answers.csv'}"
    ids = [question.row_id for question in evaluation.questions]
    by_id = ROW_ID in fields and all(ids) and len(set(ids)) == len(ids)
    keys: dict[tuple[str, ...], list[Question]] = {}
    for question in evaluation.questions:
        key = (question.row_id,) if by_id else (question.question, question.reference)
        keys.setdefault(key, []).append(question)
    matched, lines = [], {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        if not any(isinstance(cell, str) and cell.strip() for cell in row.values()):
            continue  # an empty row a spreadsheet left at the end
        text = ((row.get("question") or "").strip(), (row.get("reference") or "").strip())
        found = keys.get(((row.get(ROW_ID) or "").strip(),) if by_id else text, [])
        if not found or (by_id and (found[0].question, found[0].reference) != text):
            raise LitftError(
                f"{path} line {line} is not a question of {where} (its id, question or reference differ); "
                "give the sheet of this evaluation (or --eval_dir)."
            )
        if len(found) > 1:
            raise LitftError(
                f"{path} line {line}: its question and reference are in {where} {len(found)} times and the sheet has "
                "no id column to tell them apart; re-run `litft evaluate` for a sheet with ids (typed scores are kept)."
            )
        if found[0].index in lines:
            raise LitftError(f"{path} lines {lines[found[0].index]} and {line} are one question; keep one of them.")
        lines[found[0].index] = line
        matched.append((line, found[0], row))
    missing = [question for question in evaluation.questions if question.index not in lines]
    if missing:
        raise LitftError(
            f"{path} lacks {len(missing)} of the {len(evaluation.questions)} questions of {where} (first: "
            f"{missing[0].question[:60]!r}); give the whole sheet of this evaluation (or --eval_dir)."
        )
    return matched


def preferences(
    eval_dir: Path,
    out: Path,
    min_margin: float = 1.0,
    judge: bool = False,
    reference: bool = False,
    kto: bool = False,
    overwrite: bool = False,
) -> int:
    """Turn the review's scores into preference pairs for `litft finetune dpo` (or KTO records with --kto).

    Pairs come from the pooled human scores per question: the higher-scored answer is chosen, ties and margins
    below --min_margin are skipped, and each pair keeps both scores, reviewers, models and the margin. On a
    question with `answerable` false, an abstaining answer is chosen over a made-up one.

    Args:
        eval_dir: The evaluation folder whose reviews/ holds the reviewers' files.
        out: The JSONL file to write ({instruction, input, chosen, rejected, ...} or, with --kto, {..., output, label}).
        min_margin: The least difference of pooled scores (0-3 scale) that makes a pair.
        judge: Also pair answers people did not both score on the LLM judge's scores (judge_<model> columns).
        reference: Also make the reference answer the chosen side against every answer scored 0.
        kto: Write single answers labelled desirable (score >= 2) or undesirable (score <= 1) instead of pairs.
        overwrite: Replace an --out file litft did not write.
    """
    answers_csv(eval_dir)
    if not min_margin > 0:
        raise LitftError(f"--min_margin must be above 0 (a tie is no preference), not {min_margin}.")
    from litft.evaluation.review.preferences import write_preferences

    return write_preferences(Path(eval_dir), Path(out), min_margin, judge, reference, kto, overwrite)


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
