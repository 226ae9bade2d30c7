"""Landmark error metrics: inter-ocular-normalised error and PCK, on NumPy arrays.

Every function takes point sets of shape ``(N, P, 2)`` -- N images, P points, ``(x, y)`` per
point -- in one consistent unit. The inter-ocular-normalised error is scale free, so any unit
works (pixels or the library's ``[-1, 1]`` coordinates, as long as prediction and ground truth
agree). PCK thresholds are absolute distances, so PCK expects *pixels* (convert with
:mod:`landmarks.geometry.coords` first).

Definitions (Zhang et al. 2018; Jakab et al. 2018):

* inter-ocular distance of image i: ``d_i = || gt[i, a] - gt[i, b] ||`` for the two eye indices
  ``(a, b)`` (outer eye corners, or eye centres on MAFL's 5-point annotation);
* normalised point error: ``e_il = || pred[i, l] - gt[i, l] || / d_i``;
* reported error: ``100 * mean_{i, l} e_il`` in %, and per point ``100 * mean_i e_il``;
* PCK@d: ``100 * mean_{i, l} [ || pred[i, l] - gt[i, l] || <= d ]`` in % (default ``d = 6``
  pixels, as used for BBC-Pose), and per part ``100 * mean_i [...]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "EYE_INDICES",
    "inter_ocular_distance",
    "iod_error",
    "normalized_point_errors",
    "pck",
    "pck_curve",
    "point_distances",
    "validate_eye_indices",
    "validate_points",
]

#: Eye indices ``(a, b)`` of common annotation formats (0-based). MAFL and the 5-point AFLW
#: of Zhang et al. list left eye, right eye, nose, left and right mouth corner (eye *centres*);
#: the 68-point 300-W / iBUG scheme has its outer eye corners at points 37 and 46 (1-based).
EYE_INDICES: dict[str, tuple[int, int]] = {
    "mafl": (0, 1),
    "aflw": (0, 1),
    "300w": (36, 45),
}


def validate_points(array: object, name: str, expected_points: int | None = None) -> np.ndarray:
    """Check that ``array`` is a finite point set ``(N, P, 2)`` and return it as float64.

    Args:
        array: anything :func:`numpy.asarray` accepts (a NumPy array, a nested list, a CPU
            tensor), expected shape ``(N, P, 2)``.
        name: the name of the array, used in error messages (e.g. ``"test_labels"``).
        expected_points: if given, P must equal it.

    Returns:
        ``(N, P, 2)`` float64 array (a copy only where a conversion was needed).

    Raises:
        ValueError: naming ``name``, the expected shape and what was found, when the array is
            not numeric, does not have 3 dimensions, its last axis is not 2, it holds no image,
            it has the wrong number of points, or it holds NaN/inf values (with the first bad
            image index).
    """
    want = f"(N, {expected_points if expected_points is not None else 'P'}, 2)"
    try:
        arr = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a numeric array of shape {want}; {exc}") from exc
    if arr.ndim != 3:
        raise ValueError(
            f"{name}: expected shape {want}, got {arr.ndim} dimension(s) with shape {arr.shape}"
        )
    if arr.shape[2] != 2:
        raise ValueError(
            f"{name}: expected shape {want} with (x, y) on the last axis, got shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: expected shape {want} with N >= 1, got shape {arr.shape}")
    if expected_points is not None and arr.shape[1] != expected_points:
        raise ValueError(
            f"{name}: expected shape {want}, got {arr.shape[1]} points (shape {arr.shape})"
        )
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)
        kinds = "/".join(k for k, m in (("NaN", np.isnan(arr)), ("inf", np.isinf(arr))) if m.any())
        raise ValueError(
            f"{name}: expected finite values in shape {want}, found {len(bad)} non-finite "
            f"({kinds}) value(s), first at image {int(bad[0, 0])}, point {int(bad[0, 1])}"
        )
    return arr


def validate_eye_indices(eye_indices: Sequence[int], num_points: int) -> tuple[int, int]:
    """Check that ``eye_indices`` are two distinct point indices in ``[0, num_points)``.

    Args:
        eye_indices: ``(a, b)``, the indices of the two eye points in the annotation.
        num_points: L, the number of annotated points.

    Returns:
        ``(a, b)`` as Python ints.

    Raises:
        ValueError: if there are not exactly two indices, they are equal, or out of range.
    """
    idx = tuple(eye_indices)
    if len(idx) != 2:
        raise ValueError(f"eye_indices: expected two point indices (a, b), got {idx!r}")
    a, b = (int(i) for i in idx)
    if a == b:
        raise ValueError(f"eye_indices: the two eye indices must differ, got ({a}, {b})")
    for i in (a, b):
        if not 0 <= i < num_points:
            raise ValueError(
                f"eye_indices: index {i} is out of range for {num_points} annotated points"
            )
    return a, b


def point_distances(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance between corresponding points.

    Args:
        pred: ``(N, P, 2)`` predicted points.
        gt: ``(N, P, 2)`` ground-truth points, same unit.

    Returns:
        ``(N, P)`` distances ``|| pred[i, p] - gt[i, p] ||``.
    """
    gt = validate_points(gt, "gt")
    pred = validate_points(pred, "pred", expected_points=gt.shape[1])
    _check_same_images(pred, gt)
    return np.linalg.norm(pred - gt, axis=-1)


