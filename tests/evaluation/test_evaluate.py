"""Evaluation: ROUGE parity with rouge-score, the end-to-end report and sheet, the 0-3 summary, the judge."""

from __future__ import annotations

import csv
import json
import shutil
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from rouge_score import rouge_scorer

from litft.cli import run_function
from litft.common.errors import LitftError
from litft.evaluation.evaluate import evaluate
from litft.evaluation.judge import EMPTY_ANSWER_REASON, JUDGE_SETTINGS, Judge, parse_verdict
from litft.evaluation.lineup import method_name, plan_models, run_labels
from litft.evaluation.report import summarize
from litft.evaluation.results import rouge_scores
from litft.generation.generate import LoadedModel
from litft.generation.sampling import SamplingSettings
from litft.models.build import LoRASettings, build_model
from litft.models.checkpoint import inspect_checkpoint, load_model, save_checkpoint
from litft.models.merge import merge_lora
from litft.models.prompts import save_prompt_style

RECORDS = [
    {
        "instruction": "When is the application deadline?",
        "input": "",
        "output": "Students apply before the March deadline.",
    },
    {
        "instruction": "Which programs does the school offer?",
        "input": "",
        "output": "Mechanical, civil, electrical and software engineering.",
    },
    {
        "instruction": "Summarise this.",
        "input": "Tuition and scholarship details for the campus.",
        "output": "Tuition and scholarships.",
    },
    {"instruction": "Who does research?", "input": "", "output": "The faculty and students in the research labs."},
]


pytestmark = pytest.mark.usefixtures("one_thread")


def test_rouge_equals_rouge_scores_own_numbers():
    predictions = ["the cat sat", "students are running to campus", "", "Tuition: scholarships, campus!"]
    references = ["the cat ran", "a student runs on the campus", "anything", "tuition and scholarships"]
    ours = rouge_scores(predictions, references)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for mine, prediction, reference in zip(ours, predictions, references, strict=True):
        theirs = scorer.score(reference, prediction)
        assert mine == {name: theirs[name].fmeasure for name in ("rouge1", "rouge2", "rougeL")}
    # Hand-checked values: 2 of 3 unigrams, 1 of 2 bigrams; the stemmer matches running/runs and student/students.
    assert ours[0] == pytest.approx({"rouge1": 2 / 3, "rouge2": 0.5, "rougeL": 2 / 3})
    assert ours[1]["rouge1"] == pytest.approx(2 * (3 / 5) * (3 / 6) / (3 / 5 + 3 / 6))
    assert ours[2] == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}


@pytest.fixture(scope="module")
def setup(lit_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    info = inspect_checkpoint(lit_base)
    base_model, _ = load_model(lit_base)
    generator = torch.Generator().manual_seed(5)
    lora = LoRASettings(r=4, alpha=8, mlp=True, head=True)
    model = build_model("lora", info.config, settings=lora)
    model.load_state_dict(base_model.state_dict(), strict=False)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=generator) * 0.3)
    run = save_checkpoint(
        root / "out" / "lora" / "final",
        method="lora",
        state_dict=model.state_dict(),
        config=info.config,
        source_dir=lit_base,
        base_checkpoint_dir=lit_base,
        settings=lora,
    )
    save_prompt_style("qa", run)
    test_file = root / "test.json"
    test_file.write_text(json.dumps(RECORDS))
    return {"base": lit_base, "run": run, "test": test_file, "root": root}


