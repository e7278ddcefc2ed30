"""Scrape (from the crawl cache or the network) and ingest of local files into pages.jsonl."""

from __future__ import annotations

import hashlib
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
from litft.data.acquire.ingest import ingest
from litft.data.acquire.scrape import scrape
from tests.support.local_site import article, html_response

REPO = Path(__file__).resolve().parents[3]
FAST = FetchSettings(rate_limit=0, timeout=1.0, retries=1, backoff=0.01)


def small_site(server) -> None:
    server.routes.update(
        {
            "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow:\n"),
            "/d/": html_response("Department", article("department") + "<a href='people'>p</a> <a href='latin'>l</a>"),
            "/d/people": html_response("People", article("people")),
            "/d/latin": (
                200,
                {"Content-Type": "text/html; charset=iso-8859-1"},
                "<html><head><title>Z\u00fcrich</title></head><body><nav>Menu Home Contact</nav><article>"
                "<p>Die Professoren in Z\u00fcrich gr\u00fc\u00dfen die Studierenden "
                "und erkl\u00e4ren die Stra\u00dfenbahn ausf\u00fchrlich.</p>"
                "<p>Das Institut liegt an der gro\u00dfen Stra\u00dfe neben dem Caf\u00e9, "
                "und jeder Besuch lohnt sich sehr.</p>"
                "</article><footer>Impressum</footer></body></html>".encode("latin-1"),
            ),
        }
    )


def test_scrape_uses_the_crawl_cache_and_is_incremental(server_factory, tmp_path):
    server = server_factory({})
    small_site(server)
    urls_path = tmp_path / "urls.json"
    crawl(server.url("/d/"), out=urls_path, sitemaps=False, fetch=FAST, quiet=True)
    requests_after_crawl = len(server.log)

    scrape(urls_path, tmp_path / "out", txt=True, fetch=FAST, quiet=True)
    assert len(server.log) == requests_after_crawl  # everything came from the cache
    records = {r["url"].removeprefix(server.origin): r for r in iter_jsonl(tmp_path / "out" / "pages.jsonl")}
    assert set(records) == {"/d/", "/d/people", "/d/latin"}
    latin = records["/d/latin"]
    assert latin["title"] == "Z\u00fcrich"
    assert "Die Professoren in Z\u00fcrich gr\u00fc\u00dfen" in latin["text"] and "Impressum" not in latin["text"]
    assert latin["sha1"] == hashlib.sha1(latin["text"].encode()).hexdigest()
    assert set(latin) == {"url", "title", "text", "fetched_at", "sha1"}
    assert len(list((tmp_path / "out" / "txt").glob("*.txt"))) == 3

    # Two more pages appear in the list: only they are scraped, fetched over the network (not cached).
    server.routes["/d/new"] = html_response("New", article("novelty"))
    server.routes["/d/gone"] = (404, {}, b"")
    urls_path.write_text(json.dumps(json.loads(urls_path.read_text()) + [server.url("/d/new"), server.url("/d/gone")]))
    scrape(urls_path, tmp_path / "out", fetch=FAST, quiet=True)
    lines = (tmp_path / "out" / "pages.jsonl").read_text().splitlines()
    assert len(lines) == 4 and "novelty" in json.loads(lines[-1])["text"]
    assert server.paths()[requests_after_crawl:].count("/d/new") == 1
    assert not [p for p in server.paths()[requests_after_crawl:] if p in ("/d/", "/d/people", "/d/latin")]


def test_scrape_html2text_extractor_keeps_the_whole_page(server_factory, tmp_path):
    server = server_factory({})
    small_site(server)
    (tmp_path / "urls.json").write_text(json.dumps([server.url("/d/latin")]))
    scrape(
        tmp_path / "urls.json",
        tmp_path / "out",
        extractor="html2text",
        cache_dir=tmp_path / "none",
        fetch=FAST,
        quiet=True,
    )
    (record,) = iter_jsonl(tmp_path / "out" / "pages.jsonl")
    assert "Menu Home Contact" in record["text"] and "Impressum" in record["text"]
    assert "Die Professoren in Z\u00fcrich" in record["text"]


@pytest.mark.slow
def test_scrape_script_runs_and_bad_lists_are_user_errors(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps(["https://ok.example/", "not a url"]))
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "scrape.py"), str(tmp_path / "bad.json"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: {tmp_path / 'bad.json'} item 1 ('not a url') is not an http(s) URL; fix or remove it."
    )
    (tmp_path / "obj.json").write_text("{}")
    with pytest.raises(LitftError, match="must hold a JSON list"):
        scrape(tmp_path / "obj.json", tmp_path / "out")
    with pytest.raises(LitftError, match="does not exist"):
        scrape(tmp_path / "missing.json", tmp_path / "out")


