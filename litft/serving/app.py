"""The OpenAI-compatible routes (FastAPI): /v1/models, /v1/chat/completions, /v1/completions, streamed or not.

Requests are pydantic models that refuse unknown fields and wrong types; every error is OpenAI's JSON shape
`{"error": {"message", "type", "param", "code"}}` with one sentence. Decoding happens in the batcher's thread;
each request's text comes back through an asyncio queue, and a client that goes away cancels its row.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from litft.common.errors import LitftError
from litft.common.settings import GENERATION_SAMPLING, SEED_RANGE, SamplingSettings
from litft.common.text import is_valid_unicode
from litft.generation.continuous import IncrementalDecoder, Row
from litft.models.conversations import eos_text
from litft.serving.batcher import Batcher
from litft.serving.prompts import chat_prompt, read_messages

DISCONNECT_POLL_SECONDS = 0.5  # how often a non-streaming request checks that its client is still there
ROUTES = ("/v1/models", "/v1/chat/completions", "/v1/completions")
NO_KEY = "the request has no valid API key in its Authorization: Bearer header."


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


def _unicode(value: str) -> str:
    """JSON's `\\ud800` escapes decode to lone surrogates, which no tokenizer (nor UTF-8) takes: refused here."""
    if not is_valid_unicode(value):
        message = "Input should be valid Unicode text, not a lone surrogate such as \\ud800"
        raise PydanticCustomError("unicode", message)
    return value


Text = Annotated[str, AfterValidator(_unicode)]


class Message(Strict):
    role: Literal["system", "user", "assistant"]
    content: Text


class StreamOptions(Strict):
    include_usage: bool = False


def _stop_list(value: Any) -> Any:
    """OpenAI's `stop`: null, one string or a list of them, as one list (so an error names `stop` or `stop.N`)."""
    return [] if value is None else [value] if isinstance(value, str) else value


class Sampling(Strict):
    """The fields both endpoints take (OpenAI's names and defaults; `n` must be 1)."""

    model: Text
    max_tokens: int | None = Field(default=None, ge=1)  # any size: the room left in the context caps it
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)  # a tiny one decodes greedily (SamplingSettings)
    top_p: float = Field(default=1.0, ge=0.0, le=1.0)
    stop: Annotated[list[Text], BeforeValidator(_stop_list)] = []
    seed: int | None = Field(default=None, ge=SEED_RANGE[0], le=SEED_RANGE[1])
    n: Literal[1] = 1
    stream: bool = False
    stream_options: StreamOptions | None = None


class ChatRequest(Sampling):
    messages: list[Message] = Field(min_length=1)


def _prompt_list(value: Any) -> list[str]:
    """OpenAI's `prompt`: one string or a list of them (each answered as its own choice)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return value
    raise PydanticCustomError("prompt_type", "Input should be a string or a non-empty list of strings")


class CompletionRequest(Sampling):
    prompt: Annotated[list[Text], BeforeValidator(_prompt_list)]


@dataclass
class Engine:
    """What the routes need of the loaded model (a `LoadedModel` and a retrieval index, as `serve` builds)."""

    model_name: str
    loaded: Any  # litft.generation.generate.LoadedModel
    batcher: Batcher
    api_key: str | None = None
    retrieve: Callable[[str], list] | None = None  # question -> passages, with --rag


class Delivery:
    """Hands text from the batcher's thread to the event loop with one wake-up per token step, not per row:
    items collect here and the loop takes them all at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._items: list[tuple[asyncio.Queue, Any]] = []
        self._lock = threading.Lock()

    def put(self, queue: asyncio.Queue, item: Any) -> None:  # any thread
        with self._lock:
            self._items.append((queue, item))
            if len(self._items) > 1:
                return  # a wake-up is already on its way
        self.loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:  # the event loop
        with self._lock:
            items, self._items = self._items, []
        for queue, item in items:
            queue.put_nowait(item)


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON.", None
    if first.get("type") == "extra_forbidden":
        return f"unknown field {location!r} in the request.", location
    return f"{location or 'the request body'}: {first.get('msg', 'invalid value')}.", location or None


