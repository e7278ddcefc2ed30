"""Mixtures: several sources sampled in given proportions (`--data A B --mix 0.8 0.2`), seeded.

The mixture is the largest one the sources allow without repeating an item: the scarcest source (relative to
its share) is used whole and the others are sampled down to their shares. Replaying general data beside
domain data this way is the usual remedy when a tuned model forgets what it knew.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from litft.common.errors import LitftError


def check_mix(sources: int, mix: Sequence[float] | None) -> list[float] | None:
    """The proportions, normalised to sum to 1 (None: the sources are simply concatenated)."""
    if mix is None or len(mix) == 0:
        return None
    if len(mix) != sources:
        raise LitftError(f"--mix gives {len(mix)} proportion(s) for {sources} --data source(s); give one per source.")
    if any(not 0 < value < math.inf for value in mix):  # NaN and inf fail too
        raise LitftError(f"--mix {' '.join(map(str, mix))} must be positive proportions, e.g. --mix 0.8 0.2.")
    total = float(sum(mix))
    return [value / total for value in mix]


def mixture_counts(available: Sequence[int], proportions: Sequence[float]) -> list[int]:
    """How many items each source gives: proportional to `proportions`, no source repeated."""
    if any(count == 0 for count in available):
        raise LitftError("a --data source of the mixture holds no records; give non-empty sources.")
    total = min(count / share for count, share in zip(available, proportions, strict=True))
    return [min(count, max(1, round(total * share))) for count, share in zip(available, proportions, strict=True)]


def choose_mixture(available: Sequence[int], proportions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Per source, the sorted indices of the items the mixture takes (seeded, without replacement)."""
    rng = np.random.default_rng(seed)
    counts = mixture_counts(available, proportions)
    return [np.sort(rng.choice(count, size=take, replace=False)) for count, take in zip(available, counts, strict=True)]
