"""Retrieved passages in a prompt: the one layout every `--rag` path uses (RAFT training records, `evaluate`,
`generate`/`chat`, `serve`), so a model tuned on context sees at inference exactly what it was trained on."""

from __future__ import annotations

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
