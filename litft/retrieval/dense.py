"""Dense vectors from a local sentence-transformers model: chunk embeddings at build time, query embeddings and
cosine top-k at search time. sentence-transformers (and so torch) is imported only inside the functions that embed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from litft.common.io import progress
from litft.retrieval.settings import check_model_dir

EMBED_BATCH = 256
SCORE_BATCH = 256  # queries scored at once: a (256, chunks) float32 matrix


def load_model(path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(check_model_dir(path)), local_files_only=True)


def embed(model: Any, texts: Sequence[str], quiet: bool = True) -> np.ndarray:
    """Unit-length float32 vectors, one row per text (at least one), so a dot product is the cosine similarity."""
    bar = progress(total=len(texts), quiet=quiet or len(texts) <= EMBED_BATCH, desc="embedding", unit="chunk")
    parts = []
    for start in range(0, len(texts), EMBED_BATCH):
        batch = list(texts[start : start + EMBED_BATCH])
        parts.append(model.encode(batch, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False))
        bar.update(len(batch))
    bar.close()
    return np.concatenate(parts).astype(np.float32)


def rank(embeddings: np.ndarray, query_vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """For each query vector, its top-`k` (chunk position, cosine) pairs, best first."""
    k = min(k, len(embeddings))
    rankings = []
    for start in range(0, len(query_vectors), SCORE_BATCH):
        scores = query_vectors[start : start + SCORE_BATCH] @ embeddings.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        for row, candidates in zip(scores, top, strict=True):
            order = candidates[np.lexsort((candidates, -row[candidates]))]
            rankings.append([(int(position), float(row[position])) for position in order])
    return rankings
