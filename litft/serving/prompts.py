"""Chat messages as the prompt the checkpoint was trained on, with retrieved passages when serving with --rag."""

from __future__ import annotations

from collections.abc import Callable

from litgpt.prompts import PromptStyle

from litft.models.context import fit_context
from litft.models.instructions import Instruction
from litft.models.prompts import ChatTemplate, render_prompt, takes_input

Message = dict[str, str]


def last_user_message(messages: list[Message]) -> int:
    """Index of the question: the last user message (the caller has checked there is one)."""
    return max(i for i, message in enumerate(messages) if message["role"] == "user")


def chat_prompt(style: PromptStyle, messages: list[Message], passages: list | None, fits: Callable[[str], bool]) -> str:
    """The prompt for `messages`: a chat template renders the whole conversation; a named style renders each
    user turn as training did, the assistant's replies after them, and the first system message as its system
    prompt. `passages` go with the question (the last user message) in the shared `with_context` layout, as
    many of the best as `fits` accepts (the shared `fit_context`: the lowest-ranked are left out first, so the
    prompt leaves the answer its room in the context)."""
    question = Instruction(messages[last_user_message(messages)]["content"])
    record, _ = fit_context(
        question, passages, _has_input_field(style), lambda record: fits(_conversation(style, messages, record))
    )
    return _conversation(style, messages, record)


def _has_input_field(style: PromptStyle) -> bool:
    return not isinstance(style, ChatTemplate) and takes_input(style)


def _conversation(style: PromptStyle, messages: list[Message], question_record: Instruction) -> str:
    """The conversation up to its last user message, that message rendered from `question_record`."""
    question = last_user_message(messages)
    system = next((m["content"] for m in messages if m["role"] == "system"), None)
    if isinstance(style, ChatTemplate):
        asked = {**messages[question], "content": question_record.instruction}
        return style.render_messages([*messages[:question], asked], add_generation_prompt=True)
    parts = []
    for number, message in enumerate(messages[: question + 1]):
        if message["role"] == "assistant":
            parts.append(message["content"] + "\n\n")
        elif message["role"] == "user":
            record = question_record if number == question else Instruction(message["content"])
            first = not any(m["role"] == "user" for m in messages[:number])
            parts.append(_render(style, record, system if first else None))
    return "".join(parts)


def _render(style: PromptStyle, record: Instruction, system: str | None) -> str:
    if system is None:
        return render_prompt(style, record.instruction, record.input)
    if record.input and takes_input(style):
        return style.apply(record.instruction, sys_prompt=system, input=record.input)
    text = f"{record.instruction}\n\n{record.input}" if record.input else record.instruction
    return style.apply(text, sys_prompt=system)