def make_pdf(lines: list[str], title: str) -> bytes:
    """A one-page PDF with real text operators, written by hand so the test needs no PDF library."""
    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        f"<< /Title ({title}) >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_ingest_reads_html_txt_md_pdf_and_is_incremental(tmp_path):
    docs = tmp_path / "docs"
    (docs / "papers").mkdir(parents=True)
    (docs / ".git").mkdir()
    (docs / ".git" / "notes.txt").write_text("hidden folder, not a document")
    (docs / "page.html").write_text(
        "<html><head><title>Seminar</title></head><body><nav>Home | Menu</nav><article>"
        + article("seminar")
        + "</article><footer>Footer text</footer></body></html>"
    )
    (docs / "notes.txt").write_bytes("Gr\u00fc\u00dfe aus K\u00f6ln und sch\u00f6ne Tage.".encode("cp1252"))
    (docs / "readme.md").write_text(
        "# Lab Handbook\n\nSee the [safety rules](https://lab.example/rules) first.\n\n![logo](logo.png)\n"
    )
    (docs / "papers" / "paper.pdf").write_bytes(
        make_pdf(["Quantum transport in graphene is an exam-", "ple of a clean system."], "Graphene Paper")
    )
    (docs / "papers" / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (docs / "image.png").write_bytes(b"\x89PNG")

    ingest(docs, quiet=True)
    records = {Path(r["url"].removeprefix("file://")).name: r for r in iter_jsonl(docs / "pages.jsonl")}
    assert set(records) == {"page.html", "notes.txt", "readme.md", "paper.pdf"}
    assert records["page.html"]["title"] == "Seminar" and "seminar group" in records["page.html"]["text"]
    assert "Footer text" not in records["page.html"]["text"]
    assert records["notes.txt"]["text"] == "Gr\u00fc\u00dfe aus K\u00f6ln und sch\u00f6ne Tage."
    assert records["readme.md"]["title"] == "Lab Handbook"
    assert records["readme.md"]["text"] == "Lab Handbook\n\nSee the safety rules first.\n\nlogo"
    assert records["paper.pdf"]["title"] == "Graphene Paper"
    assert records["paper.pdf"]["text"] == "Quantum transport in graphene is an example of a clean system."
    assert all(r["url"].startswith("file:///") for r in records.values())

    ingest(docs, quiet=True)  # nothing changed: nothing added
    assert len((docs / "pages.jsonl").read_text().splitlines()) == 4
    (docs / "notes.txt").write_text("New notes about the seminar.")
    os.utime(docs / "notes.txt", (1_900_000_000, 1_900_000_000))
    ingest(docs, txt=True, out_dir=docs, quiet=True)
    lines = (docs / "pages.jsonl").read_text().splitlines()
    assert len(lines) == 5 and json.loads(lines[-1])["text"] == "New notes about the seminar."
    (written,) = (docs / "txt").glob("*.txt")
    assert "_docs_notes_txt_" in written.name and written.read_text() == "New notes about the seminar.\n"
    ingest(docs, txt=True, quiet=True)  # its own txt/ output is not ingested back
    assert len((docs / "pages.jsonl").read_text().splitlines()) == 5


def test_ingest_user_errors(tmp_path):
    with pytest.raises(LitftError, match="is not a folder"):
        ingest(tmp_path / "nope")
    with pytest.raises(LitftError, match="holds no .html"):
        ingest(tmp_path)


def test_torn_last_line_is_repaired_before_appending(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("First document text.")
    (docs / "b.txt").write_text("Second document text.")
    ingest(docs, quiet=True)
    full = (docs / "pages.jsonl").read_bytes()
    (docs / "pages.jsonl").write_bytes(full[: len(full) - 20])  # a kill mid-write
    ingest(docs, quiet=True)
    records = list(iter_jsonl(docs / "pages.jsonl"))
    assert [Path(r["url"]).name for r in records] == ["a.txt", "b.txt"]


def test_ingest_keeps_headings_list_items_and_paragraphs_on_lines_of_their_own(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text(
        "# Water guide\n\nThe cooperative was founded\nin 1962 by farmers.\n\n"
        "## Services\n- Drinking water\n- Leak repair\n"
    )
    wrapped = (
        "Harbor Valley Water Cooperative supplies the valley with drinking water and\n"
        "repairs leaks at any hour of the day.\n"
    )
    (docs / "notes.txt").write_text(f"About the cooperative\n{wrapped}Opening hours\nThe office opens at nine.\n")
    (docs / "paper.pdf").write_bytes(
        make_pdf(
            ["Introduction", "Quantum transport in graphene is an example of a clean", "system, as many studies show."],
            "P",
        )
    )
    ingest(docs, quiet=True)
    texts = {Path(r["url"]).name: r["text"] for r in iter_jsonl(docs / "pages.jsonl")}
    assert (
        texts["guide.md"]
        == "Water guide\n\nThe cooperative was founded in 1962 by farmers.\n\nServices\n- Drinking water\n- Leak repair"
    )
    assert texts["notes.txt"] == (
        "About the cooperative\nHarbor Valley Water Cooperative supplies the valley with drinking water and "
        "repairs leaks at any hour of the day.\nOpening hours\nThe office opens at nine."
    )
    assert (
        texts["paper.pdf"]
        == "Introduction\nQuantum transport in graphene is an example of a clean system, as many studies show."
    )


def test_ingest_refuses_links_out_of_the_folder_unless_asked(tmp_path, capsys):
    docs, outside = tmp_path / "docs", tmp_path / "secret.txt"
    (docs / "sub").mkdir(parents=True)
    outside.write_text("Private text that lives outside the folder.")
    (docs / "own.txt").write_text("A document of the folder itself.")
    (docs / "sub" / "inside.txt").symlink_to(docs / "own.txt")  # inside the folder: fine, read once
    (docs / "passwd.txt").symlink_to(outside)
    with pytest.raises(
        LitftError,
        match=r"passwd.txt links to .*secret.txt, outside .*docs; remove the link, or pass --follow_symlinks",
    ):
        ingest(docs, quiet=True)
    assert not (docs / "pages.jsonl").exists()
    ingest(docs, follow_symlinks=True, quiet=True)
    assert sorted(r["text"] for r in iter_jsonl(docs / "pages.jsonl")) == [
        "A document of the folder itself.",
        "Private text that lives outside the folder.",
    ]
    (docs / "passwd.txt").unlink()
    (tmp_path / "fresh").mkdir()
    ingest(docs, out_dir=tmp_path / "fresh", quiet=True)
    assert [r["text"] for r in iter_jsonl(tmp_path / "fresh" / "pages.jsonl")] == ["A document of the folder itself."]


def test_ingest_without_any_text_fails_and_bad_out_dirs_are_refused(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "empty.html").write_text("<html><body><script>x()</script></body></html>")
    (docs / "blank.txt").write_text("   \n")
    with pytest.raises(
        LitftError, match=r"ingest found 2 files in .*docs but none had text \(2 without text, 0 unreadable"
    ):
        ingest(docs, quiet=True)
    assert sorted(p.name for p in docs.iterdir()) == ["blank.txt", "empty.html"]
    (docs / "blank.txt").write_text("Now it has text.")
    with pytest.raises(LitftError, match="--out_dir .*blank.txt is a file, not a folder"):
        ingest(docs, out_dir=docs / "blank.txt", quiet=True)
    with pytest.raises(LitftError, match="cannot be created: .*blank.txt is a file, not a folder"):
        ingest(docs, out_dir=docs / "blank.txt" / "out", quiet=True)  # under a file (ENOTDIR)
    (tmp_path / "out" / "pages.jsonl").mkdir(parents=True)
    with pytest.raises(LitftError, match="pages.jsonl is a folder"):
        ingest(docs, out_dir=tmp_path / "out", quiet=True)
    assert (docs / "blank.txt").read_text() == "Now it has text."


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_ingest_reports_an_unreadable_file_in_one_sentence(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Readable text.")
    (docs / "b.txt").write_text("Locked text.")
    (docs / "b.txt").chmod(0)
    try:
        ingest(docs, quiet=True)
    finally:
        (docs / "b.txt").chmod(0o644)
    assert f"ingest: {docs / 'b.txt'} skipped: cannot read it: permission denied" in capsys.readouterr().err
    assert [r["text"] for r in iter_jsonl(docs / "pages.jsonl")] == ["Readable text."]


def test_scrape_without_any_page_text_fails_and_bad_outputs_are_refused(server_factory, tmp_path):
    blank = (200, {"Content-Type": "text/html"}, b"<html><body><script>draw()</script></body></html>")
    server = server_factory({"/gone": (404, {}, b""), "/blank": blank})
    (tmp_path / "urls.json").write_text(json.dumps([server.url("/gone"), server.url("/blank")]))
    with pytest.raises(
        LitftError,
        match=r"scrape got no page text from the 2 URLs of .*urls.json \(1 failed to fetch, 1 without text\)",
    ):
        scrape(tmp_path / "urls.json", tmp_path / "out", cache_dir=tmp_path / "none", fetch=FAST, quiet=True)
    assert not (tmp_path / "out" / "pages.jsonl").exists()
    (tmp_path / "pages.jsonl").write_text(json.dumps([server.url("/gone")]))  # a URL list named like the output
    with pytest.raises(LitftError, match="is the same path as --urls"):
        scrape(tmp_path / "pages.jsonl", tmp_path, fetch=FAST, quiet=True)
    (tmp_path / "folder" / "pages.jsonl").mkdir(parents=True)
    with pytest.raises(LitftError, match="pages.jsonl is a folder"):
        scrape(tmp_path / "urls.json", tmp_path / "folder", fetch=FAST, quiet=True)
    with pytest.raises(LitftError, match="cannot be created: .*urls.json is a file, not a folder"):
        scrape(tmp_path / "urls.json", tmp_path / "urls.json" / "out", fetch=FAST, quiet=True)
    assert server.paths().count("/gone") == 1  # only the first run fetched
