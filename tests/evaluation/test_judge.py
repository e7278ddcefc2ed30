"""The judge against the scripted OpenAI-compatible server: odd replies and dead endpoints are unscored verdicts
with their reason, never a traceback, and only well-formed verdicts are cached."""

from __future__ import annotations

import json
import socket
from dataclasses import replace

from litft.evaluation.judge import JUDGE_SETTINGS, TEMPLATE_ID, Judge, Verdict
from litft.llm.cache import cache_key
from tests.support.fake_openai import FakeOpenAI

NOT_A_COMPLETION = "answered with something that is not an OpenAI chat completion"


def test_malformed_replies_are_retried_then_left_unscored_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    triples = [
        (f"q{n}", "ref", f"answer [[script:{script}]]")
        for n, script in enumerate(["notjson,notjson", "nullcontent", "nousage", "nochoices,nochoices"])
    ]
    with FakeOpenAI() as server:
        with Judge(
            replace(JUDGE_SETTINGS, model="grader", base_url=server.base_url, max_retries=1),
            tmp_path / "judge.cache.jsonl",
        ) as grader:
            verdicts = grader.judge_all(triples, quiet=True)
        failed = f"judge request failed: gave up after 2 attempts, last: the server at {server.base_url}"
        failed += f" {NOT_A_COMPLETION}"
        assert verdicts == [
            Verdict(None, f"{failed} (the body is not JSON: b'<html><body><h1>Bad Gateway</h1></body></html>')"),
            Verdict(2, "fake grade"),
            Verdict(2, "fake grade"),
            Verdict(None, f"{failed} (it has no 'choices' list)"),
        ]
        assert len(server.requests) == 7 and grader.asked == 2
        cache = [json.loads(line) for line in (tmp_path / "judge.cache.jsonl").read_text().splitlines()]
        assert [entry["text"] for entry in cache] == [json.dumps({"score": 2, "reason": "fake grade"})] * 2

        # A re-run asks only for the two that failed (the server answers them well now).
        with Judge(
            replace(JUDGE_SETTINGS, model="grader", base_url=server.base_url, max_retries=1),
            tmp_path / "judge.cache.jsonl",
        ) as grader:
            assert grader.judge_all(triples, quiet=True) == [Verdict(2, "fake grade")] * 4
        assert (len(server.requests), grader.asked, grader.from_cache) == (9, 2, 2)


def test_a_cached_entry_of_the_wrong_shape_is_asked_again(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    key = cache_key("grader", TEMPLATE_ID, "q", "ref", "an answer")
    (tmp_path / "judge.cache.jsonl").write_text(json.dumps({"key": key, "text": None, "usage": {}}) + "\n")
    with (
        FakeOpenAI() as server,
        Judge(
            replace(JUDGE_SETTINGS, model="grader", base_url=server.base_url), tmp_path / "judge.cache.jsonl"
        ) as grader,
    ):
        assert grader.verdict("q", "ref", "an answer") == Verdict(2, "fake grade")
        assert len(server.requests) == 1


def test_an_endpoint_that_refuses_connections_leaves_every_answer_unscored_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    with Judge(
        replace(JUDGE_SETTINGS, model="grader", base_url=url, max_retries=0), tmp_path / "judge.cache.jsonl"
    ) as grader:
        verdicts = grader.judge_all([("q1", "ref", "a"), ("q2", "ref", "b")], quiet=True)
    reason = f"judge request failed: gave up after 1 attempt, last: could not connect to {url}: connection refused"
    assert verdicts == [Verdict(None, reason)] * 2
