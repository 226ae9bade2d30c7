"""Training health: figures that tell a detector that learns from one that collapsed, and the
warnings the trainer prints when they cross a line.

Measured failure (2026-11-30, real faces): Adam's L2 decay shrank the landmark branch's weights
4–10× within 200 steps and every point ended on one vertical line (x spread ≈ 0), while the
loss still went down. These figures make that visible in the log, the progress bar and the
report, and :class:`HealthMonitor` says so in words, naming the step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn

__all__ = ["COLLAPSE_SPREAD", "SHRINK_FACTOR", "HealthMonitor", "keypoint_health", "weight_rms"]

#: Below this standard deviation of the K points' x (or y), in normalised units, the points sit
#: on one line: 0.05 is 1.6 px of a 64-px image. (At initialisation it is ~0.03: flat softmax.)
COLLAPSE_SPREAD = 0.05
#: The detector's weights are "shrinking toward zero" below this fraction of their first rms.
SHRINK_FACTOR = 0.25


def keypoint_health(out: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Detached health figures of one batch of detector outputs.

    Args:
        out: "keypoints" (B,K,2); optional "prob_x" (B,K,w) and "prob_y" (B,K,h).

    Returns:
        "health/spread_x", "health/spread_y": the standard deviation over the K points of x and
        of y, averaged over the batch (normalised units; 0 = every point on one vertical /
        horizontal line); "health/peak": the mean over points and axes of the marginals' largest
        probability (1/n for a flat n-bin marginal, 1 for a one-hot one). Scalars on the
        outputs' device (no host synchronisation).
    """
    with torch.no_grad():
        kp = out["keypoints"].float()
        spread = kp.std(dim=1, unbiased=False).mean(dim=0) if kp.shape[1] > 1 else kp[0, 0] * 0
        figures = {"health/spread_x": spread[0], "health/spread_y": spread[1]}
        if "prob_x" in out and "prob_y" in out:
            peak = (out["prob_x"].float().amax(-1).mean() + out["prob_y"].float().amax(-1).mean())
            figures["health/peak"] = peak / 2
    return figures


def weight_rms(parameters: Iterable[Tensor]) -> float:
    """Root mean square of all the weight tensors (dim > 1: convolutions and linear layers;
    BatchNorm scales and biases excluded) in ``parameters``."""
    total, count = 0.0, 0
    with torch.no_grad():
        for p in parameters:
            if p.dim() > 1:
                total += float(p.float().square().sum())
                count += p.numel()
    return math.sqrt(total / count) if count else math.nan


class HealthMonitor:
    """Turns the logged health figures into warnings (each printed once per episode).

    Args:
        detector: the module(s) whose weights are watched (the landmark branch), or None.
        warmup: steps before a collapse is reported (the softmax starts flat).
        collapse_spread: see :data:`COLLAPSE_SPREAD`.
        shrink_factor: see :data:`SHRINK_FACTOR`.
    """

    def __init__(self, detector: Iterable[nn.Module] | None, warmup: int = 200,
                 collapse_spread: float = COLLAPSE_SPREAD,
                 shrink_factor: float = SHRINK_FACTOR) -> None:
        self.detector = list(detector or [])
        self.warmup = warmup
        self.collapse_spread = collapse_spread
        self.shrink_factor = shrink_factor
        self.initial_rms = self._rms()
        self._collapsed = False
        self._shrunk = False

    def _rms(self) -> float:
        return weight_rms(p for m in self.detector for p in m.parameters())

    def check(self, step: int, row: Mapping[str, float]) -> tuple[dict[str, float], list[str]]:
        """Figures to add to the log row ("health/detector_rms" relative to its start) and the
        warnings for this row (empty when healthy or already reported)."""
        figures: dict[str, float] = {}
        warnings: list[str] = []
        if self.detector and self.initial_rms > 0:
            ratio = self._rms() / self.initial_rms
            figures["health/detector_rms"] = ratio
            shrunk = ratio < self.shrink_factor
            if shrunk and not self._shrunk:
                warnings.append(
                    f"step {step}: the landmark detector's weights shrank to {ratio:.2f}× their "
                    f"initial rms: weight decay may be crushing the landmark branch (see "
                    f"optim.name / optim.weight_decay)")
            self._shrunk = shrunk
        sx, sy = row.get("health/spread_x"), row.get("health/spread_y")
        if sx is not None and sy is not None and step >= self.warmup:
            collapsed = min(sx, sy) < self.collapse_spread
            if collapsed and not self._collapsed:
                axis = "x" if sx < sy else "y"
                warnings.append(
                    f"step {step}: the keypoints collapsed: their {axis} spread is "
                    f"{min(sx, sy):.3f} (< {self.collapse_spread}); the points sit on one "
                    f"{'vertical' if axis == 'x' else 'horizontal'} line or place")
            self._collapsed = collapsed
        return figures, warnings
