"""`litft review preferences`: the review's 0-3 scores as training data for `litft finetune dpo` and `kto`.

A question's distinct answers (review items) are scored by the reviewers; an item's score is the mean of its
reviewers' latest scores (pooled). Pairs: for two items of one question, the higher-scored one is chosen when the
difference (the margin) is at least `--min_margin`; ties and smaller margins are skipped. With `--judge`, two items
not both scored by people are paired on the LLM judge's scores instead (never a human score against a judge
score: the scales are the same, the raters are not). With `--reference`, the question's reference answer is chosen
over every answer scored 0. KTO records (`--kto`) are single answers: a score of 2 or more is desirable, 1 or less
undesirable, a pooled score between 1 and 2 (reviewers on both sides of the line) is left out.

A question with `answerable` false in answers.csv (the abstention questions: the documents do not answer it) is
not paired by score: an answer that abstains ("I don't know", `litft.evaluation.no_answer.is_no_answer`) is chosen
over each answer that does not (a made-up one), and for KTO it is desirable and the made-up one undesirable.
Empty answers are never used: a side without text teaches nothing and the trainers refuse it.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from litft.common.errors import LitftError
from litft.common.io import atomic_path
from litft.common.outputs import check_in_place_files, record_own_files
from litft.evaluation.no_answer import is_no_answer
from litft.evaluation.review.items import Evaluation, Item, Question, answers_csv, folder_salt, read_evaluation
from litft.evaluation.review.store import read_reviews, reviewers, reviews_path
from litft.evaluation.review.table import JUDGE, read_csv

PREFERENCES_KIND = "preferences"
ANSWERABLE = "answerable"
REFERENCE = "reference"  # the models and reviewers of the reference side
REFERENCE_SCORE = 3  # the reference answers the question as the reference does: fully relevant
DESIRABLE, UNDESIRABLE = 2, 1  # KTO: a pooled score >= 2 is desirable, <= 1 undesirable
FALSE_WORDS = ("false", "0", "no")


@dataclass(frozen=True)
class Side:
    """One answer of a record with where its score came from."""

    text: str
    models: tuple[str, ...]
    score: float | None = None
    reviewers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Options:
    """The command's choices, and whether the question at hand is answerable."""

    min_margin: float
    judge: bool
    reference: bool
    answerable: bool = True


@dataclass
class Counts:
    """What the command made and skipped, printed at the end."""

    by_source: dict[str, int]
    ties: int = 0
    below_margin: int = 0
    between: int = 0  # KTO: pooled scores strictly between undesirable and desirable


def human_scores(evaluation: Evaluation) -> dict[str, Side]:
    """Item id -> its pooled human score and the reviewers who scored it (items nobody scored are absent)."""
    items = evaluation.items()
    by_item: dict[str, dict[str, int]] = {}
    for name in reviewers(evaluation.reviews_dir):
        for item_id, record in read_reviews(reviews_path(evaluation.reviews_dir, name)).latest.items():
            if item_id in items:  # a score of an answer no longer in answers.csv is stale
                by_item.setdefault(item_id, {})[name] = record["score"]
    return {
        item_id: Side(items[item_id].text, items[item_id].models, sum(s.values()) / len(s), tuple(sorted(s)))
        for item_id, s in by_item.items()
    }


def _judged(item: Item) -> Side | None:
    return None if item.judge is None else Side(item.text, item.models, float(item.judge), ("judge",))


def _score(item: Item, humans: dict[str, Side], judge: bool) -> tuple[Side, str] | None:
    """The item's human score, else (with `judge`) the judge's; with the source it came from."""
    if item.id in humans:
        return humans[item.id], "reviews"
    judged = _judged(item) if judge else None
    return (judged, "judge") if judged else None


def _pair_sides(a: Item, b: Item, humans: dict[str, Side], judge: bool) -> tuple[Side, Side, str] | None:
    """Both items on one rater's scores: people's when both were reviewed, else the judge's (with `judge`)."""
    if a.id in humans and b.id in humans:
        return humans[a.id], humans[b.id], "reviews"
    if judge and a.judge is not None and b.judge is not None:
        return _judged(a), _judged(b), "judge"
    return None


