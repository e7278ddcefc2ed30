"""Duplicate detection: exact (hash of the normalised text) and near (MinHash LSH over word shingles, datasketch)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from datasketch import MinHash, MinHashLSH

TOKEN = re.compile(r"\w+")
LINE = re.compile(r"[^\n]+")
# datasketch hashes a batch into a num_perm x batch array: batches bound it (all at once, a 20 MB page took 3.6 GB).
SHINGLE_BATCH = 4096


def normalized_tokens(text: str) -> list[str]:
    """Lower-cased word tokens: case, punctuation and spacing do not make two texts different."""
    return TOKEN.findall(text.lower())


def _line_tokens(text: str) -> Iterator[list[str]]:
    """`normalized_tokens`, one line at a time: a long page is never held as one list of words."""
    for line in LINE.finditer(text):
        if tokens := normalized_tokens(line.group()):
            yield tokens


class ExactDeduper:
    """Remembers the hash of every normalised text it has accepted."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def is_new(self, text: str) -> bool:
        digest = hashlib.sha1()
        separator = ""
        for tokens in _line_tokens(text):  # the digest of " ".join(normalized_tokens(text)), line by line
            digest.update((separator + " ".join(tokens)).encode("utf-8"))
            separator = " "
        digest = digest.hexdigest()
        if digest in self._seen:
            return False
        self._seen.add(digest)
        return True


class NearDeduper:
    """Accepts a text unless one already accepted has estimated Jaccard similarity >= threshold on word shingles."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, shingle_words: int = 5) -> None:
        self.threshold, self.num_perm, self.shingle_words = threshold, num_perm, shingle_words
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._signatures: dict[int, MinHash] = {}
        self._permutations = MinHash(num_perm=num_perm, seed=1).permutations  # made once, not per text

    def _signature(self, text: str) -> MinHash:
        """MinHash of the text's word shingles (the whole text when shorter than one), fed in bounded batches."""
        signature = MinHash(num_perm=self.num_perm, seed=1, permutations=self._permutations)
        width = self.shingle_words
        carry: list[str] = []  # the last width - 1 tokens, whose shingles end on the next line
        batch: list[bytes] = []
        total = 0
        for tokens in _line_tokens(text):
            total += len(tokens)
            for start in range(0, len(tokens), SHINGLE_BATCH):
                words = carry + tokens[start : start + SHINGLE_BATCH]
                batch += [" ".join(words[i : i + width]).encode("utf-8") for i in range(len(words) - width + 1)]
                carry = words[-(width - 1) :] if width > 1 else []
                if len(batch) >= SHINGLE_BATCH:
                    signature.update_batch(batch)
                    batch = []
        if total < width:  # fewer tokens than a shingle: the whole text (all in `carry`) is the one shingle
            batch.append(" ".join(carry).encode("utf-8"))
        if batch:
            signature.update_batch(batch)
        return signature

    def is_new(self, text: str) -> bool:
        signature = self._signature(text)
        # LSH proposes candidates; the estimated Jaccard confirms them, cutting LSH's false positives.
        if any(signature.jaccard(self._signatures[key]) >= self.threshold for key in self._lsh.query(signature)):
            return False
        key = len(self._signatures)
        self._signatures[key] = signature
        self._lsh.insert(key, signature)
        return True
