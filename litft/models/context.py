"""Retrieved passages in a prompt: the one layout every `--rag` path uses (RAFT training records, `evaluate`,
`generate`/`chat`, `serve`), so a model tuned on context sees at inference exactly what it was trained on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from litft.models.instructions import Instruction

# The retrieved chunks as a model sees them with --rag: best first, numbered so an answer can point at one,
#   Context:
#   [1] first chunk's text
#   [2] second chunk's text
# For prompt styles with an input field (alpaca, qa) this block is the input, followed by a blank line and the
# record's own input if it has one; other styles get it before the question, a blank line between.
CONTEXT_TEMPLATE = "Context:\n{passages}"
PASSAGE_TEMPLATE = "[{number}] {text}"


def format_context(passages: list) -> str:
    """The passages (anything with a `.text`, best first) as the prompt shows them (see CONTEXT_TEMPLATE)."""
    numbered = "\n".join(PASSAGE_TEMPLATE.format(number=n, text=hit.text) for n, hit in enumerate(passages, start=1))
    return CONTEXT_TEMPLATE.format(passages=numbered)


def with_context(record: Instruction, passages: list | None, has_input_field: bool) -> Instruction:
    """`record` with its passages in the prompt: in the input field, else before the question (as it is when
    closed-book or when no passage matched)."""
    if not passages:
        return record
    context = format_context(passages)
    if has_input_field:
        return replace(record, input=f"{context}\n\n{record.input}" if record.input else context)
    return replace(record, instruction=f"{context}\n\n{record.instruction}")


def fit_context(
    record: Instruction, passages: list | None, has_input_field: bool, fits: Callable[[Instruction], bool]
) -> tuple[Instruction, int]:
    """`record` with as many of its best passages as `fits` accepts (the model's context is finite: a prompt
    that overflows it cannot be answered), and the passages kept (the lowest-ranked are left out first)."""
    passages = list(passages or [])
    while passages and not fits(with_context(record, passages, has_input_field)):
        passages.pop()
    return with_context(record, passages, has_input_field), passages


def fit_context_to_last_turn(turns: list[dict], passages: list | None, fits: Callable[[list[dict]], bool]) -> tuple:
    """A conversation whose last (user) turn carries as many of its best passages as `fits` (the turns -> bool)
    accepts, before the turn's text: a turn has no input field. Returns the turns and the passages kept."""

    def asking(question: Instruction) -> list[dict]:
        return [*turns[:-1], {**turns[-1], "content": question.instruction}]

    question, kept = fit_context(Instruction(turns[-1]["content"]), passages, False, lambda r: fits(asking(r)))
    return asking(question), kept
