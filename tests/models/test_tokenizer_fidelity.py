"""Special tokens and chat templates read as the model uses them: BOS once, the text's own special tokens kept,
EOS where replies end, chat_template.jinja found and carried; refused (hf_to_lit) or repaired (download) when a
tokenizer's files disagree."""

from __future__ import annotations

import fnmatch
import json
import shutil

import pytest

from litft.common.errors import LitftError
from litft.models import download as download_module
from litft.models.checkpoint import copy_tokenizer_files
from litft.models.conversations import conversation_segments, encode_segments
from litft.models.convert import convert_hf_checkpoint, convert_lit_checkpoint
from litft.models.prompts import get_prompt_style
from litft.models.tokenizer import encode_batch, load_tokenizer

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
SPECIALS += ["<|start_header_id|>", "<|end_header_id|>"]
CONVERSATION = [
    {"role": "user", "content": "What do you offer?"},
    {"role": "assistant", "content": "Courses in engineering."},
    {"role": "user", "content": "When do I apply?"},
    {"role": "assistant", "content": "Before March."},
]


def write_tokenizer(directory, bos_in_post_processor=None, **config):
    """A byte-level BPE with ChatML and Llama-3 special tokens; `config` is tokenizer_config.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=SPECIALS, show_progress=False)
    tokenizer.train_from_iterator([message["content"] for message in CONVERSATION] * 10 + ["user assistant"], trainer)
    if bos_in_post_processor:
        bos_id = tokenizer.token_to_id(bos_in_post_processor)
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos_in_post_processor} $A", special_tokens=[(bos_in_post_processor, bos_id)]
        )
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", **config})
    )
    return directory


def smollm2_shaped(directory):
    """SmolLM2's special tokens: BOS <|im_start|>, which opens every chat turn, and no BOS added to text."""
    return write_tokenizer(
        directory, bos_token="<|im_start|>", eos_token="<|im_end|>", add_bos_token=False, chat_template=CHATML
    )


def test_the_text_keeps_its_own_bos_and_eos_tokens(tmp_path):
    tokenizer = load_tokenizer(smollm2_shaped(tmp_path / "tok"))
    bos, eos = tokenizer.bos_id, tokenizer.eos_id
    turn = "<|im_start|>user\nWhat do you offer?<|im_end|>"
    for ask_bos in (None, False):
        ids = encode_batch(tokenizer, [turn], bos=ask_bos)[0]
        assert ids[0] == bos and ids[-1] == eos  # litgpt's rule dropped both: the turn lost its opening and end
    style = get_prompt_style("chat_template", tmp_path / "tok")
    segments = conversation_segments(style, CONVERSATION, "test")
    pieces = encode_segments(tokenizer, [segments])[0]
    whole = style.render_messages(CONVERSATION, add_generation_prompt=False)
    assert [token for piece in pieces for token in piece] == encode_batch(tokenizer, [whole])[0]
    assert sum(piece.count(bos) for piece in pieces) == 4  # every turn opens with <|im_start|>


@pytest.mark.parametrize("add_bos_token", [True, None], ids=["add_bos_token", "only-the-post-processor"])
def test_a_bos_from_the_post_processor_is_added_once(add_bos_token, hf_models, tmp_path):
    """Llama 3's files: tokenizer.json's post-processor adds BOS (and nothing else says so), the chat template
    writes BOS too. litgpt gave the template two BOS, and plain text none when add_bos_token was missing."""
    from transformers import AutoTokenizer

    directory = tmp_path / "llama3-shaped"
    shutil.copytree(hf_models["llama"], directory)
    config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": LLAMA3}
    if add_bos_token is not None:
        config["add_bos_token"] = add_bos_token
    write_tokenizer(directory, bos_in_post_processor="<|begin_of_text|>", **config)
    convert_hf_checkpoint(directory)  # nothing to refuse: litft reads these files right
    tokenizer = load_tokenizer(directory)
    prompt = get_prompt_style("chat_template", directory).apply("When do I apply?")
    assert prompt.startswith("<|begin_of_text|>")
    reference = AutoTokenizer.from_pretrained(directory)
    for text, expected in (
        (prompt, reference(prompt, add_special_tokens=False).input_ids),  # as apply_chat_template tokenizes
        ("When do I apply?", reference("When do I apply?").input_ids),
    ):
        ids = encode_batch(tokenizer, [text])[0]
        assert ids == expected and ids[0] == tokenizer.bos_id and ids.count(tokenizer.bos_id) == 1


def test_an_explicit_add_bos_token_beats_litgpts_guess_from_the_folder_name(tmp_path):
    tokenizer = load_tokenizer(smollm2_shaped(tmp_path / "SmolLM2-135M-Instruct"))
    assert tokenizer.use_bos is False  # litgpt says True for any folder named SmolLM2-*-Instruct
    assert encode_batch(tokenizer, ["Before March."])[0][0] != tokenizer.bos_id


