"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 for the synthesis tests.

Real HTTP, so the real `openai` client is exercised end to end. A passage (or self-instruct prompt)
containing a marker such as ``[[script:429,malformed]]`` gets those behaviours on its first requests, in
order, and well-formed answers afterwards (or the server's `default` behaviour, e.g. ``"401"`` for a server that
refuses everything). Every request is recorded with its headers and JSON body.

Besides well-formed completions it can answer like a broken proxy or a half-compatible server: an HTML page,
JSON without ``choices``, a null ``content``, no ``usage``, and a Retry-After of more than a day.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCRIPT_MARKER = re.compile(r"\[\[script:([a-z0-9_,]+)\]\]")
PASSAGE = re.compile(r'"""\n(.*)\n"""', re.DOTALL)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    time: float

    @property
    def user_prompt(self) -> str:
        return next((m["content"] for m in self.body.get("messages", []) if m["role"] == "user"), "")

    @property
    def passage(self) -> str:
        match = PASSAGE.search(self.user_prompt)
        return match.group(1) if match else ""


def qa_pairs_for(passage: str) -> list[dict[str, str]]:
    """The well-formed answer for a passage: two pairs built from its first sentence, deterministic."""
    first_sentence = passage.split(". ")[0].rstrip(".") + "."
    topic = " ".join(passage.split()[:3])
    return [
        {"question": f"What does the text about {topic} say first?", "answer": first_sentence},
        {"question": f"How long is the text about {topic}?", "answer": f"It has {len(passage.split())} words."},
    ]


