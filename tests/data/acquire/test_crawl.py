"""The crawler against a real local site: scope, robots.txt, redirects, retries, size and time caps, resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from litft.common.errors import LitftError
from litft.common.io import iter_jsonl
from litft.data.acquire.crawl import crawl
from litft.data.acquire.fetch import FetchSettings, HostRateLimiter
from litft.data.acquire.page_cache import read_cached, work_dir_for
from tests.support.local_site import article, html_page, html_response

REPO = Path(__file__).resolve().parents[3]
FAST = dict(rate_limit=0, timeout=0.5, retries=2, backoff=0.01, contact="tests@example.org")

IN_SCOPE_HTML = {
    "/site/",
    "/site/a",
    "/site/b",
    "/site/nested/",
    "/site/nested/deep/page",
    "/site/from-sitemap",
    "/site/flaky",
    "/site/ratelimited",
    "/site/latin1",
    "/site/latin1-meta",
    "/site/dup-a",
    "/site/dup-b",
    "/site/about",
}


def flaky(server, count):
    return (500, {"Content-Type": "text/html"}, b"oops") if count < 2 else html_response("Flaky", article("flaky"))


def rate_limited(server, count):
    if count == 0:
        return 429, {"Retry-After": "1", "Content-Type": "text/plain"}, b"slow down"
    return html_response("Rate limited", article("patience"))


def slow(server, count):
    time.sleep(1.5)
    return html_response("Slow", article("slow"))


HUGE_BODY = b"<html><body>" + b"<p>" + b"filler word " * (20 * 1024 * 1024 // 12) + b"</p></body></html>"


def build_site(server, external) -> None:
    links = "".join(
        f"<a href='{href}'>{href}</a> "
        for href in [
            "a",
            "b?utm_source=news&utm_medium=email#top",
            "nested/",
            "private/secret",
            "/outside/page",
            external.url("/ext"),
            "loop1",
            "moved",
            "moved-out",
            "flaky",
            "ratelimited",
            "slow",
            "report.pdf",
            "photo.jpg",
            "doc",
            "latin1",
            "latin1-meta",
            "huge",
            "dup-a",
            "dup-b",
            "alias",
            "noindex",
            "mailto:x@example.org",
            "javascript:void(0)",
            f"HTTP://127.0.0.1:{server.httpd.server_address[1]}/site/a#again",
        ]
    )
    duplicate = html_response("Duplicate", article("duplicate"))
    server.routes.update(
        {
            "/robots.txt": (
                200,
                {"Content-Type": "text/plain"},
                f"User-agent: *\nDisallow: /site/private/\nSitemap: {server.url('/sitemap.xml')}\n".encode(),
            ),
            "/sitemap.xml": (
                200,
                {"Content-Type": "application/xml"},
                (
                    "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                    f"<sitemap><loc>{server.url('/sitemap-pages.xml')}</loc></sitemap></sitemapindex>"
                ).encode(),
            ),
            "/sitemap-pages.xml": (
                200,
                {"Content-Type": "application/xml"},
                (
                    "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                    f"<url><loc>{server.url('/site/from-sitemap')}</loc></url><url><loc>{server.url('/site/a')}</loc></url>"
                    f"<url><loc>{server.url('/outside/sitemapped')}</loc></url></urlset>"
                ).encode(),
            ),
            "/site/": html_response("Home", article("home") + links),
            "/site/a": html_response("Page A", article("alpha")),
            "/site/b": html_response("Page B", article("beta") + "<a href='nested/'>nested</a>"),
            "/site/nested/": html_response("Nested", article("nesting") + "<a href='deep/page'>deep</a>"),
            "/site/nested/deep/page": html_response("Deep", article("depth")),
            "/site/from-sitemap": html_response("Sitemap only", article("sitemap")),
            "/site/private/secret": html_response("Secret", article("secret")),
            "/outside/page": html_response("Outside", article("outside")),
            "/outside/sitemapped": html_response("Outside", article("outside")),
            "/site/loop1": (302, {"Location": "/site/loop2"}, b""),
            "/site/loop2": (302, {"Location": "/site/loop1"}, b""),
            "/site/moved": (301, {"Location": server.url("/site/b")}, b""),
            "/site/moved-out": (302, {"Location": "/outside/moved-here"}, b""),
            "/site/flaky": flaky,
            "/site/ratelimited": rate_limited,
            "/site/slow": slow,
            "/site/report.pdf": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4 not really"),
            "/site/photo.jpg": (200, {"Content-Type": "image/jpeg"}, b"\xff\xd8\xff"),
            "/site/doc": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4 not really"),
            "/site/latin1": (
                200,
                {"Content-Type": "text/html; charset=iso-8859-1"},
                html_page(
                    "Latin",
                    "<p>Caf\u00e9 in Z\u00fcrich, die Stra\u00dfe und das Gr\u00fc\u00dfen "
                    "der Professoren am Institut.</p>" + article("latin"),
                )
                .decode()
                .encode("latin-1"),
            ),
            "/site/latin1-meta": (
                200,
                {"Content-Type": "text/html"},
                html_page(
                    "Meta",
                    "<p>\u201cQuoted\u201d na\u00efve r\u00e9sum\u00e9 text for the seminar series.</p>"
                    + article("meta"),
                    head="<meta charset='windows-1252'>",
                )
                .decode()
                .encode("cp1252"),
            ),
            "/site/huge": (200, {"Content-Type": "text/html"}, HUGE_BODY),
            "/site/dup-a": duplicate,
            "/site/dup-b": duplicate,
            "/site/alias": html_response(
                "About", article("about"), head=f"<link rel='canonical' href='{server.url('/site/about')}'>"
            ),
            "/site/about": html_response("About", article("about"), head="<link rel='canonical' href='/site/about'>"),
            "/site/noindex": html_response("Hidden", article("hidden"), head="<meta name='robots' content='noindex'>"),
        }
    )


@pytest.fixture
def site(server_factory):
    server, external = server_factory({}), server_factory({})
    build_site(server, external)
    return server, external


def test_crawl_finds_exactly_the_in_scope_html_pages(site, tmp_path):
    server, external = site
    out = tmp_path / "urls.json"
    urls = crawl(
        server.url("/site/"), out=out, concurrency=4, fetch=FetchSettings(max_bytes=5_000_000, **FAST), quiet=True
    )

    assert json.loads(out.read_text()) == urls
    assert {url.removeprefix(server.origin) for url in urls} == IN_SCOPE_HTML
    assert len(urls) == len(set(urls))

    requested = server.paths()
    assert external.log == []
    assert not [path for path in requested if path.startswith(("/outside", "/site/private"))]
    assert not [path for path in requested if path.endswith((".pdf", ".jpg"))]
    assert requested.count("/robots.txt") == 1
    for path in IN_SCOPE_HTML - {"/site/flaky", "/site/ratelimited", "/site/about"}:
        assert requested.count(path) == 1, path
    assert requested.count("/site/flaky") == 3  # 500, 500, 200
    assert requested.count("/site/ratelimited") == 2  # 429, then 200
    assert requested.count("/site/alias") + requested.count("/site/about") == 1  # canonical: one page, one fetch
    assert requested.count("/site/slow") == 3  # timed out on every attempt
    assert requested.count("/site/loop1") == 1 and requested.count("/site/loop2") == 1
    assert all(
        entry.user_agent.startswith("litft/") and "tests@example.org" in entry.user_agent for entry in server.log
    )

    retries = [entry.time for entry in server.log if entry.path == "/site/ratelimited"]
    assert retries[1] - retries[0] >= 0.95  # Retry-After: 1 honoured

    reasons = {
        r["url"].removeprefix(server.origin): r.get("reason", "")
        for r in iter_jsonl(work_dir_for(out) / "state.jsonl")
        if "url" in r
    }
    assert "robots.txt" in reasons["/site/private/secret"]
    assert "loop" in reasons["/site/loop1"]
    assert "max_bytes" in reasons["/site/huge"]
    assert "not HTML" in reasons["/site/doc"]
    assert "out of scope" in reasons["/site/moved-out"]
    assert "Timeout" in reasons["/site/slow"]

    cached = read_cached(work_dir_for(out) / "pages", server.url("/site/latin1"))
    assert cached is not None and "Caf\u00e9 in Z\u00fcrich, die Stra\u00dfe" in cached[0]
    cached = read_cached(work_dir_for(out) / "pages", server.url("/site/latin1-meta"))
    assert cached is not None and "\u201cQuoted\u201d na\u00efve r\u00e9sum\u00e9" in cached[0]


def test_crawl_limits_pages_and_depth(site, tmp_path):
    server, _ = site
    urls = crawl(server.url("/site/"), out=tmp_path / "u.json", max_depth=0, fetch=FetchSettings(**FAST), quiet=True)
    assert urls == [server.url("/site/")]  # sitemap pages are depth 1

    urls = crawl(
        server.url("/site/"),
        out=tmp_path / "v.json",
        max_pages=3,
        sitemaps=False,
        concurrency=1,
        fetch=FetchSettings(**FAST),
        quiet=True,
    )
    assert [url.removeprefix(server.origin) for url in urls] == ["/site/", "/site/a", "/site/b"]


def test_crawl_allow_and_deny(site, tmp_path):
    server, external = site
    external.routes["/ext"] = html_response("External", article("external"))
    urls = crawl(
        server.url("/site/"),
        out=tmp_path / "u.json",
        allow=[f"127.0.0.1:{external.httpd.server_address[1]}"],
        deny=["*/nested/*", "re:dup-[ab]$", "*/slow"],
        sitemaps=False,
        fetch=FetchSettings(**FAST),
        quiet=True,
    )
    paths = {url.split("/", 3)[3] for url in urls}
    assert "ext" in paths and external.paths().count("/ext") == 1
    assert not [path for path in server.paths() if "nested" in path or "dup-" in path or "slow" in path]
    assert "site/a" in paths


def test_every_request_waits_on_the_host_limiter_with_robots_crawl_delay(server_factory, tmp_path, monkeypatch):
    """The limiter's spacing is checked against a fake clock in test_fetch; here: the crawl routes every
    request through it, with the configured rate and robots' Crawl-delay (no wall-clock assertions)."""
    waits = []
    original_wait = HostRateLimiter.wait

    def recording_wait(self, host, crawl_delay=0.0):
        waits.append((self._interval, crawl_delay))
        original_wait(self, host, crawl_delay)

    monkeypatch.setattr(HostRateLimiter, "wait", recording_wait)
    server = server_factory({})
    pages = {f"/s/p{i}": html_response(f"P{i}", article(f"topic{i}")) for i in range(6)}
    server.routes.update(pages)
    server.routes["/s/"] = html_response("Index", "".join(f"<a href='{path}'>x</a>" for path in pages))
    crawl(
        server.url("/s/"),
        out=tmp_path / "u.json",
        concurrency=6,
        sitemaps=False,
        fetch=FetchSettings(**{**FAST, "rate_limit": 8.0}),
        quiet=True,
    )
    assert len(server.log) == len(waits) == 8  # robots.txt + 7 pages, each after a wait
    assert {interval for interval, _ in waits} == {1 / 8}

    waits.clear()
    server.log.clear()
    server.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nCrawl-delay: 0.2\n")
    crawl(
        server.url("/s/"),
        out=tmp_path / "v.json",
        concurrency=6,
        sitemaps=False,
        fetch=FetchSettings(**FAST),
        quiet=True,
    )
    page_waits = waits[1:]  # the first wait is for robots.txt itself, before its Crawl-delay is known
    assert len(page_waits) == 7 and {delay for _, delay in page_waits} == {0.2}


