"""Prompt templates that turn one chunk into one chat request asking for a JSON list of records.

`faq` asks for question/answer pairs a reader of the page would ask; `triples` asks for
instruction/input/output triples as a paper's passage suggests. A user's own template is a text file
whose `{passage}` placeholder receives the chunk (only that placeholder is replaced, so the file may
contain JSON examples with braces).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from litft.common.errors import LitftError
from litft.llm.cache import text_sha256

PLACEHOLDER = "{passage}"

SYSTEM_PROMPT = (
    "You write training data for a question-answering assistant. You answer with a JSON array only, no commentary."
)

# A backslash ending a line inside these prompts joins it to the next: the text is one line, the source stays short.
FAQ_PROMPT = """Read the passage below and write an FAQ section for it: the questions a visitor of this page would \
ask, each answered from the passage alone.

Rules:
- Write between 3 and 8 questions, depending on how much the passage says.
- Each question must make sense on its own, without seeing the passage (name the product, organisation or topic \
instead of saying "it" or "the passage").
- Each answer is one to three complete sentences using only facts stated in the passage.
- Answer with a JSON array of objects with the keys "question" and "answer", and nothing else.

Passage:
\"\"\"
{passage}
\"\"\"
"""

TRIPLES_PROMPT = """Read the passage below, taken from a paper, and write instruction-tuning examples that teach \
its content.

Rules:
- Write between 3 and 8 examples: explanations of its concepts, questions about its methods and findings, and \
tasks applying them.
- "instruction" states the task on its own (no "according to the passage"); "input" holds any material the task \
needs, or "" when none; "output" is the correct response using only facts stated in the passage.
- Answer with a JSON array of objects with the keys "instruction", "input" and "output", and nothing else.

Passage:
\"\"\"
{passage}
\"\"\"
"""

BUILTIN_TEMPLATES = {"faq": FAQ_PROMPT, "triples": TRIPLES_PROMPT}


@dataclass(frozen=True)
class Template:
    """A named prompt; `fingerprint` changes whenever its text does, so cached answers follow the text."""

    name: str
    user_prompt: str
    system_prompt: str = SYSTEM_PROMPT

    @property
    def fingerprint(self) -> str:
        return f"{self.name}:{text_sha256(self.system_prompt + chr(0) + self.user_prompt)[:16]}"

    def messages(self, passage: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": self.user_prompt.replace(PLACEHOLDER, passage)},
        ]


def load_template(name_or_path: str) -> Template:
    """A built-in template by name (faq, triples) or a user's UTF-8 text file with a {passage} placeholder."""
    if name_or_path in BUILTIN_TEMPLATES:
        return Template(name_or_path, BUILTIN_TEMPLATES[name_or_path])
    path = Path(name_or_path)
    if not path.is_file():
        raise LitftError(
            f"--template {name_or_path!r} is neither a built-in template ({', '.join(BUILTIN_TEMPLATES)}) nor a file."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LitftError(f"template {path} is not UTF-8 text; re-save it as UTF-8.") from None
    if PLACEHOLDER not in text:
        raise LitftError(f"template {path} has no {PLACEHOLDER} placeholder; put it where the chunk text goes.")
    return Template(path.stem, text)
