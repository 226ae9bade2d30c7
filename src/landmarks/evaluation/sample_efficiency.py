"""Sample efficiency of the regression protocol (Jakab et al. 2018, Fig. 3).

The linear regressor of :mod:`landmarks.evaluation.regression` is fitted on n randomly drawn
labelled training images, for n in ``{1, 5, 10, 100, 500, 1000, 5000, all}``, and scored on the
whole test split; each n is repeated over ``draws`` (>= 10 in the paper) random draws and reported
as mean ± std of the test error (%): inter-ocular-normalised (``eye_indices``, the faces
benchmarks), or normalised by the image side (``image_side``, Human3.6M's metric ``"size"``: the
plain mean over all test points, not averaged per activity).

For n smaller than the number of unknowns per output (2K, or 2K + 1 with a bias) the
least-squares problem is underdetermined; :func:`numpy.linalg.lstsq` then returns the
*minimum-norm* solution, which is what these points of the curve measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from landmarks.evaluation.metrics import (
    check_image_side,
    iod_error,
    size_point_errors,
    validate_eye_indices,
    validate_points,
)
from landmarks.evaluation.regression import _check_lengths, fit_linear_regressor

__all__ = ["DEFAULT_SIZES", "format_table", "resolve_sizes", "sample_efficiency"]

#: The paper's training-set sizes; ``None`` stands for "all available".
DEFAULT_SIZES: tuple[int | None, ...] = (1, 5, 10, 100, 500, 1000, 5000, None)


def resolve_sizes(sizes: Sequence[int | None], available: int) -> list[int]:
    """The training-set sizes to evaluate, given how many labelled images there are.

    Sizes larger than ``available`` are skipped, ``None`` means ``available``, and ``available``
    ("all") is always included; duplicates are removed and the result is increasing.

    Args:
        sizes: requested sizes (positive ints) and/or ``None``.
        available: number of labelled training images, N >= 1.

    Returns:
        Sorted list of distinct sizes in ``[1, available]`` ending with ``available``.
    """
    out = {available}
    for s in sizes:
        if s is None:
            continue
        if isinstance(s, bool) or int(s) != s or s < 1:
            raise ValueError(f"sizes: expected positive integers or None, got {s!r}")
        if s <= available:
            out.add(int(s))
    return sorted(out)


def _test_error_for_subset(
    train_kp: np.ndarray,
    train_labels: np.ndarray,
    subset: np.ndarray,
    test_kp: np.ndarray,
    test_labels: np.ndarray,
    eye_indices: tuple[int, int] | None,
    bias: bool,
    image_side: float | None = None,
) -> float:
    """Fit on ``train_*[subset]`` and return the mean test error (%): IOD-normalised with
    ``eye_indices``, else normalised by ``image_side``."""
    regressor = fit_linear_regressor(train_kp[subset], train_labels[subset], bias=bias)
    pred = regressor.predict(test_kp)
    if eye_indices is not None:
        err, _ = iod_error(pred, test_labels, eye_indices)
        return err
    assert image_side is not None  # checked by sample_efficiency
    return float(size_point_errors(pred, test_labels, image_side).mean())


def _check_normaliser(
    eye_indices: tuple[int, int] | None, image_side: float | None, num_labels: int
) -> tuple[tuple[int, int] | None, float | None]:
    """Exactly one of ``eye_indices`` / ``image_side``, validated."""
    if (eye_indices is None) == (image_side is None):
        raise ValueError(
            "sample_efficiency: give exactly one normaliser, eye_indices (IOD error) or "
            f"image_side (error in % of the image side); got eye_indices={eye_indices!r}, "
            f"image_side={image_side!r}"
        )
    if eye_indices is not None:
        return validate_eye_indices(eye_indices, num_labels), None
    return None, check_image_side(image_side)


def sample_efficiency(
    train_kp: np.ndarray,
    train_labels: np.ndarray,
    test_kp: np.ndarray,
    test_labels: np.ndarray,
    eye_indices: tuple[int, int] | None = None,
    sizes: Sequence[int | None] = DEFAULT_SIZES,
    draws: int = 10,
    bias: bool = False,
    seed: int = 0,
    image_side: float | None = None,
) -> list[dict[str, Any]]:
    """Test error of the linear regressor as a function of the number of labelled images.

    For each size n (see :func:`resolve_sizes`), ``draws`` subsets of n distinct training images
    are drawn uniformly without replacement, a regressor is fitted on each (minimum-norm
    least squares when n is below the number of unknowns, 2K or 2K + 1), and the test error is
    computed. The draws of size n come from ``numpy.random.default_rng([seed, n])``, so a row does
    not depend on which other sizes were requested. n = all uses every training image; all
    draws would be identical, so it is fitted once and reported with ``draws == 1`` and
    ``std == 0``.

    Args:
        train_kp: ``(N, K, 2)`` discovered keypoints of the labelled training images.
        train_labels: ``(N, L, 2)`` their annotated points.
        test_kp: ``(M, K, 2)`` discovered keypoints of the test images.
        test_labels: ``(M, L, 2)`` their annotated points.
        eye_indices: ``(a, b)`` eye indices into the L annotated points: the error is the
            inter-ocular-normalised error (:func:`~landmarks.evaluation.metrics.iod_error`).
        sizes: requested numbers of training images; ``None`` means all.
        draws: random draws per size (>= 1; the paper uses 10).
        bias: fit an offset too.
        seed: base seed.
        image_side: instead of ``eye_indices``: the side S of the S×S image the points are in
            (pixels); the error is ``100 * mean_{i,l} ||pred[i,l] - gt[i,l]|| / S``, the plain
            mean over all test points. Exactly one of ``eye_indices`` / ``image_side``.

    Returns:
        One dict per size, increasing n: ``{"n": int, "mean": float, "std": float,
        "draws": int}``; mean and std (sample std, ``ddof=1``) of the test error in %.

    Raises:
        ValueError: on bad arrays, sizes or draws, or unless exactly one normaliser is given.
    """
    train_kp = validate_points(train_kp, "train_kp")
    train_labels = validate_points(train_labels, "train_labels")
    test_kp = validate_points(test_kp, "test_kp", expected_points=train_kp.shape[1])
    test_labels = validate_points(test_labels, "test_labels", expected_points=train_labels.shape[1])
    _check_lengths(train_kp, train_labels, "train_kp", "train_labels")
    _check_lengths(test_kp, test_labels, "test_kp", "test_labels")
    eyes, side = _check_normaliser(eye_indices, image_side, train_labels.shape[1])
    if isinstance(draws, bool) or int(draws) != draws or draws < 1:
        raise ValueError(f"draws: expected a positive integer, got {draws!r}")

    available = train_kp.shape[0]
    rows: list[dict[str, Any]] = []
    for n in resolve_sizes(sizes, available):
        if n == available:
            subsets = [np.arange(available)]
        else:
            rng = np.random.default_rng([seed, n])
            subsets = [rng.choice(available, size=n, replace=False) for _ in range(int(draws))]
        errors = np.array(
            [
                _test_error_for_subset(
                    train_kp, train_labels, s, test_kp, test_labels, eyes, bias, side
                )
                for s in subsets
            ]
        )
        rows.append(
            {
                "n": int(n),
                "mean": float(errors.mean()),
                "std": float(errors.std(ddof=1)) if errors.size > 1 else 0.0,
                "draws": int(errors.size),
            }
        )
    return rows


def format_table(rows: Sequence[dict[str, Any]], error_label: str = "IOD error (%)") -> str:
    """Render :func:`sample_efficiency` rows as a plain-text table.

    Args:
        rows: dicts with keys ``"n"``, ``"mean"``, ``"std"``, ``"draws"``.
        error_label: the header of the error column (e.g. ``"error (% of side)"``).

    Returns:
        A header line, a rule and one line per row, e.g. ``"    10 |  12.34 ±  1.23 |    10"``.
    """
    header = f"{'n':>6} | {error_label:>15} | {'draws':>5}"
    lines = [header, "-" * len(header)]
    for row in rows:
        missing = {"n", "mean", "std", "draws"} - set(row)
        if missing:
            raise ValueError(f"rows: a row is missing key(s) {sorted(missing)}: {row!r}")
        cell = f"{row['mean']:6.2f} ± {row['std']:6.2f}"
        lines.append(f"{int(row['n']):>6} | {cell:>15} | {int(row['draws']):>5}")
    return "\n".join(lines)
