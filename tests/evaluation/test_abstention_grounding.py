"""Abstention on unanswerable questions, grounding of `+rag` answers and each question's lineage (issue 30, items
3-5): the rates and intervals on crafted answers, the passage an answer comes from, and one real evaluation."""

from __future__ import annotations

import csv
import json

import pytest

from litft.cli import run_function
from litft.data.synthesize.unanswerable import ABSTENTION_REFERENCE
from litft.evaluation.evaluate import evaluate
from litft.evaluation.grounding import ground, grounding_summary
from litft.evaluation.results import compare_to_base_row, results_table, scored_result
from litft.models.instructions import Instruction
from litft.retrieval.index import Hit, build_index

pytestmark = pytest.mark.usefixtures("one_thread")


def _row(records, answers, label, role="run"):
    entries = [{"answer": a, "finish_reason": "eos", "generated_tokens": 1, "seconds": 1.0} for a in answers]
    return scored_result(
        records, entries, 0, label=label, role=role, checkpoint=label, method="lora", base_dir=None, prompt_style="qa"
    )


def test_abstention_rates_count_refusals_and_made_up_answers_and_rouge_skips_unanswerable_questions():
    records = [
        Instruction("When was Acme founded?", reference="Acme was founded in 1990."),
        Instruction("Where is Acme based?", reference="Acme is based in Oslo."),
        Instruction("When was Halvorsen College founded?", reference=ABSTENTION_REFERENCE, answerable=False),
        Instruction("Where is Varrick Hall?", reference=ABSTENTION_REFERENCE, answerable=False),
        Instruction("What is Quillon?", reference=ABSTENTION_REFERENCE, answerable=False),
        Instruction("Who runs Marrowby?", reference=ABSTENTION_REFERENCE, answerable=False),
    ]
    base = _row(
        records,
        ["Acme was founded in 1990.", "I don't know.", "It was founded in 1875.", "In Berlin.", "", "A library."],
        "base",
        role="base",
    )
    tuned = _row(
        records,
        [
            "Acme was founded in 1990.",
            "Acme is based in Oslo.",
            ABSTENTION_REFERENCE,
            "The documents do not say.",
            "I don't know.",
            "Dr. Smith runs it.",
        ],
        "tuned",
    )
    compare_to_base_row([base, tuned], None)

    assert base.abstention["abstention_rate"]["rate"] == 0.0 and base.abstention["abstention_rate"]["n"] == 4
    assert base.abstention["hallucination_rate"]["rate"] == 0.75  # the empty answer is neither
    assert base.abstention["false_abstention_rate"]["rate"] == 0.5
    assert (
        tuned.abstention["abstention_rate"]["rate"] == 0.75 and tuned.abstention["hallucination_rate"]["rate"] == 0.25
    )
    assert tuned.abstention["false_abstention_rate"]["rate"] == 0.0
    low, high = tuned.abstention["abstention_rate"]["low"], tuned.abstention["abstention_rate"]["high"]
    assert 0.0 <= low <= 0.75 <= high <= 1.0
    assert tuned.abstention["vs_base"]["abstention_rate"]["mean"] == 0.75
    assert tuned.abstention["vs_base"]["false_abstention_rate"]["mean"] == -0.5
    # ROUGE covers the two answerable questions only: the tuned row answers both word for word.
    assert tuned.rougeL == 1.0 and base.rougeL == 0.5 and tuned.vs_base["rougeL"]["mean"] == 0.5
    table = results_table([base, tuned])
    assert "abstain [95% CI]" in table and "0.75 [" in table


def _hits(*texts):
    return [Hit(id=chunk_id, url="", score=1.0, text=text) for chunk_id, text in texts]


def test_an_answer_is_grounded_in_the_passage_that_holds_its_words_or_that_it_cites():
    passages = _hits(
        ("hall", "The admissions office of Quarry Commons is in room 210 on the second floor."),
        ("source", "The registrar of Quarry Commons is in room 120 on the first floor."),
    )
    # The neighbouring passage's room number: grounded, but not in the source chunk.
    wrong = ground("Quarry Commons, room 210, second floor.", passages, "source")
    assert wrong == {"kind": "other", "passage": 1, "chunk": "hall", "share": 1.0, "cited": False}
    right = ground("The registrar is in room 120, first floor.", passages, "source")
    assert right["kind"] == "source" and right["chunk"] == "source"
    # Equal support from both: the source chunk gets it.
    assert ground("Quarry Commons.", passages, "source")["chunk"] == "source"
    assert ground("Ask the dean by telephone.", passages, "source")["kind"] == "ungrounded"
    # What SmolLM2-135M-Instruct answered: the words it shares with the source chunk are the question's own.
    question = "Which room of Quarry Commons is the registrar's office in?"
    echoed = ground("The registrar's office is in room 210.", passages, "source", question)
    assert echoed == {"kind": "other", "passage": 1, "chunk": "hall", "share": 1.0, "cited": False}
    assert ground("Room 120, on the 1st floor.", passages, "source", question)["kind"] == "source"
    cited = ground("It is in room 120 [2].", passages, "source")
    assert cited["kind"] == "source" and cited["cited"] and cited["passage"] == 2


