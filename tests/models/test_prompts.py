"""Prompt styles: exact templates, input handling, chat templates against transformers, save/load."""

from __future__ import annotations

import json

import pytest
from litgpt.prompts import load_prompt_style as litgpt_load_prompt_style

from litft.common.errors import LitftError
from litft.models.prompts import (
    QA,
    ChatTemplate,
    get_prompt_style,
    load_prompt_style,
    render_prompt,
    save_prompt_style,
    style_name,
)

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def test_alpaca_is_the_default_template_with_and_without_input():
    alpaca = get_prompt_style("alpaca")
    assert render_prompt(alpaca, "Name a lab.") == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nName a lab.\n\n### Response:\n"
    )
    assert render_prompt(alpaca, "Summarize.", "The campus opens in March.") == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nSummarize.\n\n### Input:\nThe campus opens in March.\n\n### Response:\n"
    )


def test_qa_and_input_blind_styles_keep_the_input():
    assert render_prompt(QA(), "When?") == "Question: When?\nAnswer: "
    assert render_prompt(QA(), "When?", "Deadline is March.") == "Deadline is March.\n\nQuestion: When?\nAnswer: "
    # litgpt's model styles ignore `input`; litft folds it into the instruction instead of dropping it
    rendered = render_prompt(get_prompt_style("phi-2"), "Summarize.", "Some text.")
    assert rendered == "Instruct: Summarize.\n\nSome text.\nOutput:"


def test_chat_template_renders_like_transformers(tmp_path):
    from transformers import AutoTokenizer

    from tests.support.tiny_corpus import make_tokenizer

    tokenizer_dir = make_tokenizer(tmp_path / "tok")
    config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text())
    (tokenizer_dir / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": CHAT_TEMPLATE}))
    style = get_prompt_style("chat_template", tokenizer_dir)
    expected = AutoTokenizer.from_pretrained(tokenizer_dir).apply_chat_template(
        [{"role": "user", "content": "Hi there"}], tokenize=False, add_generation_prompt=True
    )
    assert style.apply("Hi there") == expected == "<s><|user|>\nHi there</s>\n<|assistant|>\n"
    with pytest.raises(LitftError, match="no chat template named 'tool_use'"):
        get_prompt_style("chat_template:tool_use", tokenizer_dir)


def test_styles_save_and_load_with_data_and_checkpoints(tmp_path):
    for name in ("alpaca", "qa", "llama3"):
        directory = tmp_path / name
        directory.mkdir()
        save_prompt_style(name, directory)
        assert style_name(load_prompt_style(directory)) == name
        assert type(litgpt_load_prompt_style(directory)) is type(get_prompt_style(name))  # litgpt reads the same file
    chat = ChatTemplate(CHAT_TEMPLATE, "<s>", "</s>", name="chat_template")
    save_prompt_style(chat, tmp_path)
    loaded = load_prompt_style(tmp_path)
    assert loaded.apply("x") == chat.apply("x") and style_name(loaded) == "chat_template"


def test_unknown_or_unavailable_styles_are_user_errors(tmp_path):
    with pytest.raises(LitftError, match="unknown prompt style 'alpacca'"):
        get_prompt_style("alpacca")
    with pytest.raises(LitftError, match="pass --checkpoint_dir"):
        get_prompt_style("chat_template")
    (tmp_path / "tokenizer_config.json").write_text("{}")
    with pytest.raises(LitftError, match="has no chat_template"):
        get_prompt_style("chat_template", tmp_path)
    with pytest.raises(LitftError, match="has no prompt_style.yaml"):
        load_prompt_style(tmp_path)


def test_default_style_sends_text_unchanged_under_every_alias(tmp_path):
    from litgpt.prompts import Default

    from litft.models.prompts import style_names

    for name in ("default", "raw", "none"):
        style = get_prompt_style(name)
        assert type(style) is Default and style_name(style) == "default"
        assert render_prompt(style, "Name a lab.") == "Name a lab."
    assert render_prompt(get_prompt_style("raw"), "Summarize.", "Some text.") == "Summarize.\n\nSome text."
    assert {"default", "raw", "none"} <= set(style_names())
    save_prompt_style("none", tmp_path)
    assert style_name(load_prompt_style(tmp_path)) == "default"
    assert type(litgpt_load_prompt_style(tmp_path)) is Default  # litgpt reads it too


def test_a_prompt_style_file_naming_something_other_than_a_style_is_not_called(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's")
    (tmp_path / "prompt_style.yaml").write_text(
        f"class_path: os.remove\ninit_args: {{path: {victim}}}\n"  # a data folder from elsewhere, rigged
    )
    with pytest.raises(LitftError, match="names 'os.remove', which is not a prompt style class"):
        load_prompt_style(tmp_path)
    assert victim.read_text() == "the user's"
