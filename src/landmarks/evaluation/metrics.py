"""Landmark error metrics: inter-ocular-normalised error, PCK and error in % of the image side,
on NumPy arrays.

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
  pixels, as used for BBC-Pose), and per part ``100 * mean_i [...]``;
* error in % of the image side (Human3.6M): ``s_il = 100 * || pred[i, l] - gt[i, l] || / S`` for
  points in pixels of an S×S image, reported as ``mean_{i, l} s_il``, per point, and -- when each
  image belongs to a group (a Human3.6M activity) -- per group and as the mean of the per-group
  means (each group counts once, however many images it has).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "EYE_INDICES",
    "check_image_side",
    "group_means",
    "inter_ocular_distance",
    "iod_error",
    "normalized_point_errors",
    "pck",
    "pck_curve",
    "point_distances",
    "size_error",
    "size_point_errors",
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


def size_point_errors(pred: np.ndarray, gt: np.ndarray, image_side: float) -> np.ndarray:
    """Point errors in % of the image side: ``100 * || pred[i, l] - gt[i, l] || / S``.

    Args:
        pred: ``(N, L, 2)`` predicted points, in pixels of the S×S image.
        gt: ``(N, L, 2)`` annotated points, same pixels.
        image_side: S, the side of that image in those pixels (a positive finite number).

    Returns:
        ``(N, L)`` float64 errors in %.

    Raises:
        ValueError: naming ``image_side`` when it is not a positive finite number, or the array
            at fault (as :func:`point_distances`).
    """
    side = check_image_side(image_side)
    return 100.0 * point_distances(pred, gt) / side


def group_means(values: np.ndarray, groups: Sequence[str]) -> dict[str, float]:
    """The mean of ``values`` within each group.

    Args:
        values: ``(N,)`` one finite value per image (e.g. its mean point error).
        groups: ``N`` non-empty group names, one per image (e.g. Human3.6M activities).

    Returns:
        ``{group: mean of its values}``, groups sorted by name.

    Raises:
        ValueError: naming ``values`` when it is not a non-empty finite ``(N,)`` array (with the
            first bad index), naming ``groups`` when the lengths differ (with both) or a group is
            not a non-empty string (with the image index and the value).
    """
    try:
        vals = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"values: expected a numeric array of shape (N,); {exc}") from exc
    if vals.ndim != 1 or vals.shape[0] == 0:
        raise ValueError(f"values: expected shape (N,) with N >= 1, got shape {vals.shape}")
    bad = np.flatnonzero(~np.isfinite(vals))
    if bad.size:
        raise ValueError(f"values: expected finite values, found {bad.size} non-finite "
                         f"value(s), first at image {int(bad[0])}")
    names = list(groups)
    if len(names) != vals.shape[0]:
        raise ValueError(f"groups: expected one group per image, got {len(names)} groups for "
                         f"{vals.shape[0]} images")
    for i, g in enumerate(names):
        if not isinstance(g, str) or not g:
            raise ValueError(f"groups: image {i} has group {g!r}; expected a non-empty string")
    labels = np.asarray(names, dtype=object)
    return {g: float(vals[labels == g].mean()) for g in sorted(set(names))}


def size_error(
    pred: np.ndarray, gt: np.ndarray, image_side: float, groups: Sequence[str] | None = None
) -> dict[str, Any]:
    """The Human3.6M metric (Zhang et al. 2018; Jakab et al. 2018): mean L2 error of the points
    divided by the image side, in %, overall, per point and, with ``groups``, per group.

    Args:
        pred: ``(N, L, 2)`` predicted points, in pixels of the S×S image.
        gt: ``(N, L, 2)`` annotated points, same pixels.
        image_side: S (a positive finite number of pixels).
        groups: optional ``N`` non-empty group names, one per image (e.g. its activity).

    Returns:
        ``{"mean": 100 * mean_{i,l} e_il, "per_point": [L] 100 * mean_i e_il}`` with
        ``e_il = || pred[i, l] - gt[i, l] || / S``; with ``groups`` also ``"per_group"`` (``{name:
        mean over the group's images and points}``, names sorted), ``"mean_over_groups"`` (the
        mean of the per-group means: each group counts once, the paper's per-activity
        averaging) and ``"group_frames"`` (``{name: number of images}``).

    Raises:
        ValueError: as :func:`size_point_errors` and :func:`group_means`.
    """
    err = size_point_errors(pred, gt, image_side)
    out: dict[str, Any] = {"mean": float(err.mean()), "per_point": err.mean(axis=0).tolist()}
    if groups is not None:
        names = list(groups)
        per_group = group_means(err.mean(axis=1), names)
        out["per_group"] = per_group
        out["mean_over_groups"] = float(np.mean(list(per_group.values())))
        counts = Counter(names)
        out["group_frames"] = {g: counts[g] for g in per_group}
    return out


def check_image_side(image_side: float) -> float:
    """``image_side`` as a float, after checking it is a positive finite number of pixels.

    Raises:
        ValueError: naming ``image_side`` (and its value) when it is not a positive finite real
            number (bools, strings, NaN, inf, 0 and negatives are refused).
    """
    if isinstance(image_side, bool | np.bool_) \
            or not isinstance(image_side, int | float | np.integer | np.floating) \
            or not np.isfinite(image_side) or image_side <= 0:
        raise ValueError(f"image_side: expected a positive finite number of pixels, got "
                         f"{image_side!r}")
    return float(image_side)


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
