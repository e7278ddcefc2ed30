"""PretrainDataset: window contents, rank sharding, epoch shuffling, exact resume."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from litft.common.errors import LitftError
from litft.readers import PretrainDataset


def test_windows_are_block_plus_one_slices_of_the_memmap(pretrain_dir):
    tokens = np.fromfile(pretrain_dir / "train.bin", dtype=np.uint16)
    dataset = PretrainDataset(pretrain_dir, block_size=16, shuffle=False)
    assert len(dataset) == dataset.num_windows == (len(tokens) - 1) // 16
    for k in (0, 1, len(dataset) - 1):
        assert dataset[k].dtype == torch.int64
        assert dataset[k].tolist() == tokens[k * 16 : k * 16 + 17].tolist()
    assert dataset[0][-1] == dataset[1][0]  # consecutive windows share one token: each token is a target once
    val = PretrainDataset(pretrain_dir, block_size=16, split="val", shuffle=False)
    assert val[0].tolist() == np.fromfile(pretrain_dir / "val.bin", dtype=np.uint16)[:17].tolist()
    assert len(pickle.dumps(dataset)) < 10_000 + dataset.num_windows * 8  # workers get the path, not the tokens


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_ranks_cover_every_window_exactly_once_per_epoch(pretrain_dir, world_size):
    for epoch in (0, 1):
        shards = []
        for rank in range(world_size):
            dataset = PretrainDataset(pretrain_dir, block_size=8, rank=rank, world_size=world_size, seed=5)
            dataset.set_epoch(epoch)
            shards.append(dataset.window_order(epoch))
            assert [dataset[i].tolist() for i in range(3)] == [dataset.window(n).tolist() for n in shards[-1][:3]]
        covered = np.concatenate(shards)
        assert sorted(covered.tolist()) == list(range(dataset.num_windows))
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
        assert min(map(len, shards)) == dataset.common_length


def test_shuffle_is_seeded_per_epoch(pretrain_dir):
    dataset = PretrainDataset(pretrain_dir, block_size=8, seed=1)
    same_seed = PretrainDataset(pretrain_dir, block_size=8, seed=1)
    assert np.array_equal(dataset.window_order(0), same_seed.window_order(0))
    assert not np.array_equal(dataset.window_order(0), dataset.window_order(1))
    assert not np.array_equal(
        dataset.window_order(0), PretrainDataset(pretrain_dir, block_size=8, seed=2).window_order(0)
    )


def test_resume_from_state_dict_continues_exactly_across_epochs(pretrain_dir):
    def make(rank: int) -> PretrainDataset:
        return PretrainDataset(pretrain_dir, block_size=32, rank=rank, world_size=2, seed=3)

    steps = len(make(0)) // 4 + 2  # crosses an epoch boundary
    uninterrupted = {}
    for rank in (0, 1):
        stream = make(rank).iter_batches(4)
        uninterrupted[rank] = [next(stream) for _ in range(steps + 3)]

    interrupted = make(0)
    stream = interrupted.iter_batches(4)
    for step in range(steps):
        assert torch.equal(next(stream), uninterrupted[0][step])
    state = interrupted.state_dict()
    for rank in (0, 1):  # rank 0's saved state restores every rank: all consume the same windows per step
        resumed = make(rank)
        resumed.load_state_dict(state)
        assert resumed.epoch == 1
        stream = resumed.iter_batches(4)
        for step in range(steps, steps + 3):
            assert torch.equal(next(stream), uninterrupted[rank][step])
    with pytest.raises(LitftError, match="block_size=32"):
        PretrainDataset(pretrain_dir, block_size=16, seed=3).load_state_dict(state)


def test_too_little_data_for_one_window_per_rank_is_a_user_error(pretrain_dir):
    with pytest.raises(LitftError, match="fewer than 2 window"):
        PretrainDataset(pretrain_dir, block_size=10**6, world_size=2)


def test_a_token_file_shorter_than_its_meta_is_refused_when_opened(pretrain_dir, tmp_path):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(pretrain_dir, damaged)
    with open(damaged / "train.bin", "r+b") as fh:  # as a copy cut short by a full disk leaves it
        fh.truncate((damaged / "train.bin").stat().st_size - 2)
    with pytest.raises(
        LitftError,
        match=r"train.bin is [0-9,]+ bytes but meta.json records [0-9,]+ uint16 tokens .*damaged or incomplete",
    ):
        PretrainDataset(damaged, block_size=8)
    PretrainDataset(damaged, block_size=8, split="val")  # the intact split still opens
