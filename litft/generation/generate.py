"""`litft generate`: answers from a checkpoint or a fine-tuning run (`litft chat`: litft.generation.chat).

The run directory tells which method made it (full weights, or LoRA/adapter-v2 weights applied to the base
its hyperparameters name). The prompt style saved with the checkpoint formats the prompt, as in training.
Decoding is litgpt's GPT with its KV cache (see `litft.generation.sampling`); many prompts go in exact batches.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from litgpt.prompts import PromptStyle

from litft.common.errors import LitftError
from litft.common.io import atomic_path, progress
from litft.common.outputs import claim_output_file, record_output_file
from litft.common.settings import GENERATION_SAMPLING, Precision, Quantize, SamplingSettings
from litft.generation.passages import PassageFinder, sources_line
from litft.generation.sampling import RowDecoder, Sampler, decode_batch, plan_batches
from litft.models.checkpoint import CheckpointInfo, inspect_checkpoint, load_model
from litft.models.conversations import conversation_prompt, eos_text
from litft.models.instructions import Instruction, dumps_record, read_messages, read_prompts
from litft.models.methods import get_method
from litft.models.prompts import (
    PROMPT_STYLE_FILE,
    get_prompt_style,
    load_prompt_style,
    render_prompt,
    style_name,
)
from litft.models.quantize import check_quantize, resolve_quantize
from litft.models.tokenizer import encode_batch, load_tokenizer

PRECISION_DTYPES = {"32-true": torch.float32, "16-true": torch.float16, "bf16-true": torch.bfloat16}


def resolve_device(device: str) -> torch.device:
    """`auto` is the first CUDA GPU when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise LitftError(f"--device {device!r} is not a device; use auto, cpu, cuda, cuda:1 or mps.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise LitftError(f"--device {device} asks for a GPU but torch sees no CUDA device; use --device cpu.")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise LitftError("--device mps is not available on this machine; use --device cpu.")
    return resolved


def resolve_precision(precision: str | None, device: torch.device) -> str:
    """The default is bf16 on GPUs that support it, 16-bit on other GPUs, 32-bit on CPU."""
    if precision is None:
        if device.type == "cuda":
            return "bf16-true" if torch.cuda.is_bf16_supported() else "16-true"
        return "32-true"
    if precision not in PRECISION_DTYPES:
        raise LitftError(
            f"--precision {precision!r} is not supported for generation; choose one of {', '.join(PRECISION_DTYPES)}."
        )
    return precision


@dataclass
class Completion:
    prompt: str
    text: str
    prompt_tokens: int
    generated_tokens: int
    finish_reason: str


@dataclass
class Timing:
    tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def _first_dir_with(directories: Sequence[Path | None], names: Sequence[str]) -> Path | None:
    for directory in directories:
        if directory is not None and any((Path(directory) / name).is_file() for name in names):
            return Path(directory)
    return None


class LoadedModel:
    """A checkpoint's model, tokenizer and prompt style, ready to answer prompts."""

    def __init__(
        self,
        checkpoint_dir: str | Path,
        base_dir: str | Path | None = None,
        device: str = "auto",
        precision: str | None = None,
        quantize: str | None = None,
        prompt_style: str | PromptStyle | None = None,
    ):
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        # A QLoRA run records its base's quantization: the base is loaded the same way unless --quantize says.
        recorded_run = inspect_checkpoint(checkpoint_dir)
        recorded = recorded_run.hyperparameters.get("quantize") if get_method(recorded_run.method).delta_only else None
        self.quantize = resolve_quantize(quantize if quantize is not None else recorded)
        if self.quantize is not None:
            check_quantize(self.quantize, self.device)
        dtype = PRECISION_DTYPES[self.precision]
        model, info = load_model(
            checkpoint_dir, base_dir=base_dir, device=self.device, dtype=dtype, quantize=self.quantize
        )
        fold_weights = get_method(info.method).fold_weights
        if fold_weights is not None and self.quantize is None:
            fold_weights(model)  # LoRA: one matmul per layer instead of two while decoding (a quantized base keeps two)
        self.model = model
        self.info: CheckpointInfo = info
        search = [info.path, info.base_dir]
        tokenizer_dir = _first_dir_with(search, ("tokenizer.json", "tokenizer.model"))
        if tokenizer_dir is None:
            raise LitftError(
                f"neither {info.path} nor its base has tokenizer files; copy tokenizer.json (and its config) there."
            )
        self.tokenizer = load_tokenizer(tokenizer_dir)
        if isinstance(prompt_style, PromptStyle):
            self.style = prompt_style
        elif prompt_style is not None:
            self.style = get_prompt_style(prompt_style, tokenizer_dir)
        else:
            style_dir = _first_dir_with(search, (PROMPT_STYLE_FILE,))
            self.style = load_prompt_style(style_dir) if style_dir else PromptStyle.from_config(info.config)
        self.stop_tokens = [list(seq) for seq in self.style.stop_tokens(self.tokenizer)]
        self.timing = Timing()

    @property
    def style_name(self) -> str:
        return style_name(self.style)

    def format(self, instruction: Instruction | str) -> str:
        if isinstance(instruction, str):
            instruction = Instruction(instruction)
        return render_prompt(self.style, instruction.instruction, instruction.input)

    def encode(self, text: str) -> list[int]:
        ids = encode_batch(self.tokenizer, [text])[0]
        block_size = self.info.config.block_size
        if len(ids) >= block_size:
            raise LitftError(
                f"a prompt is {len(ids)} tokens but the model's context is {block_size}; "
                f"shorten it (it starts {text[:60]!r})."
            )
        window = self.info.config.sliding_window_size
        if window is not None and len(ids) > window:  # litgpt's ring-buffer KV cache cannot prefill past its window
            raise LitftError(
                f"a prompt is {len(ids)} tokens but the model's sliding attention window is {window}; "
                f"shorten it (it starts {text[:60]!r})."
            )
        return ids

    def leaves_room(self, prompt: str, max_new_tokens: int) -> bool:
        """Whether `prompt` leaves `max_new_tokens` of the model's context for the answer."""
        return len(encode_batch(self.tokenizer, [prompt])[0]) <= self.info.config.block_size - max_new_tokens

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(torch.tensor(ids, dtype=torch.long)) if ids else ""

    def _row(self, prompt_ids: list[int], settings: SamplingSettings) -> RowDecoder:
        room = self.info.config.block_size - len(prompt_ids)
        return RowDecoder(self.decode, min(settings.max_new_tokens, room), self.stop_tokens, settings.stop)

    def complete(
        self,
        prompts: Sequence[str],
        settings: SamplingSettings,
        batch_size: int = 8,
        quiet: bool = True,
        on_batch: Callable[[list[int], list[Completion]], None] | None = None,
    ) -> list[Completion]:
        """Answers to formatted `prompts`, in order, decoded in batches of similar length.

        With greedy settings each answer is identical to decoding its prompt alone. `on_batch` sees each
        finished batch (its prompt indices and completions), e.g. to save progress.
        """
        settings.validate()
        encoded = [self.encode(prompt) for prompt in prompts]
        equal_only = self.info.config.sliding_window_size is not None
        results: list[Completion | None] = [None] * len(prompts)
        sampler = Sampler(settings, len(prompts), self.device)
        bar = progress(total=len(prompts), quiet=quiet, desc="generating", unit="prompt")
        for batch in plan_batches([len(ids) for ids in encoded], batch_size, equal_only):
            rows = [self._row(encoded[i], settings) for i in batch]
            start = time.perf_counter()
            decode_batch(self.model, [encoded[i] for i in batch], rows, sampler, sampler_rows=batch)
            self._synchronize()
            self.timing.seconds += time.perf_counter() - start
            self.timing.tokens += sum(row.generated_tokens for row in rows)
            done = []
            for i, row in zip(batch, rows, strict=True):
                results[i] = Completion(
                    prompts[i], row.text, len(encoded[i]), row.generated_tokens, row.finish_reason or "length"
                )
                done.append(results[i])
            if on_batch is not None:
                on_batch(batch, done)
            bar.update(len(batch))
        bar.close()
        return [result for result in results if result is not None]

    def stream(self, prompt: str, settings: SamplingSettings, write: Callable[[str], None]) -> Completion:
        """Answer one formatted prompt, handing text to `write` as soon as it is certain."""
        settings.validate()
        ids = self.encode(prompt)
        row = self._row(ids, settings)
        start = time.perf_counter()
        try:
            decode_batch(
                self.model, [ids], [row], Sampler(settings, 1, self.device), on_step=lambda: write(row.pending_text())
            )
        finally:
            self._synchronize()
            self.timing.seconds += time.perf_counter() - start
            self.timing.tokens += row.generated_tokens
        return Completion(prompt, row.text, len(ids), row.generated_tokens, row.finish_reason or "length")

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def describe(self) -> str:
        base = f" on base {self.info.base_dir}" if self.info.base_dir else ""
        quantized = f", {self.quantize}" if self.quantize else ""
        return (
            f"{self.info.path} ({self.info.method}{base}; {self.device}, {self.precision}{quantized}; "
            f"prompt style {self.style_name})"
        )


def stop_strings(stop: list[str] | None) -> list[str]:
    """Stop strings as typed on a command line, where a newline is hard to type: \\n and \\t are decoded."""
    return [text.replace("\\n", "\n").replace("\\t", "\t") for text in stop or []]


def stats_line(timing: Timing) -> str:
    return f"{timing.tokens} tokens in {timing.seconds:.2f} s ({timing.tokens_per_second:.1f} tokens/s)"


def generate(
    checkpoint_dir: Path,
    prompt: str | None = None,
    prompts_file: Path | None = None,
    output: Path | None = None,
    sampling: SamplingSettings = GENERATION_SAMPLING,
    prompt_style: str | None = None,
    base_dir: Path | None = None,
    device: str = "auto",
    precision: Precision | None = None,
    quantize: Quantize | None = None,
    batch_size: int = 8,
    stream: bool = True,
    quiet: bool = False,
    messages: Path | None = None,
    rag: Path | None = None,
    rag_k: int = 3,
    overwrite: bool = False,
) -> list[Completion]:
    """Generate text from a checkpoint or a fine-tuning run (full, LoRA or adapter-v2: read from the run dir).

    Args:
        checkpoint_dir: A litgpt checkpoint or a litft/litgpt fine-tuning output directory.
        prompt: One prompt; its answer streams to stdout.
        prompts_file: Many prompts: a .txt file (one per line) or JSON/JSONL instruction records; decoded in batches.
        output: With --prompts_file, write the answers here as JSONL instead of printing them.
        sampling: How tokens are chosen and when an answer stops (e.g. --sampling.temperature 0 for greedy).
        prompt_style: Override the prompt style saved with the checkpoint (alpaca, qa, chat_template, a litgpt
            style name; `default` sends the prompt unchanged).
        base_dir: Base checkpoint for a LoRA/adapter run, when it moved from where the run recorded it.
        device: auto, cpu, cuda, cuda:N or mps.
        precision: 32-true, 16-true or bf16-true (default: bf16/16-bit on GPU, 32-bit on CPU).
        quantize: Load the frozen weights with bitsandbytes (bnb.nf4, bnb.nf4-dq, bnb.fp4, bnb.fp4-dq, bnb.int8; CPU or
            CUDA) or `none` for full precision (default: as the run was trained, e.g. a QLoRA run's bnb.nf4).
        batch_size: Prompts decoded together with --prompts_file.
        stream: Print the answer to a single --prompt as it is generated.
        quiet: No progress bar or statistics on stderr.
        messages: Answer conversations instead: a JSON {"messages": [...]} record (or its list of turns), or
            JSONL of them, each ending with a user turn; rendered with the prompt style as training rendered them.
        rag: A retrieval index (`litft index build`): each prompt carries its top --rag_k chunks in the layout
            of `prepare finetune --rag` and `evaluate --rag` (sources are printed on stderr; --output records
            their ids).
        rag_k: Chunks retrieved per prompt with --rag.
        overwrite: Replace an --output file that litft did not write.
    """
    if sum(given is not None for given in (prompt, prompts_file, messages)) != 1:
        raise LitftError('give exactly one of --prompt "...", --prompts_file FILE or --messages FILE.')
    if output is not None and prompt is not None:
        raise LitftError("--output goes with --prompts_file or --messages; a single --prompt prints its answer.")
    if output is not None:
        claim_output_file(output, overwrite, "--output")
    settings = replace(sampling, stop=stop_strings(sampling.stop))
    settings.validate()
    finder = PassageFinder(rag, rag_k) if rag is not None else None
    if messages is not None:
        conversations = read_messages(messages)
        loaded = LoadedModel(checkpoint_dir, base_dir, device, precision, quantize, prompt_style)
        if finder is not None:
            conversations = [finder.add_to_turns(loaded, turns, settings.max_new_tokens)[0] for turns in conversations]
        return answer_conversations(loaded, conversations, settings, output, batch_size, quiet)
    instructions = [Instruction(prompt)] if prompt is not None else read_prompts(prompts_file)
    loaded = LoadedModel(checkpoint_dir, base_dir, device, precision, quantize, prompt_style)
    if not quiet:
        print(f"model: {loaded.describe()}", file=sys.stderr)
    asked, sources = instructions, [[] for _ in instructions]
    if finder is not None:
        asked, sources = zip(*(finder.add_to(loaded, i, settings.max_new_tokens) for i in instructions), strict=True)
    texts = [loaded.format(instruction) for instruction in asked]
    if prompt is not None and sources[0] and not quiet:
        print(sources_line(sources[0]), file=sys.stderr)
    if prompt is not None and stream:
        completions = [loaded.stream(texts[0], settings, lambda text: print(text, end="", flush=True))]
        print()
    else:
        completions = loaded.complete(texts, settings, batch_size=batch_size, quiet=quiet)
        if output is not None:
            _write_answers(output, instructions, completions, sources, with_ids=finder is not None)
        elif prompt is not None:
            print(completions[0].text)
        else:
            for number, (instruction, completion) in enumerate(zip(instructions, completions, strict=True), start=1):
                print(f"### {number}: {instruction.question}\n{completion.text}\n")
                if sources[number - 1]:
                    print(sources_line(sources[number - 1]) + "\n")
    if not quiet:
        written = f"; answers in {output}" if output else ""
        print(f"{stats_line(loaded.timing)}{written}", file=sys.stderr)
    return completions


def _write_answers(output: Path, instructions, completions, sources, with_ids: bool) -> None:
    """--output: each prompt's record with its answer and counts (and with --rag the retrieved chunks' ids)."""
    with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for instruction, completion, found in zip(instructions, completions, sources, strict=True):
            fh.write(
                dumps_record(
                    instruction,
                    answer=completion.text,
                    prompt_tokens=completion.prompt_tokens,
                    generated_tokens=completion.generated_tokens,
                    finish_reason=completion.finish_reason,
                    **({"retrieved": [hit.id for hit in found]} if with_ids else {}),
                )
                + "\n"
            )
    record_output_file(output)


def answer_conversations(
    loaded: LoadedModel,
    conversations: list[list[dict[str, str]]],
    settings: SamplingSettings,
    output: Path | None,
    batch_size: int,
    quiet: bool,
) -> list[Completion]:
    """The next assistant reply of each conversation: printed, or written to `output` as the conversation
    with its reply appended (JSONL, one record per conversation)."""
    eos = eos_text(loaded.tokenizer)
    texts = [conversation_prompt(loaded.style, conversation, eos) for conversation in conversations]
    completions = loaded.complete(texts, settings, batch_size=batch_size, quiet=quiet)
    if output is None:
        for completion in completions:
            print(completion.text)
        return completions
    with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for conversation, completion in zip(conversations, completions, strict=True):
            reply = {"role": "assistant", "content": completion.text}
            record = {"messages": [*conversation, reply], "finish_reason": completion.finish_reason}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    record_output_file(output)
    if not quiet:
        print(f"{stats_line(loaded.timing)}; answers in {output}", file=sys.stderr)
    return completions
