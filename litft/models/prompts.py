"""Prompt styles: how an instruction record becomes the text the model sees before its answer.

Names: `alpaca` (default; litgpt's template, with and without input), `qa` (plain question/answer),
`default` (aliases `raw`, `none`: the text unchanged, litgpt's `Default`), every litgpt prompt style name
(`llama3`, `phi-3`, `chatml`-family ...), and `chat_template` /
`chat_template:NAME` for the tokenizer's Jinja chat template (chat_template.jinja, as current transformers saves
it, or tokenizer_config.json's chat_template).
The style is saved as `prompt_style.yaml` beside the data and the checkpoint so generation formats
prompts the same way training did; the file is litgpt's format, so `litgpt generate` reads it too
(except for chat templates, which need their template text and load only through litft).
"""

from __future__ import annotations

import importlib
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from litgpt.prompts import Alpaca, Default, PromptStyle, prompt_styles

from litft.common.errors import LitftError
from litft.common.io import atomic_write_text
from litft.common.text import parse_json, parse_yaml

PROMPT_STYLE_FILE = "prompt_style.yaml"
CHAT_TEMPLATE = "chat_template"
CHAT_TEMPLATE_FILE = "chat_template.jinja"


class QA(PromptStyle):
    """Plain `Question: ...` / `Answer: ` text; an input, if any, goes first as context."""

    def apply(self, prompt: str, *, sys_prompt: str | None = None, **kwargs: str) -> str:
        context = f"{kwargs['input']}\n\n" if kwargs.get("input") else ""
        system = f"{sys_prompt}\n\n" if sys_prompt else ""
        return f"{system}{context}Question: {prompt}\nAnswer: "


class ChatTemplate(PromptStyle):
    """A tokenizer's Jinja chat template, rendered for one user turn with the generation prompt appended."""

    def __init__(self, template: str, bos_token: str = "", eos_token: str = "", name: str = CHAT_TEMPLATE) -> None:
        from jinja2.exceptions import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        # The same sandboxed environment and globals transformers' apply_chat_template uses, so output matches.
        environment = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        environment.globals.update(
            raise_exception=raise_exception, strftime_now=lambda fmt: datetime.now().strftime(fmt)
        )
        self.template, self.bos_token, self.eos_token, self.name = template, bos_token, eos_token, name
        self._compiled = environment.from_string(template)

    def apply(self, prompt: str, *, sys_prompt: str | None = None, **kwargs: str) -> str:
        messages = ([{"role": "system", "content": sys_prompt}] if sys_prompt else []) + [
            {"role": "user", "content": prompt}
        ]
        return self.render_messages(messages, add_generation_prompt=True)

    def render_messages(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        """A whole conversation as the template writes it (multi-turn data, chat history)."""
        return self._compiled.render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )

    def init_args(self) -> dict[str, str]:
        return {"template": self.template, "bos_token": self.bos_token, "eos_token": self.eos_token, "name": self.name}


# litgpt falls back to `Default` for unknown models but gives it no registry name; litft names it.
STYLES: dict[str, type[PromptStyle]] = {**prompt_styles, "default": Default, "qa": QA}
ALIASES = {"raw": "default", "none": "default"}


def style_names() -> list[str]:
    return sorted([*STYLES, *ALIASES]) + [CHAT_TEMPLATE, f"{CHAT_TEMPLATE}:NAME"]


def get_prompt_style(name: str, tokenizer_dir: str | os.PathLike | None = None) -> PromptStyle:
    """The prompt style called `name`; chat templates are read from `tokenizer_dir` (chat_template.jinja or
    tokenizer_config.json)."""
    if name == CHAT_TEMPLATE or name.startswith(f"{CHAT_TEMPLATE}:"):
        return _chat_template(name, tokenizer_dir)
    name = ALIASES.get(name, name)
    if name not in STYLES:
        raise LitftError(f"unknown prompt style {name!r}; choose one of: {', '.join(style_names())}.")
    return STYLES[name]()


