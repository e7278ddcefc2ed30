"""Tokenizer training, loading in litgpt and transformers, batch encoding parity, fingerprints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from litft.cli import main
from litft.common.errors import LitftError
from litft.models.tokenizer import (
    check_tokenizer_matches,
    encode_batch,
    fingerprint,
    load_tokenizer,
    token_dtype,
)
from tests.support.tiny_corpus import corpus_lines, make_tokenizer

SAMPLES = ["the naïve café offers 日本語 courses", "", "  leading spaces\nand a newline €", "</s> literal special"]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    return make_tokenizer(tmp_path_factory.mktemp("tok") / "tok")


def test_trained_tokenizer_loads_in_litgpt_and_transformers_with_the_same_ids(tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    hf = AutoTokenizer.from_pretrained(tokenizer_dir)
    assert (tokenizer.bos_id, tokenizer.eos_id, tokenizer.use_bos) == (1, 2, True)
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id) == (1, 2, 0)
    assert tokenizer.vocab_size == 400
    for text in SAMPLES:
        ids = tokenizer.encode(text).tolist()
        assert ids == hf(text).input_ids
        assert ids[0] == tokenizer.bos_id and ids.count(tokenizer.bos_id) == 1
        if "</s>" in text:  # like every HF tokenizer (and litgpt), special-token text in the input becomes that token
            assert tokenizer.eos_id in ids
            continue
        assert tokenizer.decode(tokenizer.encode(text, bos=False)) == text  # byte-level: exact round trip
        assert hf.decode(ids, skip_special_tokens=True) == text


def test_encode_batch_equals_litgpt_encode_for_every_bos_eos_choice(tokenizer_dir):
    tokenizer = load_tokenizer(tokenizer_dir)
    texts = SAMPLES + corpus_lines(20, seed=5)
    for bos in (None, True, False):
        for eos in (True, False):
            expected = [tokenizer.encode(text, bos=bos, eos=eos).tolist() for text in texts]
            assert encode_batch(tokenizer, texts, bos=bos, eos=eos) == expected


def test_sentencepiece_checkpoints_encode_and_fingerprint_too(tmp_path):
    import io

    import sentencepiece

    def train(vocab_size: int) -> Path:
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(corpus_lines(300)),
            model_writer=model,
            vocab_size=vocab_size,
            model_type="bpe",
            unk_id=0,
            bos_id=1,
            eos_id=2,
            pad_id=-1,
            minloglevel=2,
        )
        directory = tmp_path / f"spm{vocab_size}"
        directory.mkdir()
        (directory / "tokenizer.model").write_bytes(model.getvalue())
        return directory

    tokenizer = load_tokenizer(train(200))
    assert tokenizer.backend == "sentencepiece"
    texts = SAMPLES + corpus_lines(10, seed=6)
    for bos in (None, True, False):
        for eos in (True, False):
            assert encode_batch(tokenizer, texts, bos=bos, eos=eos) == [
                tokenizer.encode(t, bos=bos, eos=eos).tolist() for t in texts
            ]
    assert fingerprint(tokenizer) == fingerprint(tmp_path / "spm200") != fingerprint(train(220))


def test_fingerprint_is_stable_and_tells_tokenizers_apart(tokenizer_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tokenizer_dir, copy)
    assert fingerprint(copy) == fingerprint(tokenizer_dir) == fingerprint(load_tokenizer(tokenizer_dir))
    assert fingerprint(tokenizer_dir).startswith("sha256:") and len(fingerprint(tokenizer_dir)) == 23
    other = make_tokenizer(tmp_path / "other", vocab_size=380)
    assert fingerprint(other) != fingerprint(tokenizer_dir)
    # the same vocabulary with BOS switched off encodes differently, so it must fingerprint differently
    config = json.loads((copy / "tokenizer_config.json").read_text())
    (copy / "tokenizer_config.json").write_text(json.dumps({**config, "add_bos_token": False}))
    assert fingerprint(copy) != fingerprint(tokenizer_dir)


def test_check_tokenizer_matches_refuses_another_tokenizer_naming_both(tokenizer_dir, tmp_path):
    other = make_tokenizer(tmp_path / "other", vocab_size=380)
    meta = {"tokenizer_fingerprint": fingerprint(tokenizer_dir)}
    check_tokenizer_matches(meta, tokenizer_dir)
    with pytest.raises(LitftError) as error:
        check_tokenizer_matches(meta, other)
    assert fingerprint(tokenizer_dir) in str(error.value) and fingerprint(other) in str(error.value)


def test_token_dtype_is_uint16_only_when_every_id_fits():
    assert token_dtype(65536).name == "uint16"
    assert token_dtype(65537).name == "uint32"


def test_cli_trains_and_refuses_bad_input_with_one_line(tmp_path, capsys):
    corpus = tmp_path / "chunks.jsonl"
    corpus.write_text("\n".join(json.dumps({"text": line}) for line in corpus_lines(200)) + "\n", encoding="utf-8")
    main(
        [
            "tokenizer",
            "train",
            "--data",
            str(corpus),
            "--vocab_size",
            "300",
            "--out",
            str(tmp_path / "tok"),
            "--quiet",
            "true",
        ]
    )
    assert load_tokenizer(tmp_path / "tok").vocab_size == 300

    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "spm").mkdir()
    (tmp_path / "spm" / "tokenizer.model").write_bytes(b"a sentencepiece model")
    cases = {
        "already holds a tokenizer.model": ["--data", str(corpus), "--out", str(tmp_path / "spm")],
        "no text to learn from": ["--data", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "t2")],
        "out of range": ["--data", str(corpus), "--vocab_size", "10", "--out", str(tmp_path / "t3")],
        "already holds a tokenizer.json": ["--data", str(corpus), "--out", str(tmp_path / "tok")],
        "does not exist": ["--data", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "t4")],
    }
    for expected, args in cases.items():
        with pytest.raises(SystemExit) as exit_info:
            main(["tokenizer", "train", "--quiet", "true", *args])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and expected in err and err.count("\n") == 1, err


def test_load_tokenizer_explains_a_config_without_tokenizer_class(tokenizer_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tokenizer_dir, copy)
    (copy / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<s>"}))
    with pytest.raises(LitftError, match="tokenizer_class"):
        load_tokenizer(copy)
    with pytest.raises(LitftError, match="no tokenizer.json"):
        load_tokenizer(tmp_path)


def test_a_tokenizer_without_eos_is_a_user_error_where_eos_is_needed(tokenizer_dir, tmp_path):
    from litft.prepare.pretrain import prepare_pretrain

    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(tokenizer_dir / "tokenizer.json", bare)  # no tokenizer_config.json: litgpt knows no BOS/EOS ids
    tokenizer = load_tokenizer(bare)
    assert encode_batch(tokenizer, ["a b"]) == [tokenizer.encode("a b").tolist()]
    with pytest.raises(LitftError, match="defines no EOS token"):
        encode_batch(tokenizer, ["a b"], eos=True)
    (tmp_path / "pretrain.txt").write_text("\n".join(corpus_lines(5)) + "\n", encoding="utf-8")
    with pytest.raises(LitftError, match="defines no EOS token"):
        prepare_pretrain(data=tmp_path / "pretrain.txt", out=tmp_path / "out", checkpoint_dir=bare, quiet=True)
    assert not (tmp_path / "out").exists()


def test_a_damaged_tokenizer_is_one_cli_line_naming_the_file(tokenizer_dir, tmp_path, capsys):
    good = (tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8")
    (tmp_path / "pretrain.txt").write_text("\n".join(corpus_lines(5)) + "\n", encoding="utf-8")
    damages = {
        "tokenizer.json": {
            "not JSON": "vocab: a b c",
            "truncated": good[: len(good) // 2],
            "a list": "[1, 2]",
            "empty": "",
        },
        "tokenizer_config.json": {
            "a list": "[1]",
            "bos_token 5": '{"tokenizer_class": "X", "bos_token": 5}',
            "unknown eos_token": '{"tokenizer_class": "X", "eos_token": "<nope>"}',
            "add_bos_token text": '{"tokenizer_class": "X", "add_bos_token": "yes"}',
        },
        "generation_config.json": {"not JSON": "eos: 2", "eos_token_id text": '{"eos_token_id": "two"}'},
    }
    expected = {
        "tokenizer.json": "tokenizer.json is damaged or not a tokenizer file",
        "tokenizer_config.json": "tokenizer_config.json",
        "generation_config.json": "generation_config.json",
    }
    for name, forms in damages.items():
        for form, text in forms.items():
            copy = tmp_path / f"{name}-{form}".replace(" ", "_")
            shutil.copytree(tokenizer_dir, copy)
            (copy / name).write_text(text, encoding="utf-8")
            with pytest.raises(SystemExit) as exit_info:
                main(
                    [
                        "prepare",
                        "pretrain",
                        "--data",
                        str(tmp_path / "pretrain.txt"),
                        "--out",
                        str(tmp_path / "out"),
                        "--checkpoint_dir",
                        str(copy),
                        "--quiet",
                        "true",
                    ]
                )
            err = capsys.readouterr().err
            assert exit_info.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, (name, form, err)
            assert err.startswith(f"error: {copy / expected[name]}"), (name, form, err)
            assert (copy / name).read_text(encoding="utf-8") == text  # left as it was
    assert not (tmp_path / "out").exists()


def test_a_damaged_sentencepiece_model_is_a_user_error(tmp_path):
    (tmp_path / "tokenizer.model").write_bytes(b"\x00not a model proto")
    with pytest.raises(
        LitftError, match=r"tokenizer.model is damaged or not a tokenizer file .*download the model again"
    ):
        load_tokenizer(tmp_path)