def test_grounding_summary_tells_retrieval_misses_from_reading_mistakes():
    records = [
        Instruction("Where is the registrar?", reference="Room 120.", source_id="source"),
        Instruction("Where is admissions?", reference="Room 210.", source_id="hall"),
        Instruction("Where is the library?", reference="Room 5.", source_id="library"),
        Instruction("What is Quillon?", reference=ABSTENTION_REFERENCE, source_id="source", answerable=False),
    ]
    passages = _hits(
        ("hall", "The admissions office is in room 210 on the second floor."),
        ("source", "The registrar is in room 120 on the first floor."),
    )
    answers = ["Room 210, second floor.", "Room 210, second floor.", "Room 120, first floor.", "A college."]
    kinds = ["answered"] * 4
    summary, per_question = grounding_summary(records, kinds, answers, [passages] * 4, [passages] * 4)
    assert [q and q["kind"] for q in per_question] == ["other", "source", "other", None]
    assert summary["answered"] == 3 and summary["source"] == 1 and summary["other"] == 2
    assert summary["recall_at_k"] == pytest.approx(2 / 3) and summary["k"] == 2
    # The registrar's chunk was in the prompt (a misreading); the library's was never retrieved (a miss).
    assert summary["not_from_source"] == {"retrieval_miss": 1, "misread": 1}


CHUNKS = [
    {"id": "deadline", "url": "https://x.test/apply", "text": "The application deadline is March 1."},
    {"id": "programs", "url": "https://x.test/programs", "text": "Programs offered: civil, software."},
]
TEST_RECORDS = [
    {
        "instruction": "When is the application deadline?",
        "input": "",
        "output": "March 1.",
        "source_id": "deadline",
        "source_url": "https://x.test/apply",
    },
    {
        "instruction": "When was Halvorsen College founded?",
        "input": "",
        "output": ABSTENTION_REFERENCE,
        "source_id": "programs",
        "source_url": "https://x.test/programs",
        "answerable": False,
    },
]
TRAIN_RECORDS = [
    {"instruction": f"Question {n}?", "input": "", "output": "An answer.", "source_url": url}
    for n, url in enumerate(["https://x.test/apply", "https://x.test/apply", "https://x.test/other"])
]


def test_evaluate_reports_lineage_abstention_and_grounding_per_question(lit_base, tmp_path, capsys):
    chunks = tmp_path / "chunks.jsonl"
    chunks.write_text("".join(json.dumps(chunk) + "\n" for chunk in CHUNKS))
    build_index(chunks, tmp_path / "index", quiet=True)
    (tmp_path / "test.json").write_text(json.dumps(TEST_RECORDS))
    (tmp_path / "train.json").write_text(json.dumps(TRAIN_RECORDS))
    out = tmp_path / "eval"
    args = [str(tmp_path / "test.json"), "--runs=[]", "--base", str(lit_base), "--out_dir", str(out)]
    args += ["--prompt_style", "qa", "--sampling.max_new_tokens", "4", "--device", "cpu", "--quiet", "true"]
    run_function(evaluate, [*args, "--rag", str(tmp_path / "index"), "--rag_k", "1"])
    printed = capsys.readouterr().out
    assert "abstain [95% CI]" in printed and "grounded src/other/none" in printed

    report = json.loads((out / "report.json").read_text())
    questions = report["questions"]
    assert [q["source_id"] for q in questions] == ["deadline", "programs"]
    assert [q["answerable"] for q in questions] == [True, False]
    assert [q["train_records_from_page"] for q in questions] == [2, 0]
    closed, rag = report["models"]
    assert closed["abstention"]["abstention_rate"]["n"] == 1 and closed["abstention"]["false_abstention_rate"]["n"] == 1
    assert closed["grounding"] is None
    # The random tiny model's answers: whatever they are, the report's kinds and grounding are those of its answers.
    with open(out / "answers.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["source_url"] for row in rows] == ["https://x.test/apply", "https://x.test/programs"]
    assert [row["answerable"] for row in rows] == ["true", "false"] and rows[0]["train_records_from_page"] == "2"
    answer = rows[0]["answer_base+rag"].strip()
    expected = ground(answer, _hits((CHUNKS[0]["id"], CHUNKS[0]["text"])), "deadline", TEST_RECORDS[0]["instruction"])
    kind = questions[0]["answers"]["base+rag"]
    assert questions[0]["grounding"].get("base+rag") == (expected if kind == "answered" else None)
    assert rag["grounding"]["questions"] == 1 and rag["grounding"]["recall_at_k"] == 1.0
