"""Every evaluated row carries the paired bootstrap interval of its per-question difference to the base."""

from __future__ import annotations

from dataclasses import asdict

from litft.evaluation.judge import Verdict
from litft.evaluation.results import ModelResult, compare_to_base_row, results_table
from litft.evaluation.statistics import paired_bootstrap


def _row(label: str, role: str, per_question: list[float], rag: dict | None = None) -> ModelResult:
    n = len(per_question)
    return ModelResult(
        label=label, role=role, checkpoint=label, method=role, base_dir=None, prompt_style="alpaca", n=n,
        rouge1=0.0, rouge2=0.0, rougeL=sum(per_question) / n, mean_answer_words=1.0, mean_generated_tokens=1.0,
        finish_reasons={}, generated_tokens=n, seconds=1.0, tokens_per_second=1.0, from_cache=0, rag=rag,
        answers=[""] * n, rougeL_per_question=per_question,
    )  # fmt: skip


def test_rows_get_the_interval_of_their_paired_differences_to_the_closed_book_base():
    base = _row("base", "base", [0.1, 0.2, 0.0, 0.3])
    base_rag = _row("base+rag", "base", [0.2, 0.2, 0.1, 0.5], rag={"k": 3})
    lora = _row("lora", "run", [0.5, 0.6, 0.4, 0.7])
    verdicts = {
        "base": [Verdict(1, ""), Verdict(None, "failed"), Verdict(0, ""), Verdict(2, "")],
        "base+rag": [Verdict(2, ""), Verdict(2, ""), Verdict(1, ""), Verdict(3, "")],
        "lora": [Verdict(3, ""), Verdict(3, ""), Verdict(None, "failed"), Verdict(3, "")],
    }
    compare_to_base_row([base, base_rag, lora], verdicts)

    assert base.vs_base is None
    deltas = [m - b for m, b in zip(lora.rougeL_per_question, base.rougeL_per_question, strict=True)]
    assert lora.vs_base["rougeL"] == asdict(paired_bootstrap(deltas))
    assert lora.vs_base["rougeL"]["excludes_zero"] and abs(lora.vs_base["rougeL"]["low"] - 0.4) < 1e-12
    assert lora.vs_base["judge"] == asdict(paired_bootstrap([2, 1]))  # questions 2 and 3 lack a score on one side
    expected = paired_bootstrap([b - a for a, b in zip([0.1, 0.2, 0.0, 0.3], [0.2, 0.2, 0.1, 0.5], strict=True)])
    assert base_rag.vs_base["rougeL"] == asdict(expected)
    table = results_table([base, base_rag, lora])
    assert "L vs base [95% CI]" in table and "+0.4000 [+0.40, +0.40]*" in table


def test_test_records_copied_from_training_are_found_beside_the_test_file(tmp_path):
    import json

    from litft.evaluation.evaluate import _contamination
    from litft.evaluation.lineage import default_train_file, read_train_records
    from litft.evaluation.results import scored_result
    from litft.models.instructions import read_instructions

    copied = "the admissions office closes its application window on the first of march every year"
    train = [{"instruction": "When does it close?", "input": "", "output": copied}]
    test = [
        {"instruction": "Tell me about the deadline.", "input": "", "output": f"Note: {copied.upper()}!"},
        {"instruction": "Who teaches CS 320?", "input": "", "output": "Dr. Samuel Okafor teaches it."},
    ]
    (tmp_path / "train.json").write_text(json.dumps(train))
    (tmp_path / "test.json").write_text(json.dumps(test))
    records = read_instructions(tmp_path / "test.json", need_reference=True)
    beside = default_train_file(tmp_path / "test.json", None)
    found = _contamination(records, beside, read_train_records(beside))
    assert found == {
        "train_file": str(tmp_path / "train.json"),
        "n": 8,
        "count": 1,
        "flagged": [{"index": 0, "overlap": 14}],
    }
    explicit = default_train_file(tmp_path / "other" / "test.json", tmp_path / "train.json")
    assert _contamination(records, explicit, read_train_records(explicit))["count"] == 1
    assert default_train_file(tmp_path / "other" / "test.json", None) is None

    entries = [
        {"answer": "I don't know.", "finish_reason": "eos", "generated_tokens": 3, "seconds": 1.0},
        {"answer": "Who teaches CS 320?", "finish_reason": "eos", "generated_tokens": 5, "seconds": 1.0},
    ]
    row = scored_result(records, entries, 0, label="m", role="run", checkpoint="m", method="lora", base_dir=None,
                         prompt_style="alpaca")  # fmt: skip
    assert row.no_answer == {"refusal": 1, "repeats the question": 1}
