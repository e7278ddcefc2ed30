"""A small generated corpus and a tiny BPE tokenizer trained on it by `litft tokenizer train`."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = (
    "the school offers programs in mechanical civil electrical software engineering courses admissions "
    "faculty research labs students apply before march deadline tuition scholarship campus über naïve "
    "café 日本語 — 2024 €"
).split()


def corpus_lines(count: int, seed: int = 0) -> list[str]:
    """`count` distinct-ish sentences of 3-40 words, with non-ASCII words so byte-level BPE is exercised."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40))) + f" #{i}." for i in range(count)]


def make_tokenizer(directory: Path, vocab_size: int = 400) -> Path:
    from litft.prepare.tokenizer_training import train_tokenizer

    corpus = directory.parent / f"{directory.name}_corpus.txt"
    corpus.write_text("\n".join(corpus_lines(500)) + "\n", encoding="utf-8")
    return train_tokenizer(data=corpus, out=directory, vocab_size=vocab_size, split_lines=True, quiet=True)
