"""`litft evaluate`: did fine-tuning help? ROUGE of base vs fine-tuned answers, and the 0-3 review sheet.

For each model (the base, then each run) every test question is answered (greedy by default, in exact
batches) and scored against the reference with ROUGE-1/2/L F-measure (rouge-score, Porter stemmer).
Outputs in --out_dir: a table on stdout, `report.json` (every setting and number), `answers.csv` (question,
reference, each model's answer beside an empty score column for reviewers) and `generations/` (each
model's answers, appended per batch: a re-run with the same model, settings and prompts reuses them).
`litft evaluate summarize answers.csv` turns the filled-in sheet into percentages per model and score.

Fine-tune or retrieve? With `--rag INDEX_DIR` every model is asked again with the top `--rag_k` chunks of a
`litft index build` index in its prompt (rows `<label>+rag`), and with `--api.model` an OpenAI-compatible model
answers the same questions, closed-book and with retrieval (rows `api:<model>`, `api:<model>+rag`).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from litft.common.checks import require_dir, require_file
from litft.common.errors import LitftError
from litft.common.io import atomic_write_json
from litft.common.outputs import check_in_place_files, record_own_files
from litft.common.settings import SamplingSettings
from litft.evaluation.api_model import API_SETTINGS, ApiModel
from litft.evaluation.contamination import contaminated
from litft.evaluation.context import prompt_details, rag_variants, with_hits
from litft.evaluation.forgetting import MAX_TOKENS, read_general_text
from litft.evaluation.gate import enforce_release_gate
from litft.evaluation.generations import GenerationLog, fingerprint, generate_missing, weights_identity
from litft.evaluation.grounding import add_grounding
from litft.evaluation.harness import harness_scores, harness_tasks
from litft.evaluation.judge import JUDGE_SETTINGS, Judge
from litft.evaluation.lineage import default_train_file, question_lineage, questions_report, read_train_records
from litft.evaluation.lineup import method_name, plan_models, style_for
from litft.evaluation.report import build_report, print_summary, write_answers
from litft.evaluation.results import ModelResult, compare_to_base_row, scored_result
from litft.evaluation.subset import stratified_sample
from litft.llm.client import LLMSettings
from litft.models.context import fit_context
from litft.models.instructions import Instruction, read_instructions
from litft.retrieval.settings import Retriever, check_index_dir, check_k

CONTAMINATION_N = 8  # words: a shared run this long is copied text, not a common phrase
EVALUATION_KIND = "evaluation"
EVALUATION_FILES = ("report.json", "answers.csv")


def _evaluate_model(spec, specs, records, variants, settings, options, out_dir: Path, quiet: bool) -> list:
    """The model's results, one per variant (closed-book, then with retrieval), from one load of its weights."""
    import torch

    from litft.evaluation.forgetting import perplexity
    from litft.generation.generate import LoadedModel
    from litft.models.prompts import takes_input

    loaded = LoadedModel(
        spec.path,
        options["base_dir"] if spec.role == "run" else None,
        options["device"],
        options["precision"],
        options["quantize"],
        style_for(spec, specs, options["prompt_style"]),
    )
    if not quiet:
        print(f"[{spec.label}] {loaded.describe()}", file=sys.stderr)
    model_key = fingerprint(
        weights_identity(loaded.info), asdict(settings), loaded.precision, loaded.quantize, loaded.device.type
    )
    has_input = takes_input(loaded.style)
    general = perplexity(loaded, options["general_text"]) if options["general_text"] is not None else None
    task_scores = harness_scores(loaded, options["tasks"], options["batch_size"])
    fits = functools.partial(_leaves_room_to_answer, loaded, settings.max_new_tokens)
    results = []
    for variant in variants:
        label = spec.label + variant.suffix
        fitted = [fit_context(r, h, has_input, fits) for r, h in with_hits(records, variant.hits)]
        prompts = [loaded.format(record) for record, _ in fitted]
        used = variant.hits and [kept for _, kept in fitted]
        # The key is the prompt's fingerprint and the prompt holds the context, so answers never mix.
        log = GenerationLog(out_dir / "generations" / f"{label}.jsonl", model_key)
        keys = [log.key(prompt) for prompt in prompts]
        details = prompt_details(prompts, used)
        from_cache = generate_missing(loaded, log, prompts, keys, details, settings, options["batch_size"], quiet)
        row = scored_result(
            records,
            [log.entries[key] for key in keys],
            from_cache,
            general_text=None if variant.hits else general,
            **({} if variant.hits else task_scores),
            label=label,
            role=spec.role,
            checkpoint=str(loaded.info.path),
            method=method_name(loaded.info),
            base_dir=str(loaded.info.base_dir) if loaded.info.base_dir else None,
            prompt_style=loaded.style_name,
            rag=variant.rag and {**variant.rag, "passages_dropped": _dropped(variant.hits, used)},
        )
        results.append(add_grounding(row, records, variant.hits, used))
    del loaded
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return results


