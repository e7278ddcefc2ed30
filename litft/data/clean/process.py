"""Process: pages.jsonl -> clean, boilerplate-free, de-duplicated chunks (`chunks.jsonl`, `pretrain.txt`).

Order matters: exact duplicates go before boilerplate counting (a page served under two URLs would
otherwise count its lines twice), and near duplicates are judged after boilerplate removal (shared
menus and footers would otherwise make different pages look alike).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from litft.common.errors import LitftError, os_errors_as_user_errors
from litft.common.io import (
    atomic_path,
    atomic_write_json,
    check_output_file,
    progress,
    refuse_same_path,
)
from litft.common.outputs import check_in_place_files, owned_files, record_own_files
from litft.common.text import parse_json
from litft.data.clean.boilerplate import find_boilerplate, strip_boilerplate
from litft.data.clean.changes import CHANGES_FILE, CHANGES_VERSION, assign_ids, file_sha256, read_previous
from litft.data.clean.chunk import check_sizes, iter_chunks
from litft.data.clean.dedup import ExactDeduper, NearDeduper, SignatureCache
from litft.data.clean.normalize import clean_text
from litft.data.pages import PAGES_FILE, load_pages

CHUNKS_FILE = "chunks.jsonl"
PRETRAIN_FILE = "pretrain.txt"
STATS_FILE = "process_stats.json"
MINHASH = (128, 5)  # permutations and shingle words of the near-duplicate signatures
SIGNATURES_FILE = "minhash.npz"  # near-duplicate signatures by text, reused by the next run (dedup.SignatureCache)
OUTPUT_FILES = (CHUNKS_FILE, PRETRAIN_FILE, STATS_FILE, CHANGES_FILE, SIGNATURES_FILE)
PROCESS_KIND = "process"


def process(
    directory: Path,
    out_dir: Path | None = None,
    chunk_words: int = 250,
    overlap_words: int = 10,
    language: str = "en",
    boilerplate_share: float = 0.5,
    boilerplate_min_pages: int = 5,
    near_duplicate_threshold: float = 0.8,
    previous: Path | None = None,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict[str, int]:
    """Clean, remove site boilerplate, de-duplicate and chunk `directory/pages.jsonl`.

    Writes chunks.jsonl (`{id, url, text, n_words}`, one line of text per heading, list item or paragraph),
    pretrain.txt (one chunk per line, its blocks joined by spaces), process_stats.json (what each step
    removed) and changes.json (pages and chunks added, changed and removed since the previous chunks) into
    `out_dir`. A chunk whose page still has its exact text keeps its id (litft.data.clean.changes); re-running on
    the same pages leaves every file as it was, changes.json included.

    Args:
        directory: Folder holding pages.jsonl (from `litft scrape` or `litft ingest`), or the file itself.
        out_dir: Where to write; by default the same folder.
        chunk_words: Most words per chunk; chunks end between headings, list items and paragraphs, or at
            sentence boundaries inside a longer one.
        overlap_words: Words each chunk repeats from the end of the one before.
        language: pysbd language code for sentence splitting.
        boilerplate_share: A line on more than this share of one site's pages is removed.
        boilerplate_min_pages: Sites with fewer pages are not checked for boilerplate.
        near_duplicate_threshold: Estimated Jaccard similarity of 5-word shingles at which a page or chunk is a
            near duplicate.
        previous: The chunks.jsonl (or its folder) of an earlier run whose ids to keep; by default the
            chunks.jsonl litft wrote in out_dir before, if any.
        overwrite: Replace a chunks.jsonl / pretrain.txt / process_stats.json in out_dir that litft did not write.
        quiet: No progress bar or summary.
    """
    directory = Path(directory)
    pages_path = directory if directory.is_file() else directory / PAGES_FILE
    if not pages_path.is_file():
        raise LitftError(
            f"{pages_path} does not exist; run `litft scrape` or `litft ingest` first, "
            "or give the folder holding pages.jsonl."
        )
    if not 0 < boilerplate_share <= 1 or not 0 < near_duplicate_threshold <= 1:
        raise LitftError("boilerplate_share and near_duplicate_threshold must be in (0, 1]; fix the values.")
    check_sizes(chunk_words, overlap_words)
    out_dir = _checked_out_dir(pages_path, out_dir, overwrite)
    previous_path = _previous_chunks(previous, out_dir)
    with os_errors_as_user_errors("read", previous_path or pages_path):
        previous_chunks = read_previous(previous_path) if previous_path else None

    with os_errors_as_user_errors("read", pages_path):
        by_url = load_pages(pages_path)
    stats = {"pages": len(by_url), "empty_pages": 0}
    if not by_url:
        raise LitftError(
            f"{pages_path} holds no pages; run `litft scrape` or `litft ingest` again and check what it reports."
        )
    cleaned = _clean_unique_pages(by_url, stats)
    boilerplate = find_boilerplate(cleaned, boilerplate_share, boilerplate_min_pages)
    stats.update(
        boilerplate_lines_removed=0,
        boilerplate_only_pages=0,
        near_duplicate_pages=0,
        pages_kept=0,
        exact_duplicate_chunks=0,
        near_duplicate_chunks=0,
        chunks=0,
        words=0,
    )
    cache = SignatureCache(out_dir / SIGNATURES_FILE if SIGNATURES_FILE in owned_files(out_dir) else None, *MINHASH)
    pages = _kept_pages(cleaned, boilerplate, NearDeduper(near_duplicate_threshold, *MINHASH, cache), stats, quiet)
    records = list(_unique_chunks(pages, chunk_words, overlap_words, language, near_duplicate_threshold, stats, cache))
    if not records:  # raised before the new files replace any earlier ones
        raise LitftError(_no_chunks_reason(pages_path, stats))
    changes = assign_ids(records, previous_chunks)
    previous_sha = file_sha256(previous_path) if previous_path else None
    _write_outputs(out_dir, records, stats, {"version": CHANGES_VERSION, "previous": previous_sha, **changes})
    with os_errors_as_user_errors("write", out_dir / SIGNATURES_FILE):
        cache.save(out_dir / SIGNATURES_FILE)
    record_own_files(out_dir, OUTPUT_FILES, PROCESS_KIND)
    if not quiet:
        print(_summary(stats, out_dir), file=sys.stderr)
    return stats


def _previous_chunks(previous: Path | None, out_dir: Path) -> Path | None:
    """The chunks.jsonl whose ids this run keeps: --previous (a file or the folder holding one), else the one litft
    wrote in out_dir before, else none (a first run)."""
    if previous is None:
        return out_dir / CHUNKS_FILE if CHUNKS_FILE in owned_files(out_dir) else None
    previous = Path(previous)
    path = previous / CHUNKS_FILE if previous.is_dir() else previous
    if not path.is_file():
        raise LitftError(
            f"--previous {previous} is not a chunks.jsonl nor a folder holding one; give an earlier run's."
        )
    return path


def _write_outputs(out_dir: Path, records: list[dict], stats: dict[str, int], changes: dict) -> None:
    """chunks.jsonl, pretrain.txt and changes.json, each complete before any replaces an older one.

    A run that reproduces the chunks.jsonl already there keeps the changes.json that describes it (the change
    that made this version), so re-running a refresh, or a killed one, ends with the same files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    chunks_sha = hashlib.sha256()
    with (
        os_errors_as_user_errors("write", out_dir),
        atomic_path(out_dir / CHUNKS_FILE) as chunks_tmp,
        atomic_path(out_dir / PRETRAIN_FILE) as pretrain_tmp,
        atomic_path(out_dir / CHANGES_FILE) as changes_tmp,
    ):
        with open(chunks_tmp, "wb") as chunks_file, open(pretrain_tmp, "w", encoding="utf-8") as pretrain_file:
            for record in records:
                line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
                chunks_file.write(line)
                chunks_sha.update(line)
                # One chunk per line, as `prepare` reads it.
                pretrain_file.write(" ".join(record["text"].split("\n")) + "\n")
                stats["chunks"] += 1
                stats["words"] += record["n_words"]
        current = "sha256:" + chunks_sha.hexdigest()
        earlier = _read_changes(out_dir / CHANGES_FILE)
        if changes["previous"] == current and earlier is not None and earlier.get("current") == current:
            changes = earlier
        atomic_write_json(changes_tmp, {**changes, "current": current})
    with os_errors_as_user_errors("write", out_dir / STATS_FILE):
        atomic_write_json(out_dir / STATS_FILE, stats)


