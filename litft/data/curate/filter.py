"""`litft filter`: drop instruction records a model should not learn from, as Self-Instruct and Alpaca did.

Rules, each record removed for the first that applies (counted by reason in the summary):
per record — instruction length out of bounds, starting with punctuation or "Write a program", a
blacklisted word (tasks a text model cannot do: images, files, plots ...), empty output, input equal
to output, output ending with ':' (cut off), and optionally an answer not grounded in its source chunk;
then exact duplicates (same normalised instruction and input); then ROUGE-L novelty: an instruction
whose ROUGE-L F-measure with an instruction kept before it is above the threshold is dropped (records
sharing one instruction text, e.g. several instances of a Self-Instruct task, stand or fall together).

Conversations (OpenAI `messages`, ShareGPT `conversations`) go through the same rules, kept in their form.
The first user turn is the instruction (the task, which the instruction rules and ROUGE-L look at: follow-up
turns such as "Why?" are short by nature); every assistant turn is an output, checked against the user turn
before it (empty, an echo of that turn, ending with ':'); grounding checks all assistant turns joined; and a
duplicate has the same normalised system and user turns.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from litft.common.errors import LitftError
from litft.common.io import iter_jsonl, progress, refuse_same_path
from litft.common.outputs import claim_output_file, record_output_file
from litft.data.conversations import is_conversation, read_conversation
from litft.data.curate.rouge_dedup import make_tokenizer, rouge_novel_mask
from litft.data.records import read_records, write_jsonl

# Self-Instruct's list (Wang et al. 2022): tasks about media or actions a language model cannot carry out.
DEFAULT_BLACKLIST = [
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "go to",
    "video",
    "audio",
    "music",
    "flowchart",
    "diagram",
]

# Words that say nothing about whether an answer comes from its chunk; ignored by the grounding check.
STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this "
    "that these those there their they them he she his her we our you your i my me not no yes do does did "
    "has have had can could will would should may might must so than then also which who whom what when "
    "where why how all any each some such into about over after before".split()
)


# The option that lets more records through, for each reason that has one.
RELAXING_OPTIONS = {
    "instruction_too_short": "--min_instruction_words",
    "instruction_too_long": "--max_instruction_words",
    "blacklisted_word": "--blacklist",
    "ungrounded": "--min_grounding",
    "rouge_similar": "--rouge_threshold",
}


def normalised(text: str) -> str:
    """Case-folded words only: 'What is X?' and 'what is  x' are the same instruction."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def content_words(text: str) -> list[str]:
    """Case-folded words less stop words: what grounding compares (here and in litft.evaluation.grounding)."""
    return [word for word in re.findall(r"\w+", text.casefold()) if word not in STOPWORDS]


def grounding_share(answer: str, source_text: str) -> float | None:
    """Share of the answer's content words found in the source; None when the answer has none."""
    words = content_words(answer)
    if not words:
        return None
    source_words = set(content_words(source_text))
    return sum(word in source_words for word in words) / len(words)


class RecordRules:
    """The per-record rules; `reason` names the first one a record breaks, or returns None."""

    def __init__(self, min_instruction_words: int, max_instruction_words: int, blacklist: list[str]):
        self.min_words = min_instruction_words
        self.max_words = max_instruction_words
        words = sorted((re.escape(word.strip()) for word in blacklist if word.strip()), key=len, reverse=True)
        self.blacklist = re.compile(rf"\b(?:{'|'.join(words)})\b", re.IGNORECASE) if words else None

    def instruction_reason(self, instruction: str) -> str | None:
        """The rules about the task itself (Self-Instruct applies these to each new instruction)."""
        instruction = instruction.strip()
        word_count = len(instruction.split())
        if word_count < self.min_words:
            return "instruction_too_short"
        if word_count > self.max_words:
            return "instruction_too_long"
        if instruction and instruction[0] in string.punctuation:
            return "starts_with_punctuation"
        if instruction.lower().startswith("write a program"):
            return "write_a_program"
        if self.blacklist is not None and self.blacklist.search(instruction):
            return "blacklisted_word"
        return None

    def reason(self, view: FilterView) -> str | None:
        instruction_reason = self.instruction_reason(view.instruction)
        if instruction_reason:
            return instruction_reason
        for given, output in view.exchanges:
            output = output.strip()
            if not output:
                return "empty_output"
            if normalised(given) == normalised(output):
                return "input_equals_output"
            if output.endswith(":"):
                return "output_ends_with_colon"
        return None


