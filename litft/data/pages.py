"""The `pages.jsonl` format that scrape and ingest write and process reads.

One `{url, title, text, fetched_at, sha1}` per page.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO

from litft.common.errors import LitftError
from litft.common.io import iter_jsonl
from litft.data.records import write_jsonl

PAGES_FILE = "pages.jsonl"
FIELDS = ("url", "title", "text", "fetched_at", "sha1")


def page_record(url: str, title: str, text: str, fetched_at: str) -> dict:
    """A record; `sha1` is of the text, so a changed page is visible without comparing texts."""
    return {
        "url": url,
        "title": title,
        "text": text,
        "fetched_at": fetched_at,
        "sha1": hashlib.sha1(text.encode("utf-8")).hexdigest(),
    }


def load_pages(path: Path) -> dict[str, dict]:
    """Records by URL, the last record winning (re-ingesting a changed file appends a newer one)."""
    if not path.exists():
        return {}
    pages = {}
    for number, record in enumerate(iter_jsonl(path, skip_torn_tail=True), start=1):
        if not isinstance(record.get("url"), str) or not isinstance(record.get("text"), str):
            raise LitftError(f'{path} record {number} lacks a string "url" or "text"; fix or remove that record.')
        pages[record["url"]] = record
    return pages


def compact_pages(path: Path, keep: Callable[[str], bool]) -> int:
    """Rewrite pages.jsonl (atomically) with the newest record of each page whose URL `keep` accepts, each at its
    first place, so the pages that stay keep their order (and `litft process` their chunk ids); return how many
    pages were dropped. A refresh uses it for pages removed at the source."""
    pages = load_pages(path)
    write_jsonl(path, [record for url, record in pages.items() if keep(url)])
    return sum(not keep(url) for url in pages)


def open_for_append(path: Path) -> IO[str]:
    """Open a JSONL file for appending after cutting off a torn last line a kill may have left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        with open(path, "rb+") as fh:
            data = fh.read()
            if not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)
                fh.flush()
                os.fsync(fh.fileno())
    return open(path, "a", encoding="utf-8")


def txt_name(url: str) -> str:
    """A readable, unique file name for a page's .txt copy: its host and path, plus a short hash."""
    readable = re.sub(r"[^A-Za-z0-9]+", "_", re.sub(r"^[a-z]+://", "", url)).strip("_")[:80]
    return f"{readable or 'page'}_{hashlib.sha1(url.encode('utf-8')).hexdigest()[:8]}.txt"
