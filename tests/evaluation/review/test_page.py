"""`litft review serve` as a real process on 127.0.0.1, driven by the real headless chromium (Playwright).

Blindness (no model label or checkpoint in the page, its JSON or its URLs), the token, scoring by click and by
key, a reload, a kill -9 and restart mid-review, and the summary of what was saved.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from litft.cli import main
from litft.evaluation.review.items import folder_salt, read_evaluation
from tests.evaluation.review.conftest import ANSWERS, CHECKPOINTS, QUESTIONS, write_eval_dir

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "team-token-42"
# What must never reach the page: every row label but the generic word "base" (checked as a whole word), and
# every checkpoint path.
SECRETS = [label for label in ANSWERS if label != "base"] + sorted(set(CHECKPOINTS.values())) + ["secret"]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(eval_dir: Path, port: int, *args: str, preexec_fn=None) -> subprocess.Popen:
    """`litft review serve` in its own process (`preexec_fn` runs in it before litft starts), once it answers."""
    command = [sys.executable, "-m", "litft.cli", "review", "serve", str(eval_dir), "--port", str(port), *args]
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=preexec_fn
    )
    for _ in range(600):
        if server.poll() is not None:
            raise AssertionError(f"the server stopped: {server.stdout.read()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/config", params={"token": TOKEN}, timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("the server did not answer")


def stop(server: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if server.poll() is None:
        os.kill(server.pid, sig)
    server.wait(timeout=30)
    server.stdout.close()


def assert_blind(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret
    assert not re.search(r"\bbase\b", text), "the label 'base' reached the page"


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        if os.environ.get("CI_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


def test_every_response_is_blind_and_needs_the_token(eval_dir):
    port = free_port()
    server = start_server(eval_dir, port, "--token", TOKEN)
    base = f"http://127.0.0.1:{port}"
    try:
        for path in ("/", "/assets/review.js", "/api/config", "/api/alice/progress", "/api/alice/questions/0"):
            refused = httpx.get(base + path)
            assert refused.status_code == 401 and refused.json() == {"detail": "a valid review token is required"}
            assert httpx.get(base + path, headers={"X-Review-Token": "wrong-token"}).status_code == 401
        with httpx.Client(base_url=base, headers={"X-Review-Token": TOKEN}) as client:
            bodies = [client.get(path).text for path in ("/", "/assets/review.js", "/assets/review.css", "/api/config")]
            questions = [client.get(f"/api/alice/questions/{i}").json() for i in range(len(QUESTIONS))]
            bodies += [json.dumps(q) for q in questions]
            saved = client.post("/api/alice/scores", json={"item": questions[1]["answers"][0]["id"], "score": 2})
            bodies += [saved.text, client.get("/api/alice/progress").text]
            assert client.post("/api/alice/scores", json={"item": "nope", "score": 2}).status_code == 404
            assert client.post(
                "/api/alice/scores", json={"item": questions[0]["answers"][0]["id"], "score": 4}
            ).is_error
            assert client.get("/api/..%2Fx/progress").status_code in (400, 404)
            reserved = client.get("/api/pooled/progress")  # the summary's own table would hide this reviewer's
            assert reserved.status_code == 400 and "a name the review summary uses" in reserved.json()["detail"]
        for body in bodies:
            assert_blind(body)
        assert [a["letter"] for a in questions[0]["answers"]] == ["A", "B", "C", "D"]
        assert sorted(a["shared_by"] for a in questions[1]["answers"]) == [1, 1, 2]
        assert saved.json()["scored"] == 1 and saved.json()["total"] == 10
        # The cookie the tokened link sets lets the page load its assets.
        with httpx.Client(base_url=base) as client:
            assert client.get("/", params={"token": TOKEN}).status_code == 200
            assert client.get("/assets/review.js").status_code == 200
    finally:
        stop(server)


def scores_on_disk(eval_dir: Path, reviewer: str = "alice") -> list[tuple[str, int, str]]:
    path = eval_dir / "reviews" / f"{reviewer}.jsonl"
    if not path.exists():
        return []
    return [(r["item"], r["score"], r["note"]) for r in map(json.loads, path.read_text().splitlines())]


def wait_for(condition, what: str) -> None:
    for _ in range(300):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def answer_ids(page) -> list[str]:
    return page.locator(".answer").evaluate_all("nodes => nodes.map(n => n.dataset.id)")


def test_review_in_the_browser_survives_reload_and_kill(eval_dir, chromium, capsys):
    port = free_port()
    server = start_server(eval_dir, port, "--reviewer", "alice", "--token", TOKEN)
    urls: list[str] = []
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda request: urls.append(request.url))
    try:
        page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
        page.locator("#question-text", has_text=QUESTIONS[0]).wait_for()
        first = answer_ids(page)
        answers = page.locator(".answer")
        answers.nth(0).locator("button.score[data-score='3']").click()  # by click
        wait_for(lambda: len(scores_on_disk(eval_dir)) == 1, "the click's score saved")
        page.keyboard.press("1")  # by key: the next unscored answer is selected after each score
        wait_for(lambda: len(scores_on_disk(eval_dir)) == 2, "the key's score saved")
        answers.nth(2).locator(".note").fill("mentions the wrong month")
        answers.nth(2).locator("button.score[data-score='0']").click()
        wait_for(lambda: len(scores_on_disk(eval_dir)) == 3, "the third score saved")
        page.keyboard.press("2")
        wait_for(lambda: len(scores_on_disk(eval_dir)) == 4, "the fourth score saved")
        assert scores_on_disk(eval_dir) == [
            (first[0], 3, ""),
            (first[1], 1, ""),
            (first[2], 0, "mentions the wrong month"),
            (first[3], 2, ""),
        ]
        page.keyboard.press("n")
        page.locator("#question-text", has_text=QUESTIONS[1]).wait_for()
        second = answer_ids(page)
        page.keyboard.press("3")
        wait_for(lambda: len(scores_on_disk(eval_dir)) == 5, "the fifth score saved")
        page.locator("#progress-text", has_text="5 / 10 answers scored").wait_for()
        assert "counts for each of them" in page.locator(".answer .shared:visible").inner_text()

        page.reload()  # the same question, the same order, the saved score shown
        page.locator("#question-text", has_text=QUESTIONS[1]).wait_for()
        assert answer_ids(page) == second
        assert page.locator(".answer").nth(0).locator("button.chosen").inner_text().startswith("3")
        page.keyboard.press("p")
        page.locator("#question-text", has_text=QUESTIONS[0]).wait_for()
        assert answer_ids(page) == first
        page.keyboard.press("u")  # next unscored: question 2
        page.locator("#question-text", has_text=QUESTIONS[1]).wait_for()

        stop(server, signal.SIGKILL)  # mid-review: nothing may be lost
        assert len(scores_on_disk(eval_dir)) == 5
        server = start_server(eval_dir, port, "--reviewer", "alice", "--token", TOKEN)
        fresh = chromium.new_page(viewport={"width": 390, "height": 844})  # a phone, no #q= in the link
        fresh.on("request", lambda request: urls.append(request.url))
        fresh.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
        fresh.locator("#question-text", has_text=QUESTIONS[1]).wait_for()  # resumed where the reviewer stopped
        fresh.locator("#progress-text", has_text="5 / 10 answers scored").wait_for()
        assert fresh.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        fresh.locator(".answer").nth(0).locator("button.score[data-score='2']").click()  # a changed score
        wait_for(lambda: len(scores_on_disk(eval_dir)) == 6, "the changed score saved")

        shot = np.asarray(Image.open(io.BytesIO(fresh.screenshot(full_page=True))).convert("L"), dtype=float)
        assert shot.std() > 10, "the screenshot is blank"
        assert_blind(page.content() + fresh.content())
        assert_blind("\n".join(urls))
    finally:
        stop(server)

    main(["review", "summarize", str(eval_dir)])
    capsys.readouterr()
    summary = json.loads((eval_dir / "reviews" / "summary.json").read_text())
    items = read_evaluation(eval_dir, folder_salt(eval_dir)).items()
    latest = {item: value for item, value, _ in scores_on_disk(eval_dir)}  # the changed score last
    assert latest == {first[0]: 3, first[1]: 1, first[2]: 0, first[3]: 2, second[0]: 2}
    expected = {model: [0, 0, 0, 0] for model in ANSWERS}
    for item, value in latest.items():
        for model in items[item].models:  # a shared answer's score counts for each of its rows
            expected[model][value] += 1
    assert {row["model"]: list(row["counts"].values()) for row in summary["tables"]["alice"]} == expected


def test_the_page_says_when_the_documents_cannot_answer_the_question(tmp_path, chromium):
    answerable = [{"answerable": "true"}, {"answerable": "true"}, {"answerable": "false"}]
    eval_dir = write_eval_dir(tmp_path / "eval", sources=answerable)
    port = free_port()
    server = start_server(eval_dir, port, "--reviewer", "alice", "--token", TOKEN)
    page = chromium.new_page()
    try:
        page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
        page.locator("#question-text", has_text=QUESTIONS[0]).wait_for()
        assert not page.locator("#unanswerable-note").is_visible()
        page.keyboard.press("n")
        page.locator("#question-text", has_text=QUESTIONS[1]).wait_for()
        page.keyboard.press("n")
        page.locator("#question-text", has_text=QUESTIONS[2]).wait_for()
        assert "an answer that says so is the right" in page.locator("#unanswerable-note").inner_text()
        page.keyboard.press("p")
        page.locator("#question-text", has_text=QUESTIONS[1]).wait_for()
        assert not page.locator("#unanswerable-note").is_visible()
    finally:
        page.close()
        stop(server)