class FilterView(NamedTuple):
    """What the rules see of one record, whatever its form.

    `exchanges` pairs each output with what it answers: (input, output) for an instruction record, (the user
    turn before it, the reply) for each assistant turn of a conversation. `prompt` is what a duplicate repeats.
    """

    instruction: str
    exchanges: list[tuple[str, str]]
    prompt: tuple[str, ...]
    answer: str


def read_filter_input(input: Path) -> tuple[list[dict], list[FilterView]]:
    """The records of a JSONL file of instruction records or of conversations, and their views."""
    input = Path(input)
    if not (input.is_file() and is_conversation(next(iter_jsonl(input), None))):
        numbered = read_records(input, ("instruction", "output"), "instruction record")
        for number, record in numbered:
            if not isinstance(record.get("input", ""), str):
                raise LitftError(
                    f"{input} line {number}: field 'input' must be text, not {type(record['input']).__name__}."
                )
        records = [record for _, record in numbered]
        views = [
            FilterView(
                r["instruction"],
                [(r.get("input", ""), r["output"])],
                (r["instruction"], r.get("input", "")),
                r["output"],
            )
            for r in records
        ]
        return records, views
    numbered = read_records(input, (), "conversation record")
    return [record for _, record in numbered], [
        _conversation_view(read_conversation(record, f"{input} line {number}")) for number, record in numbered
    ]


def _conversation_view(messages: list[dict[str, str]]) -> FilterView:
    instruction = next((m["content"] for m in messages if m["role"] == "user"), "")
    exchanges, last_user = [], ""
    for message in messages:
        if message["role"] == "user":
            last_user = message["content"]
        elif message["role"] == "assistant":
            exchanges.append((last_user, message["content"]))
    prompt = tuple(f"{m['role']}: {m['content']}" for m in messages if m["role"] != "assistant")
    return FilterView(instruction, exchanges, prompt, "\n\n".join(output for _, output in exchanges))


def _read_chunk_texts(path: Path) -> dict[str, str]:
    return {
        chunk["id"]: chunk["text"] for _, chunk in read_records(path, ("id", "text"), "chunk record ({id, url, text})")
    }


