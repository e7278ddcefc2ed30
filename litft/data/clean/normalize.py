"""Text cleaning: what extraction and PDF readers leave behind that no model should learn from."""

from __future__ import annotations

import re

import ftfy

COMMENT_OR_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>", re.DOTALL)
# A URL ends before trailing punctuation, so "see https://x.org." keeps its full stop.
URL = re.compile(r"\b(?:https?://|ftp://|www\.)\S+?(?=[.,;:!?)\]}'\"]*(?:\s|$))", re.IGNORECASE)
# Replacement characters, zero-width and bidi controls, private-use and non-characters: invisible or meaningless.
INVALID = re.compile("[\ufffd\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ue000-\uf8ff\ufdd0-\ufdef\ufffe\uffff]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$")


def _table_row_as_text(line: str) -> str:
    """Extractors render tables as markdown rows; "| Founded | 1911 |" reads better as "Founded: 1911"."""
    if TABLE_SEPARATOR.match(line):
        return ""
    if not (line.startswith("|") and line.endswith("|") and len(line) > 2):
        return line
    cells = [cell.strip() for cell in line[1:-1].split("|") if cell.strip()]
    return ": ".join(cells) if len(cells) == 2 else "; ".join(cells)


def clean_text(text: str) -> str:
    """Mojibake and entities fixed (ftfy), tags, URLs, stray angle brackets, control and invalid characters removed,
    whitespace collapsed, markdown table rows turned into plain text; non-empty lines (paragraphs) kept, one per
    line.
    """
    text = ftfy.fix_text(text, unescape_html=True, uncurl_quotes=False)  # curly quotes are text, not damage
    text = COMMENT_OR_TAG.sub(" ", text)
    text = URL.sub("", text)
    text = text.replace("<", " ").replace(">", " ")
    text = INVALID.sub("", text)
    text = CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = (_table_row_as_text(" ".join(line.split())) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
