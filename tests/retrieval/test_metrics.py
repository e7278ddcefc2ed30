"""recall@k and MRR of the source chunk, exact on a corpus whose answers are known by construction."""

from __future__ import annotations

import json

import pytest

from litft.cli import main
from litft.retrieval.index import build_index
from litft.retrieval.metrics import evaluate_retrieval, mean_reciprocal_rank, read_queries, recall_at, source_ranks

# Ranks of the source by construction: "parking" alone shares words with the first question (rank 1); the second
# shares "library" with "hours" but also "graduate", "students" and "desk" with "laptops" (rank 2); the third shares
# no word with "meals" (not found). The fourth has no source_id, the fifth names a chunk that is not indexed, the
# sixth is unanswerable.
RECORDS = [
    {"instruction": "Where are parking permits sold?", "input": "", "output": "security", "source_id": "parking"},
    {"instruction": "Which library desk helps graduate students?", "output": "the desk", "source_id": "hours"},
    {"instruction": "How much does tuition cost?", "output": "a lot", "source_id": "meals"},
    {"instruction": "Say hello.", "output": "hello"},
    {"instruction": "What is new?", "output": "nothing", "source_id": "removed-chunk"},
    # A question its chunk cannot answer (synthesize --unanswerable): no chunk is relevant, it is not a query.
    {
        "instruction": "Where are Varrick permits sold?",
        "output": "I don't know.",
        "source_id": "parking",
        "answerable": False,
    },
]


def test_the_metrics_of_given_ranks():
    ranks = source_ranks([[(4, 2.0), (7, 1.0)], [(7, 3.0), (4, 1.0)], [(1, 1.0)]], [4, 4, 4])
    assert ranks == [1, 2, None]
    assert [recall_at(ranks, k) for k in (1, 2, 3)] == [1 / 3, 2 / 3, 2 / 3]
    assert mean_reciprocal_rank(ranks) == pytest.approx(0.5)


def test_recall_and_mrr_of_the_source_chunk_are_exact(chunks_file, tmp_path):
    records = tmp_path / "test.json"
    records.write_text(json.dumps(RECORDS))
    queries, without_source = read_queries(records)
    assert without_source == 2 and len(queries) == 4
    report = evaluate_retrieval(build_index(chunks_file, tmp_path / "index", quiet=True), queries, [1, 2, 3])
    assert report == {
        "queries": 3,
        "unknown_source": 1,
        "retrievers": {"bm25": {"recall@1": 1 / 3, "recall@2": 2 / 3, "recall@3": 2 / 3, "mrr@3": 0.5}},
    }


def test_the_evaluate_command_prints_a_table_or_json(chunks_file, tmp_path, capsys):
    records = tmp_path / "test.jsonl"
    records.write_text("".join(json.dumps(record) + "\n" for record in RECORDS))
    main(["index", "build", "--chunks", str(chunks_file), "--out", str(tmp_path / "index"), "--quiet"])
    capsys.readouterr()
    main(["index", "evaluate", str(tmp_path / "index"), "--records", str(records), "--k", "2", "1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["retrievers"] == {"bm25": {"recall@1": 1 / 3, "recall@2": 2 / 3, "mrr@2": 0.5}}
    assert (report["queries"], report["unknown_source"], report["without_source"]) == (3, 1, 2)
    main(["index", "evaluate", str(tmp_path / "index"), "--records", str(records)])
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["retriever", "recall@1", "recall@3", "recall@5", "recall@10", "mrr@10"]
    assert table[1].split() == ["bm25", "0.333", "0.667", "0.667", "0.667", "0.500"]
    assert table[2].endswith(": 3")
