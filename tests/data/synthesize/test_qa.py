"""`litft synthesize` against a scripted OpenAI-compatible server on 127.0.0.1, through the real openai client."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from litft.cli import main, run_function
from litft.common.errors import LitftError
from litft.common.io import iter_jsonl
from litft.data.synthesize.qa import synthesize
from litft.data.synthesize.templates import load_template
from litft.llm.client import LLMSettings
from tests.support.disks import mounted_tmpfs, read_only_folder
from tests.support.fake_openai import FakeOpenAI, qa_pairs_for

SECRET = "sk-test-0123456789-do-not-leak"


def fast_llm(**settings) -> LLMSettings:
    """`--llm` settings whose retries and timeouts are quick."""
    return LLMSettings(**{"retry_base_delay": 0.01, "retry_max_delay": 0.05, "timeout": 0.5, **settings})


def write_chunks(path: Path, scripts: dict[str, str]) -> dict[str, str]:
    """One chunk per id; the script marker makes the fake server misbehave for that chunk. Returns id -> text."""
    texts = {}
    with open(path, "w", encoding="utf-8") as fh:
        for number, (chunk_id, script) in enumerate(scripts.items()):
            marker = f" [[script:{script}]]" if script else ""
            text = f"Widget model {number} is a blue widget for {chunk_id}. It weighs {number + 1} kilograms.{marker}"
            texts[chunk_id] = text
            fh.write(
                json.dumps({"id": chunk_id, "url": f"https://example.org/{chunk_id}", "text": text, "n_words": 12})
                + "\n"
            )
    return texts


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def expected_records(chunk_id: str, text: str, model: str = "fake-model") -> list[dict]:
    return [
        {
            "instruction": pair["question"],
            "input": "",
            "output": pair["answer"],
            "source_id": chunk_id,
            "source_url": f"https://example.org/{chunk_id}",
            "model": model,
            "template": "faq",
        }
        for pair in qa_pairs_for(text)
    ]


def assert_secret_in_no_file(directory: Path) -> None:
    files = [path for path in directory.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), f"the API key leaked into {path}"


SCRIPTS = {
    "good": "",
    "fenced": "fenced",
    "prose": "prose",
    "malformed-once": "malformed",
    "rate-limited": "429",
    "server-error": "500",
    "timed-out": "timeout",
    "echoes-key": "echokey",
    "missing-fields": "missingfields",
    "empty-then-prose": "empty,prose",
    "always-malformed": "malformed,malformed,malformed",
    "bad-request": "badrequest",
}


def test_every_chunk_ends_with_records_or_a_recorded_failure_and_rerun_retries_only_failures(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    texts = write_chunks(tmp_path / "chunks.jsonl", SCRIPTS)
    output = tmp_path / "qa.jsonl"
    with FakeOpenAI(hang_seconds=1.5) as server:
        synthesize(
            tmp_path / "chunks.jsonl",
            output,
            llm=fast_llm(model="fake-model", base_url=server.base_url, workers=4),
            quiet=True,
        )
        first_run = list(server.requests)
        summary, warnings = capsys.readouterr()

        records = read_jsonl(output)
        failures = {f["source_id"]: f for f in read_jsonl(tmp_path / "qa.failures.jsonl")}
        produced = {r["source_id"] for r in records}
        assert produced | set(failures) == set(SCRIPTS) and not produced & set(failures)
        assert set(failures) == {"always-malformed", "bad-request"}
        assert failures["bad-request"]["status"] == "failed" and "HTTP 400" in failures["bad-request"]["reason"]
        assert "unusable response after 3 attempts" in failures["always-malformed"]["reason"]
        for chunk_id in SCRIPTS.keys() - failures.keys() - {"missing-fields"}:
            assert [r for r in records if r["source_id"] == chunk_id] == expected_records(chunk_id, texts[chunk_id])
        # Two incomplete items dropped, the complete one kept.
        assert [r["output"] for r in records if r["source_id"] == "missing-fields"] == [
            qa_pairs_for(texts["missing-fields"])[0]["answer"]
        ]
        assert "2 records without both question and answer were dropped" in summary

        def requests_for(chunk_id: str, requests) -> list:
            return [r for r in requests if r.passage == texts[chunk_id]]

        # Retries: a 429 is retried after its Retry-After (1 s here, cut to the 0.05 s cap); 500 and timeout are
        # retried.
        assert len(requests_for("rate-limited", first_run)) == 2
        assert warnings.splitlines() == [
            (
                f"warning: {server.base_url} asked to wait 1 s before retrying (Retry-After); "
                "waiting 0.05 s instead, the --llm.retry_max_delay cap."
            )
        ]
        assert len(requests_for("server-error", first_run)) == 2
        assert len(requests_for("timed-out", first_run)) == 2
        assert len(requests_for("always-malformed", first_run)) == 3  # 1 + parse_retries
        assert len(requests_for("bad-request", first_run)) == 1  # a 400 is not retried
        assert all(r.headers["Authorization"] == f"Bearer {SECRET}" for r in first_run)
        assert f"requests {len(first_run)} (retries 4), cached hits 0" in summary

        # Every answered request is in the cache (five were errors or timeouts).
        assert len(read_jsonl(tmp_path / "qa.cache.jsonl")) == len(first_run) - 5

        # Second run: only the two failed chunks are asked again; the server now answers them well.
        synthesize(
            tmp_path / "chunks.jsonl",
            output,
            llm=fast_llm(model="fake-model", base_url=server.base_url, workers=4),
            quiet=True,
        )
        second_run = server.requests[len(first_run) :]
        assert {r.passage for r in second_run} == {texts["always-malformed"], texts["bad-request"]}
        assert len(second_run) == 2
        assert {r["source_id"] for r in read_jsonl(output)} == set(SCRIPTS)
        assert read_jsonl(tmp_path / "qa.failures.jsonl") == []
        assert f"requests 2 (retries 0), cached hits {len(SCRIPTS) - 2}" in capsys.readouterr().out

    assert_secret_in_no_file(tmp_path)


def test_missing_key_for_a_remote_endpoint_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MY_PROVIDER_KEY", raising=False)
    write_chunks(tmp_path / "chunks.jsonl", {"a": ""})
    args = [
        "--input",
        str(tmp_path / "chunks.jsonl"),
        "--output",
        str(tmp_path / "qa.jsonl"),
        "--llm.model",
        "m",
        "--llm.base_url",
        "https://api.example.com/v1",
        "--llm.api_key_env",
        "MY_PROVIDER_KEY",
    ]
    with pytest.raises(SystemExit) as exit_info:
        run_function(synthesize, args)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "MY_PROVIDER_KEY" in error and "api.example.com" in error
    assert not (tmp_path / "qa.jsonl").exists()


def test_a_loopback_server_needs_no_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    texts = write_chunks(tmp_path / "chunks.jsonl", {"a": "", "b": ""})
    with FakeOpenAI() as server:
        synthesize(
            tmp_path / "chunks.jsonl",
            tmp_path / "qa.jsonl",
            llm=fast_llm(model="fake-model", base_url=server.base_url),
            quiet=True,
        )
    assert read_jsonl(tmp_path / "qa.jsonl") == expected_records("a", texts["a"]) + expected_records("b", texts["b"])


def test_budget_caps_stop_requests_and_a_rerun_continues(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    texts = write_chunks(tmp_path / "chunks.jsonl", {f"c{i}": "" for i in range(6)})
    chunks, output = tmp_path / "chunks.jsonl", tmp_path / "qa.jsonl"
    with FakeOpenAI() as server:
        synthesize(
            chunks,
            output,
            llm=fast_llm(model="fake-model", base_url=server.base_url, workers=2, max_requests=3),
            quiet=True,
        )
        assert len(server.requests) == 3
        pending = read_jsonl(tmp_path / "qa.failures.jsonl")
        assert [p["status"] for p in pending] == ["pending"] * 3 and "--llm.max_requests" in pending[0]["reason"]
        assert "a budget cap stopped the run" in capsys.readouterr().out

        # A token cap: a request may go when the tokens used so far plus its estimate (prompt characters / 4
        # + max_response_tokens) stay within the cap. Used tokens are those the server reported.
        used_per_request = sum(read_jsonl(tmp_path / "qa.cache.jsonl")[0]["usage"].values())
        estimate = sum(len(m["content"]) for m in load_template("faq").messages(texts["c0"])) // 4 + 1 + 200
        synthesize(
            chunks,
            output,
            llm=fast_llm(
                model="fake-model",
                base_url=server.base_url,
                workers=1,
                max_response_tokens=200,
                max_tokens=estimate + used_per_request,
            ),
            quiet=True,
        )
        assert len(server.requests) == 5
        assert "--llm.max_tokens" in read_jsonl(tmp_path / "qa.failures.jsonl")[0]["reason"]

        synthesize(chunks, output, llm=fast_llm(model="fake-model", base_url=server.base_url, workers=2), quiet=True)
        assert len(server.requests) == 6  # only the last chunk was still missing
        assert len({r.passage for r in server.requests}) == 6
    assert {r["source_id"] for r in read_jsonl(output)} == set(texts)


def test_a_key_echoed_by_the_server_is_redacted_from_failures(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    write_chunks(tmp_path / "chunks.jsonl", {"a": "echokey,echokey"})
    with FakeOpenAI() as server, pytest.raises(LitftError) as error:
        synthesize(
            tmp_path / "chunks.jsonl",
            tmp_path / "qa.jsonl",
            # a loaded machine can take over 0.5 s to answer: the failure must be the echoed key, not a timeout
            llm=fast_llm(model="m", base_url=server.base_url, max_retries=1, timeout=30),
            quiet=True,
        )
    assert "Bearer [redacted]" in str(error.value) and SECRET not in str(error.value)
    [failure] = read_jsonl(tmp_path / "qa.failures.jsonl")
    assert "gave up after 2 attempts" in failure["reason"] and "Bearer [redacted]" in failure["reason"]
    assert_secret_in_no_file(tmp_path)


def test_templates_builtin_and_user_file(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    texts = write_chunks(tmp_path / "chunks.jsonl", {"a": ""})
    template = tmp_path / "support.txt"
    template.write_text('Questions a customer asks, as JSON [{"question": ..., "answer": ...}]:\n"""\n{passage}\n"""\n')
    with FakeOpenAI() as server:
        synthesize(
            tmp_path / "chunks.jsonl",
            tmp_path / "qa.jsonl",
            llm=fast_llm(model="m", base_url=server.base_url),
            template=str(template),
            quiet=True,
        )
        synthesize(
            tmp_path / "chunks.jsonl",
            tmp_path / "triples.jsonl",
            llm=fast_llm(model="m", base_url=server.base_url),
            template="triples",
            quiet=True,
        )
        prompts = [r.user_prompt for r in server.requests]
    assert (
        prompts[0]
        == f'Questions a customer asks, as JSON [{{"question": ..., "answer": ...}}]:\n"""\n{texts["a"]}\n"""\n'
    )
    assert "instruction-tuning examples" in prompts[1] and texts["a"] in prompts[1]
    assert {r["template"] for r in read_jsonl(tmp_path / "qa.jsonl")} == {"support"}
    assert {r["template"] for r in read_jsonl(tmp_path / "triples.jsonl")} == {"triples"}


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "a", "text": "x"}\n{"id": "b", "text": \n', "line 2 is not valid UTF-8 JSON"),
        ('{"id": "a", "url": "u"}\n', "line 1 has no 'text' field"),
        ('\n{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "line 3 repeats the id 'a' of line 2"),
        ("\n\n", "holds no records"),
    ],
)
def test_bad_chunk_files_are_user_errors(tmp_path, monkeypatch, capsys, content, message):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    (tmp_path / "chunks.jsonl").write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        run_function(synthesize, [str(tmp_path / "chunks.jsonl"), str(tmp_path / "qa.jsonl"), "--backend", "heuristic"])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_bad_template_and_model_are_user_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    write_chunks(tmp_path / "chunks.jsonl", {"a": ""})
    (tmp_path / "no_placeholder.txt").write_text("Write questions.")
    base = [str(tmp_path / "chunks.jsonl"), str(tmp_path / "qa.jsonl"), "--llm.base_url", "http://127.0.0.1:9/v1"]
    cases = [
        (["--llm.model", "m", "--template", str(tmp_path / "no_placeholder.txt")], "has no {passage} placeholder"),
        (["--llm.model", "m", "--template", "nonexistent"], "neither a built-in template"),
        ([], "--llm.model is required"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            run_function(synthesize, base + extra)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_heuristic_backend_needs_no_server_or_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    chunks = [
        {"id": "acme", "url": "u1", "text": "Acme Robotics is a company that builds warehouse robots. It is great."},
        {"id": "none", "url": "u2", "text": "Click here to read more about our great offers today."},
    ]
    (tmp_path / "chunks.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chunks))
    synthesize(tmp_path / "chunks.jsonl", tmp_path / "qa.jsonl", backend="heuristic", quiet=True)
    assert read_jsonl(tmp_path / "qa.jsonl") == [
        {
            "instruction": "What is Acme Robotics?",
            "input": "",
            "output": "Acme Robotics is a company that builds warehouse robots.",
            "source_id": "acme",
            "source_url": "u1",
            "model": "heuristic",
            "template": "heuristic",
        }
    ]
    assert [f["source_id"] for f in read_jsonl(tmp_path / "qa.failures.jsonl")] == ["none"]


def test_format_messages_writes_the_chat_form_with_provenance_and_split_keeps_it(tmp_path, monkeypatch):
    from litft.data.curate.split import split

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    chunks = [
        {"id": f"c{i}", "url": f"u{i}", "text": f"Acme Unit {i} is a company that builds warehouse robots."}
        for i in range(4)
    ]
    (tmp_path / "chunks.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chunks))
    synthesize(tmp_path / "chunks.jsonl", tmp_path / "qa.jsonl", backend="heuristic", quiet=True, format="messages")
    records = read_jsonl(tmp_path / "qa.jsonl")
    assert records[0] == {
        "messages": [
            {"role": "user", "content": "What is Acme Unit 0?"},
            {"role": "assistant", "content": "Acme Unit 0 is a company that builds warehouse robots."},
        ],
        "source_id": "c0",
        "source_url": "u0",
        "model": "heuristic",
        "template": "heuristic",
    }
    split(tmp_path / "qa.jsonl", tmp_path / "split", test_fraction=0.25)
    sides = [json.loads((tmp_path / "split" / name).read_text()) for name in ("train.json", "test.json")]
    assert sorted(sides[0] + sides[1], key=lambda r: r["source_id"]) == records and len(sides[1]) == 1


@pytest.mark.slow
def test_killed_run_loses_no_paid_response_and_rerun_repeats_none(tmp_path, monkeypatch, capsys):
    """SIGKILL a real `litft synthesize` process mid-run; the re-run asks only for what was not cached."""
    texts = write_chunks(tmp_path / "chunks.jsonl", {f"c{i:02d}": "" for i in range(40)})
    cache = tmp_path / "qa.cache.jsonl"
    environment = {**os.environ, "OPENAI_API_KEY": SECRET}
    with FakeOpenAI(response_delay=0.05) as server:
        command = [
            sys.executable,
            "-m",
            "litft.cli",
            "synthesize",
            "--input",
            str(tmp_path / "chunks.jsonl"),
            "--output",
            str(tmp_path / "qa.jsonl"),
            "--llm.model",
            "fake-model",
            "--llm.base_url",
            server.base_url,
            "--llm.workers",
            "2",
            "--quiet",
            "true",
        ]
        process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not cache.exists() or cache.read_text().count("\n") < 8):
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert not (tmp_path / "qa.jsonl").exists()
        cached_chunks = {entry["chunk_id"] for entry in iter_jsonl(cache, skip_torn_tail=True)}
        assert 8 <= len(cached_chunks) < 40
        requests_before_rerun = len(server.requests)

        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        run_function(synthesize, command[4:])  # the same arguments, in this process
        rerun_passages = [r.passage for r in server.requests[requests_before_rerun:]]
    assert not {texts[c] for c in cached_chunks} & set(rerun_passages)
    assert len(rerun_passages) == len(set(rerun_passages)) == 40 - len(cached_chunks)
    assert {r["source_id"] for r in read_jsonl(tmp_path / "qa.jsonl")} == set(texts)
    assert f"cached hits {len(cached_chunks)}" in capsys.readouterr().out
    assert_secret_in_no_file(tmp_path)


def free_port_url() -> str:
    """The URL of a port on 127.0.0.1 that nothing listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


