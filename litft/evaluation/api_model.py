"""The `api:<model>` rows of `litft evaluate --api.*`: an OpenAI-compatible model answering the same test questions,
closed-book and with the retrieved passages, through litft's cached, rate-limited client."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from litft.common.ratelimit import BudgetExhausted
from litft.evaluation.context import Variant, retrieved_ids, with_hits
from litft.evaluation.grounding import add_grounding
from litft.evaluation.results import ModelResult, scored_result
from litft.llm.cache import ResponseCache, cache_key
from litft.llm.client import LLMClient, LLMSettings, RequestFailed
from litft.models.context import with_context
from litft.models.instructions import Instruction

API_GROUP = "api"  # `litft evaluate --api.model ...`
API_SYSTEM = "Answer the question briefly and factually. When context passages are given, base the answer on them."
API_TEMPLATE_ID = hashlib.sha256(API_SYSTEM.encode()).hexdigest()[:12]
# Greedy like the local models' default, and answers of a few sentences.
API_SETTINGS = LLMSettings(temperature=0.0, max_response_tokens=256)


class ApiModel:
    """An OpenAI-compatible model answering the test questions (`--api.*`), every answer cached on disk first."""

    def __init__(self, settings: LLMSettings, cache_path: Path):
        self.settings = settings
        self.cache = ResponseCache(cache_path)
        self.client = LLMClient(settings, self.cache, API_GROUP)
        self.failures: list[str] = []

    def describe(self) -> dict:
        return {
            "model": self.settings.model,
            "base_url": self.client.base_url,
            "system": API_SYSTEM,
            "temperature": self.settings.temperature,
            "max_response_tokens": self.settings.max_response_tokens,
            "cache": str(self.cache.path),
        }

    def answer(self, question: str, retrieved: list[str] | None) -> tuple[dict, bool]:
        """(the cache entry, or a failed stand-in with an empty answer; whether it came from the cache)."""
        key = cache_key(
            self.settings.model,
            API_TEMPLATE_ID,
            str(self.settings.temperature),
            str(self.settings.max_response_tokens),
            question,
        )
        cached = self.client.cached(key)
        if cached:
            return cached[-1], True
        messages = [{"role": "system", "content": API_SYSTEM}, {"role": "user", "content": question}]
        started = time.perf_counter()
        try:
            entry = self.client.complete(key, messages, kind="answer", retrieved=retrieved)
        except (RequestFailed, BudgetExhausted) as error:
            self.failures.append(str(error))
            return {"text": "", "usage": {}, "finish_reason": "failed"}, False
        return {**entry, "seconds": time.perf_counter() - started}, False

    def evaluate(self, records: list[Instruction], variants: list[Variant], quiet: bool) -> list[ModelResult]:
        from concurrent.futures import ThreadPoolExecutor

        from litft.common.io import progress

        results = []
        for variant in variants:
            label = f"api:{self.settings.model}{variant.suffix}"
            questions = [
                with_context(r, h, has_input_field=False).question for r, h in with_hits(records, variant.hits)
            ]
            retrieved = retrieved_ids(variant.hits, len(questions))
            bar = progress(total=len(questions), quiet=quiet, desc=f"asking {label}", unit="question")
            with ThreadPoolExecutor(max_workers=self.settings.workers) as pool:
                answered = []
                for pair in pool.map(self.answer, questions, retrieved):
                    answered.append(pair)
                    bar.update(1)
            bar.close()
            entries = [
                {
                    "answer": entry["text"] or "",
                    "finish_reason": entry.get("finish_reason") or "stop",
                    "generated_tokens": entry.get("usage", {}).get("completion_tokens", 0),
                    "seconds": 0.0 if from_cache else entry.get("seconds", 0.0),
                }
                for entry, from_cache in answered
            ]
            row = scored_result(
                records,
                entries,
                sum(from_cache for _, from_cache in answered),
                label=label,
                role="api",
                checkpoint=self.client.base_url,
                method="api",
                base_dir=None,
                prompt_style="system + user message",
                rag=variant.rag,
            )
            results.append(add_grounding(row, records, variant.hits, variant.hits))
        return results

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> ApiModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
