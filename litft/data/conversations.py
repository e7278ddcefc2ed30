"""Multi-turn records: OpenAI `messages` ([{role, content}]) and ShareGPT `conversations` ([{from, value}]).

Both become one list of `{"role": system|user|assistant, "content": text}`; a record with an unknown role,
a turn that is not text, or no assistant turn to learn from is one sentence naming the record.
"""

from __future__ import annotations

from typing import Any

from litft.common.errors import LitftError

MESSAGE_KEYS = ("messages", "conversations")
ROLES = ("system", "user", "assistant")
# ShareGPT's speaker names (FastChat's conversion scripts use these), mapped onto OpenAI's roles.
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}

Message = dict[str, str]


class Conversation(list):
    """A record's turns (a list of messages) that remembers where it came from, for errors found later."""

    def __init__(self, messages: list[Message], where: str) -> None:
        super().__init__(messages)
        self.where = where


def is_conversation(record: Any) -> bool:
    return isinstance(record, dict) and any(isinstance(record.get(key), list) for key in MESSAGE_KEYS)


def conversation_key(record: Any) -> str | None:
    return next((key for key in MESSAGE_KEYS if isinstance(record, dict) and isinstance(record.get(key), list)), None)


def read_conversation(record: Any, where: str, need_reply: bool = True) -> Conversation:
    """The turns of one `messages` or `conversations` record; `where` names it in errors ("data.jsonl line 3").

    Training records need an assistant turn (`need_reply`); a conversation to answer need not have one yet."""
    key = conversation_key(record)
    if key is None:
        raise LitftError(f"{where} has no 'messages' or 'conversations' list; each record must hold one.")
    sharegpt = key == "conversations"
    role_key, content_key = ("from", "value") if sharegpt else ("role", "content")
    known = SHAREGPT_ROLES if sharegpt else {role: role for role in ROLES}
    messages = []
    for number, turn in enumerate(record[key], start=1):
        if not isinstance(turn, dict):
            raise LitftError(f"{where} turn {number} is not an object with {role_key!r} and {content_key!r}.")
        role, content = turn.get(role_key), turn.get(content_key)
        if role not in known:
            raise LitftError(
                f"{where} turn {number} has unknown role {role!r}; the roles are {', '.join(sorted(known))}."
            )
        if not isinstance(content, str):
            raise LitftError(
                f"{where} turn {number} has no text {content_key!r}; each turn's content must be a string."
            )
        messages.append({"role": known[role], "content": content})
    if not messages:
        raise LitftError(f"{where} has no turns; give at least one message.")
    if need_reply and not any(message["role"] == "assistant" for message in messages):
        raise LitftError(f"{where} has no assistant turn, so nothing would be learned; add the reply or drop it.")
    if any(message["role"] == "system" for message in messages[1:]):
        raise LitftError(f"{where} has a system turn after the first; put the system message first.")
    return Conversation(messages, where)


def check_alternation(messages: list[Message], where: str) -> None:
    """User and assistant turns must alternate, user first (after an optional system message)."""
    turns = messages[1:] if messages and messages[0]["role"] == "system" else messages
    for number, message in enumerate(turns):
        expected = "user" if number % 2 == 0 else "assistant"
        if message["role"] != expected:
            raise LitftError(
                f"{where} turn {number + 1 + (len(messages) - len(turns))} is {message['role']} where {expected} "
                "was expected; this prompt style needs user and assistant turns to alternate."
            )


def as_messages(record: dict[str, Any]) -> dict[str, Any]:
    """An Alpaca record as a `messages` record (the user turn is the instruction, then its input); other keys,
    such as provenance, are kept."""
    user = f"{record['instruction']}\n\n{record['input']}" if record.get("input") else record["instruction"]
    rest = {key: value for key, value in record.items() if key not in ("instruction", "input", "output")}
    turns = [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]
    return {"messages": turns, **rest}
