"""`litft filter`: record rules by reason, and ROUGE-L decisions identical to the naive rouge-score loop."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer
from rouge_score.rouge_scorer import _score_lcs

from litft.cli import run_function
from litft.common.errors import LitftError
from litft.common.outputs import record_output_file
from litft.data.curate.filter import filter_records, grounding_share
from litft.data.curate.rouge_dedup import (
    RougeLIndex,
    lcs_length,
    make_tokenizer,
    match_masks,
    rouge_novel_mask,
)

SEED_TASKS = Path("/work/shared/data/self-instruct/seed_tasks.jsonl")
FILLERS = ["please", "the", "given", "new", "quickly", "following", "a", "text", "list", "simple"]


def seed_instructions() -> list[str]:
    if not SEED_TASKS.is_file():
        pytest.skip(f"{SEED_TASKS} is not available")
    return [json.loads(line)["instruction"] for line in SEED_TASKS.read_text().splitlines() if line.strip()]


def near_duplicates(instructions: list[str], per_instruction: int, rng: random.Random) -> list[str]:
    """Seed instructions with a few words deleted, inserted or swapped in from other tasks, shuffled in."""
    result = list(instructions)
    for instruction in instructions:
        for _ in range(per_instruction):
            words = instruction.split()
            for _ in range(rng.randint(0, 4)):
                operation, position = rng.random(), rng.randrange(len(words) + 1)
                if operation < 0.33 and len(words) > 1:
                    del words[min(position, len(words) - 1)]
                elif operation < 0.66:
                    words.insert(position, rng.choice(FILLERS))
                else:
                    words[min(position, len(words) - 1)] = rng.choice(rng.choice(instructions).split())
            result.append(" ".join(words))
    rng.shuffle(result)
    return result


def naive_keep(instructions: list[str], threshold: float, use_stemmer: bool) -> list[bool]:
    """The Self-Instruct loop: keep unless ROUGE-L F with any kept instruction exceeds the threshold."""
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    kept, keep = [], []
    for instruction in instructions:
        novel = all(scorer.score(other, instruction)["rougeL"].fmeasure <= threshold for other in kept)
        keep.append(novel)
        if novel:
            kept.append(instruction)
    return keep


@pytest.mark.parametrize(
    "threshold, use_stemmer", [(0.7, False), (0.5, False), (0.7, True), (0.3, False), (0.9, False)]
)
def test_rouge_decisions_equal_naive_rouge_score_on_seed_tasks_with_near_duplicates(threshold, use_stemmer):
    instructions = near_duplicates(seed_instructions(), 2, random.Random(threshold))
    if use_stemmer or threshold != 0.7:
        instructions = instructions[:260]  # the naive loop is slow; the default setting gets the full set
    tokenize = make_tokenizer(use_stemmer)
    fast = rouge_novel_mask([tokenize(text) for text in instructions], threshold)
    naive = naive_keep(instructions, threshold, use_stemmer)
    assert fast == naive
    assert 0 < sum(fast) < len(instructions)  # the data exercises both decisions


def test_decisions_right_at_the_threshold_match_rouge_score():
    # 2*LCS/(m+n) exactly 0.7 (LCS 7 of 10 and 10 tokens) must be kept, as `> 0.7` in the naive loop.
    base = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    at_threshold = "alpha beta gamma delta epsilon zeta eta one two three"
    just_above = "alpha beta gamma delta epsilon zeta eta theta one two"
    instructions = [base, at_threshold, just_above]
    tokenize = make_tokenizer()
    assert (
        rouge_novel_mask([tokenize(t) for t in instructions], 0.7)
        == naive_keep(instructions, 0.7, False)
        == [True, True, False]
    )


words = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=14)


@settings(max_examples=300, deadline=None)
@given(words, words)
def test_bit_parallel_lcs_equals_rouge_scores_table(first, second):
    expected = round(_score_lcs(first, second).precision * len(second)) if first and second else 0
    assert lcs_length(first, match_masks(second), len(second)) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(words, min_size=1, max_size=25), st.sampled_from([0.0, 0.2, 0.5, 0.7, 0.85, 1.0]))
def test_index_equals_naive_on_random_token_lists(token_lists, threshold):
    texts = [" ".join(tokens) for tokens in token_lists]
    assert rouge_novel_mask(token_lists, threshold) == naive_keep(texts, threshold, False)


long_words = st.lists(st.sampled_from([f"w{i}" for i in range(30)]), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(st.lists(long_words, min_size=2, max_size=40), st.sampled_from([0.3, 0.5, 0.7, 0.8]))
def test_index_equals_naive_on_varied_lengths_and_vocabularies(token_lists, threshold):
    # Lengths 1..40 over 30 words: pairs the shared-prefix and length bounds skip, and pairs right past them.
    texts = [" ".join(tokens) for tokens in token_lists]
    assert rouge_novel_mask(token_lists, threshold) == naive_keep(texts, threshold, False)


def test_index_rejects_thresholds_outside_zero_one():
    with pytest.raises(ValueError):
        RougeLIndex(1.5)


def write_records(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_each_rule_removes_what_it_should_and_counts_it(tmp_path, capsys):
    good = {
        "instruction": "Explain how the warranty of the Picker 3000 works.",
        "input": "",
        "output": "It lasts three years.",
    }
    cases = {
        "instruction_too_short": {"instruction": "Explain warranty.", "input": "", "output": "x"},
        "instruction_too_long": {"instruction": " ".join(["word"] * 151), "input": "", "output": "x"},
        "starts_with_punctuation": {"instruction": "- Describe your day in detail.", "input": "", "output": "x"},
        "write_a_program": {"instruction": "Write a program that sorts numbers.", "input": "", "output": "x"},
        "blacklisted_word": {"instruction": "Draw the logo of the company.", "input": "", "output": "x"},
        "empty_output": {"instruction": "Summarise the history of Leeds.", "input": "", "output": "  "},
        "input_equals_output": {
            "instruction": "Repeat the sentence back.",
            "input": "Hello there.",
            "output": "hello there",
        },
        "output_ends_with_colon": {"instruction": "List the opening hours please.", "input": "", "output": "They are:"},
        "duplicate": {
            "instruction": "explain how the warranty of the  Picker 3000 works",
            "input": "",
            "output": "Other.",
        },
        "rouge_similar": {
            "instruction": "Explain how the warranty of the Picker 4000 works.",
            "input": "",
            "output": "y",
        },
    }
    # The same instruction with another input is an instance of a kept task, not a near-duplicate.
    instance = {**good, "input": "For the Picker 3000 XL.", "output": "Also three years."}
    records = [
        good,
        *cases.values(),
        instance,
        {"instruction": "Plot a course across the sea.", "input": "", "output": "North."},
    ]
    write_records(tmp_path / "in.jsonl", records)
    filter_records(tmp_path / "in.jsonl", tmp_path / "out.jsonl", removed=tmp_path / "removed.jsonl", quiet=True)
    assert read_jsonl(tmp_path / "out.jsonl") == [good, instance]
    removed = read_jsonl(tmp_path / "removed.jsonl")
    assert [r.pop("removed_because") for r in removed] == [*cases, "blacklisted_word"]
    assert removed == records[1:-2] + records[-1:]
    summary = capsys.readouterr().out
    assert "kept 2 of 13 records" in summary and "blacklisted_word: 2" in summary and "rouge_similar: 1" in summary


def test_grounding_check_uses_the_source_chunk(tmp_path, capsys):
    chunks = [{"id": "c1", "url": "u", "text": "The Picker 3000 scans forty aisles per hour in the Leeds warehouse."}]
    write_records(tmp_path / "chunks.jsonl", chunks)
    grounded = {
        "instruction": "How fast does the Picker 3000 scan?",
        "input": "",
        "output": "It scans forty aisles per hour.",
        "source_id": "c1",
    }
    invented = {
        "instruction": "Who designed the Picker 3000 robot?",
        "input": "",
        "output": "Designed by Marie Curie in Paris.",
        "source_id": "c1",
    }
    orphan = {
        "instruction": "Which city hosts the main warehouse?",
        "input": "",
        "output": "Paris, France.",
        "source_id": "c9",
    }
    write_records(tmp_path / "qa.jsonl", [grounded, invented, orphan])
    filter_records(tmp_path / "qa.jsonl", tmp_path / "out.jsonl", chunks=tmp_path / "chunks.jsonl", quiet=True)
    assert read_jsonl(tmp_path / "out.jsonl") == [grounded, orphan]
    summary = capsys.readouterr().out
    assert "ungrounded: 1" in summary and "1 records have no source chunk" in summary
    assert grounding_share("It scans forty aisles per hour.", chunks[0]["text"]) == 1.0
    assert grounding_share("Designed by Marie Curie in Paris.", chunks[0]["text"]) == 0.0
    assert grounding_share("It is.", chunks[0]["text"]) is None


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"instruction": "a b c", "output": "x"}\n{"instruction": "a b c"}\n', "line 2 has no 'output' field"),
        ('{"instruction": "a b c", "output": "x", "input": 3}\n', "line 1: field 'input' must be text"),
        ("", "holds no records"),
        ('{"instruction": "a b c", "output": "x"}\nnot json\n', "line 2 is not valid UTF-8 JSON"),
    ],
)
def test_bad_input_is_a_user_error(tmp_path, capsys, content, message):
    (tmp_path / "in.jsonl").write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        run_function(filter_records, ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_removing_every_record_fails_naming_reasons_and_keeps_the_older_output(tmp_path, capsys):
    records = [
        {"instruction": "Why?", "input": "", "output": "x"},
        {"instruction": "Draw the campus of the university.", "input": "", "output": "y"},
    ]
    write_records(tmp_path / "in.jsonl", records)
    (tmp_path / "out.jsonl").write_text("earlier\n")
    record_output_file(tmp_path / "out.jsonl")  # an earlier run's output: litft's own, so it may be replaced
    with pytest.raises(SystemExit) as exit_info:
        run_function(
            filter_records,
            [
                "--input",
                str(tmp_path / "in.jsonl"),
                "--output",
                str(tmp_path / "out.jsonl"),
                "--removed",
                str(tmp_path / "removed.jsonl"),
                "--quiet",
            ],
        )
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"error: filter removed all 2 records of {tmp_path / 'in.jsonl'} (by reason: instruction_too_short: 1, "
        "blacklisted_word: 1); relax --min_instruction_words or --blacklist, or check the input.\n"
    )
    assert (tmp_path / "out.jsonl").read_text() == "earlier\n"
    assert [r["removed_because"] for r in read_jsonl(tmp_path / "removed.jsonl")] == [
        "instruction_too_short",
        "blacklisted_word",
    ]


@pytest.mark.parametrize(
    "output, removed, message",
    [
        ("q.jsonl", None, "--output q.jsonl is the same path as --input q.jsonl"),
        ("out.jsonl", "q.jsonl", "--removed q.jsonl is the same path as --input q.jsonl"),
        ("out.jsonl", "out.jsonl", "--removed out.jsonl is the same path as --output out.jsonl"),
        ("folder", None, "--output folder is a folder"),
        ("q.jsonl/out.jsonl", None, "cannot be created: q.jsonl is a file, not a folder"),
    ],
)
def test_outputs_that_would_overwrite_the_input_or_cannot_be_written_are_refused(
    tmp_path, monkeypatch, output, removed, message
):
    monkeypatch.chdir(tmp_path)
    write_records(
        tmp_path / "q.jsonl", [{"instruction": "Explain the warranty of the Picker 3000.", "output": "Three years."}]
    )
    original = (tmp_path / "q.jsonl").read_text()
    (tmp_path / "folder").mkdir()
    with pytest.raises(LitftError, match=re.escape(message)):
        filter_records(Path("q.jsonl"), Path(output), removed=Path(removed) if removed else None, quiet=True)
    assert (tmp_path / "q.jsonl").read_text() == original and sorted(p.name for p in tmp_path.iterdir()) == [
        "folder",
        "q.jsonl",
    ]
