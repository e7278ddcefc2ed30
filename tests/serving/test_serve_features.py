"""`litft serve`'s streaming text, several prompts per completion, --rag fitted to the context, --quantize."""

from __future__ import annotations

import json
import random

import openai
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from litft.common.settings import SamplingSettings
from litft.generation.continuous import IncrementalDecoder
from litft.generation.generate import LoadedModel
from litft.generation.sampling import RowDecoder
from litft.models.build import LoRASettings, build_model
from litft.models.checkpoint import inspect_checkpoint, load_model, save_checkpoint
from litft.models.context import with_context
from litft.models.conversations import conversation_prompt, eos_text
from litft.models.instructions import Instruction
from litft.models.prompts import get_prompt_style
from litft.models.quantize import is_quantized
from litft.retrieval.index import RetrievalIndex, build_index
from litft.serving.server import build_engine, running_server

PROMPTS = ["the school offers", "apply", "tuition scholarship campus research labs students apply before"]
MAX_TOKENS = 10

pytestmark = pytest.mark.usefixtures("one_thread")


CORPUS = ["the school offers civil and software engineering", "students apply before the café deadline"] * 20


def trained_tokenizer(kind: str) -> Tokenizer:
    """A small BPE tokenizer trained here: byte-level (every byte a token, so characters split across tokens)
    or SentencePiece-style (spaces as '▁', the first one dropped when decoding)."""
    if kind == "byte_level":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["</s>"], initial_alphabet=alphabet)
    else:
        tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(vocab_size=80, special_tokens=["<unk>", "</s>"])
    tokenizer.train_from_iterator(CORPUS, trainer)
    return tokenizer


def decoded_both_ways(decode, ids, stop_tokens, stop_strings):
    """(text, finish reason, streamed pieces joined) from RowDecoder (all ids re-decoded) and IncrementalDecoder."""
    results = []
    for kind in (RowDecoder, IncrementalDecoder):
        row = kind(decode, len(ids), stop_tokens, stop_strings)
        streamed = []
        for token in ids:
            finished = row.push(token)
            streamed.append(row.pending_text())
            if finished:
                break
        results.append((row.text, row.finish_reason, "".join(streamed)))
    return results


@pytest.mark.parametrize("tokenizer_kind", ["byte_level", "metaspace"])
def test_incremental_text_equals_decoding_all_ids_at_once(tokenizer_kind):
    tokenizer = trained_tokenizer(tokenizer_kind)
    decode = tokenizer.decode
    vocab = tokenizer.get_vocab_size()
    generator = random.Random(0)
    stop_id = tokenizer.token_to_id("</s>")
    accented = tokenizer.encode("café naïve 😀 " * 8).ids[:60]
    if tokenizer_kind == "byte_level":
        assert any(decode([i]).endswith("\ufffd") for i in accented)  # characters split across tokens
    for trial in range(30):
        # Random ids (and accented text): every few trials a stop string or a two-token stop sequence ends the
        # answer early.
        ids = accented if trial == 0 else [generator.randrange(vocab) for _ in range(60)]
        text = decode(ids)
        # a stop string of three whole characters from the text's middle
        stops = [text[i : i + 3] for i in range(25, len(text) - 3) if "\ufffd" not in text[i : i + 3]]
        stop_strings = stops[:1] if trial % 3 == 1 else []
        stop_tokens = [[ids[40], stop_id]] if trial % 3 == 2 else []
        if stop_tokens:
            ids[41] = stop_id
        plain, incremental = decoded_both_ways(decode, ids, stop_tokens, stop_strings)
        assert incremental == plain
        assert incremental[2] == incremental[0]  # what streams is the answer


@pytest.fixture(scope="module")
def alone(lit_base):
    return LoadedModel(lit_base, device="cpu")


@pytest.fixture(scope="module")
def client(lit_base):
    engine = build_engine(lit_base, model_name="tiny", max_batch_size=2, device="cpu")
    with running_server(engine) as base_url:
        yield openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    engine.batcher.stop()


def expected(loaded: LoadedModel, text: str, max_tokens: int = MAX_TOKENS) -> str:
    return loaded.complete([text], SamplingSettings(max_new_tokens=max_tokens))[0].text


