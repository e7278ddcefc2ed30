"""`litft self-instruct` against the scripted local server, and its prompt parsers."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from litft.cli import main
from litft.common.errors import LitftError
from litft.data.synthesize.self_instruct import self_instruct
from litft.data.synthesize.self_instruct_prompts import (
    load_seed_tasks,
    parse_instances,
    parse_instructions,
    parse_is_classification,
)
from litft.llm.client import LLMSettings
from tests.support.fake_openai import FakeOpenAI

SEED_TASKS = Path("/work/shared/data/self-instruct/seed_tasks.jsonl")


@pytest.fixture
def seed_tasks() -> Path:
    if not SEED_TASKS.is_file():
        pytest.skip(f"{SEED_TASKS} is not available")
    return SEED_TASKS


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_bootstraps_novel_instructions_with_instances_and_reruns_from_cache(tmp_path, seed_tasks, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    output = tmp_path / "self_instruct.jsonl"
    with FakeOpenAI() as server:
        llm = LLMSettings(model="fake-model", base_url=server.base_url, workers=2)
        arguments = dict(llm=llm, num_instructions=20, quiet=True)
        self_instruct(seed_tasks, output, **arguments)
        requests = list(server.requests)
        records = read_jsonl(output)

        instructions = list(dict.fromkeys(r["instruction"] for r in records))
        assert len(instructions) == 20
        # Novelty: every new instruction is at most 0.7 ROUGE-L from each seed and each other new one.
        scorer = rouge_scorer.RougeScorer(["rougeL"])
        pool = [task.instruction for task in load_seed_tasks(seed_tasks)]
        for instruction in instructions:
            assert max(scorer.score(other, instruction)["rougeL"].fmeasure for other in pool) <= 0.7
            pool.append(instruction)

        generation = [r.user_prompt for r in requests if r.user_prompt.startswith("Come up with a series of tasks:")]
        assert len(generation) >= 4  # two rounds of two prompts: the first round's 16 candidates were not enough
        first_list = [line for line in generation[0].splitlines() if line[:1].isdigit()]
        assert len(first_list) == 7 and first_list[-1] == "7."  # 6 seeds, open at 7 (nothing generated yet)
        later_list = [line for line in generation[-1].splitlines() if line[:1].isdigit()]
        assert (
            len(later_list) == 9 and sum(" report number " in line for line in later_list) == 2
        )  # 6 seed + 2 generated

        # Classification tasks got output-first prompts and labels as outputs; the others input-first.
        for instruction in instructions:
            own = [r for r in records if r["instruction"] == instruction]
            is_classification = instruction.startswith("Classify the sentiment")
            assert {r["is_classification"] for r in own} == {is_classification}
            prompt = next(
                r.user_prompt
                for r in requests
                if r.user_prompt.endswith(instruction) or f"Task: {instruction}\nClass label:" in r.user_prompt
            )
            assert prompt.startswith("Given the classification task") == is_classification
            if is_classification:
                assert [(r["input"], r["output"]) for r in own] == [
                    ("I loved every minute of it.", "Positive"),
                    ("It was a waste of time.", "Negative"),
                ]
            else:
                assert [r["output"] for r in own] == [f"An answer to {instruction}.", "Another answer."]
            assert len({r["source_id"] for r in own}) == 1
        assert "self-instruct: 20 new instructions" in capsys.readouterr().out

        self_instruct(seed_tasks, output, **arguments)
        assert len(server.requests) == len(requests)  # everything came from the cache
        assert read_jsonl(output) == records
        assert f"cached hits {len(requests)}" in capsys.readouterr().out


def test_a_request_cap_stops_early_and_says_so(tmp_path, seed_tasks, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI() as server, pytest.raises(LitftError) as error:
        self_instruct(
            seed_tasks,
            tmp_path / "out.jsonl",
            llm=LLMSettings(model="m", base_url=server.base_url, workers=2, max_requests=3),
            num_instructions=50,
            quiet=True,
        )
    assert len(server.requests) == 3
    # The cap came before any instruction got its instances: no records, so no output and a non-zero exit.
    assert str(error.value) == (
        "self-instruct wrote no records: the cap of 3 requests (--llm.max_requests) is reached; "
        "run again once that is fixed (cached answers are reused)."
    )
    assert "self-instruct: 11 new instructions (0 classification) -> 0 records\n" in capsys.readouterr().out
    assert not (tmp_path / "out.jsonl").exists()


def free_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


def self_instruct_command(seed_tasks: Path, output: Path, base_url: str, *extra: str) -> list[str]:
    return [
        "self-instruct",
        "--seed_tasks",
        str(seed_tasks),
        "--output",
        str(output),
        "--llm.model",
        "m",
        "--num_instructions",
        "5",
        "--llm.workers",
        "2",
        "--llm.base_url",
        base_url,
        "--llm.max_retries",
        "1",
        "--llm.retry_base_delay",
        "0.01",
        "--llm.retry_max_delay",
        "0.05",
        "--quiet",
        "true",
        *extra,
    ]


def test_an_endpoint_that_never_answers_well_is_exit_2_with_the_reason(tmp_path, seed_tasks, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    url = free_port_url()
    stopped = (
        "error: self-instruct wrote no records: all 2 requests of round 1 failed "
        "(the first failed request: gave up after 2 attempts, last:"
    )
    with FakeOpenAI(default="nochoices") as garbling, FakeOpenAI(default="401") as refusing:
        cases = [
            (url, f"{stopped} could not connect to {url}: connection refused);"),
            (
                garbling.base_url,
                (
                    f"{stopped} the server at {garbling.base_url} answered with something that is not an "
                    f"OpenAI chat completion (it has no 'choices' list));"
                ),
            ),
            (
                refusing.base_url,
                f"error: {refusing.base_url} refused the API key from OPENAI_API_KEY (HTTP 401); check the key.\n",
            ),
        ]
        for base_url, message in cases:
            capsys.readouterr()
            with pytest.raises(SystemExit) as exit_info:
                main(self_instruct_command(seed_tasks, tmp_path / "out.jsonl", base_url))
            error = capsys.readouterr().err
            assert exit_info.value.code == 2 and error.startswith(message) and error.count("\n") == 1
        assert len(garbling.requests) == 4  # one round of 2 prompts, each tried twice, then it stops
    assert not (tmp_path / "out.jsonl").exists()


def test_an_output_or_cache_over_an_input_is_refused_before_any_request(tmp_path, seed_tasks, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    seeds = tmp_path / "seeds.jsonl"
    shutil.copyfile(seed_tasks, seeds)
    (tmp_path / "chunks.jsonl").write_text('{"id": "a", "text": "A passage."}\n')
    cases = [
        (seeds, [], f"--output {seeds} is the same path as --seed_tasks {seeds}"),
        (
            tmp_path / "out.jsonl",
            ["--cache", str(tmp_path / "chunks.jsonl"), "--chunks", str(tmp_path / "chunks.jsonl")],
            f"--cache {tmp_path / 'chunks.jsonl'} is the same path as --chunks {tmp_path / 'chunks.jsonl'}",
        ),
        (tmp_path, [], f"--output {tmp_path} is a folder that holds --seed_tasks {seeds}"),
    ]
    with FakeOpenAI() as server:
        for output, extra, message in cases:
            capsys.readouterr()
            with pytest.raises(SystemExit) as exit_info:
                main(self_instruct_command(seeds, output, server.base_url, *extra))
            assert exit_info.value.code == 2 and capsys.readouterr().err.startswith(f"error: {message}")
        assert server.requests == []
    assert seeds.read_bytes() == seed_tasks.read_bytes()


def test_parse_instructions_handles_preambles_continuations_and_task_labels():
    assert parse_instructions("Sure, here are more tasks:\n9. Sort the list.\n10. Name a color:") == [
        "Sort the list.",
        "Name a color",
    ]
    assert parse_instructions(" Translate the sentence.\n10. Count   the words.") == [
        "Translate the sentence.",
        "Count the words.",
    ]
    assert parse_instructions("Task 9: Find the verb.\nTask 10) Fix the typo.") == ["Find the verb.", "Fix the typo."]


def test_parse_instances_both_orders():
    assert parse_instances("Example 1\nInput: 2+2\nOutput: 4\n\nExample 2\nInput: 3+3\nOutput: 6", False) == [
        ("2+2", "4"),
        ("3+3", "6"),
    ]
    assert parse_instances("A haiku about rain falls softly.", False) == [("", "A haiku about rain falls softly.")]
    assert parse_instances("Class label: Yes\nInput: Is water wet?\nClass label: No\nInput: Is fire cold?", True) == [
        ("Is water wet?", "Yes"),
        ("Is fire cold?", "No"),
    ]
    assert parse_is_classification("Yes.") and not parse_is_classification("No, it is open-ended.")


def test_bad_seed_file_is_a_user_error(tmp_path):
    from litft.common.errors import LitftError

    (tmp_path / "seeds.jsonl").write_text('{"instruction": "Do it.", "instances": [{"input": "", "output": 3}]}\n')
    with pytest.raises(LitftError, match="line 1: 'instances' must be a list"):
        load_seed_tasks(tmp_path / "seeds.jsonl")
