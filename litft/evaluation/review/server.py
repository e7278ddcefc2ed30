"""`litft review serve`: the blind review page (FastAPI, served by uvicorn).

The page is static (assets/ in this package); it fetches one question at a time as JSON and posts each score
the moment it is given. What the page receives never names a model or a checkpoint: answers come as
"Answer A, B, ..." in the reviewer's shuffled order, under opaque item ids. With a token (required off
loopback) every request must carry it: as `?token=` (the link printed at start, which also sets a cookie),
the `X-Review-Token` header, or that cookie.
"""

from __future__ import annotations

import errno
import secrets
import string
import sys
import threading
from importlib import resources
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from litft.common.errors import LitftError
from litft.evaluation.review.items import Evaluation, Item, Question
from litft.evaluation.review.store import MAX_NOTE, ReviewStore, check_reviewer
from litft.evaluation.review.table import SCALE, SCALE_MEANING

ASSETS = resources.files("litft.evaluation.review") / "assets"
TOKEN_HEADER, TOKEN_COOKIE = "X-Review-Token", "litft_review_token"
LETTERS = string.ascii_uppercase


class ScoreIn(BaseModel):
    item: str = Field(max_length=64)
    score: int = Field(ge=0, le=3)
    note: str = Field(default="", max_length=MAX_NOTE)


class ReviewSession:
    """The evaluation being reviewed and one store per reviewer, opened on first use."""

    def __init__(self, evaluation: Evaluation, salt: str, reviewer: str | None = None):
        self.evaluation, self.salt, self.reviewer = evaluation, salt, reviewer
        self.items = evaluation.items()
        self.stores: dict[str, ReviewStore] = {}
        self._opening = threading.Lock()  # routes run in a thread pool: two first requests must share one store

    def store(self, reviewer: str) -> ReviewStore:
        try:
            name = check_reviewer(reviewer, "reviewer")
        except LitftError as error:
            raise HTTPException(400, str(error)) from None
        with self._opening:
            if name not in self.stores:
                self.stores[name] = ReviewStore(self.evaluation.reviews_dir, name)
            return self.stores[name]

    def question(self, index: int) -> Question:
        if not 0 <= index < len(self.evaluation.questions):
            raise HTTPException(404, f"there is no question {index}")
        return self.evaluation.questions[index]

    def progress(self, store: ReviewStore) -> dict:
        """Scored and total items, per question and overall, and the first question with an unscored answer."""
        per_question = [sum(item.id in store.latest for item in q.items) for q in self.evaluation.questions]
        totals = [len(q.items) for q in self.evaluation.questions]
        unscored = [i for i, (done, total) in enumerate(zip(per_question, totals, strict=True)) if done < total]
        return {
            "scored": sum(per_question),
            "total": sum(totals),
            "questions": [{"scored": d, "total": t} for d, t in zip(per_question, totals, strict=True)],
            "resume": unscored[0] if unscored else 0,
        }

    def blind_question(self, store: ReviewStore, question: Question) -> dict:
        answers = [
            _blind_answer(LETTERS[i % 26] * (1 + i // 26), item, store.latest.get(item.id))
            for i, item in enumerate(self.evaluation.shuffled(question, store.reviewer, self.salt))
        ]
        return {
            "index": question.index,
            "count": len(self.evaluation.questions),
            "question": question.question,
            "reference": question.reference,
            "answerable": question.answerable,
            "answers": answers,
        }


def _blind_answer(letter: str, item: Item, saved: dict | None) -> dict:
    return {
        "id": item.id,
        "letter": letter,
        "text": item.text,
        "shared_by": len(item.models),  # identical answers of several rows: one score counts for each
        "score": saved["score"] if saved else None,
        "note": saved.get("note", "") if saved else "",
    }


def _not_saved(error: LitftError | OSError) -> JSONResponse:
    """The JSON answer to a score the disk refused (the page shows `detail`); the server's log gets the path."""
    print(f"review serve: {error}", file=sys.stderr, flush=True)
    cause = error if isinstance(error, OSError) else error.__cause__
    full = isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    reason = (getattr(cause, "strerror", None) or "the write failed").lower()
    return JSONResponse(
        {
            "saved": False,
            "detail": f"the server could not save this score ({reason}); your earlier scores are kept, "
            "give this one again once the server's disk has room",
        },
        status_code=507 if full else 500,
    )


def create_app(session: ReviewSession, token: str | None = None) -> FastAPI:
    """The review app; with `token`, a request without it gets 401 and nothing else."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if token is not None:
            given = (
                request.query_params.get("token")
                or request.headers.get(TOKEN_HEADER)
                or request.cookies.get(TOKEN_COOKIE)
                or ""
            )
            if not secrets.compare_digest(given.encode(), token.encode()):
                return JSONResponse({"detail": "a valid review token is required"}, status_code=401)
        response = await call_next(request)
        if token is not None and request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, and text with a lone surrogate (JSON's "\ud800") cannot be
        # encoded as UTF-8: its answer would be a 500. One sentence naming the field instead.
        first = error.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "the request body"
        return JSONResponse({"detail": f"{field}: {first.get('msg', 'invalid value')}."}, status_code=422)

    @app.get("/")
    def page() -> FileResponse:
        return FileResponse(str(ASSETS / "index.html"), media_type="text/html")

    @app.get("/api/config")
    def config() -> dict:
        rubric = [{"score": s, "name": SCALE[s], "meaning": SCALE_MEANING[s]} for s in SCALE]
        return {"reviewer": session.reviewer, "rubric": rubric, "questions": len(session.evaluation.questions)}

    @app.get("/api/{reviewer}/progress")
    def progress(reviewer: str) -> dict:
        return session.progress(session.store(reviewer))

    @app.get("/api/{reviewer}/questions/{index}")
    def question(reviewer: str, index: int) -> dict:
        store = session.store(reviewer)
        return session.blind_question(store, session.question(index))

    @app.post("/api/{reviewer}/scores")
    def score(reviewer: str, given: ScoreIn) -> dict:
        store = session.store(reviewer)
        item = session.items.get(given.item)
        if item is None:
            raise HTTPException(404, "no such answer")
        try:
            store.record(item, given.score, given.note)
        except (LitftError, OSError) as error:
            return _not_saved(error)
        return {"saved": True, **session.progress(store)}

    app.mount("/assets", StaticFiles(directory=str(ASSETS)), name="assets")
    return app


def review_link(host: str, port: int, token: str | None) -> str:
    """The page's address as printed at start; the token is URL-encoded (a base64 `+` would arrive as a space)."""
    link = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    return link + (f"?token={quote(token, safe='')}" if token else "")


def run_server(session: ReviewSession, host: str, port: int, token: str | None) -> None:
    """Serve until interrupted (every wait on a client bounded: litft.common.webserver); every score is already
    on disk, so stopping loses nothing."""
    from litft.common.webserver import run

    link = review_link(host, port, token)
    print(f"review page: {link} (Ctrl-C stops; every score is saved as it is given)", flush=True)
    run(create_app(session, token), host, port)
