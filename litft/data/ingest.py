"""Ingest: local .html, .txt, .md and .pdf files into the same `pages.jsonl` records a scrape writes.

For papers and documents that are not on a website. A file that cannot be read is reported and skipped,
so one broken PDF does not stop a folder of hundreds.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from bs4.dammit import UnicodeDammit
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from litft.data.extract import Extracted, Extractor, extract_page
from litft.data.fetch import decode_html
from litft.data.pages import PAGES_FILE, load_pages, open_for_append, page_record, txt_name
from litft.errors import LitftError
from litft.io import append_jsonl, atomic_write_text, progress

SUFFIXES = {".html": "html", ".htm": "html", ".xhtml": "html", ".txt": "text", ".md": "markdown",
            ".markdown": "markdown", ".pdf": "pdf"}

# pypdf logs a warning for every malformed object it recovers from; the text is still usable.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) when it decodes, else the encoding UnicodeDammit detects."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        dammit = UnicodeDammit(data, is_html=False)
        return dammit.unicode_markup if dammit.unicode_markup is not None else data.decode("cp1252", errors="replace")


def read_markdown(path: Path) -> Extracted:
    """Markdown is already text; only markup that would read as noise goes: heading marks, link and image syntax."""
    text = decode_text(path.read_bytes())
    heading = re.search(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.MULTILINE)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^#{1,6}\s+", "", text, flags=re.MULTILINE)
    return Extracted(title=heading.group(1) if heading else path.stem, text=text.strip())


def read_pdf(path: Path) -> Extracted:
    """Page texts joined; hyphenated line breaks mended and lines inside a page joined, since PDF lines are layout, not paragraphs."""
    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise PyPdfError("encrypted with a password")
    pages = []
    for page in reader.pages:
        text = page.extract_text() or ""
        text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
        pages.append(" ".join(text.split()))
    title = (reader.metadata.title if reader.metadata else None) or path.stem
    return Extracted(title=str(title).strip(), text="\n".join(page for page in pages if page))


def read_file(path: Path, extractor: Extractor) -> Extracted:
    kind = SUFFIXES[path.suffix.lower()]
    if kind == "pdf":
        return read_pdf(path)
    if kind == "markdown":
        return read_markdown(path)
    if kind == "html":
        return extract_page(decode_html(path.read_bytes()), url=path.resolve().as_uri(), extractor=extractor)
    return Extracted(title=path.stem, text=decode_text(path.read_bytes()).strip())


def find_documents(directory: Path, exclude: Path) -> list[Path]:
    """Supported files under `directory`, sorted, skipping hidden folders and our own txt/ output."""
    found = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts) or exclude in path.resolve().parents:
            continue
        if path.suffix.lower() in SUFFIXES and path.is_file():
            found.append(path)
    return found


def ingest(
    directory: Path,
    out_dir: Path | None = None,
    extractor: Extractor = "trafilatura",
    txt: bool = False,
    quiet: bool = False,
) -> None:
    """Read the .html, .txt, .md and .pdf files under `directory` into `out_dir/pages.jsonl`.

    Each record's url is the file's file:// URI and fetched_at its modification time; re-running adds only
    new or changed files.

    Args:
        directory: Folder of documents (searched recursively).
        out_dir: Folder for pages.jsonl; by default `directory` itself, so `litft process DIR` follows.
        extractor: For HTML files: trafilatura (main content) or html2text (whole page).
        txt: Also write each document's text to out_dir/txt/.
        quiet: No progress bar or summary.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise LitftError(f"{directory} is not a folder; give the folder that holds your documents.")
    out_dir = Path(out_dir) if out_dir is not None else directory
    pages_path = out_dir / PAGES_FILE
    known = load_pages(pages_path)
    documents = find_documents(directory, exclude=(out_dir / "txt").resolve())
    if not documents:
        raise LitftError(f"{directory} holds no .html, .txt, .md or .pdf files; check the folder.")

    counts = {"written": 0, "unchanged": 0, "empty": 0, "unreadable": 0}
    with open_for_append(pages_path) as pages_file:
        for path in progress(documents, quiet=quiet, unit="file", desc="ingest"):
            url = path.resolve().as_uri()
            modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
            if url in known and known[url]["fetched_at"] == modified:
                counts["unchanged"] += 1
                continue
            try:
                document = read_file(path, extractor)
            except (OSError, PyPdfError, ValueError) as error:
                counts["unreadable"] += 1
                print(f"ingest: {path} skipped, it could not be read ({error})", file=sys.stderr)
                continue
            if not document.text.strip():
                counts["empty"] += 1
                continue
            append_jsonl(pages_file, page_record(url, document.title, document.text, modified))
            if txt:
                atomic_write_text(out_dir / "txt" / txt_name(url), document.text + "\n")
            counts["written"] += 1
    if not quiet:
        print(f"ingest: {counts['written']} documents added to {pages_path} ({counts['unchanged']} unchanged, "
              f"{counts['empty']} without text, {counts['unreadable']} unreadable)", file=sys.stderr)
