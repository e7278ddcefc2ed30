"""`litft synthesize`: question/answer records from chunks, one chat request per chunk.

Each response is in the cache before it is parsed, so a killed run loses nothing paid for and a re-run
sends no request whose answer is cached. The output is rebuilt from the cache on every run and written
atomically; a chunk that still fails after its retries is listed in the failures file, and the next run
asks again only for those.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from litft.common.errors import LitftError
from litft.common.io import check_output_file, progress, refuse_same_path
from litft.common.outputs import claim_output_file, record_output_file
from litft.common.ratelimit import BudgetExhausted
from litft.data.conversations import as_messages
from litft.data.records import read_records, write_jsonl
from litft.data.synthesize.heuristic import heuristic_pairs
from litft.data.synthesize.parse import (
    ResponseParseError,
    extract_json_array,
    to_instruction_records,
)
from litft.data.synthesize.refresh import Carried, carry_over, merged_retired
from litft.data.synthesize.templates import Template, load_template
from litft.data.synthesize.unanswerable import (
    UNANSWERABLE_TEMPLATE,
    QuestionChecker,
    check_fraction,
    heuristic_unanswerable,
    unanswerable_count,
    unanswerable_questions,
    unanswerable_record,
)
from litft.llm.cache import ResponseCache, cache_key, text_sha256
from litft.llm.client import LLMClient, LLMSettings, RequestFailed

HEURISTIC_MODEL = "heuristic"


@dataclass
class ChunkResult:
    """What became of one chunk: `ok` with records, `failed` with a reason, or `pending` (budget reached)."""

    chunk: dict
    status: Literal["ok", "failed", "pending"]
    records: list[dict[str, str]] = field(default_factory=list)
    dropped: int = 0
    reason: str = ""


def default_sidecar(output: Path, suffix: str) -> Path:
    """`qa.jsonl` -> `qa.<suffix>.jsonl`: files that belong with an output live beside it."""
    return output.with_name(f"{output.stem}.{suffix}.jsonl")


def check_paths(inputs: dict[str, Path], outputs: dict[str, Path], overwrite: bool) -> None:
    """Before any request: refuse an output that would overwrite an input or another output, cannot be written, or
    is a file litft did not write (unless `overwrite`); the cache is only appended to, so any cache file will do."""
    named_outputs = list(outputs.items())
    for number, (output_flag, output) in enumerate(named_outputs):
        for input_flag, source in [*inputs.items(), *named_outputs[:number]]:
            refuse_same_path(source, output, input_flag, output_flag)
        if output_flag == "--cache":
            check_output_file(output, output_flag)
        else:
            claim_output_file(output, overwrite, output_flag)


def read_chunks(path: Path) -> list[dict]:
    chunks, seen = [], {}
    for number, chunk in read_records(path, ("id", "text"), "chunk record ({id, url, text})"):
        if chunk["id"] in seen:
            raise LitftError(
                f"{path} line {number} repeats the id {chunk['id']!r} of line {seen[chunk['id']]}; ids must be unique."
            )
        seen[chunk["id"]] = number
        chunks.append(chunk)
    return chunks


def _parse_response(text: str) -> tuple[list[dict[str, str]], int, str]:
    """(records, dropped, problem); no records means the response is unusable and `problem` says why."""
    try:
        parsed = to_instruction_records(extract_json_array(text))
    except ResponseParseError as error:
        return [], 0, str(error)
    if not parsed.records:
        return [], parsed.dropped, f"no record with both a question and an answer ({parsed.dropped} incomplete)"
    return parsed.records, parsed.dropped, ""


def synthesize_chunk(chunk: dict, client: LLMClient, template: Template, parse_retries: int) -> ChunkResult:
    """Records for one chunk: from a cached usable response if any, else up to 1 + `parse_retries` requests."""
    key = cache_key(client.settings.model, template.fingerprint, text_sha256(chunk["text"]))
    for entry in client.cached(key):
        records, dropped, _ = _parse_response(entry["text"])
        if records:
            client.stats.add(cached_hits=1)
            return ChunkResult(chunk, "ok", records, dropped)
    messages = template.messages(chunk["text"])
    problem = ""
    try:
        for _ in range(parse_retries + 1):
            entry = client.complete(key, messages, chunk_id=chunk["id"], template=template.fingerprint)
            records, dropped, problem = _parse_response(entry["text"])
            if records:
                return ChunkResult(chunk, "ok", records, dropped)
    except RequestFailed as error:
        return ChunkResult(chunk, "failed", reason=str(error))
    except BudgetExhausted as error:
        return ChunkResult(chunk, "pending", reason=f"not finished: {error}")
    return ChunkResult(chunk, "failed", reason=f"unusable response after {parse_retries + 1} attempts: {problem}")


def synthesize_heuristic(chunk: dict) -> ChunkResult:
    pairs = heuristic_pairs(chunk["text"])
    if not pairs:
        return ChunkResult(
            chunk, "failed", reason="no sentence of a recognised shape (definition, date, place, capability)"
        )
    return ChunkResult(chunk, "ok", [{"instruction": p.question, "input": "", "output": p.answer} for p in pairs])


def _output_records(result: ChunkResult, model: str, template_name: str, unanswerable: list[str]) -> list[dict]:
    """The chunk's records, then its unanswerable questions, each with the provenance keys."""
    source = {"source_id": result.chunk["id"], "source_url": result.chunk.get("url", ""), "model": model}
    return [{**record, **source, "template": template_name} for record in result.records] + [
        {**unanswerable_record(question), **source, "template": UNANSWERABLE_TEMPLATE} for question in unanswerable
    ]


