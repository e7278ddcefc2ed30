"""The `litft` command.

Every subcommand is a plain function whose signature jsonargparse turns into arguments, so
`--config file.yaml` and `--print_config` work everywhere. Functions are imported only when their
subcommand runs: `litft --help` stays instant and the data commands never import torch.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import importlib
import inspect
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from litft.common.errors import LitftError, environment_error_message
from litft.common.settings import type_name
from litft.common.text import is_valid_unicode

MAX_SEED = 2**32 - 1  # the largest seed both numpy and Lightning's seed_everything take as given
# name -> ("module:function", one-line help), or name -> {subname: (...)} for a group.
# A group may name a default subcommand under "" (e.g. `litft evaluate ...` vs `litft evaluate summarize`).
COMMANDS: dict[str, tuple[str, str] | dict[str, tuple[str, str]]] = {
    "demo": ("litft.demo.pipeline:demo", "Run the whole pipeline on the bundled sample site."),
    "crawl": (
        "litft.data.acquire.crawl:crawl",
        "Crawl a website breadth-first and write the list of in-scope page URLs.",
    ),
    "scrape": ("litft.data.acquire.scrape:scrape", "Fetch pages and extract their main text into pages.jsonl."),
    "ingest": ("litft.data.acquire.ingest:ingest", "Read local .html/.txt/.md/.pdf files into pages.jsonl."),
    "process": (
        "litft.data.clean.process:process",
        "Clean, remove boilerplate, dedup and chunk pages into chunks.jsonl and pretrain.txt.",
    ),
    "synthesize": ("litft.data.synthesize.qa:synthesize", "Generate question/answer records from chunks with an LLM."),
    "self-instruct": (
        "litft.data.synthesize.self_instruct:self_instruct",
        "Bootstrap instructions from a seed task pool (Self-Instruct).",
    ),
    "filter": (
        "litft.data.curate.filter:filter_records",
        "Filter instruction records or conversations (duplicates, ROUGE-L, heuristics).",
    ),
    "split": (
        "litft.data.curate.split:split",
        "Split instruction records into train.json and test.json by source chunk.",
    ),
    "changed_records": (
        "litft.data.curate.changed:changed_records",
        "After a refresh: the training records of new and changed chunks, and the questions to evaluate on.",
    ),
    "index": {
        "build": (
            "litft.retrieval.commands:build",
            "Build a BM25 (and optional dense) retrieval index over chunks.jsonl.",
        ),
        "search": ("litft.retrieval.commands:search", "Print the indexed chunks that best answer a query."),
        "evaluate": (
            "litft.retrieval.commands:evaluate",
            "Score recall@k and MRR of each retriever on test records' source chunks.",
        ),
    },
    "tokenizer": {
        "train": (
            "litft.prepare.tokenizer_training:train_tokenizer",
            "Train a byte-level BPE tokenizer into a checkpoint directory.",
        ),
    },
    "prepare": {
        "pretrain": (
            "litft.prepare.pretrain:prepare_pretrain",
            "Tokenize text into train.bin/val.bin for pretraining.",
        ),
        "finetune": (
            "litft.prepare.finetune:prepare_finetune",
            "Tokenize instruction records into an indexed binary dataset.",
        ),
        "preference": (
            "litft.prepare.preference:prepare_preference",
            "Tokenize preference pairs (DPO) or desirable/undesirable records (KTO) for `finetune dpo|kto`.",
        ),
    },
    "pretrain": ("litft.train.entry:pretrain", "Pretrain from scratch or continue pretraining a checkpoint."),
    "finetune": {
        "full": ("litft.train.entry:finetune_full", "Fine-tune every parameter of a checkpoint."),
        "lora": ("litft.train.entry:finetune_lora", "Fine-tune a checkpoint with LoRA."),
        "adapter_v2": ("litft.train.entry:finetune_adapter_v2", "Fine-tune a checkpoint with adapter-v2."),
        "dpo": ("litft.train.entry:finetune_dpo", "Tune a checkpoint on preference pairs (DPO, IPO); LoRA or full."),
        "kto": ("litft.train.entry:finetune_kto", "Tune a checkpoint on desirable/undesirable answers (KTO)."),
    },
    "generate": ("litft.commands:generate", "Generate text from a checkpoint or a fine-tuning run."),
    "chat": ("litft.commands:chat", "Chat interactively with a checkpoint or a fine-tuning run."),
    "serve": ("litft.serving.commands:serve", "Serve a checkpoint or run over an OpenAI-compatible HTTP API."),
    "evaluate": {
        "": (
            "litft.evaluation.evaluate:evaluate",
            "Score base and fine-tuned models on a test split (ROUGE, answers.csv).",
        ),
        "summarize": ("litft.evaluation.report:summarize", "Turn a scored answers.csv into the 0-3 review table."),
        "stale": ("litft.evaluation.stale:stale", "After a refresh: the answers from changed chunks, old vs updated."),
    },
    "review": {
        "serve": (
            "litft.evaluation.review.commands:serve",
            "Open the blind review page of an evaluation folder (0-3 scores, saved as given).",
        ),
        "import": (
            "litft.evaluation.review.commands:import_sheet",
            "Take a filled-in answers.csv's scores into a reviewer's review file.",
        ),
        "summarize": (
            "litft.evaluation.review.commands:summarize",
            "The human review table: % per score, mean with 95% interval, agreement, win rates.",
        ),
        "preferences": (
            "litft.evaluation.review.commands:preferences",
            "Turn the review's scores into DPO pairs or KTO records (JSONL) for `litft finetune dpo|kto`.",
        ),
    },
    "convert": {
        "hf_to_lit": (
            "litft.commands:convert_hf_checkpoint",
            "Convert a Hugging Face checkpoint to a litgpt checkpoint.",
        ),
        "lit_to_hf": (
            "litft.commands:convert_lit_checkpoint",
            "Export a litgpt checkpoint as a transformers-loadable directory.",
        ),
        "lit_to_peft": (
            "litft.commands:convert_lit_to_peft",
            "Export a LoRA run as a PEFT adapter for the base's Hugging Face export.",
        ),
        "gguf_to_lit": (
            "litft.commands:convert_gguf_checkpoint",
            "Import a GGUF model file (llama.cpp, Ollama) as a litgpt checkpoint with its own tokenizer.",
        ),
        "lit_to_gguf": (
            "litft.commands:convert_lit_to_gguf",
            "Export a checkpoint or run as a GGUF file (llama.cpp, Ollama; a LoRA adapter with --adapter_only).",
        ),
    },
    "merge_lora": ("litft.commands:merge_lora", "Merge a LoRA run's weights into its base as a full checkpoint."),
    "download": (
        "litft.models.download:download",
        "Download a Hugging Face model (safetensors + tokenizer) and convert it.",
    ),
}


def _load(target: str) -> Callable:
    module_name, function_name = target.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def _usage(prog: str, commands: dict) -> str:
    width = max(len(name) for name in commands) + 2
    lines = [f"usage: {prog} COMMAND [ARGS] (COMMAND --help for its arguments)", "", "commands:"]
    for name, entry in commands.items():
        if isinstance(entry, dict):
            subnames = "|".join(sub for sub in entry if sub)
            default = entry.get("")
            text = default[1] if default else f"{{{subnames}}}"
            lines.append(f"  {name:<{width}}{text}")
            for sub, (_, sub_help) in entry.items():
                if sub:
                    lines.append(f"    {sub:<{width - 2}}{sub_help}")
        else:
            lines.append(f"  {name:<{width}}{entry[1]}")
    return "\n".join(lines)


def _is_list(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return origin in (list, tuple, collections.abc.Sequence)


def _is_bool(annotation: object) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return bool in typing.get_args(annotation) and all(
            arg in (bool, type(None)) for arg in typing.get_args(annotation)
        )
    return annotation is bool


_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
# Options that never take a separate value, so the token after them may be a positional.
_VALUELESS = {"-h", "--help", "--print_config"}


def _is_value(token: str) -> bool:
    """A token that is a value, not an option: anything not starting with '-', '-' itself, or a negative number."""
    return not token.startswith("-") or token == "-" or bool(_NUMBER.match(token))


def _required_parameters(function: Callable) -> list[str]:
    parameters = inspect.signature(function).parameters.values()
    return [p.name for p in parameters if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD]


def _rewrite_args(function: Callable, args: list[str]) -> list[str]:
    """Accept the shell forms users type, which jsonargparse alone does not:

    - bare values fill the required parameters not given as flags, in order, wherever they stand
      (`scrape URLS.json OUT_DIR`, `finetune lora --config c.yaml CKPT DATA`), while the same parameters
      still work as flags (`--checkpoint_dir DIR`);
    - a list parameter takes several values after its flag (`--data a.txt b.txt`, `--ids -1 2`), and they
      replace the list a `--config` file gave rather than extending it;
    - a boolean flag alone means true (`--quiet`, `--fast`), as in every other command-line tool.
    """
    hints = typing.get_type_hints(function)
    lists = {name for name, hint in hints.items() if _is_list(hint)}
    booleans = {name for name, hint in hints.items() if _is_bool(hint)}
    for name, hint in hints.items():  # fields of dataclass groups: `--lora.mlp`, `--sampling.stop A B`
        if dataclasses.is_dataclass(hint):
            fields = typing.get_type_hints(hint)
            booleans |= {f"{name}.{field}" for field, sub in fields.items() if _is_bool(sub)}
            lists |= {f"{name}.{field}" for field, sub in fields.items() if _is_list(sub)}
    flagged = {token[2:].split("=", 1)[0].rstrip("+") for token in args if token.startswith("--")}
    required = [name for name in _required_parameters(function) if name not in flagged]

    rewritten: list[str] = []
    position = 0
    while position < len(args):
        token = args[position]
        position += 1
        if _is_value(token):
            if not required:  # a stray value: jsonargparse reports it
                rewritten.append(token)
                continue
            name = required.pop(0)
            values = [token]
            while name in lists and position < len(args) and _is_value(args[position]):
                values.append(args[position])
                position += 1
            rewritten += _flag_values(name, values, name in lists)
            continue
        name, has_inline, inline = token[2:].partition("=") if token.startswith("--") else (token, "", "")
        values = [inline] if has_inline else []
        first = values[0] if values else args[position] if position < len(args) else ""
        if name in lists and not first.startswith("["):  # `--data [a,b]` is jsonargparse's own list form
            while position < len(args) and _is_value(args[position]):
                values.append(args[position])
                position += 1
            rewritten += _flag_values(name, values, True) if values else [token]
        elif name in booleans and not has_inline and (position == len(args) or not _is_value(args[position])):
            rewritten += [token, "true"]
        else:
            rewritten.append(token)
            if not has_inline and token not in _VALUELESS and position < len(args) and _is_value(args[position]):
                rewritten.append(args[position])  # the option's own value, not a positional
                position += 1
    return rewritten


def _flag_values(name: str, values: list[str], is_list: bool) -> list[str]:
    if not is_list:
        return [f"--{name}", values[0]]
    # `--name []` first: the values replace a list that a --config file gave instead of extending it.
    return [f"--{name}", "[]"] + [token for value in values for token in (f"--{name}+", value)]


def _description(function: Callable, prog: str | None) -> str:
    """The docstring's summary, plus the positional form `_rewrite_args` accepts, which --help would not show."""
    summary = (inspect.getdoc(function) or "").split("\n\n")[0]
    required = _required_parameters(function)
    if not required:
        return summary
    usage = " ".join(name.upper() for name in required)
    return (
        f"{summary} Required arguments may also be given in order without their flags: "
        f"{prog or function.__name__} {usage} [options]."
    )


