"""`litft evaluate --judge.model MODEL`: an OpenAI-compatible model scores answers on the 0-3 review scale.

Requests go through `litft.llm.client.LLMClient` (the endpoint from --judge.base_url or OPENAI_BASE_URL, the key
from the environment, rate limits and retries), and every verdict is on disk in a response cache before it
is used, so a re-run asks nothing twice. An empty answer is scored 1 (no answer) without asking.
"""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from litft.common.io import progress
from litft.common.ratelimit import BudgetExhausted
from litft.evaluation.review import SCALE_MEANING
from litft.llm.cache import ResponseCache, cache_key
from litft.llm.client import LLMClient, LLMSettings, RequestFailed

SYSTEM = (
    "You grade answers to questions about an organisation against a reference answer. You are strict and consistent."
)
TEMPLATE = """Question:
{question}

Reference answer:
{reference}

Answer to grade:
{answer}

Grade the answer on this scale:
{scale}

Reply with JSON only, for example {{"score": 2, "reason": "one short sentence"}}."""
TEMPLATE_ID = hashlib.sha256((SYSTEM + TEMPLATE).encode()).hexdigest()[:12]
EMPTY_ANSWER_REASON = "empty answer (scored 1 without asking the judge)"
JUDGE_GROUP = "judge"  # `litft evaluate --judge.model ...`
# Greedy, short replies: a verdict should not change between runs, and it is a score and a sentence.
JUDGE_SETTINGS = LLMSettings(temperature=0.0, max_response_tokens=200)


@dataclass(frozen=True)
class Verdict:
    score: int | None
    reason: str


def messages_for(question: str, reference: str, answer: str) -> list[dict[str, str]]:
    scale = "\n".join(f"{score} = {meaning}" for score, meaning in SCALE_MEANING.items())
    user = TEMPLATE.format(question=question, reference=reference, answer=answer, scale=scale)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> Verdict:
    """The score in a judge's reply: a JSON object (bare or amid prose/fences), else a lone leading digit."""
    for match in re.finditer(r"\{[^{}]*\}", text):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        score = data.get("score") if isinstance(data, dict) else None
        if isinstance(score, str) and score.strip().isdigit():
            score = int(score.strip())
        if isinstance(score, (int, float)) and not isinstance(score, bool) and score in (0, 1, 2, 3):
            return Verdict(int(score), str(data.get("reason", "")).strip())
    bare = re.match(r"\s*(?:score\s*[:=]\s*)?([0-3])\b", text, re.IGNORECASE)
    if bare:
        return Verdict(int(bare.group(1)), text[bare.end() :].strip(" .:-\n"))
    return Verdict(None, f"unreadable judge reply: {text.strip()[:200]!r}")


class Judge:
    """Scores (question, reference, answer) triples; use as a context manager to close its cache."""

    def __init__(self, settings: LLMSettings, cache_path: str | Path):
        self.model = settings.model
        self.workers = settings.workers
        self.cache = ResponseCache(cache_path)
        self.client = LLMClient(settings, self.cache, JUDGE_GROUP)
        self.asked = 0
        self.from_cache = 0

    def settings(self) -> dict:
        return {
            "model": self.model,
            "base_url": self.client.base_url,
            "template_id": TEMPLATE_ID,
            "temperature": self.client.settings.temperature,
            "cache": str(self.cache.path),
        }

    def verdict(self, question: str, reference: str, answer: str) -> Verdict:
        if not answer.strip():
            return Verdict(1, EMPTY_ANSWER_REASON)
        key = cache_key(self.model, TEMPLATE_ID, question, reference, answer)
        cached = self.client.cached(key)
        if cached:
            self.from_cache += 1
            return parse_verdict(cached[-1]["text"])
        try:
            entry = self.client.complete(key, messages_for(question, reference, answer), kind="judge")
        except RequestFailed as error:
            return Verdict(None, f"judge request failed: {error}")
        except BudgetExhausted as error:
            return Verdict(None, f"not judged: {error}")
        self.asked += 1
        return parse_verdict(entry["text"])

    def judge_all(
        self, triples: list[tuple[str, str, str]], quiet: bool = False, desc: str = "judging"
    ) -> list[Verdict]:
        bar = progress(total=len(triples), quiet=quiet, desc=desc, unit="answer")
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            verdicts = []
            for verdict in pool.map(lambda triple: self.verdict(*triple), triples):
                verdicts.append(verdict)
                bar.update(1)
        bar.close()
        return verdicts

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
