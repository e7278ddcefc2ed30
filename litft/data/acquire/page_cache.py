"""The crawl's page cache: the HTML of every listed page, kept so the scrape step never fetches it again."""

from __future__ import annotations

import hashlib
from pathlib import Path

from litft.common.io import atomic_write_json
from litft.common.text import parse_json


def work_dir_for(urls_json: Path) -> Path:
    """Where a crawl that writes `urls_json` keeps its state and cache: a sibling folder `<name>.crawl`."""
    return urls_json.parent / f"{urls_json.stem}.crawl"


def _cache_file(cache_dir: Path, url: str) -> Path:
    return cache_dir / f"{hashlib.sha1(url.encode('utf-8')).hexdigest()}.json"


def write_cached(cache_dir: Path, url: str, html: str, fetched_at: str) -> None:
    atomic_write_json(_cache_file(cache_dir, url), {"url": url, "fetched_at": fetched_at, "html": html})


def read_cached(cache_dir: Path, url: str) -> tuple[str, str] | None:
    """(html, fetched_at) of a cached page, or None when it is not cached or the entry is unreadable."""
    path = _cache_file(cache_dir, url)
    try:
        entry = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("url") != url:
        return None
    html, fetched_at = entry.get("html"), entry.get("fetched_at")
    return (html, fetched_at) if isinstance(html, str) and isinstance(fetched_at, str) else None
