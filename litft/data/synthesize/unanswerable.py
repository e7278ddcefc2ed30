"""`litft synthesize --unanswerable FRACTION`: questions the documents cannot answer, with an abstention reference.

A domain model will be asked about things its documents do not cover; a model that learned only answerable
questions answers those too, inventing a date or a room number in the right format. These records teach and
test abstention: the reference answer is ABSTENTION_REFERENCE, and each record carries `answerable: false`.

How many: each chunk gets FRACTION of its answerable records' count as unanswerable questions, the fractional
part decided by a hash of the chunk's id, so a chunk's share never depends on the other chunks (a refresh that
leaves a chunk unchanged leaves its questions unchanged). The questions keep the chunk as `source_id`, so
`litft split` puts them on the side of the chunk they were asked about, and both sides get some.

- heuristic backend: the chunk's own question templates ("When was X founded?") asked about an invented
  entity that occurs nowhere in the corpus (the name is checked against every chunk's text).
- openai backend: the model is asked for questions about the passage's subject that the passage does not answer;
  each candidate is then checked against retrieval over the whole corpus (BM25's top passages, and the model asked
  whether any of them answers it), so a question another page answers is dropped. Every response is cached.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from litft.common.errors import LitftError
from litft.data.synthesize.heuristic import PERSON_TITLES, heuristic_pairs
from litft.data.synthesize.parse import ResponseParseError, extract_json_array
from litft.data.synthesize.templates import SYSTEM_PROMPT, Template
from litft.llm.cache import cache_key, text_sha256
from litft.llm.client import LLMClient, RequestFailed

# The reference of every unanswerable record: litft.evaluation.no_answer reads it as a refusal.
ABSTENTION_REFERENCE = "I don't know: the documents do not say."
UNANSWERABLE_TEMPLATE = "unanswerable"
CHECK_PASSAGES = 3  # BM25's top passages over the whole corpus a candidate question is checked against
NAME_ATTEMPTS = 20  # invented names tried per question before the question is given up

# Invented place and family names, rare in real text; one that the corpus contains is never used.
INVENTED_NAMES = (
    "Halvorsen",
    "Quillon",
    "Marrowby",
    "Tessaly",
    "Brankholm",
    "Oderwick",
    "Fenwright",
    "Karrowdale",
    "Lisvane",
    "Ottermere",
    "Pellworth",
    "Rydalmoor",
    "Summerlea",
    "Thistlecombe",
    "Varrick",
    "Wendlebury",
    "Yarrowby",
    "Zennorth",
    "Ashgrove",
    "Belmarsh",
)

QUESTIONS_PROMPT = """Read the passage below. Write {count} questions that a visitor of this page could ask about \
its subject (the organisation, product, person or topic the passage is about) but that the passage does NOT answer.

Rules:
- Each question must be about the same subject, plausible, and make sense on its own (name the subject instead of \
saying "it" or "the passage").
- The passage must not contain the answer, not even in part.
- Answer with a JSON array of objects with the key "question", and nothing else.

Passage:
\"\"\"
{passage}
\"\"\"
"""

CHECK_PROMPT = """Does any of the numbered passages below answer the question, fully or in part?
Reply with one word: yes or no.

Question: {question}

