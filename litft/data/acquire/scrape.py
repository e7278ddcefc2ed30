"""Scrape: the main text of every page in a URL list into `pages.jsonl`, from the crawl's cache when it has the page."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING

from litft.common.errors import LitftError, os_errors_as_user_errors
from litft.common.io import (
    append_jsonl,
    atomic_write_text,
    check_output_file,
    progress,
    read_json,
    refuse_same_path,
)
from litft.data.acquire.extract import Extractor, extract_page
from litft.data.acquire.fetch import Fetcher, FetchError, FetchSettings
from litft.data.acquire.page_cache import read_cached, work_dir_for
from litft.data.acquire.urls import normalize_url
from litft.data.pages import (
    PAGES_FILE,
    compact_pages,
    load_pages,
    open_for_append,
    page_record,
    txt_name,
)

if TYPE_CHECKING:
    from tqdm import tqdm


def read_url_list(path: Path) -> list[str]:
    """The URLs of a JSON list (what `litft crawl` writes), normalised, in order, without repeats."""
    with os_errors_as_user_errors("read", path):
        items = read_json(path)
    if not isinstance(items, list):
        raise LitftError(f"{path} must hold a JSON list of URLs, like the one `litft crawl` writes.")
    urls = []
    for position, item in enumerate(items):
        url = normalize_url(item) if isinstance(item, str) else None
        if url is None:
            raise LitftError(f"{path} item {position} ({item!r}) is not an http(s) URL; fix or remove it.")
        urls.append(url)
    return list(dict.fromkeys(urls))


def scrape(
    urls: Path,
    out_dir: Path,
    extractor: Extractor = "trafilatura",
    txt: bool = False,
    cache_dir: Path | None = None,
    concurrency: int = 4,
    fetch: FetchSettings = FetchSettings(),
    refresh: bool = False,
    quiet: bool = False,
) -> None:
    """Extract the main text of each page listed in `urls` into `out_dir/pages.jsonl`.

    Pages the crawl cached are not fetched again; pages already in pages.jsonl are skipped, so re-running
    scrapes only what is missing (failed pages are retried). After `litft crawl --refresh`, --refresh also
    scrapes again each page the crawl downloaded anew (its cached copy's `fetched_at` differs; a page that
    answered 304 keeps its record) and then leaves in pages.jsonl only the pages the list still has.

    Args:
        urls: JSON list of page URLs (the output of `litft crawl`).
        out_dir: Folder for pages.jsonl (and txt/ with --txt).
        extractor: trafilatura (main content) or html2text (whole page, the classic approach).
        txt: Also write each page's text to out_dir/txt/<host_path>_<hash>.txt.
        cache_dir: The crawl's page cache; by default `<urls>.crawl/pages` beside the URL list, when present.
        concurrency: Pages fetched at once when not cached.
        fetch: Politeness and patience for pages not in the cache.
        refresh: Re-scrape pages the crawl fetched again and drop the pages no longer listed (see above).
        quiet: No progress bar or summary.
    """
    urls = Path(urls)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise LitftError(f"{out_dir} exists and is not a folder; give a folder for pages.jsonl.")
    pages_path = check_output_file(out_dir / PAGES_FILE, "--out_dir")
    refuse_same_path(urls, pages_path, "--urls", "--out_dir")
    listed = read_url_list(urls)
    cache_dir = Path(cache_dir) if cache_dir is not None else work_dir_for(urls) / "pages"
    with os_errors_as_user_errors("read", pages_path):
        done = load_pages(pages_path)
    cached, to_fetch = _split_by_cache(cache_dir, [url for url in listed if url not in done])
    again = _split_by_cache(cache_dir, [url for url in listed if url in done])[0] if refresh else []
    again = [(url, html, at) for url, html, at in again if at != done[url].get("fetched_at")]  # crawled anew
    cached += again
    todo = [url for url, _, _ in cached] + to_fetch

    counts = {"written": 0, "empty": 0, "failed": 0}
    emptied: set[str] = set()  # pages whose text is gone: a refresh drops their earlier record
    bar = progress(total=len(todo), quiet=quiet, unit="page", desc="scrape")
    created = not pages_path.exists()
    with os_errors_as_user_errors("write", pages_path), open_for_append(pages_path) as pages_file:

        def keep(url: str, html: str, fetched_at: str) -> None:
            extracted = extract_page(html, url=url, extractor=extractor)
            bar.update(1)
            if not extracted.text.strip():
                counts["empty"] += 1
                emptied.add(url)
                return
            record = page_record(url, extracted.title, extracted.text, fetched_at)
            if txt:
                atomic_write_text(out_dir / "txt" / txt_name(url), extracted.text + "\n")
            append_jsonl(pages_file, record)
            counts["written"] += 1

        for url, html, fetched_at in cached:
            keep(url, html, fetched_at)
        for url, html, fetched_at in _fetched_pages(to_fetch, fetch, concurrency, counts, bar, quiet):
            keep(url, html, fetched_at)
    bar.close()
    if refresh:
        wanted = set(listed) - emptied
        with os_errors_as_user_errors("write", pages_path):
            dropped = compact_pages(pages_path, wanted.__contains__)
    if not counts["written"] and not done:
        if created:
            pages_path.unlink(missing_ok=True)  # the empty file this run made; it would only fail `litft process`
        raise LitftError(
            f"scrape got no page text from the {len(listed)} URLs of {urls} ({counts['failed']} failed to fetch, "
            f"{counts['empty']} without text); see the reasons it prints without --quiet, or try --extractor html2text."
        )
    if not quiet:
        print(
            f"scrape: {counts['written']} pages added to {pages_path} ({len(listed) - len(todo)} already there, "
            f"{len(cached)} from the crawl cache, {counts['empty']} without text, {counts['failed']} failed)"
            + (f"; refresh: {len(again)} pages scraped again, {dropped} no longer listed dropped" if refresh else ""),
            file=sys.stderr,
        )


def _split_by_cache(cache_dir: Path, urls: list[str]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """`(url, html, fetched_at)` of the URLs the crawl cached, and the URLs still to fetch, each in order."""
    cached: list[tuple[str, str, str]] = []
    to_fetch: list[str] = []
    for url in urls:
        entry = read_cached(cache_dir, url)
        if entry is None:
            to_fetch.append(url)
        else:
            cached.append((url, *entry))
    return cached, to_fetch


def _fetched_pages(
    urls: list[str], fetch: FetchSettings, concurrency: int, counts: dict[str, int], bar: tqdm, quiet: bool
) -> Iterator[tuple[str, str, str]]:
    """`(url, html, fetched_at)` of each URL as its fetch completes; a failed one is counted, ticked and told."""
    if not urls:
        return
    fetcher = Fetcher(fetch, pool_size=max(10, concurrency))
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="litft-scrape") as pool:
        futures = {pool.submit(fetcher.get, url): url for url in urls}
        for future in as_completed(futures):
            try:
                page = future.result()
            except FetchError as error:
                counts["failed"] += 1
                bar.update(1)
                if not quiet:
                    print(f"scrape: {futures[future]} skipped: {error}", file=sys.stderr)
                continue
            yield futures[future], page.html, page.fetched_at
