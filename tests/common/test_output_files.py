"""Commands whose output is one file replace only a file litft wrote: a user's file of that name is refused in one
sentence (exit 2, the file untouched) unless --overwrite true, and what litft wrote is replaced on the next run."""

from __future__ import annotations

import json

import pytest

from litft.cli import main

USERS = "my own notes, not litft's\n"
CHUNK = {"id": "c1", "url": "https://u.test/a", "text": "Northbridge Library was founded in 1961 by the city."}
RECORD = {"instruction": "When was Northbridge Library founded?", "input": "", "output": "It was founded in 1961."}


def _inputs(tmp_path):
    (tmp_path / "chunks.jsonl").write_text(json.dumps(CHUNK) + "\n")
    (tmp_path / "records.jsonl").write_text(json.dumps(RECORD) + "\n")
    (tmp_path / "prompts.txt").write_text("Hello?\n")
    (tmp_path / "seeds.jsonl").write_text(
        json.dumps(
            {"instruction": "Say hi.", "instances": [{"input": "", "output": "Hi."}], "is_classification": False}
        )
        + "\n"
    )
    (tmp_path / "checkpoint").mkdir()


COMMANDS = {
    "synthesize --output": (["synthesize", "--input", "{t}/chunks.jsonl", "--backend", "heuristic"], "--output", True),
    "filter --output": (["filter", "--input", "{t}/records.jsonl"], "--output", True),
    "filter --removed": (["filter", "--input", "{t}/records.jsonl", "--output", "{t}/kept.jsonl"], "--removed", True),
    "crawl --out": (["crawl", "--url", "http://127.0.0.1:9/", "--fetch.retries", "0"], "--out", False),
    "generate --output": (
        ["generate", "--checkpoint_dir", "{t}/checkpoint", "--prompts_file", "{t}/prompts.txt"],
        "--output",
        False,
    ),
    "self-instruct --output": (
        [
            "self-instruct",
            "--seed_tasks",
            "{t}/seeds.jsonl",
            "--llm.model",
            "m",
            "--llm.base_url",
            "http://127.0.0.1:9",
        ],
        "--output",
        False,
    ),
}


def _run(capsys, args: list[str]) -> tuple[int, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("name", COMMANDS)
def test_a_users_file_is_refused_and_litfts_own_is_replaced(name, tmp_path, capsys):
    _inputs(tmp_path)
    args, flag, runs_offline = COMMANDS[name]
    target = tmp_path / "out.jsonl"
    target.write_text(USERS)
    args = [arg.format(t=tmp_path) for arg in args] + [flag, str(target), "--quiet", "true"]
    code, err = _run(capsys, args)
    assert code == 2 and "already exists and litft did not write it" in err and err.count("\n") == 1
    assert target.read_text() == USERS
    if not runs_offline:
        return  # the refusal comes before any network or model; the rest needs a server or a checkpoint
    assert _run(capsys, [*args, "--overwrite", "true"])[0] == 0
    assert target.read_text() != USERS
    written = target.read_bytes()
    assert _run(capsys, args)[0] == 0  # litft's own file now: replaced without --overwrite
    assert target.read_bytes() == written
