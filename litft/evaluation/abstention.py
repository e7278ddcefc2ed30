"""Does a model make things up when the documents have no answer? Abstention on the test set's unanswerable
questions (`litft synthesize --unanswerable`, records with `answerable: false`).

Per row, over the questions of each kind:
- abstention rate: unanswerable questions answered with a refusal ("I don't know ...", litft.evaluation.no_answer);
- hallucination rate: unanswerable questions given a substantive answer (not empty, not a refusal, not the question
  said back): something made up, since the documents hold no answer;
- false-abstention rate: answerable questions refused, the price of abstaining too readily.
Each rate carries a bootstrap 95% interval over its questions, and every row but the base its paired difference
to the base's rate on the same questions.
"""

from __future__ import annotations

from dataclasses import asdict

from litft.evaluation.statistics import paired_bootstrap

RATES = ("abstention_rate", "hallucination_rate", "false_abstention_rate")


def answer_kinds(no_answer_reasons: list[str | None]) -> list[str]:
    """Per question, from litft.evaluation.no_answer's reason: "abstained" (a refusal), "no answer" (empty or the
    question said back) or "answered"."""
    return [
        "abstained" if reason == "refusal" else "no answer" if reason else "answered" for reason in no_answer_reasons
    ]


def _indicators(answerable: list[bool], kinds: list[str]) -> dict[str, list[float]]:
    """Each rate's 0/1 value per question it is measured on."""
    unanswered = [kind for counted, kind in zip(answerable, kinds, strict=True) if not counted]
    answered = [kind for counted, kind in zip(answerable, kinds, strict=True) if counted]
    return {
        "abstention_rate": [float(kind == "abstained") for kind in unanswered],
        "hallucination_rate": [float(kind == "answered") for kind in unanswered],
        "false_abstention_rate": [float(kind == "abstained") for kind in answered],
    }


def _rate(values: list[float]) -> dict | None:
    if not values:
        return None
    interval = paired_bootstrap(values)
    return {"rate": interval.mean, "low": interval.low, "high": interval.high, "n": len(values)}


def abstention_summary(answerable: list[bool], kinds: list[str], base_kinds: list[str] | None) -> dict | None:
    """The row's three rates with intervals (`answerable` and `kinds` per question), and with `base_kinds` each
    rate's paired difference to the base; None when no question is unanswerable (nothing to abstain on)."""
    if all(answerable):
        return None
    values = _indicators(answerable, kinds)
    summary = {name: _rate(values[name]) for name in RATES}
    if base_kinds is not None:
        base_values = _indicators(answerable, base_kinds)
        summary["vs_base"] = {
            name: asdict(paired_bootstrap([m - b for m, b in zip(values[name], base_values[name], strict=True)]))
            for name in RATES
            if values[name]
        }
    return summary


def rate_text(rate: dict | None) -> str:
    """`0.75 [0.50, 0.95]`, or "" when the row has no question of that kind."""
    return "" if rate is None else f"{rate['rate']:.2f} [{rate['low']:.2f}, {rate['high']:.2f}]"
