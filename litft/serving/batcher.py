"""The one background thread that owns the model: it takes queued requests into the continuous batch between
token steps (`litft.generation.continuous`), so requests arriving together decode together, a finished or
abandoned row leaves at once and a waiting request takes its place at the next step."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from litft.generation.continuous import ContinuousDecoder, Row

IDLE_POLL_SECONDS = 0.1  # how often an idle loop checks that the server is still running

log = logging.getLogger(__name__)


class Batcher:
    """Queue rows with `submit`; each row's `on_step` runs in this thread after each of its tokens."""

    def __init__(self, decoder: ContinuousDecoder):
        self.decoder = decoder
        self._waiting: queue.Queue[Row] = queue.Queue()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="litft-batcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def submit(self, row: Row) -> None:
        row.on_step = _guarded(row.on_step)
        self._waiting.put(row)

    @property
    def active_rows(self) -> int:
        return len(self.decoder.rows)

    def _take(self, block: bool) -> list[Row]:
        """Waiting rows that fit the free cache rows (blocking for the first one when nothing decodes)."""
        taken: list[Row] = []
        try:
            if block:
                taken.append(self._waiting.get(timeout=IDLE_POLL_SECONDS))
            while len(taken) < self.decoder.free:
                taken.append(self._waiting.get_nowait())
        except queue.Empty:
            pass
        return [row for row in taken if not row.cancelled]

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._add(self._take(block=not self.decoder.rows))
            try:
                self.decoder.step()
            except Exception as error:  # a bug or out of memory: every row in flight gets the error, the loop lives on
                _fail(self.decoder.rows, error)
                self.decoder.reset()

    def _add(self, joining: list[Row]) -> None:
        """Prefill the joining rows together; when that fails, one by one, so that only a row whose own prefill
        fails (an empty prompt, say) gets an error and the others decode (`add` leaves the batch as it was)."""
        try:
            self.decoder.add(joining)
            return
        except Exception as error:
            if len(joining) < 2:
                _fail(joining, error)
                return
        for row in joining:
            try:
                self.decoder.add([row])
            except Exception as error:
                _fail([row], error)


def _fail(rows: Sequence[Row], error: BaseException) -> None:
    for row in list(rows):
        row.error = error
        row.on_step(row)


def _guarded(on_step: Callable[[Row], None]) -> Callable[[Row], None]:
    """`on_step` that cannot stop the batcher's thread: when it raises (its request's event loop is closed, say)
    the error is logged and the row, which nobody can receive any more, leaves the batch."""

    def call(row: Row) -> None:
        try:
            on_step(row)
        except Exception as error:
            log.exception("a request's callback failed (%s); its row leaves the batch", error)
            row.cancelled = True

    return call