def _unanswerable(
    results: list[ChunkResult], chunks: list[dict], fraction: float, client: LLMClient | None
) -> tuple[dict[str, list[str]], str]:
    """chunk id -> its --unanswerable questions (by the heuristic when there is no client), and a summary line."""
    counts = [
        (r.chunk, unanswerable_count(r.chunk["id"], len(r.records), fraction)) for r in results if r.status == "ok"
    ]
    if not any(count for _, count in counts):
        return {}, ""
    if client is None:
        corpus = "\n".join(chunk["text"] for chunk in chunks).casefold()
        found = unanswerable_questions(counts, lambda chunk, count: heuristic_unanswerable(chunk, count, corpus))
        return found, f"\n  {sum(map(len, found.values()))} unanswerable questions (answerable: false)"
    checker = QuestionChecker(chunks, client)
    found = unanswerable_questions(counts, checker.questions, client.settings.workers)
    return found, (
        f"\n  {checker.kept} unanswerable questions (answerable: false); {checker.answered} candidates dropped because "
        f"the corpus answers them, {checker.failed} chunks without a usable reply"
    )


def _run_openai(
    chunks: list[dict], client: LLMClient, template: Template, parse_retries: int, quiet: bool
) -> list[ChunkResult]:
    results: list[ChunkResult | None] = [None] * len(chunks)
    with (
        ThreadPoolExecutor(max_workers=client.settings.workers) as pool,
        progress(total=len(chunks), quiet=quiet, desc="synthesize", unit="chunk") as bar,
    ):
        futures = {
            pool.submit(synthesize_chunk, chunk, client, template, parse_retries): i for i, chunk in enumerate(chunks)
        }
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [result for result in results if result is not None]


