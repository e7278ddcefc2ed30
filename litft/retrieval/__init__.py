"""Retrieval over chunks.jsonl: the other answer to "fine-tune or retrieve?".

`litft index build` stores a BM25 index (bm25s), optional dense vectors from a local sentence-transformers model
and the chunks themselves in one folder; `RetrievalIndex.load` reads it back without rebuilding, for
`litft index search`, `litft index evaluate` and the evaluation and RAFT work that retrieves passages.
torch loads only inside the functions that embed text.
"""