def inter_ocular_distance(
    labels: np.ndarray, eye_indices: Sequence[int], name: str = "labels"
) -> np.ndarray:
    """Inter-ocular distance ``d_i = || labels[i, a] - labels[i, b] ||`` of every image.

    Args:
        labels: ``(N, L, 2)`` annotated points.
        eye_indices: ``(a, b)``, indices of the two outer eye corners (or eye centres).
        name: name of ``labels`` used in error messages.

    Returns:
        ``(N,)`` distances, in the unit of ``labels``.

    Raises:
        ValueError: if an image has zero inter-ocular distance (names the image index), or on
            invalid ``labels`` / ``eye_indices``.
    """
    labels = validate_points(labels, name)
    a, b = validate_eye_indices(eye_indices, labels.shape[1])
    iod = np.linalg.norm(labels[:, a] - labels[:, b], axis=-1)
    zero = np.flatnonzero(iod <= 0.0)
    if zero.size:
        raise ValueError(
            f"{name}: zero inter-ocular distance (eye points {a} and {b} coincide) at image "
            f"index {int(zero[0])}" + (f" and {zero.size - 1} more" if zero.size > 1 else "")
        )
    return iod


def normalized_point_errors(
    pred: np.ndarray, gt: np.ndarray, eye_indices: Sequence[int]
) -> np.ndarray:
    """Point-to-point errors divided by each image's inter-ocular distance (fractions).

    ``e_il = || pred[i, l] - gt[i, l] || / d_i`` with ``d_i`` from :func:`inter_ocular_distance`
    on ``gt``.

    Args:
        pred: ``(N, L, 2)`` predicted points.
        gt: ``(N, L, 2)`` annotated points, same unit as ``pred``.
        eye_indices: ``(a, b)`` eye point indices in ``gt``.

    Returns:
        ``(N, L)`` normalised errors as fractions (0.1 means 10% of the inter-ocular distance).
    """
    dist = point_distances(pred, gt)
    iod = inter_ocular_distance(gt, eye_indices, name="gt")
    return dist / iod[:, None]


def iod_error(
    pred: np.ndarray, gt: np.ndarray, eye_indices: Sequence[int]
) -> tuple[float, np.ndarray]:
    """Mean inter-ocular-normalised error in %, overall and per point.

    Args:
        pred: ``(N, L, 2)`` predicted points.
        gt: ``(N, L, 2)`` annotated points, same unit as ``pred``.
        eye_indices: ``(a, b)`` eye point indices in ``gt``.

    Returns:
        ``(mean, per_point)``: ``100 * mean_{i,l} e_il`` as a float, and ``(L,)`` array
        ``100 * mean_i e_il``.
    """
    err = normalized_point_errors(pred, gt, eye_indices)
    return float(100.0 * err.mean()), 100.0 * err.mean(axis=0)


def pck(pred: np.ndarray, gt: np.ndarray, threshold: float = 6.0) -> tuple[float, np.ndarray]:
    """Percentage of correct keypoints: points within ``threshold`` of the ground truth.

    A point counts as correct when its distance is ``<= threshold`` (inclusive).

    Args:
        pred: ``(N, P, 2)`` predicted points, in pixels.
        gt: ``(N, P, 2)`` annotated points, in pixels.
        threshold: distance in pixels (default 6, the BBC-Pose convention).

    Returns:
        ``(overall, per_part)``: % of all N*P points that are correct, and ``(P,)`` % of images
        in which each part is correct.
    """
    threshold = _check_threshold(threshold)
    correct = point_distances(pred, gt) <= threshold
    return float(100.0 * correct.mean()), 100.0 * correct.mean(axis=0)


def pck_curve(pred: np.ndarray, gt: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """Overall PCK at each of several thresholds (the PCK curve).

    Args:
        pred: ``(N, P, 2)`` predicted points, in pixels.
        gt: ``(N, P, 2)`` annotated points, in pixels.
        thresholds: ``(T,)`` distances in pixels; the curve is non-decreasing wherever the
            thresholds are.

    Returns:
        ``(T,)`` PCK in % at each threshold, as :func:`pck` (``<=`` inclusive).
    """
    thr = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if thr.size == 0:
        raise ValueError("thresholds: expected at least one threshold, got none")
    for t in thr:
        _check_threshold(float(t))
    dist = point_distances(pred, gt).reshape(-1)
    return 100.0 * (dist[None, :] <= thr[:, None]).mean(axis=1)


def _check_threshold(threshold: float) -> float:
    t = float(threshold)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"threshold: expected a finite distance >= 0, got {threshold!r}")
    return t


def _check_same_images(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape[0] != gt.shape[0]:
        raise ValueError(
            f"pred and gt: mismatched number of images, {pred.shape[0]} vs {gt.shape[0]}"
        )
