"""The rows of `litft evaluate`'s table: each model's ROUGE scores and counts (`scored_result`), its paired
bootstrap interval against the closed-book base (`compare_to_base_row`) and the printed table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from litft.evaluation.abstention import abstention_summary, answer_kinds, rate_text
from litft.evaluation.harness import task_cells, task_headers, tasks_vs_base
from litft.evaluation.no_answer import is_no_answer
from litft.evaluation.review.table import format_table
from litft.evaluation.statistics import paired_bootstrap

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge_scores(predictions: list[str], references: list[str]) -> list[dict[str, float]]:
    """ROUGE-1/2/L F-measure of each prediction against its reference (rouge-score, stemmer on)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    return [
        {name: score.fmeasure for name, score in scorer.score(target=reference, prediction=prediction).items()}
        for prediction, reference in zip(predictions, references, strict=True)
    ]


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass
class ModelResult:
    label: str
    role: str
    checkpoint: str
    method: str
    base_dir: str | None
    prompt_style: str
    n: int
    rouge1: float
    rouge2: float
    rougeL: float
    mean_answer_words: float
    mean_generated_tokens: float
    finish_reasons: dict[str, int]
    generated_tokens: int
    seconds: float
    tokens_per_second: float
    from_cache: int
    rag: dict | None = None  # with --rag: the index, k and retriever the prompts' passages came from
    vs_base: dict | None = None  # paired bootstrap intervals of the per-question difference to the base row
    no_answer: dict[str, int] = field(default_factory=dict)  # answers that are empty, a refusal or the question
    general_text: dict | None = None  # with --general_text: perplexity, tokens, windows (on the closed-book row)
    abstention: dict | None = None  # with unanswerable test questions: litft.evaluation.abstention's rates
    grounding: dict | None = None  # on `+rag` rows: litft.evaluation.grounding's summary
    tasks: dict | None = None  # with --tasks: each lm-eval task's metrics (litft.evaluation.harness; closed-book row)
    answers: list[str] = field(repr=False, default_factory=list)
    rougeL_per_question: list[float] = field(repr=False, default_factory=list)
    task_items: dict = field(repr=False, default_factory=dict)  # with --tasks: each task's per-item scores
    answerable: list[bool] = field(repr=False, default_factory=list)
    answer_kinds: list[str] = field(repr=False, default_factory=list)  # abstained / no answer / answered
    grounding_per_question: list[dict | None] = field(repr=False, default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in PER_QUESTION}


PER_QUESTION = ("answers", "rougeL_per_question", "answerable", "answer_kinds", "grounding_per_question", "task_items")


def scored_result(records, entries: list[dict], from_cache: int, **identity) -> ModelResult:
    """A model's row: ROUGE of its answers (`entries`, one per record) against the references, and its counts.

    ROUGE's means are over the answerable questions: an unanswerable one's reference is an abstention, which
    the abstention rates measure instead."""
    answers = [entry["answer"].strip() for entry in entries]
    scores = rouge_scores(answers, [record.reference or "" for record in records])
    answerable = [record.answerable for record in records]
    scored = [score for score, counted in zip(scores, answerable, strict=True) if counted]
    why_no_answer = [is_no_answer(answer, record.question) for answer, record in zip(answers, records, strict=True)]
    kinds = answer_kinds(why_no_answer)
    reasons: dict[str, int] = {}
    for entry in entries:
        reasons[entry["finish_reason"]] = reasons.get(entry["finish_reason"], 0) + 1
    tokens, seconds = sum(e["generated_tokens"] for e in entries), sum(e["seconds"] for e in entries)
    no_answer: dict[str, int] = {}
    for reason in filter(None, why_no_answer):
        no_answer[reason] = no_answer.get(reason, 0) + 1
    return ModelResult(
        **identity,
        no_answer=no_answer,
        n=len(records),
        rouge1=mean([s["rouge1"] for s in scored]),
        rouge2=mean([s["rouge2"] for s in scored]),
        rougeL=mean([s["rougeL"] for s in scored]),
        mean_answer_words=mean([len(a.split()) for a in answers]),
        mean_generated_tokens=tokens / len(entries),
        finish_reasons=reasons,
        generated_tokens=tokens,
        seconds=seconds,
        tokens_per_second=tokens / seconds if seconds else 0.0,
        from_cache=from_cache,
        answers=answers,
        rougeL_per_question=[s["rougeL"] for s in scores],
        answerable=answerable,
        answer_kinds=kinds,
        abstention=abstention_summary(answerable, kinds, None),
    )


