"""Duplicate detection: exact (hash of the normalised text) and near (MinHash LSH over word shingles, datasketch)."""

from __future__ import annotations

import hashlib
import re

from datasketch import MinHash, MinHashLSH

TOKEN = re.compile(r"\w+")


def normalized_tokens(text: str) -> list[str]:
    """Lower-cased word tokens: case, punctuation and spacing do not make two texts different."""
    return TOKEN.findall(text.lower())


class ExactDeduper:
    """Remembers the hash of every normalised text it has accepted."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def is_new(self, text: str) -> bool:
        digest = hashlib.sha1(" ".join(normalized_tokens(text)).encode("utf-8")).hexdigest()
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

    def _signature(self, text: str) -> MinHash:
        tokens = normalized_tokens(text)
        width = min(self.shingle_words, max(1, len(tokens)))
        shingles = {" ".join(tokens[i : i + width]).encode("utf-8") for i in range(max(1, len(tokens) - width + 1))}
        signature = MinHash(num_perm=self.num_perm, seed=1)
        signature.update_batch(list(shingles))
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
