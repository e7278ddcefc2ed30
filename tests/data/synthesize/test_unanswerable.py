"""`litft synthesize --unanswerable`: questions the documents cannot answer, by the heuristic (templates about
invented entities) and by an OpenAI-compatible model (checked against retrieval over the whole corpus), kept
through filter and split beside their chunk."""

from __future__ import annotations

import json

import pytest

from litft.cli import main
from litft.data.curate.filter import filter_records
from litft.data.curate.split import split
from litft.data.synthesize.qa import synthesize
from litft.data.synthesize.unanswerable import ABSTENTION_REFERENCE, INVENTED_NAMES, unanswerable_count
from litft.llm.client import LLMSettings
from tests.support.fake_openai import FakeOpenAI

CHUNKS = [
    {
        "id": "lib",
        "url": "https://u.test/lib",
        "text": "Northbridge Library was founded in 1961. Halvorsen Hall is a dormitory.",
    },
    {
        "id": "cs",
        "url": "https://u.test/cs",
        "text": "CS 320 is a course on compilers. The Computing Centre is located in Block B.",
    },
    {"id": "bus", "url": "https://u.test/bus", "text": "Campus Shuttle provides rides between the two campuses."},
]


def _write_chunks(path, chunks=CHUNKS):
    path.write_text("".join(json.dumps(chunk) + "\n" for chunk in chunks))
    return path


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_chunk_gets_its_share_fixed_by_its_id():
    assert unanswerable_count("any", 10, 0.3) == 3 and unanswerable_count("any", 4, 0.0) == 0
    assert unanswerable_count("any", 3, 1.0) == 3
    # 0.5 of one record: the chunk's id decides, the same way every time, whatever the other chunks are.
    draws = [unanswerable_count(f"chunk-{n}", 1, 0.5) for n in range(200)]
    assert draws == [unanswerable_count(f"chunk-{n}", 1, 0.5) for n in range(200)] and 80 < sum(draws) < 120


def test_heuristic_unanswerable_questions_ask_the_chunk_templates_about_entities_the_corpus_never_names(tmp_path):
    chunks = _write_chunks(tmp_path / "chunks.jsonl")
    synthesize(chunks, tmp_path / "qa.jsonl", backend="heuristic", unanswerable=1.0, quiet=True)
    records = _read(tmp_path / "qa.jsonl")
    answerable = [r for r in records if "answerable" not in r]
    unanswerable = [r for r in records if r.get("answerable") is False]
    per_chunk = {c["id"]: sum(r["source_id"] == c["id"] for r in answerable) for c in CHUNKS}
    assert len(unanswerable) == sum(per_chunk.values()) == len(answerable)  # fraction 1.0: one per answerable record
    corpus = " ".join(c["text"] for c in CHUNKS).casefold()
    for record in unanswerable:
        assert record["output"] == ABSTENTION_REFERENCE and record["template"] == "unanswerable"
        name = next(n for n in INVENTED_NAMES if n in record["instruction"])
        assert name != "Halvorsen" and name.casefold() not in corpus  # the corpus names Halvorsen Hall
    lib = [r["instruction"] for r in unanswerable if r["source_id"] == "lib"]
    assert lib[0].startswith("When was ") and lib[0].endswith(" Library founded?")  # "When was Northbridge Library ..."
    cs = next(
        r["instruction"] for r in unanswerable if r["source_id"] == "cs" and r["instruction"].startswith("What is")
    )
    assert "320" not in cs and cs != "What is CS 320?"  # the course code's digits are shifted too

    again = tmp_path / "again.jsonl"
    synthesize(chunks, again, backend="heuristic", unanswerable=1.0, quiet=True)
    assert again.read_bytes() == (tmp_path / "qa.jsonl").read_bytes()

    # filter keeps them (an abstention is not ungrounded), split keeps them beside their chunk.
    filter_records(tmp_path / "qa.jsonl", tmp_path / "kept.jsonl", chunks=chunks, rouge_threshold=0.99, quiet=True)
    kept = _read(tmp_path / "kept.jsonl")
    assert sum(r.get("answerable") is False for r in kept) == len(unanswerable)
    split(tmp_path / "kept.jsonl", tmp_path / "split", test_fraction=0.34, seed=1)
    for side in ("train.json", "test.json"):
        sided = json.loads((tmp_path / "split" / side).read_text())
        chunks_there = {r["source_id"] for r in sided}
        assert all(r["source_id"] in chunks_there for r in sided if r.get("answerable") is False)
        assert {r["source_id"] for r in sided if "answerable" not in r} == chunks_there


def test_llm_unanswerable_candidates_that_the_corpus_answers_are_dropped_and_nothing_is_asked_twice(tmp_path):
    chunks = _write_chunks(tmp_path / "chunks.jsonl", CHUNKS[:2])
    llm = LLMSettings(model="fake", base_url="", retry_base_delay=0.01, retry_max_delay=0.05)
    with FakeOpenAI() as server:
        llm.base_url = server.base_url
        synthesize(chunks, tmp_path / "qa.jsonl", llm=llm, unanswerable=1.0, quiet=True)
        first = list(server.requests)
        synthesize(
            chunks, tmp_path / "qa2.jsonl", llm=llm, unanswerable=1.0, quiet=True, cache=tmp_path / "qa.cache.jsonl"
        )
        assert len(server.requests) == len(first)  # every reply came from the cache
    prompts = [request.user_prompt for request in first]
    assert sum("write an FAQ section" in p for p in prompts) == 2
    assert sum("does NOT answer" in p for p in prompts) == 2  # one request per chunk, for its two candidates
    checks = [p for p in prompts if p.startswith("Does any of the numbered passages")]
    assert checks and all("[1] " in p for p in checks)
    unanswerable = [r for r in _read(tmp_path / "qa.jsonl") if r.get("answerable") is False]
    # The fake says the "founded" candidates are answered by the corpus: only the logo questions are left.
    assert [r["instruction"] for r in unanswerable] == [
        "Who designed the logo of Northbridge Library was?",
        "Who designed the logo of CS 320 is?",
    ]
    assert [r["source_id"] for r in unanswerable] == ["lib", "cs"]
    assert (tmp_path / "qa2.jsonl").read_bytes() == (tmp_path / "qa.jsonl").read_bytes()


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_a_fraction_outside_0_to_1_is_one_sentence(tmp_path, capsys, value):
    chunks = _write_chunks(tmp_path / "chunks.jsonl")
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "synthesize",
                "--input",
                str(chunks),
                "--output",
                str(tmp_path / "qa.jsonl"),
                "--backend",
                "heuristic",
                "--unanswerable",
                value,
            ]
        )
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--unanswerable must be between 0 and 1" in err and "Traceback" not in err
    assert not (tmp_path / "qa.jsonl").exists()
