"""A resumable, rank-sharded shuffling sampler.

Epoch ``e`` is a fixed permutation drawn from ``seed + e``; rank ``r`` of ``W`` takes every W-th
index; iteration can start at any position, so a resumed run sees exactly the data order it
would have seen without the interruption.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    def __init__(self, length: int, batch_size: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1) -> None:
        self.length = length
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        """Full batches per epoch and rank (the last partial batch is dropped)."""
        return self.length // self.world_size // self.batch_size

    def set_position(self, global_step: int) -> None:
        """Start at the batch that training step ``global_step`` (0-based) consumes."""
        self.epoch, self.start_batch = divmod(global_step, self.batches_per_epoch)

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.length, generator=g)
        mine = order[self.rank::self.world_size][: self.batches_per_epoch * self.batch_size]
        yield from mine[self.start_batch * self.batch_size:].tolist()

    def next_epoch(self) -> None:
        self.epoch += 1
        self.start_batch = 0
