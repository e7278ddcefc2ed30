"""Serve the sample website bundled with litft (`litft/demo/site/`) on 127.0.0.1, for `litft demo` and tests.

    server, base_url = serve_demo_site()      # port 0: any free port
    ...                                       # crawl base_url + "/"
    server.stop()

Files are read through `importlib.resources`, so this works from a source checkout, an editable install
and a wheel. The site's robots.txt and sitemap.xml hold the placeholder `{{BASE_URL}}`; it is replaced
at serve time by the origin the client used (`http://127.0.0.1:PORT`), so the site works on any port.
Only the site's own file types are served; anything else is a 404. No torch, no third-party imports.

Version 2 of the site (`site_v2/`: the files that differ, and `removed.txt`; see tools/demo_site/version2.py) is
laid over version 1 when `server.site_version = 2`, which may be switched while it serves, as a site changes
between two crawls. Every response carries an ETag (a hash of its body) and a Last-Modified date (the version
that last changed the file), and a conditional GET that still matches (`If-None-Match`, else
`If-Modified-Since`) is answered 304 with no body, so a refreshed crawl downloads only what changed.
`server.responses` counts the answers by status.
"""

from __future__ import annotations

import collections
import email.utils
import hashlib
import posixpath
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:  # importlib.resources.abc is 3.11+; importlib.abc has it on 3.10
    from importlib.abc import Traversable

PLACEHOLDER = "{{BASE_URL}}"
HOST = "127.0.0.1"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".pdf": "application/pdf",
}
SUBSTITUTED = frozenset({"/robots.txt", "/sitemap.xml"})  # the files whose placeholder is replaced
NOT_FOUND = b"<!DOCTYPE html>\n<html><head><title>Not found</title></head><body><h1>404 Not found</h1></body></html>\n"
# When each version last changed its files (the sitemaps' lastmod): version 1's files, then version 2's overlay.
LAST_MODIFIED = {1: "Sun, 01 Jun 2025 00:00:00 GMT", 2: "Wed, 01 Oct 2025 00:00:00 GMT"}
VERSIONS = (1, 2)
REMOVED_FILE = "removed.txt"
_HOST_HEADER = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def site_root(version: int = 1) -> Traversable:
    """The packaged demo site's top folder (version 2: the folder of the files version 2 changed)."""
    return resources.files("litft").joinpath("demo", "site" if version == 1 else f"site_v{version}")


def removed_paths(overlay: Traversable) -> frozenset[str]:
    """The URL paths a later version no longer has (its removed.txt: one site path a line)."""
    listed = overlay.joinpath(REMOVED_FILE)
    lines = listed.read_text(encoding="utf-8").splitlines() if listed.is_file() else []
    return frozenset("/" + line.strip() for line in lines if line.strip())


def resolve(root: Traversable, url_path: str) -> Traversable | None:
    """The site file a URL path names ("/" and "/dir/" mean their index.html), or None."""
    path = unquote(url_path)
    if path.endswith("/"):
        path += "index.html"
    parts = path.split("/")[1:]
    if not path.startswith("/") or any(
        part in ("", ".", "..") or part.startswith(".") or "\\" in part for part in parts
    ):
        return None
    if posixpath.splitext(path)[1].lower() not in CONTENT_TYPES:
        return None
    target = root.joinpath(*parts)
    return target if target.is_file() else None


class DemoSiteServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer bound to 127.0.0.1 that serves the demo site; `stop()` shuts it down."""

    daemon_threads = True

    def __init__(self, port: int = 0, root: Traversable | None = None, site_version: int = 1) -> None:
        if site_version not in VERSIONS:
            raise ValueError(f"the demo site has versions {VERSIONS}, not {site_version}")
        self.root = root if root is not None else site_root()
        self.site_version = site_version
        self.overlay = site_root(2)
        self.removed = removed_paths(self.overlay)
        self.responses: collections.Counter[int] = collections.Counter()
        self._count_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__((HOST, port), _Handler)

    def lookup(self, url_path: str) -> tuple[Traversable | None, int]:
        """The file a URL path names in the version served now, and the version that last changed it."""
        if self.site_version == 2:
            path = unquote(url_path) + ("index.html" if url_path.endswith("/") else "")
            if path in self.removed or path == "/" + REMOVED_FILE:
                return None, 2
            changed = resolve(self.overlay, url_path)
            if changed is not None:
                return changed, 2
        return resolve(self.root, url_path), 1

    def count(self, status: int) -> None:
        with self._count_lock:
            self.responses[status] += 1

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def start(self) -> DemoSiteServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name="litft-demo-site", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def __enter__(self) -> DemoSiteServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def handle_error(self, request, client_address) -> None:
        """Clients that hang up early (a crawler stopped mid-page) are not errors worth printing."""


class _Handler(BaseHTTPRequestHandler):
    server: DemoSiteServer
    protocol_version = "HTTP/1.1"
    server_version = "litft-demo-site/1"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _respond(self, send_body: bool) -> None:
        url_path = urlsplit(self.path).path or "/"
        target, version = self.server.lookup(url_path)
        validators: dict[str, str] = {}
        if target is None:
            status, content_type, body = HTTPStatus.NOT_FOUND, CONTENT_TYPES[".html"], NOT_FOUND
        else:
            status, body = HTTPStatus.OK, target.read_bytes()
            content_type = CONTENT_TYPES[posixpath.splitext(target.name)[1].lower()]
            if unquote(url_path) in SUBSTITUTED:
                body = body.replace(PLACEHOLDER.encode(), self._origin().encode())
            validators = {"ETag": f'"{hashlib.sha256(body).hexdigest()[:32]}"', "Last-Modified": LAST_MODIFIED[version]}
            if self._not_modified(validators):
                status, body, send_body = HTTPStatus.NOT_MODIFIED, b"", False
        self.server.count(int(status))
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in validators.items():
                self.send_header(name, value)
            if status != HTTPStatus.NOT_MODIFIED:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _not_modified(self, validators: dict[str, str]) -> bool:
        """Whether the client's copy is current: If-None-Match when sent (RFC 9110 13.2.2), else If-Modified-Since."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or validators["ETag"] in tags
        since = self.headers.get("If-Modified-Since")
        if not since:
            return False
        try:
            return email.utils.parsedate_to_datetime(validators["Last-Modified"]) <= email.utils.parsedate_to_datetime(
                since
            )
        except (TypeError, ValueError):  # an unreadable date (or one without a zone) is ignored, as RFC 9110 asks
            return False

    def _origin(self) -> str:
        """The origin the client asked for (its Host header), so links stay in its crawl scope."""
        host = self.headers.get("Host", "")
        return f"http://{host}" if _HOST_HEADER.match(host) else self.server.base_url

    def log_message(self, format: str, *args) -> None:
        pass


def serve_demo_site(port: int = 0, site_version: int = 1) -> tuple[DemoSiteServer, str]:
    """Serve the bundled demo site (version 1 or 2) on 127.0.0.1:`port` (0: a free port) in a background thread.

    Returns the running server and its base URL ("http://127.0.0.1:PORT", no trailing slash);
    call `server.stop()` (or use the server as a context manager) when done.
    """
    server = DemoSiteServer(port, site_version=site_version).start()
    return server, server.base_url
