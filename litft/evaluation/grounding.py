"""When a `+rag` row answers from retrieved passages, from which one? ROUGE cannot tell "room 120" (the source
chunk's) from "room 210" (a neighbouring passage's); this can.

Each answer is matched to the retrieved passage that holds the largest share of its evidence words, or to the
passage it cites as `[n]` (passages are numbered so in the prompt, litft.models.context). Evidence words are the
answer's content words (`litft filter`'s stop words dropped, "1st" read as "1") that the question does not
already hold: "The registrar's office is in room 210." echoes "registrar's office" from the question, and only
"210" says which passage it was read from. An answer is grounded in the source chunk when that passage is the
question's source chunk (ties go to the source chunk), in another passage when a different passage holds at least
GROUNDED_SHARE of its evidence words, and ungrounded otherwise. Beside that, recall@k of the retriever on the same
questions: an answer grounded elsewhere while the source was not retrieved is a retrieval miss, while it was in the
prompt a reading mistake.
"""

from __future__ import annotations

import re

from litft.data.curate.filter import content_words as filter_content_words

GROUNDED_SHARE = 0.5  # as `litft filter --min_grounding`: half of an answer's content words from one passage
CITATION = re.compile(r"\[(\d{1,2})\]")
ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")


def content_words(text: str) -> list[str]:
    """`litft filter`'s content words, with "1st" read as "1" (an answer's ordinal, a passage's number)."""
    return filter_content_words(ORDINAL.sub(r"\1", text.casefold()))


def evidence_words(answer: str, question: str) -> list[str]:
    """The answer's content words the question does not hold (all of them when it holds every one)."""
    words, asked = content_words(answer), set(content_words(question))
    return [word for word in words if word not in asked] or words


KINDS = ("source", "other", "ungrounded")


def ground(answer: str, passages: list, source_id: str | None, question: str = "") -> dict:
    """Where `answer` to `question` comes from among the prompt's `passages` (best first, each with `.id` and
    `.text`)."""
    cited = [int(n) for n in CITATION.findall(answer) if 1 <= int(n) <= len(passages)]
    words = evidence_words(CITATION.sub(" ", answer), question)
    held = [set(content_words(passage.text)) for passage in passages]
    shares = [sum(word in found for word in words) / len(words) if words else 0.0 for found in held]
    if cited:
        best = cited[0] - 1
    elif shares:
        # The highest share wins; among equal shares the source chunk, then the better-ranked passage.
        best = max(range(len(passages)), key=lambda i: (shares[i], passages[i].id == source_id, -i))
    else:
        return {"kind": "ungrounded", "passage": None, "chunk": None, "share": 0.0, "cited": False}
    if not cited and shares[best] < GROUNDED_SHARE:
        kind = "ungrounded"
    else:
        kind = "source" if passages[best].id == source_id else "other"
    return {
        "kind": kind,
        "passage": best + 1,
        "chunk": passages[best].id,
        "share": round(shares[best], 4),
        "cited": bool(cited),
    }


def grounding_summary(records, kinds: list[str], answers: list[str], retrieved: list, used: list) -> tuple:
    """(the row's summary, each question's grounding or None): over the answerable questions with a source chunk
    that the row answered (not a refusal nor an empty answer); `retrieved` and `used` are each question's retrieved
    and prompted passages."""
    per_question: list[dict | None] = []
    counts = dict.fromkeys(KINDS, 0) | {"retrieval_miss": 0, "misread": 0}
    found = asked = 0
    for record, kind, answer, hits, kept in zip(records, kinds, answers, retrieved, used, strict=True):
        if not record.answerable or record.source_id is None:
            per_question.append(None)
            continue
        asked += 1
        in_prompt = any(hit.id == record.source_id for hit in kept)
        found += any(hit.id == record.source_id for hit in hits)
        if kind != "answered":
            per_question.append(None)
            continue
        grounding = ground(answer, kept, record.source_id, record.question)
        per_question.append(grounding)
        counts[grounding["kind"]] += 1
        if grounding["kind"] != "source":
            counts["misread" if in_prompt else "retrieval_miss"] += 1
    if not asked:
        return None, per_question
    answered = sum(counts[kind] for kind in KINDS)
    summary = {
        "questions": asked,
        "answered": answered,
        **{kind: counts[kind] for kind in KINDS},
        **{f"{kind}_share": counts[kind] / answered if answered else 0.0 for kind in KINDS},
        "recall_at_k": found / asked,
        "k": max((len(hits) for hits in retrieved), default=0),
        "not_from_source": {"retrieval_miss": counts["retrieval_miss"], "misread": counts["misread"]},
    }
    return summary, per_question


def add_grounding(result, records, retrieved: list | None, used: list | None):
    """`result` (a ModelResult) with its grounding when it is a `+rag` row (`retrieved` is None closed-book)."""
    if retrieved is not None:
        result.grounding, result.grounding_per_question = grounding_summary(
            records, result.answer_kinds, result.answers, retrieved, used
        )
    return result