def synthesize(
    input: Path,
    output: Path,
    llm: LLMSettings = LLMSettings(),
    backend: Literal["openai", "heuristic"] = "openai",
    template: str = "faq",
    parse_retries: int = 2,
    cache: Path | None = None,
    failures: Path | None = None,
    quiet: bool = False,
    format: Literal["alpaca", "messages"] = "alpaca",
    unanswerable: float = 0.0,
    refresh: bool = False,
    retired: Path | None = None,
    overwrite: bool = False,
) -> None:
    """Generate question/answer records (Alpaca form) from chunks.jsonl with an LLM or the offline heuristic.

    With --refresh (after `litft process` refreshed chunks.jsonl) the records already in --output are kept for
    every chunk still in --input, only chunks without records (new and changed ones, and earlier failures) are
    synthesized, and the records of chunks no longer there are moved to the retired file with a reason ("chunk
    removed", or "chunk changed" with its `new_source_id`, from the changes.json beside --input).

    Args:
        input: chunks.jsonl with records {id, url, text}.
        output: JSONL of {instruction, input, output, source_id, source_url, model, template}.
        llm: The model and how to ask it (`--llm.model` is required with the openai backend).
        backend: ``openai`` (any OpenAI-compatible endpoint) or ``heuristic`` (offline, no key; see
            litft.data.synthesize.heuristic).
        template: ``faq``, ``triples`` or a text file with a {passage} placeholder.
        parse_retries: New requests for a chunk whose response holds no usable JSON before it is recorded as failed.
        cache: Response cache (JSONL); default OUTPUT_STEM.cache.jsonl beside the output.
        failures: Chunks without records and why; default OUTPUT_STEM.failures.jsonl beside the output.
        quiet: No progress bar.
        format: ``alpaca`` ({instruction, input, output}) or ``messages`` ({"messages": [user, assistant]}, the
            OpenAI chat form), each with the provenance keys.
        unanswerable: Also write questions the documents cannot answer, this share of each chunk's answerable
            records (0.1: one per ten), with `answerable: false` and an "I don't know" reference, to teach and
            test abstention (see litft.data.synthesize.unanswerable).
        refresh: Keep the records of --output whose chunk is unchanged and synthesize only the rest (see above).
        retired: Records retired by --refresh, each with its reason, added to over refreshes; default
            OUTPUT_STEM.retired.jsonl beside the output.
        overwrite: Replace an --output, --failures or --retired file that litft did not write.
    """
    check_fraction(unanswerable)
    if parse_retries < 0:
        raise LitftError(f"--parse_retries must be at least 0, got {parse_retries}.")
    input, output = Path(input), Path(output)
    failures = Path(failures) if failures else default_sidecar(output, "failures")
    cache = Path(cache) if cache else default_sidecar(output, "cache")
    retired = Path(retired) if retired else default_sidecar(output, "retired")
    outputs = {"--output": output, "--failures": failures} | ({"--cache": cache} if backend != "heuristic" else {})
    check_paths({"--input": input}, outputs | ({"--retired": retired} if refresh else {}), overwrite)
    chunks = read_chunks(input)
    carried = carry_over(output, input, chunks, format) if refresh else Carried({}, [])
    todo = [chunk for chunk in chunks if chunk["id"] not in carried.kept]
    client = None
    if backend == "heuristic":
        model_name, template_name = HEURISTIC_MODEL, HEURISTIC_MODEL
        results = [
            synthesize_heuristic(chunk) for chunk in progress(todo, quiet=quiet, desc="synthesize", unit="chunk")
        ]
        unanswered, note = _unanswerable(results, chunks, unanswerable, None)
    else:
        llm.validate()
        prompt = load_template(template)
        model_name, template_name = llm.model, prompt.name
        with ResponseCache(cache) as response_cache:
            client = LLMClient(llm, response_cache)
            results = _run_openai(todo, client, prompt, parse_retries, quiet)
            unanswered, note = _unanswerable(results, chunks, unanswerable, client)

    write_jsonl(
        failures,
        [
            {"source_id": r.chunk["id"], "source_url": r.chunk.get("url", ""), "status": r.status, "reason": r.reason}
            for r in results
            if r.status != "ok"
        ],
    )
    if not carried.kept and not any(r.status == "ok" for r in results):  # an earlier output stays as it was
        raise LitftError(_nothing_produced(results, input, failures, backend))
    made = {
        result.chunk["id"]: [
            as_messages(record) if format == "messages" else record
            for record in _output_records(result, model_name, template_name, unanswered.get(result.chunk["id"], []))
        ]
        for result in results
    }
    if refresh:  # the retired records reach the disk before the output without them replaces the old one
        write_jsonl(retired, merged_retired(retired, carried.retired))
    write_jsonl(output, [r for chunk in chunks for r in carried.kept.get(chunk["id"], made.get(chunk["id"], []))])
    for path in (failures, output, *([retired] if refresh else [])):
        record_output_file(path)
    print(_summary(results, output, failures, client) + note + _refresh_note(carried, len(todo), retired, refresh))


def _refresh_note(carried: Carried, synthesized: int, retired: Path, refresh: bool) -> str:
    if not refresh:
        return ""
    kept = sum(map(len, carried.kept.values()))
    return (
        f"\n  refresh: {kept} records of {len(carried.kept)} unchanged chunks kept, {synthesized} chunks synthesized, "
        f"{len(carried.retired)} records retired into {retired}"
    )


def _nothing_produced(results: list[ChunkResult], input: Path, failures: Path, backend: str) -> str:
    """Why no chunk got records, from the first failure (a failed chunk says more than one a cap kept back)."""
    if backend == "heuristic":
        return (
            f"the heuristic backend found no question/answer pair in the {len(results)} chunks of {input} "
            f"(it knows only definition, date, place and capability sentences); use --backend openai for this text."
        )
    first = next((r for r in results if r.status == "failed"), results[0])
    failed = sum(r.status == "failed" for r in results)
    return (
        f"no chunk of {input} got records ({failed} failed, {len(results) - failed} not reached); the first failure, "
        f"for chunk {first.chunk['id']!r}: {first.reason}; fix that and run again (cached answers are reused, "
        f"each chunk's reason is in {failures})."
    )


def _summary(results: list[ChunkResult], output: Path, failures: Path, client: LLMClient | None) -> str:
    counts = {status: sum(r.status == status for r in results) for status in ("ok", "failed", "pending")}
    records = sum(len(r.records) for r in results)
    dropped = sum(r.dropped for r in results)
    lines = [
        f"synthesize: {len(results)} chunks -> {records} records in {output}; "
        f"{counts['ok']} with records, {counts['failed']} failed, {counts['pending']} not reached"
        + (f" (listed in {failures})" if counts["failed"] or counts["pending"] else ""),
    ]
    if dropped:
        lines.append(f"  {dropped} records without both question and answer were dropped")
    if client is not None:
        lines.append(f"  {client.stats.summary()}")
    if counts["pending"]:
        lines.append(
            "  a budget cap stopped the run; run again (with a higher cap) to continue, cached answers are reused"
        )
    elif counts["failed"] and client is not None:
        lines.append("  run again to retry the failed chunks only")
    return "\n".join(lines)
