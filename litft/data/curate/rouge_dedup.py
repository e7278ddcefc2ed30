"""The Self-Instruct ROUGE-L novelty filter, fast and with exactly the naive loop's decisions.

The naive loop keeps an instruction when its ROUGE-L F-measure (rouge-score's definition) against every
instruction kept before it is at most the threshold: O(N x kept) scorer calls, hours for 50,000. Here:

* each instruction is tokenized once, with rouge-score's own tokenizer (and stemmer when asked);
* a prefix-filter index (as in set-similarity joins) proposes only kept instructions that share one of
  their rarest tokens with the new one. F = 2*LCS/(m+n) and LCS <= multiset overlap, so F > t needs an
  overlap of at least o(n) = floor(t*n/(2-t)) + 1 tokens with an n-token instruction; two token multisets
  with that overlap always share a token among the first n - o(n) + 1 of each in one global order;
* proposed pairs are counted and screened in numpy, not one by one in Python (on near-unique input almost
  every kept instruction is proposed, and a Python loop over them made 50,000 take minutes): a pair whose
  prefixes share `shared` tokens overlaps in at most shared + o - 1 tokens, o the larger o() of the two
  (the common tokens past the prefix of the one whose prefix ends first are in its suffix of o - 1);
  pairs are skipped when that bound, the length ratio or the exact token overlap cannot reach the threshold;
* survivors get an exact LCS (bit-parallel, see `lcs_length`) and rouge-score's own float formula,
  so a decision can differ from the naive one in no case, not even by rounding. The bounds keep a margin
  of 1e-9 for the same reason: they only skip pairs that are clearly below.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from rouge_score import tokenize as rouge_tokenize

BOUND_MARGIN = 1e-9  # pairs within this of the threshold always get the exact computation

Element = tuple[str, int]  # (token, occurrence number): turns a token multiset into a set


def make_tokenizer(use_stemmer: bool = False):
    """rouge-score's tokenizer (lower-case alphanumerics, Porter stemming of words > 3 letters if asked)."""
    if use_stemmer:
        from nltk.stem import porter

        stemmer = porter.PorterStemmer()
        cache: dict[str, str] = {}

        class CachingStemmer:
            """The same stems as PorterStemmer, each word stemmed once (stemming dominates the cost)."""

            def stem(self, word: str) -> str:
                stem = cache.get(word)
                if stem is None:
                    stem = cache[word] = stemmer.stem(word)
                return stem

        caching_stemmer = CachingStemmer()
        return lambda text: rouge_tokenize.tokenize(text, caching_stemmer)
    return lambda text: rouge_tokenize.tokenize(text, None)


def elements(tokens: Sequence[str]) -> list[Element]:
    seen: Counter[str] = Counter()
    result = []
    for token in tokens:
        seen[token] += 1
        result.append((token, seen[token]))
    return result


def lcs_length(a: Sequence[str], b_masks: Mapping[str, int], b_length: int) -> int:
    """Length of the longest common subsequence of `a` and a sequence b given by its match bitmasks.

    Bit-parallel LCS (Allison & Dix 1986; Hyyro 2004): one big-int update per token of `a` instead of
    rouge-score's O(m*n) Python table, same result. Bit i of b_masks[t] is set when b[i] == t.
    """
    all_ones = (1 << b_length) - 1
    row = all_ones
    for token in a:
        matches = row & b_masks.get(token, 0)
        row = ((row + matches) | (row - matches)) & all_ones
    return b_length - row.bit_count()


def match_masks(tokens: Sequence[str]) -> dict[str, int]:
    masks: dict[str, int] = {}
    for position, token in enumerate(tokens):
        masks[token] = masks.get(token, 0) | (1 << position)
    return masks


def rouge_l_fmeasure(lcs: int, target_length: int, prediction_length: int) -> float:
    """rouge-score's `_score_lcs` F-measure, written the same way so the float is bit-identical."""
    if not target_length or not prediction_length:
        return 0.0
    precision = lcs / prediction_length
    recall = lcs / target_length
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


@dataclass
class _Kept:
    length: int
    element_ids: frozenset[int]  # its elements as small ints: set intersections compare ints, not tuples
    masks: dict[str, int]


