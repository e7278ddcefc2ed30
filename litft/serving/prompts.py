"""Chat messages as the prompt the checkpoint was trained on, with retrieved passages when serving with --rag.

One implementation with training, `litft chat` and `generate --messages`: the messages are checked as a
training record's are (`read_conversation`), and the prompt is `conversation_prompt` (a chat template renders
the conversation; a named style renders each user turn and follows each earlier reply with EOS)."""

from __future__ import annotations

from collections.abc import Callable

from litgpt.prompts import PromptStyle

from litft.data.conversations import Message, read_conversation
from litft.models.context import fit_context_to_last_turn
from litft.models.conversations import conversation_prompt

WHERE = "messages"  # how errors name the request's conversation


def read_messages(messages: list[Message]) -> list[Message]:
    """The request's messages if training would take them (known roles, a system message first only);
    otherwise one sentence (a LitftError). Whether they alternate and end with a user turn, `chat_prompt` checks
    as `conversation_prompt` does."""
    return list(read_conversation({"messages": messages}, WHERE, need_reply=False))


def chat_prompt(
    style: PromptStyle, messages: list[Message], eos: str, passages: list | None, fits: Callable[[str], bool]
) -> str:
    """The prompt for `messages` (checked by `read_messages`). `passages` go before the question (the last user
    turn) in the shared `with_context` layout, as `litft chat --rag` puts them (a conversation turn has no input
    field), as many of the best as `fits` accepts (the shared `fit_context`: the lowest-ranked are left out
    first, so the prompt leaves the answer its room in the context)."""

    turns, _ = fit_context_to_last_turn(
        messages, passages, lambda candidate: fits(conversation_prompt(style, candidate, eos))
    )
    return conversation_prompt(style, turns, eos)
