"""`--rag INDEX` for `generate` and `chat`: each question's top-k chunks from a retrieval index put into its prompt in
the layout of litft.models.context. `generate` uses it as RAFT training records and `evaluate --rag` do (in the
prompt style's input field where it has one), so a model tuned with `prepare finetune --rag` is asked the way it
learned; a conversation turn (`chat`, `generate --messages`) has no input field, so there the passages go before
the message, as they do for chat-template styles everywhere. Lowest-ranked passages are left out when they would
crowd the answer out of the model's context."""

from __future__ import annotations

from pathlib import Path

from litft.models.context import fit_context, fit_context_to_last_turn
from litft.models.conversations import conversation_prompt, eos_text
from litft.models.instructions import Instruction
from litft.models.prompts import takes_input


class PassageFinder:
    """An index and how many chunks to retrieve per question."""

    def __init__(self, index_dir: Path, k: int):
        from litft.retrieval.index import RetrievalIndex

        self.index = RetrievalIndex.load(index_dir, "--rag")
        self.k = k

    def add_to(self, loaded, instruction: Instruction, max_new_tokens: int):
        """`instruction` with its passages (in the prompt style's input field where it has one), and the passages
        it carries."""
        return fit_context(
            instruction,
            self.index.search(instruction.question, self.k),
            takes_input(loaded.style),
            lambda candidate: loaded.leaves_room(loaded.format(candidate), max_new_tokens),
        )

    def add_to_turns(self, loaded, turns: list[dict], max_new_tokens: int):
        """The conversation with its last (user) turn's passages before that turn's text, and the passages kept."""
        eos = eos_text(loaded.tokenizer)
        return fit_context_to_last_turn(
            turns,
            self.index.search(turns[-1]["content"], self.k),
            lambda candidate: loaded.leaves_room(conversation_prompt(loaded.style, candidate, eos), max_new_tokens),
        )


def sources_line(hits: list) -> str:
    """Where an answer's passages came from, so a reader can check the answer against them ('' without any)."""
    return "sources: " + "  ".join(f"[{n}] {hit.url or hit.id}" for n, hit in enumerate(hits, start=1)) if hits else ""
