"""extract_f1_vs_html2text: main-text extraction quality of litft's extract_text against BeautifulSoup + html2text.

Data: shared/data/extraction-benchmark (181 news/blog pages with the article body a person marked).
Scorer (our own): lower-cased \\w+ tokens, 4-word shingles as sets, per-document precision and recall,
each averaged over documents; F1 from the averaged precision and recall, as the source benchmark reports it.

    python bench/extract.py [--data PATH]
    python bench/extract.py --quick   # 5 pages: a smoke run of the same code (CI runs it), seconds
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from litft.data.acquire.extract import extract_text  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction-benchmark"
SHINGLE = 4


def shingles(text: str) -> set[tuple[str, ...]]:
    tokens = re.findall(r"\w+", text.lower())
    return {tuple(tokens[i : i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1))} if tokens else set()


def precision_recall(predicted: str, truth: str) -> tuple[float, float]:
    """Per-document precision and recall; an empty prediction has precision 1 (it claims nothing wrong) and recall 0."""
    predicted_set, truth_set = shingles(predicted), shingles(truth)
    if not predicted_set and not truth_set:
        return 1.0, 1.0
    if not predicted_set:
        return 1.0, 0.0
    if not truth_set:
        return 0.0, 1.0
    overlap = len(predicted_set & truth_set)
    return overlap / len(predicted_set), overlap / len(truth_set)


def score(extractor: str, pages: list[tuple[str, str, str]]) -> dict[str, float]:
    precisions, recalls = [], []
    start = time.perf_counter()
    for html, url, truth in pages:
        p, r = precision_recall(extract_text(html, url=url, extractor=extractor), truth)
        precisions.append(p)
        recalls.append(r)
    precision, recall = sum(precisions) / len(pages), sum(recalls) / len(pages)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="score the first 5 pages: a smoke run of the same code")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    truth = json.loads((args.data / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)[: 5 if args.quick else None]
    pages = [
        (
            gzip.decompress((args.data / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8", errors="replace"),
            truth[page_id]["url"],
            truth[page_id]["articleBody"],
        )
        for page_id in ids
    ]
    litft = score("trafilatura", pages)
    baseline = score("html2text", pages)
    print(
        json.dumps(
            {
                "name": "extract_f1_vs_html2text",
                "litft": round(litft["f1"], 4),
                "baseline": round(baseline["f1"], 4),
                "ratio": round(litft["f1"] / baseline["f1"], 4),
                "unit": "F1 (4-word shingles, per-document P/R averaged)",
                "notes": (
                    f"{len(pages)} pages; litft P={litft['precision']:.3f} R={litft['recall']:.3f} "
                    f"{litft['seconds']:.1f}s; html2text P={baseline['precision']:.3f} R={baseline['recall']:.3f} "
                    f"{baseline['seconds']:.1f}s"
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
