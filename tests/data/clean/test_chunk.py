"""Chunker properties (hypothesis) and its block- and sentence-boundary behaviour."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litft.common.errors import LitftError
from litft.data.clean import chunk
from litft.data.clean.chunk import (
    Piece,
    chunk_text,
    is_heading,
    pack,
    render,
    sentences,
)

WORDS = st.text(alphabet=st.sampled_from("abcXYZ.!?,'\"-()0123"), min_size=1, max_size=8)
SEPARATORS = st.sampled_from([" ", "  ", "\n", " \n\n", "\t"])
TEXTS = st.lists(st.tuples(WORDS, SEPARATORS), min_size=0, max_size=120).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)


def check_chunks(text: str, chunks: list[str], size: int, overlap: int) -> None:
    words = text.split()
    chunk_words = [chunk.split() for chunk in chunks]
    assert all(1 <= len(c) <= size for c in chunk_words)
    lines = [f" {' '.join(line.split())} " for line in text.splitlines()]
    for text_of_chunk in chunks:  # each line of a chunk is a run of words from one line of the text
        assert all(any(f" {line} " in source for source in lines) for line in text_of_chunk.split("\n"))
    rebuilt = list(chunk_words[0]) if chunk_words else []
    for previous, current in itertools.pairwise(chunk_words):
        shared = min(overlap, len(previous))
        assert current[:shared] == previous[len(previous) - shared :]  # overlap exactly as set
        assert len(current) > shared  # every chunk brings new words
        rebuilt += current[shared:]
    assert rebuilt == words  # every word lands in a chunk, in order, once (not counting overlap)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, size=st.integers(2, 40), data=st.data())
def test_chunk_properties(text, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    check_chunks(text, chunk_text(text, size, overlap), size, overlap)


@settings(max_examples=80, deadline=None)
@given(
    shapes=st.lists(st.tuples(st.integers(1, 60), st.booleans(), st.booleans()), max_size=20),
    size=st.integers(2, 30),
    data=st.data(),
)
def test_pack_properties_on_block_structure(shapes, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    counter = iter(range(10**6))
    room = size - overlap
    source = []  # (length, new block?, heading?) -> pieces of at most `room` words, as `pieces` cuts them
    for block, (length, new_block, heading) in enumerate(shapes):
        words = [f"w{next(counter)}" for _ in range(length)]
        block_id = block if new_block or not source else source[-1].block
        source += [
            Piece(tuple(words[i : i + room]), block_id, heading and length <= room) for i in range(0, length, room)
        ]
    chunks = [render(c) for c in pack(source, size, overlap)]
    text = "\n".join(
        " ".join(w for p in source if p.block == b for w in p.words) for b in dict.fromkeys(p.block for p in source)
    )
    check_chunks(text, chunks, size, overlap)


def test_chunks_end_at_sentence_boundaries():
    sentence = "Dr. Smith teaches physics at the university in the winter term."  # 11 words, "Dr." is not an end
    text = " ".join([sentence] * 6)
    chunks = chunk_text(text, chunk_words=25, overlap_words=3)
    assert [len(c.split()) for c in chunks] == [22, 25, 25]  # two sentences, then overlap 3 + two sentences
    assert all(c.endswith("term.") for c in chunks)
    assert chunks[1].startswith("the winter term. Dr. Smith")


def test_sentences_split_a_block_into_sentences():
    assert list(sentences("Dr. Smith went home. He slept! Next line here")) == [
        ["Dr.", "Smith", "went", "home."],
        ["He", "slept!"],
        ["Next", "line", "here"],
    ]


def test_long_blocks_are_segmented_in_windows_like_a_whole(monkeypatch):
    block = " ".join(f"Sentence number {i} is about Dr. Who and the U.S. election of {1900 + i}." for i in range(200))
    whole = list(sentences(block))
    monkeypatch.setattr(chunk, "WINDOW_CHARS", 300)
    assert list(sentences(block)) == whole and len(whole) == 200


def test_blocks_stay_lines_and_a_heading_moves_to_its_section():
    text = (
        "About Harbor Valley Water Cooperative\n"
        "Harbor Valley Water Cooperative was founded in 1962 by farmers of the valley.\n"
        "Our history\n"
        "The cooperative is owned by the households it serves.\n"
        "- Members vote once a year.\n"
        "- Anyone in the valley can join."
    )
    assert chunk_text(text, chunk_words=20, overlap_words=0) == [
        "About Harbor Valley Water Cooperative\n"
        "Harbor Valley Water Cooperative was founded in 1962 by farmers of the valley.",
        "Our history\nThe cooperative is owned by the households it serves.\n- Members vote once a year.",
        "- Anyone in the valley can join.",
    ]
    assert chunk_text(text, chunk_words=20, overlap_words=3)[1] == (
        "of the valley.\nOur history\n"
        "The cooperative is owned by the households it serves.\n- Members vote once a year."
    )
    assert chunk_text(text, chunk_words=250) == [text]


@pytest.mark.parametrize(
    "line, heading",
    [
        ("About us", True),
        ("Our services include:", True),
        ("Opening hours 9-17", True),
        ("We open at nine.", False),
        ("- Leak repair around the clock", False),
        ("1. First step", False),
        ("Harbor Valley Water Cooperative provides drinking water to homes in four towns and keeps", False),
    ],
)
def test_is_heading(line, heading):
    assert is_heading(line) is heading


def test_long_sentence_is_cut_at_word_boundaries():
    text = " ".join(f"w{i}" for i in range(50)) + "."
    chunks = chunk_text(text, chunk_words=20, overlap_words=5)
    assert [len(c.split()) for c in chunks] == [15, 20, 20, 10]  # pieces of 15 fit after a 5-word overlap
    assert chunks[1].split()[:5] == chunks[0].split()[-5:]


@pytest.mark.parametrize("size, overlap", [(0, 0), (10, 10), (10, -1)])
def test_bad_chunk_settings_are_user_errors(size, overlap):
    with pytest.raises(LitftError, match="chunk_words"):
        chunk_text("some words here", size, overlap)
