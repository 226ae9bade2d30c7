"""The evaluation protocol, one for every benchmark: keypoints and labels of a train and a test
split go in with a *metric object*, a typed result comes out.

The metric objects (:class:`IodMetric`, :class:`PckMetric`, :class:`SizeMetric`) say how a
benchmark is scored (:attr:`LabelledBenchmark.metric <landmarks.data.labelled.LabelledBenchmark>`);
each one's :meth:`~Metric.score` fits the bias-free linear regressor from the K keypoints to the
L labels on the train split and returns the entries of the result (error, held-out error,
Hungarian matching, sample efficiency, mean-shape floor, regressor), the regressed test points
and the fit sizes. :func:`landmarks.evaluation.run.evaluate_checkpoint` runs it for RealFaces
and every registered benchmark alike and returns an :class:`EvaluationResult`: a JSON-safe dict
(the keys ``landmarks eval`` writes, read by ``benchmarks/quality.py``, the demo and the report)
that also says which metric scored it (:attr:`EvaluationResult.metric`), so the text table
(:func:`~landmarks.evaluation.formatting.format_results`) and the report render it without guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from landmarks.evaluation.matching import match_keypoints
from landmarks.evaluation.metrics import iod_error, pck, point_distances, size_error
from landmarks.evaluation.regression import (
    evaluate_regression,
    fit_linear_regressor,
    split_train_val,
    split_train_val_by_group,
)
from landmarks.evaluation.sample_efficiency import DEFAULT_SIZES, sample_efficiency

__all__ = [
    "METRIC_NAMES",
    "EvaluationResult",
    "IodMetric",
    "Metric",
    "PckMetric",
    "Scored",
    "SizeMetric",
    "metric_of_result",
]

METRIC_NAMES = ("iod", "pck", "size", "torso")


class Scored(NamedTuple):
    """What :meth:`Metric.score` returns.

    Attributes:
        entries: the result's entries for this metric (JSON-able).
        regressed: ``(M, L, 2)`` the regressed test points (same unit as the labels).
        fit_sizes: ``{"regression_fit": n, "regression_val": m}`` (empty when the metric fits
            on the whole train split).
    """

    entries: dict[str, Any]
    regressed: np.ndarray
    fit_sizes: dict[str, int]


class Metric:
    """How a benchmark is scored. ``name`` is the metric's key in results ("iod", "pck",
    "size")."""

    name: str = ""
    #: True when :meth:`score` takes ``visible=(train (N, L), test (N, L))`` and scores visible
    #: labels only; otherwise frames with a missing label are left out before scoring.
    per_point_visibility: bool = False
    #: True when :meth:`score` takes ``train_groups`` (N_train,) and ``val_groups`` (the
    #: benchmark's :attr:`~landmarks.data.labelled.LabelledBenchmark.validation_groups`) and
    #: holds those groups out of the regressor's fit as validation.
    holds_out_groups: bool = False

    def score(self, train_kp: np.ndarray, train_labels: np.ndarray, test_kp: np.ndarray,
              test_labels: np.ndarray, *, groups: Sequence[str] | None = None,
              draws: int = 10) -> Scored:
        """Fit on the train split, score the test split.

        Args:
            train_kp, test_kp: ``(N, K, 2)`` keypoints, in the labels' pixels.
            train_labels, test_labels: ``(N, L, 2)`` labels.
            groups: the test items' group names (metric ``size`` reports per group).
            draws: random draws per sample-efficiency size.
        """
        raise NotImplementedError


def _hungarian(train_kp: np.ndarray, train_labels: np.ndarray, test_kp: np.ndarray,
               test_labels: np.ndarray, assigned_from: str,
               score: Callable[[np.ndarray], dict[str, Any]], scale: float = 1.0
               ) -> dict[str, Any]:
    """Hungarian matching of raw keypoints to labels, the assignment chosen on the training
    frames (``assigned_from`` names them) and scored on the test frames: mean / per-point error
    in px (× ``scale``) and ``score(matched test keypoints)``; ``{"skipped": why}`` for fewer
    keypoints than labels."""
    k, n_labels = train_kp.shape[1], train_labels.shape[1]
    if k < n_labels:
        return {"skipped": f"K={k} keypoints < {n_labels} labelled points: Hungarian matching "
                           f"needs one distinct keypoint per label"}
    assignment = match_keypoints(train_kp, train_labels).assignment
    matched = test_kp[:, assignment]
    dist = point_distances(matched, test_labels) * scale
    return {
        "assignment": [int(a) for a in assignment],
        "mean_error_px": float(dist.mean()),
        "per_point_error_px": dist.mean(axis=0).tolist(),
        **score(matched),
        "assignment_from": assigned_from,
    }


@dataclass(frozen=True)
class IodMetric(Metric):
    """Mean error normalised by the inter-ocular distance, in % (MAFL, AFLW, RealFaces).

    Entries: ``iod_error`` {mean, per_point}, ``val_iod_error`` (10% of train held out),
    ``matching`` (Hungarian, IOD error of the matched points), ``sample_efficiency``,
    ``mean_shape`` (the floor), ``regressor``."""

    eye_indices: tuple[int, int] = (0, 1)
    assigned_from: str = "train_labelled"
    name = "iod"

    def score(self, train_kp: np.ndarray, train_labels: np.ndarray, test_kp: np.ndarray,
              test_labels: np.ndarray, *, groups: Sequence[str] | None = None,
              draws: int = 10, train_groups: Sequence[str] | None = None,
              keep_groups: Sequence[str] = ()) -> Scored:
        """As :meth:`Metric.score`; with ``train_groups`` (the identity group of each training
        image) validation holds out whole groups (20% of the images,
        :func:`~landmarks.evaluation.regression.split_train_val_by_group`, ``keep_groups``
        never), else 10% of the images at random."""
        eyes = self.eye_indices
        fallback = ""
        if train_groups is not None:
            try:
                split_train_val_by_group(train_groups, 0.2, 0, keep_groups)
            except ValueError as err:  # too few people to hold one out
                fallback = f"{err}: 10% of the images at random instead"
                train_groups = None
        by_identity = train_groups is not None
        reg = evaluate_regression(train_kp, train_labels, test_kp, test_labels,
                                  eye_indices=eyes, bias=False,
                                  val_fraction=0.2 if by_identity else 0.1,
                                  train_groups=train_groups, keep_groups=keep_groups)
        regressed = reg.regressor.predict(test_kp)
        shape = np.broadcast_to(train_labels.mean(axis=0), test_labels.shape)
        s_mean, s_per = iod_error(shape, test_labels, eyes)
        entries = {
            "iod_error": {"mean": reg.iod_error_mean,
                          "per_point": reg.iod_error_per_point.tolist()},
            "val_iod_error": reg.val_iod_error,
            "val_split": ({"by": "identity", "groups": reg.val_groups, "frames": reg.val_size}
                          if by_identity else {"by": "image", "frames": reg.val_size,
                                               **({"note": fallback} if fallback else {})}),
            "matching": _hungarian(train_kp, train_labels, test_kp, test_labels,
                                   self.assigned_from,
                                   lambda m: {"iod_error": iod_error(m, test_labels, eyes)[0]}),
            "sample_efficiency": sample_efficiency(train_kp, train_labels, test_kp,
                                                   test_labels, eyes, sizes=DEFAULT_SIZES,
                                                   draws=draws),
            "mean_shape": {"iod_error": {"mean": s_mean, "per_point": s_per.tolist()},
                           "note": f"no detector: the mean {self.assigned_from} label "
                                   f"predicted for every test frame"},
            "regressor": reg.regressor.to_dict(),
        }
        return Scored(entries, regressed, {"regression_fit": reg.train_size,
                                           "regression_val": reg.val_size})


@dataclass(frozen=True)
class PckMetric(Metric):
    """Percentage of correct keypoints within ``threshold`` of the dataset's original pixels
    (BBC-Pose); distances are multiplied by ``pixel_scale`` (original pixels per input pixel).

    Entries: ``regressor`` (fitted on the whole train split) and ``matching`` (Hungarian, PCK of
    the matched points)."""

    threshold: float = 6.0
    pixel_scale: float = 1.0
    name = "pck"

    def score(self, train_kp: np.ndarray, train_labels: np.ndarray, test_kp: np.ndarray,
              test_labels: np.ndarray, *, groups: Sequence[str] | None = None,
              draws: int = 10) -> Scored:
        regressor = fit_linear_regressor(train_kp, train_labels)
        regressed = regressor.predict(test_kp)
        scale, k = self.pixel_scale, train_kp.shape[1]
        if k >= train_labels.shape[1]:
            assignment = match_keypoints(train_kp, train_labels).assignment
            matched = test_kp[:, assignment]
            m_at, m_per = pck(matched * scale, test_labels * scale, self.threshold)
            matching = {"assignment": [int(a) for a in assignment],
                        "mean_error_px": float(point_distances(
                            matched, test_labels).mean() * scale),
                        "pck": m_at, "per_part_pck": m_per.tolist(),
                        "assignment_from": "train"}
        else:
            matching = {"skipped": f"K={k} < {train_labels.shape[1]} labels"}
        return Scored({"regressor": regressor.to_dict(), "matching": matching}, regressed, {})


@dataclass(frozen=True)
class SizeMetric(Metric):
    """Mean L2 error in % of the image side ``side`` (Human3.6M), per group when the test
    items carry groups (:func:`~landmarks.evaluation.metrics.size_error`).

    Entries: ``size_error``, ``val_size_error`` (10% of train held out), ``matching``,
    ``sample_efficiency``, ``mean_shape``, ``regressor``."""

    side: float = 1.0
    name = "size"

    def score(self, train_kp: np.ndarray, train_labels: np.ndarray, test_kp: np.ndarray,
              test_labels: np.ndarray, *, groups: Sequence[str] | None = None,
              draws: int = 10) -> Scored:
        side = self.side
        fit_idx, val_idx = split_train_val(train_kp.shape[0], 0.1)
        regressor = fit_linear_regressor(train_kp[fit_idx], train_labels[fit_idx])
        regressed = regressor.predict(test_kp)
        val = (size_error(regressor.predict(train_kp[val_idx]), train_labels[val_idx],
                          side)["mean"] if val_idx.size else None)
        shape = np.broadcast_to(train_labels.mean(axis=0), test_labels.shape)
        entries = {
            "size_error": size_error(regressed, test_labels, side, groups),
            "val_size_error": val,
            "matching": _hungarian(train_kp, train_labels, test_kp, test_labels, "train",
                                   lambda m: {"size_error": size_error(m, test_labels, side,
                                                                       groups)}),
            "sample_efficiency": sample_efficiency(train_kp, train_labels, test_kp,
                                                   test_labels, sizes=DEFAULT_SIZES,
                                                   draws=draws, image_side=side),
            "mean_shape": {"size_error": size_error(shape, test_labels, side, groups),
                           "note": "no detector: the mean train label predicted for every "
                                   "test frame"},
            "regressor": regressor.to_dict(),
        }
        return Scored(entries, regressed, {"regression_fit": int(fit_idx.size),
                                           "regression_val": int(val_idx.size)})


def metric_of_result(result: Mapping[str, Any]) -> str:
    """The metric a result was scored with: its ``"metric"`` key; for results written before
    the key existed, told by the keys (``size_error`` → size; ``pck`` without ``iod_error`` →
    pck; else iod)."""
    metric = result.get("metric")
    if metric in METRIC_NAMES:
        return str(metric)
    if "torso_error" in result:
        return "torso"
    if "size_error" in result:
        return "size"
    if "iod_error" not in result and isinstance(result.get("pck"), dict):
        return "pck"
    return "iod"


class EvaluationResult(dict):
    """The typed result of the protocol: a JSON-safe dict (the keys of ``landmarks eval``'s
    JSON) whose ``"metric"`` says how it was scored. :meth:`from_json` reads a saved one (old
    files without ``"metric"`` included)."""

    @property
    def metric(self) -> str:
        return metric_of_result(self)

    @property
    def dataset(self) -> str:
        return str(self.get("dataset", "?"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvaluationResult:
        result = cls(data)
        result["metric"] = metric_of_result(data)
        return result
