"""The chat format of a GGUF export, for llama.cpp (a Jinja chat template) and Ollama (a Modelfile).

A checkpoint whose prompt style is a chat template keeps it. A named style (alpaca, qa, a litgpt style) has no
template of its own, so one is built that renders a conversation as litft does (`conversation_prompt`): each user
turn through the style (the first with the system prompt), each assistant turn followed by EOS. The style's own
text is found by rendering it around marker strings, so every style is covered without a table of formats.

Ollama's templates are Go templates (https://github.com/ollama/ollama/blob/main/docs/template.md): litft writes one
for the named styles and for chat templates that render ChatML (SmolLM2, Qwen2); for any other chat template the
Modelfile says that Ollama derives its TEMPLATE from the GGUF's chat template when it recognises it. The Modelfile
follows Ollama's documented format (docs/modelfile.md); Ollama itself cannot run here, so it is not tested by it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litft.models.gguf_outputs import MODELFILE_MARK

PROMPT_MARK, SYSTEM_MARK = "\x00PROMPT\x00", "\x00SYSTEM\x00"
CHATML_PROBE = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "U1"},
    {"role": "assistant", "content": "A1"},
    {"role": "user", "content": "U2"},
]
CHATML_END = "<|im_end|>"
# Ollama's ChatML template, as its documentation writes it (docs/template.md, "ChatML").
OLLAMA_CHATML = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)


@dataclass(frozen=True)
class StylePieces:
    """A named style's text around a user turn: `plain` = (before, after) the prompt; `with_system` = (before the
    system prompt, between it and the prompt, after the prompt), or None where the style ignores system prompts."""

    plain: tuple[str, str]
    with_system: tuple[str, str, str] | None


def style_pieces(style: Any) -> StylePieces | None:
    """The style's text around the prompt (and the system prompt), or None when it does not keep them whole."""
    plain = style.apply(PROMPT_MARK)
    with_system = style.apply(PROMPT_MARK, sys_prompt=SYSTEM_MARK)
    if plain.count(PROMPT_MARK) != 1 or with_system.count(PROMPT_MARK) != 1 or with_system.count(SYSTEM_MARK) > 1:
        return None
    before, after = plain.split(PROMPT_MARK)
    if SYSTEM_MARK not in with_system:
        return StylePieces((before, after), None)
    head, rest = with_system.split(SYSTEM_MARK)
    if PROMPT_MARK not in rest:
        return None
    middle, tail = rest.split(PROMPT_MARK)
    return StylePieces((before, after), (head, middle, tail))


def _literal(text: str) -> str:
    """`text` as a string literal that Jinja and Go templates both read back unchanged (JSON's escapes)."""
    return "{{ " + json.dumps(text, ensure_ascii=False) + " }}"


def style_chat_template(pieces: StylePieces, eos: str) -> str:
    """A Jinja chat template (transformers' and llama.cpp's variables) rendering a conversation as litft does."""
    plain = _literal(pieces.plain[0]) + "{{ message['content'] }}" + _literal(pieces.plain[1])
    if pieces.with_system:
        head, middle, tail = (_literal(text) for text in pieces.with_system)
        first = f"{head}{{{{ system }}}}{middle}{{{{ message['content'] }}}}{tail}"
    else:
        first = plain
    return (
        "{%- set system = messages[0]['content'] if messages and messages[0]['role'] == 'system' else '' -%}"
        "{%- for message in messages -%}"
        "{%- if message['role'] == 'user' -%}"
        f"{{%- if system and loop.index0 == 1 -%}}{first}{{%- else -%}}{plain}{{%- endif -%}}"
        f"{{%- elif message['role'] == 'assistant' -%}}{{{{ message['content'] }}}}{_literal(eos)}{{%- endif -%}}"
        "{%- endfor -%}"
    )


def style_ollama_template(pieces: StylePieces, eos: str) -> str:
    """The same conversation as an Ollama (Go) template: .Messages holds the system prompt as its first message."""
    plain = _literal(pieces.plain[0]) + "{{ .Content }}" + _literal(pieces.plain[1])
    if pieces.with_system:
        head, middle, tail = (_literal(text) for text in pieces.with_system)
        first = f"{head}{{{{ $system }}}}{middle}{{{{ .Content }}}}{tail}"
    else:
        first = plain
    return (
        '{{- $system := "" }}{{- $first := true }}'
        '{{- range .Messages }}{{- if eq .Role "system" }}{{- $system = .Content }}'
        '{{- else if eq .Role "user" }}'
        f"{{{{- if and $first $system }}}}{first}{{{{- else }}}}{plain}{{{{- end }}}}{{{{- $first = false }}}}"
        '{{- else if eq .Role "assistant" }}{{ .Content }}'
        f"{_literal(eos)}{{{{- $first = false }}}}{{{{- end }}}}"
        "{{- end }}"
    )


def chatml_default_system(render: Any) -> str | None:
    """For a chat template that renders ChatML: the system prompt it adds when a conversation has none ("" if
    none); None for any other template. `render(messages, add_generation_prompt)` renders the template."""

    def chatml(messages: list[dict[str, str]]) -> str:
        turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}{CHATML_END}\n" for m in messages)
        return turns + "<|im_start|>assistant\n"

    try:
        if render(CHATML_PROBE, True) != chatml(CHATML_PROBE):
            return None
        alone = render(CHATML_PROBE[1:2], True)
    except Exception:  # noqa: BLE001 - a template that fails on the probe is simply not ChatML
        return None
    if alone == chatml(CHATML_PROBE[1:2]):
        return ""
    head = "<|im_start|>system\n"
    rest = chatml(CHATML_PROBE[1:2])
    if alone.startswith(head) and alone.endswith(f"{CHATML_END}\n{rest}"):
        return alone[len(head) : -len(f"{CHATML_END}\n{rest}")]
    return None