def test_a_list_of_prompts_gets_one_choice_each_in_order(client, alone):
    # three prompts on a server of two rows: the third waits for a free row
    reply = client.completions.create(model="tiny", prompt=PROMPTS, max_tokens=MAX_TOKENS, temperature=0)
    assert [choice.index for choice in reply.choices] == [0, 1, 2]
    assert [choice.text for choice in reply.choices] == [expected(alone, p) for p in PROMPTS]
    prompt_tokens = sum(len(alone.encode(p)) for p in PROMPTS)
    assert reply.usage.prompt_tokens == prompt_tokens and reply.usage.completion_tokens == 3 * MAX_TOKENS

    stream = client.completions.create(
        model="tiny",
        prompt=PROMPTS,
        max_tokens=MAX_TOKENS,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts, reasons = ["", "", ""], [None, None, None]
    chunks = list(stream)
    for chunk in chunks[:-1]:
        (choice,) = chunk.choices
        texts[choice.index] += choice.text
        reasons[choice.index] = reasons[choice.index] or choice.finish_reason
    assert texts == [choice.text for choice in reply.choices] and reasons == ["length"] * 3
    assert chunks[-1].usage.completion_tokens == 3 * MAX_TOKENS


def test_a_list_with_a_prompt_past_the_context_is_refused_whole(client):
    with pytest.raises(openai.BadRequestError) as error:
        client.completions.create(model="tiny", prompt=[PROMPTS[0], "the school offers " * 200], max_tokens=4)
    assert "but the model's context is 128" in error.value.body["message"]


CHUNKS = [  # each about 40 tokens of the tiny tokenizer: three do not fit in its 128-token context with the answer
    {"id": f"c{n}", "text": f"The application deadline for program {n} is March {n}; " + "students apply early. " * 3}
    for n in range(1, 4)
]
QUESTION = "When is the application deadline?"


def test_rag_leaves_out_the_lowest_ranked_passages_to_leave_room_for_the_answer(lit_base, tmp_path):
    (tmp_path / "chunks.jsonl").write_text("".join(json.dumps(chunk) + "\n" for chunk in CHUNKS))
    build_index(tmp_path / "chunks.jsonl", tmp_path / "index", quiet=True)
    hits = RetrievalIndex.load(tmp_path / "index").search(QUESTION, 3)
    loaded = LoadedModel(lit_base, device="cpu", prompt_style="qa")
    style, max_tokens = get_prompt_style("qa"), 16

    def prompt_with(count: int) -> str:  # as `litft chat --rag` asks: a conversation turn has no input field
        asked = with_context(Instruction(QUESTION), hits[:count], has_input_field=False)
        return conversation_prompt(style, [{"role": "user", "content": asked.instruction}], eos_text(loaded.tokenizer))

    sizes = [len(loaded.tokenizer.encode(prompt_with(count))) for count in range(4)]
    kept = max(count for count in range(4) if sizes[count] <= 128 - max_tokens)
    assert len(hits) == 3 and 1 <= kept < 3  # the lowest-ranked passage must be left out

    engine = build_engine(lit_base, "tiny", 1, rag=tmp_path / "index", rag_k=3, prompt_style="qa", device="cpu")
    try:
        with running_server(engine) as base_url:
            client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
            messages = [{"role": "user", "content": QUESTION}]
            reply = client.chat.completions.create(
                model="tiny", messages=messages, max_tokens=max_tokens, temperature=0
            )
    finally:
        engine.batcher.stop()
    assert reply.usage.prompt_tokens == sizes[kept]
    assert reply.choices[0].message.content == expected(loaded, prompt_with(kept), max_tokens)


def test_quantize_serves_a_lora_run_on_a_4_bit_base(lit_base, tmp_path):
    info = inspect_checkpoint(lit_base)
    base_model, _ = load_model(lit_base)
    lora = LoRASettings(r=4, alpha=8, query=True, value=True)
    model = build_model("lora", info.config, settings=lora)
    model.load_state_dict(base_model.state_dict(), strict=False)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:  # a trained-looking update (B starts at zero)
                param.copy_(torch.randn(param.shape, generator=torch.Generator().manual_seed(1)) * 0.3)
    run = save_checkpoint(
        tmp_path / "lora",
        method="lora",
        state_dict=model.state_dict(),
        config=info.config,
        source_dir=lit_base,
        base_checkpoint_dir=lit_base,
        settings=lora,
    )
    engine = build_engine(run, "tiny", 2, device="cpu", quantize="bnb.nf4")
    try:
        assert engine.loaded.quantize == "bnb.nf4" and any(is_quantized(m) for m in engine.loaded.model.modules())
        with running_server(engine) as base_url:
            client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
            reply = client.completions.create(model="tiny", prompt=PROMPTS[0], max_tokens=MAX_TOKENS, temperature=0)
    finally:
        engine.batcher.stop()
    quantized_alone = LoadedModel(run, device="cpu", quantize="bnb.nf4")
    assert reply.choices[0].text == expected(quantized_alone, PROMPTS[0])
