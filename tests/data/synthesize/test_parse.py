"""Getting records out of real-world model answers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litft.data.synthesize.parse import (
    ResponseParseError,
    extract_json_array,
    to_instruction_records,
)

PAIRS = [
    {"question": "What is Acme?", "answer": "A robot maker [since 2011]."},
    {"question": "Where?", "answer": "Leeds."},
]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(PAIRS),
        "```json\n" + json.dumps(PAIRS, indent=2) + "\n```",
        "Here you go [as asked]:\n```\n" + json.dumps(PAIRS) + "\n```\nAnything else?",
        "Sure! " + json.dumps(PAIRS) + " Hope that helps.",
        json.dumps({"pairs": PAIRS}),
        "\n".join(json.dumps(pair) for pair in PAIRS),
        "Pairs (see [1]): " + json.dumps(PAIRS),
    ],
)
def test_array_found_in_every_usual_wrapping(text):
    assert extract_json_array(text) == PAIRS


@pytest.mark.parametrize("text", ["", "I cannot help with that.", json.dumps(PAIRS)[:40], "[1, 2, 3]"])
def test_no_array_of_objects_is_a_parse_error(text):
    with pytest.raises(ResponseParseError):
        extract_json_array(text)


def test_records_need_both_sides_and_accept_both_schemas():
    parsed = to_instruction_records(
        [
            {"question": " What is X? ", "answer": "Y."},
            {"instruction": "Summarise.", "input": "Long text.", "output": "Short."},
            {"question": "No answer?"},
            {"answer": "No question."},
            {"question": "Number?", "answer": 42},
            {"question": "", "answer": "empty question"},
            "not an object",
        ]
    )
    assert parsed.records == [
        {"instruction": "What is X?", "input": "", "output": "Y."},
        {"instruction": "Summarise.", "input": "Long text.", "output": "Short."},
        {"instruction": "Number?", "input": "", "output": "42"},
    ]
    assert parsed.dropped == 4


text_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({"question": text_values, "answer": text_values}), min_size=1, max_size=5),
    st.sampled_from(["{}", "```json\n{}\n```", "Here:\n{}\nDone.", "Sure: {} ok"]),
)
def test_round_trip_through_any_wrapping(pairs, wrapping):
    assert extract_json_array(wrapping.format(json.dumps(pairs, ensure_ascii=False))) == pairs
