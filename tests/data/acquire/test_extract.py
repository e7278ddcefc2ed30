"""Main-content extraction: trafilatura keeps the article and drops the site furniture; html2text keeps everything."""

from __future__ import annotations

import pytest

from litft.data.acquire.extract import extract_page, extract_text

PAGE = """<!doctype html><html><head><title>Grant news | Physics</title>
<meta property="og:title" content="Physics wins a grant"></head><body>
<header><nav><a href="/">Home</a> <a href="/people">People</a> <a href="/contact">Contact us</a></nav></header>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies.</div>
<main><article><h1>Physics wins a grant</h1>
<p>The department of physics has received a large grant to study superconducting materials at low temperatures.</p>
<p>Professor Ada Lovelace will lead the five-year project, which funds four doctoral students and two postdocs.</p>
<p>The first results are expected next spring, when the new cryostat in the basement laboratory is installed.</p>
</article></main>
<aside><h3>Related</h3><ul><li><a href="/a">Open day 2024</a></li><li><a href="/b">Library hours</a></li></ul></aside>
<footer><p>Copyright 2024 University of Examples. All rights reserved.</p><p>Privacy | Imprint</p></footer>
<script>var tracking = "do not extract me";</script></body></html>"""

ARTICLE = [
    "The department of physics has received a large grant to study superconducting materials at low temperatures.",
    "Professor Ada Lovelace will lead the five-year project, which funds four doctoral students and two postdocs.",
    "The first results are expected next spring, when the new cryostat in the basement laboratory is installed.",
]


def test_trafilatura_keeps_main_content_only():
    page = extract_page(PAGE, url="https://phys.example/news/grant")
    assert page.title == "Physics wins a grant"
    for paragraph in ARTICLE:
        assert paragraph in page.text
    for furniture in ("Contact us", "cookies", "Library hours", "Copyright", "Imprint", "do not extract me"):
        assert furniture not in page.text
    assert extract_text(PAGE) == page.text


def test_html2text_keeps_the_whole_page_without_scripts():
    page = extract_page(PAGE, extractor="html2text")
    assert page.title == "Physics wins a grant"
    for text in ARTICLE + ["Contact us", "Copyright 2024"]:
        assert text in page.text
    assert "do not extract me" not in page.text and "#" not in page.text and "](" not in page.text


@pytest.mark.parametrize("extractor", ["trafilatura", "html2text"])
def test_empty_and_unclosed_html(extractor):
    assert extract_text("", extractor=extractor) == ""
    assert extract_text("<html><body><p>Unclosed <b>page", extractor=extractor) == "Unclosed page"


@pytest.mark.parametrize("extractor", ["trafilatura", "html2text"])
def test_headings_list_items_and_paragraphs_stay_on_lines_of_their_own(extractor):
    page = (
        "<html><head><title>About us</title></head><body><main><article><h1>About Harbor Valley Water Cooperative</h1>"
        "<p>Harbor Valley Water Cooperative was founded in 1962 by farmers of the valley and still serves it.</p>"
        "<h2>Our services</h2>"
        "<ul><li>Drinking water for twelve thousand homes.</li><li>Leak repairs at night.</li></ul>"
        "<p>The Millbrook treatment plant is located in the north of the valley, beside the river.</p>"
        "</article></main></body></html>"
    )
    lines = [line.strip() for line in extract_text(page, extractor=extractor).splitlines() if line.strip()]
    assert lines == [
        "About Harbor Valley Water Cooperative",
        "Harbor Valley Water Cooperative was founded in 1962 by farmers of the valley and still serves it.",
        "Our services",
        "- Drinking water for twelve thousand homes.",
        "- Leak repairs at night.",
        "The Millbrook treatment plant is located in the north of the valley, beside the river.",
    ]