def filter_records(
    input: Path,
    output: Path,
    rouge_threshold: float = 0.7,
    rouge_use_stemmer: bool = False,
    min_instruction_words: int = 3,
    max_instruction_words: int = 150,
    blacklist: list[str] | None = None,
    chunks: Path | None = None,
    min_grounding: float = 0.5,
    removed: Path | None = None,
    quiet: bool = False,
    overwrite: bool = False,
) -> None:
    """Filter instruction records (JSONL with instruction, output and optional input) or conversations (`messages`
    or `conversations` JSONL) and print counts by reason.

    Args:
        input: Records to filter (qa.jsonl from synthesize, self-instruct output, any Alpaca-form JSONL), or
            conversations: the first user turn is the instruction, each assistant turn an output (see above).
        output: Kept records, in input order and in their form.
        rouge_threshold: Drop an instruction whose ROUGE-L F-measure with an earlier kept one is above this
            (1 disables).
        rouge_use_stemmer: Porter-stem words before ROUGE-L, as rouge-score's use_stemmer (Self-Instruct did not).
        min_instruction_words: Drop instructions with fewer words (Self-Instruct used 4; 3 keeps "What is X?").
        max_instruction_words: Drop instructions with more words.
        blacklist: Words or phrases that mark a task a text model cannot do; default Self-Instruct's list.
        chunks: chunks.jsonl to check grounding against: drop answers with too few words from their source chunk.
        min_grounding: With --chunks, the least share of an answer's content words that must occur in its chunk.
        removed: Also write the removed records, each with the reason in "removed_because".
        quiet: No progress bar.
        overwrite: Replace an --output or --removed file that litft did not write.
    """
    if not 0.0 <= rouge_threshold <= 1.0 or not 0.0 <= min_grounding <= 1.0:
        raise LitftError("--rouge_threshold and --min_grounding must be between 0 and 1.")
    if min_instruction_words < 0 or max_instruction_words < min_instruction_words:
        raise LitftError("--min_instruction_words must be >= 0 and at most --max_instruction_words.")
    outputs = {"--output": output} | ({"--removed": removed} if removed else {})
    for flag, path in outputs.items():
        for source, source_flag in ((input, "--input"), *(((chunks, "--chunks"),) if chunks else ())):
            refuse_same_path(source, path, source_flag, flag)
        claim_output_file(path, overwrite, flag)
    if removed:
        refuse_same_path(output, removed, "--output", "--removed")
    records, views = read_filter_input(input)
    rules = RecordRules(
        min_instruction_words, max_instruction_words, DEFAULT_BLACKLIST if blacklist is None else blacklist
    )
    chunk_texts = _read_chunk_texts(Path(chunks)) if chunks else None

    reasons, ungrounded_unchecked = _rule_reasons(records, views, rules, chunk_texts, min_grounding, quiet)
    reasons = _with_rouge_reasons(views, reasons, rouge_threshold, rouge_use_stemmer, quiet)

    kept = [record for record, why in zip(records, reasons, strict=True) if why is None]
    counts = Counter(why for why in reasons if why)
    if removed:  # written even when nothing is kept: it shows why
        write_jsonl(
            removed, [{**record, "removed_because": why} for record, why in zip(records, reasons, strict=True) if why]
        )
        record_output_file(removed)
    if not kept:  # an empty output would only fail the next stage; the older output, if any, stays
        by_reason = ", ".join(f"{reason}: {count}" for reason, count in counts.most_common())
        options = list(dict.fromkeys(RELAXING_OPTIONS[reason] for reason in counts if reason in RELAXING_OPTIONS))
        advice = f"relax {' or '.join(options)}, or check the input" if options else "check the input"
        raise LitftError(f"filter removed all {len(records)} records of {input} (by reason: {by_reason}); {advice}.")
    write_jsonl(output, kept)
    record_output_file(output)
    lines = [f"filter: kept {len(kept)} of {len(records)} records in {output}"]
    lines += [f"  {reason}: {count}" for reason, count in counts.most_common()]
    if ungrounded_unchecked:
        lines.append(f"  ({ungrounded_unchecked} records have no source chunk in {chunks}; grounding not checked)")
    print("\n".join(lines))


def _rule_reasons(
    records: list[dict],
    views: list[FilterView],
    rules: RecordRules,
    chunk_texts: dict[str, str] | None,
    min_grounding: float,
    quiet: bool,
) -> tuple[list[str | None], int]:
    """Per record, the rule it breaks, "ungrounded" or "duplicate" (None: it passes).

    Also how many records had no source chunk to check grounding against.
    """
    reasons: list[str | None] = []
    ungrounded_unchecked = 0
    seen: set[tuple[str, ...]] = set()
    for record, view in progress(
        zip(records, views, strict=True), total=len(records), quiet=quiet, desc="filter rules", unit="record"
    ):
        reason = rules.reason(view)
        # An unanswerable question's reference ("I don't know ...") is right for not being in its chunk.
        if reason is None and chunk_texts is not None and record.get("answerable") is not False:
            source = chunk_texts.get(str(record.get("source_id")))
            share = grounding_share(view.answer, source) if source is not None else None
            if source is None:
                ungrounded_unchecked += 1
            elif share is not None and share < min_grounding:
                reason = "ungrounded"
        if reason is None:
            key = tuple(normalised(part) for part in view.prompt)
            reason = "duplicate" if key in seen else None
            seen.add(key)
        reasons.append(reason)
    return reasons, ungrounded_unchecked


def _with_rouge_reasons(
    views: list[FilterView], reasons: list[str | None], rouge_threshold: float, rouge_use_stemmer: bool, quiet: bool
) -> list[str | None]:
    """`reasons`, with "rouge_similar" for each surviving record whose instruction is too close to an earlier one.

    ROUGE-L runs over the distinct instruction texts of the surviving records, in order of first appearance.
    """
    distinct = list(dict.fromkeys(v.instruction for v, why in zip(views, reasons, strict=True) if why is None))
    tokenize = make_tokenizer(rouge_use_stemmer)
    tokens = [tokenize(text) for text in progress(distinct, quiet=quiet, desc="tokenize", unit="instruction")]
    novel = dict(zip(distinct, rouge_novel_mask(tokens, rouge_threshold), strict=True))
    return [why or (None if novel[v.instruction] else "rouge_similar") for v, why in zip(views, reasons, strict=True)]
