"""scripts/process_finetune_data.py: chunks.jsonl -> qa.jsonl -> qa_filtered.jsonl -> train.json / test.json."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[3] / "scripts" / "process_finetune_data.py"
CHUNKS = [
    "Acme Robotics is a company that builds warehouse robots. Acme Robotics was founded in 2011 in Leeds.",
    "The Picker 3000 is a robot arm that picks items from shelves. The Picker 3000 scans forty aisles an hour.",
    "LIDAR stands for light detection and ranging. The Acme warranty covers all parts for three years.",
    "The Leeds office is located in the old mill on Canal Street.",
    "Read more about our offers below.",
]


def test_script_runs_the_three_stages_offline(tmp_path):
    (tmp_path / "chunks.jsonl").write_text(
        "".join(
            json.dumps({"id": f"c{i}", "url": f"https://acme.example/{i}", "text": t}) + "\n"
            for i, t in enumerate(CHUNKS)
        )
    )
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), "--backend", "heuristic", "--quiet", "true"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    train = json.loads((tmp_path / "train.json").read_text())
    test = json.loads((tmp_path / "test.json").read_text())
    questions = sorted(r["instruction"] for r in train + test)
    assert questions == sorted(
        [
            "What is Acme Robotics?",
            "When was Acme Robotics founded?",
            "What is the Picker 3000?",
            "What does LIDAR stand for?",
            "What does the Acme warranty cover?",
            "Where is the Leeds office located?",
        ]
    )
    assert not {r["source_id"] for r in train} & {r["source_id"] for r in test} and train and test
    assert [json.loads(line)["source_id"] for line in (tmp_path / "qa.failures.jsonl").read_text().splitlines()] == [
        "c4"
    ]
    assert "synthesize:" in result.stdout and "filter:" in result.stdout and "split:" in result.stdout


def test_script_without_chunks_is_a_user_error(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), "--backend", "heuristic"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "chunks.jsonl does not exist" in result.stderr


def test_script_hands_its_llm_group_to_synthesize(tmp_path):
    (tmp_path / "chunks.jsonl").write_text(json.dumps({"id": "c0", "url": "u", "text": CHUNKS[0]}) + "\n")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(tmp_path),
            "--llm.model",
            "m",
            "--llm.base_url",
            url,
            "--llm.max_retries",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and f"could not connect to {url}: connection refused" in result.stderr
