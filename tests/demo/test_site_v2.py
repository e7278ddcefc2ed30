"""Version 2 of the demo site (a few facts changed, a course added, a news page removed) and the conditional
requests the demo server answers with 304, for `litft demo --refresh` and `crawl --refresh`."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path

import pytest

import litft
from litft.demo.server import serve_demo_site

SITE_V2 = Path(litft.__file__).parent / "demo" / "site_v2"
BUILDER = Path(__file__).resolve().parents[2] / "tools" / "demo_site" / "build.py"
CHANGED = "/admissions/deadlines.html"
UNCHANGED = "/about/history.html"
REMOVED = "/news/old-harbour-bridge-monitoring.html"
ADDED = "/courses/cs360.html"


@pytest.fixture
def server():
    server, _ = serve_demo_site()
    yield server
    server.stop()


def _get(server, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_version_2_equals_a_fresh_build(tmp_path):
    subprocess.run([sys.executable, str(BUILDER), str(tmp_path), "--version", "2"], check=True, capture_output=True)
    built = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    shipped = {p.relative_to(SITE_V2).as_posix(): p.read_bytes() for p in SITE_V2.rglob("*") if p.is_file()}
    assert built == shipped, "run `python tools/demo_site/build.py --version 2`"
    assert built["removed.txt"] == b"news/old-harbour-bridge-monitoring.html\n"


def test_the_server_switches_to_version_2_while_serving(server):
    v1 = {path: _get(server, path) for path in (CHANGED, UNCHANGED, REMOVED, ADDED, "/removed.txt")}
    server.site_version = 2
    v2 = {path: _get(server, path) for path in (CHANGED, UNCHANGED, REMOVED, ADDED, "/removed.txt")}

    assert b"January 15" in v1[CHANGED][2] and b"January 15" not in v2[CHANGED][2] and b"January 8" in v2[CHANGED][2]
    assert v1[UNCHANGED][2] == v2[UNCHANGED][2] and v1[UNCHANGED][1]["ETag"] == v2[UNCHANGED][1]["ETag"]
    assert v1[CHANGED][1]["ETag"] != v2[CHANGED][1]["ETag"]
    assert [v1[p][0] for p in (REMOVED, ADDED, "/removed.txt")] == [200, 404, 404]
    assert [v2[p][0] for p in (REMOVED, ADDED, "/removed.txt")] == [404, 200, 404]
    assert b"CS 360 Machine Learning Systems" in v2[ADDED][2]
    sitemap = _get(server, "/sitemap.xml")[2].decode()
    assert f"{ADDED}</loc><lastmod>2025-10-01<" in sitemap and REMOVED not in sitemap
    assert f"{UNCHANGED}</loc><lastmod>2025-06-01<" in sitemap


def test_conditional_requests_get_304_without_a_body_until_the_page_changes(server):
    first = {path: _get(server, path)[1] for path in (CHANGED, UNCHANGED)}
    assert first[CHANGED]["Last-Modified"] == "Sun, 01 Jun 2025 00:00:00 GMT"
    status, headers, body = _get(server, CHANGED, **{"If-None-Match": first[CHANGED]["ETag"]})
    assert (status, body, headers["ETag"]) == (304, b"", first[CHANGED]["ETag"])
    assert _get(server, CHANGED, **{"If-Modified-Since": first[CHANGED]["Last-Modified"]})[:3:2] == (304, b"")

    server.site_version = 2
    by_tag = {path: _get(server, path, **{"If-None-Match": first[path]["ETag"]}) for path in first}
    by_date = {path: _get(server, path, **{"If-Modified-Since": first[path]["Last-Modified"]}) for path in first}
    assert (by_tag[UNCHANGED][0], by_tag[UNCHANGED][2]) == (304, b"")
    assert by_tag[CHANGED][0] == 200 and b"January 8" in by_tag[CHANGED][2]
    assert by_tag[CHANGED][1]["Last-Modified"] == "Wed, 01 Oct 2025 00:00:00 GMT"
    assert [by_date[UNCHANGED][0], by_date[CHANGED][0]] == [304, 200]
    # A stale tag with a current date: If-None-Match decides (RFC 9110), so the changed page is sent.
    both = {"If-None-Match": first[CHANGED]["ETag"], "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
    assert _get(server, CHANGED, **both)[0] == 200
    assert _get(server, REMOVED, **{"If-None-Match": "*"})[0] == 404
    assert server.responses == {200: 5, 304: 4, 404: 1}
