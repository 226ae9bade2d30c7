"""A fixed colour per keypoint index, the same in every run and every figure.

Keypoint ``i`` always gets the same colour whatever the total number of keypoints, so
``keypoint_colors(k)[:j]`` equals ``keypoint_colors(j)``:

* indices 0-9 take matplotlib's ``tab10`` palette (the saturated half of ``tab20``),
* indices 10-19 take the light half of ``tab20`` (the light partner of colour ``i - 10``),
* indices from 20 on are picked greedily from a fixed HSV grid: each new colour is the grid
  colour farthest (in RGB) from every colour chosen before it, so the sequence stays spread
  out and never changes from run to run.
"""

from __future__ import annotations

import colorsys
from functools import lru_cache

import numpy as np
from matplotlib import colormaps

__all__ = ["keypoint_colors"]

_GOLDEN = 0.6180339887498949


def _qualitative_palette() -> np.ndarray:
    """The 20 qualitative colours: tab10 first, then the light tab20 partners. (20, 3) float64."""
    tab20 = np.asarray(colormaps["tab20"].colors, dtype=np.float64)  # (20, 3) in [0, 1]
    return np.concatenate([tab20[0::2], tab20[1::2]], axis=0) * 255.0


def _candidate_grid() -> np.ndarray:
    """Fixed HSV grid of saturated-enough colours to draw extra ones from. (N, 3) float64."""
    cands = [
        colorsys.hsv_to_rgb(h / 48.0, s, v)
        for v in (1.0, 0.8, 0.6)
        for s in (1.0, 0.7, 0.45)
        for h in range(48)
    ]
    return np.asarray(cands, dtype=np.float64) * 255.0


@lru_cache(maxsize=8)
def _palette(k: int) -> np.ndarray:
    """Deterministic palette of ``k`` colours (prefix-stable). (k, 3) uint8, read-only."""
    chosen = _qualitative_palette()[: min(k, 20)]
    if k > 20:
        cands = _candidate_grid()
        dist = np.min(np.linalg.norm(cands[:, None, :] - chosen[None, :, :], axis=-1), axis=1)
        extra = []
        for i in range(20, k):
            if i - 20 < len(cands):
                j = int(np.argmax(dist))  # ties resolve to the lowest index: deterministic
                new = cands[j]
                dist = np.minimum(dist, np.linalg.norm(cands - new, axis=-1))
                dist[j] = -1.0  # never pick the same candidate twice
            else:  # beyond the grid: a golden-ratio hue walk (colours may then be close)
                new = np.asarray(colorsys.hsv_to_rgb((i * _GOLDEN) % 1.0, 0.85, 0.9)) * 255.0
            extra.append(new)
        chosen = np.concatenate([chosen, np.asarray(extra)], axis=0)
    out = np.round(chosen).astype(np.uint8)
    out.setflags(write=False)
    return out


def keypoint_colors(k: int) -> np.ndarray:
    """Distinct, deterministic colours for keypoints ``0 .. k-1``.

    Args:
        k: number of keypoints (``>= 0``).

    Returns:
        ``(k, 3)`` uint8 RGB array (a fresh, writable copy); row ``i`` is the colour of
        keypoint ``i``, the same for every ``k > i``.
    """
    if k < 0:
        raise ValueError(f"number of keypoints must be >= 0, got {k}")
    return _palette(int(k)).copy()
