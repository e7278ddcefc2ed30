"""`litft evaluate --tasks`: lm-evaluation-harness tasks through litft's loaded models (base, LoRA run), checked
against lm-eval's own Hugging Face class on the HF export, and the tasks' columns, intervals and report entries.

The tasks are tests/evaluation/harness_tasks/*.yaml over JSONL files beside them (no Hub download): one multiple
choice, one rolling loglikelihood (perplexity), one generate_until.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from litft.cli import run_function
from litft.evaluation.evaluate import evaluate
from litft.evaluation.harness_model import LitftLM
from litft.generation.generate import LoadedModel
from litft.models.build import LoRASettings
from litft.models.convert import convert_lit_checkpoint
from litft.models.peft_export import convert_lit_to_peft
from tests.models.test_peft_export import lora_run

pytestmark = pytest.mark.usefixtures("one_thread")

TASKS = Path(__file__).parent / "harness_tasks"
LONG_TEXT = " ".join(["the school offers programs in civil engineering and students apply before march"] * 12)
PAIRS = [
    ("the school offers", " programs in civil"),
    ("students apply ", "before march"),  # a trailing space moves to the continuation, as lm-eval does
    ("", "tuition scholarship campus"),  # an empty context: the prefix token conditions
    (LONG_TEXT, " deadline"),  # longer than the model's context: kept from the left
]
RECORDS = [
    {"instruction": "When is the application deadline?", "input": "", "output": "Before the March deadline."},
    {"instruction": "Which programs are offered?", "input": "", "output": "Civil and software engineering."},
    {"instruction": "Who does research?", "input": "", "output": "Faculty and students in the labs."},
    {"instruction": "What does tuition cover?", "input": "", "output": "Courses and campus labs."},
]


def _hf_export(checkpoint: Path, out: Path) -> Path:
    convert_lit_checkpoint(checkpoint, out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(checkpoint / name, out / name)
    return out


@pytest.fixture(scope="module")
def hf_export(lit_base, tmp_path_factory) -> Path:
    return _hf_export(lit_base, tmp_path_factory.mktemp("harness") / "hf")


@pytest.fixture(scope="module")
def lora(lit_base, tmp_path_factory) -> Path:
    """A LoRA run on the tiny base with random A and B (a real delta), and its PEFT adapter for the HF export."""
    root = tmp_path_factory.mktemp("harness-lora") / "lora"
    settings = LoRASettings(r=4, alpha=8, dropout=0.0, query=True, value=True, projection=True, mlp=True)
    run = lora_run(lit_base, root, settings)
    convert_lit_to_peft(run, root / "adapter")
    return run


def _instances(kind: str, arguments: list[tuple]) -> list:
    from lm_eval.api.instance import Instance

    return [Instance(kind, {}, args, index) for index, args in enumerate(arguments)]


def _assert_same_scores(ours: LitftLM, theirs) -> None:
    mine, expected = (
        ours.loglikelihood(_instances("loglikelihood", PAIRS)),
        theirs.loglikelihood(_instances("loglikelihood", PAIRS)),
    )
    assert [greedy for _, greedy in mine] == [greedy for _, greedy in expected]
    torch.testing.assert_close([lp for lp, _ in mine], [lp for lp, _ in expected], rtol=0, atol=1e-4)
    texts = [(LONG_TEXT,), ("students apply before the march deadline",)]
    rolling = _instances("loglikelihood_rolling", texts)
    torch.testing.assert_close(
        ours.loglikelihood_rolling(rolling), theirs.loglikelihood_rolling(rolling), atol=1e-4, rtol=0
    )
    greedy = {"until": ["\n", "campus"], "max_gen_toks": 8, "do_sample": False}
    requests = _instances("generate_until", [(context, greedy) for context in ("the school", "students apply before")])
    assert ours.generate_until(requests) == theirs.generate_until(requests)


def test_loglikelihoods_and_greedy_text_equal_lm_evals_hf_model_on_the_export(lit_base, hf_export):
    from lm_eval.models.huggingface import HFLM

    ours = LitftLM(LoadedModel(lit_base, device="cpu", precision="32-true"), batch_size=3)
    assert len(ours.tok_encode(LONG_TEXT)) > ours.max_length  # the rolling text needs several windows
    _assert_same_scores(ours, HFLM(pretrained=str(hf_export), device="cpu", dtype="float32", batch_size=3))


def test_a_lora_run_scores_as_peft_on_the_export_without_exporting_it(lora, hf_export):
    import peft
    import transformers
    from lm_eval.models.huggingface import HFLM

    ours = LitftLM(LoadedModel(lora, device="cpu", precision="32-true"), batch_size=2)
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(hf_export, dtype=torch.float32)
    # peft applies the run's exported adapter (HFLM's own `peft=` would first shrink the padded vocabulary)
    adapted = peft.PeftModel.from_pretrained(hf_model, lora.parent / "adapter").merge_and_unload().eval()
    theirs = HFLM(pretrained=adapted, tokenizer=str(hf_export), device="cpu", batch_size=2)
    plain = HFLM(pretrained=str(hf_export), device="cpu", dtype="float32", batch_size=2)
    requests = _instances("loglikelihood", PAIRS[:1])
    assert abs(theirs.loglikelihood(requests)[0][0] - plain.loglikelihood(requests)[0][0]) > 1e-2  # a real delta
    _assert_same_scores(ours, theirs)


def _arguments(test_file: Path, out: Path, base: Path, runs: list[Path], *extra: str) -> list[str]:
    runs_arg = ["--runs", *map(str, runs)] if runs else ["--runs=[]"]
    return [str(test_file), *runs_arg, "--base", str(base), "--out_dir", str(out), "--prompt_style", "qa"] + [
        "--sampling.max_new_tokens",
        "6",
        "--device",
        "cpu",
        "--quiet",
        *extra,
    ]


def test_evaluate_tasks_reports_lm_evals_metrics_and_paired_differences(
    lit_base, lora, hf_export, tmp_path, capsys, monkeypatch
):
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    monkeypatch.chdir(TASKS)  # the tasks' data_files are relative to the working directory
    test_file = tmp_path / "test.json"
    test_file.write_text(json.dumps(RECORDS))
    names = ["litft_mc", "litft_text", "litft_gen"]
    out = tmp_path / "eval"
    tasks = ["--tasks", ",".join(names), "--tasks_path", str(TASKS), "--tasks_limit", "4"]
    run_function(evaluate, _arguments(test_file, out, lit_base, [lora], *tasks))
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    base_row, run_row = report["models"]
    assert report["tasks"]["names"] == names and report["tasks"]["limit"] == 4

    # the base's numbers are lm-eval's own on the HF export of the same weights
    hflm = HFLM(pretrained=str(hf_export), device="cpu", dtype="float32", batch_size=4)
    theirs = lm_eval.simple_evaluate(
        model=hflm, tasks=names, limit=4, task_manager=TaskManager(include_path=str(TASKS)), bootstrap_iters=0
    )["results"]
    for name in names:
        for key, value in base_row["tasks"][name].items():
            if key not in ("n", "higher_is_better"):
                assert value == pytest.approx(theirs[name][key], abs=1e-4), (name, key)
    assert base_row["tasks"]["litft_mc"]["n"] == 4 and "acc_norm,none" in base_row["tasks"]["litft_mc"]

    # the run's difference to the base is paired over the same items; perplexity has no per-item interval
    compared = run_row["vs_base"]["tasks"]
    mc = compared["litft_mc"]["acc,none"]
    difference = run_row["tasks"]["litft_mc"]["acc,none"] - base_row["tasks"]["litft_mc"]["acc,none"]
    assert mc["difference"] == pytest.approx(difference) == pytest.approx(mc["interval"]["mean"])
    assert mc["higher_is_better"] is True
    assert compared["litft_text"]["word_perplexity,none"]["interval"] is None
    assert compared["litft_text"]["word_perplexity,none"]["higher_is_better"] is False
    assert compared["litft_gen"]["exact_match,none"]["interval"]["resamples"] == 10_000

    header = printed.splitlines()[0]
    assert header.split()[-6:] == ["litft_mc", "acc", "litft_text", "word_perplexity", "litft_gen", "exact_match"]
    run_line = next(line for line in printed.splitlines() if line.startswith("run "))
    assert f"{mc['interval']['mean']:+.4f} [{mc['interval']['low']:+.2f}, {mc['interval']['high']:+.2f}]" in run_line
    assert "TASK METRIC: lm-eval's metric per --tasks task" in printed


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tasks", "litft_nope", "--tasks_path", str(TASKS)], "lm-eval has no task 'litft_nope'"),
        (["--tasks", "litft_mc", "--tasks_path", str(TASKS), "--tasks_limit", "0"], "--tasks_limit must be at least 1"),
        (["--tasks_limit", "3"], "--tasks_path and --tasks_limit go with --tasks"),
        (["--tasks", "litft_mc", "--tasks_path", "/no/such/folder"], "--tasks_path"),
        (["--max_regression", "-0.1"], "--max_regression is a score difference between 0 and 1"),
    ],
)
def test_task_mistakes_are_one_sentence_and_exit_2_before_any_model_loads(lit_base, tmp_path, capsys, extra, message):
    test_file = tmp_path / "test.json"
    test_file.write_text(json.dumps(RECORDS))
    with pytest.raises(SystemExit) as exit_info:
        run_function(evaluate, _arguments(test_file, tmp_path / "eval", lit_base, [], *extra))
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "eval").exists()


def test_tasks_without_lm_eval_installed_name_the_extra(lit_base, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "lm_eval", None)  # as if the package were not installed
    test_file = tmp_path / "test.json"
    test_file.write_text(json.dumps(RECORDS))
    with pytest.raises(SystemExit) as exit_info:
        run_function(evaluate, _arguments(test_file, tmp_path / "eval", lit_base, [], "--tasks", "hellaswag"))
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error == 'error: --tasks runs lm-evaluation-harness, which is not installed; pip install "litft[eval]".'


def test_lm_evals_multiple_choice_prefers_the_true_answer_on_the_real_smollm2(smollm2, tmp_path):
    """SmolLM2-135M-Instruct through litft scores as lm-eval's HFLM scores its export, and knows a capital."""
    from lm_eval.models.huggingface import HFLM

    export = tmp_path / "hf"
    convert_lit_checkpoint(smollm2, export)
    ours = LitftLM(LoadedModel(smollm2, device="cpu", precision="32-true"), batch_size=4)
    theirs = HFLM(pretrained=str(export), tokenizer=str(smollm2), device="cpu", dtype="float32", batch_size=4)
    question = "Question: What is the capital of France?\nAnswer:"
    requests = _instances("loglikelihood", [(question, " Paris"), (question, " London"), (question, " Berlin")])
    mine, expected = ours.loglikelihood(requests), theirs.loglikelihood(requests)
    torch.testing.assert_close([lp for lp, _ in mine], [lp for lp, _ in expected], rtol=0, atol=1e-3)
    assert mine[0][0] > max(mine[1][0], mine[2][0])
