"""`litft review summarize`: the reference table of the human review, per reviewer and pooled.

Per model: the share of each score (Incorrect / No Answer / Partially Relevant / Fully Relevant), the mean score
with a 95% bootstrap interval, and n scored. The interval resamples questions (`litft.evaluation.statistics`):
with several reviewers a question's scores are averaged first, since two reviewers of one question are not two
independent questions. Then agreement between reviewers and with the LLM judge, and pairwise win rates (on
questions both models' answers were scored by the same reviewer: which got the higher score). Written to
EVAL_DIR/reviews/ as summary.json, summary.md and summary.png (stacked 0-3 shares per model).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from litft.common.io import atomic_path, atomic_write_json, atomic_write_text
from litft.common.outputs import check_in_place_files, record_own_files
from litft.evaluation.review.agreement import judge_agreement, rater_agreement
from litft.evaluation.review.items import REVIEWS_KIND, Evaluation, folder_salt, read_evaluation
from litft.evaluation.review.store import POOLED, read_reviews, reviewers, reviews_path
from litft.evaluation.review.table import SCALE
from litft.evaluation.statistics import paired_bootstrap

SUMMARY_FILES = ("summary.json", "summary.md", "summary.png")

# reviewer -> model -> question -> score
ModelScores = dict[str, dict[str, dict[int, int]]]


def model_scores(evaluation: Evaluation, latest: dict[str, dict[str, dict]]) -> tuple[ModelScores, int]:
    """Each reviewer's latest score per model and question, and how many scores name items no longer present."""
    items = evaluation.items()
    result: ModelScores = {}
    stale = 0
    for reviewer, records in latest.items():
        per_model = result.setdefault(reviewer, {model: {} for model in evaluation.models})
        for item_id, record in records.items():
            item = items.get(item_id)
            if item is None:
                stale += 1
                continue
            for model in item.models:
                per_model[model][item.question] = record["score"]
    return result, stale


def score_row(model: str, per_reviewer: list[dict[int, int]]) -> dict:
    """One model's line of the table over the given reviewers' scores."""
    scores = [score for questions in per_reviewer for score in questions.values()]
    counts = {SCALE[s]: scores.count(s) for s in SCALE}
    n = len(scores)
    by_question: dict[int, list[int]] = {}
    for questions in per_reviewer:
        for question, score in questions.items():
            by_question.setdefault(question, []).append(score)
    row = {
        "model": model,
        "n": n,
        "counts": counts,
        "percent": {k: 100 * v / n if n else None for k, v in counts.items()},
    }
    row["mean"], row["ci95"] = None, None
    if by_question:
        interval = paired_bootstrap([sum(v) / len(v) for v in by_question.values()])
        row["mean"], row["ci95"] = sum(scores) / n, [interval.low, interval.high]
    return row


def win_rates(models: tuple[str, ...], scores: ModelScores) -> list[dict]:
    """For each pair of models: questions where a reviewer scored both, and which scored higher."""
    result = []
    for a, b in itertools.combinations(models, 2):
        wins_a = wins_b = ties = 0
        for per_model in scores.values():
            for question in set(per_model[a]) & set(per_model[b]):
                difference = per_model[a][question] - per_model[b][question]
                wins_a, wins_b, ties = wins_a + (difference > 0), wins_b + (difference < 0), ties + (difference == 0)
        n = wins_a + wins_b + ties
        rate = (wins_a + ties / 2) / n if n else None
        result.append({"a": a, "b": b, "n": n, "a_wins": wins_a, "b_wins": wins_b, "ties": ties, "a_win_rate": rate})
    return result


def build_summary(evaluation: Evaluation, latest: dict[str, dict[str, dict]], problems: list[str]) -> dict:
    """summary.json's content: tables per reviewer and pooled, agreement, win rates."""
    scores, stale = model_scores(evaluation, latest)
    names = sorted(scores)
    tables = {name: [score_row(m, [scores[name][m]]) for m in evaluation.models] for name in names}
    tables[POOLED] = [score_row(m, [scores[name][m] for name in names]) for m in evaluation.models]
    judged = {item.id: item.judge for item in evaluation.items().values() if item.judge is not None}
    human_items = {name: {item: record["score"] for item, record in latest[name].items()} for name in names}
    return {
        "eval_dir": str(evaluation.directory),
        "scale": {str(k): v for k, v in SCALE.items()},
        "questions": len(evaluation.questions),
        "items": len(evaluation.items()),
        "reviewers": names,
        "stale_scores": stale,
        "problems": problems,
        "tables": tables,
        "agreement": rater_agreement(human_items),
        "judge_agreement": judge_agreement(judged, human_items),
        "win_rates": win_rates(evaluation.models, scores),
    }