def compare_to_base_row(results: list[ModelResult], verdicts: dict[str, list] | None) -> None:
    """Give every row its paired bootstrap interval of the per-question difference to the closed-book base: ROUGE-L,
    and the judge's 0-3 score on the questions both answers were scored on. Test sets are small (often 50
    questions), so a mean gain alone cannot tell a real improvement from noise; the interval can."""
    base = next((r for r in results if r.role == "base" and r.rag is None), None)
    if base is None:
        return
    for result in results:
        if result is base:
            continue
        answerable = base.answerable or [True] * len(base.rougeL_per_question)  # rows made before the flags
        pairs = zip(result.rougeL_per_question, base.rougeL_per_question, answerable, strict=True)
        result.vs_base = {"rougeL": asdict(paired_bootstrap([m - b for m, b, counted in pairs if counted]))}
        if result.abstention is not None:
            compared = abstention_summary(base.answerable, result.answer_kinds, base.answer_kinds)
            result.abstention["vs_base"] = compared["vs_base"]
        if result.tasks and base.tasks:
            result.vs_base["tasks"] = tasks_vs_base(base, result)
        if verdicts:
            pairs = zip(verdicts[result.label], verdicts[base.label], strict=True)
            scored = [m.score - b.score for m, b in pairs if m.score is not None and b.score is not None]
            result.vs_base["judge"] = asdict(paired_bootstrap(scored)) if scored else None


def interval_text(interval: dict | None) -> str:
    """`+0.1464 [+0.09, +0.20]*`: the mean difference, its 95% interval, and `*` when the interval excludes 0."""
    if interval is None:
        return ""
    mark = "*" if interval["excludes_zero"] else ""
    return f"{interval['mean']:+.4f} [{interval['low']:+.2f}, {interval['high']:+.2f}]{mark}"


def results_table(results: list[ModelResult]) -> str:
    headers = [
        "model",
        "method",
        "n",
        "rouge1",
        "rouge2",
        "rougeL",
        "L vs base [95% CI]",
        "no answer",
        "answer words",
        "tokens/s",
    ]
    forgetting = any(r.general_text for r in results)
    headers += ["general ppl"] if forgetting else []
    abstaining = any(r.abstention for r in results)
    headers += ["abstain [95% CI]", "hallucinate", "false abstain"] if abstaining else []
    grounded = any(r.grounding for r in results)
    headers += ["grounded src/other/none", "recall@k"] if grounded else []
    task_columns = task_headers(results)
    headers += task_columns
    rows = [
        [
            r.label,
            r.method,
            str(r.n),
            f"{r.rouge1:.4f}",
            f"{r.rouge2:.4f}",
            f"{r.rougeL:.4f}",
            interval_text((r.vs_base or {}).get("rougeL")),
            str(sum(r.no_answer.values())),
            f"{r.mean_answer_words:.1f}",
            f"{r.tokens_per_second:.1f}" + ("*" if r.from_cache == r.n else ""),
        ]
        + ([f"{r.general_text['perplexity']:.2f}" if r.general_text else ""] if forgetting else [])
        + (_abstention_cells(r.abstention) if abstaining else [])
        + (_grounding_cells(r.grounding) if grounded else [])
        + task_cells(r, len(task_columns))
        for r in results
    ]
    return format_table(headers, rows)


def _abstention_cells(abstention: dict | None) -> list[str]:
    if abstention is None:
        return ["", "", ""]
    hallucination, false_abstention = abstention["hallucination_rate"], abstention["false_abstention_rate"]
    return [
        rate_text(abstention["abstention_rate"]),
        f"{hallucination['rate']:.2f}" if hallucination else "",
        f"{false_abstention['rate']:.2f}" if false_abstention else "",
    ]


def _grounding_cells(grounding: dict | None) -> list[str]:
    if grounding is None:
        return ["", ""]
    shares = "/".join(f"{grounding[f'{kind}_share']:.2f}" for kind in ("source", "other", "ungrounded"))
    return [shares, f"{grounding['recall_at_k']:.2f}@{grounding['k']}"]
