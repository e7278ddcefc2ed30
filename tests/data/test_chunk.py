"""Chunker properties (hypothesis) and its sentence-boundary behaviour."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litft.data.chunk import chunk_text, pack, sentences
from litft.errors import LitftError

WORDS = st.text(alphabet=st.sampled_from("abcXYZ.!?,'\"-()0123"), min_size=1, max_size=8)
SEPARATORS = st.sampled_from([" ", "  ", "\n", " \n\n", "\t"])
TEXTS = st.lists(st.tuples(WORDS, SEPARATORS), min_size=0, max_size=120).map(lambda pairs: "".join(w + s for w, s in pairs))


def check_chunks(text: str, chunks: list[str], size: int, overlap: int) -> None:
    words = text.split()
    chunk_words = [chunk.split() for chunk in chunks]
    assert all(1 <= len(c) <= size for c in chunk_words)
    assert all("\n" not in chunk for chunk in chunks)
    rebuilt = list(chunk_words[0]) if chunk_words else []
    for previous, current in zip(chunk_words, chunk_words[1:]):
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
@given(sentence_lengths=st.lists(st.integers(1, 60), max_size=20), size=st.integers(2, 30), data=st.data())
def test_pack_properties_on_sentence_structure(sentence_lengths, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    counter = iter(range(10**6))
    grouped = [[f"w{next(counter)}" for _ in range(length)] for length in sentence_lengths]
    chunks = [" ".join(chunk) for chunk in pack(grouped, size, overlap)]
    check_chunks(" ".join(w for s in grouped for w in s), chunks, size, overlap)


def test_chunks_end_at_sentence_boundaries():
    sentence = "Dr. Smith teaches physics at the university in the winter term."  # 11 words, "Dr." is not an end
    text = " ".join([sentence] * 6)
    chunks = chunk_text(text, chunk_words=25, overlap_words=3)
    assert [len(c.split()) for c in chunks] == [22, 25, 25]  # two sentences, then overlap 3 + two sentences
    assert all(c.endswith("term.") for c in chunks)
    assert chunks[1].startswith("the winter term. Dr. Smith")


def test_sentences_split_on_sentences_and_lines():
    assert sentences("Dr. Smith went home. He slept!\nNext line here") == [
        ["Dr.", "Smith", "went", "home."], ["He", "slept!"], ["Next", "line", "here"]]


def test_long_sentence_is_cut_at_word_boundaries():
    text = " ".join(f"w{i}" for i in range(50)) + "."
    chunks = chunk_text(text, chunk_words=20, overlap_words=5)
    assert [len(c.split()) for c in chunks] == [15, 20, 20, 10]  # pieces of 15 fit after a 5-word overlap
    assert chunks[1].split()[:5] == chunks[0].split()[-5:]


@pytest.mark.parametrize("size, overlap", [(0, 0), (10, 10), (10, -1)])
def test_bad_chunk_settings_are_user_errors(size, overlap):
    with pytest.raises(LitftError, match="chunk_words"):
        chunk_text("some words here", size, overlap)
