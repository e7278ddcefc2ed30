"""Conversations as token pieces: what the model reads, and which pieces it learns (the assistant turns).

With a chat template the conversation is rendered once and cut where each assistant turn starts and ends:
the template's text up to `add_generation_prompt` is context, the rest of the turn (its content and the
template's end-of-turn marker) is trained. This needs each rendered prefix of the conversation to be a
prefix of the whole rendering, which holds for the Llama-3, ChatML, Mistral and Gemma templates; a template
that rewrites earlier turns is refused. A named prompt style renders each user turn as its prompt and
follows each assistant turn with EOS, as single-turn records are.
"""

from __future__ import annotations

from typing import Any

from litgpt.prompts import PromptStyle

from litft.common.errors import LitftError
from litft.data.conversations import Message, check_alternation
from litft.models.prompts import ChatTemplate
from litft.models.tokenizer import encode_batch

Segment = tuple[str, bool, bool]  # text, trained, EOS after it


def conversation_segments(
    style: PromptStyle, messages: list[Message], where: str, add_generation_prompt: bool = False
) -> list[Segment]:
    """The conversation's text in pieces; `add_generation_prompt` ends it with the opening of the next reply."""
    if isinstance(style, ChatTemplate):
        return _template_segments(style, messages, where, add_generation_prompt)
    return _style_segments(style, messages, where)


def _render(style: ChatTemplate, messages: list[Message], add_generation_prompt: bool, where: str) -> str:
    from jinja2.exceptions import TemplateError

    try:
        return style.render_messages(messages, add_generation_prompt)
    except TemplateError as error:  # e.g. a template that raises on turns that do not alternate
        raise LitftError(f"{where}: the chat template refuses this conversation ({error}).") from None


def _template_segments(
    style: ChatTemplate, messages: list[Message], where: str, add_generation_prompt: bool
) -> list[Segment]:
    whole = _render(style, messages, add_generation_prompt, where)

    def end_of(prefix: list[Message], generation_prompt: bool) -> int:
        text = _render(style, prefix, generation_prompt, where) if prefix else ""
        if not whole.startswith(text):
            raise LitftError(
                f"{where}: the chat template renders earlier turns differently once later ones follow, so assistant "
                "turns cannot be told apart; use a named --prompt_style."
            )
        return len(text)

    segments: list[Segment] = []
    position = 0
    for number, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start, end = end_of(messages[:number], True), end_of(messages[: number + 1], False)
        segments += [(whole[position:start], False, False), (whole[start:end], True, False)]
        position = end
    segments.append((whole[position:], False, False))
    return [segment for segment in segments if segment[0]]


def _style_segments(style: PromptStyle, messages: list[Message], where: str) -> list[Segment]:
    check_alternation(messages, where)
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
    turns = messages[1:] if system is not None else messages
    segments: list[Segment] = []
    for number, message in enumerate(turns):
        if message["role"] == "user":
            segments.append((style.apply(message["content"], sys_prompt=system if number == 0 else None), False, False))
        else:
            segments.append((message["content"], True, True))
    return segments


def encode_segments(tokenizer: Any, conversations: list[list[Segment]]) -> list[list[list[int]]]:
    """Each segment's ids, batched per (first segment, EOS) kind; BOS per the tokenizer before the first only."""
    kinds: dict[tuple[bool, bool], list[tuple[int, int, str]]] = {}
    for row, segments in enumerate(conversations):
        for column, (text, _, eos) in enumerate(segments):
            kinds.setdefault((column == 0, eos), []).append((row, column, text))
    pieces: list[list[list[int]]] = [[[] for _ in segments] for segments in conversations]
    for (first, eos), entries in kinds.items():
        ids = encode_batch(tokenizer, [text for _, _, text in entries], bos=None if first else False, eos=eos)
        for (row, column, _), piece in zip(entries, ids, strict=True):
            pieces[row][column] = piece
    return pieces


def fit_whole_turns(pieces: list[list[int]], trained: list[bool], limit: int) -> tuple[list[list[int]], int]:
    """The longest run of whole pieces ending on a trained one that fits `limit` tokens, and the assistant
    turns cut; when not even the first reply fits, the tokens are cut at `limit` instead (right truncation)."""
    total, keep = 0, 0
    for number, piece in enumerate(pieces):
        total += len(piece)
        if total > limit:
            break
        if trained[number]:
            keep = number + 1
    cut = sum(trained[keep:])
    if keep:
        return pieces[:keep], cut
    flat, kept = [token for piece in pieces for token in piece][:limit], []
    for piece in pieces:
        kept.append(flat[: len(piece)])
        flat = flat[len(piece) :]
    return kept, sum(trained) - any(trained[number] and kept[number] for number in range(len(pieces)))


def eos_text(tokenizer: Any) -> str:
    """The EOS token as text, which encodes back to the EOS id (both backends keep it as one special token)."""
    if tokenizer.eos_id is None:
        return ""
    if tokenizer.backend == "huggingface":
        return tokenizer.processor.id_to_token(tokenizer.eos_id) or ""
    return tokenizer.processor.id_to_piece(tokenizer.eos_id)


def conversation_prompt(style: PromptStyle, messages: list[Message], eos: str) -> str:
    """The text that asks for the next assistant reply to `messages` (which end with a user turn), written as
    training wrote the conversation: earlier replies followed by `eos` under a named style."""
    if not messages or messages[-1]["role"] != "user":
        raise LitftError("a conversation to answer must end with a user turn.")
    segments = conversation_segments(style, messages, "the conversation", add_generation_prompt=True)
    return "".join(text + (eos if after else "") for text, _, after in segments)


def drop_oldest_turns(messages: list[Message], fits: Any) -> list[Message]:
    """Drop the oldest user/assistant exchanges (a system message stays) until `fits(messages)` holds; the last
    user turn is always kept."""
    system = messages[:1] if messages and messages[0]["role"] == "system" else []
    turns = messages[len(system) :]
    while len(turns) > 1 and not fits(system + turns):
        turns = turns[2:] if len(turns) > 2 else turns[-1:]
    return system + turns