class RequireKey:
    """ASGI middleware that refuses a request without `Authorization: Bearer KEY` before anything reads its
    body (so a keyless client learns nothing of the routes or the request format)."""

    def __init__(self, app: ASGIApp, key: str):
        self.app, self.key = app, key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(Headers(scope=scope).get("authorization", "")):
            body = error_body(NO_KEY, 401, code="invalid_api_key")
            await JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token.strip().encode(), self.key)


def _http_error_message(request: Request, error: HTTPException) -> str:
    if error.status_code == 404:
        routes = f"{', '.join(ROUTES[:-1])} and {ROUTES[-1]}"
        return f"there is no route {request.method} {request.url.path}; the API has {routes}."
    if error.status_code == 405:
        return f"{request.method} is not allowed on {request.url.path}."
    return f"{error.detail}."


def create_app(engine: Engine) -> FastAPI:
    app = FastAPI(title="litft serve", docs_url=None, redoc_url=None)
    if engine.api_key is not None:
        app.add_middleware(RequireKey, key=engine.api_key)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:  # unknown routes, wrong methods
        body = error_body(_http_error_message(request, error), error.status_code)
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

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
        loaded = engine.loaded
        # The lowest-ranked passages are left out until the prompt leaves room for the answer.
        max_tokens = body.max_tokens or GENERATION_SAMPLING.max_new_tokens
        try:
            messages = read_messages([message.model_dump() for message in body.messages])
            passages = engine.retrieve(messages[-1]["content"]) if engine.retrieve is not None else None
            prompt = chat_prompt(
                loaded.style,
                messages,
                eos_text(loaded.tokenizer),
                passages,
                lambda text: loaded.leaves_room(text, max_tokens),
            )
        except LitftError as error:  # a conversation training would refuse
            raise ApiError(400, str(error), "messages") from None
        return await _answer(engine, body, [prompt], request, chat=True)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Any:
        for number, prompt in enumerate(body.prompt, start=1):
            if not prompt:  # with a tokenizer that adds BOS it would encode to one token and be answered
                name = f"prompt {number}" if len(body.prompt) > 1 else "the prompt"
                raise ApiError(400, f"{name} is empty; give it some text.", "prompt")
        return await _answer(engine, body, body.prompt, request, chat=False)

    return app


def _settings(body: Sampling, room: int) -> SamplingSettings:
    if any(not text for text in body.stop):
        raise ApiError(400, "stop strings must not be empty.", "stop")
    max_tokens = min(body.max_tokens or room, room)
    return SamplingSettings(
        max_new_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, seed=body.seed, stop=body.stop
    )


async def _answer(engine: Engine, body: Sampling, prompts: list[str], request: Request, chat: bool) -> Any:
    """Each prompt decoded as its own row (choice `index` in order); the reply streams or comes whole."""
    if body.model != engine.model_name:
        message = f"this server serves the model {engine.model_name!r}, not {body.model!r}."
        raise ApiError(404, message, "model", "model_not_found")
    loaded = engine.loaded
    try:
        prompt_ids = [loaded.encode(prompt) for prompt in prompts]  # every prompt checked before any decodes
    except LitftError as error:
        raise ApiError(400, str(error), "messages" if chat else "prompt", "context_length_exceeded") from None
    for number, ids in enumerate(prompt_ids, start=1):
        if not ids:  # nothing to predict the first token from
            name = f"prompt {number}" if len(prompt_ids) > 1 else "the prompt"
            raise ApiError(400, f"{name} encodes to no tokens; give it some text.", "messages" if chat else "prompt")
    pieces: asyncio.Queue[tuple[int, str | None]] = asyncio.Queue()
    delivery = Delivery(asyncio.get_running_loop())
    window_decode = loaded.tokenizer.processor.decode  # the tokenizer's list decoder (see IncrementalDecoder)

    def on_step(index: int) -> Callable[[Row], None]:
        def deliver(row: Row) -> None:  # in the batcher's thread
            if body.stream and row.error is None and (piece := row.decoder.pending_text()):
                delivery.put(pieces, (index, piece))
            if row.done:
                delivery.put(pieces, (index, None))

        return deliver

    rows = []
    for index, ids in enumerate(prompt_ids):
        settings = _settings(body, loaded.info.config.block_size - len(ids))
        decoder = IncrementalDecoder(window_decode, settings.max_new_tokens, loaded.stop_tokens, settings.stop)
        rows.append(Row(ids, decoder, settings, on_step(index)))
    reply = Reply(engine.model_name, chat, rows, pieces)
    if body.stream:
        # The rows are submitted when the stream starts: a client gone before then never starts the generator,
        # so its `finally` could not take them out of the batch.
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(reply.events(include_usage, engine.batcher.submit), media_type="text/event-stream")
    for row in rows:
        engine.batcher.submit(row)
    try:
        await reply.wait(request)
    finally:
        reply.release()
    return reply.whole()