def _read_changes(path: Path) -> dict | None:
    try:
        changes = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return changes if isinstance(changes, dict) else None


def _checked_out_dir(pages_path: Path, out_dir: Path | None, overwrite: bool) -> Path:
    """The output folder (by default beside pages.jsonl), once no output would replace an input or a user's file."""
    out_dir = Path(out_dir) if out_dir is not None else pages_path.parent
    if out_dir.exists() and not out_dir.is_dir():
        raise LitftError(
            f"--out_dir {out_dir} is a file, not a folder; give a folder for chunks.jsonl and pretrain.txt."
        )
    for name in OUTPUT_FILES:
        refuse_same_path(pages_path, out_dir / name, "--directory", "--out_dir")
        check_output_file(out_dir / name, "--out_dir")
    check_in_place_files(out_dir, OUTPUT_FILES, overwrite, "--out_dir")
    return out_dir


def _clean_unique_pages(by_url: dict[str, dict], stats: dict[str, int]) -> list[tuple[str, str]]:
    """`(url, cleaned text)` of each non-empty page whose text no earlier page had; empties `by_url` as it goes.

    One cleaned copy of each page is held (the raw text is let go as soon as it is cleaned): boilerplate
    needs every page of a site before the first can be stripped.
    """
    exact_pages = ExactDeduper()
    cleaned: list[tuple[str, str]] = []
    for url in list(by_url):
        text = clean_text(by_url.pop(url)["text"])
        if not text:
            stats["empty_pages"] += 1
        elif exact_pages.is_new(text):
            cleaned.append((url, text))
    stats["exact_duplicate_pages"] = stats["pages"] - len(cleaned) - stats["empty_pages"]
    return cleaned


