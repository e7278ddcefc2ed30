"""Duplicate detection: exact (hash of the normalised text) and near (MinHash LSH over word shingles, datasketch)."""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

from litft.common.io import atomic_path

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


def words_key(text: str) -> bytes:
    """The SHA-1 of " ".join(normalized_tokens(text)), built line by line: equal for texts with the same words in the
    same order, which is all exact dedup and the word shingles of near dedup see."""
    digest = hashlib.sha1()
    separator = ""
    for tokens in _line_tokens(text):
        digest.update((separator + " ".join(tokens)).encode("utf-8"))
        separator = " "
    return digest.digest()


class ExactDeduper:
    """Remembers the hash of every normalised text it has accepted."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()

    def is_new(self, text: str) -> bool:
        digest = words_key(text)
        if digest in self._seen:
            return False
        self._seen.add(digest)
        return True


class SignatureCache:
    """MinHash signatures by `words_key`, kept from one process run to the next: they are most of process's time,
    and a refresh that leaves most pages as they were needs only the new texts' (hand-written: datasketch keeps
    no signatures on disk). A file made with other MinHash settings, or damaged, is not used."""

    def __init__(self, path: Path | None, num_perm: int, shingle_words: int) -> None:
        self.settings = np.array([num_perm, shingle_words], dtype=np.int64)
        self.known: dict[bytes, np.ndarray] = {}
        self.used: dict[bytes, np.ndarray] = {}
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as saved:
                    if np.array_equal(saved["settings"], self.settings):
                        keys, values = saved["keys"], saved["values"].astype(np.uint64)
                        self.known = {key.tobytes(): row for key, row in zip(keys, values, strict=True)}
            except (OSError, ValueError, KeyError, zipfile.BadZipFile):
                self.known = {}

    def get(self, key: bytes) -> np.ndarray | None:
        values = self.known.get(key)
        if values is not None:
            self.used[key] = values
        return values

    def put(self, key: bytes, values: np.ndarray) -> None:
        self.used[key] = values

    def save(self, path: Path) -> None:
        """The signatures this run used (those of texts gone since are dropped), written atomically."""
        keys = np.frombuffer(b"".join(self.used), dtype=np.uint8).reshape(len(self.used), 20)
        values = np.array(list(self.used.values()), dtype=np.uint32).reshape(len(self.used), -1)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a file object: np.savez adds no suffix
            np.savez(fh, settings=self.settings, keys=keys, values=values)


class NearDeduper:
    """Accepts a text unless one already accepted has estimated Jaccard similarity >= threshold on word shingles."""

    def __init__(
        self, threshold: float = 0.8, num_perm: int = 128, shingle_words: int = 5, cache: SignatureCache | None = None
    ) -> None:
        self.threshold, self.num_perm, self.shingle_words = threshold, num_perm, shingle_words
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._signatures: dict[int, MinHash] = {}
        self._permutations = MinHash(num_perm=num_perm, seed=1).permutations  # made once, not per text
        self.cache = cache

    def _signature(self, text: str) -> MinHash:
        """The text's MinHash: from the cache, else computed (and given to the cache)."""
        if self.cache is None:
            return self._computed_signature(text)
        key = words_key(text)
        values = self.cache.get(key)
        if values is not None:
            return MinHash(num_perm=self.num_perm, seed=1, hashvalues=values, permutations=self._permutations)
        signature = self._computed_signature(text)
        self.cache.put(key, signature.hashvalues)
        return signature

    def _computed_signature(self, text: str) -> MinHash:
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
