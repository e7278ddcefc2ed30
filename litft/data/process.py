"""Process: pages.jsonl -> clean, boilerplate-free, de-duplicated chunks (`chunks.jsonl`, `pretrain.txt`).

Order matters: exact duplicates go before boilerplate counting (a page served under two URLs would
otherwise count its lines twice), and near duplicates are judged after boilerplate removal (shared
menus and footers would otherwise make different pages look alike).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from litft.data.boilerplate import remove_boilerplate
from litft.data.chunk import chunk_text
from litft.data.clean import clean_text
from litft.data.dedup import ExactDeduper, NearDeduper
from litft.data.pages import PAGES_FILE, load_pages
from litft.errors import LitftError
from litft.io import atomic_path, atomic_write_json, progress

CHUNKS_FILE = "chunks.jsonl"
PRETRAIN_FILE = "pretrain.txt"
STATS_FILE = "process_stats.json"


def process(
    directory: Path,
    out_dir: Path | None = None,
    chunk_words: int = 250,
    overlap_words: int = 10,
    language: str = "en",
    boilerplate_share: float = 0.5,
    boilerplate_min_pages: int = 5,
    near_duplicate_threshold: float = 0.8,
    quiet: bool = False,
) -> dict[str, int]:
    """Clean, remove site boilerplate, de-duplicate and chunk `directory/pages.jsonl`.

    Writes chunks.jsonl (`{id, url, text, n_words}`), pretrain.txt (one chunk per line) and
    process_stats.json (what each step removed) into `out_dir`.

    Args:
        directory: Folder holding pages.jsonl (from `litft scrape` or `litft ingest`), or the file itself.
        out_dir: Where to write; by default the same folder.
        chunk_words: Most words per chunk; chunks end at sentence boundaries where a sentence fits.
        overlap_words: Words each chunk repeats from the end of the one before.
        language: pysbd language code for sentence splitting.
        boilerplate_share: A line on more than this share of one site's pages is removed.
        boilerplate_min_pages: Sites with fewer pages are not checked for boilerplate.
        near_duplicate_threshold: Estimated Jaccard similarity of 5-word shingles at which a page or chunk is a near duplicate.
        quiet: No progress bar or summary.
    """
    directory = Path(directory)
    pages_path = directory if directory.is_file() else directory / PAGES_FILE
    if not pages_path.is_file():
        raise LitftError(f"{pages_path} does not exist; run `litft scrape` or `litft ingest` first, or give the folder holding pages.jsonl.")
    if not 0 < boilerplate_share <= 1 or not 0 < near_duplicate_threshold <= 1:
        raise LitftError("boilerplate_share and near_duplicate_threshold must be in (0, 1]; fix the values.")
    out_dir = Path(out_dir) if out_dir is not None else pages_path.parent
    records = list(load_pages(pages_path).values())
    stats = {"pages": len(records), "empty_pages": 0}

    exact_pages = ExactDeduper()
    cleaned: list[tuple[str, str]] = []
    for record in records:
        text = clean_text(record["text"])
        if not text:
            stats["empty_pages"] += 1
        elif exact_pages.is_new(text):
            cleaned.append((record["url"], text))
    stats["exact_duplicate_pages"] = len(records) - len(cleaned) - stats["empty_pages"]

    texts, stats["boilerplate_lines_removed"] = remove_boilerplate(cleaned, boilerplate_share, boilerplate_min_pages)
    near_pages = NearDeduper(near_duplicate_threshold)
    pages = [(url, text) for (url, _), text in zip(cleaned, texts) if text.strip() and near_pages.is_new(text)]
    stats["near_duplicate_pages"] = sum(1 for text in texts if text.strip()) - len(pages)
    stats["pages_kept"] = len(pages)

    exact_chunks, near_chunks = ExactDeduper(), NearDeduper(near_duplicate_threshold)
    chunks: list[dict] = []
    stats["exact_duplicate_chunks"] = stats["near_duplicate_chunks"] = 0
    for url, text in progress(pages, quiet=quiet, unit="page", desc="chunk"):
        url_id = hashlib.sha1(url.encode("utf-8")).hexdigest()[:10]
        for number, chunk in enumerate(chunk_text(text, chunk_words, overlap_words, language)):
            if not exact_chunks.is_new(chunk):
                stats["exact_duplicate_chunks"] += 1
            elif not near_chunks.is_new(chunk):
                stats["near_duplicate_chunks"] += 1
            else:
                chunks.append({"id": f"{url_id}-{number:04d}", "url": url, "text": chunk, "n_words": len(chunk.split())})
    stats["chunks"] = len(chunks)
    stats["words"] = sum(chunk["n_words"] for chunk in chunks)

    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / CHUNKS_FILE) as tmp:
        tmp.write_text("".join(json.dumps(chunk, ensure_ascii=False) + "\n" for chunk in chunks), encoding="utf-8")
    with atomic_path(out_dir / PRETRAIN_FILE) as tmp:
        tmp.write_text("".join(chunk["text"] + "\n" for chunk in chunks), encoding="utf-8")
    atomic_write_json(out_dir / STATS_FILE, stats)
    if not quiet:
        print(f"process: {stats['chunks']} chunks ({stats['words']} words) from {stats['pages_kept']} of {stats['pages']} pages "
              f"into {out_dir / CHUNKS_FILE}; removed {stats['exact_duplicate_pages']} duplicate and "
              f"{stats['near_duplicate_pages']} near-duplicate pages, {stats['boilerplate_lines_removed']} boilerplate lines, "
              f"{stats['exact_duplicate_chunks'] + stats['near_duplicate_chunks']} duplicate chunks", file=sys.stderr)
    return stats