@dataclass(frozen=True)
class ModelfileSettings:
    """What the Modelfile says besides FROM: Ollama's template (None: read from the GGUF), a default system
    prompt, the stop strings and the sampling defaults (Ollama's PARAMETER names)."""

    template: str | None
    system: str
    stops: tuple[str, ...]
    parameters: dict[str, float | int]


def modelfile_text(gguf_name: str, source: str, settings: ModelfileSettings) -> str:
    """An Ollama Modelfile for the GGUF file `gguf_name` beside it."""
    name = gguf_name.removesuffix(".gguf")
    lines = [
        f"{MODELFILE_MARK} from {source}; litft replaces this file when it exports {gguf_name} again.",
        f"# Use: ollama create {name} -f {name}.Modelfile && ollama run {name}",
        f"FROM ./{gguf_name}",
    ]
    if settings.template is not None and '"""' not in settings.template:
        lines.append(f'TEMPLATE """{settings.template}"""')
    else:
        lines.append(
            "# No TEMPLATE: Ollama derives one from the GGUF's chat template (tokenizer.chat_template) when it "
            "recognises it; otherwise write one in Ollama's template language (docs/template.md)."
        )
    if settings.system and '"""' not in settings.system:
        lines.append(f'SYSTEM """{settings.system}"""')
    lines += [f"PARAMETER stop {json.dumps(stop, ensure_ascii=False)}" for stop in settings.stops]
    lines += [f"PARAMETER {key} {value}" for key, value in settings.parameters.items()]
    return "\n".join(lines) + "\n"


def prompt_style_of(info: Any, tokenizer_dir: Path) -> Any:
    """The prompt style litft generates with for this checkpoint (litft.generation.generate's rule): the run's or
    its base's prompt_style.yaml, else litgpt's style for the model's name."""
    from litgpt.prompts import PromptStyle

    from litft.models.prompts import PROMPT_STYLE_FILE, load_prompt_style

    for directory in (info.path, info.base_dir):
        if directory is not None and (directory / PROMPT_STYLE_FILE).is_file():
            return load_prompt_style(directory)
    return PromptStyle.from_config(info.config)


def chat_template_of(info: Any, tokenizer_dir: Path) -> str | None:
    """The Jinja chat template the GGUF carries: the checkpoint's own, or one built from its named style; None for
    litgpt's `default` style (text in, text out) and styles that do not keep the prompt whole."""
    from litgpt.prompts import Default

    from litft.models.prompts import ChatTemplate
    from litft.models.tokenizer import load_tokenizer

    style = prompt_style_of(info, tokenizer_dir)
    if isinstance(style, ChatTemplate):
        return style.template
    pieces = None if isinstance(style, Default) else style_pieces(style)
    if pieces is None:
        return None
    from litft.models.conversations import eos_text

    return style_chat_template(pieces, eos_text(load_tokenizer(tokenizer_dir)))


def modelfile_settings(info: Any, tokenizer_dir: Path) -> ModelfileSettings:
    """Ollama's template, system prompt, stops and sampling defaults for the checkpoint (see the module doc)."""
    import torch
    from litgpt.prompts import Default

    from litft.common.io import read_json
    from litft.common.settings import CHAT_SAMPLING
    from litft.models.conversations import eos_text
    from litft.models.prompts import ChatTemplate
    from litft.models.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    style, eos = prompt_style_of(info, tokenizer_dir), eos_text(tokenizer)
    stops = [eos] + [tokenizer.decode(torch.tensor(ids)) for ids in style.stop_tokens(tokenizer)]
    template, system = None, ""
    if isinstance(style, ChatTemplate):
        default_system = chatml_default_system(style.render_messages)
        if default_system is not None:
            template, system = OLLAMA_CHATML, default_system
            stops.append(CHATML_END)
    elif not isinstance(style, Default) and (pieces := style_pieces(style)) is not None:
        template = style_ollama_template(pieces, eos)
    generation_path = info.path / "generation_config.json"
    generation = read_json(generation_path) if generation_path.is_file() else {}
    generation = generation if isinstance(generation, dict) else {}
    parameters: dict[str, float | int] = {
        "temperature": generation.get("temperature", CHAT_SAMPLING.temperature),
        "top_k": generation.get("top_k", CHAT_SAMPLING.top_k),
        "top_p": generation.get("top_p", CHAT_SAMPLING.top_p),
        "num_ctx": info.config.block_size,
    }
    parameters = {key: value for key, value in parameters.items() if isinstance(value, (int, float))}
    return ModelfileSettings(template, system, tuple(dict.fromkeys(stop for stop in stops if stop)), parameters)


def write_modelfile(info: Any, tokenizer_dir: Path, output: Path, path: Path) -> None:
    """Write the Modelfile for the GGUF `output` at `path` (atomically)."""
    from litft.common.io import atomic_write_text

    settings = modelfile_settings(info, tokenizer_dir)
    atomic_write_text(path, modelfile_text(output.name, str(info.path), settings))
