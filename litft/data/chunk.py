"""Chunking: ~N words per chunk with a fixed word overlap, cut at sentence boundaries (pysbd).

Words come from the original text and pysbd only proposes where sentences start, so no word is ever
lost or altered even where the segmenter misreads a sentence. A sentence longer than a chunk is cut
at word boundaries.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd

from litft.errors import LitftError

WORD = re.compile(r"\S+")


@lru_cache(maxsize=4)
def _segmenter(language: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=language, clean=False)


def sentences(text: str, language: str = "en") -> list[list[str]]:
    """The words of `text`, grouped into sentences; each line is a paragraph, so no sentence crosses a line."""
    grouped: list[list[str]] = []
    for paragraph in text.splitlines():
        words = [(match.start(), match.group()) for match in WORD.finditer(paragraph)]
        if not words:
            continue
        starts, cursor = set(), 0
        for sentence in _segmenter(language).segment(paragraph):
            found = paragraph.find(sentence.strip(), cursor)
            if found >= 0 and sentence.strip():
                starts.add(found)
                cursor = found + len(sentence.strip())
        current: list[str] = []
        for offset, word in words:
            if offset in starts and current:
                grouped.append(current)
                current = []
            current.append(word)
        grouped.append(current)
    return grouped


def pack(sentence_words: list[list[str]], chunk_words: int, overlap_words: int) -> list[list[str]]:
    """Greedy packing: whole sentences while they fit; each chunk after the first opens with the last
    `overlap_words` words of the one before. Pieces are cut to chunk_words - overlap_words so any fits."""
    if chunk_words < 1 or not 0 <= overlap_words < chunk_words:
        raise LitftError(f"chunk_words must be at least 1 and overlap_words in [0, chunk_words) (got {chunk_words}, {overlap_words}); fix them.")
    piece_size = chunk_words - overlap_words
    pieces = [words[i : i + piece_size] for words in sentence_words for i in range(0, len(words), piece_size)]
    chunks: list[list[str]] = []
    current: list[str] = []
    fresh = 0  # words in `current` that no earlier chunk holds
    for piece in pieces:
        if fresh and len(current) + len(piece) > chunk_words:
            chunks.append(current)
            current = current[len(current) - min(overlap_words, len(current)) :] if overlap_words else []
            fresh = 0
        current = current + piece
        fresh += len(piece)
    if fresh:
        chunks.append(current)
    return chunks


def chunk_text(text: str, chunk_words: int = 250, overlap_words: int = 10, language: str = "en") -> list[str]:
    """Chunks of at most `chunk_words` words, each a single line, consecutive chunks sharing `overlap_words` words."""
    return [" ".join(words) for words in pack(sentences(text, language), chunk_words, overlap_words)]
