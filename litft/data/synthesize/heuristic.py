"""An offline question/answer generator: no model, no key, no network (`--backend heuristic`).

What to expect: it is extractive and literal. It finds sentences of a few fixed shapes — definitions
("X is a ..."), meanings ("X refers to ..."), dates ("X was founded in 1998"), places ("X is based in
...") and capabilities ("X provides ...") — turns the subject into a templated question ("What is X?",
"Who is Dr. X?", "When was X founded?") and answers with the sentence itself, verbatim. Sentences of other shapes, and
sentences whose subject is a pronoun ("It is ..."), an indefinite phrase ("A support line ...") or a
clause ("Acme does not offer ..."), yield nothing, so a chunk may get no pairs. There is
no paraphrase, reasoning or multi-sentence answer; questions repeat the wording of the text.

That consistency is the point: the same kind of question always maps to the same kind of answer, so
even a tiny model can learn it, which makes it right for the demo, smoke tests and users without an
API. It is no substitute for an LLM-written FAQ when the goal is a useful assistant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from litft.data.clean.chunk import LIST_ITEM, segmenter

MIN_SENTENCE_WORDS = 5
MAX_SENTENCE_WORDS = 60
MAX_SUBJECT_WORDS = 8

# Subjects that do not name anything on their own: the question would be unanswerable without the page.
VAGUE_FIRST_WORDS = {
    "it",
    "this",
    "that",
    "these",
    "those",
    "there",
    "here",
    "he",
    "she",
    "they",
    "we",
    "you",
    "i",
    "our",
    "your",
    "their",
    "its",
    "his",
    "her",
    "my",
    "what",
    "which",
    "who",
    "such",
    "each",
    "all",
    "some",
    "many",
    "most",
    "both",
    "one",
    "another",
    "other",
    "if",
    "when",
    "while",
    "although",
    "because",
    # "A support line ..." is no particular thing; "Among them are ..." and "In 2011 ..." are no subject at all.
    "a",
    "an",
    "among",
    "in",
    "at",
    "for",
    "with",
    "during",
    "after",
    "before",
    "from",
    "by",
    "since",
    "until",
    "as",
}
ARTICLES = {"the"}
# Lower-case words a subject never ends with or contains: they show that the regex cut a clause, not a noun
# phrase, before the verb ("Northbridge does not | offer", "Acme will | offer", "Acme plans to | offer").
FUNCTION_WORDS = {
    "do",
    "does",
    "did",
    "not",
    "no",
    "will",
    "would",
    "can",
    "could",
    "may",
    "might",
    "must",
    "shall",
    "should",
    "has",
    "have",
    "had",
    "be",
    "been",
    "being",
    "is",
    "are",
    "was",
    "were",
    "also",
    "only",
    "still",
    "now",
    "never",
    "always",
    "often",
    "usually",
    "currently",
    "already",
    "then",
    "just",
    "even",
    "mainly",
    "generally",
    "soon",
    "to",
    "at",
    "by",
    "with",
    "from",
    "into",
    "about",
    "than",
    "as",
    "who",
    "which",
    "that",
    "whose",
    "it",
    "them",
    "they",
    "us",
    "we",
    "he",
    "she",
    "him",
    "her",
    "if",
    "when",
    "while",
    "because",
    "although",
}
# A definitional sentence about a titled person asks "Who is ...?".
PERSON_TITLES = {"dr.", "professor", "prof.", "mr.", "mrs.", "ms."}
NAME_CONNECTORS = {"of", "for", "and", "&", "de", "in", "on", "-"}
MAX_TRAILING_LOWERCASE = 2

_SUBJECT = r"(?P<subject>[A-Z0-9][^,;:()\"]{0,80}?)"
PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(rf"^{_SUBJECT} (?P<verb>is|are) (?:defined as|known as) .+"), "What {be} {subject}?"),
    (re.compile(rf"^{_SUBJECT} (?P<verb>refers|refer) to .+"), "What does {subject} refer to?"),
    (re.compile(rf"^{_SUBJECT} (?P<verb>stands|stand) for .+"), "What does {subject} stand for?"),
    (re.compile(rf"^{_SUBJECT} (?P<verb>means|mean) .+"), "What does {subject} mean?"),
    (
        re.compile(
            rf"^{_SUBJECT} (?P<verb>was|were) (?P<event>founded|established|created|launched|introduced|released|"
            rf"opened|built|started|formed|incorporated) .*\b(?:1[5-9]\d\d|20\d\d)\b.*"
        ),
        "When {be_past} {subject} {event}?",
    ),
    (
        re.compile(rf"^{_SUBJECT} (?P<verb>is|are) (?P<event>located|based|headquartered|situated) (?:in|at|on) .+"),
        "Where {be} {subject} {event}?",
    ),
    (re.compile(rf"^{_SUBJECT} (?P<verb>is|are|was|were) (?:a|an|the|one of the) .+"), "What {be} {subject}?"),
    (
        re.compile(
            rf"^{_SUBJECT} (?P<verb>(?:provide|offer|support|include|allow|enable|require|contain|produce|"
            rf"develop|sell|manufacture|use|protect|measure|describe|cover)s?) .+"
        ),
        "What does {subject} {base_verb}?",
    ),
]


@dataclass(frozen=True)
class HeuristicPair:
    question: str
    answer: str
    # The subject as the question spells it, so litft.data.synthesize.unanswerable can ask the same about another.
    subject: str = field(default="", compare=False)


def _is_name_word(word: str) -> bool:
    return word[:1].isupper() or word[:1].isdigit()


def _names_something(words: list[str]) -> bool:
    """A name-like phrase: capitalised words or numbers (joined by 'of', 'and' ...), then at most
    MAX_TRAILING_LOWERCASE lower-case head nouns ("Acme warranty", "Machine learning"). This refuses
    clauses that merely start a sentence ("Click here to read more about ...")."""
    position = 0
    while position < len(words) and (_is_name_word(words[position]) or position and words[position] in NAME_CONNECTORS):
        position += 1
    if position == 0 or words[position - 1] in NAME_CONNECTORS:
        return False
    trailing = words[position:]
    return len(trailing) <= MAX_TRAILING_LOWERCASE and not any(_is_name_word(word) for word in trailing)


def _is_clause(words: list[str]) -> bool:
    """The words hold an auxiliary, adverb, pronoun or preposition that a noun phrase would not."""
    return any(word in FUNCTION_WORDS for word in words)


def _question_subject(subject: str) -> str | None:
    """The subject as it reads inside a question, or None when it names nothing on its own."""
    words = subject.split()
    if not words or len(words) > MAX_SUBJECT_WORDS or words[0].lower() in VAGUE_FIRST_WORDS:
        return None
    # "The company" is vague, "The Foo Library" or "The 2020 report" is not.
    has_article = words[0].lower() in ARTICLES
    if not _names_something(words[1:] if has_article else words) or _is_clause(words[1:]):
        return None
    return " ".join([words[0].lower(), *words[1:]]) if has_article else subject


def _may_be_plural(subject: str) -> bool:
    """A plural verb needs a subject with a plural-looking word ("Acme robots", "Students of CE 230")."""
    return any(word.endswith("s") and not word.endswith("'s") for word in subject.split())


def _base_verb(verb: str) -> str:
    return verb[:-1] if verb.endswith("s") else verb


def pair_from_sentence(sentence: str) -> HeuristicPair | None:
    """A question answered by `sentence`, when the sentence has one of the recognised shapes."""
    sentence = " ".join(sentence.split())
    if not (MIN_SENTENCE_WORDS <= len(sentence.split()) <= MAX_SENTENCE_WORDS) or not sentence.endswith("."):
        return None
    for pattern, question_form in PATTERNS:
        match = pattern.match(sentence)
        if match is None:
            continue
        subject = _question_subject(match["subject"].strip())
        if subject is None:
            return None
        verb = match["verb"]
        plural = verb in ("are", "were") or not verb.endswith("s") and verb not in ("is", "was")
        if plural and not _may_be_plural(subject):
            return None  # "A 24-hour | support line ...": a noun read as the verb
        question = question_form.format(
            subject=subject,
            be="are" if plural else "is",
            be_past="were" if plural else "was",
            event=match.groupdict().get("event") or "",
            base_verb=_base_verb(verb),
        )
        if plural and question.startswith("What does "):
            question = "What do " + question[len("What does ") :]
        if (
            question_form == "What {be} {subject}?"
            and subject.split()[0].lower() in PERSON_TITLES
            and "'" not in subject
        ):
            question = "Who" + question[len("What") :]
        return HeuristicPair(question, sentence, subject)
    return None


def heuristic_pairs(text: str) -> list[HeuristicPair]:
    """The question/answer pairs of one chunk, in text order, each question once.

    Each line is a block (chunks keep headings and list items on lines of their own), so no sentence spans
    two lines and a list item is read without its bullet.
    """
    pairs, seen = [], set()
    for line in text.splitlines():
        block = LIST_ITEM.sub("", line.strip())
        if not block:
            continue
        for sentence in segmenter("en").segment(block):
            pair = pair_from_sentence(sentence.strip())
            if pair is not None and pair.question.lower() not in seen:
                seen.add(pair.question.lower())
                pairs.append(pair)
    return pairs
