"""A real HTTP test site on 127.0.0.1 that logs every request, for the crawl and scrape tests."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Response = tuple[int, dict[str, str], bytes]
Route = Callable[["SiteServer", int], Response]  # (server, how many times this path was requested before) -> response


@dataclass
class LoggedRequest:
    path: str
    time: float
    user_agent: str
    status: int = 0  # what the server answered, and how many body bytes it sent
    body_bytes: int = 0
    client_port: int = 0  # one per TCP connection: how many connections the client opened


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """Clients that hang up early (size cap, timeout, a killed crawler) are expected here, not errors."""


@dataclass
class SiteServer:
    """ThreadingHTTPServer in a thread; `routes` maps a path (with query) to a fixed response or a Route."""

    routes: dict[str, Response | Route] = field(default_factory=dict)
    log: list[LoggedRequest] = field(default_factory=list)
    etags: bool = False  # answer 200s with an ETag of the body, and 304 without a body to a matching If-None-Match

    def start(self) -> SiteServer:
        site = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes; do not wait for delayed ACKs

            def do_GET(self) -> None:
                with lock:
                    count = sum(1 for entry in site.log if entry.path == self.path)
                    logged = LoggedRequest(self.path, time.monotonic(), self.headers.get("User-Agent", ""))
                    logged.client_port = self.client_address[1]
                    site.log.append(logged)
                route = site.routes.get(self.path)
                if route is None:
                    status, headers, body = 404, {"Content-Type": "text/html"}, b"<html><body>not found</body></html>"
                elif callable(route):
                    status, headers, body = route(site, count)
                else:
                    status, headers, body = route
                if site.etags and status == 200:
                    headers = {**headers, "ETag": f'"{hashlib.sha1(body).hexdigest()[:16]}"'}
                    if self.headers.get("If-None-Match") == headers["ETag"]:
                        status, body = 304, b""
                logged.status, logged.body_bytes = status, len(body)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if headers.get("Connection") == "close":  # no length: the body ends when the connection does
                        self.close_connection = True
                    elif status != 304:  # a 304 has no body, and its length would be the 200's
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (size cap, timeout): that is what some tests want

            def log_message(self, *args) -> None:
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.origin + path

    def paths(self) -> list[str]:
        return [entry.path for entry in self.log]


def html_page(title: str, body: str, head: str = "") -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title>{head}</head><body>"
        f"<nav><a href='/site/'>Home</a> | <a href='/site/a'>A</a></nav>"
        f"<main><h1>{title}</h1>{body}</main><footer>Copyright Example Department</footer></body></html>"
    ).encode()


def html_response(title: str, body: str, head: str = "") -> Response:
    return 200, {"Content-Type": "text/html; charset=utf-8"}, html_page(title, body, head)


def article(topic: str) -> str:
    """A few distinct paragraphs, so extraction has real main content to find."""
    return "".join(
        f"<p>The {topic} group studies question number {i} in detail, publishing results about {topic} "
        f"methods, {topic} data and the people who work on {topic} problem {i} every single year.</p>"
        for i in range(4)
    )
