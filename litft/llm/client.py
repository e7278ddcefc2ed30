"""Chat completions from any OpenAI-compatible endpoint, with limits, retries and a durable cache.

The `openai` client talks to OpenAI, Groq, vLLM or Ollama alike (`base_url`). Its own retries are off:
ours share one rate limiter across threads, honour Retry-After, count against the run's budget, and
are configurable so tests need not sleep. The API key comes from the environment only; it is never
logged, and any text we store passes through `redact` in case a server echoes it back.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from litft.common.checks import is_loopback
from litft.common.errors import LitftError
from litft.common.ratelimit import Budget, RateLimiter
from litft.common.text import parse_json
from litft.llm.cache import ResponseCache

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers (vLLM, Ollama, llama.cpp) accept any key; the openai client insists on a non-empty one.
LOOPBACK_PLACEHOLDER_KEY = "no-key-needed-for-a-local-server"
CHARACTERS_PER_TOKEN = 4  # a deliberately rough estimate, only used before the server reports usage
RETRYABLE_STATUS = {408, 409, 425, 429}


@dataclass
class LLMSettings:
    """How requests to an OpenAI-compatible model are made (none of it is secret): the `--llm.*` group of
    `synthesize`, `self-instruct` and `process_finetune_data`, and `--judge.*` of `evaluate`.

    It lives here, beside the client it configures, rather than in litft.common.settings: only commands that
    talk to a model take it, they import this module anyway, and it is light (`openai` is imported by the client).

    Args:
        model: Model name the endpoint serves.
        base_url: Endpoint URL (OpenAI, Groq, vLLM, Ollama ...); default $OPENAI_BASE_URL, then OpenAI.
        api_key_env: Environment variable holding the API key (never written anywhere); not needed for a loopback URL.
        workers: Requests in flight at once.
        temperature: Sampling temperature.
        max_response_tokens: Longest response, in tokens.
        timeout: Seconds to wait for one response.
        max_retries: Retries of one request on 429, 5xx, timeouts and connection errors.
        retry_base_delay: First backoff delay in seconds (doubled per retry, with jitter); a server's Retry-After wins.
        retry_max_delay: Longest wait in seconds before a retry, our backoff or a server's Retry-After alike.
        requests_per_minute: Client-side request rate limit (none by default).
        tokens_per_minute: Client-side token rate limit (none by default).
        max_requests: Stop sending requests after this many (cached answers are still used).
        max_tokens: Stop before a request could take the total tokens in+out over this.
    """

    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    workers: int = 4
    temperature: float = 0.7
    max_response_tokens: int = 1024
    timeout: float = 120.0
    max_retries: int = 6
    retry_base_delay: float = 1.0
    retry_max_delay: float = 60.0
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_requests: int | None = None
    max_tokens: int | None = None

    def validate(self, group: str = "llm") -> None:
        """Refuse what no request could work with; messages name the flags of `group` (`--llm.model`)."""
        if not self.model:
            raise LitftError(f"--{group}.model is required; name the model the endpoint serves.")
        if self.workers < 1:
            raise LitftError(f"--{group}.workers must be at least 1, got {self.workers}.")
        positive = {
            "max_response_tokens": self.max_response_tokens,
            "timeout": self.timeout,
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "max_requests": self.max_requests,
            "max_tokens": self.max_tokens,
        }
        for name, value in positive.items():
            if value is not None and value <= 0:
                raise LitftError(f"--{group}.{name} must be positive (got {value}); leave it out for no limit.")
        if self.max_retries < 0 or self.retry_base_delay < 0 or self.retry_max_delay < 0:
            raise LitftError(
                f"--{group}.max_retries, --{group}.retry_base_delay and --{group}.retry_max_delay must not be negative."
            )


def _is_loopback(base_url: str) -> bool:
    return is_loopback(urlparse(base_url).hostname or "")


def resolve_endpoint(base_url: str | None, api_key_env: str, group: str = "llm") -> tuple[str, str]:
    """The endpoint (argument, then OPENAI_BASE_URL, then OpenAI) and the key read from `api_key_env`."""
    url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    if urlparse(url).scheme not in ("http", "https"):
        raise LitftError(f"--{group}.base_url {url!r} is not an http(s) URL; give e.g. http://localhost:8000/v1.")
    key = os.environ.get(api_key_env, "").strip()
    if not key:
        if not _is_loopback(url):
            raise LitftError(
                f"the environment variable {api_key_env} holds no API key for {urlparse(url).hostname}; "
                f"export it (or name another variable with --{group}.api_key_env)."
            )
        key = LOOPBACK_PLACEHOLDER_KEY
    return url, key


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms, Retry-After as seconds or an HTTP date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RequestFailed(Exception):
    """A request that will not succeed by retrying (retries used up, or a 4xx about this request)."""


class MalformedReply(Exception):
    """An HTTP 200 whose body is not an OpenAI chat completion; the message says what is off."""


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _completion_parts(body: bytes) -> tuple[str, dict[str, Any], str | None]:
    """(text, usage or {}, finish_reason) of a chat completion body, checked: servers and proxies answer odd things."""
    try:
        data = parse_json(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedReply(f"the body is not JSON: {body[:80]!r}") from None
    if not isinstance(data, dict):
        raise MalformedReply(f"the body is {_json_type(data)}, not an object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        problem = (
            "it has no 'choices' list" if choices is None else f"'choices' is {_json_type(choices)} with no choice"
        )
        raise MalformedReply(problem)
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        raise MalformedReply("'choices[0].message' is missing")
    content = message.get("content")
    if not isinstance(content, str):
        raise MalformedReply(f"'choices[0].message.content' is {_json_type(content)}, not a string")
    usage = data.get("usage")
    finish_reason = choices[0].get("finish_reason")
    return content, usage if isinstance(usage, dict) else {}, finish_reason if isinstance(finish_reason, str) else None


def _token_count(usage: dict[str, Any], name: str, fallback: int) -> int:
    value = usage.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else fallback


def _root_cause(error: BaseException) -> str:
    """The operating system's words for a connection failure ("connection refused"), else the deepest message."""
    reason = str(error)
    while error is not None:
        strerror = getattr(error, "strerror", None)
        reason = strerror if isinstance(strerror, str) and strerror else str(error) or reason
        error = error.__cause__ or error.__context__
    return reason[:1].lower() + reason[1:]


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


