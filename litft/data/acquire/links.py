"""Finding URLs in documents: the links, canonical URL and robots meta of an HTML page, and the URLs of a sitemap."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field

import lxml.etree
import lxml.html

from litft.data.acquire.urls import normalize_url

SITEMAP_MAX_BYTES = 50_000_000  # the sitemaps.org limit for one uncompressed sitemap


@dataclass
class PageLinks:
    """What a page tells the crawler: where it links, what it calls itself, whether it may be indexed or followed."""

    links: list[str] = field(default_factory=list)
    canonical: str | None = None
    noindex: bool = False
    nofollow: bool = False


def _rel_tokens(element: lxml.html.HtmlElement) -> set[str]:
    return set((element.get("rel") or "").lower().split())


def page_links(html: str, url: str) -> PageLinks:
    """Normalised absolute http(s) links of a page, in document order without repeats, honouring <base href>."""
    try:
        document = lxml.html.document_fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (lxml.etree.ParserError, ValueError):
        return PageLinks()
    base = url
    for base_element in document.iter("base"):
        if base_element.get("href"):
            base = normalize_url(base_element.get("href"), base=url) or url
            break
    result = PageLinks()
    for meta in document.iter("meta"):
        if (meta.get("name") or "").lower() in ("robots", "litft"):
            directives = {token.strip() for token in (meta.get("content") or "").lower().split(",")}
            result.noindex |= bool(directives & {"noindex", "none"})
            result.nofollow |= bool(directives & {"nofollow", "none"})
    for link in document.iter("link"):
        if "canonical" in _rel_tokens(link) and link.get("href"):
            result.canonical = normalize_url(link.get("href"), base=base)
            break
    seen: set[str] = set()
    for anchor in document.iter("a", "area"):
        href = anchor.get("href")
        if not href or "nofollow" in _rel_tokens(anchor):
            continue
        target = normalize_url(href, base=base)
        if target is not None and target not in seen:
            seen.add(target)
            result.links.append(target)
    return result


@dataclass
class Sitemap:
    """A parsed sitemap: page URLs, or for a sitemap index, the URLs of more sitemaps."""

    urls: list[str]
    is_index: bool


def parse_sitemap(body: bytes) -> Sitemap:
    """Parse an XML sitemap or sitemap index (gzipped or not); a plain-text sitemap is one URL per line."""
    if body[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            body = stream.read(SITEMAP_MAX_BYTES)
    stripped = body.lstrip()
    if not stripped.startswith(b"<"):
        lines = [line.strip() for line in body.decode("utf-8", errors="replace").splitlines()]
        return Sitemap(urls=[line for line in lines if line.startswith(("http://", "https://"))], is_index=False)
    # No entities, no network: a sitemap is untrusted input.
    parser = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    root = lxml.etree.fromstring(stripped, parser=parser)
    if root is None:
        return Sitemap(urls=[], is_index=False)
    urls = [element.text.strip() for element in root.iter("{*}loc", "loc") if element.text and element.text.strip()]
    return Sitemap(urls=list(dict.fromkeys(urls)), is_index=lxml.etree.QName(root).localname == "sitemapindex")
