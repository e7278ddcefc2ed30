"""`litft evaluate --rag` and `--api.model`: rows with retrieved chunks in the prompt beside the closed-book ones,
and an OpenAI-compatible model answering the same questions through the response cache."""

from __future__ import annotations

import csv
import json

import pytest

from litft.cli import run_function
from litft.evaluation.evaluate import evaluate
from litft.retrieval.index import build_index
from tests.support.embedding import make_tiny_embedding_model
from tests.support.fake_openai import FakeOpenAI

pytestmark = pytest.mark.usefixtures("one_thread")

CHUNKS = [
    {"id": "deadline", "url": "https://x.test/apply", "text": "The application deadline is March 1."},
    {"id": "programs", "url": "https://x.test/programs", "text": "Programs offered: civil, software."},
    {"id": "campus", "url": "https://x.test/campus", "text": "The campus has a lake."},
]
RECORDS = [
    {"instruction": "When is the application deadline?", "input": "", "output": "Apply before March 1."},
    {"instruction": "Which programs are offered?", "input": "", "output": "Civil and software."},
]
API_KEY = "sk-test-secret-value-1234"


@pytest.fixture(scope="module")
def rag_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("rag")
    chunks = root / "chunks.jsonl"
    chunks.write_text("".join(json.dumps(chunk) + "\n" for chunk in CHUNKS))
    build_index(chunks, root / "index", quiet=True)
    test_file = root / "test.json"
    test_file.write_text(json.dumps(RECORDS))
    return {"index": root / "index", "test": test_file}


def _args(lit_base, rag_setup, out, *extra):
    return [
        str(rag_setup["test"]),
        "--runs=[]",
        "--base",
        str(lit_base),
        "--out_dir",
        str(out),
        "--prompt_style",
        "qa",
        "--sampling.max_new_tokens",
        "4",
        "--device",
        "cpu",
        "--rag",
        str(rag_setup["index"]),
        "--rag_k",
        "1",
        "--quiet",
        "true",
        *extra,
    ]


def test_rag_rows_sit_beside_closed_book_rows_with_the_passages_in_their_prompts(lit_base, rag_setup, tmp_path, capsys):
    out = tmp_path / "eval"
    run_function(evaluate, _args(lit_base, rag_setup, out))
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table[2:4]] == ["base", "base+rag"]

    report = json.loads((out / "report.json").read_text())
    assert [m["label"] for m in report["models"]] == ["base", "base+rag"]
    closed, rag = report["models"]
    assert closed["rag"] is None
    assert rag["rag"] == {
        "index": str(rag_setup["index"].resolve()),
        "k": 1,
        "retriever": "bm25",
        "passages_dropped": 0,
    }
    with open(out / "answers.csv", encoding="utf-8", newline="") as fh:
        assert list(next(csv.DictReader(fh))) == [
            "id",
            "question",
            "reference",
            "answerable",
            "source_id",
            "source_url",
            "train_records_from_page",
            "answer_base",
            "score_base",
            "answer_base+rag",
            "score_base+rag",
        ]

    generations = (out / "generations" / "base+rag.jsonl").read_text().splitlines()
    lines = sorted((json.loads(line) for line in generations), key=lambda line: line["retrieved"])  # batch order
    assert [line["retrieved"] for line in lines] == [["deadline"], ["programs"]]
    assert lines[0]["prompt"].startswith("Context:\n[1] The application deadline is March 1.\n\nQuestion: When is")
    assert "Programs offered: civil, software." in lines[1]["prompt"]
    closed_lines = [json.loads(line) for line in (out / "generations" / "base.jsonl").read_text().splitlines()]
    assert all("Context:" not in line["prompt"] and "retrieved" not in line for line in closed_lines)
    assert {line["key"] for line in lines}.isdisjoint(line["key"] for line in closed_lines)

    run_function(evaluate, _args(lit_base, rag_setup, out))  # both rows come from generations/ now
    assert [m["from_cache"] for m in json.loads((out / "report.json").read_text())["models"]] == [2, 2]


def test_passages_that_would_crowd_out_the_answer_are_left_out_lowest_ranked_first(lit_base, tmp_path):
    # lit_base's context is 128 tokens: a long second-best chunk cannot fit beside the best one and a 16-token answer.
    chunks = tmp_path / "chunks.jsonl"
    long_text = "The deadline office " + "also lists many forms and rules for late applications " * 12
    rows = [{"id": "deadline", "url": "u1", "text": "The application deadline is March 1."}]
    rows.append({"id": "long", "url": "u2", "text": long_text})
    chunks.write_text("".join(json.dumps(row) + "\n" for row in rows))
    build_index(chunks, tmp_path / "index", quiet=True)
    test_file = tmp_path / "test.json"
    test_file.write_text(json.dumps(RECORDS[:1]))
    setup = {"index": tmp_path / "index", "test": test_file}
    out = tmp_path / "eval"
    args = _args(lit_base, setup, out, "--sampling.max_new_tokens", "16")
    run_function(evaluate, [*args[: args.index("--rag_k")], "--rag_k", "2", *args[args.index("--rag_k") + 2 :]])
    rag_row = json.loads((out / "report.json").read_text())["models"][1]
    assert rag_row["rag"]["passages_dropped"] == 1
    (line,) = [json.loads(line) for line in (out / "generations" / "base+rag.jsonl").read_text().splitlines()]
    assert line["retrieved"] == ["deadline"]
    assert "[1] The application deadline is March 1." in line["prompt"] and "[2]" not in line["prompt"]