Passages:
{passages}
"""


def _unit_hash(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts`: the same chunk id always draws the same."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction <= 1.0:
        raise LitftError(f"--unanswerable must be between 0 and 1 (a share of the answerable records), got {fraction}.")


def unanswerable_count(chunk_id: str, answerable: int, fraction: float) -> int:
    """How many unanswerable questions a chunk with `answerable` records gets (see the module's docstring)."""
    expected = fraction * answerable
    whole = int(expected)
    return whole + (_unit_hash("unanswerable", chunk_id) < expected - whole)


def unanswerable_record(question: str) -> dict:
    return {"instruction": question, "input": "", "output": ABSTENTION_REFERENCE, "answerable": False}


def _invented_subject(subject: str, name: str, digit_shift: int) -> str:
    """`subject` with its first name word replaced by `name` and its digits shifted ("CE 230" -> "Varrick 563")."""
    words, replaced = subject.split(), False
    for position, word in enumerate(words):
        is_name = word[:1].isupper() and word.casefold() not in PERSON_TITLES and not any(c.isdigit() for c in word)
        if is_name and not replaced:
            words[position], replaced = name, True
        else:
            words[position] = re.sub(r"\d", lambda m: str((int(m.group()) + digit_shift) % 10), word)
    return " ".join(words) if replaced else f"{name} {subject}"


def heuristic_unanswerable(chunk: dict, count: int, corpus_casefold: str) -> list[str]:
    """`count` questions in the chunk's own templates about entities the corpus never names."""
    pairs = [pair for pair in heuristic_pairs(chunk["text"]) if pair.subject and pair.subject in pair.question]
    questions: list[str] = []
    for number in range(count if pairs else 0):
        pair = pairs[number % len(pairs)]
        for attempt in range(NAME_ATTEMPTS):
            draw = _unit_hash(chunk["id"], number, attempt)
            name = INVENTED_NAMES[int(draw * len(INVENTED_NAMES))]
            subject = _invented_subject(pair.subject, name, 1 + int(draw * 1e6) % 9)
            question = pair.question.replace(pair.subject, subject, 1)
            if name.casefold() not in corpus_casefold and subject.casefold() not in corpus_casefold:
                if question not in questions:
                    questions.append(question)
                    break
    return questions


class QuestionChecker:
    """The openai backend's questions, each checked against BM25's best passages over the whole corpus."""

    def __init__(self, chunks: list[dict], client: LLMClient):
        from litft.retrieval import bm25  # the corpus's own index; bm25s loads only when this backend runs
        from litft.retrieval.settings import Bm25Settings

        self.chunks, self.client, self.settings = chunks, client, Bm25Settings()
        self.retriever = bm25.build([chunk["text"] for chunk in chunks], self.settings, quiet=True)
        self.questions_template = Template(UNANSWERABLE_TEMPLATE, QUESTIONS_PROMPT)
        self.check_template = Template(f"{UNANSWERABLE_TEMPLATE}-check", CHECK_PROMPT)
        self.kept = self.answered = self.failed = 0

    def _ask(self, template: Template, text: str, **cache_fields: object) -> str | None:
        """The model's reply to `text` (a cached one first), None when the request failed."""
        key = cache_key(self.client.settings.model, template.fingerprint, text_sha256(text))
        cached = self.client.cached(key)
        if cached:
            self.client.stats.add(cached_hits=1)
            return cached[-1]["text"]
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]
        try:
            return self.client.complete(key, messages, template=template.fingerprint, **cache_fields)["text"]
        except RequestFailed:
            return None

    def _answered_elsewhere(self, question: str) -> bool:
        """Whether the corpus answers `question`, by the model's reading of BM25's top passages (an unclear reply
        counts as answered: a record kept must be unanswerable)."""
        from litft.retrieval import bm25

        ranked = bm25.rank(self.retriever, [question], CHECK_PASSAGES, self.settings)[0]
        if not ranked:
            return False  # no passage shares a word with the question
        passages = "\n".join(f"[{n}] {self.chunks[position]['text']}" for n, (position, _) in enumerate(ranked, 1))
        reply = self._ask(self.check_template, CHECK_PROMPT.format(question=question, passages=passages))
        return reply is None or not reply.strip().casefold().startswith("no")

    def questions(self, chunk: dict, count: int) -> list[str]:
        """Up to `count` questions about the chunk's subject that no passage of the corpus answers."""
        prompt = QUESTIONS_PROMPT.replace("{count}", str(count)).replace("{passage}", chunk["text"])
        reply = self._ask(self.questions_template, prompt, chunk_id=chunk["id"])
        try:
            items = extract_json_array(reply or "")
            candidates = [
                item["question"].strip()
                for item in items
                if isinstance(item, dict) and isinstance(item.get("question"), str)
            ]
        except ResponseParseError:
            candidates = []
        if not candidates:
            self.failed += 1
            return []
        kept = [question for question in dict.fromkeys(candidates[:count]) if not self._answered_elsewhere(question)]
        self.kept += len(kept)
        self.answered += min(len(candidates), count) - len(kept)
        return kept


def unanswerable_questions(
    chunks_and_counts: list[tuple[dict, int]], ask: Callable[[dict, int], list[str]], workers: int = 1
) -> dict[str, list[str]]:
    """chunk id -> its unanswerable questions, asked `workers` chunks at a time."""
    wanted = [(chunk, count) for chunk, count in chunks_and_counts if count > 0]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = pool.map(lambda item: ask(*item), wanted)
        return {chunk["id"]: questions for (chunk, _), questions in zip(wanted, found, strict=True)}