def test_unreachable_site_names_the_connection_problem(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LitftError, match="robots.txt, which could not be read: .*(refused|connect)"):
        crawl(
            f"http://127.0.0.1:{port}/s/",
            out=tmp_path / "u.json",
            sitemaps=False,
            fetch=FetchSettings(**FAST),
            quiet=True,
        )


def test_robots_unreachable_means_disallowed(server_factory, tmp_path):
    server = server_factory({"/robots.txt": (503, {}, b"down"), "/s/": html_response("Index", article("x"))})
    with pytest.raises(
        LitftError,
        match=r"start URL .*/s/ could not be crawled \(disallowed by robots.txt, which could not be read: HTTP 503",
    ):
        crawl(server.url("/s/"), out=tmp_path / "u.json", sitemaps=False, fetch=FetchSettings(**FAST), quiet=True)
    assert set(server.paths()) == {"/robots.txt"}
    assert not (tmp_path / "u.json").exists()  # a failed crawl writes no empty list


def test_bad_start_url_and_foreign_state_are_user_errors(site, tmp_path):
    server, _ = site
    with pytest.raises(LitftError, match="not an absolute http"):
        crawl("ftp://example.org/", out=tmp_path / "u.json")
    with pytest.raises(LitftError, match="not an absolute http"):
        crawl("site/index.html", out=tmp_path / "u.json")
    crawl(
        server.url("/site/a"),
        out=tmp_path / "u.json",
        max_pages=1,
        sitemaps=False,
        fetch=FetchSettings(**FAST),
        quiet=True,
    )
    with pytest.raises(LitftError, match="holds a crawl of"):
        crawl(server.url("/site/b"), out=tmp_path / "u.json", fetch=FetchSettings(**FAST), quiet=True)


