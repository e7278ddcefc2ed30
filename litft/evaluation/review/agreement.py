"""How much reviewers agree on the 0-3 scale, and how well the LLM judge agrees with them.

Two raters: Cohen's kappa with quadratic weights (scikit-learn), so 2 vs 3 counts as a small disagreement and
0 vs 3 as a large one. Any number of raters, some items unscored by some: Krippendorff's alpha with the ordinal
metric (the `krippendorff` package). Both are 1 for perfect agreement and 0 for agreement at chance level;
they are undefined (None) when every score is the same, since then chance explains everything.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from litft.evaluation.review.table import SCALE

Scores = dict[str, int]  # unit (an item id) -> score


def weighted_kappa(first: list[int], second: list[int]) -> float | None:
    """Cohen's kappa, quadratic weights, of two raters' scores of the same units (None when undefined)."""
    from sklearn.metrics import cohen_kappa_score

    if not first:
        return None
    with warnings.catch_warnings():  # 0/0 when both raters use one category: reported as None, not a warning
        warnings.simplefilter("ignore")
        kappa = cohen_kappa_score(first, second, labels=list(SCALE), weights="quadratic")
    return None if math.isnan(kappa) else float(kappa)


def ordinal_alpha(raters: list[Scores]) -> float | None:
    """Krippendorff's alpha, ordinal metric, over every unit two or more raters scored (None when undefined)."""
    import krippendorff

    units = sorted({unit for scores in raters for unit in scores})
    data = np.array([[scores.get(unit, np.nan) for unit in units] for scores in raters], dtype=float)
    if len(raters) < 2 or not (np.sum(~np.isnan(data), axis=0) >= 2).any():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=list(SCALE))
    return None if math.isnan(alpha) else float(alpha)


def pair_agreement(first: Scores, second: Scores) -> dict:
    """Units both scored, the share scored the same, and the weighted kappa."""
    shared = sorted(set(first) & set(second))
    a, b = [first[u] for u in shared], [second[u] for u in shared]
    exact = sum(x == y for x, y in zip(a, b, strict=True)) / len(shared) if shared else None
    return {"n": len(shared), "exact": exact, "kappa_quadratic": weighted_kappa(a, b)}


def rater_agreement(scores: dict[str, Scores]) -> dict | None:
    """Agreement between reviewers (None with fewer than two): every pair's kappa, and alpha over all of them."""
    if len(scores) < 2:
        return None
    names = sorted(scores)
    shared = {unit for a, b in itertools.combinations(names, 2) for unit in set(scores[a]) & set(scores[b])}
    return {
        "reviewers": names,
        "units_scored_by_two_or_more": len(shared),
        "pairs": [
            {"a": a, "b": b, **pair_agreement(scores[a], scores[b])} for a, b in itertools.combinations(names, 2)
        ],
        "krippendorff_alpha_ordinal": ordinal_alpha([scores[name] for name in names]),
    }


def judge_agreement(judge: Scores, humans: dict[str, Scores]) -> dict | None:
    """The LLM judge against each reviewer (kappa) and against all of them (alpha with the judge as one more rater)."""
    if not judge or not humans:
        return None
    names = sorted(humans)
    return {
        "per_reviewer": [{"reviewer": name, **pair_agreement(judge, humans[name])} for name in names],
        "krippendorff_alpha_ordinal_with_judge": ordinal_alpha([judge, *(humans[name] for name in names)]),
        "krippendorff_alpha_ordinal_humans_only": ordinal_alpha([humans[name] for name in names]),
    }