def run_function(function: Callable, args: Sequence[str] | None = None, prog: str | None = None) -> None:
    """Run one jsonargparse function as a command: a user error becomes one line on stderr and exit 2.

    User errors are a LitftError, a command line or config file jsonargparse refuses (unknown key, wrong type), and
    an OSError the environment caused (full disk, no permission, a missing path the user gave). Others are bugs.
    """
    from jsonargparse import ArgumentError, auto_parser

    args = list(sys.argv[1:] if args is None else args)
    for arg in args:
        if not is_valid_unicode(arg):
            _fail(f"the argument {ascii(arg)} is not valid UTF-8 text; retype it or fix the terminal's encoding.")
    parser = auto_parser(
        function, prog=prog, as_positional=False, description=_description(function, prog), exit_on_error=False
    )
    try:
        config = parser.parse_args(_rewrite_args(function, args))
    except ArgumentError as error:
        _fail(_argument_error_message(parser, str(error), prog or function.__name__))
    seed = config.get("seed")
    if isinstance(seed, int) and not 0 <= seed <= MAX_SEED:
        # numpy's generators refuse a negative seed with a traceback; Lightning replaces one past 2**32 - 1 silently
        _fail(f"--seed must be between 0 and {MAX_SEED}, got {seed}.")
    try:
        arguments = parser.instantiate_classes(config)
        arguments.pop("config", None)
        function(**arguments)
    except LitftError as error:
        _fail(str(error))
    except OSError as error:
        message = environment_error_message(error, _given_paths(config))
        if message is None:
            raise
        _fail(message)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2) from None