class FakeOpenAI:
    """Start with `with FakeOpenAI() as server:`; `server.base_url` goes to --base_url."""

    def __init__(self, response_delay: float = 0.0, hang_seconds: float = 3.0, default: str = "good"):
        self.response_delay = response_delay
        self.default = default
        self.hang_seconds = hang_seconds  # how long a "timeout" behaviour keeps the client waiting
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._generated = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                request = RecordedRequest(self.path, dict(self.headers.items()), body, time.monotonic())
                server._handle(self, request)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_behaviour(self, request: RecordedRequest) -> str:
        """The scripted behaviour for this request: the n-th request for the same prompt gets the n-th."""
        prompt = request.user_prompt
        match = SCRIPT_MARKER.search(prompt)
        with self._lock:
            self.requests.append(request)
            count = self._seen.get(prompt, 0)
            self._seen[prompt] = count + 1
        steps = match.group(1).split(",") if match else []
        return steps[count] if count < len(steps) else self.default

    def _send(
        self, handler: BaseHTTPRequestHandler, status: int, payload: dict | bytes, headers: dict[str, str] | None = None
    ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("content-type", "application/json" if isinstance(payload, dict) else "text/html")
            handler.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); nothing to answer

    def _completion(
        self, handler: BaseHTTPRequestHandler, request: RecordedRequest, content: str | None, usage: bool = True
    ) -> None:
        prompt_tokens = sum(len(m["content"].split()) for m in request.body.get("messages", []))
        completion_tokens = len(content.split()) if content else 0
        self._send(
            handler,
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": request.body.get("model"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                **(
                    {
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens,
                        }
                    }
                    if usage
                    else {}
                ),
            },
        )

    def _handle(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        behaviour = self._next_behaviour(request)
        if self.response_delay:
            time.sleep(self.response_delay)
        if behaviour == "429":
            self._send(handler, 429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"retry-after": "1"})
        elif behaviour == "429long":
            self._send(handler, 429, {"error": {"message": "quota", "type": "rate_limit"}}, {"retry-after": "100000"})
        elif behaviour == "401":
            self._send(
                handler, 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
            )
        elif behaviour == "notjson":  # a proxy's error page, sent with status 200
            self._send(handler, 200, b"<html><body><h1>Bad Gateway</h1></body></html>")
        elif behaviour == "nochoices":
            self._send(handler, 200, {"object": "error", "message": "model is loading"})
        elif behaviour == "nullcontent":
            self._completion(handler, request, None)
        elif behaviour == "nousage":
            self._completion(handler, request, self._content("good", request), usage=False)
        elif behaviour == "500":
            self._send(handler, 500, {"error": {"message": "internal error", "type": "server_error"}})
        elif behaviour == "echokey":
            # A careless server that repeats the credentials in its error message.
            auth = request.headers.get("Authorization", "")
            self._send(handler, 500, {"error": {"message": f"bad things happened for {auth}", "type": "server"}})
        elif behaviour == "badrequest":
            self._send(handler, 400, {"error": {"message": "context length exceeded", "type": "invalid_request"}})
        elif behaviour == "timeout":
            time.sleep(self.hang_seconds)
            self._completion(handler, request, "too late")
        else:
            self._completion(handler, request, self._content(behaviour, request))

    def _content(self, behaviour: str, request: RecordedRequest) -> str:
        prompt = request.user_prompt
        if "Come up with a series of tasks" in prompt:
            return self._new_instructions(prompt)
        if "classification task with finite output labels" in prompt:
            target = prompt.rsplit("Task:", 1)[-1]
            return (
                "Yes"
                if re.search(r"\b(classify|sentiment|which category|true or false)\b", target, re.IGNORECASE)
                else "No"
            )
        if "but that the passage does NOT answer" in prompt:  # synthesize --unanswerable: two candidates
            topic = " ".join(request.passage.split()[:3])
            return json.dumps(
                [{"question": f"Who designed the logo of {topic}?"}, {"question": f"When was {topic} founded?"}]
            )
        if "Does any of the numbered passages below answer the question" in prompt:  # ... and their check
            return "Yes." if "founded" in prompt.split("Passages:")[0] else "No"
        if "Grade the answer on this scale" in prompt:  # litft.evaluation.judge
            return json.dumps({"score": 2, "reason": "fake grade"})
        if "Class label:" in prompt:
            return (
                "Class label: Positive\nInput: I loved every minute of it.\n"
                "Class label: Negative\nInput: It was a waste of time."
            )
        if "Come up with examples for the following tasks" in prompt:
            task = prompt.rsplit("Task:", 1)[-1].strip().splitlines()[0]
            return (
                f"Example 1\nInput: {task[:20]}\nOutput: An answer to {task}.\n\n"
                "Example 2\nInput:\nOutput: Another answer."
            )
        body = json.dumps(qa_pairs_for(request.passage), indent=1)
        if behaviour == "malformed":
            return body[: len(body) // 2]
        if behaviour == "fenced":
            return f"Here are the pairs:\n```json\n{body}\n```\nHope this helps!"
        if behaviour == "prose":
            return f"Sure! {body} Let me know if you need more."
        if behaviour == "missingfields":
            return json.dumps(
                [{"question": "Only a question?"}, {"answer": "Only an answer."}, *qa_pairs_for(request.passage)[:1]]
            )
        if behaviour == "empty":
            return "[]"
        return body

    def _new_instructions(self, prompt: str) -> str:
        """Eight numbered instructions, each new (distinct vocabulary), continuing the prompt's numbering."""
        start = int(re.findall(r"^(\d+)\.", prompt, re.MULTILINE)[-1])
        subjects = [
            "volcano",
            "sonnet",
            "budget",
            "glacier",
            "recipe",
            "algorithm",
            "mosaic",
            "harbor",
            "orchestra",
            "telescope",
            "marathon",
            "lantern",
            "compass",
            "meadow",
            "quartz",
            "saddle",
        ]
        lines = []
        with self._lock:
            for offset in range(8):
                n = self._generated
                self._generated += 1
                a, b = subjects[n % len(subjects)], subjects[(n // len(subjects) + 3) % len(subjects)]
                verb = "Classify the sentiment of" if n % 3 == 0 else "Explain"
                lines.append(f"{start + offset}. {verb} a {a} report number {n} with {b} notes v{n * 7}")
        return "\n".join(lines)