@dataclass
class RequestStats:
    """Counters for the end-of-run summary; updated from several threads."""

    requests: int = 0
    cached_hits: int = 0
    retries: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def summary(self) -> str:
        return (
            f"requests {self.requests} (retries {self.retries}), cached hits {self.cached_hits}, "
            f"tokens in {self.tokens_in} / out {self.tokens_out}"
        )


class LLMClient:
    """One endpoint and model, shared by worker threads; `complete` answers from the cache or the network.

    `group` is the flag group the settings came from (`llm`, `judge`), so that messages name the user's flags.
    """

    def __init__(
        self,
        settings: LLMSettings,
        cache: ResponseCache,
        group: str = "llm",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        import openai  # imported here: the heuristic backend and `litft --help` never need it

        settings.validate(group)
        self.settings = settings
        self.group = group
        self.base_url, self._api_key = resolve_endpoint(settings.base_url, settings.api_key_env, group)
        self._openai = openai
        self._client = openai.OpenAI(
            api_key=self._api_key, base_url=self.base_url, timeout=settings.timeout, max_retries=0
        )
        self.cache = cache
        self.limiter = RateLimiter(
            settings.requests_per_minute, settings.tokens_per_minute, clock, sleep, max_pause=settings.retry_max_delay
        )
        self._sleep = sleep
        self._warned_capped_wait = threading.Event()
        self.budget = Budget(settings.max_requests, settings.max_tokens, flag_prefix=f"--{group}.")
        self.stats = RequestStats()
        self._random = random.Random()

    def redact(self, text: str) -> str:
        """`text` with the API key blanked out, for anything we store or show."""
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def estimate_tokens(self, messages: list[dict[str, str]]) -> int:
        characters = sum(len(message["content"]) for message in messages)
        return characters // CHARACTERS_PER_TOKEN + 1 + self.settings.max_response_tokens

    def complete(self, key: str, messages: list[dict[str, str]], **cache_fields: Any) -> dict[str, Any]:
        """Send `messages` and store the answer in the cache under `key` before returning its entry."""
        text, usage, finish_reason = self._request(messages)
        return self.cache.append(
            key, self.redact(text), usage, model=self.settings.model, finish_reason=finish_reason, **cache_fields
        )

    def cached(self, key: str) -> list[dict[str, Any]]:
        return self.cache.responses(key)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter (half fixed, half random) so threads do not retry in lockstep."""
        delay = min(self.settings.retry_max_delay, self.settings.retry_base_delay * 2**attempt)
        return delay * (0.5 + 0.5 * self._random.random())

    def _pause_all(self, asked: float) -> None:
        """Pause every thread as the server asked, at most retry_max_delay; say so (once) when that cuts it short."""
        granted = self.limiter.pause(asked)
        if granted < asked and not self._warned_capped_wait.is_set():
            self._warned_capped_wait.set()
            print(
                f"warning: {self.base_url} asked to wait {_seconds(asked)} s before retrying (Retry-After); "
                f"waiting {_seconds(granted)} s instead, the --{self.group}.retry_max_delay cap.",
                file=sys.stderr,
            )

    def _request(self, messages: list[dict[str, str]]) -> tuple[str, dict[str, int], str | None]:
        openai = self._openai
        estimate = self.estimate_tokens(messages)
        for attempt in range(self.settings.max_retries + 1):
            self.budget.reserve(estimate)
            grant = self.limiter.acquire(estimate)
            self.stats.add(requests=1, retries=1 if attempt else 0)
            used, wait = 0, None
            try:
                raw = self._client.chat.completions.with_raw_response.create(
                    model=self.settings.model,
                    messages=messages,
                    temperature=self.settings.temperature,
                    max_tokens=self.settings.max_response_tokens,
                )
                text, reported, finish_reason = _completion_parts(raw.http_response.content)
            except openai.APITimeoutError:
                waited = _seconds(self.settings.timeout)
                problem = f"{self.base_url} sent no answer within {waited} s (--{self.group}.timeout)"
            except openai.APIConnectionError as error:
                problem = f"could not connect to {self.base_url}: {_root_cause(error)}"
            except openai.APIStatusError as error:
                status = error.status_code
                if status in (401, 403):
                    raise LitftError(
                        f"{self.base_url} refused the API key from {self.settings.api_key_env} "
                        f"(HTTP {status}); check the key."
                    ) from None
                if status == 404:
                    raise LitftError(
                        f"{self.base_url} answered 404 for model {self.settings.model!r}; "
                        f"check --{self.group}.model and --{self.group}.base_url."
                    ) from None
                problem = f"HTTP {status}: {self.redact(str(error.message))[:300]}"
                if status not in RETRYABLE_STATUS and status < 500:
                    raise RequestFailed(problem) from None
                wait = _retry_after_seconds(error.response.headers)
            except MalformedReply as error:
                problem = (
                    f"the server at {self.base_url} answered with something that is not "
                    f"an OpenAI chat completion ({error})"
                )
            else:
                prompt_estimate = estimate - self.settings.max_response_tokens
                usage = {
                    "prompt_tokens": _token_count(reported, "prompt_tokens", prompt_estimate),
                    "completion_tokens": _token_count(
                        reported, "completion_tokens", len(text) // CHARACTERS_PER_TOKEN + 1
                    ),
                }
                used = usage["prompt_tokens"] + usage["completion_tokens"]
                self.stats.add(tokens_in=usage["prompt_tokens"], tokens_out=usage["completion_tokens"])
                return text, usage, finish_reason
            finally:
                self.limiter.settle(grant, used)
                self.budget.settle(estimate, used)
            if attempt == self.settings.max_retries:
                break
            if wait is not None:
                self._pause_all(wait)  # every thread waits, not only this one
            else:
                self._sleep(self._backoff(attempt))
        attempts = self.settings.max_retries + 1
        raise RequestFailed(f"gave up after {attempts} attempt{'s' * (attempts > 1)}, last: {self.redact(problem)}")
