"""Agreement statistics against values computed by hand."""

from __future__ import annotations

import pytest

from litft.evaluation.review.agreement import judge_agreement, ordinal_alpha, rater_agreement, weighted_kappa


def test_weighted_kappa_perfect_chance_and_a_hand_computed_case():
    assert weighted_kappa([0, 1, 2, 3], [0, 1, 2, 3]) == pytest.approx(1.0)
    # Independent raters: every score pair equally often, as chance predicts.
    assert weighted_kappa([0, 0, 3, 3], [0, 3, 0, 3]) == pytest.approx(0.0)
    assert weighted_kappa([0, 1, 2, 3], [3, 2, 1, 0]) == pytest.approx(-1.0)
    # Quadratic weights (i-j)^2: observed 1/4 * 1, expected sum of marginals * (i-j)^2 = 12/4; 1 - (1/4)/3.
    assert weighted_kappa([0, 1, 2, 3], [0, 1, 3, 3]) == pytest.approx(11 / 12)
    assert weighted_kappa([3, 3, 3], [3, 3, 3]) is None  # one category only: undefined, not 1
    assert weighted_kappa([], []) is None


def test_ordinal_alpha_perfect_and_hand_computed():
    assert ordinal_alpha([{"a": 0, "b": 2, "c": 3}, {"a": 0, "b": 2, "c": 3}]) == pytest.approx(1.0)
    # Two adjacent values only, so the ordinal distance is one constant and alpha is the nominal one:
    # coincidences o_01 = o_10 = 1 among n = 8 values (5 zeros, 3 ones): 1 - (n - 1) * 2 / (2 * 5 * 3) = 8/15.
    first = {"u1": 0, "u2": 0, "u3": 1, "u4": 0}
    second = {"u1": 0, "u2": 0, "u3": 1, "u4": 1}
    assert ordinal_alpha([first, second]) == pytest.approx(8 / 15)
    # A third rater who scored only some units; units nobody else scored are left out, not an error.
    assert ordinal_alpha([first, second, {"u1": 0, "u9": 3}]) is not None
    assert ordinal_alpha([{"a": 1}, {"b": 1}]) is None  # no unit scored twice
    assert ordinal_alpha([{"a": 2, "b": 2}, {"a": 2, "b": 2}]) is None


def test_rater_and_judge_agreement_tables():
    alice = {"i1": 0, "i2": 3, "i3": 3, "i4": 2, "i5": 2}
    bob = {"i1": 1, "i2": 3, "i3": 2, "i4": 2, "i5": 2, "i6": 0}
    # Quadratic kappa by hand: observed mean (i-j)^2 = 2/5, expected from the marginals 40/25; 1 - 0.4/1.6.
    table = rater_agreement({"bob": bob, "alice": alice})
    assert table["reviewers"] == ["alice", "bob"] and table["units_scored_by_two_or_more"] == 5
    assert table["pairs"] == [{"a": "alice", "b": "bob", "n": 5, "exact": 0.6, "kappa_quadratic": pytest.approx(0.75)}]
    assert rater_agreement({"alice": alice}) is None
    judged = judge_agreement(dict(alice), {"alice": alice, "bob": bob})
    assert [row["kappa_quadratic"] for row in judged["per_reviewer"]] == [pytest.approx(1.0), pytest.approx(0.75)]
    assert judged["krippendorff_alpha_ordinal_humans_only"] == pytest.approx(table["krippendorff_alpha_ordinal"])
