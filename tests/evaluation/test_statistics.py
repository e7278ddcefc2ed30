import numpy as np
import pytest

from litft.common.errors import LitftError
from litft.evaluation.statistics import compare_to_base, paired_bootstrap

DELTAS = [0.3, -0.2, 0.0, 0.25, -0.3, -0.05, 0.1]


def test_same_seed_same_interval_and_another_seed_differs():
    first = paired_bootstrap(DELTAS, resamples=2000, seed=7)
    assert first == paired_bootstrap(DELTAS, resamples=2000, seed=7)
    other = paired_bootstrap(DELTAS, resamples=2000, seed=8)
    assert (other.low, other.high) != (first.low, first.high)
    assert other.mean == first.mean


def test_matches_a_direct_computation():
    resamples, seed = 500, 3
    indices = np.random.default_rng(seed).integers(0, len(DELTAS), size=(resamples, len(DELTAS)))
    means = [sum(DELTAS[i] for i in row) / len(row) for row in indices]
    low, high = np.quantile(means, [0.05, 0.95])

    interval = paired_bootstrap(DELTAS, resamples=resamples, seed=seed, confidence=0.9)

    assert interval.mean == pytest.approx(sum(DELTAS) / len(DELTAS))
    assert interval.low == pytest.approx(low)
    assert interval.high == pytest.approx(high)
    assert (interval.resamples, interval.seed, interval.confidence) == (resamples, seed, 0.9)
    assert interval.low < interval.mean < interval.high
    assert not interval.excludes_zero  # a mixed bag of gains and losses


def test_equal_deltas_give_a_zero_width_interval():
    interval = paired_bootstrap([0.1] * 20, resamples=300)
    assert interval.low == interval.high == pytest.approx(0.1)
    assert interval.excludes_zero
    assert not paired_bootstrap([0.0] * 20, resamples=300).excludes_zero


def test_one_question_is_never_a_real_difference():
    interval = paired_bootstrap([0.5], resamples=100)
    assert (interval.mean, interval.low, interval.high) == (0.5, 0.5, 0.5)
    assert not interval.excludes_zero


def test_a_clear_gain_or_loss_excludes_zero():
    gains = [0.2, 0.35, 0.1, 0.5, 0.05, 0.3, 0.15, 0.4]
    assert paired_bootstrap(gains).low > 0
    assert paired_bootstrap(gains).excludes_zero
    assert paired_bootstrap([-g for g in gains]).excludes_zero


def test_compare_to_base_pairs_by_question():
    base = [0.2, 0.5, 0.1, 0.9]
    model = [0.4, 0.6, 0.3, 0.95]
    interval = compare_to_base(base, model, resamples=400, seed=1)
    assert interval == paired_bootstrap([m - b for b, m in zip(base, model, strict=True)], resamples=400, seed=1)
    assert interval.excludes_zero


@pytest.mark.parametrize(
    "call",
    [
        lambda: compare_to_base([0.1, 0.2], [0.3]),
        lambda: paired_bootstrap([]),
        lambda: paired_bootstrap([0.1], resamples=0),
        lambda: paired_bootstrap([0.1], confidence=1.0),
    ],
)
def test_user_errors(call):
    with pytest.raises(LitftError):
        call()
