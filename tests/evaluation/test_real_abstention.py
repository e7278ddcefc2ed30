"""Abstention and grounding on the real SmolLM2-135M-Instruct (issue 30): the failures a real model showed — a
made-up answer to a question the documents cannot answer, and a room number taken from the neighbouring passage —
are what the report's abstention and grounding columns now count."""

from __future__ import annotations

import json

import pytest

from litft.cli import run_function
from litft.data.synthesize.unanswerable import ABSTENTION_REFERENCE
from litft.evaluation.evaluate import evaluate
from litft.evaluation.grounding import ground
from litft.retrieval.index import Hit, build_index

pytestmark = pytest.mark.usefixtures("one_thread")

CHUNKS = [
    {
        "id": "registrar",
        "url": "https://u.test/registrar",
        "text": "The registrar's office is in Quarry Commons, room 120.",
    },
    {
        "id": "admissions",
        "url": "https://u.test/admissions",
        "text": "The admissions office is in Quarry Commons, room 210.",
    },
    {
        "id": "deadline",
        "url": "https://u.test/apply",
        "text": "The application deadline for the autumn term is March 1.",
    },
]
TEST = [
    {
        "instruction": "Which room of Quarry Commons is the registrar's office in?",
        "input": "",
        "output": "The registrar's office is in Quarry Commons, room 120.",
        "source_id": "registrar",
        "source_url": "https://u.test/registrar",
    },
    {
        "instruction": "When is the application deadline for the autumn term?",
        "input": "",
        "output": "The application deadline for the autumn term is March 1.",
        "source_id": "deadline",
        "source_url": "https://u.test/apply",
    },
    {
        "instruction": "When was Halvorsen College founded?",
        "input": "",
        "output": ABSTENTION_REFERENCE,
        "source_id": "deadline",
        "source_url": "https://u.test/apply",
        "answerable": False,
    },
]


def test_smollm2_report_counts_what_it_made_up_and_where_its_retrieved_answers_come_from(smollm2, tmp_path):
    chunks = tmp_path / "chunks.jsonl"
    chunks.write_text("".join(json.dumps(chunk) + "\n" for chunk in CHUNKS))
    build_index(chunks, tmp_path / "index", quiet=True)
    (tmp_path / "test.json").write_text(json.dumps(TEST))
    out = tmp_path / "eval"
    args = [str(tmp_path / "test.json"), "--runs=[]", "--base", str(smollm2), "--out_dir", str(out), "--device", "cpu"]
    args += ["--sampling.max_new_tokens", "24", "--rag", str(tmp_path / "index"), "--rag_k", "2", "--quiet", "true"]
    run_function(evaluate, args)
    report = json.loads((out / "report.json").read_text())
    closed, rag = report["models"]
    questions = report["questions"]
    # Every kind and grounding the report gives is the one its own answer has.
    hits = {chunk["id"]: Hit(chunk["id"], chunk["url"], 1.0, chunk["text"]) for chunk in CHUNKS}
    generations = [json.loads(line) for line in (out / "generations" / "base+rag.jsonl").read_text().splitlines()]
    assert len(generations) == 3
    for question in questions[:2]:
        asked = TEST[question["id"] - 1]["instruction"]
        line = next(g for g in generations if asked in g["prompt"])
        if question["answers"]["base+rag"] == "answered":
            passages = [hits[i] for i in line["retrieved"]]
            expected = ground(line["answer"].strip(), passages, question["source_id"], asked)
            assert question["grounding"]["base+rag"] == expected
    # What SmolLM2 does, greedy on CPU, as the issue saw it: it makes up a founding year for a college the documents
    # never name (with and without passages), reads the deadline from its source chunk, and answers "room 210"
    # for the registrar from the admissions passage beside the right one: a reading mistake, not a retrieval miss.
    for row in (closed, rag):
        assert row["abstention"]["hallucination_rate"]["rate"] == 1.0 and row["abstention"]["abstention_rate"]["n"] == 1
    assert questions[1]["grounding"]["base+rag"]["kind"] == "source"
    assert questions[0]["grounding"]["base+rag"]["kind"] == "other"
    assert questions[0]["grounding"]["base+rag"]["chunk"] == "admissions"
    assert rag["grounding"]["recall_at_k"] == 1.0 and rag["grounding"]["questions"] == 2
    assert rag["grounding"]["not_from_source"] == {"retrieval_miss": 0, "misread": 1}
