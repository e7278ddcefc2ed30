"""Ingest: local .html, .txt, .md and .pdf files into the same `pages.jsonl` records a scrape writes.

For papers and documents that are not on a website. A file that cannot be read is reported and skipped,
so one broken PDF does not stop a folder of hundreds. Every heading, list item and paragraph ends up on a
line of its own, as the HTML extractors write them, so that later stages never read a heading as the start
of the sentence after it.
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

from litft.common.errors import LitftError, os_errors_as_user_errors
from litft.common.io import append_jsonl, atomic_write_text, check_output_file, progress
from litft.data.acquire.extract import Extracted, Extractor, extract_page
from litft.data.acquire.fetch import decode_html
from litft.data.pages import (
    PAGES_FILE,
    compact_pages,
    load_pages,
    open_for_append,
    page_record,
    txt_name,
)

SUFFIXES = {
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".pdf": "pdf",
}

# A line that starts a block of its own: a markdown heading, a list item, a table row or a quote.
BLOCK_START = re.compile(r"^\s*(?:#{1,6}\s|[-*+\u2022]\s|\d{1,3}[.)]\s|\||>)")
# A line at least this share of the text's usual line width is wrapped; a shorter one ends its paragraph.
FULL_LINE_SHARE = 0.7

# pypdf logs a warning for every malformed object it recovers from; the text is still usable.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) when it decodes, else the encoding UnicodeDammit detects."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        dammit = UnicodeDammit(data, is_html=False)
        return dammit.unicode_markup if dammit.unicode_markup is not None else data.decode("cp1252", errors="replace")


def join_wrapped_lines(text: str, wrapped_by_width: bool) -> str:
    """One line per block: the lines of a paragraph joined, headings, list items and table rows kept apart.

    Markdown joins every line of a paragraph (`wrapped_by_width=False`); plain text and PDF pages have no
    markup, so a line is joined to the next only when it runs near the full width the text is wrapped at:
    a heading or a paragraph's last line is shorter.
    """
    lines = text.splitlines()
    lengths = sorted(len(line.rstrip()) for line in lines if line.strip())
    full = FULL_LINE_SHARE * lengths[min(len(lengths) - 1, int(0.9 * len(lengths)))] if lengths else 0
    blocks: list[str] = []
    joinable = False  # whether the last block may continue on the next line
    for line in lines:
        stripped = line.strip()
        if not stripped:
            blocks.append("")
            joinable = False
        elif joinable and not BLOCK_START.match(line):
            blocks[-1] += " " + stripped
        else:
            blocks.append(stripped)
        if stripped:
            stands_alone = stripped.startswith(("#", "|"))  # a heading or a table row ends where its line does
            joinable = not stands_alone and (not wrapped_by_width or len(line.rstrip()) >= full)
    return "\n".join(blocks)


def read_markdown(path: Path) -> Extracted:
    """Markdown is already text; only markup that would read as noise goes: heading marks, link and image syntax."""
    text = join_wrapped_lines(decode_text(path.read_bytes()), wrapped_by_width=False)
    heading = re.search(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.MULTILINE)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^#{1,6}\s+", "", text, flags=re.MULTILINE)
    return Extracted(title=heading.group(1) if heading else path.stem, text=text.strip())


def read_pdf(path: Path) -> Extracted:
    """Page texts, one line per paragraph or heading: hyphenated line breaks mended, wrapped lines joined."""
    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise PyPdfError("encrypted with a password")
    pages = []
    for page in reader.pages:
        text = re.sub(r"(\w)-\n(\w)", r"\1\2", page.extract_text() or "")
        pages.append(join_wrapped_lines(text, wrapped_by_width=True).strip())
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
    return Extracted(
        title=path.stem, text=join_wrapped_lines(decode_text(path.read_bytes()), wrapped_by_width=True).strip()
    )


def find_documents(directory: Path, exclude: Path, follow_symlinks: bool = False) -> list[Path]:
    """Supported files under `directory`, sorted, skipping hidden folders and our own txt/ output.

    A link to a file outside `directory` is refused unless `follow_symlinks`: pointing litft at a folder
    should not publish what a link in it reaches (`notes.txt -> /etc/passwd`). Two links to one file give one document.
    """
    root = directory.resolve()
    found, seen = [], set()
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts) or exclude in path.resolve().parents:
            continue
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        target = path.resolve()
        if not follow_symlinks and not target.is_relative_to(root):
            raise LitftError(
                f"{path} links to {target}, outside {directory}; "
                "remove the link, or pass --follow_symlinks true to ingest it."
            )
        if target not in seen:
            seen.add(target)
            found.append(path)
    return found


def _modified(path: Path) -> str:
    """A file's modification time to the microsecond, cut from the exact nanoseconds (a float st_mtime rounds, and
    could give two times a microsecond apart the same text), so an edit within the second is still seen."""
    nanoseconds = path.stat().st_mtime_ns
    when = datetime.fromtimestamp(nanoseconds // 1_000_000_000, timezone.utc)
    return when.replace(microsecond=nanoseconds // 1000 % 1_000_000).isoformat(timespec="microseconds")


def ingest(
    directory: Path,
    out_dir: Path | None = None,
    extractor: Extractor = "trafilatura",
    txt: bool = False,
    follow_symlinks: bool = False,
    refresh: bool = False,
    quiet: bool = False,
) -> None:
    """Read the .html, .txt, .md and .pdf files under `directory` into `out_dir/pages.jsonl`.

    Each record's url is the file's file:// URI and fetched_at its modification time (to the microsecond);
    re-running adds only new or changed files. With --refresh the records of files under `directory` that are
    gone, or hold no text any more, are dropped too (other sources' records in pages.jsonl stay).

    Args:
        directory: Folder of documents (searched recursively).
        out_dir: Folder for pages.jsonl; by default `directory` itself, so `litft process DIR` follows.
        extractor: For HTML files: trafilatura (main content) or html2text (whole page).
        txt: Also write each document's text to out_dir/txt/.
        follow_symlinks: Also read files that links in `directory` point to outside it (refused by default).
        refresh: Drop the records of files removed from `directory` or left without text (see above).
        quiet: No progress bar or summary.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise LitftError(f"{directory} is not a folder; give the folder that holds your documents.")
    out_dir = Path(out_dir) if out_dir is not None else directory
    if out_dir.exists() and not out_dir.is_dir():
        raise LitftError(f"--out_dir {out_dir} is a file, not a folder; give a folder for pages.jsonl.")
    pages_path = check_output_file(out_dir / PAGES_FILE, "--out_dir")
    with os_errors_as_user_errors("read", pages_path):
        known = load_pages(pages_path)
    documents = find_documents(directory, exclude=(out_dir / "txt").resolve(), follow_symlinks=follow_symlinks)
    if not documents:
        raise LitftError(f"{directory} holds no .html, .txt, .md or .pdf files; check the folder.")

    counts = {"written": 0, "unchanged": 0, "empty": 0, "unreadable": 0}
    emptied: set[str] = set()
    created = not pages_path.exists()
    with os_errors_as_user_errors("write", pages_path), open_for_append(pages_path) as pages_file:
        for path in progress(documents, quiet=quiet, unit="file", desc="ingest"):
            url = path.resolve().as_uri()
            modified = _modified(path)
            if url in known and known[url]["fetched_at"] == modified:
                counts["unchanged"] += 1
                continue
            try:
                document = read_file(path, extractor)
            except OSError as error:
                counts["unreadable"] += 1
                print(
                    f"ingest: {path} skipped: cannot read it: {(error.strerror or str(error)).lower()}", file=sys.stderr
                )
                continue
            except (PyPdfError, ValueError) as error:
                counts["unreadable"] += 1
                print(f"ingest: {path} skipped, it could not be read ({error})", file=sys.stderr)
                continue
            if not document.text.strip():
                counts["empty"] += 1
                emptied.add(url)
                continue
            append_jsonl(pages_file, page_record(url, document.title, document.text, modified))
            if txt:
                atomic_write_text(out_dir / "txt" / txt_name(url), document.text + "\n")
            counts["written"] += 1
    if refresh:
        current = {path.resolve().as_uri() for path in documents} - emptied
        prefix = directory.resolve().as_uri() + "/"
        with os_errors_as_user_errors("write", pages_path):
            counts["dropped"] = compact_pages(pages_path, lambda url: not url.startswith(prefix) or url in current)
    if not counts["written"] and not counts["unchanged"] and not known:
        if created:
            pages_path.unlink(missing_ok=True)  # the empty file this run made; it would only fail `litft process`
        raise LitftError(
            f"ingest found {len(documents)} files in {directory} but none had text ({counts['empty']} without text, "
            f"{counts['unreadable']} unreadable); check the files, or try --extractor html2text for HTML."
        )
    if not quiet:
        print(
            f"ingest: {counts['written']} documents added to {pages_path} ({counts['unchanged']} unchanged, "
            f"{counts['empty']} without text, {counts['unreadable']} unreadable"
            + (f", {counts['dropped']} gone from {directory} dropped)" if refresh else ")"),
            file=sys.stderr,
        )
