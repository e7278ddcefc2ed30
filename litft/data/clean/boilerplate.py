"""Site boilerplate: paragraphs that recur on many pages of one site (headers, footers, cookie banners)
that survived main-content extraction. A line on more than `max_share` of a site's pages is not content."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from urllib.parse import urlsplit


def site_of(url: str) -> str:
    """The host for web pages; the folder for local files, whose "site" is the set of documents beside them."""
    parts = urlsplit(url)
    return parts.netloc if parts.netloc else parts.path.rsplit("/", 1)[0]


def _key(line: str) -> bytes:
    """A short digest of the normalised line: counting lines costs 16 bytes each, however long they are."""
    return hashlib.blake2b(" ".join(line.lower().split()).encode("utf-8"), digest_size=16).digest()


def find_boilerplate(
    pages: Sequence[tuple[str, str]], max_share: float = 0.5, min_pages: int = 5
) -> dict[str, set[bytes]]:
    """The recurring lines of each site among `pages` ((url, text) pairs), as keys for `strip_boilerplate`.

    Sites with fewer than `min_pages` pages are left alone: with two pages, "on more than half" means "on both".
    """
    pages_by_site: dict[str, list[int]] = defaultdict(list)
    for index, (url, _) in enumerate(pages):
        pages_by_site[site_of(url)].append(index)
    boilerplate: dict[str, set[bytes]] = {}
    for site, indexes in pages_by_site.items():
        if len(indexes) < min_pages:
            continue
        pages_with_line = Counter(
            key for index in indexes for key in {_key(line) for line in pages[index][1].splitlines()}
        )
        boilerplate[site] = {key for key, count in pages_with_line.items() if count > max_share * len(indexes)}
    return boilerplate


def strip_boilerplate(url: str, text: str, boilerplate: dict[str, set[bytes]]) -> tuple[str, int]:
    """The text without its site's recurring lines, and how many lines went."""
    drop = boilerplate.get(site_of(url))
    if not drop:
        return text, 0
    lines = text.splitlines()
    kept = [line for line in lines if _key(line) not in drop]
    return "\n".join(kept), len(lines) - len(kept)
