"""`litft evaluate --sample N`: a seeded random sample of the test records, spread over their source chunks.

A test split made by `litft split` lists each chunk's questions together, so the first N records (`--limit`)
cover a few chunks only. The sample draws chunks in a seeded random order and takes one question from each before
any chunk gives a second, so N questions come from min(N, chunks) chunks; records without a `source_id` count as
chunks of their own. The chosen records keep the test file's order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stratified_sample(source_ids: Sequence[str | None], size: int, seed: int) -> list[int]:
    """The indices (ascending) of `size` records drawn as the module docstring says; all of them if fewer."""
    groups: dict[str | int, list[int]] = {}
    for index, source_id in enumerate(source_ids):
        groups.setdefault(source_id if source_id is not None else index, []).append(index)
    rng = np.random.default_rng(seed)
    shuffled = [[members[i] for i in rng.permutation(len(members))] for members in groups.values()]
    order = [shuffled[i] for i in rng.permutation(len(shuffled))]
    chosen: list[int] = []
    for depth in range(max((len(members) for members in order), default=0)):
        chosen += [members[depth] for members in order if depth < len(members)]
        if len(chosen) >= size:
            break
    return sorted(chosen[:size])
