"""Hungarian matching of raw discovered keypoints to annotated landmarks.

A regression-free score: each annotated point ``l`` is assigned one distinct discovered keypoint
``k`` so that the total cost is minimal, where

    ``cost[l, k] = mean_i || keypoints[i, k] - labels[i, l] ||``

(mean distance over the N images), solved with :func:`scipy.optimize.linear_sum_assignment`.
The matched error is ``mean_l cost[l, assignment[l]]``. Keypoints and labels must be in the same
unit (e.g. both in pixels); with ``eye_indices`` the matched keypoints are also scored with the
inter-ocular-normalised error of :func:`landmarks.evaluation.metrics.iod_error`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from landmarks.evaluation.metrics import iod_error, validate_points

__all__ = ["MatchResult", "match_cost_matrix", "match_keypoints"]


@dataclass
class MatchResult:
    """Outcome of :func:`match_keypoints`.

    Attributes:
        assignment: ``(L,)`` int array; ``assignment[l]`` is the index into the K keypoints matched
            to annotated point ``l``.
        cost: ``(L, K)`` mean distance over images between every label and every keypoint.
        mean_error: mean matched distance ``mean_l cost[l, assignment[l]]``, in input units.
        per_label_error: ``(L,)`` matched distance ``cost[l, assignment[l]]``.
        iod_error_mean: inter-ocular-normalised error (%) of the matched keypoints, or ``None``
            when no ``eye_indices`` were given.
    """

    assignment: np.ndarray
    cost: np.ndarray
    mean_error: float
    per_label_error: np.ndarray
    iod_error_mean: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "assignment": [int(k) for k in self.assignment],
            "cost": self.cost.tolist(),
            "mean_error": float(self.mean_error),
            "per_label_error": [float(v) for v in self.per_label_error],
            "iod_error_mean": None if self.iod_error_mean is None else float(self.iod_error_mean),
        }


def match_cost_matrix(keypoints: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean distance over images between every annotated point and every discovered keypoint.

    Args:
        keypoints: ``(N, K, 2)`` discovered keypoints.
        labels: ``(N, L, 2)`` annotated points, same unit.

    Returns:
        ``(L, K)`` cost, ``cost[l, k] = mean_i || keypoints[i, k] - labels[i, l] ||``.
    """
    kp = validate_points(keypoints, "keypoints")
    lab = validate_points(labels, "labels")
    if kp.shape[0] != lab.shape[0]:
        raise ValueError(
            f"keypoints and labels: mismatched lengths, {kp.shape[0]} vs {lab.shape[0]} images"
        )
    diff = lab[:, :, None, :] - kp[:, None, :, :]  # (N, L, K, 2)
    return np.linalg.norm(diff, axis=-1).mean(axis=0)


def match_keypoints(
    keypoints: np.ndarray,
    labels: np.ndarray,
    eye_indices: Sequence[int] | None = None,
) -> MatchResult:
    """Match each annotated point to a distinct discovered keypoint (Hungarian algorithm).

    Args:
        keypoints: ``(N, K, 2)`` raw discovered keypoints, K >= L.
        labels: ``(N, L, 2)`` annotated points, same unit.
        eye_indices: optional ``(a, b)`` eye indices into the labels; when given, the matched
            keypoints are also scored with the inter-ocular-normalised error (%).

    Returns:
        A :class:`MatchResult`.

    Raises:
        ValueError: if K < L (not every label could get its own keypoint), or on invalid input.
    """
    kp = validate_points(keypoints, "keypoints")
    lab = validate_points(labels, "labels")
    k, l_ = kp.shape[1], lab.shape[1]
    if k < l_:
        raise ValueError(
            f"keypoints: Hungarian matching needs at least as many discovered keypoints as "
            f"annotated points, got K={k} keypoints for L={l_} labels"
        )
    cost = match_cost_matrix(kp, lab)
    rows, cols = linear_sum_assignment(cost)
    assignment = np.empty(l_, dtype=np.int64)
    assignment[rows] = cols
    per_label = cost[np.arange(l_), assignment]
    iod = None
    if eye_indices is not None:
        iod, _ = iod_error(kp[:, assignment], lab, eye_indices)
    return MatchResult(
        assignment=assignment,
        cost=cost,
        mean_error=float(per_label.mean()),
        per_label_error=per_label,
        iod_error_mean=iod,
    )
