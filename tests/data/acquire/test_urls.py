"""URL normalisation, scope and the HTML-extension guess."""

from __future__ import annotations

import pytest

from litft.common.errors import LitftError
from litft.data.acquire.urls import Scope, looks_like_html, normalize_url, require_url


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("HTTP://Example.COM:80/a/b/../c?utm_source=x&b=2&a#frag", "http://example.com/a/c?b=2&a"),
        ("https://Example.com:443", "https://example.com/"),
        ("https://example.com:8443/x/./y/", "https://example.com:8443/x/y/"),
        ("http://example.com/p?fbclid=1&q=a+b%20c&gclid=2&UTM_Campaign=z", "http://example.com/p?q=a+b%20c"),
        ("http://example.com/p?utm_medium=email", "http://example.com/p"),
        ("http://example.com./p", "http://example.com/p"),
        ("http://[::1]:80/x", "http://[::1]/x"),
    ],
)
def test_normalize_url(raw, expected):
    assert normalize_url(raw) == expected
    assert normalize_url(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "raw", ["mailto:a@b.org", "javascript:void(0)", "ftp://example.com/", "tel:+123", "http://", "http://x:99999/"]
)
def test_normalize_url_rejects_non_web(raw):
    assert normalize_url(raw) is None


def test_relative_links_resolve_against_base():
    assert normalize_url("../b?x=1#y", base="http://h.org/a/c/d.html") == "http://h.org/a/b?x=1"
    assert normalize_url("//other.org/z", base="https://h.org/") == "https://other.org/z"


def test_require_url_is_a_user_error():
    with pytest.raises(LitftError, match="not an absolute http"):
        require_url("example.org/docs")


def test_scope_defaults_to_host_and_directory():
    scope = Scope("http://h.org:8000/dept/cs/index.html")
    assert scope.contains("http://h.org:8000/dept/cs/people")
    assert scope.contains("http://h.org:8000/dept/cs/")
    assert not scope.contains("http://h.org:8000/dept/math/")
    assert not scope.contains("http://h.org/dept/cs/people")  # another port is another site
    assert scope.contains("https://h.org:8000/dept/cs/people")  # the other scheme is the same site


def test_scope_of_a_start_url_without_trailing_slash_is_its_folder():
    scope = Scope("https://uni.example/physics")
    assert scope.contains("https://uni.example/physics")
    assert scope.contains("https://uni.example/physics/")
    assert scope.contains("https://uni.example/physics/people")
    assert not scope.contains("https://uni.example/chemistry/")
    assert not scope.contains("https://uni.example/physicsfoo")
    assert Scope("https://uni.example/").contains("https://uni.example/anything")


def test_scope_allow_and_deny():
    scope = Scope(
        "http://h.org/cs/",
        allow=["docs.h.org", "http://h.org/papers/", "*/shared/*"],
        deny=["*/cs/calendar/*", "re:[?&]page=\\d+"],
    )
    assert scope.contains("http://docs.h.org/anything")
    assert scope.contains("http://h.org/papers/p1")
    assert scope.contains("http://x.org/shared/file")
    assert not scope.contains("http://h.org/cs/calendar/2024")
    assert not scope.contains("http://h.org/cs/news?page=3")
    assert scope.contains("http://h.org/cs/news?pageview=3")


def test_invalid_deny_regex_is_a_user_error():
    with pytest.raises(LitftError, match="not a valid regular expression"):
        Scope("http://h.org/", deny=["re:(unclosed"])


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://h.org/a", True),
        ("http://h.org/a/", True),
        ("http://h.org/a.html", True),
        ("http://h.org/a.php?x=1", True),
        ("http://h.org/news/2024.10", True),
        ("http://h.org/a.pdf", False),
        ("http://h.org/a.JPG", False),
        ("http://h.org/a.zip", False),
        ("http://h.org/a.mp4", False),
        ("http://h.org/style.css", False),
    ],
)
def test_looks_like_html(url, expected):
    assert looks_like_html(url) is expected
