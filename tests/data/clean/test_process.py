"""Cleaning, boilerplate removal, dedup and the process command end to end (including crawl -> scrape -> process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from litft.common.errors import LitftError
from litft.common.io import iter_jsonl
from litft.data.acquire.crawl import crawl
from litft.data.acquire.fetch import FetchSettings
from litft.data.acquire.scrape import scrape
from litft.data.clean.boilerplate import find_boilerplate, strip_boilerplate
from litft.data.clean.dedup import ExactDeduper, NearDeduper
from litft.data.clean.normalize import clean_text
from litft.data.clean.process import process
from litft.data.pages import page_record
from tests.support.local_site import article, html_response

REPO = Path(__file__).resolve().parents[3]


def test_clean_text():
    raw = (
        "Caf\u00c3\u00a9 <b>bold</b> and <a href='x'>link</a> see https://x.org/a?b=1. or www.foo.com, ok\x00\x07 "
        "zero\u200bwidth\ufffd &amp; <!-- hidden --> 3 < 4 \r\n\n\n   next    line   \n\t\n"
    )
    assert clean_text(raw) == "Caf\u00e9 bold and link see . or , ok zerowidth & 3 4\nnext line"


def test_clean_text_turns_table_rows_into_text():
    table = (
        "Facts\n| Department | Electrical Engineering |\n|---|---|\n| Founded | 1911 |\n"
        "| a | b | c |\n|:--|--:|\nA | pipe in prose"
    )
    assert clean_text(table) == "Facts\nDepartment: Electrical Engineering\nFounded: 1911\na; b; c\nA | pipe in prose"


def test_clean_text_keeps_ordinary_text_intact():
    text = (
        "Na\u00efve r\u00e9sum\u00e9s cost \u20ac5 \u2014 \u201cquoted\u201d (really).\n"
        "\u65e5\u672c\u8a9e\u306e\u6587\u3002"
    )
    assert clean_text(text) == text


def remove_boilerplate(pages, max_share, min_pages):
    boilerplate = find_boilerplate(pages, max_share, min_pages)
    stripped = [strip_boilerplate(url, text, boilerplate) for url, text in pages]
    return [text for text, _ in stripped], sum(removed for _, removed in stripped)


def test_boilerplate_lines_repeated_across_a_site_are_removed():
    footer, banner = "Copyright 2024 Department of Physics", "We use cookies. Accept all?"
    site = [
        (f"https://phys.example/p{i}", f"{banner}\nUnique content number {i} about topic {i}.\n{footer}")
        for i in range(6)
    ]
    other = [("https://other.example/x", f"{footer}\nOther site content.")]
    texts, removed = remove_boilerplate(site + other, max_share=0.5, min_pages=5)
    assert texts[:6] == [f"Unique content number {i} about topic {i}." for i in range(6)]
    assert texts[6] == f"{footer}\nOther site content."  # another site, too few pages to judge
    assert removed == 12
    texts, removed = remove_boilerplate(site[:3], max_share=0.5, min_pages=5)
    assert removed == 0


def test_exact_and_near_dedup():
    exact = ExactDeduper()
    assert exact.is_new("The Same text, here.")
    assert not exact.is_new("the same   TEXT here")
    near = NearDeduper(threshold=0.8)
    base = " ".join(f"word{i}" for i in range(300))
    assert near.is_new(base)
    assert not near.is_new(base.replace("word150", "changed"))  # one word of 300 differs
    assert near.is_new(" ".join(f"other{i}" for i in range(300)))
    assert near.is_new(" ".join(f"word{i}" for i in range(150)))  # half of it: Jaccard ~0.5


def write_pages(path: Path, pages: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(page_record(url, "t", text, "2024-01-01T00:00:00+00:00")) + "\n" for url, text in pages)
    )


def test_process_end_to_end(tmp_path):
    footer = "Department of Physics, 1 Main Street, Springfield"
    unique = {
        i: " ".join(f"Sentence {j} of page {i} talks about topic{i}x{j} in detail." for j in range(40))
        for i in range(6)
    }
    pages = [(f"https://phys.example/p{i}", f"{unique[i]}\n{footer}") for i in range(6)]
    pages.append(
        ("https://phys.example/copy-of-p0", f"  {unique[0].upper()}\n{footer}")
    )  # exact duplicate after normalising
    near = unique[1].replace("topic1x5 ", "topicchanged ")
    pages.append(("https://phys.example/near-p1", f"{near}\n{footer}"))
    pages.append(("https://phys.example/empty", "<div></div>"))
    write_pages(tmp_path / "pages.jsonl", pages)

    stats = process(tmp_path, chunk_words=100, overlap_words=10, quiet=True)
    assert stats == {
        "pages": 9,
        "empty_pages": 1,
        "exact_duplicate_pages": 1,
        "boilerplate_lines_removed": 7,
        "boilerplate_only_pages": 0,
        "near_duplicate_pages": 1,
        "pages_kept": 6,
        "exact_duplicate_chunks": 0,
        "near_duplicate_chunks": 0,
        "chunks": stats["chunks"],
        "words": stats["words"],
    }
    chunks = list(iter_jsonl(tmp_path / "chunks.jsonl"))
    assert {c["url"] for c in chunks} == {f"https://phys.example/p{i}" for i in range(6)}
    assert all(
        set(c) == {"id", "url", "text", "n_words"} and c["n_words"] == len(c["text"].split()) <= 100 for c in chunks
    )
    assert len({c["id"] for c in chunks}) == len(chunks)
    assert not [c for c in chunks if "Springfield" in c["text"]]
    for i in range(6):  # every word of each kept page is in its chunks
        own = [c["text"].split() for c in chunks if c["url"] == f"https://phys.example/p{i}"]
        rebuilt = own[0] + [w for chunk in own[1:] for w in chunk[10:]]
        assert rebuilt == unique[i].split()
    assert (tmp_path / "pretrain.txt").read_text().splitlines() == [c["text"] for c in chunks]  # one block each here
    assert json.loads((tmp_path / "process_stats.json").read_text()) == stats


def test_process_removes_repeated_chunks_across_pages(tmp_path):
    shared = " ".join(f"Shared paragraph sentence {j} appears on two pages." for j in range(12))
    write_pages(
        tmp_path / "pages.jsonl",
        [
            ("https://a.example/1", " ".join(f"First page sentence {j} is unique." for j in range(12)) + "\n" + shared),
            (
                "https://a.example/2",
                " ".join(f"Second page sentence {j} differs here." for j in range(12)) + "\n" + shared,
            ),
        ],
    )
    stats = process(tmp_path, chunk_words=500, overlap_words=0, quiet=True)
    assert stats["chunks"] == 2 and stats["near_duplicate_pages"] == 0  # pages share half: not near duplicates
    stats = process(tmp_path, chunk_words=60, overlap_words=0, quiet=True)
    assert stats["exact_duplicate_chunks"] == 1  # the 60-word chunk of the shared paragraph comes twice


@pytest.mark.slow
def test_process_user_errors(tmp_path):
    with pytest.raises(LitftError, match="run `litft scrape` or `litft ingest` first"):
        process(tmp_path)
    write_pages(tmp_path / "pages.jsonl", [("https://a.example/", "Some text.")])
    with pytest.raises(LitftError, match="overlap_words"):
        process(tmp_path, chunk_words=10, overlap_words=10)
    (tmp_path / "pages.jsonl").write_text('{"url": "x", "text": "ok"}\nnot json\n{"url": "y"}\n')
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "process_pretrain_data.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 2 and "pages.jsonl line 2 is not valid UTF-8 JSON" in result.stderr
    (tmp_path / "pages.jsonl").write_text('{"url": "x", "text": "ok"}\n{"url": "y"}\n')
    with pytest.raises(LitftError, match='record 2 lacks a string "url" or "text"'):
        process(tmp_path)


def test_duplicate_pages_under_two_urls_end_as_one(server_factory, tmp_path):
    server = server_factory({})
    same = html_response("Same", article("duplicated"))
    server.routes.update(
        {
            "/robots.txt": (200, {}, b""),
            "/x/": html_response(
                "Index", article("index") + "<a href='one'>1</a><a href='two'>2</a><a href='one?utm_source=t'>1</a>"
            ),
            "/x/one": same,
            "/x/two": same,
        }
    )
    fetch = FetchSettings(rate_limit=0, timeout=1.0, retries=0)
    crawl(server.url("/x/"), out=tmp_path / "urls.json", sitemaps=False, fetch=fetch, quiet=True)
    assert server.paths().count("/x/one") == 1 and "/x/one?utm_source=t" not in server.paths()
    scrape(tmp_path / "urls.json", tmp_path / "out", fetch=fetch, quiet=True)
    stats = process(tmp_path / "out", quiet=True)
    assert stats["pages"] == 3 and stats["exact_duplicate_pages"] == 1
    urls = {c["url"] for c in iter_jsonl(tmp_path / "out" / "chunks.jsonl")}
    assert len(urls) == 2 and server.url("/x/") in urls  # one of the two copies, whichever the crawl listed first


def test_process_keeps_blocks_as_lines_and_pretrain_txt_one_chunk_a_line(tmp_path):
    about = (
        "About Harbor Valley Water Cooperative\n"
        "Harbor Valley Water Cooperative was founded in 1962 by farmers of the valley.\n"
        "Our services\n- Drinking water for 12,000 homes.\n- Leak repairs day and night."
    )
    write_pages(
        tmp_path / "pages.jsonl",
        [("https://hv.example/about", about), ("https://hv.example/news", "News\nThe new plant opens in May.")],
    )
    process(tmp_path, chunk_words=20, overlap_words=0, quiet=True)
    assert [c["text"] for c in iter_jsonl(tmp_path / "chunks.jsonl")] == [
        "About Harbor Valley Water Cooperative\n"
        "Harbor Valley Water Cooperative was founded in 1962 by farmers of the valley.",
        "Our services\n- Drinking water for 12,000 homes.\n- Leak repairs day and night.",
        "News\nThe new plant opens in May.",
    ]
    assert (tmp_path / "pretrain.txt").read_text() == (
        "About Harbor Valley Water Cooperative "
        "Harbor Valley Water Cooperative was founded in 1962 by farmers of the valley.\n"
        "Our services - Drinking water for 12,000 homes. - Leak repairs day and night.\n"
        "News The new plant opens in May.\n"
    )


def test_process_without_usable_text_fails_and_keeps_earlier_output(tmp_path, capsys):
    write_pages(tmp_path / "pages.jsonl", [("https://a.example/1", "Useful text about the first page here.")])
    process(tmp_path, quiet=True)
    before = (tmp_path / "chunks.jsonl").read_text()
    write_pages(tmp_path / "pages.jsonl", [("https://a.example/1", "<div></div>"), ("https://a.example/2", "  \n ")])
    with pytest.raises(
        LitftError, match=r"process made no chunks from the 2 pages of .*pages.jsonl: 2 were empty after cleaning"
    ):
        process(tmp_path, quiet=True)
    assert (tmp_path / "chunks.jsonl").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".litft.json",
        "changes.json",
        "chunks.jsonl",
        "minhash.npz",
        "pages.jsonl",
        "pretrain.txt",
        "process_stats.json",
    ]
    write_pages(tmp_path / "pages.jsonl", [])
    with pytest.raises(LitftError, match="holds no pages"):
        process(tmp_path, quiet=True)


def test_process_refuses_outputs_over_its_input_before_work(tmp_path):
    pages = tmp_path / "chunks.jsonl"  # pages saved under the name process writes
    write_pages(pages, [("https://a.example/1", "Some text about a page.")])
    original = pages.read_text()
    with pytest.raises(LitftError, match="is the same path as --directory"):
        process(pages, quiet=True)
    with pytest.raises(LitftError, match="is a file, not a folder"):
        process(pages, out_dir=pages, quiet=True)
    (tmp_path / "out" / "pretrain.txt").mkdir(parents=True)
    with pytest.raises(LitftError, match="pretrain.txt is a folder"):
        process(pages, out_dir=tmp_path / "out", quiet=True)
    with pytest.raises(LitftError, match="is a file, not a folder"):
        process(pages, out_dir=pages / "sub", quiet=True)  # a path under a file (ENOTDIR)
    assert pages.read_text() == original and not (tmp_path / "out" / "chunks.jsonl").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_process_unreadable_pages_is_one_sentence(tmp_path):
    write_pages(tmp_path / "pages.jsonl", [("https://a.example/1", "Some text about a page.")])
    (tmp_path / "pages.jsonl").chmod(0)
    try:
        with pytest.raises(LitftError, match="cannot read .*pages.jsonl: permission denied"):
            process(tmp_path, quiet=True)
    finally:
        (tmp_path / "pages.jsonl").chmod(0o644)


def test_dedup_reads_long_texts_line_by_line_with_the_same_result(monkeypatch):
    """The streamed signature equals datasketch's over the text's set of 5-word shingles, across lines and batches."""
    from datasketch import MinHash

    from litft.data.clean import dedup

    monkeypatch.setattr(dedup, "SHINGLE_BATCH", 7)
    for text in ["", "Two words", "Exactly five words right here", "One two\nthree, four FIVE six\n\nseven " * 9]:
        tokens = dedup.normalized_tokens(text)
        width = min(5, max(1, len(tokens)))
        expected = MinHash(num_perm=128, seed=1)
        expected.update_batch(
            [" ".join(tokens[i : i + width]).encode() for i in range(max(1, len(tokens) - width + 1))]
        )
        assert (dedup.NearDeduper()._signature(text).hashvalues == expected.hashvalues).all()
        exact = ExactDeduper()
        assert exact.is_new(text) and not exact.is_new(" ".join(tokens).upper())