def _kept_pages(
    cleaned: list[tuple[str, str]],
    boilerplate: dict[str, set[bytes]],
    near_pages: NearDeduper,
    stats: dict[str, int],
    quiet: bool,
) -> Iterator[tuple[str, str]]:
    """Each page with its site's boilerplate stripped, unless nothing is left or it nearly repeats an earlier page."""
    for index in progress(range(len(cleaned)), quiet=quiet, unit="page", desc="chunk"):
        url, text = cleaned[index]
        cleaned[index] = ("", "")  # memory goes down as the pages are chunked
        text, removed = strip_boilerplate(url, text, boilerplate)
        stats["boilerplate_lines_removed"] += removed
        if not text.strip():
            stats["boilerplate_only_pages"] += 1
        elif not near_pages.is_new(text):
            stats["near_duplicate_pages"] += 1
        else:
            stats["pages_kept"] += 1
            yield url, text


def _unique_chunks(
    pages: Iterator[tuple[str, str]],
    chunk_words: int,
    overlap_words: int,
    language: str,
    near_duplicate_threshold: float,
    stats: dict[str, int],
    cache: SignatureCache,
) -> Iterator[dict]:
    """The pages' `{id, url, text, n_words}` chunk records, less chunks that repeat or nearly repeat an earlier one."""
    exact_chunks, near_chunks = ExactDeduper(), NearDeduper(near_duplicate_threshold, *MINHASH, cache)
    for url, text in pages:
        url_id = hashlib.sha1(url.encode("utf-8")).hexdigest()[:10]
        for number, chunk in enumerate(iter_chunks(text, chunk_words, overlap_words, language)):
            if not exact_chunks.is_new(chunk):
                stats["exact_duplicate_chunks"] += 1
            elif not near_chunks.is_new(chunk):
                stats["near_duplicate_chunks"] += 1
            else:
                yield {"id": f"{url_id}-{number:04d}", "url": url, "text": chunk, "n_words": len(chunk.split())}


def _summary(stats: dict[str, int], out_dir: Path) -> str:
    return (
        f"process: {stats['chunks']} chunks ({stats['words']} words) from {stats['pages_kept']} of "
        f"{stats['pages']} pages into {out_dir / CHUNKS_FILE}; removed {stats['exact_duplicate_pages']} duplicate "
        f"and {stats['near_duplicate_pages']} near-duplicate pages, {stats['boilerplate_lines_removed']} "
        f"boilerplate lines, {stats['exact_duplicate_chunks'] + stats['near_duplicate_chunks']} duplicate chunks"
    )


def _no_chunks_reason(pages_path: Path, stats: dict[str, int]) -> str:
    return (
        f"process made no chunks from the {stats['pages']} pages of {pages_path}: {stats['empty_pages']} were empty "
        f"after cleaning and {stats['boilerplate_only_pages']} held only lines repeated across their site; check the "
        "pages' text (scrape or ingest with --extractor html2text keeps whole pages) or raise --boilerplate_share."
    )