@pytest.mark.parametrize(
    "out, message",
    [
        ("folder", "--out folder is a folder; give a file path."),
        ("file.json/u.json", "cannot be created: file.json is a file, not a folder."),
        ("u.json", "u.crawl (where the crawl keeps its state beside --out) is a file"),
    ],
)
def test_outputs_are_checked_before_any_fetch(site, tmp_path, monkeypatch, out, message):
    server, _ = site
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.json").write_text("[]")
    (tmp_path / "u.crawl").write_text("not a folder")
    requests = len(server.log)
    with pytest.raises(LitftError, match=re.escape(message)):
        crawl(server.url("/site/"), out=Path(out), fetch=FetchSettings(**FAST), quiet=True)
    assert len(server.log) == requests and (tmp_path / "file.json").read_text() == "[]"


@pytest.mark.slow
def test_crawl_resumes_after_kill_without_refetching(server_factory, tmp_path):
    server = server_factory({})
    # A tree of 40 pages: the index links to 8 sections, each section to 4 leaves.
    for section in range(8):
        leaves = [f"/t/s{section}/leaf{leaf}" for leaf in range(4)]
        server.routes[f"/t/s{section}/"] = html_response(
            f"S{section}", article(f"s{section}") + "".join(f"<a href='{p}'>l</a>" for p in leaves)
        )
        for path in leaves:
            server.routes[path] = html_response(path, article(path))
    server.routes["/t/"] = html_response("Tree", "".join(f"<a href='/t/s{s}/'>s</a>" for s in range(8)))
    expected = {server.url(path) for path in server.routes if path.startswith("/t/")}
    out = tmp_path / "urls.json"
    state_path = work_dir_for(out) / "state.jsonl"

    command = [
        sys.executable,
        str(REPO / "scripts" / "get_subpages.py"),
        server.url("/t/"),
        str(out),
        "--quiet",
        "true",
        "--concurrency",
        "2",
        "--fetch.rate_limit",
        "15",
        "--fetch.backoff",
        "0.01",
        "--sitemaps",
        "false",
    ]
    process = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not state_path.exists() or state_path.read_text().count("\n") < 12):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists()  # killed mid-crawl: no output yet, only the state

    finished_before = {r["url"] for r in iter_jsonl(state_path, skip_torn_tail=True) if r.get("status") == "ok"}
    assert 10 <= len(finished_before) < len(expected)
    requests_before = len(server.log)
    with open(state_path, "a") as state_file:
        state_file.write('{"url": "http://127.0.0.1/torn by the ki')  # what a kill in the middle of a write leaves

    urls = crawl(server.url("/t/"), out=out, concurrency=2, sitemaps=False, fetch=FetchSettings(**FAST), quiet=True)
    assert set(urls) == expected and len(urls) == len(expected)
    refetched = {server.url(entry.path) for entry in server.log[requests_before:]} & finished_before
    assert refetched == set()
    assert all(read_cached(work_dir_for(out) / "pages", url) for url in urls)
    assert len([r for r in iter_jsonl(state_path) if r.get("status") == "ok"]) == len(
        expected
    )  # torn line cut, all parse


@pytest.mark.parametrize("command", ["crawl", "scrape", "ingest", "process"])
def test_cli_commands_load_and_describe_themselves(command, capsys):
    from litft.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "--quiet" in capsys.readouterr().out


def test_litft_crawl_command_runs(site, tmp_path, capsys):
    from litft.cli import main

    server, _ = site
    main(
        [
            "crawl",
            server.url("/site/a"),
            str(tmp_path / "u.json"),
            "--max_pages",
            "1",
            "--sitemaps",
            "false",
            "--fetch.rate_limit",
            "0",
            "--fetch.contact",
            "me@example.org",
        ]
    )
    assert json.loads((tmp_path / "u.json").read_text()) == [server.url("/site/a")]
    assert "crawl: 1 pages listed" in capsys.readouterr().err
