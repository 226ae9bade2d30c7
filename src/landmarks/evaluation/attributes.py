"""Attributes from landmark coordinates (Zhang et al. 2018, Sec. "attribute recognition"):
freeze the detector, describe each image by its 2K landmark coordinates, fit one linear
classifier per binary attribute on the training images and report the test accuracy per
attribute and their mean (the paper: 83.2% over 13 shape-related CelebA attributes with 60-d
landmark features, i.e. K = 30).

The classifier is L2-regularised logistic regression on standardised features, fitted with
L-BFGS (:func:`fit_logistic`; the objective of scikit-learn's ``LogisticRegression(C=1)``, in
NumPy/SciPy so the package needs no scikit-learn). Every accuracy comes with the majority-class
floor (the training split's more frequent value predicted for every test image): an accuracy
is only worth its margin over that floor.

Benchmarks (``landmarks eval CKPT --dataset NAME --root ROOT``):

* ``celeba_attributes``: CelebA's ``Anno/list_attr_celeba.txt`` and partition file
  (:mod:`landmarks.data.celeba_attributes`), train vs test partition, the aligned images in the
  official geometry (:data:`landmarks.data.celeba.CELEBA_BOX`); the 13 attributes of
  :data:`~landmarks.data.celeba_attributes.SHAPE_ATTRIBUTES` (our choice, see there).
* ``realfaces_attributes``: no attribute labels exist offline, so the protocol runs on
  attributes *derived from RealFaces' pseudo labels* (dlib's 68 points, not human labels):
  ``mouth_open``, ``mouth_wide`` and ``head_turned`` (:data:`REALFACES_ATTRIBUTES`),
  ``train_labelled`` vs ``test``. These are geometric by construction, so they show the
  protocol working end to end; they are not CelebA's figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from landmarks.data.celeba import CELEBA_BOX, find_image_dir, load_box_image
from landmarks.data.celeba_attributes import SHAPE_ATTRIBUTES, attribute_split
from landmarks.data.realfaces import load_manifest, load_split_images
from landmarks.inference import Detector

__all__ = [
    "ATTRIBUTE_BENCHMARKS",
    "REALFACES_ATTRIBUTES",
    "LogisticClassifier",
    "attribute_accuracy",
    "evaluate_attributes",
    "fit_logistic",
    "format_attribute_results",
    "realfaces_attribute_labels",
]

ATTRIBUTE_BENCHMARKS: tuple[str, ...] = ("celeba_attributes", "realfaces_attributes")
CELEBA_PAPER_FIGURE = ("Zhang et al. 2018: 83.2% mean accuracy over 13 shape-related CelebA "
                       "attributes from 60-d landmark features (K=30), linear classifier")
REALFACES_NOTE = ("attributes derived from RealFaces' pseudo labels (dlib's supervised 68-point "
                  "model), not human attribute labels: the protocol shown on a stand-in, not "
                  "CelebA's figure")


def _gap(p: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(p[:, a] - p[:, b], axis=-1)


def _iod(p: np.ndarray) -> np.ndarray:
    return _gap(p, 36, 45)  # outer eye corners (iBUG 0-based)


#: name → (rule on ``(N, 68, 2)`` points → bool, description). Distances are in units of the
#: outer-eye-corner distance; thresholds put roughly a quarter of RealFaces v3 frames positive.
REALFACES_ATTRIBUTES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "mouth_open": (lambda p: _gap(p, 62, 66) / _iod(p) > 0.10,
                   "inner-lip gap (points 62-66) > 0.10 x outer-eye-corner distance"),
    "mouth_wide": (lambda p: _gap(p, 48, 54) / _iod(p) > 0.65,
                   "mouth-corner distance (48-54) > 0.65 x outer-eye-corner distance"),
    "head_turned": (lambda p: np.abs(p[:, 30, 0] - (p[:, 36, 0] + p[:, 45, 0]) / 2) / _iod(p)
                    > 0.10,
                    "nose tip (30) > 0.10 x outer-eye-corner distance off the eyes' midpoint "
                    "in x"),
}


def realfaces_attribute_labels(points68: np.ndarray) -> dict[str, np.ndarray]:
    """The derived attributes of ``points68`` ``(N, 68, 2)``: name → ``(N,)`` bool."""
    pts = np.asarray(points68, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[1:] != (68, 2):
        raise ValueError(f"points68: expected (N, 68, 2), got {pts.shape}")
    return {name: rule(pts) for name, (rule, _) in REALFACES_ATTRIBUTES.items()}


@dataclass
class LogisticClassifier:
    """``p(y=1 | x) = σ(((x − mean) / scale) · weight + bias)``; a constant classifier when
    the training labels had one value (``weight`` zero, ``bias`` ±inf)."""

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: float

    def decision(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, np.float64) - self.mean) / self.scale
        return z @ self.weight + self.bias

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(N,)`` bool."""
        return self.decision(x) > 0


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> LogisticClassifier:
    """Binary logistic regression with an L2 penalty, on standardised features.

    Minimises ``½|w|² + c Σ_i log(1 + exp(−s_i (z_i·w + b)))`` with ``s_i = ±1`` (the bias is
    not penalised): scikit-learn's ``LogisticRegression(C=c)`` objective.

    Args:
        x: ``(N, D)`` features.
        y: ``(N,)`` bool (or 0/1, or ±1: positive means True).
        c: inverse regularisation strength (> 0).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y) > 0
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"expected x (N, D) and y (N,), got {x.shape} and {y.shape}")
    if c <= 0:
        raise ValueError(f"c must be > 0, got {c}")
    mean = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
    scale = x.std(axis=0) if len(x) else np.ones(x.shape[1])
    scale = np.where(scale > 1e-12, scale, 1.0)
    d = x.shape[1]
    if y.all() or not y.any():
        return LogisticClassifier(mean, scale, np.zeros(d), np.inf if y.all() else -np.inf)
    z = (x - mean) / scale
    s = np.where(y, 1.0, -1.0)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        m = s * (z @ w + b)
        loss = 0.5 * w @ w - c * log_expit(m).sum()
        g = -c * s * expit(-m)  # d loss / d (z w + b)
        return float(loss), np.concatenate([w + z.T @ g, [g.sum()]])

    res = minimize(objective, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                   options={"maxiter": 1000})
    return LogisticClassifier(mean, scale, res.x[:d], float(res.x[d]))


def attribute_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                       test_y: np.ndarray, names: Sequence[str], c: float = 1.0
                       ) -> dict[str, Any]:
    """One classifier per attribute; accuracies in %.

    Args:
        train_x, test_x: ``(N, D)`` features.
        train_y, test_y: ``(N, A)`` labels (bool, 0/1 or ±1).
        names: the ``A`` attribute names.

    Returns:
        ``{"per_attribute": {name: {"accuracy", "majority", "positive_rate"}}, "mean",
        "mean_majority"}``: ``majority`` the accuracy of predicting the training split's more
        frequent value, ``positive_rate`` the test split's share of positives (all in %).
    """
    train_y, test_y = np.asarray(train_y) > 0, np.asarray(test_y) > 0
    if train_y.shape[1] != len(names) or test_y.shape[1] != len(names):
        raise ValueError(f"{len(names)} names for {train_y.shape[1]} / {test_y.shape[1]} label "
                         f"columns")
    per: dict[str, dict[str, float]] = {}
    for j, name in enumerate(names):
        clf = fit_logistic(train_x, train_y[:, j], c)
        pred = clf.predict(test_x)
        majority = train_y[:, j].mean() >= 0.5
        per[name] = {"accuracy": 100.0 * float((pred == test_y[:, j]).mean()),
                     "majority": 100.0 * float((test_y[:, j] == majority).mean()),
                     "positive_rate": 100.0 * float(test_y[:, j].mean())}
    return {"per_attribute": per,
            "mean": float(np.mean([v["accuracy"] for v in per.values()])),
            "mean_majority": float(np.mean([v["majority"] for v in per.values()]))}


def _features(keypoints: np.ndarray) -> np.ndarray:
    """``(N, K, 2)`` keypoints (image pixels) → ``(N, 2K)`` (standardised by the
    classifier, so the pixel scale does not matter)."""
    return np.asarray(keypoints, np.float64).reshape(len(keypoints), -1)


def _detect(detector: Detector, load: Callable[[Sequence[Any]], torch.Tensor],
            items: Sequence[Any], batch_size: int = 128) -> np.ndarray:
    """Keypoints (N,K,2) of ``items`` in pixels of the images ``load`` gives (N,3,H,W),
    through :meth:`landmarks.inference.Detector.detect_images` (the checkpoint's
    preprocessing, ``data.crop`` included)."""
    out = [detector.detect_images(load(items[i:i + batch_size]), batch_size)
           for i in range(0, len(items), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, detector.num_keypoints, 2))


def evaluate_attributes(checkpoint: Path, dataset: str, root: Path, device: str = "auto",
                        attributes: Sequence[str] | None = None) -> dict[str, Any]:
    """The attributes-from-landmarks protocol (module docstring) for ``checkpoint``.

    Args:
        dataset: ``celeba_attributes`` or ``realfaces_attributes``.
        root: the CelebA folder, or the RealFaces folder.
        attributes: names to score (default: :data:`SHAPE_ATTRIBUTES` for CelebA, every
            :data:`REALFACES_ATTRIBUTES` for RealFaces).

    Returns:
        A JSON-safe dict: ``attribute_accuracy`` (:func:`attribute_accuracy`'s), ``sizes``,
        ``labels_note``, ``paper_figure`` (CelebA) and the checkpoint's K and image size.
    """
    if dataset not in ATTRIBUTE_BENCHMARKS:
        raise ValueError(f"unknown attribute benchmark {dataset!r}; expected one of "
                         f"{', '.join(ATTRIBUTE_BENCHMARKS)}")
    checkpoint, root = Path(checkpoint), Path(root)
    detector = Detector.from_checkpoint(checkpoint, device=device)
    size = detector.image_size
    extra: dict[str, Any] = {}
    if dataset == "realfaces_attributes":
        manifest = load_manifest(root)
        train, test = manifest.split("train_labelled"), manifest.split("test")
        names = list(attributes or REALFACES_ATTRIBUTES)
        unknown = [n for n in names if n not in REALFACES_ATTRIBUTES]
        if unknown:
            raise ValueError(f"realfaces_attributes: unknown attribute(s) {unknown}; known: "
                             f"{', '.join(REALFACES_ATTRIBUTES)}")

        def labels(frames: Sequence[Any]) -> np.ndarray:
            derived = realfaces_attribute_labels(np.stack([f.landmarks68 for f in frames]))
            return np.stack([derived[n] for n in names], axis=1)

        def load(frames: Sequence[Any]) -> torch.Tensor:  # the crops as their files are
            return load_split_images(frames, int(manifest.crop_size))

        train_y, test_y = labels(train), labels(test)
        train_kp = _detect(detector, load, train)
        test_kp = _detect(detector, load, test)
        extra = {"labels_note": REALFACES_NOTE, "split_names": ["train_labelled", "test"],
                 "definitions": {n: REALFACES_ATTRIBUTES[n][1] for n in names}}
    else:
        train_files, train_all, all_names = attribute_split(root, "train")
        test_files, test_all, _ = attribute_split(root, "test")
        names = list(attributes or SHAPE_ATTRIBUTES)
        unknown = [n for n in names if n not in all_names]
        if unknown:
            raise ValueError(f"celeba_attributes: unknown attribute(s) {unknown}")
        cols = [all_names.index(n) for n in names]
        train_y, test_y = train_all[:, cols], test_all[:, cols]
        image_dir = find_image_dir(root)

        def load(files: Sequence[str]) -> torch.Tensor:
            return torch.stack([load_box_image(image_dir / f, size, CELEBA_BOX)[0]
                                for f in files])

        train_kp = _detect(detector, load, train_files)
        test_kp = _detect(detector, load, test_files)
        extra = {"labels_note": "CelebA attribute labels (human)",
                 "paper_figure": CELEBA_PAPER_FIGURE, "split_names": ["train", "test"]}
    if len(train_kp) == 0 or len(test_kp) == 0:
        raise ValueError(f"{dataset} root {root}: an empty train or test split")
    acc = attribute_accuracy(_features(train_kp), train_y, _features(test_kp), test_y, names)
    return {"checkpoint": str(checkpoint), "dataset": dataset, "root": str(root),
            "num_keypoints": detector.num_keypoints, "image_size": size,
            "features": f"the {2 * detector.num_keypoints} landmark coordinates (image pixels, "
                        f"standardised)",
            "classifier": "L2 logistic regression (C=1) on standardised features, per attribute",
            "sizes": {"train": len(train_kp), "test": len(test_kp)},
            "attribute_accuracy": acc, **extra}


def format_attribute_results(results: dict[str, Any]) -> str:
    """A plain-text table of :func:`evaluate_attributes`' dict."""
    acc = results["attribute_accuracy"]
    sizes = results.get("sizes", {})
    lines = [f"{results.get('dataset')}: {results.get('checkpoint')} (K="
             f"{results.get('num_keypoints')}, {results.get('image_size')} px)",
             f"  features: {results.get('features')}; {results.get('classifier')}",
             f"  train {sizes.get('train')} images, test {sizes.get('test')} images",
             f"  labels: {results.get('labels_note')}", "",
             f"  {'attribute':<22} {'accuracy':>9} {'majority':>9} {'positives':>10}"]
    for name, row in acc["per_attribute"].items():
        lines.append(f"  {name:<22} {row['accuracy']:>8.1f}% {row['majority']:>8.1f}% "
                     f"{row['positive_rate']:>9.1f}%")
    lines.append(f"  {'mean':<22} {acc['mean']:>8.1f}% {acc['mean_majority']:>8.1f}%")
    for key in ("definitions",):
        for name, text in (results.get(key) or {}).items():
            lines.append(f"  {name}: {text}")
    if results.get("paper_figure"):
        lines.append(f"  paper: {results['paper_figure']}")
    return "\n".join(lines)
