"""The light half of `litft.retrieval`: the index's names and settings and the checks a command runs before
bm25s, numpy or torch load, so a wrong path or value is answered at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from litft.common.checks import require_dir
from litft.common.errors import LitftError
from litft.common.io import read_json
from litft.common.outputs import MARKER, is_own
from litft.retrieval.layout import META, check_files

INDEX_KIND = "retrieval-index"
Retriever = Literal["bm25", "dense", "hybrid"]
# Reciprocal-rank fusion (Cormack, Clarke & Büttcher 2009): a chunk scores sum(1 / (RRF_K + rank)) over the
# rankings that hold it, ranks counted from 1. 60 is the constant of the paper and of most search engines.
RRF_K = 60
# Each retriever's top max(k, FUSION_DEPTH) chunks enter the fusion, so a chunk ranked just below k by one
# retriever and high by the other can still rise into the top k.
FUSION_DEPTH = 100
BUILD_HINT = "build one with `litft index build --chunks chunks.jsonl --out DIR`"


@dataclass
class Bm25Settings:
    """BM25 scoring and tokenization: bm25s' `method`, k1 and b, and whether words are stemmed (English Snowball,
    PyStemmer). Text is always lowercased, split into words of two or more letters or digits, and English stop
    words are dropped."""

    method: Literal["lucene", "robertson"] = "lucene"
    k1: float = 1.5
    b: float = 0.75
    stem: bool = True

    def __post_init__(self) -> None:
        if self.k1 < 0:
            raise LitftError(f"--bm25.k1 must be zero or more, got {self.k1}.")
        if not 0.0 <= self.b <= 1.0:
            raise LitftError(f"--bm25.b must be between 0 and 1, got {self.b}.")


def check_k(values: int | list[int], flag: str = "--k") -> None:
    for value in values if isinstance(values, list) else [values]:
        if value < 1:
            raise LitftError(f"{flag} must be at least 1, got {value}.")


def check_index_dir(directory: str | Path, flag: str = "--index_dir", hashes: bool = False) -> Path:
    """`directory` when it is a folder `litft index build` wrote, holding the files its meta.json records (their
    sizes; their sha256 too with `hashes`, as every load does); otherwise one sentence saying what it is."""
    directory = require_dir(directory, flag, hint=BUILD_HINT)
    if not is_own(directory, INDEX_KIND) or not (directory / META).is_file():
        raise LitftError(
            f"{flag} {directory} is not a retrieval index (no {MARKER} of kind {INDEX_KIND} with a {META}); "
            f"{BUILD_HINT}."
        )
    check_files(directory, read_json(directory / META), hashes)
    return directory


def check_model_dir(path: str | Path, flag: str = "--embedding_model") -> Path:
    """A local sentence-transformers (or plain transformers) model folder; nothing is ever downloaded."""
    path = require_dir(path, flag, hint="give a local sentence-transformers model folder")
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise LitftError(
            f"{flag} {path} holds no modules.json or config.json; give a sentence-transformers model folder "
            "(one saved with SentenceTransformer.save)."
        )
    return path