def _chat_template(name: str, tokenizer_dir: str | os.PathLike | None) -> ChatTemplate:
    if tokenizer_dir is None:
        raise LitftError(
            f"prompt style {name!r} reads the tokenizer's chat template; pass --checkpoint_dir or --tokenizer_dir."
        )
    config_path = Path(tokenizer_dir) / "tokenizer_config.json"
    config = parse_json(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    templates = config.get("chat_template")
    template_file = Path(tokenizer_dir) / CHAT_TEMPLATE_FILE
    if template_file.is_file():  # transformers >= 4.43 saves it there, and reads it before tokenizer_config.json's
        templates = template_file.read_text(encoding="utf-8")
    if isinstance(templates, list):  # named templates: [{"name": "default", "template": "..."}, ...]
        templates = {entry["name"]: entry["template"] for entry in templates}
    elif isinstance(templates, str):
        templates = {"default": templates}
    else:
        raise LitftError(
            f"{config_path} has no chat_template and there is no {template_file}; "
            "choose another --prompt_style, e.g. alpaca."
        )
    wanted = name.partition(":")[2] or "default"
    if wanted not in templates:
        raise LitftError(f"{config_path} has no chat template named {wanted!r}; it has: {', '.join(templates)}.")

    def token(key: str) -> str:
        value = config.get(key) or ""
        return value.get("content", "") if isinstance(value, dict) else value

    return ChatTemplate(templates[wanted], token("bos_token"), token("eos_token"), name)


def style_name(style: PromptStyle) -> str:
    """The name `get_prompt_style` takes for `style` (its class path when it is a user-defined class)."""
    if isinstance(style, ChatTemplate):
        return style.name
    for name, cls in STYLES.items():
        if type(style) is cls:
            return name
    return f"{type(style).__module__}.{type(style).__name__}"


def takes_input(style: PromptStyle) -> bool:
    """Whether the style has a field of its own for a record's input (alpaca and qa); others ignore `input`."""
    return isinstance(style, (Alpaca, QA))


def render_prompt(style: PromptStyle, instruction: str, input: str = "") -> str:
    """The prompt text for one record. Styles that ignore `input` (all but alpaca and qa) get it appended
    to the instruction, so no record content is silently dropped (litgpt's own data modules drop it)."""
    if input and not takes_input(style):
        return style.apply(f"{instruction}\n\n{input}")
    return style.apply(instruction, input=input)


def save_prompt_style(style: PromptStyle | str, directory: str | os.PathLike) -> Path:
    """Write `prompt_style.yaml` (litgpt's `class_path` format, plus `init_args` for chat templates)."""
    style = get_prompt_style(style) if isinstance(style, str) else style
    config: dict[str, Any] = {"class_path": f"{type(style).__module__}.{type(style).__name__}"}
    if isinstance(style, ChatTemplate):
        config["init_args"] = style.init_args()
    path = Path(directory) / PROMPT_STYLE_FILE
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


def load_prompt_style(directory: str | os.PathLike) -> PromptStyle:
    """Read the style saved by `save_prompt_style` (or by litgpt) in a data or checkpoint directory."""
    path = Path(directory) / PROMPT_STYLE_FILE
    if not path.is_file():
        raise LitftError(f"{directory} has no {PROMPT_STYLE_FILE}; pass --prompt_style explicitly.")
    try:
        config = parse_yaml(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError):
        raise LitftError(f"{path} is not valid UTF-8 YAML; restore it or pass --prompt_style explicitly.") from None
    config = config if isinstance(config, dict) else {}
    class_path, init_args = config.get("class_path"), config.get("init_args", {})
    module_name, _, class_name = class_path.rpartition(".") if isinstance(class_path, str) else ("", "", "")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError):
        raise LitftError(
            f"{path} names prompt style class {class_path!r}, which cannot be imported; fix the file."
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, PromptStyle)):  # a name from a file is not run as code
        raise LitftError(f"{path} names {class_path!r}, which is not a prompt style class; fix the file.")
    if not isinstance(init_args, dict):
        raise LitftError(f"{path} has init_args {init_args!r}; they must be a mapping of the style's arguments.")
    return cls(**init_args)
