"""`litft chat`: an interactive conversation with a checkpoint or a fine-tuning run, each reply streamed, the
conversation so far in the prompt (its oldest turns dropped to fit), with retrieved passages under `--rag`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from litft.common.errors import LitftError
from litft.common.settings import CHAT_SAMPLING, Precision, Quantize, SamplingSettings
from litft.generation.generate import LoadedModel, Timing, stats_line, stop_strings
from litft.generation.passages import PassageFinder, sources_line
from litft.models.conversations import conversation_prompt, drop_oldest_turns, eos_text
from litft.models.tokenizer import encode_batch


def chat(
    checkpoint_dir: Path,
    sampling: SamplingSettings = CHAT_SAMPLING,
    prompt_style: str | None = None,
    base_dir: Path | None = None,
    device: str = "auto",
    precision: Precision | None = None,
    quantize: Quantize | None = None,
    max_history_tokens: int | None = None,
    rag: Path | None = None,
    rag_k: int = 3,
) -> None:
    """Chat interactively: each prompt's reply streams as it is generated, with the conversation so far in the
    prompt (`/reset` forgets it). Ctrl-D or Ctrl-C at the prompt exits; Ctrl-C during a reply stops that reply.

    Args:
        checkpoint_dir: A litgpt checkpoint or a fine-tuning output directory.
        sampling: How tokens are chosen and when a reply stops.
        prompt_style: Override the prompt style saved with the checkpoint.
        base_dir: Base checkpoint for a LoRA/adapter run, when it moved.
        device: auto, cpu, cuda, cuda:N or mps.
        precision: 32-true, 16-true or bf16-true.
        quantize: bitsandbytes quantization of the frozen weights, or `none` (default: as the run was trained).
        max_history_tokens: Most prompt tokens the conversation may take; the oldest turns are dropped first
            (default: the model's context less --sampling.max_new_tokens).
        rag: A retrieval index: each message is asked with its top --rag_k chunks before it (the conversation
            keeps the message alone), their sources printed after the reply.
        rag_k: Chunks retrieved per message with --rag.
    """
    settings = replace(sampling, stop=stop_strings(sampling.stop))
    settings.validate()
    finder = PassageFinder(rag, rag_k) if rag is not None else None  # before the model: a damaged index fails fast
    loaded = LoadedModel(checkpoint_dir, base_dir, device, precision, quantize, prompt_style)
    print(
        f"Now chatting with {loaded.describe()}.\n"
        "/reset forgets the conversation; Ctrl-D or Ctrl-C to exit; Ctrl-C during a reply stops it.",
        file=sys.stderr,
    )
    chat_loop(loaded, settings, max_history_tokens=max_history_tokens, finder=finder)


def _is_utf8(line: str) -> bool:
    """False for a line holding bytes that were not UTF-8 (kept as lone surrogates by surrogateescape)."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def chat_loop(
    loaded: LoadedModel,
    settings: SamplingSettings,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] | None = None,
    log: Callable[[str], None] | None = None,
    max_history_tokens: int | None = None,
    finder: PassageFinder | None = None,
) -> int:
    """The interactive loop; returns the number of replies. `read`/`write`/`log` are the terminal.

    The conversation so far goes into each prompt, its oldest exchanges dropped to stay within
    `max_history_tokens`; `/reset` starts over. With a `finder` (`--rag`) each message is asked with its
    passages before it, and the conversation keeps the message alone (passages of earlier turns would crowd
    the context out)."""
    write = write or (lambda text: print(text, end="", flush=True))
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    if read is input and hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="surrogateescape")  # a non-UTF-8 line then costs only itself, not what follows
    not_utf8 = "skipped a line that is not UTF-8 text; set the terminal (or the piped file) to UTF-8 and type it again."
    replies, history = 0, []
    limit = max_history_tokens or loaded.info.config.block_size - settings.max_new_tokens
    while True:
        try:
            line = read(">> Prompt: ")
        except (EOFError, KeyboardInterrupt):
            write("\n")
            return replies
        except UnicodeDecodeError:  # a `read` that decodes strictly
            log(not_utf8)
            continue
        if not _is_utf8(line):
            log(not_utf8)
            continue
        if not line.strip():
            continue
        if line.strip() == "/reset":
            history = []
            log("conversation reset.")
            continue
        write(">> Reply: ")
        before = Timing(loaded.timing.tokens, loaded.timing.seconds)
        try:
            # Passages are fitted to the message alone: they matter more than the oldest turns history_prompt drops.
            asked, hits = [{"role": "user", "content": line}], []
            if finder is not None:
                asked, hits = finder.add_to_turns(loaded, asked, settings.max_new_tokens)
            messages, prompt = history_prompt(loaded, [*history, *asked], limit)
            completion = loaded.stream(prompt, settings, write)
        except KeyboardInterrupt:
            write(" [stopped]\n")
            continue
        except LitftError as error:  # a prompt too long for the model: this turn fails, the chat goes on
            write("\n")
            log(str(error))
            continue
        history = [*messages[:-1], {"role": "user", "content": line}, {"role": "assistant", "content": completion.text}]
        replies += 1
        write("\n")
        if hits:
            log(sources_line(hits))
        log(stats_line(Timing(loaded.timing.tokens - before.tokens, loaded.timing.seconds - before.seconds)))


def history_prompt(loaded: LoadedModel, messages: list[dict[str, str]], limit: int) -> tuple[list[dict[str, str]], str]:
    """The kept turns and their prompt text: the oldest exchanges go first until the prompt fits `limit` tokens."""
    eos = eos_text(loaded.tokenizer)

    def fits(turns: list[dict[str, str]]) -> bool:
        return len(encode_batch(loaded.tokenizer, [conversation_prompt(loaded.style, turns, eos)])[0]) <= limit

    kept = drop_oldest_turns(messages, fits)
    return kept, conversation_prompt(loaded.style, kept, eos)
