"""Stable chunk ids and changes.json across re-runs of `litft process` (issue 31)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from litft.common.errors import LitftError
from litft.data.clean.changes import assign_ids
from litft.data.clean.process import process
from litft.data.pages import page_record

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda omicron sigma tau upsilon".split()


def paragraph(topic: str, number: int) -> str:
    """A distinct sentence of 12 words (no two near duplicates)."""
    words = [WORDS[(number * 5 + k * 7) % len(WORDS)] for k in range(6)]
    return f"The {topic} note {number} says {' '.join(words)} today."


def write_pages(path: Path, pages: dict[str, list[str]]) -> None:
    path.write_text(
        "".join(
            json.dumps(page_record(url, "t", "\n\n".join(paragraphs), "2026-01-01T00:00:00+00:00")) + "\n"
            for url, paragraphs in pages.items()
        )
    )


def run(folder: Path, **kwargs) -> tuple[list[dict], dict, list[str]]:
    process(folder, chunk_words=12, overlap_words=0, boilerplate_min_pages=100, quiet=True, **kwargs)
    lines = (folder / "chunks.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines], json.loads((folder / "changes.json").read_text()), lines


VERSION_1 = {
    "https://site.example/a": [paragraph("apple", n) for n in range(3)],
    "https://site.example/b": [paragraph("birch", n) for n in range(3)],
    "https://site.example/c": [paragraph("cedar", n) for n in range(2)],
}
VERSION_2 = {
    "https://site.example/a": VERSION_1["https://site.example/a"],  # unchanged
    # birch 1 edited, a new paragraph after it, birch 2 unchanged
    "https://site.example/b": [paragraph("birch", 0), "The birch fee is now 40 euros.", paragraph("new", 9)]
    + [paragraph("birch", 2)],
    "https://site.example/d": [paragraph("dogwood", 0)],  # c removed, d added
}


def test_refresh_keeps_unchanged_chunks_byte_identical_and_writes_changes(tmp_path):
    write_pages(tmp_path / "pages.jsonl", VERSION_1)
    first, changes, first_lines = run(tmp_path)
    ids = {c["text"]: c["id"] for c in first}
    assert [c["id"][-4:] for c in first] == ["0000", "0001", "0002"] * 2 + ["0000", "0001"]  # positional as before
    assert changes["previous"] is None and changes["chunks"]["added"] == [c["id"] for c in first]
    assert changes["pages"] == {"added": list(VERSION_1), "changed": [], "removed": [], "unchanged": 0}

    write_pages(tmp_path / "pages.jsonl", VERSION_2)
    second, changes, second_lines = run(tmp_path)
    unchanged = [line for line in second_lines if line in first_lines]
    assert len(unchanged) == 5  # apple 0-2, birch 0 and 2: the same lines, ids and all
    by_text = {c["text"]: c["id"] for c in second}
    edited, inserted = by_text["The birch fee is now 40 euros."], by_text[paragraph("new", 9)]
    assert edited not in ids.values() and inserted not in ids.values()  # new text never gets an old id
    c_ids = [ids[paragraph("cedar", n)] for n in range(2)]
    assert changes["chunks"] == {
        "added": [inserted, by_text[paragraph("dogwood", 0)]],
        "changed": [{"old": ids[paragraph("birch", 1)], "new": edited}],
        "removed": c_ids,
        "unchanged": 5,
    }
    assert changes["pages"] == {
        "added": ["https://site.example/d"],
        "changed": ["https://site.example/b"],
        "removed": ["https://site.example/c"],
        "unchanged": 1,
    }
    assert changes["version"] == 1 and changes["previous"].startswith("sha256:")

    # A re-run (of a finished or a killed refresh) ends with the same files, changes.json included.
    changes_text = (tmp_path / "changes.json").read_text()
    assert run(tmp_path)[2] == second_lines
    assert (tmp_path / "changes.json").read_text() == changes_text


def test_previous_given_explicitly_and_a_page_reordered(tmp_path):
    old, new = tmp_path / "v1", tmp_path / "v2"
    old.mkdir(), new.mkdir()
    write_pages(old / "pages.jsonl", VERSION_1)
    first, _, _ = run(old)
    swapped = {**VERSION_1, "https://site.example/a": VERSION_1["https://site.example/a"][::-1]}
    write_pages(new / "pages.jsonl", swapped)
    second, changes, _ = run(new, previous=old)
    assert {c["text"]: c["id"] for c in second} == {c["text"]: c["id"] for c in first}  # moved text keeps its id
    assert changes["pages"]["changed"] == ["https://site.example/a"] and changes["chunks"]["unchanged"] == 8
    with pytest.raises(LitftError, match="--previous .* is not a chunks.jsonl"):
        run(new, previous=tmp_path / "missing")


def test_replaced_stretches_pair_position_by_position():
    old = [{"id": f"p-{n}", "url": "u", "text": text} for n, text in enumerate(["A", "B", "C", "D"])]
    new = [{"id": "", "url": "u", "text": text} for text in ["X", "A", "B2", "C2", "C3", "D"]]
    changes = assign_ids(new, old)
    assert [c["id"] for c in new][1] == "p-0" and new[-1]["id"] == "p-3"
    assert changes["chunks"]["changed"] == [{"old": "p-1", "new": new[2]["id"]}, {"old": "p-2", "new": new[3]["id"]}]
    assert changes["chunks"]["added"] == [new[0]["id"], new[4]["id"]] and changes["chunks"]["removed"] == []


def test_a_rerun_computes_only_the_signatures_of_new_texts_and_ends_the_same(tmp_path, monkeypatch):
    from litft.data.clean import dedup

    computed: list[str] = []
    original = dedup.NearDeduper._computed_signature

    def counting(self, text):
        computed.append(text)
        return original(self, text)

    monkeypatch.setattr(dedup.NearDeduper, "_computed_signature", counting)
    cached, damaged = tmp_path / "cached", tmp_path / "damaged"
    for folder in (cached, damaged):
        folder.mkdir()
        write_pages(folder / "pages.jsonl", VERSION_1)
        run(folder)
    computed.clear()
    run(cached)
    assert computed == []  # the same pages again: every signature comes from minhash.npz

    for folder in (cached, damaged):
        write_pages(folder / "pages.jsonl", VERSION_2)
    (damaged / "minhash.npz").write_bytes(b"not a zip file")  # litft's own file, damaged: not used
    run(cached)
    new_texts = list(computed)
    computed.clear()
    damaged_chunks = run(damaged)[0]
    assert new_texts and len(new_texts) < len(computed)
    assert all(any(word in text for word in ("birch", "dogwood", "new")) for text in new_texts)
    # Cached signatures give the chunks a full computation gives.
    assert [chunk["text"] for chunk in run(cached)[0]] == [chunk["text"] for chunk in damaged_chunks]
