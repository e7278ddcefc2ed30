"""Chunking: ~N words per chunk with a fixed word overlap, cut at block boundaries first, then at sentence
boundaries (pysbd).

Each line of the text is a block (a heading, a list item, a paragraph) and stays one line in the chunks.
Whole blocks are packed while they fit; only a block longer than a chunk is cut at sentence boundaries, and
a sentence longer than a chunk at word boundaries. A heading never ends a chunk when text follows it: it
moves to the next chunk, with the section it introduces.

Words come from the original text and pysbd only proposes where sentences start, so no word is ever
lost or altered even where the segmenter misreads a sentence. Blocks are read one at a time and pysbd sees
a window of a long block at a time, so memory follows the largest block, not the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import pysbd

from litft.common.errors import LitftError

WORD = re.compile(r"\S+")
LINE = re.compile(r"[^\n]+")
# A short line without a sentence end ("About us", "Our services") or one ending in ":" introduces what follows.
MAX_HEADING_WORDS = 12
SENTENCE_END = (".", "!", "?", "\u2026", '."', ".\u201d", "!\u201d", "?\u201d")
# List-item marks as extractors write them ("- ", "* ", "1. "): the item is no heading, and its text starts
# after the mark.
LIST_ITEM = re.compile(r"^(?:[-*+\u2022\u25aa\u25e6]|\d{1,3}[.)])\s+")
# pysbd's cost grows with its input; a long block is segmented a window at a time.
WINDOW_CHARS = 20_000


@dataclass(frozen=True)
class Piece:
    """Words that are never split across chunks: a whole block, or a sentence (or part of one) of a long block."""

    words: tuple[str, ...]
    block: int  # pieces of one block share it and are written on one line
    heading: bool = False  # belongs with the text after it


@lru_cache(maxsize=4)
def segmenter(language: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=language, clean=False)


def is_heading(line: str) -> bool:
    """A line that introduces the next ones: short and without a sentence end, or ending in ":"; list items are not."""
    line = line.strip()
    if not line or LIST_ITEM.match(line):
        return False
    return line.endswith(":") or (len(line.split()) <= MAX_HEADING_WORDS and not line.endswith(SENTENCE_END))


def _sentence_starts(block: str, language: str) -> Iterator[int]:
    """Offsets in `block` where pysbd sees a sentence start, found one window at a time."""
    position = 0
    while position < len(block):
        end = (
            len(block) if len(block) - position <= WINDOW_CHARS else block.rfind(" ", position, position + WINDOW_CHARS)
        )
        end = end if end > position else min(len(block), position + WINDOW_CHARS)
        window = block[position:end]
        starts, cursor = [], 0
        for sentence in segmenter(language).segment(window):
            sentence = sentence.strip()
            found = window.find(sentence, cursor) if sentence else -1
            if found >= 0:
                starts.append(found)
                cursor = found + len(sentence)
        if (
            end < len(block) and len(starts) > 1
        ):  # the window's last sentence may run on: segment it again with what follows
            end = position + starts.pop()
        yield from (position + start for start in starts)
        position = end


def sentences(block: str, language: str = "en") -> Iterator[list[str]]:
    """The words of one block, grouped into sentences."""
    starts = _sentence_starts(block, language)
    next_start = next(starts, None)
    current: list[str] = []
    for match in WORD.finditer(block):
        while next_start is not None and next_start < match.start():
            next_start = next(starts, None)
        if match.start() == next_start and current:
            yield current
            current = []
        current.append(match.group())
    if current:
        yield current


def pieces(text: str, piece_words: int, language: str = "en") -> Iterator[Piece]:
    """The pieces of `text`, in order: each line a piece when it has at most `piece_words` words, else its
    sentences, and any sentence longer than that cut every `piece_words` words."""
    for number, match in enumerate(LINE.finditer(text)):
        line = match.group()
        words = WORD.findall(line)
        if not words:
            continue
        if len(words) <= piece_words:
            yield Piece(tuple(words), number, is_heading(line))
            continue
        del words  # a long block is read again sentence by sentence; one list of its words at a time
        for sentence in sentences(line, language):
            for start in range(0, len(sentence), piece_words):
                yield Piece(tuple(sentence[start : start + piece_words]), number)


def _tail(chunk: list[Piece], words: int) -> list[Piece]:
    """The last `words` words of `chunk`, as pieces of their blocks."""
    tail: list[Piece] = []
    for piece in reversed(chunk):
        if words <= 0:
            break
        taken = piece.words[-words:]
        tail.insert(0, Piece(taken, piece.block))
        words -= len(taken)
    return tail


def pack(source: Iterable[Piece], chunk_words: int, overlap_words: int) -> Iterator[list[Piece]]:
    """Greedy packing: whole pieces while they fit; each chunk after the first opens with the last `overlap_words`
    words of the one before; headings at the end of a full chunk move on to the next. Pieces must have at most
    chunk_words - overlap_words words, so any fits after an overlap."""
    check_sizes(chunk_words, overlap_words)
    room = chunk_words - overlap_words
    current: list[Piece] = []
    size = fresh = 0  # words in `current`, and those of them no earlier chunk holds (always its last pieces)
    for piece in source:
        if fresh and size + len(piece.words) > chunk_words:
            carried: list[Piece] = []
            carried_size = 0
            while (
                current[-1].heading
                and fresh > len(current[-1].words)
                and carried_size + len(current[-1].words) + len(piece.words) <= room
            ):
                heading = current.pop()
                carried.insert(0, heading)
                carried_size += len(heading.words)
                fresh -= len(heading.words)
            yield current
            current = (_tail(current, overlap_words) if overlap_words else []) + carried
            size, fresh = sum(len(p.words) for p in current), carried_size
        current.append(piece)
        size += len(piece.words)
        fresh += len(piece.words)
    if fresh:
        yield current


def render(chunk: list[Piece]) -> str:
    """Words of one block joined by spaces, blocks by newlines."""
    lines: list[list[str]] = []
    previous = None
    for piece in chunk:
        if piece.block != previous:
            lines.append([])
            previous = piece.block
        lines[-1].extend(piece.words)
    return "\n".join(" ".join(words) for words in lines)


def check_sizes(chunk_words: int, overlap_words: int) -> None:
    if chunk_words < 1 or not 0 <= overlap_words < chunk_words:
        raise LitftError(
            "chunk_words must be at least 1 and overlap_words in [0, chunk_words) "
            f"(got {chunk_words}, {overlap_words}); fix them."
        )


def iter_chunks(text: str, chunk_words: int = 250, overlap_words: int = 10, language: str = "en") -> Iterator[str]:
    """Chunks of at most `chunk_words` words, one line per block, consecutive chunks sharing `overlap_words` words."""
    check_sizes(chunk_words, overlap_words)
    for chunk in pack(pieces(text, chunk_words - overlap_words, language), chunk_words, overlap_words):
        yield render(chunk)


def chunk_text(text: str, chunk_words: int = 250, overlap_words: int = 10, language: str = "en") -> list[str]:
    """All chunks of `text` (see `iter_chunks`)."""
    return list(iter_chunks(text, chunk_words, overlap_words, language))
