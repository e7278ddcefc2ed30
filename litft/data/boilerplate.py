"""Site boilerplate: paragraphs that recur on many pages of one site (headers, footers, cookie banners)
that survived main-content extraction. A line on more than `max_share` of a site's pages is not content."""

from __future__ import annotations

from collections import Counter, defaultdict
from urllib.parse import urlsplit


def site_of(url: str) -> str:
    """The host for web pages; the folder for local files, whose "site" is the set of documents beside them."""
    parts = urlsplit(url)
    return parts.netloc if parts.netloc else parts.path.rsplit("/", 1)[0]


def _key(line: str) -> str:
    return " ".join(line.lower().split())


def remove_boilerplate(pages: list[tuple[str, str]], max_share: float = 0.5, min_pages: int = 5) -> tuple[list[str], int]:
    """Texts of `pages` ((url, text) pairs) without their site's recurring lines, and how many lines went.

    Sites with fewer than `min_pages` pages are left alone: with two pages, "on more than half" means "on both".
    """
    pages_by_site: dict[str, list[int]] = defaultdict(list)
    for index, (url, _) in enumerate(pages):
        pages_by_site[site_of(url)].append(index)
    boilerplate: dict[str, set[str]] = {}
    for site, indexes in pages_by_site.items():
        if len(indexes) < min_pages:
            continue
        pages_with_line = Counter(key for index in indexes for key in {_key(line) for line in pages[index][1].splitlines()})
        boilerplate[site] = {key for key, count in pages_with_line.items() if count > max_share * len(indexes)}
    texts, removed = [], 0
    for url, text in pages:
        drop = boilerplate.get(site_of(url), set())
        kept = [line for line in text.splitlines() if _key(line) not in drop]
        removed += len(text.splitlines()) - len(kept)
        texts.append("\n".join(kept))
    return texts, removed