def test_api_rows_ask_the_same_questions_with_the_passages_and_cache_every_answer(
    lit_base, rag_setup, tmp_path, monkeypatch
):
    monkeypatch.setenv("LITFT_TEST_API_KEY", API_KEY)
    out = tmp_path / "eval"
    with FakeOpenAI() as server:
        # A localhost URL needs no key, but a key that is set is sent, so it must stay out of every file.
        extra = [
            "--api.model",
            "answerer",
            "--api.base_url",
            server.base_url,
            "--api.api_key_env",
            "LITFT_TEST_API_KEY",
        ]
        run_function(evaluate, _args(lit_base, rag_setup, out, *extra))
        sent = list(server.requests)
        run_function(evaluate, _args(lit_base, rag_setup, out, *extra))
        assert len(server.requests) == len(sent) == 4  # two questions, closed-book and with retrieval; re-run: none

    prompts = [request.user_prompt for request in sent]
    assert sorted(prompts) == sorted(
        [
            "When is the application deadline?",
            "Which programs are offered?",
            "Context:\n[1] The application deadline is March 1.\n\nWhen is the application deadline?",
            "Context:\n[1] Programs offered: civil, software.\n\nWhich programs are offered?",
        ]
    )
    assert all(r.body["model"] == "answerer" and r.body["messages"][0]["role"] == "system" for r in sent)
    assert all(r.headers["Authorization"] == f"Bearer {API_KEY}" for r in sent)

    report = json.loads((out / "report.json").read_text())
    assert [m["label"] for m in report["models"]] == ["base", "base+rag", "api:answerer", "api:answerer+rag"]
    api_rows = report["models"][2:]
    assert [m["from_cache"] for m in api_rows] == [2, 2] and api_rows[1]["rag"]["k"] == 1
    assert report["api"]["model"] == "answerer" and report["api"]["failed"] == []
    with open(out / "answers.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert all(row["answer_api:answerer"] and row["answer_api:answerer+rag"] for row in rows)
    cache = [json.loads(line) for line in (out / "api.cache.jsonl").read_text().splitlines()]
    assert len(cache) == 4 and sorted(str(entry["retrieved"]) for entry in cache) == sorted(
        ["None", "None", "['deadline']", "['programs']"]
    )
    for path in out.rglob("*"):
        if path.is_file():
            assert API_KEY not in path.read_text(encoding="utf-8", errors="replace"), path


@pytest.mark.parametrize(
    "rag, extra, message",
    [
        ("missing", [], "--rag"),
        ("not-an-index", [], "is not a retrieval index"),
        ("index", ["--rag_k", "0"], "--rag_k must be at least 1, got 0."),
    ],
)
def test_bad_rag_arguments_are_one_sentence_and_exit_2(lit_base, rag_setup, tmp_path, capsys, rag, extra, message):
    (tmp_path / "not-an-index").mkdir()
    target = rag_setup["index"] if rag == "index" else tmp_path / rag
    args = [
        str(rag_setup["test"]),
        "--runs=[]",
        "--base",
        str(lit_base),
        "--out_dir",
        str(tmp_path / "o"),
        "--rag",
        str(target),
    ]
    with pytest.raises(SystemExit) as exit_info:
        run_function(evaluate, args + extra)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_several_retrievers_give_each_model_one_row_per_retriever(lit_base, tmp_path):
    chunks = tmp_path / "chunks.jsonl"
    chunks.write_text("".join(json.dumps(chunk) + "\n" for chunk in CHUNKS))
    model = make_tiny_embedding_model(tmp_path / "embedding", [chunk["text"] for chunk in CHUNKS])
    build_index(chunks, tmp_path / "index", embedding_model=model, quiet=True)
    test_file = tmp_path / "test.json"
    test_file.write_text(json.dumps(RECORDS))
    setup = {"index": tmp_path / "index", "test": test_file}
    out = tmp_path / "eval"
    run_function(evaluate, _args(lit_base, setup, out, "--rag_retrievers", "bm25", "hybrid"))
    report = json.loads((out / "report.json").read_text())
    assert [m["label"] for m in report["models"]] == ["base", "base+bm25", "base+hybrid"]
    assert [m["rag"] and m["rag"]["retriever"] for m in report["models"]] == [None, "bm25", "hybrid"]
    bm25 = [json.loads(line) for line in (out / "generations" / "base+bm25.jsonl").read_text().splitlines()]
    assert sorted(line["retrieved"] for line in bm25) == [["deadline"], ["programs"]]  # as the single +rag row
    hybrid = [json.loads(line) for line in (out / "generations" / "base+hybrid.jsonl").read_text().splitlines()]
    assert len(hybrid) == 2 and all(len(line["retrieved"]) == 1 for line in hybrid)


def test_rag_retrievers_need_the_index_and_one_it_can_run(lit_base, rag_setup, tmp_path, capsys):
    args = _args(lit_base, rag_setup, tmp_path / "eval", "--rag_retrievers", "dense")
    with pytest.raises(SystemExit) as exit_info:
        run_function(evaluate, args)
    assert exit_info.value.code == 2
    assert "needs dense vectors" in capsys.readouterr().err
    without_index = args[: args.index("--rag")] + args[args.index("--rag") + 2 :]
    with pytest.raises(SystemExit) as exit_info:
        run_function(evaluate, without_index)
    assert exit_info.value.code == 2
    assert "pass the index with --rag too" in capsys.readouterr().err
    assert not (tmp_path / "eval").exists()
