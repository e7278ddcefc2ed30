"""The hand-built corpus as a chunks.jsonl, and a tiny random sentence-transformers model built on the spot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.retrieval.corpus import CHUNKS
from tests.support.embedding import make_tiny_embedding_model


@pytest.fixture
def chunks_file(tmp_path: Path) -> Path:
    path = tmp_path / "chunks.jsonl"
    path.write_text("".join(json.dumps(chunk) + "\n" for chunk in CHUNKS), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_embedding_model(tmp_path_factory) -> Path:
    """A one-layer random BERT with mean pooling over the corpus' words, saved as a sentence-transformers folder."""
    return make_tiny_embedding_model(tmp_path_factory.mktemp("embedding-model"), [chunk["text"] for chunk in CHUNKS])
