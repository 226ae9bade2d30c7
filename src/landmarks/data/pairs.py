"""Temporal pair sampling shared by every video-like reader (video files, frame folders,
BBC-Pose, Human3.6M, VoxCeleb): a flat dataset index names a target frame of one clip, and the
source frame is drawn from the same clip a random gap away (the paper's frame pairs)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import torch


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
