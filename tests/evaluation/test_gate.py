"""`litft evaluate --max_regression`: the release gate exits 3 (never 2, the user-error status) after writing
everything when a run falls below the base by more than the threshold with its interval clear of 0."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from types import SimpleNamespace

import pytest

from litft.cli import run_function
from litft.evaluation.evaluate import evaluate
from litft.evaluation.gate import ReleaseGateFailed, enforce_release_gate, release_gate
from litft.evaluation.statistics import paired_bootstrap
from litft.models.build import LoRASettings
from tests.models.test_peft_export import lora_run

pytestmark = pytest.mark.usefixtures("one_thread")

QUESTIONS = [
    "When is the application deadline?",
    "Which programs does the school offer?",
    "Who does research in the labs?",
    "What does tuition cover?",
    "Where do students apply?",
    "Which courses are in civil engineering?",
]


def _row(label: str, role: str, rouge_deltas: list[float] | None, tasks: dict | None = None):
    vs_base = None
    if rouge_deltas is not None:
        vs_base = {"rougeL": asdict(paired_bootstrap(rouge_deltas)), "tasks": tasks}
    return SimpleNamespace(label=label, role=role, vs_base=vs_base)


def _task(deltas: list[float], higher_is_better: bool) -> dict:
    interval = asdict(paired_bootstrap(deltas))
    return {"difference": interval["mean"], "interval": interval, "higher_is_better": higher_is_better}


def test_a_loss_beyond_the_threshold_with_its_interval_below_zero_fails_the_row_and_metric():
    rows = [
        _row("base", "base", None),
        _row("base+rag", "base", [-0.5, -0.4, -0.6, -0.5]),  # not a run: the base with retrieval is not gated
        _row("lora", "run", [-0.5, -0.4, -0.6, -0.5]),
        _row("full", "run", [0.1, 0.2, 0.0, 0.1], {"arc_easy": {"acc,none": _task([-1.0, -1.0, -1.0, 0.0], True)}}),
        _row("dora", "run", [0.0, 0.0, 0.0, 0.0], {"ppl": {"brier,none": _task([0.3, 0.4, 0.2, 0.3], False)}}),
    ]
    gate = release_gate(rows, 0.02)
    assert not gate["passed"]
    assert [(f["row"], f["metric"]) for f in gate["failures"]] == [
        ("lora", "rougeL"),
        ("full", "arc_easy acc"),
        ("dora", "ppl brier"),  # lower is better: a rise is the loss
    ]
    assert gate["failures"][0]["difference"] == pytest.approx(-0.5)


@pytest.mark.parametrize(
    "deltas",
    [
        [-0.01, -0.01, -0.01, -0.01],  # a real loss, but within the threshold
        [-0.3, 0.3, -0.3, 0.2],  # beyond the threshold on average, but the interval reaches over 0
    ],
)
def test_a_loss_within_the_threshold_or_with_an_interval_touching_zero_passes(deltas, capsys):
    gate = release_gate([_row("base", "base", None), _row("lora", "run", deltas)], 0.02)
    assert gate == {"max_regression": 0.02, "passed": True, "failures": []}
    enforce_release_gate(gate)
    assert capsys.readouterr().err.startswith("release gate: passed")


def test_without_max_regression_there_is_no_gate():
    assert release_gate([_row("lora", "run", [-1.0, -1.0])], None) is None


def test_evaluate_exits_3_after_writing_everything_naming_the_row_that_fell_behind(lit_base, tmp_path, capsys):
    """References equal to the base's own answers: the base scores ROUGE-L 1, a LoRA run with random weights less."""
    records = [{"instruction": question, "input": "", "output": "x"} for question in QUESTIONS]
    test_file, out = tmp_path / "test.json", tmp_path / "eval"
    test_file.write_text(json.dumps(records))
    common = ["--out_dir", str(out), "--prompt_style", "qa", "--sampling.max_new_tokens", "8", "--device", "cpu"]
    run_function(evaluate, [str(test_file), "--runs=[]", "--base", str(lit_base), *common, "--quiet"])
    with open(out / "answers.csv", newline="", encoding="utf-8") as fh:
        base_answers = [row["answer_base"] for row in csv.DictReader(fh)]
    assert all(answer.strip() for answer in base_answers)
    for record, answer in zip(records, base_answers, strict=True):
        record["output"] = answer
    test_file.write_text(json.dumps(records))
    settings = LoRASettings(r=4, alpha=8, dropout=0.0, query=True, value=True, projection=True, mlp=True, head=True)
    run = lora_run(lit_base, tmp_path / "lora", settings)
    capsys.readouterr()

    gated = [
        str(test_file),
        "--runs",
        str(run),
        "--base",
        str(lit_base),
        *common,
        "--quiet",
        "--max_regression",
        "0.02",
    ]
    with pytest.raises(SystemExit) as exit_info:
        run_function(evaluate, gated)
    assert isinstance(exit_info.value, ReleaseGateFailed) and exit_info.value.code == 3
    report = json.loads((out / "report.json").read_text())
    failure = report["release_gate"]["failures"][0]
    assert report["models"][0]["rougeL"] == pytest.approx(1.0)
    assert (failure["row"], failure["metric"]) == ("run", "rougeL")
    assert failure["difference"] == pytest.approx(report["models"][1]["rougeL"] - 1.0)
    printed = capsys.readouterr()
    assert "wrote " in printed.out  # the summary came first: everything is written before the exit
    assert printed.err.strip() == (
        f"release gate: run rougeL is {failure['difference']:+.4f} against the base (more than 0.02 worse), "
        f"95% interval [{failure['low']:+.4f}, {failure['high']:+.4f}]"
    )
