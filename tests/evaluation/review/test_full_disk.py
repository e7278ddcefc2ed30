"""A score the disk refuses: `litft review serve` answers a JSON error the page shows, the reviews file keeps only
whole lines, and once there is room again the next score is saved and read back on restart.

The disk fills up for real, without root: the server runs with RLIMIT_FSIZE (SIGXFSZ ignored), so a score
written across the cap is cut short mid-line and fails with EFBIG; the test lifts the cap with prlimit."""

from __future__ import annotations

import resource
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from litft.evaluation.review.store import read_reviews
from tests.evaluation.review.test_page import TOKEN, chromium, free_port, start_server, stop, wait_for  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
CAP = 1500  # bytes any file of the server may reach: room for one short score, not for a long note
LONG_NOTE = "the answer names the wrong month and the wrong office " * 30


def start_capped_server(eval_dir: Path, port: int, *args: str) -> subprocess.Popen:
    """`litft review serve --token TOKEN` whose files cannot grow past CAP until `lift_cap`."""

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (CAP, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return start_server(eval_dir, port, "--token", TOKEN, *args, preexec_fn=cap)


def lift_cap(server: subprocess.Popen) -> None:
    """Space is freed: the server's files may grow again."""
    hard = resource.prlimit(server.pid, resource.RLIMIT_FSIZE)[1]
    resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (hard, hard))


def test_a_refused_score_is_a_json_error_and_the_reviews_file_stays_whole(eval_dir):
    port = free_port()
    server = start_capped_server(eval_dir, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-Review-Token": TOKEN}) as client:
            ids = [answer["id"] for answer in client.get("/api/alice/questions/0").json()["answers"]]
            assert client.post("/api/alice/scores", json={"item": ids[0], "score": 3}).json()["saved"] is True
            refused = client.post("/api/alice/scores", json={"item": ids[1], "score": 1, "note": LONG_NOTE})
            assert refused.status_code == 507
            assert refused.json() == {
                "saved": False,
                "detail": "the server could not save this score (file too large); your earlier scores are kept, "
                "give this one again once the server's disk has room",
            }
            lift_cap(server)
            assert client.post("/api/alice/scores", json={"item": ids[2], "score": 0}).json()["scored"] == 2
    finally:
        stop(server)
    reviews = read_reviews(eval_dir / "reviews" / "alice.jsonl")
    assert reviews.problems == [] and reviews.lines == 2
    assert {item: record["score"] for item, record in reviews.latest.items()} == {ids[0]: 3, ids[2]: 0}

    server = start_capped_server(eval_dir, port)  # a restart reads back both scores, and only those
    try:
        progress = httpx.get(f"http://127.0.0.1:{port}/api/alice/progress", headers={"X-Review-Token": TOKEN})
        assert progress.json()["scored"] == 2
    finally:
        stop(server)


def test_the_page_shows_a_refused_score_until_it_is_given_again(eval_dir, chromium):  # noqa: F811 (fixture)
    port = free_port()
    server = start_capped_server(eval_dir, port, "--reviewer", "alice")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
        answers = page.locator(".answer")
        answers.nth(0).locator("button.score[data-score='3']").click()
        page.locator("#status", has_text="saved: Answer A = 3").wait_for()
        answers.nth(1).locator(".note").fill(LONG_NOTE)
        answers.nth(1).locator("button.score[data-score='1']").click()
        status = page.locator("#status.error[role='alert']", has_text="not saved: the server could not save")
        status.wait_for()
        assert "file too large" in status.inner_text()
        assert "selected" in answers.nth(1).get_attribute("class")  # back on the answer whose score was lost
        assert "scored" not in answers.nth(1).get_attribute("class")
        page.locator("#progress-text", has_text="1 / 10 answers scored").wait_for()

        lift_cap(server)
        page.keyboard.press("1")  # the same answer, given again
        page.locator("#status:not(.error)", has_text="saved: Answer B = 1").wait_for()
        page.locator("#progress-text", has_text="2 / 10 answers scored").wait_for()
    finally:
        stop(server)
    reviews = read_reviews(eval_dir / "reviews" / "alice.jsonl")
    assert reviews.problems == [] and reviews.lines == 2
    assert sorted(record["score"] for record in reviews.latest.values()) == [1, 3]
