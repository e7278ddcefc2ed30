"""Every score a reviewer gives, appended to EVAL_DIR/reviews/<reviewer>.jsonl the moment it is given.

One JSON line per score, flushed and fsynced (`litft.common.io.append_jsonl`): a killed server or a closed tab
loses nothing, and a write the disk refuses (full) is taken back whole, so the next score starts a line of its
own. Nothing is rewritten: a changed score is a new line, and the latest line of an item counts, so the history
stays. A malformed line (a hand edit, a torn write) is reported with its number and left out; the other lines
are kept.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from litft.common.errors import LitftError
from litft.common.io import append_jsonl, append_line
from litft.common.outputs import record_own_files
from litft.common.text import parse_json
from litft.evaluation.review.items import REVIEWS_KIND, Item
from litft.evaluation.review.table import SCALE

REVIEWER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Names `litft review summarize` gives its own rows (all reviewers' table, the LLM judge as a rater): a reviewer
# of that name would be overwritten by them or mistaken for them. Any case: "Pooled" on a page is "pooled".
POOLED = "pooled"
RESERVED_NAMES = (POOLED, "judge")
MAX_NOTE = 2000


def check_reviewer(name: str | None, flag: str = "--reviewer") -> str:
    """A reviewer name that is safe as a file name: letters, digits and `-_.`, not starting with a dot."""
    if name is None or not REVIEWER_NAME.fullmatch(str(name)):
        raise LitftError(
            f"{flag} {name!r} is not a valid reviewer name; use 1-64 letters, digits, '-', '_' or '.' "
            "(not starting with '.', no '/')."
        )
    if str(name).casefold() in RESERVED_NAMES:
        raise LitftError(
            f"{flag} {name!r} is a name the review summary uses itself ({', '.join(RESERVED_NAMES)}); "
            "choose another reviewer name."
        )
    return str(name)


def reviews_path(reviews_dir: Path, reviewer: str) -> Path:
    return reviews_dir / f"{check_reviewer(reviewer)}.jsonl"


def reviewers(reviews_dir: Path) -> list[str]:
    """The reviewers who have a reviews file, sorted; a file named after a reserved name is refused, not merged."""
    if not reviews_dir.is_dir():
        return []
    names = sorted(p.stem for p in reviews_dir.glob("*.jsonl") if REVIEWER_NAME.fullmatch(p.stem))
    reserved = [name for name in names if name.casefold() in RESERVED_NAMES]
    if reserved:
        raise LitftError(
            f"{reviews_dir / reserved[0]}.jsonl is named like a row of the summary ({', '.join(RESERVED_NAMES)}); "
            "rename the file to the reviewer's own name."
        )
    return names


@dataclass
class Reviews:
    """A reviewer's latest score (and note) per item, and the lines that could not be read."""

    latest: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lines: int = 0


def read_reviews(path: Path) -> Reviews:
    """The reviews file read line by line; a malformed line is a problem naming its number, the rest are kept."""
    reviews = Reviews()
    if not path.is_file():
        return reviews
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            reviews.lines += 1
            record = _parse(raw)
            if record is None:
                reviews.problems.append(f"{path} line {number} is not a valid review record; it was left out")
            else:
                reviews.latest[record["item"]] = record
    return reviews


def _parse(raw: bytes) -> dict | None:
    try:
        record = parse_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("item"), str):
        return None
    if record.get("score") not in SCALE or isinstance(record.get("score"), bool):
        return None
    return record


def _ends_torn(path: Path) -> bool:
    if not path.is_file() or not path.stat().st_size:
        return False
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) != b"\n"


class ReviewStore:
    """One reviewer's reviews file: read once, then appended to; safe to share between request threads."""

    def __init__(self, reviews_dir: Path, reviewer: str):
        self.reviewer = check_reviewer(reviewer)
        self.path = reviews_path(reviews_dir, reviewer)
        self.reviews = read_reviews(self.path)
        self._lock = threading.Lock()
        self._torn_tail = _ends_torn(self.path)

    @property
    def latest(self) -> dict[str, dict]:
        return self.reviews.latest

    def record(self, item: Item, score: int, note: str = "", source: str = "page") -> dict:
        """Append the score (the latest counts) and return the saved record."""
        if score not in SCALE or isinstance(score, bool):
            raise LitftError(f"score must be 0, 1, 2 or 3, not {score!r}.")
        entry = {
            "item": item.id,
            "question": item.question,
            "models": list(item.models),
            "score": score,
            "note": note[:MAX_NOTE],
            "reviewer": self.reviewer,
            "source": source,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():  # marked first: a file the marker does not list is never one litft wrote
                record_own_files(self.path.parent, [self.path.name], REVIEWS_KIND)
            with open(self.path, "a", encoding="utf-8") as fh:
                if self._torn_tail:  # a write cut off by a kill: the next record starts on a line of its own
                    append_line(fh, "\n", sync=False)
                    self._torn_tail = False
                append_jsonl(fh, entry)
            self.reviews.latest[item.id] = entry
        return entry
