"""`litft evaluate --general_text`: each model's perplexity on general text, the forgetting check."""

from __future__ import annotations

import json
import math

import pytest
import torch

from litft.cli import run_function
from litft.evaluation.evaluate import evaluate
from litft.evaluation.forgetting import perplexity
from litft.generation.generate import LoadedModel

pytestmark = pytest.mark.usefixtures("one_thread")

SHORT = "the school offers programs in civil engineering and students apply before the march deadline"
RECORDS = [{"instruction": "When is the deadline?", "input": "", "output": "Apply before March 1."}]


def test_perplexity_of_one_window_equals_transformers_loss(lit_base, hf_models):
    import transformers

    loaded = LoadedModel(lit_base, device="cpu", precision="32-true")
    measured = perplexity(loaded, SHORT)
    ids = loaded.tokenizer.encode(SHORT).tolist()
    hf = transformers.AutoModelForCausalLM.from_pretrained(hf_models["llama"], torch_dtype=torch.float32)
    with torch.no_grad():
        loss = hf(torch.tensor([ids]), labels=torch.tensor([ids])).loss.item()
    assert measured["windows"] == 1
    assert measured["tokens"] == len(ids) - 1
    assert measured["perplexity"] == pytest.approx(math.exp(loss), rel=1e-4)


def test_long_text_is_scored_in_windows_that_predict_every_token_once(lit_base):
    loaded = LoadedModel(lit_base, device="cpu", precision="32-true")
    text = " ".join([SHORT] * 40)
    ids = loaded.tokenizer.encode(text).tolist()
    window = loaded.info.config.block_size
    measured = perplexity(loaded, text)
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, window):
            chunk = torch.tensor(ids[start : start + window + 1])
            logits = loaded.model(chunk[:-1].unsqueeze(0))[0]
            total += torch.nn.functional.cross_entropy(logits, chunk[1:], reduction="sum").item()
    assert len(ids) > 2 * window
    assert measured["windows"] == math.ceil((len(ids) - 1) / window)
    assert measured["tokens"] == len(ids) - 1
    assert measured["perplexity"] == pytest.approx(math.exp(total / (len(ids) - 1)), rel=1e-5)
    assert perplexity(loaded, text, max_tokens=window // 2)["tokens"] == window // 2 - 1


def test_evaluate_reports_general_perplexity_per_model(lit_base, tmp_path, capsys):
    test_file, general = tmp_path / "test.json", tmp_path / "general.txt"
    test_file.write_text(json.dumps(RECORDS))
    general.write_text(SHORT, encoding="utf-8")
    out = tmp_path / "eval"
    args = [str(test_file), "--runs=[]", "--base", str(lit_base), "--out_dir", str(out), "--prompt_style", "qa"]
    args += ["--sampling.max_new_tokens", "2", "--device", "cpu", "--quiet", "true", "--general_text", str(general)]
    run_function(evaluate, args)
    printed = capsys.readouterr().out
    header, _, base_row = printed.splitlines()[:3]
    assert header.split()[-2:] == ["general", "ppl"]
    report = json.loads((out / "report.json").read_text())
    expected = perplexity(LoadedModel(lit_base, device="cpu", precision="32-true"), SHORT)
    assert report["models"][0]["general_text"] == expected
    assert base_row.split()[-1] == f"{expected['perplexity']:.2f}"
    assert report["general_text"] == {"path": str(general.resolve()), "max_tokens": 65_536}
    assert "general ppl: perplexity on" in printed


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\xff\xfe not utf-8", "is not UTF-8 text"), (b"one", "fewer than two words")],
)
def test_unreadable_general_text_is_one_sentence_and_exit_2(lit_base, tmp_path, content, message, capsys):
    test_file, general = tmp_path / "test.json", tmp_path / "general.txt"
    test_file.write_text(json.dumps(RECORDS))
    general.write_bytes(content)
    args = [str(test_file), "--runs=[]", "--base", str(lit_base), "--out_dir", str(tmp_path / "eval")]
    with pytest.raises(SystemExit) as exit_info:
        run_function(evaluate, [*args, "--device", "cpu", "--general_text", str(general)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "eval").exists()
