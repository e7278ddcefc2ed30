"""`litft synthesize --refresh` (issue 31): only new and changed chunks are asked for, old records are retired."""

from __future__ import annotations

import json
from pathlib import Path

from litft.data.synthesize.qa import synthesize
from litft.llm.client import LLMSettings
from tests.data.clean.test_changes import VERSION_1, VERSION_2, paragraph, write_pages
from tests.data.clean.test_changes import run as process_pages
from tests.support.fake_openai import FakeOpenAI


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def llm(server: FakeOpenAI) -> LLMSettings:
    return LLMSettings(model="fake-model", base_url=server.base_url, retry_base_delay=0.01, timeout=2.0, workers=2)


def test_refresh_asks_only_for_new_and_changed_chunks_and_retires_old_records(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    site, qa = tmp_path / "site", tmp_path / "qa.jsonl"
    site.mkdir()
    write_pages(site / "pages.jsonl", VERSION_1)
    first_chunks, _, _ = process_pages(site)
    with FakeOpenAI() as server:
        synthesize(site / "chunks.jsonl", qa, llm=llm(server), quiet=True)
        assert len(server.requests) == 8
        before = qa.read_text().splitlines()
        old_id = {c["text"]: c["id"] for c in first_chunks}

        write_pages(site / "pages.jsonl", VERSION_2)
        second_chunks, changes, _ = process_pages(site)
        server.requests.clear()
        synthesize(site / "chunks.jsonl", qa, llm=llm(server), refresh=True, quiet=True)
        new_id = {c["text"]: c["id"] for c in second_chunks}
        asked = sorted(request.passage for request in server.requests)
        new_texts = ["The birch fee is now 40 euros.", paragraph("new", 9), paragraph("dogwood", 0)]
        assert asked == sorted(new_texts)  # unchanged chunks: no request, not even a cached lookup's

        after = qa.read_text().splitlines()
        unchanged = {new_id[paragraph("apple", n)] for n in range(3)} | {new_id[paragraph("birch", n)] for n in (0, 2)}
        assert [line for line in before if json.loads(line)["source_id"] in unchanged] == [
            line for line in after if json.loads(line)["source_id"] in unchanged
        ]  # byte-identical
        assert [json.loads(line)["source_id"] for line in after] == [
            c["id"] for c in second_chunks for _ in range(2)
        ]  # every chunk of the new chunks.jsonl, in its order, two records each
        retired = read_jsonl(tmp_path / "qa.retired.jsonl")
        assert [(r["source_id"], r["reason"], r.get("new_source_id")) for r in retired] == [
            (old_id[paragraph("birch", 1)], "chunk changed", new_id["The birch fee is now 40 euros."]),
            (old_id[paragraph("birch", 1)], "chunk changed", new_id["The birch fee is now 40 euros."]),
            (old_id[paragraph("cedar", 0)], "chunk removed", None),
            (old_id[paragraph("cedar", 0)], "chunk removed", None),
            (old_id[paragraph("cedar", 1)], "chunk removed", None),
            (old_id[paragraph("cedar", 1)], "chunk removed", None),
        ]
        assert {r["instruction"] for r in retired} < {json.loads(line)["instruction"] for line in before}
        assert "3 chunks synthesized, 6 records retired" in capsys.readouterr().out

        # Re-running the refresh (after it finished, or after a kill) asks nothing and ends with the same files.
        server.requests.clear()
        synthesize(site / "chunks.jsonl", qa, llm=llm(server), refresh=True, quiet=True)
        assert server.requests == [] and qa.read_text().splitlines() == after
        assert read_jsonl(tmp_path / "qa.retired.jsonl") == retired

        # Killed after the retired file was written but before the output replaced the old one: the same end.
        qa.write_text("\n".join(before) + "\n")
        synthesize(site / "chunks.jsonl", qa, llm=llm(server), refresh=True, quiet=True)
        assert server.requests == [] and qa.read_text().splitlines() == after  # the new chunks' answers are cached
        assert read_jsonl(tmp_path / "qa.retired.jsonl") == retired  # each retired record listed once


def test_refresh_with_the_heuristic_backend_and_no_changes_file(tmp_path):
    chunks = tmp_path / "chunks.jsonl"
    acme = {"id": "acme", "url": "u1", "text": "Acme Robotics is a company that builds warehouse robots."}
    bolt = {"id": "bolt", "url": "u2", "text": "Bolt Labs is a startup that tests batteries."}
    chunks.write_text(json.dumps(acme) + "\n" + json.dumps(bolt) + "\n")
    synthesize(chunks, tmp_path / "qa.jsonl", backend="heuristic", quiet=True)
    first = read_jsonl(tmp_path / "qa.jsonl")
    chunks.write_text(json.dumps(acme) + "\n")
    synthesize(chunks, tmp_path / "qa.jsonl", backend="heuristic", refresh=True, quiet=True)
    assert read_jsonl(tmp_path / "qa.jsonl") == first[:1]
    assert read_jsonl(tmp_path / "qa.retired.jsonl") == [{**first[1], "reason": "chunk removed"}]
