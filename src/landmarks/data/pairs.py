"""Temporal pair sampling shared by every video-like reader (video files, frame folders,
BBC-Pose, Human3.6M, VoxCeleb): a flat dataset index names a target frame of one clip, and the
source frame is drawn from the same clip a random gap away (the paper's frame pairs). Also the
check of ``data.frame_gap`` and the item dict every pair dataset returns."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from landmarks.data.transforms import uint8_to_tensor


def check_frame_gap(frame_gap: Sequence[int]) -> tuple[int, int]:
    """``data.frame_gap`` as ``(min_gap, max_gap)``; raises ValueError unless it is two integers
    with ``1 <= min <= max``."""
    if len(frame_gap) != 2 or not 1 <= int(frame_gap[0]) <= int(frame_gap[1]):
        raise ValueError(f"frame_gap: expected (min, max) with 1 <= min <= max, "
                         f"got {tuple(frame_gap)}")
    return int(frame_gap[0]), int(frame_gap[1])


def locate(ends: Sequence[int], index: int) -> tuple[int, int]:
    """Map a flat ``index`` to ``(clip, position in that clip)``, given the cumulative clip
    lengths ``ends`` (``ends[i]`` = number of frames in clips 0..i). Negative indices count from
    the end; out of range raises IndexError."""
    n = ends[-1] if ends else 0
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise IndexError(f"index {index} out of range for {n} frames")
    clip = bisect.bisect_right(ends, index)
    return clip, index - (ends[clip - 1] if clip else 0)


def pick_partner_frame(t: int, n: int, min_gap: int, max_gap: int) -> int:
    """The source frame for target frame ``t`` of a clip of ``n`` frames: a gap drawn uniformly
    from ``[min_gap, min(max_gap, farthest frame)]`` in a random direction that stays inside the
    clip (uses torch's RNG, so DataLoader worker seeding applies). In the middle of a clip too
    short for ``min_gap`` the farthest frame is used."""
    hi = min(max_gap, max(t, n - 1 - t))
    lo = min(min_gap, hi)
    g = int(torch.randint(lo, hi + 1, (1,)).item())
    directions = [d for d in (-1, 1) if 0 <= t + d * g <= n - 1]
    return t + directions[int(torch.randint(len(directions), (1,)).item())] * g


def pair_item(target: np.ndarray, source: np.ndarray, t: int, s: int) -> dict[str, Tensor]:
    """The item of a frame-pair dataset: ``{"source", "target": (3, S, S) float32 in [0, 1],
    "frames": (2,) int64 [t, s]}`` from the two ``(S, S, 3)`` uint8 frames and their frame
    numbers."""
    return {"source": uint8_to_tensor(source), "target": uint8_to_tensor(target),
            "frames": torch.tensor([t, s], dtype=torch.int64)}



class ClipFrames(Dataset):
    """Base of the frame-pair datasets: a flat index over the frames of several clips.

    A subclass sets ``min_gap`` / ``max_gap`` (:func:`check_frame_gap`) where it samples pairs,
    calls :meth:`index_clips` with its clips' lengths once they are known, and implements
    ``__getitem__`` with :meth:`locate` and :meth:`pick_source`.
    """

    min_gap: int
    max_gap: int

    def index_clips(self, lengths: Sequence[int]) -> None:
        """Index clips of ``lengths`` frames (at least one clip)."""
        self._ends: list[int] = [int(e) for e in np.cumsum(lengths)]

    def __len__(self) -> int:
        return self._ends[-1]

    def locate(self, index: int) -> tuple[int, int]:
        """Map a dataset index to ``(clip index, position in that clip)``."""
        return locate(self._ends, index)

    def pick_source(self, t: int, n: int) -> int:
        """A source frame for target ``t`` in a clip of ``n`` frames
        (:func:`pick_partner_frame`)."""
        return pick_partner_frame(t, n, self.min_gap, self.max_gap)
