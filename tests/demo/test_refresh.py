"""`litft demo --refresh`: after a demo, version 2 of the site is crawled again with conditional requests and
data, model and evaluation are brought up to date incrementally; and the pieces it is made of."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from litft.cli import main
from litft.demo.refresh import site_port


def _litft(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "litft.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_the_refresh_serves_where_the_demo_crawled(tmp_path):
    (tmp_path / "urls.json").write_text(json.dumps(["http://127.0.0.1:45123/", "http://127.0.0.1:45123/a.html"]))
    assert site_port(tmp_path, 0) == 45123 and site_port(tmp_path, 8080) == 8080


def test_a_refresh_without_a_demo_is_one_sentence(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(tmp_path), "--refresh", "true"])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.count("\n") == 1
    assert error == f"error: {tmp_path} holds no finished demo to refresh; run `litft demo --out {tmp_path}` first.\n"


def _refresh_killed_at(out, stage: int) -> None:
    """Start `litft demo --refresh` and SIGKILL it once it prints the header of refresh stage `stage`."""
    command = [sys.executable, "-m", "litft.cli", "demo", "--out", str(out), "--fast", "true", "--refresh", "true"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if line.startswith(f"[refresh {stage}/"):
            process.kill()
            break
    process.wait(timeout=60)
    assert process.returncode == -9, "the refresh finished before it could be killed"


def _outputs(out) -> dict:
    """What a refresh leaves: the refreshed data files, the replayed records and the stale answers."""
    files = ("site/chunks.jsonl", "site/changes.json", "qa.jsonl", "qa.retired.jsonl", "split/train.json")
    kept = {name: (out / name).read_bytes() for name in files}
    kept["replayed"] = json.loads((out / "refresh" / "lora_v2" / "data.json").read_text())["replay"]["indices"]
    kept["stale"] = json.loads((out / "refresh" / "evaluate" / "stale.json").read_text())["changed_questions"]
    return kept


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_refresh_updates_data_model_and_evaluation_incrementally(tmp_path):
    out, killed = tmp_path / "demo", tmp_path / "killed"
    first = _litft("demo", "--out", str(out), "--fast", "true", timeout=400)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    shutil.copytree(out, killed, symlinks=True)  # the same demo, to refresh with a kill on the way
    old_records = len(json.loads((out / "split" / "train.json").read_text()))

    result = _litft("demo", "--out", str(out), "--fast", "true", "--refresh", "true", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "refresh" / "summary.json").read_text())
    # Version 2 changed 22 pages and added one: 23 downloads, with robots.txt and sitemap.xml (read without
    # conditions) 25. The other 34 of version 1's 57 public pages (less the 22 changed and the removed one) answered
    # 304, no body; the removed page is linked from nowhere now, so it is not asked for.
    assert summary["http_responses"] == {"200": 25, "304": 34}
    changes = summary["changes"]
    assert [len(changes["pages"][k]) for k in ("added", "removed")] == [1, 1]
    assert changes["pages"]["added"][0].endswith("/courses/cs360.html")
    assert changes["pages"]["removed"][0].endswith("/news/old-harbour-bridge-monitoring.html")
    chunks = summary["chunks"]
    assert 0 < chunks["new_or_changed"] <= chunks["synthesized"] < chunks["now"]
    assert f"synthesized: {chunks['synthesized']} of {chunks['now']} chunks" in result.stdout

    data = json.loads((out / "refresh" / "lora_v2" / "data.json").read_text())
    assert data["init_from"] == str((out / "lora" / "final").resolve())
    assert data["replay"]["fraction"] == 0.2 and data["replay"]["data"]["data_dir"] == str(out / "finetune_data")
    replayed = data["replay"]["indices"]
    assert len(replayed) == round(0.2 * data["replay"]["old_records"]) and data["replay"]["old_records"] < old_records

    fresh = {pair["new"] for pair in changes["chunks"]["changed"]}
    questions = json.loads((out / "refresh" / "questions.json").read_text())
    stale = json.loads((out / "refresh" / "evaluate" / "stale.json").read_text())
    assert (stale["previous"], stale["updated"]) == ("lora", "lora_v2")
    assert [q["source_id"] for q in stale["changed_questions"]] == [
        q["source_id"] for q in questions if q["source_id"] in fresh
    ]
    assert stale["groups"]["changed"]["n"] == len(stale["changed_questions"]) > 0
    assert "stale answers (" in result.stdout and "lora ROUGE-L" in result.stdout

    _refresh_killed_at(killed, 9)  # killed while the LoRA run continues, after the data stages
    again = _litft("demo", "--out", str(killed), "--fast", "true", "--refresh", "true", timeout=300)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert _outputs(killed) == _outputs(out)  # the killed refresh, run again, ends as the uninterrupted one
    # the crawl had finished before the kill: the re-run's crawl finds nothing new, every page answers 304 (robots.txt
    # and sitemap.xml are read without conditions)
    assert json.loads((killed / "refresh" / "summary.json").read_text())["http_responses"] == {"200": 2, "304": 57}
