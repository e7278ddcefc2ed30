"""Stable chunk ids across re-runs of `litft process`, and `changes.json`: what changed since the previous chunks.

A chunk keeps its id as long as its page (URL) still has its exact text; new or changed text gets a new id, never
one an earlier chunk had. Within one page the previous and the new chunk texts are aligned with difflib's
SequenceMatcher: aligned equal texts keep their ids; where a stretch of old chunks was replaced by a stretch of new
ones, they pair up position by position as "changed" (old id -> new id) and the longer stretch's surplus counts as
added or removed; a text that only moved within its page keeps its id. A chunk is never paired across pages.

The first run (no previous chunks) numbers each page's chunks `{url_id}-{number:04d}`; later runs name new text
`{url_id}-{sha1(text)[:10]}`, so an id that once meant one text never comes back meaning another.
"""

from __future__ import annotations

import hashlib
from difflib import SequenceMatcher
from pathlib import Path

from litft.common.errors import LitftError
from litft.data.records import read_records

CHANGES_FILE = "changes.json"
CHANGES_VERSION = 1


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest()


def read_previous(path: Path) -> list[dict]:
    """The chunks of an earlier `litft process` run ({id, url, text}), ids unique."""
    chunks = [record for _, record in read_records(path, ("id", "url", "text"), "chunk record ({id, url, text})")]
    if len({chunk["id"] for chunk in chunks}) != len(chunks):
        raise LitftError(f"{path} repeats a chunk id; give the chunks.jsonl an earlier `litft process` wrote.")
    return chunks


def _by_url(chunks: list[dict]) -> dict[str, list[dict]]:
    pages: dict[str, list[dict]] = {}
    for chunk in chunks:
        pages.setdefault(chunk["url"], []).append(chunk)
    return pages


def _align_page(old: list[dict], new: list[dict]) -> tuple[dict[int, int], list[tuple[int, int]]]:
    """(new position -> old position of the same text, [(old, new) positions paired as changed])."""
    old_texts, new_texts = [c["text"] for c in old], [c["text"] for c in new]
    same: dict[int, int] = {}
    candidates: list[tuple[int, int]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old_texts, new_texts, autojunk=False).get_opcodes():
        if tag == "equal":
            same.update((j1 + k, i1 + k) for k in range(i2 - i1))
        elif tag == "replace":
            candidates += list(zip(range(i1, i2), range(j1, j2), strict=False))
    taken = set(same.values())
    unmatched_old = {text: i for i, text in enumerate(old_texts) if i not in taken}
    for j, text in enumerate(new_texts):  # a text that moved within the page is the same chunk
        if j not in same and text in unmatched_old:
            same[j] = unmatched_old.pop(text)
    matched_old = set(same.values())
    return same, [(i, j) for i, j in candidates if j not in same and i not in matched_old]


def assign_ids(records: list[dict], previous: list[dict] | None) -> dict:
    """Give `records` (in output order, holding their positional first-run ids) their ids; return the `chunks`
    and `pages` parts of changes.json."""
    pages: dict = {"added": [], "changed": [], "removed": [], "unchanged": 0}
    chunks: dict = {"added": [], "changed": [], "removed": [], "unchanged": 0}
    old_pages = _by_url(previous or [])
    for url, new in _by_url(records).items():
        old = old_pages.pop(url, [])
        same, changed = _align_page(old, new)
        changed_new = {j: i for i, j in changed}
        for j, chunk in enumerate(new):
            if j in same:
                chunk["id"] = old[same[j]]["id"]
                chunks["unchanged"] += 1
                continue
            if previous is not None:  # a first run keeps the positional ids `litft process` gives
                chunk["id"] = _text_id(url, chunk["text"])
            if j in changed_new:
                chunks["changed"].append({"old": old[changed_new[j]]["id"], "new": chunk["id"]})
            else:
                chunks["added"].append(chunk["id"])
        kept_old = set(same.values()) | {i for i, _ in changed}
        chunks["removed"] += [chunk["id"] for i, chunk in enumerate(old) if i not in kept_old]
        if not old:
            pages["added"].append(url)
        elif len(same) == len(new) == len(old) and all(same[j] == j for j in range(len(new))):
            pages["unchanged"] += 1
        else:
            pages["changed"].append(url)
    for url, old in old_pages.items():
        pages["removed"].append(url)
        chunks["removed"] += [chunk["id"] for chunk in old]
    return {"pages": pages, "chunks": chunks}


def _text_id(url: str, text: str) -> str:
    return f"{hashlib.sha1(url.encode('utf-8')).hexdigest()[:10]}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:10]}"
