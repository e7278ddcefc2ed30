"""`litft crawl --refresh`, `scrape --refresh`, `process` on a local site serving version 1, then 2 (issue 31)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from litft.common.io import iter_jsonl, read_json
from litft.data.acquire import crawl as crawl_module
from litft.data.acquire.crawl import crawl
from litft.data.acquire.fetch import FetchSettings
from litft.data.acquire.page_cache import work_dir_for
from litft.data.acquire.scrape import scrape
from litft.data.clean.process import process
from litft.data.pages import load_pages
from tests.support.local_site import SiteServer, html_response

FAST = FetchSettings(rate_limit=0, timeout=2.0, retries=1, backoff=0.01, contact="tests@example.org")


def paragraphs(topic: str, count: int = 3, edited: int | None = None) -> str:
    """Distinct paragraphs of about 20 words; `edited` changes one of them (a moved deadline)."""
    return "".join(
        f"<p>The {topic} office handles request {i}: forms for {topic} item {i} are due on day "
        f"{30 + i if i == edited else 10 + i} of the month, and {topic} staff answer within {i + 2} days.</p>"
        for i in range(count)
    )


def version_1() -> dict:
    links = "".join(f"<p><a href='/site/{name}'>{name}</a></p>" for name in ("b", "c", "e"))
    return {
        "/site/": html_response("Home", "<p>Welcome to the department home page of the example school.</p>" + links),
        "/site/a": html_response("Admissions", paragraphs("admissions")),
        "/site/b": html_response("Bursary", paragraphs("bursary")),
        "/site/c": html_response("Canteen", paragraphs("canteen")),
        "/site/e": html_response("Exams", paragraphs("exams")),
    }


def version_2() -> dict:
    """a unchanged, b with one paragraph edited, c gone (404, still linked), e still served but no longer linked,
    d new."""
    links = "".join(f"<p><a href='/site/{name}'>{name}</a></p>" for name in ("b", "c", "d"))
    routes = version_1()
    del routes["/site/c"]
    return routes | {
        "/site/": html_response("Home", "<p>Welcome to the department home page of the example school.</p>" + links),
        "/site/b": html_response("Bursary", paragraphs("bursary", edited=1)),
        "/site/d": html_response("Dormitories", paragraphs("dormitories")),
    }


def data_stages(server: SiteServer, tmp_path: Path, refresh: bool) -> list[str]:
    urls = crawl(server.url("/site/"), tmp_path / "urls.json", sitemaps=False, fetch=FAST, refresh=refresh, quiet=True)
    scrape(tmp_path / "urls.json", tmp_path / "site", refresh=refresh, quiet=True)
    process(tmp_path / "site", chunk_words=40, overlap_words=0, quiet=True)  # a paragraph a chunk
    return urls


@pytest.fixture
def served(server_factory) -> SiteServer:
    server = server_factory(version_1())
    server.etags = True
    return server


def test_refresh_sends_conditional_requests_and_keeps_unchanged_chunks(served, tmp_path):
    server = served
    data_stages(server, tmp_path, refresh=False)
    chunks_1 = (tmp_path / "site" / "chunks.jsonl").read_text().splitlines()
    server.routes = version_2()
    server.log.clear()
    urls = data_stages(server, tmp_path, refresh=True)

    answers = {entry.path: (entry.status, entry.body_bytes) for entry in server.log}
    assert answers["/site/a"] == (304, 0)  # unchanged: asked conditionally, no body sent
    assert answers["/site/b"][0] == 200 and answers["/site/b"][1] > 0
    assert answers["/site/c"] == (404, len(b"<html><body>not found</body></html>"))
    assert "/site/e" not in answers  # no longer linked: not even asked for
    assert sorted(urls) == sorted(server.url(f"/site/{name}") for name in ("", "a", "b", "d"))
    summary = read_json(work_dir_for(tmp_path / "urls.json") / "summary.json")
    assert (summary["generation"], summary["not_modified"], summary["requests"]) == (1, 1, len(server.log))
    # bytes read: the bodies of the 200s (a 404's few bytes and a 304's none are not read)
    assert summary["bytes"] == sum(entry.body_bytes for entry in server.log if entry.status == 200)
    assert summary["added"] == [server.url("/site/d")]
    assert sorted(summary["removed"]) == [server.url("/site/c"), server.url("/site/e")]

    pages = load_pages(tmp_path / "site" / "pages.jsonl")
    assert sorted(pages) == sorted(urls)  # the removed pages' records are gone
    chunks_2 = (tmp_path / "site" / "chunks.jsonl").read_text().splitlines()
    by_url = {url: [line for line in chunks_1 if json.loads(line)["url"] == url] for url in pages}
    assert by_url[server.url("/site/a")] == [line for line in chunks_2 if json.loads(line)["url"].endswith("/a")]
    changes = read_json(tmp_path / "site" / "changes.json")
    changes["pages"]["removed"].sort()  # in the first crawl's order, which its concurrent fetches decide
    assert changes["pages"] == {
        "added": [server.url("/site/d")],
        "changed": [server.url("/site/"), server.url("/site/b")],
        "removed": [server.url("/site/c"), server.url("/site/e")],
        "unchanged": 1,
    }
    old = {(c["url"], c["text"].split(":")[0]): c["id"] for c in map(json.loads, chunks_1)}
    new = {(c["url"], c["text"].split(":")[0]): c["id"] for c in map(json.loads, chunks_2)}
    b1, home = (server.url("/site/b"), "The bursary office handles request 1"), (server.url("/site/"), "Home")
    home_new = next(key for key in new if key[0] == home[0])
    assert {pair["old"]: pair["new"] for pair in changes["chunks"]["changed"]} == {
        old[b1]: new[b1],  # the edited paragraph, paired with the one it replaced
        old[next(key for key in old if key[0] == home[0])]: new[home_new],  # the home page's links changed
    }
    assert all(new[key] == old[key] for key in new if key[0] == b1[0] and key != b1)  # b's other chunks kept


def test_an_interrupted_refresh_resumes_and_ends_as_an_uninterrupted_one(served, tmp_path, monkeypatch):
    server = served
    urls_1 = data_stages(server, tmp_path, refresh=False)
    server.routes = version_2()
    real_record = crawl_module._record

    def killed_after_two(future, url, depth, state, log_file):
        if sum(1 for r in iter_jsonl(log_file._file.name) if r.get("status")) >= len(urls_1) + 2:
            raise KeyboardInterrupt
        real_record(future, url, depth, state, log_file)

    monkeypatch.setattr(crawl_module, "_record", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        crawl(server.url("/site/"), tmp_path / "urls.json", sitemaps=False, fetch=FAST, refresh=True, quiet=True)
    assert read_json(tmp_path / "urls.json") == urls_1  # no partial list of a refresh replaces the last one
    monkeypatch.setattr(crawl_module, "_record", real_record)
    urls = data_stages(server, tmp_path, refresh=True)  # the same command again: resumes the refresh
    summary = read_json(work_dir_for(tmp_path / "urls.json") / "summary.json")
    assert sorted(urls) == sorted(server.url(f"/site/{name}") for name in ("", "a", "b", "d"))
    assert summary["added"] == [server.url("/site/d")] and len(summary["removed"]) == 2
    changes = read_json(tmp_path / "site" / "changes.json")
    assert changes["pages"]["changed"] == [server.url("/site/"), server.url("/site/b")]
    assert sorted(changes["pages"]["removed"]) == [server.url("/site/c"), server.url("/site/e")]


def test_refresh_without_an_earlier_crawl_is_a_user_error(tmp_path):
    from litft.common.errors import LitftError

    with pytest.raises(LitftError, match="--refresh needs an earlier crawl's state"):
        crawl("http://127.0.0.1:9/site/", tmp_path / "urls.json", fetch=FAST, refresh=True, quiet=True)


def test_ingest_refresh_sees_an_edit_within_the_second_and_drops_removed_files(tmp_path):
    from litft.data.acquire.ingest import ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("fees", "dates", "old"):
        (docs / f"{name}.txt").write_text(f"The {name} page says the office opens on day one of the month.")
    other = {"url": "https://site.example/kept", "title": "t", "text": "Another source's page.", "fetched_at": "x"}
    (docs / "pages.jsonl").write_text(json.dumps(other) + "\n")
    ingest(docs, quiet=True)
    first = load_pages(docs / "pages.jsonl")
    stamp = (docs / "fees.txt").stat().st_mtime_ns
    (docs / "fees.txt").write_text("The fees page says the fee is now forty euros a term.")
    os.utime(docs / "fees.txt", ns=(stamp + 1000, stamp + 1000))  # edited within the same second
    (docs / "old.txt").unlink()
    ingest(docs, refresh=True, quiet=True)
    pages = load_pages(docs / "pages.jsonl")
    fees = (docs / "fees.txt").resolve().as_uri()
    assert list(pages) == [url for url in first if not url.endswith("/old.txt")]  # order kept, the removed file gone
    assert pages[fees]["text"] == "The fees page says the fee is now forty euros a term."
    assert pages["https://site.example/kept"] == other  # another source's record is not the refresh's to drop


def test_a_refresh_keeps_one_connection_through_304s_and_404s(served, tmp_path):
    """An answer whose body is not read (a 304, a 404 page) still hands its connection back: one worker's refresh of
    the whole site is one TCP connection, not one per page."""
    server = served
    crawl(server.url("/site/"), tmp_path / "urls.json", sitemaps=False, fetch=FAST, concurrency=1, quiet=True)
    server.routes = version_2()
    server.log.clear()
    crawl(
        server.url("/site/"),
        tmp_path / "urls.json",
        sitemaps=False,
        fetch=FAST,
        concurrency=1,
        refresh=True,
        quiet=True,
    )
    statuses = sorted(entry.status for entry in server.log)
    assert statuses.count(304) >= 1 and 404 in statuses and 200 in statuses
    assert len({entry.client_port for entry in server.log}) == 1, [(e.path, e.client_port) for e in server.log]