class RougeLIndex:
    """Instructions kept so far; `exceeds` says whether a new one is too similar to any of them.

    `frequencies` fixes the global token order for prefixes (rarest first, so postings stay short); it
    must not change once instructions are added. Tokens missing from it count as rarest.
    """

    def __init__(self, threshold: float, frequencies: Mapping[Element, int] | None = None):
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.threshold = threshold
        self._frequencies = frequencies or {}
        self._kept: list[_Kept] = []
        self._postings: dict[Element, list[int]] = {}
        self._element_ids: dict[Element, int] = {}
        self._lengths = np.zeros(1024, np.int64)  # token count by kept id (the first len(self) entries are used)
        self._suffix_lengths = np.zeros(1, np.int64)  # by token count n: o(n) - 1, the tokens past a prefix

    def __len__(self) -> int:
        return len(self._kept)

    def _min_overlap(self, length: int) -> int:
        """Fewest shared tokens with which an instruction of `length` tokens can exceed the threshold."""
        t = self.threshold - BOUND_MARGIN
        return max(1, int(t * length / (2 - t)) + 1) if t > 0 else 1

    def _prefix(self, items: list[Element]) -> list[Element]:
        ordered = sorted(items, key=lambda element: (self._frequencies.get(element, 0), element))
        return ordered[: len(items) - self._min_overlap(len(items)) + 1]

    def _cover_length(self, length: int) -> None:
        """Extend the per-length suffix table to `length` tokens."""
        if length >= len(self._suffix_lengths):
            self._suffix_lengths = np.array([self._min_overlap(n) - 1 for n in range(2 * length + 1)], np.int64)

    def _candidates(self, items: list[Element]) -> list[int]:
        """Kept instructions whose prefix shares enough tokens with the prefix of `items` that the pair may
        exceed the threshold: overlap <= shared + max(o(m), o(n)) - 1 and 2*overlap <= 2*min(m, n)."""
        proposed = chain.from_iterable(self._postings.get(element, ()) for element in self._prefix(items))
        kept_ids, shared = np.unique(np.fromiter(proposed, np.int64), return_counts=True)
        m = len(items)
        self._cover_length(m)
        n = np.arange(len(self._suffix_lengths))
        bound_total = (self.threshold - BOUND_MARGIN) * (m + n)
        suffix = np.maximum(self._min_overlap(m) - 1, self._suffix_lengths)
        fewest_shared = np.floor(bound_total / 2 - suffix).astype(np.int64) + 1
        fewest_shared[2 * np.minimum(m, n) <= bound_total] = m + 1  # the lengths alone rule the pair out
        return kept_ids[shared >= fewest_shared[self._lengths[kept_ids]]].tolist()

    def exceeds(self, tokens: Sequence[str]) -> bool:
        """True when some kept instruction has ROUGE-L F > threshold with `tokens` (the naive rule)."""
        m = len(tokens)
        if m == 0 or self.threshold >= 1.0 or not self._kept:
            return False  # rouge-score gives 0 for empty text, and F never exceeds 1
        items = elements(tokens)
        item_ids = frozenset(self._element_ids.get(element, -1) for element in items)  # -1: in no kept instruction
        bound = self.threshold - BOUND_MARGIN
        for kept_id in self._candidates(items):
            kept = self._kept[kept_id]
            n = kept.length
            if 2 * len(item_ids & kept.element_ids) <= bound * (m + n):
                continue
            lcs = lcs_length(tokens, kept.masks, n)
            if rouge_l_fmeasure(lcs, m, n) > self.threshold:
                return True
        return False

    def add(self, tokens: Sequence[str]) -> None:
        if not tokens:
            return  # an empty instruction can never make another one exceed the threshold
        items = elements(tokens)
        kept_id = len(self._kept)
        element_ids = frozenset(self._element_ids.setdefault(element, len(self._element_ids)) for element in items)
        self._kept.append(_Kept(len(tokens), element_ids, match_masks(tokens)))
        if kept_id == len(self._lengths):
            self._lengths = np.concatenate([self._lengths, np.zeros_like(self._lengths)])
        self._lengths[kept_id] = len(tokens)
        self._cover_length(len(tokens))
        for element in self._prefix(items):
            self._postings.setdefault(element, []).append(kept_id)


def element_frequencies(token_lists: Iterable[Sequence[str]]) -> Counter[Element]:
    """How many instructions contain each (token, occurrence): the global order for the prefix filter."""
    frequencies: Counter[Element] = Counter()
    for tokens in token_lists:
        frequencies.update(elements(tokens))
    return frequencies


def rouge_novel_mask(
    token_lists: Sequence[Sequence[str]], threshold: float, prior: Sequence[Sequence[str]] = ()
) -> list[bool]:
    """For each instruction in order: kept (True) unless ROUGE-L F > threshold with an earlier kept one.

    `prior` instructions (e.g. a seed pool) count as kept from the start.
    """
    index = RougeLIndex(threshold, element_frequencies([*prior, *token_lists]))
    for tokens in prior:
        index.add(tokens)
    keep = []
    for tokens in token_lists:
        novel = not index.exceeds(tokens)
        if novel:
            index.add(tokens)
        keep.append(novel)
    return keep
