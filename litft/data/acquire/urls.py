"""URL normalisation and crawl scope: decide once, in one place, what counts as the same page and what is ours to fetch.

Normalisation is written by hand on `urllib.parse` because the library candidates do not fit:
courlan keeps fragments and `..` segments, w3lib is not a dependency. The rules are few and tested.
"""

from __future__ import annotations

import fnmatch
import mimetypes
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from litft.common.errors import LitftError

DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only track the visitor and never change the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref_src",
        "spm",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "piwik_", "matomo_")

# Suffixes that are HTML whatever the local mimetypes table says.
HTML_SUFFIXES = frozenset(
    {"", ".html", ".htm", ".xhtml", ".shtml", ".php", ".asp", ".aspx", ".jsp", ".cfm", ".cgi", ".pl"}
)


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Return the canonical form of an http(s) URL (resolved against `base`), or None if it is not one.

    Fragment dropped, scheme and host lower-cased, default port dropped, dot segments resolved,
    tracking parameters dropped, empty path made "/". Query order is kept: some sites depend on it.
    """
    url = url.strip()
    if base is not None:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = parts.path or "/"
    if "/." in path:
        resolved = posixpath.normpath(path)
        path = resolved + ("/" if path.endswith("/") and resolved != "/" else "")
        path = "/" + path.lstrip("/")
    # Filter the raw "k=v" pieces rather than re-encoding them: "?a" and "?a=" can differ to a server.
    kept = [piece for piece in parts.query.split("&") if piece and not _is_tracking(piece.split("=", 1)[0])]
    return urlunsplit((scheme, netloc, path, "&".join(kept), ""))


def _is_tracking(raw_key: str) -> bool:
    key = unquote_plus(raw_key).lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def require_url(url: str) -> str:
    """Normalise a URL the user typed; anything but an absolute http(s) URL is a user error."""
    normalized = normalize_url(url)
    if normalized is None:
        raise LitftError(f"{url!r} is not an absolute http(s) URL; give one like https://example.org/docs/.")
    return normalized


def looks_like_html(url: str) -> bool:
    """Guess from the path's extension whether a URL can be HTML, so PDFs, images and archives are never requested."""
    suffix = posixpath.splitext(urlsplit(url).path)[1].lower()
    if suffix in HTML_SUFFIXES:
        return True
    guessed, _ = mimetypes.guess_type(f"x{suffix}", strict=False)
    return guessed is None or guessed in ("text/html", "application/xhtml+xml")


def _compile_pattern(pattern: str) -> Callable[[str], bool]:
    """`re:...` is a regular expression searched in the URL; anything else is a glob matched against the whole URL."""
    try:
        if pattern.startswith("re:"):
            return re.compile(pattern[3:]).search
        return re.compile(fnmatch.translate(pattern)).fullmatch
    except re.error as error:
        raise LitftError(f"pattern {pattern!r} is not a valid regular expression ({error}); fix it.") from None


@dataclass
class Scope:
    """Which URLs a crawl may fetch: the start URL's host and directory (http or https), plus `allow`, minus `deny`.

    An `allow` entry is a host ("docs.example.org"), a URL prefix ("https://example.org/papers/"), or a
    glob/`re:` pattern; a `deny` entry is a glob or `re:` pattern matched against the normalised URL.
    """

    start_url: str
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.start_url = require_url(self.start_url)
        parts = urlsplit(self.start_url)
        # ".../physics" names a folder as much as ".../physics/" does; ".../physics/index.html" names a file in one.
        last_segment = parts.path.rsplit("/", 1)[1]
        directory = (
            parts.path
            if not last_segment
            else parts.path + "/"
            if "." not in last_segment
            else parts.path[: -len(last_segment)]
        )
        # Both schemes: sites link their own pages as http and https alike (the redirect between them is claimed once).
        self._prefixes = [f"{scheme}://{parts.netloc}{directory}" for scheme in ("https", "http")]
        self._exact = {self.start_url}
        self._hosts: set[str] = set()
        self._allow_patterns: list[Callable[[str], bool]] = []
        for entry in self.allow:
            if any(char in entry for char in "*?[") or entry.startswith("re:"):
                self._allow_patterns.append(_compile_pattern(entry))
            elif "://" in entry:
                self._prefixes.append(require_url(entry))
            else:
                self._hosts.add(entry.lower().strip("/"))
        self._deny_patterns = [_compile_pattern(entry) for entry in self.deny]

    def contains(self, url: str) -> bool:
        """True when a normalised URL is in scope."""
        if any(matches(url) for matches in self._deny_patterns):
            return False
        if url in self._exact or any(url.startswith(prefix) for prefix in self._prefixes):
            return True
        parts = urlsplit(url)
        if parts.netloc in self._hosts or (parts.hostname or "") in self._hosts:
            return True
        return any(matches(url) for matches in self._allow_patterns)