def _pair(question: Question, chosen: Side, rejected: Side, source: str) -> dict:
    # An abstention pair is made by the rule, not by the scores: a margin would read as the reason.
    scored = source != "abstention" and chosen.score is not None and rejected.score is not None
    margin = chosen.score - rejected.score if scored else None
    return {
        "instruction": question.question,
        "input": "",
        "chosen": chosen.text,
        "rejected": rejected.text,
        "question_id": question.row_id or str(question.index + 1),
        "source": source,
        "chosen_score": chosen.score,
        "rejected_score": rejected.score,
        "margin": margin,
        "chosen_models": list(chosen.models),
        "rejected_models": list(rejected.models),
        "chosen_reviewers": list(chosen.reviewers),
        "rejected_reviewers": list(rejected.reviewers),
    }


def _kto(question: Question, side: Side, desirable: bool, source: str) -> dict:
    return {
        "instruction": question.question,
        "input": "",
        "output": side.text,
        "label": desirable,
        "question_id": question.row_id or str(question.index + 1),
        "source": source,
        "score": side.score,
        "models": list(side.models),
        "reviewers": list(side.reviewers),
    }


def _reference_side(question: Question) -> Side:
    return Side(question.reference, (REFERENCE,), float(REFERENCE_SCORE), (REFERENCE,))


def _answered(question: Question) -> list[Item]:
    """The question's items with text (an empty answer is never a side)."""
    return [item for item in question.items if item.text]


def scored_pairs(question: Question, humans: dict[str, Side], options: Options, counts: Counts) -> list[dict]:
    """The pairs of an answerable question: higher pooled score chosen, ties and small margins skipped."""
    records = []
    for a, b in itertools.combinations(_answered(question), 2):
        sides = _pair_sides(a, b, humans, options.judge)
        if sides is None:
            continue
        first, second, source = sides
        margin = first.score - second.score
        if margin == 0:
            counts.ties += 1
        elif abs(margin) < options.min_margin:
            counts.below_margin += 1
        else:
            chosen, rejected = (first, second) if margin > 0 else (second, first)
            records.append(_pair(question, chosen, rejected, source))
    if options.reference and question.reference:
        for item in _answered(question):
            scored = _score(item, humans, options.judge)
            if scored and scored[0].score == 0 and item.text != question.reference:
                records.append(_pair(question, _reference_side(question), scored[0], REFERENCE))
    return records


def _abstention_sides(question: Question, humans: dict[str, Side]) -> tuple[list[Side], list[Side]]:
    """(abstaining, made-up) answers of an unanswerable question, with their human scores where there are any."""
    abstaining, made_up = [], []
    for item in _answered(question):
        side = humans.get(item.id, Side(item.text, item.models))
        (abstaining if is_no_answer(item.text, question.question) == "refusal" else made_up).append(side)
    return abstaining, made_up


def abstention_pairs(question: Question, humans: dict[str, Side], options: Options) -> list[dict]:
    """The pairs of an unanswerable question: each abstaining answer (and the reference) over each made-up one."""
    abstaining, made_up = _abstention_sides(question, humans)
    records = [_pair(question, good, bad, "abstention") for good in abstaining for bad in made_up]
    if options.reference and question.reference:
        records += [_pair(question, _reference_side(question), bad, REFERENCE) for bad in made_up]
    return records


def kto_records(question: Question, humans: dict[str, Side], options: Options, counts: Counts) -> list[dict]:
    """Desirable / undesirable answers of a question (the abstention rule on an unanswerable one)."""
    if not options.answerable:
        abstaining, made_up = _abstention_sides(question, humans)
        records = [_kto(question, side, True, "abstention") for side in abstaining]
        records += [_kto(question, side, False, "abstention") for side in made_up]
        zero = bool(made_up)
    else:
        records, zero = [], False
        for item in _answered(question):
            scored = _score(item, humans, options.judge)
            if scored is None:
                continue
            side, source = scored
            if DESIRABLE > side.score > UNDESIRABLE:
                counts.between += 1
                continue
            records.append(_kto(question, side, side.score >= DESIRABLE, source))
            zero = zero or side.score == 0
    if options.reference and question.reference and zero:
        records.append(_kto(question, _reference_side(question), True, REFERENCE))
    return records