def _dropped(hits: list, used: list) -> int:
    """How many retrieved passages the prompts left out to leave the answer its room."""
    return sum(len(found) - len(kept) for found, kept in zip(hits, used, strict=True))


def _leaves_room_to_answer(loaded, max_new_tokens: int, record: Instruction) -> bool:
    return loaded.leaves_room(loaded.format(record), max_new_tokens)


def _check_paths_and_values(
    test_file, runs, base, base_dir, retrieval: tuple, limit: int | None, sample: int | None, general_text
) -> None:
    """The user's mistakes that need no model, said before torch loads (`retrieval`: --rag, --rag_k and
    --rag_retrievers)."""
    rag, rag_k, rag_retrievers = retrieval
    require_file(test_file, "--test_file")
    require_file(general_text, "--general_text")
    for run in runs:
        require_dir(run, "--runs", "check the path of the fine-tuning run")
    require_dir(base, "--base", "check the path or download/convert a model first")
    require_dir(base_dir, "--base_dir", "check the path or download/convert a model first")
    if rag is not None:
        check_index_dir(rag, "--rag")
    elif rag_retrievers:
        raise LitftError("--rag_retrievers chooses how --rag retrieves; pass the index with --rag too.")
    check_k(rag_k, "--rag_k")
    if limit is not None and limit < 1:
        raise LitftError(f"--limit must be at least 1, got {limit}.")
    if sample is not None and sample < 1:
        raise LitftError(f"--sample must be at least 1, got {sample}.")
    if limit is not None and sample is not None:
        raise LitftError("--limit takes the first records and --sample a random sample of them; give one of the two.")


