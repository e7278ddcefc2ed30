"""FinetuneDataset, collate, length-grouped sampler and packing (with the isolated forward pass)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from litft.common.errors import LitftError
from litft.models.loss import final_hidden_states
from litft.models.packing import packed_attention_mask
from litft.readers import (
    IGNORE_INDEX,
    FinetuneDataset,
    LengthGroupedBatchSampler,
    PackedFinetuneDataset,
    collate_finetune,
)
from litft.readers.packing import pack_lengths


def test_prompt_tokens_are_masked_exactly(finetune_dir):
    index = np.load(finetune_dir / "train.index.npy")
    tokens = np.fromfile(finetune_dir / "train.bin", dtype=np.uint16)
    masked, unmasked = FinetuneDataset(finetune_dir), FinetuneDataset(finetune_dir, mask_prompt=False)
    assert len(masked) == 100
    for i in (0, 1, 57, 99):
        offset, length, prompt_length = index[i]
        sample = masked[i]
        assert sample["input_ids"].tolist() == tokens[offset : offset + length].tolist()
        assert (sample["labels"][:prompt_length] == IGNORE_INDEX).all()
        assert sample["labels"][prompt_length:].tolist() == sample["input_ids"][prompt_length:].tolist()
        assert torch.equal(unmasked[i]["labels"], unmasked[i]["input_ids"])


def test_collate_pads_right_with_ignored_labels(finetune_dir):
    dataset = FinetuneDataset(finetune_dir)
    samples = [dataset[i] for i in (0, 1, 2)]
    batch = collate_finetune(samples, pad_id=0, pad_multiple=8)
    longest = max(len(s["input_ids"]) for s in samples)
    assert batch["input_ids"].shape == batch["labels"].shape == (3, -(-longest // 8) * 8)
    for row, sample in enumerate(samples):
        n = len(sample["input_ids"])
        assert (
            torch.equal(batch["input_ids"][row, :n], sample["input_ids"]) and (batch["input_ids"][row, n:] == 0).all()
        )
        assert (
            torch.equal(batch["labels"][row, :n], sample["labels"]) and (batch["labels"][row, n:] == IGNORE_INDEX).all()
        )


def test_length_grouped_batches_cover_every_record_and_cut_padding(finetune_dir):
    lengths = FinetuneDataset(finetune_dir).lengths
    sampler = LengthGroupedBatchSampler(lengths, batch_size=4, seed=0, group_batches=8)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 25 and sorted(i for b in batches for i in b) == list(range(100))
    assert list(sampler) != batches  # second epoch: new order
    padded = sum(len(b) * lengths[b].max() - lengths[b].sum() for b in batches)
    random_batches = np.random.default_rng(0).permutation(100).reshape(25, 4)
    random_padded = sum(4 * lengths[b].max() - lengths[b].sum() for b in random_batches)
    assert padded < 0.6 * random_padded

    shards = [
        LengthGroupedBatchSampler(lengths, batch_size=4, rank=r, world_size=3, seed=0).epoch_batches(0)
        for r in range(3)
    ]
    assert len({len(shard) for shard in shards}) == 1  # equal steps per rank (padded by wrapping around)
    assert set(i for shard in shards for b in shard for i in b) == set(range(100))


def test_sampler_resumes_mid_epoch(finetune_dir):
    lengths = FinetuneDataset(finetune_dir).lengths
    reference = list(LengthGroupedBatchSampler(lengths, batch_size=8, seed=4))
    sampler = LengthGroupedBatchSampler(lengths, batch_size=8, seed=4)
    iterator = iter(sampler)
    first = [next(iterator) for _ in range(5)]
    resumed = LengthGroupedBatchSampler(lengths, batch_size=8, seed=4)
    resumed.load_state_dict(sampler.state_dict())
    assert first + list(resumed) == reference
    with pytest.raises(LitftError, match="batch_size=8"):
        LengthGroupedBatchSampler(lengths, batch_size=4, seed=4).load_state_dict(sampler.state_dict())


def test_packing_fills_bins_and_marks_record_boundaries(finetune_dir):
    dataset = FinetuneDataset(finetune_dir, mask_prompt=False)
    capacity = int(dataset.lengths.max()) + 10
    packed = PackedFinetuneDataset(dataset, capacity)
    assert sorted(i for members in packed.bins for i in members) == list(range(100))
    assert all(dataset.lengths[members].sum() <= capacity for members in packed.bins)
    assert len(packed) < 100 and len(packed) == len(pack_lengths(dataset.lengths, capacity))
    item = packed[0]
    members = packed.bins[0]
    starts = np.cumsum([0, *dataset.lengths[members][:-1]])
    assert item["segment_ids"].unique().tolist() == list(range(1, len(members) + 1))
    for start, member in zip(starts, members, strict=True):
        length = int(dataset.lengths[member])
        assert item["position_ids"][start : start + length].tolist() == list(range(length))
        assert item["labels"][start] == IGNORE_INDEX  # no record learns to predict the next one's start
        assert item["labels"][start + 1 : start + length].tolist() == dataset[member]["labels"][1:].tolist()
    with pytest.raises(LitftError, match="does not fit"):
        PackedFinetuneDataset(dataset, capacity - 20)


def test_packed_hidden_states_isolate_records_and_plain_ones_do_not():
    from litgpt import Config
    from litgpt.model import GPT

    torch.manual_seed(0)
    settings = dict(
        n_layer=2,
        n_embd=64,
        n_head=4,
        n_query_groups=2,
        block_size=64,
        vocab_size=100,
        padded_vocab_size=128,
        rotary_percentage=0.5,
        bias=False,
        mlp_class_name="LLaMAMLP",
        intermediate_size=128,
        norm_class_name="RMSNorm",
    )
    model = GPT(Config(**settings)).eval()
    first, second = torch.randint(0, 100, (1, 7)), torch.randint(0, 100, (1, 11))
    samples = [
        {
            "input_ids": torch.cat([first, second], 1)[0],
            "position_ids": torch.cat([torch.arange(7), torch.arange(11)]),
            "segment_ids": torch.tensor([1] * 7 + [2] * 11),
        },
        {"input_ids": second[0], "position_ids": torch.arange(11), "segment_ids": torch.ones(11, dtype=torch.int64)},
    ]
    batch = collate_finetune(samples)
    with torch.no_grad():
        packed = final_hidden_states(model, batch["input_ids"], batch["position_ids"], batch["segment_ids"])
        alone_first, alone_second = final_hidden_states(model, first), final_hidden_states(model, second)
        plain = final_hidden_states(model, batch["input_ids"][:1])
    torch.testing.assert_close(packed[0, :7], alone_first[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(packed[0, 7:], alone_second[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(packed[1, :11], alone_second[0], rtol=1e-5, atol=1e-5)  # padded row unaffected
    assert (plain[0, 7:] - alone_second[0]).abs().max() > 1e-2  # a plain forward lets records see each other
    windowed = GPT(Config(**settings, sliding_window_size=4))
    with pytest.raises(LitftError, match="sliding-window"):
        final_hidden_states(windowed, batch["input_ids"], batch["position_ids"], batch["segment_ids"])
    mask = packed_attention_mask(batch["segment_ids"], torch.float32)  # additive: 0 attends, -inf does not
    assert mask.shape == (2, 1, 18, 18) and mask[0, 0, 6, 0] == 0 and mask[0, 0, 17, 17] == 0
    assert mask[0, 0, 7, 6] == float("-inf") and mask[0, 0, 0, 1] == float("-inf")


def test_a_token_file_shorter_than_its_meta_is_refused_when_opened(finetune_dir, tmp_path):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(finetune_dir, damaged)
    (damaged / "train.bin").write_bytes((damaged / "train.bin").read_bytes()[:-2])
    with pytest.raises(LitftError, match="damaged or incomplete"):
        FinetuneDataset(damaged)


def test_sampler_refuses_a_state_saved_over_other_records(finetune_dir):
    lengths = FinetuneDataset(finetune_dir).lengths
    sampler = LengthGroupedBatchSampler(lengths, batch_size=8, seed=4)
    next(iter(sampler))
    state = sampler.state_dict()
    with pytest.raises(LitftError, match="records=100 but this run has 99"):
        LengthGroupedBatchSampler(lengths[:99], batch_size=8, seed=4).load_state_dict(state)
    older = {key: value for key, value in state.items() if key != "records"}  # saved before `records` existed
    resumed = LengthGroupedBatchSampler(lengths, batch_size=8, seed=4)
    resumed.load_state_dict(older)
    assert resumed.batches_consumed == 1


def _damaged_copy(finetune_dir, tmp_path):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(finetune_dir, damaged)
    return damaged


def test_a_damaged_index_is_refused_in_one_sentence(finetune_dir, tmp_path):
    import pickle

    damaged = _damaged_copy(finetune_dir, tmp_path)
    index_path = damaged / "train.index.npy"
    good = index_path.read_bytes()
    rows = np.load(finetune_dir / "train.index.npy")
    forms = {
        "truncated": lambda: index_path.write_bytes(good[: len(good) // 2]),
        "empty": lambda: index_path.write_bytes(b""),
        "not an .npy": lambda: index_path.write_bytes(b"offset,length,prompt_length\n0,5,2\n"),
        "pickled": lambda: index_path.write_bytes(pickle.dumps(rows.tolist())),
        "object array": lambda: np.save(index_path, np.array([{"offset": 0}] * 3, dtype=object), allow_pickle=True),
        "float rows": lambda: np.save(index_path, rows.astype(np.float64)),
        "two columns": lambda: np.save(index_path, rows[:, :2].copy()),
        "past the tokens": lambda: np.save(index_path, rows + np.array([10**6, 0, 0])),
        "prompt longer than record": lambda: np.save(index_path, rows * np.array([1, 1, 0]) + np.array([0, 0, 10**4])),
    }
    for name, damage in forms.items():
        damage()
        with pytest.raises(
            LitftError, match=r"train.index.npy .*; the prepared dataset is damaged, re-run `litft prepare finetune`."
        ) as error:
            FinetuneDataset(damaged)
        assert "\n" not in str(error.value), name


def test_wrong_types_in_meta_json_are_refused_in_one_sentence(finetune_dir, tmp_path):
    import json

    damaged = _damaged_copy(finetune_dir, tmp_path)
    meta = json.loads((finetune_dir / "meta.json").read_text())
    forms = {
        "vocab_size 'x', not a positive integer": {**meta, "vocab_size": "x"},
        "token dtype 'float128', not uint16 or uint32": {**meta, "dtype": "float128"},
        "None as the train token count": {
            **meta,
            "splits": {**meta["splits"], "train": {k: v for k, v in meta["splits"]["train"].items() if k != "tokens"}},
        },
        "mask_prompt 'yes', not true or false": {**meta, "mask_prompt": "yes"},
        "names '../train.bin' as the train file": {
            **meta,
            "splits": {**meta["splits"], "train": {**meta["splits"]["train"], "file": "../train.bin"}},
        },
        "must hold a JSON object": [meta],
        "has tokenizer_dir 5, not a folder path": {**meta, "tokenizer_dir": 5},
    }
    train = meta["splits"]["train"]
    for key, name in [("file", ".."), ("index", "/etc/passwd"), ("mask", "../x"), ("mask", ".."), ("file", "a/b")]:
        splits = {**meta["splits"], "train": {**train, key: name}}
        forms[f"names {name!r} as the train {key}, not a file name in the dataset folder"] = {**meta, "splits": splits}
    for expected, content in forms.items():
        (damaged / "meta.json").write_text(json.dumps(content))
        with pytest.raises(LitftError, match="re-run `litft prepare`") as error:
            FinetuneDataset(damaged)
        assert expected in str(error.value)
