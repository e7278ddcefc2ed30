"""Answers that are no answer (score 1 on the review scale): empty, a refusal, or the question said back.

The refusal patterns are a short English list and deliberately conservative: an answer counts only when it
opens with an unmistakable refusal ("I don't know", "As an AI ...") or consists of nothing but a phrase that
would be a real answer's start elsewhere ("No information."). Missing a refusal leaves it to the reviewer or
judge; flagging a real answer would hide it, so anything doubtful ("As far as I know, ...") is not flagged.
"""

from __future__ import annotations

import re

from litft.data.clean.dedup import normalized_tokens

# An answer that starts with one of these (then a word boundary) refuses, whatever follows.
REFUSAL_OPENINGS = (
    r"i (?:do not|don't) know",
    r"i (?:cannot|can't|can not|am unable to|am not able to) answer",
    r"i (?:do not|don't) have (?:enough |any |the )?information",
    r"as an ai",
    r"there is no information",
    r"the (?:given |provided )?context does not (?:mention|say|provide|contain|specify)",
    r"the (?:given |provided )?(?:documents?|texts?|passages?|sources?) (?:do|does) not (?:mention|say|provide|contain|"
    r"specify|cover)",
)
# Refusals only when they are the whole answer: at the start they can open a real one ("No information is ...").
REFUSAL_ANSWERS = (
    r"i am not sure",
    r"not sure",
    r"no information(?: (?:is )?(?:given|provided|available))?",
    r"unknown",
    r"(?:(?:it|this|that) is )?not (?:mentioned|stated|given) in the (?:given |provided )?(?:context|text)",
)
_OPENING = re.compile(rf"(?:{'|'.join(REFUSAL_OPENINGS)})\b")
_WHOLE = re.compile(rf"(?:{'|'.join(REFUSAL_ANSWERS)})[\s.!]*")
# A repeat that covers at least this share of the question's words (an echo of the instruction without the context
# it came with still counts; a few quoted words do not).
REPEAT_SHARE = 0.8


def _refusal_form(answer: str) -> str:
    """Case-folded, curly apostrophes straightened, spaces collapsed, "I'm" as "I am": one form per refusal."""
    text = " ".join(answer.casefold().replace("\u2019", "'").split())
    return re.sub(r"\bi'm\b", "i am", text)


def _repeats(answer_words: list[str], question_words: list[str]) -> bool:
    if len(answer_words) < REPEAT_SHARE * len(question_words):
        return False
    return f" {' '.join(answer_words)} " in f" {' '.join(question_words)} "


def is_no_answer(answer: str, question: str) -> str | None:
    """Why `answer` is no answer to `question` ("empty", "refusal", "repeats the question"), or None if it is one.

    Empty means no word at all (whitespace or punctuation only). A repeat is an answer whose normalised words
    (lower-cased, punctuation dropped) are a run of the question's words covering at least 80% of them.
    """
    words = normalized_tokens(answer)
    if not words:
        return "empty"
    text = _refusal_form(answer)
    if _OPENING.match(text) or _WHOLE.fullmatch(text):
        return "refusal"
    if _repeats(words, normalized_tokens(question)):
        return "repeats the question"
    return None