def evaluate(
    test_file: Path,
    runs: list[Path],
    base: Path | None = None,
    out_dir: Path = Path("out/evaluate"),
    sampling: SamplingSettings = SamplingSettings(seed=1234),
    prompt_style: str | None = None,
    base_dir: Path | None = None,
    batch_size: int = 8,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    device: str = "auto",
    precision: str | None = None,
    quantize: str | None = None,
    judge: LLMSettings = JUDGE_SETTINGS,
    rag: Path | None = None,
    rag_k: int = 3,
    rag_retrievers: list[Retriever] | None = None,
    api: LLMSettings = API_SETTINGS,
    train_file: Path | None = None,
    decontaminate: bool = False,
    general_text: Path | None = None,
    tasks: list[str] | None = None,
    tasks_path: Path | None = None,
    tasks_limit: int | None = None,
    max_regression: float | None = None,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict:
    """Score a base model and fine-tuned runs on a test split: ROUGE table, report.json, answers.csv.

    Args:
        test_file: Test records: a JSON array or JSONL of {instruction, input, output} or {question, answer}.
        runs: Fine-tuning run directories (full, LoRA or adapter-v2), e.g. `litft evaluate test.json out/lora out/full`.
        base: The base checkpoint to compare against (default: the base the runs name in hyperparameters.yaml).
        out_dir: Where report.json, answers.csv and generations/ go.
        sampling: How answers are decoded: greedy by default (temperature 0); question i uses seed + i; all of it
            is recorded with the results.
        prompt_style: One prompt style for every model (default: each model's saved style; a base without one
            gets its runs' style).
        base_dir: Where LoRA/adapter runs find their base if it moved since training.
        batch_size: Questions answered together (answers are identical to one-at-a-time greedy decoding).
        limit: Only the first N test records (a quick look; a split lists each source chunk's questions together).
        sample: A seeded random sample of N test records, spread over their source chunks (one question per chunk
            before any chunk gives a second); the records keep the test file's order.
        seed: The seed of --sample (decoding has its own, --sampling.seed).
        device: auto, cpu, cuda, cuda:N or mps.
        precision: 32-true, 16-true or bf16-true.
        quantize: bitsandbytes quantization on a CUDA GPU (bnb.nf4, bnb.nf4-dq, bnb.fp4, bnb.fp4-dq, bnb.int8).
        judge: With `--judge.model`, also score each answer 0-3 with that OpenAI-compatible model (into
            judge_<model> columns; temperature 0 and 200-token replies by default; cached verdicts are reused).
        rag: A retrieval index (`litft index build`): every model is also asked with each question's top --rag_k
            chunks in its prompt (rows `<model>+rag`; see litft.models.context), the query being the question.
            Lowest-ranked chunks that would not leave --sampling.max_new_tokens of the model's context for the
            answer are left out of that prompt (counted as passages_dropped in report.json).
        rag_k: Chunks retrieved per question with --rag.
        rag_retrievers: The retrievers --rag asks with (default: the index's own, hybrid when it has dense vectors,
            else bm25); several (`--rag_retrievers bm25 hybrid`) give each model one row per retriever,
            `<model>+bm25`, `<model>+hybrid`, instead of `<model>+rag`.
        api: With `--api.model`, an OpenAI-compatible model answers the same questions too, closed-book and with
            --rag (rows `api:<model>`, `api:<model>+rag`; temperature 0 and 256-token answers by default; answers
            are cached in api.cache.jsonl, so a re-run asks nothing twice).
        train_file: The training records, to find test records that share a run of 8 or more words with one of them
            (default: train.json beside --test_file, when there is one).
        decontaminate: Leave those test records out of the scores.
        general_text: A UTF-8 file of general (not domain) text: each model's perplexity on it (column
            `general ppl`; lower is better), to see what domain tuning cost in general ability. The demo uses
            litft's public-domain sample (litft/demo/general_text.txt).
        tasks: lm-evaluation-harness tasks every model also runs, by lm-eval's names (`hellaswag,arc_easy`; needs
            `pip install "litft[eval]"`): a column per task with each run's paired difference to the base.
        tasks_path: A folder of your own lm-eval task YAML files, run by their names with --tasks.
        tasks_limit: Only the first N items of each task (`lm_eval --limit`).
        max_regression: A release gate for CI: exit 3, after writing everything, when a run falls more than this
            below the base on ROUGE-L or a task metric with its 95% interval clear of 0 (litft.evaluation.gate).
        overwrite: Replace a report.json / answers.csv in out_dir that litft did not write.
        quiet: No progress bars.
    """
    _check_paths_and_values(test_file, runs, base, base_dir, (rag, rag_k, rag_retrievers), limit, sample, general_text)
    general = read_general_text(general_text) if general_text is not None else None
    harness = harness_tasks(tasks, tasks_path, tasks_limit, max_regression)  # imports lm_eval only with --tasks
    from litft.generation.generate import stop_strings  # imports torch: only once the paths are known to exist

    settings = replace(sampling, stop=stop_strings(sampling.stop))
    settings.validate()
    records, chosen = _chosen_records(test_file, limit, sample, seed)
    records, contamination, lineage = _scored_records(records, test_file, train_file, decontaminate)
    specs = plan_models(runs, base)
    started = time.time()
    variants = rag_variants(rag, rag_k, records, quiet, rag_retrievers)  # a damaged index: refused before out_dir
    out_dir = _claimed_out_dir(Path(out_dir), overwrite)
    options = dict(device=device, precision=precision, quantize=quantize, prompt_style=prompt_style, base_dir=base_dir)
    options.update(batch_size=batch_size, general_text=general, tasks=harness, max_regression=max_regression)
    results, verdicts, judge_report, api_report = _answer_and_judge(
        specs, records, variants, settings, options, out_dir, judge, api, quiet
    )
    compare_to_base_row(results, verdicts)
    answers_csv, note, review = write_answers(out_dir, records, results, verdicts, judge_report, lineage)
    report = build_report(test_file, records, chosen, settings, options, results, judge_report, answers_csv, out_dir)
    report["api"] = api_report
    report["questions"] = questions_report(lineage, results)
    report["general_text"] = general_text and {"path": str(Path(general_text).resolve()), "max_tokens": MAX_TOKENS}
    report["contamination"] = contamination and {**contamination, "decontaminated": decontaminate}
    report["seconds"] = round(time.time() - started, 3)
    atomic_write_json(out_dir / "report.json", report)
    record_own_files(out_dir, EVALUATION_FILES, EVALUATION_KIND)

    print_summary(results, report, review, judge.model, answers_csv, note)
    enforce_release_gate(report["release_gate"])  # exit 3 when a run fell behind the base
    return report


def _chosen_records(test_file: Path, limit: int | None, sample: int | None, seed: int) -> tuple[list, dict]:
    """The test records to score (all, the first --limit, or the --sample) and how they were chosen, for the report."""
    records = read_instructions(test_file, need_reference=True)
    chosen: dict = {"records": len(records), "limit": limit, "sample": None}
    if sample is not None:
        indices = stratified_sample([record.source_id for record in records], sample, seed)
        chunks = {records[i].source_id if records[i].source_id is not None else i for i in indices}
        chosen["sample"] = {"size": len(indices), "seed": seed, "chunks": len(chunks)}
        return [records[i] for i in indices], chosen
    return records[:limit], chosen


def _scored_records(records: list, test_file: Path, train_file: Path | None, decontaminate: bool):
    """The records to score (without those copied from training with --decontaminate), what the contamination check
    found and each record's lineage (the training records are --train_file's, else train.json's beside the test)."""
    train_file = default_train_file(test_file, train_file)
    train_records = read_train_records(train_file)
    contamination = _contamination(records, train_file, train_records)
    if decontaminate and contamination:
        flagged = {item["index"] for item in contamination["flagged"]}
        records = [record for index, record in enumerate(records) if index not in flagged]
        if not records:
            raise LitftError("every test record overlaps a training record; --decontaminate would leave none to score.")
    return records, contamination, question_lineage(records, train_records)


def _claimed_out_dir(out_dir: Path, overwrite: bool) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise LitftError(f"--out_dir {out_dir} is a file, not a folder; choose another --out_dir.")
    check_in_place_files(out_dir, EVALUATION_FILES, overwrite, "--out_dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _contamination(records: list[Instruction], train_file: Path | None, train_records: list | None) -> dict | None:
    """Test records that share a long word run with a training record: their scores measure recall, not answering."""
    if train_file is None:
        return None
    flagged = contaminated(records, train_records, n=CONTAMINATION_N)
    return {
        "train_file": str(train_file),
        "n": CONTAMINATION_N,
        "count": len(flagged),
        "flagged": [{"index": index, "overlap": overlap} for index, overlap in flagged],
    }


def _answer_and_judge(specs, records, variants, settings, options, out_dir: Path, judge, api, quiet: bool):
    """Every row's answers (each model per variant, then the API model's), the judge's verdicts on them, and what
    report.json says about the judge and the API model."""
    verdicts, judge_report, api_report = None, None, None
    with contextlib.ExitStack() as stack:
        grader, api_model = None, None
        if judge.model:  # built first, so a missing key or a bad URL is said before hours of generation
            grader = stack.enter_context(Judge(judge, out_dir / "judge.cache.jsonl"))
        if api.model:
            api_model = stack.enter_context(ApiModel(api, out_dir / "api.cache.jsonl"))
        results = [
            result
            for spec in specs
            for result in _evaluate_model(spec, specs, records, variants, settings, options, out_dir, quiet)
        ]
        if api_model is not None:
            results += api_model.evaluate(records, variants, quiet)
            api_report = {**api_model.describe(), "requests": api_model.client.stats.requests}
            api_report["failed"] = api_model.failures
        if grader is not None:
            verdicts, judge_report = _judge_answers(grader, records, results, quiet)
    return results, verdicts, judge_report, api_report


def _judge_answers(grader: Judge, records: list, results: list[ModelResult], quiet: bool) -> tuple[dict, dict]:
    """Every model's answers scored 0-3 by the judge, and what report.json says about the judging."""
    verdicts = {
        r.label: grader.judge_all(
            [(rec.question, rec.reference, a) for rec, a in zip(records, r.answers, strict=True)],
            quiet,
            f"judging {r.label}",
        )
        for r in results
    }
    judge_report = {
        **grader.settings(),
        "requests_sent": grader.asked,
        "verdicts_from_cache": grader.from_cache,
        "unscored": {label: sum(v.score is None for v in vs) for label, vs in verdicts.items()},
    }
    return verdicts, judge_report
