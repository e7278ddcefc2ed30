"""`litft index build | search | evaluate`: each checks its paths and values, then loads bm25s (and torch only
for dense vectors)."""

from __future__ import annotations

from json import dumps  # `json` is the name of the commands' --json flag
from pathlib import Path

from litft.common.checks import require_file
from litft.common.outputs import check_output_dir
from litft.retrieval.settings import INDEX_KIND, Bm25Settings, Retriever, check_index_dir, check_k, check_model_dir

SNIPPET_CHARS = 200
DEFAULT_KS = [1, 3, 5, 10]


def build(
    chunks: Path,
    out: Path,
    embedding_model: Path | None = None,
    bm25: Bm25Settings = Bm25Settings(),
    overwrite: bool = False,
    quiet: bool = False,
    update: Path | None = None,
) -> None:
    """Build a retrieval index over chunks.jsonl: BM25 always, plus dense vectors with --embedding_model.

    After a refresh, --update names the index built from the previous chunks: the chunks it holds unchanged (same
    id and text) keep their vectors and only the others are embedded; the result is the index a full build gives.

    Args:
        chunks: Chunk records {id, url, text}, e.g. the chunks.jsonl of `litft process`.
        out: Folder for the index (created; a folder litft did not write is refused without --overwrite).
        embedding_model: A local sentence-transformers model folder; its vectors enable dense and hybrid search.
        bm25: BM25 scoring (method, k1, b) and whether words are stemmed.
        overwrite: Write into an --out folder that holds files litft did not write (only its own are replaced).
        quiet: No progress bars.
        update: An index of the previous chunks whose vectors to reuse (it may be --out itself); its embedding
            model is the default --embedding_model.
    """
    require_file(chunks, "--chunks")
    if embedding_model is not None:
        check_model_dir(embedding_model)
    if update is not None:
        check_index_dir(update, "--update")
    check_output_dir(out, INDEX_KIND, overwrite=overwrite, inputs=[chunks, embedding_model], flag="--out")
    from litft.retrieval.index import build_index

    index = build_index(chunks, out, embedding_model, bm25, overwrite=overwrite, quiet=quiet, update=update)
    dense = index.meta["dense"]
    vectors = f" and {dense['dimensions']}-dimensional vectors" if dense else ""
    if dense and update is not None:
        vectors += f" ({index.meta['embedded']} embedded, {index.meta['vectors_reused']} reused from {update})"
    print(f"index: {len(index)} chunks with BM25{vectors} in {out} (retrievers: {', '.join(index.retrievers)})")


def search(index_dir: Path, query: str, k: int = 5, retriever: Retriever | None = None, json: bool = False) -> None:
    """Print the chunks of an index that best answer a query.

    Args:
        index_dir: A folder written by `litft index build`.
        query: The question or keywords.
        k: How many chunks to print.
        retriever: bm25, dense or hybrid (reciprocal-rank fusion of both, k=60); default: hybrid when the index
            has dense vectors, else bm25.
        json: Print one JSON object per chunk ({rank, score, id, url, text}) instead of text.
    """
    check_k(k)
    check_index_dir(index_dir)
    from litft.retrieval.index import RetrievalIndex

    hits = RetrievalIndex.load(index_dir).search(query, k, retriever)
    for rank, hit in enumerate(hits, start=1):
        if json:
            print(_json_line({"rank": rank, "score": hit.score, "id": hit.id, "url": hit.url, "text": hit.text}))
        else:
            print(f"{rank:>3}  {hit.score:.4f}  {hit.id}  {hit.url}\n     {snippet(hit.text)}")
    if not hits and not json:
        print("no chunk shares a word with the query")


def evaluate(index_dir: Path, records: Path, k: list[int] | None = None, json: bool = False) -> None:
    """Score how often each retriever of an index finds the chunk a test question was made from (recall@k, MRR).

    Args:
        index_dir: A folder written by `litft index build`, from the chunks the records were synthesized from.
        records: Records with instruction and source_id (JSON list or JSONL), e.g. the test.json of `litft split`.
        k: The cut-offs for recall@k; MRR counts ranks up to the largest.
        json: Print the scores as one JSON object instead of a table.
    """
    ks = sorted(set(k or DEFAULT_KS))
    check_k(ks)
    check_index_dir(index_dir)
    require_file(records, "--records")
    from litft.retrieval.index import RetrievalIndex
    from litft.retrieval.metrics import evaluate_retrieval, read_queries

    queries, without_source = read_queries(records)
    report = {**evaluate_retrieval(RetrievalIndex.load(index_dir), queries, ks), "without_source": without_source}
    print(_json_line(report) if json else score_table(report))


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The text on one line, cut at a word boundary near `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " …"


def score_table(report: dict) -> str:
    columns = list(next(iter(report["retrievers"].values())))
    lines = ["retriever  " + "  ".join(f"{column:>9}" for column in columns)]
    for retriever, scores in report["retrievers"].items():
        lines.append(f"{retriever:<9}  " + "  ".join(f"{scores[column]:>9.3f}" for column in columns))
    skipped = report["unknown_source"] + report["without_source"]
    lines.append(
        f"{report['queries']} queries; records skipped (unanswerable, no source_id or its chunk not indexed): {skipped}"
    )
    return "\n".join(lines)


def _json_line(obj: dict) -> str:
    return dumps(obj, ensure_ascii=False)