def test_chat_template_jinja_is_read_first_and_travels_with_the_tokenizer(lit_base, tmp_path):
    from transformers import AutoTokenizer

    directory = write_tokenizer(tmp_path / "tok", bos_token="<|im_start|>", eos_token="<|im_end|>")
    (directory / "chat_template.jinja").write_text(CHATML)
    expected = AutoTokenizer.from_pretrained(directory).apply_chat_template(
        CONVERSATION[:1], tokenize=False, add_generation_prompt=True
    )
    assert get_prompt_style("chat_template", directory).apply("What do you offer?") == expected
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": "{{ 'stale' }}"})
    )
    assert get_prompt_style("chat_template", directory).apply("What do you offer?") == expected  # as transformers
    copy_tokenizer_files(directory, tmp_path)
    assert (tmp_path / "chat_template.jinja").read_text() == CHATML

    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(lit_base, checkpoint)
    (checkpoint / "chat_template.jinja").write_text(CHATML)
    convert_lit_checkpoint(checkpoint, tmp_path / "export")
    assert (tmp_path / "export" / "chat_template.jinja").read_text() == CHATML


def broken_folders(hf_models, root):
    """HF folders whose tokenizers litgpt would misread, with the value hf_to_lit must name."""
    cases = {}
    folder = root / "eos-is-bos"  # transformers' GGUF conversion of SmolLM2
    shutil.copytree(hf_models["llama"], folder)
    write_tokenizer(folder, bos_token="<|im_start|>", eos_token="<|im_start|>", add_bos_token=True)
    (folder / "chat_template.jinja").write_text(CHATML)
    cases[folder] = '"eos_token": "<|im_end|>"'
    folder = root / "eot-not-eos"  # Llama 3 Instruct's first release
    shutil.copytree(hf_models["llama"], folder)
    write_tokenizer(
        folder, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>", add_bos_token=True, chat_template=LLAMA3
    )
    tokenizer = load_tokenizer(folder)
    eos_ids = [tokenizer.token_to_id("<|end_of_text|>"), tokenizer.token_to_id("<|eot_id|>")]
    (folder / "generation_config.json").write_text(json.dumps({"bos_token_id": 3, "eos_token_id": eos_ids}))
    cases[folder] = '"eos_token": "<|eot_id|>"'
    return cases


def test_hf_to_lit_refuses_a_tokenizer_litgpt_would_misread_naming_the_value_to_set(hf_models, tmp_path):
    for folder, fix in broken_folders(hf_models, tmp_path).items():
        with pytest.raises(LitftError) as error:
            convert_hf_checkpoint(folder)
        assert fix in str(error.value) and str(error.value).count(". ") == 0, folder.name
        assert not (folder / "lit_model.pth").exists()
    folder = tmp_path / "no-eos"
    shutil.copytree(hf_models["llama"], folder)
    write_tokenizer(folder, bos_token="<|im_start|>", eos_token="<|im_start|>")
    (folder / "generation_config.json").unlink()  # its eos_token_id would be the answer: litft takes it
    with pytest.raises(LitftError, match="set its eos_token to the token that ends the model's replies"):
        convert_hf_checkpoint(folder)


def test_download_repairs_the_tokenizer_it_fetched_and_says_how(hf_models, tmp_path, monkeypatch, capsys):
    for source, fix in broken_folders(hf_models, tmp_path / "hub").items():

        def listing(repo_id, token=None, source=source):
            return [path.name for path in source.iterdir()]

        def snapshot(repo_id, local_dir, allow_patterns, token=None, source=source):
            local_dir.mkdir(parents=True, exist_ok=True)
            for path in source.iterdir():
                if any(fnmatch.fnmatch(path.name, pattern) for pattern in allow_patterns):
                    shutil.copy2(path, local_dir / path.name)

        monkeypatch.setattr(download_module, "list_repo_files", listing)
        monkeypatch.setattr(download_module, "snapshot_download", snapshot)
        local = download_module.download(f"acme/{source.name}", checkpoint_dir=tmp_path / "checkpoints")
        key, value = (part.strip('"') for part in fix.split(": "))
        assert f"litft set {key} to {value}" in capsys.readouterr().out.replace('"', "")
        config = json.loads((local / "tokenizer_config.json").read_text())
        assert json.dumps(config[key]) == fix.split(": ")[1]
        assert (local / "lit_model.pth").is_file()
        tokenizer = load_tokenizer(local)
        if key == "eos_token":
            assert tokenizer.eos_id == tokenizer.token_to_id(config["eos_token"]) != tokenizer.bos_id
        else:
            assert tokenizer.use_bos and encode_batch(tokenizer, ["Before March."])[0][0] == tokenizer.bos_id
