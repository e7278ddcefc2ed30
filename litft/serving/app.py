"""The OpenAI-compatible routes (FastAPI): /v1/models, /v1/chat/completions, /v1/completions, streamed or not.

Requests are pydantic models that refuse unknown fields and wrong types; every error is OpenAI's JSON shape
`{"error": {"message", "type", "param", "code"}}` with one sentence. Decoding happens in the batcher's thread;
each request's text comes back through an asyncio queue, and a client that goes away cancels its row.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from litft.common.errors import LitftError
from litft.common.settings import SamplingSettings
from litft.generation.continuous import Row
from litft.generation.sampling import RowDecoder
from litft.serving.batcher import Batcher
from litft.serving.prompts import chat_prompt

DISCONNECT_POLL_SECONDS = 0.5  # how often a non-streaming request checks that its client is still there


class ApiError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_body(message: str, status: int, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    kind = {401: "authentication_error", 404: "not_found_error"}.get(status, "invalid_request_error")
    if status >= 500:
        kind = "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Message(Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class StreamOptions(Strict):
    include_usage: bool = False


class Sampling(Strict):
    """The fields both endpoints take (OpenAI's names and defaults; `n` must be 1)."""

    model: str
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, ge=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: Literal[1] = 1
    stream: bool = False
    stream_options: StreamOptions | None = None


class ChatRequest(Sampling):
    messages: list[Message] = Field(min_length=1)


class CompletionRequest(Sampling):
    prompt: str


@dataclass
class Engine:
    """What the routes need of the loaded model (a `LoadedModel` and a retrieval index, as `serve` builds)."""

    model_name: str
    loaded: Any  # litft.generation.generate.LoadedModel
    batcher: Batcher
    api_key: str | None = None
    retrieve: Callable[[str], list] | None = None  # question -> passages, with --rag


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON.", None
    if first.get("type") == "extra_forbidden":
        return f"unknown field {location!r} in the request.", location
    return f"{location or 'the request body'}: {first.get('msg', 'invalid value')}.", location or None


def create_app(engine: Engine) -> FastAPI:
    def check_key(request: Request) -> None:
        if engine.api_key is None:
            return
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), engine.api_key.encode()):
            message = "the request has no valid API key in its Authorization: Bearer header."
            raise ApiError(401, message, code="invalid_api_key")

    app = FastAPI(title="litft serve", docs_url=None, redoc_url=None, dependencies=[Depends(check_key)])

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(error)
        return JSONResponse(error_body(message, 400, param), status_code=400)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error_body(error.message, error.status, error.param, error.code), status_code=error.status)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {"id": engine.model_name, "object": "model", "created": 0, "owned_by": "litft"}
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatRequest, request: Request) -> Any:
        messages = [message.model_dump() for message in body.messages]
        if not any(message["role"] == "user" for message in messages):
            raise ApiError(400, "messages must include at least one user message.", "messages")
        question = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        passages = engine.retrieve(question) if engine.retrieve is not None else None
        prompt = chat_prompt(engine.loaded.style, messages, passages)
        return await _answer(engine, body, prompt, request, chat=True)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Any:
        return await _answer(engine, body, body.prompt, request, chat=False)

    return app


def _settings(body: Sampling, room: int) -> SamplingSettings:
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if any(not text for text in stop):
        raise ApiError(400, "stop strings must not be empty.", "stop")
    max_tokens = min(body.max_tokens or room, room)
    return SamplingSettings(
        max_new_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, seed=body.seed, stop=stop
    )


async def _answer(engine: Engine, body: Sampling, prompt: str, request: Request, chat: bool) -> Any:
    if body.model != engine.model_name:
        message = f"this server serves the model {engine.model_name!r}, not {body.model!r}."
        raise ApiError(404, message, "model", "model_not_found")
    loaded = engine.loaded
    try:
        ids = loaded.encode(prompt)
    except LitftError as error:
        raise ApiError(400, str(error), "messages" if chat else "prompt", "context_length_exceeded") from None
    settings = _settings(body, loaded.info.config.block_size - len(ids))
    pieces: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def on_step(row: Row) -> None:  # in the batcher's thread
        if row.error is None and (piece := row.decoder.pending_text()):
            loop.call_soon_threadsafe(pieces.put_nowait, piece)
        if row.done:
            loop.call_soon_threadsafe(pieces.put_nowait, None)

    decoder = RowDecoder(loaded.decode, settings.max_new_tokens, loaded.stop_tokens, settings.stop)
    row = Row(ids, decoder, settings, on_step)
    engine.batcher.submit(row)
    reply = Reply(engine.model_name, chat, row, pieces)
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(reply.events(include_usage), media_type="text/event-stream")
    try:
        await reply.wait(request)
    finally:
        row.cancelled = not row.decoder.finished
    return reply.whole()


class Reply:
    """One request's answer as OpenAI writes it: a whole response or a stream of chunks."""

    def __init__(self, model_name: str, chat: bool, row: Row, pieces: asyncio.Queue[str | None]):
        self.model_name, self.chat, self.row, self.pieces = model_name, chat, row, pieces
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _check(self) -> None:
        if self.row.error is not None:
            raise ApiError(500, f"decoding failed: {self.row.error}.")

    async def wait(self, request: Request) -> None:
        while True:
            try:
                if await asyncio.wait_for(self.pieces.get(), DISCONNECT_POLL_SECONDS) is None:
                    self._check()
                    return
            except TimeoutError:
                if await request.is_disconnected():
                    return

    def usage(self) -> dict[str, int]:
        prompt, completion = len(self.row.prompt), self.row.decoder.generated_tokens
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _envelope(self, choices: list[dict[str, Any]], chunk: bool) -> dict[str, Any]:
        kind = ("chat.completion" if self.chat else "text_completion") + (".chunk" if chunk and self.chat else "")
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model_name, "choices": choices}

    def _choice(self, text: str | None, finish_reason: str | None, chunk: bool, first: bool = False) -> dict:
        if not self.chat:
            return {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish_reason}
        if not chunk:
            return {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}
        delta = ({"role": "assistant"} if first else {}) | ({"content": text} if text is not None else {})
        return {"index": 0, "delta": delta, "finish_reason": finish_reason}

    def whole(self) -> dict[str, Any]:
        decoder = self.row.decoder
        choice = self._choice(decoder.text, decoder.finish_reason or "length", chunk=False)
        return self._envelope([choice], chunk=False) | {"usage": self.usage()}

    async def events(self, include_usage: bool) -> AsyncIterator[str]:
        """Server-sent events: text chunks as they are certain, the finish reason, usage if asked, [DONE]."""
        try:
            if self.chat:
                yield _event(self._envelope([self._choice("", None, chunk=True, first=True)], chunk=True))
            while (piece := await self.pieces.get()) is not None:
                if piece:
                    yield _event(self._envelope([self._choice(piece, None, chunk=True)], chunk=True))
            if self.row.error is not None:
                yield _event(error_body(f"decoding failed: {self.row.error}.", 500))
                return
            reason = self.row.decoder.finish_reason or "length"
            yield _event(self._envelope([self._choice(None if self.chat else "", reason, chunk=True)], chunk=True))
            if include_usage:
                yield _event(self._envelope([], chunk=True) | {"usage": self.usage()})
            yield "data: [DONE]\n\n"
        finally:  # the client went away (or the answer is complete): the row leaves the batch at the next step
            self.row.cancelled = not self.row.decoder.finished


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
