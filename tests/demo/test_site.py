"""The sample website bundled for `litft demo` (litft/demo/site/) and the server that serves it."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import litft
from litft.demo.server import PLACEHOLDER, resolve, serve_demo_site

SITE = Path(litft.__file__).parent / "demo" / "site"
BUILDER = Path(__file__).resolve().parents[2] / "tools" / "demo_site" / "build.py"
PRIVATE = "/private/"


class _PageParser(HTMLParser):
    """Links (a, link), element ids, and the text inside <main>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.main_text: list[str] = []
        self._in_main = 0

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if tag in ("a", "link") and attrs.get("href") is not None:
            self.links.append(attrs["href"])
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "main":
            self._in_main += 1

    def handle_endtag(self, tag) -> None:
        if tag == "main":
            self._in_main -= 1

    def handle_data(self, data) -> None:
        if self._in_main:
            self.main_text.append(data)


@cache
def parsed(url_path: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(read(url_path))
    return parser


def read(url_path: str) -> str:
    target = resolve(SITE, url_path)
    assert target is not None, f"{url_path} does not resolve to a site file"
    return target.read_text(encoding="utf-8")


def page_paths() -> list[str]:
    """Every HTML page as the URL path that names it ("/" for the home page)."""
    paths = []
    for file in sorted(SITE.rglob("*.html")):
        rel = file.relative_to(SITE).as_posix()
        paths.append("/" if rel == "index.html" else "/" + rel)
    return paths


def block(html: str, start: str, end: str) -> str:
    begin = html.index(start)
    return html[begin : html.index(end, begin) + len(end)]


def test_enough_pages_and_main_content():
    pages = page_paths()
    assert len(pages) >= 30
    words = sum(len("".join(parsed(path).main_text).split()) for path in pages)
    assert 20_000 <= words <= 40_000, words  # enough to learn from, small enough for a 5-minute CPU demo


def test_every_internal_link_resolves_and_every_fragment_exists():
    external = set()
    for path in page_paths():
        for href in parsed(path).links:
            parts = urlsplit(href)
            if parts.scheme in ("http", "https"):
                external.add(parts.hostname)
                continue
            if parts.scheme == "mailto":
                continue
            if href.startswith("#"):  # the skip link
                assert parts.fragment in parsed(path).ids, f"{path}: no id {parts.fragment!r}"
                continue
            assert not parts.scheme and href.startswith("/"), f"{path}: link {href!r} is not root-relative"
            assert resolve(SITE, parts.path) is not None, f"{path}: broken link {href!r}"
            if parts.fragment:
                assert parts.fragment in parsed(parts.path).ids, f"{path}: no id {parts.fragment!r} in {parts.path}"
    # some out-of-scope links for the crawler to leave alone, none of them reachable for real
    assert len(external) >= 3
    assert all(host.endswith((".example", ".example.com", ".example.net", ".example.org")) for host in external), (
        external
    )


def test_every_page_has_the_same_boilerplate():
    home = read("/")
    shared = [
        block(home, '<div class="cookie-banner"', "</div>"),
        block(home, '<header class="site-header">', "</header>"),
        block(home, '<footer class="site-footer">', "</footer>"),
    ]
    assert '<nav class="main-nav"' in shared[1] and "Northbridge Institute of Technology" in shared[1]
    assert "&copy; 2025" in shared[2] and "/legal/privacy.html" in shared[2] and "social.example.com" in shared[2]
    sidebars = 0
    for path in page_paths():
        html = read(path)
        for part in shared:
            assert part in html, f"{path} lacks the shared block starting {part[:40]!r}"
        assert '<nav class="breadcrumb"' in html and "<main" in html and "<article>" in html, path
        assert html.count('class="cookie-banner"') == 1, path
        sidebars += '<aside class="sidebar"' in html
    assert sidebars >= 10


def test_robots_disallows_the_private_page_that_pages_link_to():
    from protego import Protego

    robots_txt = read("/robots.txt")
    robots = Protego.parse(robots_txt)
    assert not robots.can_fetch("http://127.0.0.1:8000/private/staff-area.html", "litft")
    assert robots.can_fetch("http://127.0.0.1:8000/courses/cs210.html", "litft")
    assert f"Sitemap: {PLACEHOLDER}/sitemap.xml" in robots_txt
    private_pages = [path for path in page_paths() if path.startswith(PRIVATE)]
    assert private_pages
    linked = {href for path in page_paths() if not path.startswith(PRIVATE) for href in parsed(path).links}
    assert all(page in linked for page in private_pages)


def test_sitemap_lists_exactly_the_public_pages():
    root = ET.fromstring(read("/sitemap.xml"))
    locs = [el.text for el in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert all(loc.startswith(PLACEHOLDER + "/") for loc in locs)
    listed = [loc[len(PLACEHOLDER) :] for loc in locs]
    assert len(listed) == len(set(listed))
    assert set(listed) == {path for path in page_paths() if not path.startswith(PRIVATE)}


def test_facts_agree_across_pages():
    """A few facts that several pages state: each must read the same everywhere it appears."""
    text = {path: " ".join("".join(parsed(path).main_text).split()) for path in page_paths()}
    everywhere = " ".join(text.values())
    assert set(
        re.findall(
            r"(?<!International )[Uu]ndergraduate tuition (?:for [^.$]*)?is (?:a flat )?(\$\d{1,3}(?:,\d{3})*)",
            everywhere,
        )
    ) == {"$24,600"}
    assert set(
        re.findall(r"\b[Gg]raduate tuition is (?:a per-credit charge of )?(\$\d{1,3}(?:,\d{3})*)", everywhere)
    ) == {"$1,150"}
    assert set(re.findall(r"Robotics Lab is located in ([^.]+)\.", everywhere)) == {"Hale Hall, room 204"}
    assert set(
        re.findall(
            r"CS 210 Data Structures is a (\d)-credit course taught by ([A-Z][a-z]+ [A-Z][a-z]+ [A-Z][a-z]+)",
            everywhere,
        )
    ) == {("4", "Professor Amara Okafor")}
    assert set(
        re.findall(
            r"[Rr]egular [Dd]ecision deadline (?:for [\w -]+ )?is (?:the evening of )?([A-Z][a-z]+ \d+)", everywhere
        )
    ) == {"January 15"}
    for path, words in text.items():
        assert "{{" not in words, path


def test_pages_equal_a_fresh_build(tmp_path):
    subprocess.run([sys.executable, str(BUILDER), str(tmp_path)], check=True, capture_output=True)
    built = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    shipped = {p.relative_to(SITE).as_posix() for p in SITE.rglob("*") if p.is_file()} - {"README.md"}
    assert built == shipped
    stale = [name for name in sorted(built) if (tmp_path / name).read_bytes() != (SITE / name).read_bytes()]
    assert not stale, f"run `python tools/demo_site/build.py`: {stale[:5]}"


def _get(url: str, method: str = "GET", host: str | None = None):
    request = urllib.request.Request(url, method=method)
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture(scope="module")
def served():
    server, base_url = serve_demo_site()
    yield base_url
    server.stop()


def test_server_serves_pages_with_content_types(served):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", served)
    status, headers, body = _get(served + "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert body.decode() == read("/") and int(headers["Content-Length"]) == len(body)
    status, headers, body = _get(served + "/courses/cs210.html?utm_source=x")
    assert status == 200 and b"CS 210 Data Structures is a 4-credit course" in body
    assert _get(served + "/static/site.css")[1]["Content-Type"].startswith("text/css")
    status, headers, body = _get(served + "/programs/index.html", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 1000
    for missing in (
        "/nope.html",
        "/README.md",
        "/../pyproject.toml",
        "/%2e%2e/pyproject.toml",
        "/courses/../../tests/x.html",
    ):
        assert _get(served + missing)[0] == 404, missing


def test_server_substitutes_the_base_url(served):
    status, headers, body = _get(served + "/sitemap.xml")
    assert status == 200 and headers["Content-Type"].startswith("application/xml")
    text = body.decode()
    assert PLACEHOLDER not in text and f"<loc>{served}/courses/cs210.html</loc>" in text
    robots = _get(served + "/robots.txt")[2].decode()
    assert f"Sitemap: {served}/sitemap.xml" in robots and "Disallow: /private/" in robots
    port = urlsplit(served).port
    via_localhost = _get(served + "/sitemap.xml", host=f"localhost:{port}")[2].decode()
    assert f"<loc>http://localhost:{port}/</loc>" in via_localhost


def test_every_sitemap_url_is_served(served):
    text = _get(served + "/sitemap.xml")[2].decode()
    locs = re.findall(r"<loc>([^<]+)</loc>", text)
    assert len(locs) >= 30
    for loc in locs:
        assert _get(loc)[0] == 200, loc


def test_stop_releases_the_port():
    server, base_url = serve_demo_site()
    assert _get(base_url + "/")[0] == 200
    server.stop()
    server.stop()  # twice is fine
    with pytest.raises(OSError):
        urllib.request.urlopen(base_url + "/", timeout=2)