def synthesize_command(tmp_path: Path, base_url: str, *extra: str, model: str = "fake-model") -> list[str]:
    return [
        "synthesize",
        "--input",
        str(tmp_path / "chunks.jsonl"),
        "--output",
        str(tmp_path / "qa.jsonl"),
        "--llm.model",
        model,
        "--llm.base_url",
        base_url,
        "--llm.max_retries",
        "1",
        "--llm.retry_base_delay",
        "0.01",
        "--llm.retry_max_delay",
        "0.05",
        "--llm.timeout",
        "2",
        "--quiet",
        "true",
        *extra,
    ]


def exit_code_and_stderr(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


def test_a_retry_after_of_a_day_waits_only_the_cap_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    texts = write_chunks(tmp_path / "chunks.jsonl", {"a": "429long", "b": ""})
    with FakeOpenAI() as server:
        main(synthesize_command(tmp_path, server.base_url))
    assert read_jsonl(tmp_path / "qa.jsonl") == expected_records("a", texts["a"]) + expected_records("b", texts["b"])
    assert capsys.readouterr().err.splitlines() == [
        (
            f"warning: {server.base_url} asked to wait 100000 s before retrying (Retry-After); "
            "waiting 0.05 s instead, the --llm.retry_max_delay cap."
        )
    ]


def test_a_run_whose_every_request_fails_exits_2_with_the_reason_and_keeps_earlier_results(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    write_chunks(tmp_path / "chunks.jsonl", {"a": "", "b": ""})
    with FakeOpenAI() as server:
        main(synthesize_command(tmp_path, server.base_url))
    earlier = {name: (tmp_path / name).read_bytes() for name in ("qa.jsonl", "qa.cache.jsonl")}

    url = free_port_url()
    code, error = exit_code_and_stderr(synthesize_command(tmp_path, url, model="other-model"), capsys)
    assert code == 2 and error.count("\n") == 1 and error.startswith("error: no chunk of ")
    refused = f"gave up after 2 attempts, last: could not connect to {url}: connection refused"
    assert f"(2 failed, 0 not reached); the first failure, for chunk 'a': {refused};" in error
    assert {name: (tmp_path / name).read_bytes() for name in earlier} == earlier
    assert [f["reason"] for f in read_jsonl(tmp_path / "qa.failures.jsonl")] == [refused] * 2


@pytest.mark.parametrize(
    "behaviour, message",
    [
        ("401", "refused the API key from OPENAI_API_KEY (HTTP 401); check the key."),
        ("nochoices", "answered with something that is not an OpenAI chat completion (it has no 'choices' list);"),
        (
            "notjson",
            "not an OpenAI chat completion (the body is not JSON: b'<html><body><h1>Bad Gateway</h1></body></html>');",
        ),
    ],
)
def test_a_server_that_refuses_or_answers_garbage_is_exit_2_with_one_line(
    tmp_path, monkeypatch, capsys, behaviour, message
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    write_chunks(tmp_path / "chunks.jsonl", {"a": "", "b": ""})
    with FakeOpenAI(default=behaviour) as server:
        code, error = exit_code_and_stderr(synthesize_command(tmp_path, server.base_url), capsys)
    assert code == 2 and error.count("\n") == 1 and message in error and "Traceback" not in error
    assert not (tmp_path / "qa.jsonl").exists()


def test_malformed_replies_are_retried_then_recorded_as_the_chunks_failure(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    scripts = {
        "html-once": "notjson",
        "null-once": "nullcontent",
        "no-usage": "nousage",
        "never-choices": "nochoices,nochoices",
    }
    texts = write_chunks(tmp_path / "chunks.jsonl", scripts)
    with FakeOpenAI() as server:
        synthesize(
            tmp_path / "chunks.jsonl",
            tmp_path / "qa.jsonl",
            llm=fast_llm(model="fake-model", base_url=server.base_url, max_retries=1),
            quiet=True,
        )
    assert read_jsonl(tmp_path / "qa.jsonl") == [
        record
        for chunk_id in ("html-once", "null-once", "no-usage")
        for record in expected_records(chunk_id, texts[chunk_id])
    ]
    assert read_jsonl(tmp_path / "qa.failures.jsonl") == [
        {
            "source_id": "never-choices",
            "source_url": "https://example.org/never-choices",
            "status": "failed",
            "reason": f"gave up after 2 attempts, last: the server at {server.base_url} "
            "answered with something that is not an OpenAI chat completion (it has no 'choices' list)",
        }
    ]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--output", "{input}"], "--output {input} is the same path as --input {input}"),
        (["--cache", "{input}"], "--cache {input} is the same path as --input {input}"),
        (["--failures", "{input}"], "--failures {input} is the same path as --input {input}"),
        (["--cache", "{dir}/qa.jsonl"], "--cache {dir}/qa.jsonl is the same path as --output {dir}/qa.jsonl"),
        (["--output", "{dir}"], "--output {dir} is a folder that holds --input {input}"),
        (["--output", "{dir}/sub"], "--output {dir}/sub is a folder; give a file path."),
        (
            ["--output", "{input}/qa.jsonl"],
            "--output {input}/qa.jsonl cannot be created: {input} is a file, not a folder.",
        ),
    ],
)
def test_outputs_that_would_overwrite_an_input_or_cannot_be_written_are_refused_before_any_request(
    tmp_path, monkeypatch, capsys, flags, message
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    write_chunks(tmp_path / "chunks.jsonl", {"a": ""})
    (tmp_path / "sub").mkdir()
    before = (tmp_path / "chunks.jsonl").read_bytes()
    names = {"input": tmp_path / "chunks.jsonl", "dir": tmp_path}
    with FakeOpenAI() as server:
        code, error = exit_code_and_stderr(
            synthesize_command(tmp_path, server.base_url, *(f.format(**names) for f in flags)), capsys
        )
        assert server.requests == []
    assert code == 2 and error.startswith(f"error: {message.format(**names)}") and error.count("\n") == 1
    assert (tmp_path / "chunks.jsonl").read_bytes() == before


def test_an_output_in_a_read_only_folder_is_refused_before_any_request(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    write_chunks(tmp_path / "chunks.jsonl", {"a": ""})
    with read_only_folder(tmp_path / "locked") as locked, FakeOpenAI() as server:
        code, error = exit_code_and_stderr(
            synthesize_command(tmp_path, server.base_url, "--output", str(locked / "qa.jsonl")), capsys
        )
        assert server.requests == []
    assert (
        code == 2
        and error == f"error: --output {locked}/qa.jsonl cannot be written: no write permission in {locked}.\n"
    )


def test_a_disk_that_fills_up_mid_run_is_exit_2_and_leaves_the_cache_whole(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    texts = write_chunks(tmp_path / "chunks.jsonl", {f"c{i:02d}": "" for i in range(60)})
    with mounted_tmpfs(tmp_path / "disk", size="16k") as disk, FakeOpenAI() as server:
        cache = disk / "qa.cache.jsonl"
        argv = synthesize_command(tmp_path, server.base_url, "--output", str(disk / "qa.jsonl"), "--llm.workers", "1")
        code, error = exit_code_and_stderr(argv, capsys)
        assert code == 2 and error == (
            f"error: cannot write {cache}: no space left on device; free some space and re-run; "
            "what was already written is intact.\n"
        )
        assert cache.read_bytes().endswith(b"\n")  # no torn line: every answer on disk is whole
        cached = [entry["chunk_id"] for entry in iter_jsonl(cache)]
        assert cached == sorted(texts)[: len(cached)] and 0 < len(cached) < len(server.requests) <= 60
