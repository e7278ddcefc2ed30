"""Test questions whose text the model saw in training: the longest run of words shared with any training record.

A test record that copies a training record's words (its question, its context or its answer) measures memory,
not generalisation. Texts are compared as normalised words (lower-cased, punctuation dropped), so a copy with
other case or punctuation still matches.

`NgramIndex` hashes every n-word window of the training records once into a sorted numpy array. A test text's
windows are looked up in it (binary search), and each hit is verified and extended word by word to the full run,
so the result is exact for every run of at least n words; shorter runs are not seen and count as 0.
Building costs O(W log W) for W training words; a query of m words costs O(m log W) plus the length of the
matching runs it extends (a window repeated in many training records is extended once per record).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from litft.common.errors import LitftError
from litft.data.clean.dedup import normalized_tokens
from litft.models.instructions import FORMS, Instruction

DEFAULT_N = 8
_SEPARATOR, _UNSEEN = -1, -2  # word ids: between training records, and test words no training record has
_HASH_BASE = np.uint64(1_000_003)


def record_text(record: Mapping | Instruction) -> str:
    """A record's question, context and answer as one text, for an Alpaca or question/answer record; an unanswerable
    record's answer is left out (every one shares the same abstention reference, which copies nothing)."""
    if isinstance(record, Instruction):
        parts = (record.instruction, record.input, record.reference if record.answerable else None)
    else:
        form = next((names for names in FORMS if names[0] in record), FORMS[0])
        parts = tuple(record.get(name) for name in form[: 2 if record.get("answerable") is False else 3])
    return "\n".join(part for part in parts if isinstance(part, str))


def _window_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """A polynomial hash (mod 2**64) of each n-word window of `ids`; collisions are ruled out when extending."""
    words = ids.astype(np.uint64)
    hashes = np.zeros(len(ids) - n + 1, dtype=np.uint64)
    for offset in range(n):
        hashes = hashes * _HASH_BASE + words[offset : offset + len(hashes)]
    return hashes


class NgramIndex:
    """Every n-word window of the training texts, to find the longest run of words a text shares with any of them."""

    def __init__(self, train_texts: Iterable[str], n: int = DEFAULT_N) -> None:
        if n < 1:
            raise LitftError(f"The n-gram length must be at least 1 word, not {n}; use e.g. {DEFAULT_N}.")
        self.n = n
        self._vocabulary: dict[str, int] = {}
        ids: list[int] = []
        for text in train_texts:
            ids.extend(self._vocabulary.setdefault(word, len(self._vocabulary)) for word in normalized_tokens(text))
            ids.append(_SEPARATOR)  # a run never continues from one record into the next
        self._words = np.array(ids, dtype=np.int64)
        if len(self._words) < n:
            self._hashes = self._starts = np.zeros(0, dtype=np.int64)
            return
        hashes = _window_hashes(self._words, n)
        separators = np.concatenate(([0], np.cumsum(self._words == _SEPARATOR)))
        starts = np.flatnonzero(separators[n:] == separators[:-n])  # windows inside one record
        order = np.argsort(hashes[starts], kind="stable")
        self._hashes, self._starts = hashes[starts][order], starts[order]

    def longest_overlap(self, text: str) -> int:
        """The length in words of the longest run `text` shares with one training record (0 if under n words)."""
        ids = np.array([self._vocabulary.get(word, _UNSEEN) for word in normalized_tokens(text)], dtype=np.int64)
        if len(ids) < self.n or not len(self._hashes):
            return 0
        hashes = _window_hashes(ids, self.n)
        firsts = np.searchsorted(self._hashes, hashes, side="left")
        lasts = np.searchsorted(self._hashes, hashes, side="right")
        longest = 0
        for position in np.flatnonzero(lasts > firsts):
            for train_position in self._starts[firsts[position] : lasts[position]]:
                # A run is measured once, from its first word: skip windows that continue a run begun earlier.
                if position and train_position and ids[position - 1] == self._words[train_position - 1]:
                    continue
                longest = max(longest, self._run_length(ids, int(position), int(train_position)))
        return longest

    def _run_length(self, ids: np.ndarray, position: int, train_position: int) -> int:
        length = 0
        while (
            position + length < len(ids)
            and train_position + length < len(self._words)
            and ids[position + length] == self._words[train_position + length]
        ):
            length += 1
        return length if length >= self.n else 0  # under n only when two different windows' hashes collide


def contaminated(
    test_records: Sequence[Mapping | Instruction],
    train_records: Iterable[Mapping | Instruction],
    n: int = DEFAULT_N,
    threshold: int | None = None,
) -> list[tuple[int, int]]:
    """(index, overlap) of each test record sharing a run of at least `threshold` (default n) words with training."""
    threshold = n if threshold is None else threshold
    if threshold < n:
        raise LitftError(
            f"The threshold ({threshold} words) must be at least n ({n}); runs under n words are not seen."
        )
    index = NgramIndex((record_text(record) for record in train_records), n=n)
    overlaps = ((number, index.longest_overlap(record_text(record))) for number, record in enumerate(test_records))
    return [(number, overlap) for number, overlap in overlaps if overlap >= threshold]
