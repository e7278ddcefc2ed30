"""`litft demo`: the whole pipeline on the bundled site writes every stage's files and the evaluation table."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from litft.common.errors import LitftError
from litft.demo.pipeline import FULL, LLM_CACHE, MARKER, _prepare_out, training_configs

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "demo"
STAGE_FILES = (
    "urls.json",
    "site/pages.jsonl",
    "site/chunks.jsonl",
    "site/pretrain.txt",
    "qa.jsonl",
    "qa.filtered.jsonl",
    "split/train.json",
    "split/test.json",
    "tokenizer/tokenizer.json",
    "pretrain_data/train.bin",
    "pretrain_data/meta.json",
    "finetune_data/train.bin",
    "finetune_data/meta.json",
    "pretrain/final/lit_model.pth",
    "lora/final/lit_model.pth.lora",
    "adapter_v2/final/lit_model.pth.adapter_v2",
    "full/final/lit_model.pth",
    "index/meta.json",
    "evaluate/report.json",
    "evaluate/answers.csv",
    *(f"{run}/logs/metrics.csv" for run in ("pretrain", "lora", "adapter_v2", "full")),
    *(f"configs/{name}.yaml" for name in ("pretrain", "lora", "adapter_v2", "full")),
)
COMMANDS = (
    "crawl",
    "scrape",
    "process",
    "synthesize",
    "filter",
    "split",
    "tokenizer train",
    "prepare pretrain",
    "prepare finetune",
    "pretrain",
    "finetune lora",
    "finetune adapter_v2",
    "finetune full",
    "index build",
    "evaluate",
)


def _litft(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "litft.cli", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fast_demo_writes_every_stage_and_the_table(tmp_path):
    out = tmp_path / "demo"
    result = _litft("demo", "--out", str(out), "--fast", "true", timeout=280)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    for name in STAGE_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "loss_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    printed = [line[2:] for line in result.stdout.splitlines() if line.startswith("$ litft ")]
    assert [next(c for c in COMMANDS if line.startswith(f"litft {c} ")) for line in printed] == list(COMMANDS)
    assert "--fetch.rate_limit 0" in printed[0]

    report = json.loads((out / "evaluate" / "report.json").read_text())
    labels = [model["label"] for model in report["models"]]
    assert labels == [f"{model}{rag}" for model in ("base", "lora", "adapter_v2", "full") for rag in ("", "+rag")]
    assert all(model["n"] == 8 and 0 <= model["rougeL"] <= 1 for model in report["models"])
    assert all(model["rag"]["k"] == 2 for model in report["models"][1::2])
    perplexities = [model["general_text"]["perplexity"] for model in report["models"][::2]]
    assert all(ppl > 1 for ppl in perplexities) and not any(model["general_text"] for model in report["models"][1::2])
    assert "ROUGE-1  ROUGE-2  ROUGE-L" in result.stdout
    for label in labels:
        assert any(line.startswith(label + " ") for line in result.stdout.splitlines()), label

    # the test split shares no source chunk with the training split
    train, test = (json.loads((out / "split" / f"{s}.json").read_text()) for s in ("train", "test"))
    assert test and not {r["source_id"] for r in train} & {r["source_id"] for r in test}
    # unanswerable questions (synthesize --unanswerable) on both sides, beside their chunk's other questions
    assert any(r.get("answerable") is False for r in train) and any(r.get("answerable") is False for r in test)
    assert all(model["grounding"]["questions"] >= 1 for model in report["models"][1::2])
    assert "abstain" in result.stdout and "grounded" in result.stdout and "recall@k" in result.stdout

    # a printed command re-runs alone
    split = next(line for line in printed if line.startswith("litft split "))
    rerun = _litft(*shlex.split(split)[1:], timeout=60)
    assert rerun.returncode == 0, rerun.stderr


def test_prepare_out_clears_only_a_demo_folder(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "site").mkdir()
    with pytest.raises(LitftError, match="did not write"):
        _prepare_out(foreign, FULL)
    assert (foreign / "site").is_dir()

    out = tmp_path / "demo"
    _prepare_out(out, FULL)
    assert (out / MARKER).is_file()
    (out / "site").mkdir()
    (out / "qa.jsonl").write_text("old\n")
    (out / LLM_CACHE).write_text("paid for\n")
    _prepare_out(out, FULL)
    assert not (out / "site").exists() and not (out / "qa.jsonl").exists()
    assert (out / LLM_CACHE).read_text() == "paid for\n"
    written = yaml.safe_load((out / "configs" / "lora.yaml").read_text())
    assert written == training_configs(out, FULL)["lora"]


@pytest.mark.parametrize("name", ["pretrain", "lora", "adapter_v2", "full"])
def test_repository_demo_configs_are_the_demo_recipe(name):
    assert yaml.safe_load((CONFIGS / f"{name}.yaml").read_text()) == training_configs(Path("out/demo"), FULL)[name]


def test_starting_over_keeps_reviewers_scores_and_what_links_point_to(tmp_path):
    out = tmp_path / "demo"
    _prepare_out(out, FULL)
    (out / "evaluate" / "reviews").mkdir(parents=True)
    (out / "evaluate" / "reviews" / "alice.jsonl").write_text('{"item": "x", "score": 3}\n')
    with pytest.raises(LitftError, match="holds reviewers' scores, which starting the demo over would delete"):
        _prepare_out(out, FULL)
    assert (out / "evaluate" / "reviews" / "alice.jsonl").is_file()

    (out / "evaluate" / "reviews" / "alice.jsonl").unlink()
    (tmp_path / "my_site").mkdir()
    (tmp_path / "my_site" / "page.html").write_text("mine")
    (out / "site").symlink_to(tmp_path / "my_site")
    _prepare_out(out, FULL)
    assert not (out / "evaluate").exists() and not (out / "site").exists()
    assert (tmp_path / "my_site" / "page.html").read_text() == "mine"


def test_prepare_out_refuses_a_file(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(LitftError, match="is a file, not a folder"):
        _prepare_out(tmp_path / "out", FULL)


def test_interrupt_during_the_pipeline_with_keep_server_is_not_swallowed(tmp_path, monkeypatch):
    import litft.cli
    import litft.demo.server
    from litft.demo.pipeline import demo

    stopped = []

    class FakeServer:
        def stop(self):
            stopped.append(True)

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(litft.demo.server, "serve_demo_site", lambda port: (FakeServer(), "http://127.0.0.1:1"))
    monkeypatch.setattr(litft.cli, "main", interrupted)
    with pytest.raises(KeyboardInterrupt):  # not an UnboundLocalError for the report never made
        demo(out=tmp_path / "demo", keep_server=True)
    assert stopped == [True]