class Reply:
    """One request's answer as OpenAI writes it: a whole response or a stream of chunks, a choice per row."""

    def __init__(self, model_name: str, chat: bool, rows: list[Row], pieces: asyncio.Queue[tuple[int, str | None]]):
        self.model_name, self.chat, self.rows, self.pieces = model_name, chat, rows, pieces
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def release(self) -> None:
        """Rows still decoding (the client went away) leave the batch at the next step."""
        for row in self.rows:
            row.cancelled = not row.decoder.finished

    def _error(self) -> BaseException | None:
        return next((row.error for row in self.rows if row.error is not None), None)

    async def wait(self, request: Request) -> None:
        left = len(self.rows)
        while left:
            try:
                _, piece = await asyncio.wait_for(self.pieces.get(), DISCONNECT_POLL_SECONDS)
                left -= piece is None
            except TimeoutError:
                if await request.is_disconnected():
                    return
        if (error := self._error()) is not None:
            raise ApiError(500, f"decoding failed: {error}.")

    def usage(self) -> dict[str, int]:
        prompt = sum(len(row.prompt) for row in self.rows)
        completion = sum(row.decoder.generated_tokens for row in self.rows)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _envelope(self, choices: list[dict[str, Any]], chunk: bool) -> dict[str, Any]:
        kind = ("chat.completion" if self.chat else "text_completion") + (".chunk" if chunk and self.chat else "")
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model_name, "choices": choices}

    def _choice(self, index: int, text: str | None, finish_reason: str | None, chunk: bool, first: bool = False):
        if not self.chat:
            return {"index": index, "text": text or "", "logprobs": None, "finish_reason": finish_reason}
        if not chunk:
            message = {"role": "assistant", "content": text}
            return {"index": index, "message": message, "finish_reason": finish_reason}
        delta = ({"role": "assistant"} if first else {}) | ({"content": text} if text is not None else {})
        return {"index": index, "delta": delta, "finish_reason": finish_reason}

    def whole(self) -> dict[str, Any]:
        choices = [
            self._choice(i, row.decoder.text, row.decoder.finish_reason or "length", chunk=False)
            for i, row in enumerate(self.rows)
        ]
        return self._envelope(choices, chunk=False) | {"usage": self.usage()}

    async def events(self, include_usage: bool, submit: Callable[[Row], None]) -> AsyncIterator[str]:
        """Server-sent events: text chunks as they are certain, each choice's finish reason, usage if asked,
        [DONE]. The rows are `submit`ted as the first event is asked for."""
        for row in self.rows:
            submit(row)
        try:
            if self.chat:
                yield _event(self._envelope([self._choice(0, "", None, chunk=True, first=True)], chunk=True))
            left = len(self.rows)
            while left:
                index, piece = await self.pieces.get()
                if piece is None:
                    left -= 1
                    if self.rows[index].error is not None:
                        break
                    reason = self.rows[index].decoder.finish_reason or "length"
                    choice = self._choice(index, None if self.chat else "", reason, chunk=True)
                elif piece:
                    choice = self._choice(index, piece, None, chunk=True)
                else:
                    continue
                yield _event(self._envelope([choice], chunk=True))
            if (error := self._error()) is not None:
                yield _event(error_body(f"decoding failed: {error}.", 500))
                return
            if include_usage:
                yield _event(self._envelope([], chunk=True) | {"usage": self.usage()})
            yield "data: [DONE]\n\n"
        finally:  # the client went away (or the answer is complete): unfinished rows leave at the next step
            self.release()


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
