"""Restoring a reader's position on resume: the one check both readers make before trusting a saved state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litft.common.errors import LitftError


def restored_count(state: Mapping[str, Any], expected: Mapping[str, Any], counter: str, what: str) -> int:
    """The saved count of consumed items (`what`: "batch", "window"), once every layout setting in `expected`
    matches the saved one: a state from other data or settings could not resume exactly."""
    for key, value in expected.items():
        if state.get(key) != value:
            raise LitftError(
                f"cannot resume the data position: it was saved with {key}={state.get(key)!r} but this run has "
                f"{value!r}; resume with the same data and settings."
            )
    consumed = state.get(counter)
    if not isinstance(consumed, int) or isinstance(consumed, bool) or consumed < 0:
        raise LitftError(
            f"cannot resume the data position: the saved {what} count is {consumed!r}, not a whole number; "
            "the checkpoint is damaged, resume from an earlier step."
        )
    return consumed
