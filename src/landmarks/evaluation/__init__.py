"""Evaluation protocols for discovered landmarks, as importable functions on NumPy arrays.

* :mod:`~landmarks.evaluation.regression` -- the linear-regression protocol (freeze the
  detector, fit a bias-free least-squares map from K keypoints to L annotated points on the
  training split with 10% held out, report the inter-ocular-normalised test error);
* :mod:`~landmarks.evaluation.metrics` -- inter-ocular-normalised error, PCK and the error in %
  of the image side (Human3.6M), per group;
* :mod:`~landmarks.evaluation.matching` -- Hungarian matching of raw keypoints to annotations;
* :mod:`~landmarks.evaluation.sample_efficiency` -- error versus number of labelled images;
* :mod:`~landmarks.evaluation.baseline` -- MediaPipe's face mesh reduced to MAFL's 5 points, a
  supervised reference row (optional dependency);
* :mod:`~landmarks.evaluation.video_metrics` -- video reconstruction metrics (L1, AKD, MKR, AED,
  FID) on uint8 videos, with :mod:`~landmarks.evaluation.face_models` (the external models:
  dlib's 68 points and face descriptor, the FID Inception) and
  :mod:`~landmarks.evaluation.reconstruction` (``landmarks eval --task reconstruction``);
* :mod:`~landmarks.evaluation.run` -- ``evaluate_checkpoint``, the whole protocol for a
  checkpoint on a benchmark (``landmarks eval``), and :mod:`~landmarks.evaluation.formatting`
  -- ``format_results``, its plain-text table.

All inputs are point sets ``(N, P, 2)`` in ``(x, y)`` order; see each module for units.
"""

from landmarks.evaluation.baseline import mafl5_from_mesh, mediapipe_available, mediapipe_mafl5
from landmarks.evaluation.formatting import format_results
from landmarks.evaluation.matching import MatchResult, match_cost_matrix, match_keypoints
from landmarks.evaluation.metrics import (
    EYE_INDICES,
    group_means,
    inter_ocular_distance,
    iod_error,
    normalized_point_errors,
    pck,
    pck_curve,
    point_distances,
    size_error,
    size_point_errors,
    validate_eye_indices,
    validate_points,
)
from landmarks.evaluation.regression import (
    LinearRegressor,
    RegressionResult,
    design_matrix,
    evaluate_regression,
    fit_linear_regressor,
    flatten_points,
    split_train_val,
    split_train_val_by_group,
)
from landmarks.evaluation.run import evaluate_checkpoint
from landmarks.evaluation.sample_efficiency import (
    DEFAULT_SIZES,
    format_table,
    resolve_sizes,
    sample_efficiency,
)

__all__ = [
    "evaluate_checkpoint",
    "format_results",
    "DEFAULT_SIZES",
    "EYE_INDICES",
    "LinearRegressor",
    "MatchResult",
    "RegressionResult",
    "design_matrix",
    "evaluate_checkpoint",
    "evaluate_regression",
    "fit_linear_regressor",
    "flatten_points",
    "format_results",
    "format_table",
    "group_means",
    "inter_ocular_distance",
    "iod_error",
    "mafl5_from_mesh",
    "match_cost_matrix",
    "match_keypoints",
    "mediapipe_available",
    "mediapipe_mafl5",
    "normalized_point_errors",
    "pck",
    "pck_curve",
    "point_distances",
    "resolve_sizes",
    "sample_efficiency",
    "size_error",
    "size_point_errors",
    "split_train_val",
    "split_train_val_by_group",
    "validate_eye_indices",
    "validate_points",
]

