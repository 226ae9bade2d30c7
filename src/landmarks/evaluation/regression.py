"""The linear-regression landmark protocol (Jakab et al. 2018; Zhang et al. 2018).

The detector is frozen. From the K discovered keypoints of each labelled training image a linear
map to the L annotated points is fitted by least squares:

1. flatten: keypoints ``(N, K, 2)`` -> ``X`` ``(N, 2K)`` (order ``x0, y0, x1, y1, ...``), labels
   ``(N, L, 2)`` -> ``Y`` ``(N, 2L)`` (:func:`flatten_points`);
2. design matrix: ``X`` as is (no bias, the paper's protocol), or ``[X, 1]`` ``(N, 2K + 1)`` with
   ``bias=True`` (:func:`design_matrix`);
3. solve ``min_W ||X W - Y||_F`` with :func:`numpy.linalg.lstsq`; ``W`` is ``(2K[+1], 2L)``
   (:func:`fit_linear_regressor`). This is the solution of scikit-learn's
   ``Ridge(alpha=0, fit_intercept=False)`` (or ``LinearRegression(fit_intercept=False)``);
4. hold out ``val_fraction`` (10%) of the training split for model / checkpoint selection
   (:func:`split_train_val`), fit on the rest, and report the inter-ocular-normalised error on the
   validation part and on the test split (:func:`evaluate_regression`).

Keypoints and labels may be in any units (the library's ``[-1, 1]`` coordinates for keypoints,
pixels for labels is typical); the reported error is normalised by the inter-ocular distance of the
labels and so is scale free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from landmarks.evaluation.metrics import iod_error, validate_eye_indices, validate_points

__all__ = [
    "LinearRegressor",
    "RegressionResult",
    "design_matrix",
    "evaluate_regression",
    "fit_linear_regressor",
    "flatten_points",
    "split_train_val",
    "split_train_val_by_group",
]


def flatten_points(points: np.ndarray) -> np.ndarray:
    """Flatten a point set ``(N, P, 2)`` into rows ``(N, 2P)`` ordered ``x0, y0, x1, y1, ...``.

    Args:
        points: ``(N, P, 2)`` array.

    Returns:
        ``(N, 2P)`` float64 array.
    """
    points = np.asarray(points, dtype=np.float64)
    return points.reshape(points.shape[0], -1)


def design_matrix(keypoints: np.ndarray, bias: bool = False) -> np.ndarray:
    """The regression inputs: flattened keypoints, with a trailing column of ones if ``bias``.

    Args:
        keypoints: ``(N, K, 2)`` discovered keypoints.
        bias: append a constant-1 column so the map can learn an offset.

    Returns:
        ``(N, 2K)`` or, with ``bias``, ``(N, 2K + 1)`` float64 array.
    """
    x = flatten_points(keypoints)
    if bias:
        x = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    return x


@dataclass
class LinearRegressor:
    """A fitted linear map from K discovered keypoints to L annotated points.

    Attributes:
        weights: ``(2K, 2L)``, or ``(2K + 1, 2L)`` with ``bias`` (last row is the offset);
            ``Y = design_matrix(X) @ weights``.
        num_keypoints: K.
        num_labels: L.
        bias: whether the map has an offset row.
    """

    weights: np.ndarray
    num_keypoints: int
    num_labels: int
    bias: bool = False

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float64)
        rows = 2 * self.num_keypoints + int(self.bias)
        if self.weights.shape != (rows, 2 * self.num_labels):
            raise ValueError(
                f"weights: expected shape ({rows}, {2 * self.num_labels}) for "
                f"K={self.num_keypoints}, L={self.num_labels}, bias={self.bias}, "
                f"got {self.weights.shape}"
            )
        if not np.isfinite(self.weights).all():
            raise ValueError("weights: found NaN/inf values")

    def predict(self, keypoints: np.ndarray) -> np.ndarray:
        """Map discovered keypoints to annotated-point predictions.

        Args:
            keypoints: ``(M, K, 2)`` discovered keypoints.

        Returns:
            ``(M, L, 2)`` predicted annotated points, in the unit of the training labels.
        """
        kp = validate_points(keypoints, "keypoints", expected_points=self.num_keypoints)
        y = design_matrix(kp, self.bias) @ self.weights
        return y.reshape(kp.shape[0], self.num_labels, 2)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (weights as nested lists)."""
        return {
            "weights": self.weights.tolist(),
            "num_keypoints": int(self.num_keypoints),
            "num_labels": int(self.num_labels),
            "bias": bool(self.bias),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearRegressor:
        """Rebuild a regressor from :meth:`to_dict` output (shapes are re-checked)."""
        missing = {"weights", "num_keypoints", "num_labels", "bias"} - set(data)
        if missing:
            raise ValueError(f"LinearRegressor.from_dict: missing key(s) {sorted(missing)}")
        return cls(
            weights=np.asarray(data["weights"], dtype=np.float64),
            num_keypoints=int(data["num_keypoints"]),
            num_labels=int(data["num_labels"]),
            bias=bool(data["bias"]),
        )


def fit_linear_regressor(
    keypoints: np.ndarray, labels: np.ndarray, bias: bool = False
) -> LinearRegressor:
    """Least-squares linear map from discovered keypoints to annotated points.

    Solves ``min_W || design_matrix(keypoints, bias) @ W - flatten_points(labels) ||_F`` with
    :func:`numpy.linalg.lstsq`. Without ``bias`` this is the paper's protocol and equals
    scikit-learn ``Ridge(alpha=0, fit_intercept=False)``; when the design matrix has full column
    rank it equals the normal-equation solution ``(X^T X)^{-1} X^T Y``.

    When there are fewer images than unknowns (N < 2K, or N < 2K + 1 with ``bias``), or the
    keypoints are otherwise rank deficient, the problem is underdetermined and the
    *minimum-norm* least-squares solution (the pseudo-inverse ``X^+ Y``) is returned; this is what
    the few-sample points of the sample-efficiency curve (n = 1, 5, ...) use.

    Args:
        keypoints: ``(N, K, 2)`` discovered keypoints of the labelled images.
        labels: ``(N, L, 2)`` annotated points of the same images.
        bias: also fit an offset (appends a column of ones).

    Returns:
        The fitted :class:`LinearRegressor` with weights ``(2K[+1], 2L)``.

    Raises:
        ValueError: on NaN/inf, wrong shapes, or a different number of images in the two arrays.
    """
    kp = validate_points(keypoints, "keypoints")
    lab = validate_points(labels, "labels")
    _check_lengths(kp, lab, "keypoints", "labels")
    x = design_matrix(kp, bias)
    y = flatten_points(lab)
    weights, *_ = np.linalg.lstsq(x, y, rcond=None)
    return LinearRegressor(
        weights=weights, num_keypoints=kp.shape[1], num_labels=lab.shape[1], bias=bias
    )


def split_train_val(
    n: int, val_fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic random split of ``n`` training images into fit and validation parts.

    The validation size is ``round(n * val_fraction)`` (halves rounded up), at least 1 when
    ``val_fraction > 0``, and at most ``n - 1`` so the fit part is never empty. The same
    ``(n, val_fraction, seed)`` always gives the same split.

    Args:
        n: number of labelled training images.
        val_fraction: fraction held out for model (checkpoint) selection, in ``[0, 1)``.
        seed: seed of the permutation (:func:`numpy.random.default_rng`).

    Returns:
        ``(train_idx, val_idx)``: sorted, disjoint int64 index arrays covering ``range(n)``.
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n: expected a positive number of images, got {n!r}")
    n = int(n)
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected a value in [0, 1), got {val_fraction!r}")
    n_val = int(np.floor(n * val_fraction + 0.5))
    if val_fraction > 0:
        if n < 2:
            raise ValueError(f"n: need at least 2 images to hold out a validation part, got {n}")
        n_val = min(max(n_val, 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def split_train_val_by_group(
    groups: Sequence[str], val_fraction: float = 0.2, seed: int = 0,
    keep: Sequence[str] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Split labelled images into fit and validation parts *by identity group*: every image
    of a group lands on the same side, so validation measures people the regressor never saw
    (as a test of unseen people does).

    Groups are taken in a seeded random order; a group joins the validation part while that
    part is below ``val_fraction`` of the images and the group does not push it past
    ``1.5 × val_fraction`` (so one huge group cannot swallow the split). Groups in ``keep``
    stay in the fit part (e.g. a person whose later frames are a seen-person test). The same
    arguments always give the same split.

    Args:
        groups: ``(N,)`` the identity group of each labelled image.
        val_fraction: target share of images held out, in ``(0, 1)``.
        seed: seed of the group order (:func:`numpy.random.default_rng`).
        keep: groups never held out.

    Returns:
        ``(fit_idx, val_idx)``: sorted, disjoint int64 index arrays covering ``range(N)``; no
        group has images in both.

    Raises:
        ValueError: fewer than two groups outside ``keep``, or a fraction out of range.
    """
    names = [str(g) for g in groups]
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected a value in (0, 1), got {val_fraction!r}")
    order = sorted(set(names) - {str(k) for k in keep})
    if len(order) < 2 and not set(keep) & set(names):
        raise ValueError(f"groups: need at least two identity groups to hold one out, got "
                         f"{len(order)}")
    if not order:
        raise ValueError("groups: every group is in keep; none can be held out")
    sizes = {g: names.count(g) for g in order}
    target, cap = val_fraction * len(names), 1.5 * val_fraction * len(names)
    held: list[str] = []
    total = 0
    for i in np.random.default_rng(seed).permutation(len(order)):
        g = order[int(i)]
        if total >= target:
            break
        if total + sizes[g] <= cap:
            held.append(g)
            total += sizes[g]
    if not held:  # every group is larger than the cap: hold out the smallest
        held = [min(order, key=lambda g: (sizes[g], g))]
    if len(held) == len(set(names)):  # never leave the fit part empty
        held = held[:-1]
    mask = np.isin(np.asarray(names), held)
    return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)


@dataclass
class RegressionResult:
    """Outcome of :func:`evaluate_regression`.

    Attributes:
        iod_error_mean: test error, mean inter-ocular-normalised error in %.
        iod_error_per_point: ``(L,)`` test error per annotated point in %.
        val_iod_error: error in % on the held-out validation part of the training split (use it
            to select the checkpoint); NaN when ``val_fraction == 0``.
        train_size: number of images the regressor was fitted on (training split minus
            validation part).
        test_size: number of test images.
        regressor: the fitted :class:`LinearRegressor`.
        val_size: number of held-out validation images.
        val_groups: the identity groups held out for validation (empty: a random split).
    """

    iod_error_mean: float
    iod_error_per_point: np.ndarray
    val_iod_error: float
    train_size: int
    test_size: int
    regressor: LinearRegressor
    val_size: int = field(default=0)
    val_groups: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN validation error becomes ``None``)."""
        val = float(self.val_iod_error)
        return {
            "iod_error_mean": float(self.iod_error_mean),
            "iod_error_per_point": [float(v) for v in self.iod_error_per_point],
            "val_iod_error": val if np.isfinite(val) else None,
            "train_size": int(self.train_size),
            "val_size": int(self.val_size),
            "val_groups": list(self.val_groups),
            "test_size": int(self.test_size),
            "regressor": self.regressor.to_dict(),
        }


def evaluate_regression(
    train_kp: np.ndarray,
    train_labels: np.ndarray,
    test_kp: np.ndarray,
    test_labels: np.ndarray,
    eye_indices: tuple[int, int],
    bias: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
    train_groups: Sequence[str] | None = None,
    keep_groups: Sequence[str] = (),
) -> RegressionResult:
    """Run the protocol: split, fit on the training part, report validation and test errors.

    ``val_fraction`` of the training split (default 10%) is held out with
    :func:`split_train_val`; the regressor is fitted on the remaining images only, so the
    validation error is an honest score for selecting the checkpoint, and the reported test
    error comes from that same regressor.

    Args:
        train_kp: ``(N, K, 2)`` discovered keypoints of the labelled training split.
        train_labels: ``(N, L, 2)`` annotated points of the training split.
        test_kp: ``(M, K, 2)`` discovered keypoints of the test split.
        test_labels: ``(M, L, 2)`` annotated points of the test split.
        eye_indices: ``(a, b)`` indices into the L annotated points of the outer eye corners (or
            eye centres, e.g. ``(0, 1)`` on MAFL); see ``metrics.EYE_INDICES``.
        bias: fit an offset too (the paper's protocol has none).
        val_fraction: fraction of the training split held out, in ``[0, 1)``.
        seed: seed of the split.
        train_groups: ``(N,)`` the identity group of each training image: validation then
            holds out whole groups (:func:`split_train_val_by_group`), so that it scores people
            the regressor has not seen; ``None``: a random split of images.
        keep_groups: groups never held out (with ``train_groups``).

    Returns:
        A :class:`RegressionResult`.
    """
    train_kp = validate_points(train_kp, "train_kp")
    train_labels = validate_points(train_labels, "train_labels")
    k, l_ = train_kp.shape[1], train_labels.shape[1]
    test_kp = validate_points(test_kp, "test_kp", expected_points=k)
    test_labels = validate_points(test_labels, "test_labels", expected_points=l_)
    _check_lengths(train_kp, train_labels, "train_kp", "train_labels")
    _check_lengths(test_kp, test_labels, "test_kp", "test_labels")
    eyes = validate_eye_indices(eye_indices, l_)

    held: list[str] = []
    if train_groups is not None:
        if len(train_groups) != train_kp.shape[0]:
            raise ValueError(f"train_groups: expected one group per training image "
                             f"({train_kp.shape[0]}), got {len(train_groups)}")
        fit_idx, val_idx = split_train_val_by_group(train_groups, val_fraction, seed,
                                                    keep_groups)
        held = sorted({str(train_groups[i]) for i in val_idx})
    else:
        fit_idx, val_idx = split_train_val(train_kp.shape[0], val_fraction, seed)
    regressor = fit_linear_regressor(train_kp[fit_idx], train_labels[fit_idx], bias=bias)

    val_err = float("nan")
    if val_idx.size:
        val_err, _ = iod_error(regressor.predict(train_kp[val_idx]), train_labels[val_idx], eyes)
    test_err, test_per_point = iod_error(regressor.predict(test_kp), test_labels, eyes)
    return RegressionResult(
        iod_error_mean=test_err,
        iod_error_per_point=test_per_point,
        val_iod_error=val_err,
        train_size=int(fit_idx.size),
        test_size=int(test_kp.shape[0]),
        regressor=regressor,
        val_size=int(val_idx.size),
        val_groups=held,
    )


def _check_lengths(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b}: mismatched lengths, {a.shape[0]} vs {b.shape[0]} images"
        )
