"""Serve the sample website bundled with litft (`litft/demo/site/`) on 127.0.0.1, for `litft demo` and tests.

    server, base_url = serve_demo_site()      # port 0: any free port
    ...                                       # crawl base_url + "/"
    server.stop()

Files are read through `importlib.resources`, so this works from a source checkout, an editable install
and a wheel. The site's robots.txt and sitemap.xml hold the placeholder `{{BASE_URL}}`; it is replaced
at serve time by the origin the client used (`http://127.0.0.1:PORT`), so the site works on any port.
Only the site's own file types are served; anything else is a 404. No torch, no third-party imports.
"""

from __future__ import annotations

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
_HOST_HEADER = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def site_root() -> Traversable:
    """The packaged demo site's top folder."""
    return resources.files("litft").joinpath("demo", "site")


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

    def __init__(self, port: int = 0, root: Traversable | None = None) -> None:
        self.root = root if root is not None else site_root()
        self._thread: threading.Thread | None = None
        super().__init__((HOST, port), _Handler)

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
        target = resolve(self.server.root, url_path)
        if target is None:
            status, content_type, body = HTTPStatus.NOT_FOUND, CONTENT_TYPES[".html"], NOT_FOUND
        else:
            status, body = HTTPStatus.OK, target.read_bytes()
            content_type = CONTENT_TYPES[posixpath.splitext(target.name)[1].lower()]
            if unquote(url_path) in SUBSTITUTED:
                body = body.replace(PLACEHOLDER.encode(), self._origin().encode())
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _origin(self) -> str:
        """The origin the client asked for (its Host header), so links stay in its crawl scope."""
        host = self.headers.get("Host", "")
        return f"http://{host}" if _HOST_HEADER.match(host) else self.server.base_url

    def log_message(self, format: str, *args) -> None:
        pass


def serve_demo_site(port: int = 0) -> tuple[DemoSiteServer, str]:
    """Serve the bundled demo site on 127.0.0.1:`port` (0: a free port) in a background thread.

    Returns the running server and its base URL ("http://127.0.0.1:PORT", no trailing slash);
    call `server.stop()` (or use the server as a context manager) when done.
    """
    server = DemoSiteServer(port).start()
    return server, server.base_url