def read_sheet(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_evaluate_writes_table_report_and_review_sheet(setup, tmp_path, capsys):
    out = tmp_path / "eval"
    args = [
        str(setup["test"]),
        str(setup["run"]),
        "--out_dir",
        str(out),
        "--sampling.max_new_tokens",
        "12",
        "--device",
        "cpu",
        "--batch_size",
        "3",
        "--quiet",
        "true",
    ]
    run_function(evaluate, args)
    stdout = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert [m["label"] for m in report["models"]] == ["base", "lora"]
    assert report["models"][0]["checkpoint"] == str(setup["base"].resolve())  # the base the run names
    assert report["settings"]["greedy"] and report["settings"]["sampling"]["max_new_tokens"] == 12
    assert report["test_file"]["records_used"] == 4 and len(report["test_file"]["sha256"]) == 64
    assert {m["prompt_style"] for m in report["models"]} == {"qa"}  # the base gets its run's style

    rows = read_sheet(out / "answers.csv")
    lineage = ["answerable", "source_id", "source_url", "train_records_from_page"]
    models = ["answer_base", "score_base", "answer_lora", "score_lora"]
    assert list(rows[0]) == ["id", "question", "reference", *lineage, *models]
    assert [row["id"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[2]["question"] == "Summarise this.\n\nTuition and scholarship details for the campus."
    assert all(row["score_base"] == "" == row["score_lora"] for row in rows)

    # The answers are the models' greedy answers, and the ROUGE means are rouge-score's on them.
    base = LoadedModel(setup["base"], device="cpu", prompt_style="qa")
    from litft.models.instructions import read_instructions

    records = read_instructions(setup["test"], need_reference=True)
    expected = base.complete([base.format(r) for r in records], SamplingSettings(max_new_tokens=12))
    assert [row["answer_base"] for row in rows] == [c.text.strip() for c in expected]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for model in report["models"]:
        column = f"answer_{model['label']}"
        for name in ("rouge1", "rouge2", "rougeL"):
            values = [scorer.score(row["reference"], row[column])[name].fmeasure for row in rows]
            assert model[name] == pytest.approx(sum(values) / len(values), abs=1e-12)
        assert model["n"] == 4 and model["generated_tokens"] > 0 and model["tokens_per_second"] > 0
    assert rows[0]["answer_base"] != rows[0]["answer_lora"]
    header, divider, *table = stdout.splitlines()[:4]
    assert header.split()[:6] == ["model", "method", "n", "rouge1", "rouge2", "rougeL"]
    assert table[0].split()[:3] == ["base", "full", "4"] and table[1].split()[:3] == ["lora", "lora", "4"]
    assert f"{report['models'][1]['rougeL']:.4f}" in table[1]

    # A reviewer scores some answers; a re-run reuses the generations and keeps the scores.
    rows[0]["score_base"], rows[1]["score_lora"] = "3", "0"
    with open(out / "answers.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run_function(evaluate, args)
    stdout = capsys.readouterr().out
    again = json.loads((out / "report.json").read_text())
    assert [m["from_cache"] for m in again["models"]] == [4, 4]
    assert [m["rougeL"] for m in again["models"]] == [m["rougeL"] for m in report["models"]]
    assert "kept 2 scores" in stdout
    kept = read_sheet(out / "answers.csv")
    assert kept[0]["score_base"] == "3" and kept[1]["score_lora"] == "0"

    # Different settings change the answers: the run generates again and the stale scores are backed up.
    run_function(evaluate, args[:-2] + ["--sampling.max_new_tokens", "5", "--quiet", "true"])
    stdout = capsys.readouterr().out
    assert "no longer match" in stdout and len(list(out.glob("answers.*.csv"))) == 1
    assert [m["from_cache"] for m in json.loads((out / "report.json").read_text())["models"]] == [0, 0]


def test_plan_models_labels_and_bases(setup, tmp_path):
    specs = plan_models([setup["run"], setup["run"].parent], None)  # the run's final/ and the run: the same run twice
    assert [(s.label, s.role) for s in specs] == [("base", "base"), ("lora", "run"), ("lora-2", "run")]
    assert plan_models([], setup["base"])[0].path == setup["base"]
    with pytest.raises(LitftError, match="nothing to evaluate"):
        plan_models([], None)


def test_run_labels_are_run_folder_names_made_unique_only_on_collision():
    runs = [
        "out/finetune/lora",
        "out/finetune/full/final",
        "out/finetune/lora/step-000400",
        "a/tiny/final",
        "b/tiny/final",
    ]
    assert run_labels([Path(r) for r in runs]) == ["lora", "full", "lora-step-000400", "a-tiny", "b-tiny"]
    assert run_labels([Path("x/a/tiny/final"), Path("y/a/tiny")]) == ["x-a-tiny", "y-a-tiny"]
    assert run_labels([Path("out/base"), Path("my run/final")]) == ["out-base", "my-run"]  # "base" names the base model
    assert run_labels([Path("out/base")], reserved=()) == ["base"]


def test_merged_lora_run_is_named_lora_merged(setup, tmp_path, capsys):
    run = tmp_path / "out" / "tiny-lora" / "final"
    shutil.copytree(setup["run"], run)
    merge_lora(run)  # lit_model.pth beside lit_model.pth.lora, as `litgpt merge_lora` leaves it
    merge_lora(setup["run"], out_dir=tmp_path / "merged")  # a separate full checkpoint recording merged_from
    assert [
        method_name(inspect_checkpoint(path)) for path in (run, tmp_path / "merged", setup["run"], setup["base"])
    ] == ["lora (merged)", "lora (merged)", "lora", "full"]
    out = tmp_path / "eval"
    capsys.readouterr()
    report = evaluate(
        setup["test"],
        [run.parent, setup["run"]],
        out_dir=out,
        sampling=SamplingSettings(max_new_tokens=2, seed=1234),
        limit=1,
        device="cpu",
        quiet=True,
    )
    assert [(m["label"], m["method"]) for m in report["models"]] == [
        ("base", "full"),
        ("tiny-lora", "lora (merged)"),
        ("lora", "lora"),
    ]
    table = capsys.readouterr().out.splitlines()
    assert table[3].split()[:4] == ["tiny-lora", "lora", "(merged)", "1"]
    assert list(read_sheet(out / "answers.csv")[0])[9:11] == ["answer_tiny-lora", "score_tiny-lora"]
    assert sorted(p.name for p in (out / "generations").iterdir()) == ["base.jsonl", "lora.jsonl", "tiny-lora.jsonl"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "holds no records"),
        ("[]", "holds no records"),
        ('[{"instruction": "q", "input": ""}]', "no 'output' to score"),
        ('[{"prompt": "q", "output": "a"}]', "neither an 'instruction' nor a 'question'"),
        ('[{"question": "q", "answer": 3}]', "must be text"),
        ('{"question": "q", "answer": "a"}\n{"oops"', "line 2 is not valid"),
        ("[1, 2]", "is not a JSON object"),
    ],
)
def test_bad_test_file_is_one_clear_message_and_exit_2(setup, tmp_path, content, message, capsys):
    test_file = tmp_path / ("test.jsonl" if "\n" in content else "test.json")
    test_file.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        run_function(evaluate, [str(test_file), str(setup["run"]), "--out_dir", str(tmp_path / "o"), "--device", "cpu"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


SHEET = """question,reference,answer_base,score_base,answer_ft,score_ft
q1,r1,a,0,b,3
q2,r2,a,1,b,3
q3,r3,a,1,b,2
q4,r4,a,3,b,3
q5,r5,a,, b,2.0
"""


def test_summarize_hand_made_sheet_gives_expected_percentages(tmp_path, capsys):
    sheet = tmp_path / "answers.csv"
    sheet.write_text(SHEET)
    result = summarize(sheet, out=tmp_path / "summary.json")
    base, ft = result["rows"]
    assert base["percent"] == {"Incorrect": 25.0, "No Answer": 50.0, "Partially Relevant": 0.0, "Fully Relevant": 25.0}
    assert base["scored"] == 4 and base["unscored"] == 1 and base["mean_score"] == pytest.approx(5 / 4)
    assert ft["percent"] == {"Incorrect": 0.0, "No Answer": 0.0, "Partially Relevant": 40.0, "Fully Relevant": 60.0}
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "model",
        "scored",
        "Incorrect",
        "No",
        "Answer",
        "Partially",
        "Relevant",
        "Fully",
        "Relevant",
        "mean",
    ]
    assert out[2].split() == ["base", "4", "25.0%", "50.0%", "0.0%", "25.0%", "1.25"]
    assert out[3].split() == ["ft", "5", "0.0%", "0.0%", "40.0%", "60.0%", "2.60"]
    assert "base: 1" in out[-1]
    assert json.loads((tmp_path / "summary.json").read_text()) == result

    # A spreadsheet re-save (BOM, semicolons) reads the same; `summarize FILE` works as a bare argument.
    sheet.write_bytes(b"\xef\xbb\xbf" + SHEET.replace(",", ";").encode())
    run_function(summarize, [str(sheet)])
    assert capsys.readouterr().out.splitlines()[2].split() == ["base", "4", "25.0%", "50.0%", "0.0%", "25.0%", "1.25"]


@pytest.mark.parametrize(
    "content, message",
    [
        (SHEET.replace("q2,r2,a,1", "q2,r2,a,4"), "line 3, column score_base holds '4'"),
        ("question,reference,answer_x\nq,r,a\n", "no score_<model>"),
        ("question,reference,score_x\n", "no answers"),
        ("", "is empty"),
    ],
)
def test_summarize_rejects_bad_sheets(tmp_path, content, message, capsys):
    sheet = tmp_path / "answers.csv"
    sheet.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        run_function(summarize, [str(sheet)])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_parse_verdict_reads_json_prose_and_bare_digits():
    assert parse_verdict('{"score": 2, "reason": "partly"}') == parse_verdict(
        'Sure!\n```json\n{"score": "2", "reason": "partly"}\n```'
    )
    assert parse_verdict('{"score": 2, "reason": "partly"}').score == 2
    assert parse_verdict("3 - matches the reference").score == 3
    assert parse_verdict("Score: 0").score == 0
    assert parse_verdict('{"score": 7}').score is None and parse_verdict("I cannot grade this").score is None


class FakeJudgeServer:
    """An OpenAI-compatible chat-completions endpoint on 127.0.0.1 that grades by answer length."""

    def __init__(self):
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                answer = (
                    body["messages"][-1]["content"]
                    .split("Answer to grade:\n", 1)[1]
                    .split("\n\nGrade the answer", 1)[0]
                )
                content = json.dumps({"score": len(answer) % 4, "reason": f"{len(answer)} characters"})
                data = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_judge_scores_through_a_real_openai_client_and_caches_every_verdict(setup, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "judged"
    with FakeJudgeServer() as server:
        args = [
            str(setup["test"]),
            str(setup["run"]),
            "--out_dir",
            str(out),
            "--sampling.max_new_tokens",
            "8",
            "--device",
            "cpu",
            "--judge.model",
            "grader-1",
            "--judge.base_url",
            server.base_url,
            "--quiet",
            "true",
        ]
        run_function(evaluate, args)
        stdout = capsys.readouterr().out
        rows = read_sheet(out / "answers.csv")
        asked = len(server.requests)
        run_function(evaluate, args)  # every verdict comes from the cache now
        assert len(server.requests) == asked
    nonempty = sum(bool(row[f"answer_{label}"]) for row in rows for label in ("base", "lora"))
    assert asked == nonempty > 0
    assert all(
        r["path"] == "/v1/chat/completions" and r["body"]["model"] == "grader-1" and r["body"]["temperature"] == 0
        for r in server.requests
    )
    for row in rows:
        for label in ("base", "lora"):
            answer = row[f"answer_{label}"]
            expected = len(answer) % 4 if answer else 1
            assert row[f"judge_{label}"] == str(expected) and row[f"score_{label}"] == ""
    report = json.loads((out / "report.json").read_text())
    assert report["judge"]["model"] == "grader-1"  # the report of the second run: nothing sent, all cached
    assert (report["judge"]["requests_sent"], report["judge"]["verdicts_from_cache"]) == (0, asked)
    assert [r["source"] for r in report["judge"]["review"]] == ["judge", "judge"]
    assert "base (judge)" in stdout and "lora (judge)" in stdout
    cache = [json.loads(line) for line in (out / "judge.cache.jsonl").read_text().splitlines()]
    assert len(cache) == asked and all(entry["model"] == "grader-1" for entry in cache)
    # summarize shows the judge rows beside the (still empty) human rows.
    table = summarize(out / "answers.csv")
    assert [(r["model"], r["source"]) for r in table["rows"]] == [
        ("base", "human"),
        ("lora", "human"),
        ("base", "judge"),
        ("lora", "judge"),
    ]


def test_judge_scores_an_empty_answer_without_asking(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with Judge(
        replace(JUDGE_SETTINGS, model="m", base_url="http://127.0.0.1:9/v1"), tmp_path / "cache.jsonl"
    ) as grader:
        verdict = grader.verdict("q", "r", "   ")
    assert (verdict.score, verdict.reason) == (1, EMPTY_ANSWER_REASON) and grader.asked == 0
