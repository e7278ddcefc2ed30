"""The response cache survives kills: appended lines are durable and a torn tail is cut off."""

from __future__ import annotations

from litft.data.response_cache import ResponseCache, cache_key


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
