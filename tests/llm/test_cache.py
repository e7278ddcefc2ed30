"""The response cache survives kills and full disks: appended lines are durable, a torn tail is cut off."""

from __future__ import annotations

import json

import pytest

from litft.common.errors import LitftError
from litft.llm.cache import ResponseCache, cache_key
from tests.support.disks import mounted_tmpfs


def test_responses_come_back_in_order_after_reopening(tmp_path):
    path = tmp_path / "cache.jsonl"
    key = cache_key("model", "faq:abc", "chunkhash")
    with ResponseCache(path) as cache:
        cache.append(key, "first", {"prompt_tokens": 1, "completion_tokens": 2})
        cache.append(key, "second", {"prompt_tokens": 1, "completion_tokens": 2})
        cache.append(cache_key("other"), "x", {})
    with ResponseCache(path) as cache:
        assert [entry["text"] for entry in cache.responses(key)] == ["first", "second"]
        assert len(cache) == 3
    assert cache_key("a", "bc") != cache_key("ab", "c")


def test_a_torn_last_line_is_dropped_and_appends_stay_clean(tmp_path):
    path = tmp_path / "cache.jsonl"
    with ResponseCache(path) as cache:
        cache.append("k1", "kept", {})
    with open(path, "a") as fh:
        fh.write('{"key": "k2", "text": "cut off by a ki')  # a kill in the middle of a write
    with ResponseCache(path) as cache:
        assert cache.responses("k2") == []
        cache.append("k3", "after", {})
    with ResponseCache(path) as cache:
        assert [cache.responses(k)[0]["text"] for k in ("k1", "k3")] == ["kept", "after"]
    assert path.read_text().count("\n") == 2


def test_entries_of_the_wrong_shape_are_ignored(tmp_path):
    path = tmp_path / "cache.jsonl"
    lines = [
        {"key": "k", "text": None, "usage": {}},
        {"key": "k", "text": "ok", "usage": {}},
        {"key": "k", "text": "x"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with ResponseCache(path) as cache:
        assert [entry["text"] for entry in cache.responses("k")] == ["ok"]


def test_a_full_disk_stops_appends_with_one_sentence_and_keeps_every_earlier_line(tmp_path):
    with mounted_tmpfs(tmp_path / "disk", size="16k") as disk:
        path = disk / "cache.jsonl"
        written = []
        with ResponseCache(path) as cache, pytest.raises(LitftError) as error:
            for number in range(100):
                cache.append(f"k{number}", "x" * 1000, {"prompt_tokens": number})
                written.append(number)
        assert str(error.value) == (
            f"cannot write {path}: no space left on device; free some space and re-run; "
            "what was already written is intact."
        )
        assert 0 < len(written) < 100
        with pytest.raises(LitftError, match="no space left"):
            cache.append("later", "y", {})  # the cache stays shut for the rest of the run
        # The line the disk cut off is gone at once, not only when a later run opens the cache.
        assert path.read_bytes().endswith(b"\n") and path.read_bytes().count(b"\n") == len(written)
        with ResponseCache(path) as reopened:
            assert len(reopened) == len(written)
            assert [reopened.responses(f"k{n}")[0]["usage"]["prompt_tokens"] for n in written] == written