def _cell(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def markdown(summary: dict) -> str:
    """summary.md: the tables, agreement and win rates as Markdown."""
    lines = [f"# Human review: {summary['questions']} questions, reviewers: {', '.join(summary['reviewers']) or '-'}"]
    header = "| model | n | " + " | ".join(SCALE.values()) + " | mean | 95% interval |"
    for name, rows in summary["tables"].items():
        lines += ["", f"## {name}", "", header, "|---|" + "---:|" * (len(SCALE) + 3)]
        for row in rows:
            shares = " | ".join(_cell(row["percent"][label], "{:.1f}%") for label in SCALE.values())
            interval = "-" if row["ci95"] is None else f"{row['ci95'][0]:.2f} to {row['ci95'][1]:.2f}"
            lines.append(f"| {row['model']} | {row['n']} | {shares} | {_cell(row['mean'], '{:.2f}')} | {interval} |")
    lines += _agreement_lines(summary)
    lines += [
        "",
        "## Win rates",
        "",
        "| a | b | n | a wins | b wins | ties | a win rate |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for pair in summary["win_rates"]:
        cells = [pair[key] for key in ("a", "b", "n", "a_wins", "b_wins", "ties")]
        lines.append("| " + " | ".join(map(str, cells)) + f" | {_cell(pair['a_win_rate'], '{:.1%}')} |")
    return "\n".join(lines) + "\n"


def _agreement_lines(summary: dict) -> list[str]:
    lines = ["", "## Agreement", ""]
    agreement, judge = summary["agreement"], summary["judge_agreement"]
    if agreement is None:
        lines.append("one reviewer: no inter-rater agreement to report")
    else:
        alpha = _cell(agreement["krippendorff_alpha_ordinal"], "{:.3f}")
        lines.append(f"Krippendorff's alpha (ordinal), all reviewers: {alpha}")
        for pair in agreement["pairs"]:
            kappa, exact = _cell(pair["kappa_quadratic"], "{:.3f}"), _cell(pair["exact"], "{:.1%}")
            lines.append(f"- {pair['a']} vs {pair['b']}: n={pair['n']}, exact {exact}, weighted kappa {kappa}")
    if judge is not None:
        alpha = _cell(judge["krippendorff_alpha_ordinal_with_judge"], "{:.3f}")
        lines.append(f"LLM judge with the reviewers, Krippendorff's alpha (ordinal): {alpha}")
        for pair in judge["per_reviewer"]:
            kappa, exact = _cell(pair["kappa_quadratic"], "{:.3f}"), _cell(pair["exact"], "{:.1%}")
            lines.append(f"- judge vs {pair['reviewer']}: n={pair['n']}, exact {exact}, weighted kappa {kappa}")
    return lines


def bar_chart(rows: list[dict], path: Path) -> None:
    """Stacked shares of 0-3 per model (pooled), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = ("#c0392b", "#95a5a6", "#f1c40f", "#27ae60")
    figure, axes = plt.subplots(figsize=(7, 0.6 * len(rows) + 1.6))
    left = [0.0] * len(rows)
    for (score, label), color in zip(SCALE.items(), colors, strict=True):
        shares = [row["percent"][label] or 0.0 for row in rows]
        axes.barh([row["model"] for row in rows], shares, left=left, color=color, label=f"{score} {label}")
        left = [a + b for a, b in zip(left, shares, strict=True)]
    axes.set_xlim(0, 100)
    axes.invert_yaxis()
    axes.set_xlabel("% of scored answers")
    axes.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25 if len(rows) > 2 else -0.4))
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)


def summarize_reviews(eval_dir: Path, overwrite: bool = False, quiet: bool = False) -> dict:
    """Read every reviewer's file, write summary.json/.md/.png into EVAL_DIR/reviews/, print the Markdown."""
    salt = folder_salt(eval_dir, create=False)
    evaluation = read_evaluation(eval_dir, salt)
    reviews_dir = evaluation.reviews_dir
    check_in_place_files(reviews_dir, SUMMARY_FILES, overwrite, "EVAL_DIR/reviews")
    latest, problems = {}, []
    for name in reviewers(reviews_dir):
        reviews = read_reviews(reviews_path(reviews_dir, name))
        latest[name], problems = reviews.latest, problems + reviews.problems
    for problem in problems:
        print(f"warning: {problem} (the other lines are kept)", file=sys.stderr)
    summary = build_summary(evaluation, latest, problems)
    atomic_write_json(reviews_dir / "summary.json", summary)
    atomic_write_text(reviews_dir / "summary.md", markdown(summary))
    bar_chart(summary["tables"][POOLED], reviews_dir / "summary.png")
    record_own_files(reviews_dir, SUMMARY_FILES, REVIEWS_KIND)
    if not quiet:
        print(markdown(summary), end="")
        if summary["stale_scores"]:
            print(f"{summary['stale_scores']} scores are of answers no longer in answers.csv; left out")
        print(f"wrote {reviews_dir / 'summary.json'}, summary.md and summary.png")
    return summary