def answerable_flags(evaluation: Evaluation) -> list[bool]:
    """Per question, whether the documents answer it: answers.csv's `answerable` column (absent: all are)."""
    path = evaluation.directory / "answers.csv"
    fields, rows = read_csv(path)
    if ANSWERABLE not in fields:
        return [True] * len(evaluation.questions)
    return [(row.get(ANSWERABLE) or "").strip().casefold() not in FALSE_WORDS for row in rows]


def check_out(out: Path, eval_dir: Path, overwrite: bool) -> None:
    """Refuse an --out that is the evaluation's own file, lies in its reviews/, or is a file litft did not write."""
    out, eval_dir = Path(out), Path(eval_dir)
    if out.is_dir():
        raise LitftError(f"--out {out} is a folder; give a file path such as prefs.jsonl.")
    if out.resolve().parent == (eval_dir / "reviews").resolve():
        raise LitftError(
            f"--out {out} is in {eval_dir / 'reviews'}, where each .jsonl is a reviewer; write it elsewhere."
        )
    if out.resolve() in {(eval_dir / name).resolve() for name in ("answers.csv", "report.json")}:
        raise LitftError(f"--out {out} is a file of the evaluation {eval_dir}; write the preferences elsewhere.")
    check_in_place_files(out.parent, [out.name], overwrite, "--out's folder")


def preference_records(
    eval_dir: Path, min_margin: float, judge: bool, reference: bool, kto: bool
) -> tuple[list[dict], Counts]:
    """(records, counts) of an evaluation folder's reviews (and judge scores with `judge`)."""
    has_reviews = (Path(eval_dir) / "reviews" / "salt.txt").is_file()
    # Without reviews a judge-only run needs item ids only within this call: a salt that is never written.
    salt = folder_salt(Path(eval_dir), create=False) if has_reviews or not judge else "judge-only"
    evaluation = read_evaluation(eval_dir, salt)
    if judge and not any(item.judge is not None for item in evaluation.items().values()):
        raise LitftError(
            f"{evaluation.directory / 'answers.csv'} has no {JUDGE}<model> scores; run `litft evaluate` with "
            "--judge.model, or leave --judge out."
        )
    humans = human_scores(evaluation) if has_reviews else {}
    counts = Counts({})
    records: list[dict] = []
    for question, answerable in zip(evaluation.questions, answerable_flags(evaluation), strict=True):
        options = Options(min_margin, judge, reference, answerable)
        if kto:
            records += kto_records(question, humans, options, counts)
        elif answerable:
            records += scored_pairs(question, humans, options, counts)
        else:
            records += abstention_pairs(question, humans, options)
    for record in records:
        counts.by_source[record["source"]] = counts.by_source.get(record["source"], 0) + 1
    return records, counts


def write_preferences(
    eval_dir: Path, out: Path, min_margin: float, judge: bool, reference: bool, kto: bool, overwrite: bool
) -> int:
    """Write the records to `out` (atomically, marked as litft's in its folder) and print what was made."""
    check_out(out, eval_dir, overwrite)
    answers_csv(eval_dir)
    records, counts = preference_records(eval_dir, min_margin, judge, reference, kto)
    what = "KTO records" if kto else "preference pairs"
    if not records:
        raise LitftError(
            f"the reviews of {eval_dir} give no {what} ({counts.ties} ties, {counts.below_margin} below --min_margin "
            f"{min_margin:g}); score more answers, lower --min_margin, or add --judge true or --reference true."
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    record_own_files(out.parent, [out.name], PREFERENCES_KIND)
    sources = ", ".join(f"{source} {n}" for source, n in sorted(counts.by_source.items()))
    skipped = f"skipped {counts.ties} ties and {counts.below_margin} pairs below --min_margin {min_margin:g}"
    if kto:
        desirable = sum(record["label"] for record in records)
        skipped = (
            f"{desirable} desirable, {len(records) - desirable} undesirable; {counts.between} between 1 and 2 left out"
        )
    print(f"wrote {len(records)} {what} to {out} ({sources}); {skipped}")
    return len(records)