def _argument_error_message(parser: Any, message: str, prog: str) -> str:
    """One sentence for what jsonargparse refused, instead of its usage block and multi-line detail."""
    options = [option[2:] for action in parser._actions for option in action.option_strings if option.startswith("--")]
    unknown = re.match(r"Unrecognized arguments: (\S+)", message) or re.search(
        r"Key ['\"]([^'\"]+)['\"] is not expected", message
    )
    if unknown:
        token = unknown.group(1)
        if unknown.re.pattern.startswith("Unrecognized") and not token.startswith("--"):
            return f"unexpected argument {token!r}; run `{prog} --help` for the arguments."
        from_command_line = token.startswith("--")
        key = token.removeprefix("--").split("=", 1)[0].rstrip("+")
        dashes = "--" if from_command_line else ""
        nearest = difflib.get_close_matches(key, options, n=1)
        hint = f"did you mean {dashes}{nearest[0]}?" if nearest else f"run `{prog} --help` for the valid ones."
        return f"unknown {'option' if from_command_line else 'config key'} {dashes}{key}; {hint}"
    required = re.search(r"Key ['\"]([^'\"]+)['\"] is required", message)
    if required:
        return (
            f"--{required.group(1)} is required; give it as a flag or in order without the flag (see `{prog} --help`)."
        )
    bad_value = re.match(r"Parser key ['\"]([^'\"]+)['\"]:\s*(.*)", message, re.DOTALL)
    if bad_value:
        key, detail = bad_value.groups()
        if key == "config":  # the --config file itself: missing, unreadable or not YAML
            return f"--config: {detail.splitlines()[0].strip().rstrip('.')}; check the file."
        given = re.search(r"(?:Given|Got) value: (.*)", detail)
        action = parser._option_string_actions.get(f"--{key}")
        expected = getattr(action, "_typehint", None)
        if given and expected is not None:
            return f"--{key} {given.group(1).strip()!r} is not valid; it must be {type_name(expected)}."
        return f"--{key}: {detail.splitlines()[0].strip().rstrip('.')}; run `{prog} --help` for its values."
    first_line = message.splitlines()[0].strip().rstrip(".")
    if first_line.startswith("Problems parsing config"):
        return f"--config: {first_line[0].lower()}{first_line[1:]}; fix the file's YAML syntax."
    return f"{first_line}; run `{prog} --help` for the arguments."


def _given_paths(config: Any) -> list[str]:
    """Every string or path value of the parsed arguments: a missing file among them is the user's to fix."""
    values = config.values() if hasattr(config, "values") else [config]
    paths: list[str] = []
    for value in values:
        if isinstance(value, (str, os.PathLike)) and str(value):
            paths.append(os.fspath(value))
        elif isinstance(value, (list, tuple)) or hasattr(value, "values"):
            paths += _given_paths(value if hasattr(value, "values") else dict(enumerate(value)))
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = "litft"
    entry: tuple[str, str] | dict = COMMANDS
    while isinstance(entry, dict):
        name = argv[0] if argv else None
        if name and name in entry:
            argv, prog, entry = argv[1:], f"{prog} {name}", entry[name]
        elif "" in entry:  # a group's default subcommand takes the arguments as they are
            entry = entry[""]
        elif name in (None, "-h", "--help"):
            print(_usage(prog, entry))
            raise SystemExit(0 if name else 2)
        else:
            print(f"error: unknown command {name!r}; run `{prog} --help` for the list.", file=sys.stderr)
            raise SystemExit(2)
    run_function(_load(entry[0]), argv, prog)


if __name__ == "__main__":
    main()
