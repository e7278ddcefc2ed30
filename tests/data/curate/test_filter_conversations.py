"""`litft filter` on conversations: OpenAI `messages` and ShareGPT `conversations` records, kept in their form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from litft.cli import main

SYSTEM = "You answer questions about the Picker 3000 robot."
SHAREGPT_SPEAKERS = {"system": "system", "user": "human", "assistant": "gpt"}


def _messages(*turns: str, system: bool = True, **extra) -> dict:
    """A `messages` record alternating user and assistant turns, after an optional system message."""
    roles = ["user", "assistant"] * len(turns)
    body = [{"role": role, "content": text} for role, text in zip(roles, turns, strict=False)]
    return {"messages": [{"role": "system", "content": SYSTEM}] * system + body, **extra}


def _sharegpt(record: dict) -> dict:
    turns = [{"from": SHAREGPT_SPEAKERS[m["role"]], "value": m["content"]} for m in record["messages"]]
    return {"conversations": turns, **{key: value for key, value in record.items() if key != "messages"}}


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _filter(tmp_path: Path, records: list[dict], *extra: str) -> tuple[list[dict], list[dict]]:
    _write(tmp_path / "in.jsonl", records)
    main(["filter", str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"), "--removed", str(tmp_path / "rm.jsonl")])
    return _read(tmp_path / "out.jsonl"), _read(tmp_path / "rm.jsonl")


QUESTION = "Explain how the warranty of the Picker 3000 works."
# A short follow-up ("Why?") is no instruction of its own: only the first user turn is held to the task rules.
GOOD = _messages(QUESTION, "It lasts three years.", "Why?", "Parts wear out slowly.", id="good")
CASES = {
    "instruction_too_short": _messages("Explain warranty.", "Three years."),
    "blacklisted_word": _messages("Draw the logo of the company.", "I cannot draw."),
    "empty_output": _messages("Summarise the history of Leeds.", "It is old.", "And more?", "  "),
    "input_equals_output": _messages("Repeat after me, please.", "Sure.", "Hello there.", "hello there"),
    "output_ends_with_colon": _messages("List the opening hours please.", "They are:"),
    "duplicate": _messages(QUESTION.lower(), "Other.", "why", "Other reasons."),  # same system and user turns
    "rouge_similar": _messages("Explain how the warranty of the Picker 4000 works.", "Two years."),
}
# The same first turn going elsewhere is not a duplicate; it shares the kept instruction, so it stands with it.
FOLLOW_UP = _messages(QUESTION, "It lasts three years.", "Does it cover the battery?", "Yes, fully.", id="other")


@pytest.mark.parametrize("form", ["messages", "conversations"])
def test_rules_duplicates_and_rouge_apply_to_conversations_kept_in_their_form(tmp_path, capsys, form):
    records = [GOOD, *CASES.values(), FOLLOW_UP]
    if form == "conversations":
        records = [_sharegpt(record) for record in records]
    kept, removed = _filter(tmp_path, records)
    assert kept == [records[0], records[-1]]
    assert [record.pop("removed_because") for record in removed] == list(CASES)
    assert removed == records[1:-1]
    summary = capsys.readouterr().out
    assert f"kept 2 of {len(records)} records" in summary and "duplicate: 1" in summary


def test_grounding_checks_every_assistant_turn_of_a_conversation(tmp_path):
    chunk = {"id": "c1", "url": "u", "text": "The Picker 3000 scans forty aisles per hour in the Leeds warehouse."}
    _write(tmp_path / "chunks.jsonl", [chunk])
    grounded = _messages("How fast does the Picker scan?", "Forty aisles per hour.", "Where?", "Leeds warehouse.")
    invented = _messages("Who designed the Picker robot?", "Marie Curie.", "Where?", "Paris, France.")
    records = [{**grounded, "source_id": "c1"}, {**invented, "source_id": "c1"}]
    _write(tmp_path / "in.jsonl", records)
    main(
        ["filter", str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"), "--chunks", str(tmp_path / "chunks.jsonl")]
    )
    assert _read(tmp_path / "out.jsonl") == records[:1]


@pytest.mark.parametrize(
    "records, message",
    [
        ([GOOD, {"messages": [{"role": "robot", "content": "x"}]}], "in.jsonl line 2 turn 1 has unknown role 'robot'"),
        ([GOOD, {"instruction": QUESTION, "output": "x"}], "in.jsonl line 2 has no 'messages' or 'conversations'"),
        ([GOOD, _messages(QUESTION, system=False)], "in.jsonl line 2 has no assistant turn"),
    ],
)
def test_a_bad_conversation_is_one_sentence_exit_2_and_nothing_written(tmp_path, capsys, records, message):
    _write(tmp_path / "in.jsonl", records)
    with pytest.raises(SystemExit) as exit_info:
        main(["filter", str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"), "--removed", str(tmp_path / "rm")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]
