"""The protocol on a registered labelled benchmark (MAFL, AFLW, BBC-Pose, Human3.6M, Bodies, …):
detect both splits in pixels of the S×S network input (:func:`detect_split`) and score them
with the benchmark's metric object (:func:`metric_for`); :func:`evaluate_benchmark` is what
``landmarks eval --dataset NAME`` runs for every benchmark but ``realfaces``
(:mod:`landmarks.evaluation.run`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import DataLoader

from landmarks.data import collate_skipping
from landmarks.data.labelled import LabelledBenchmark
from landmarks.evaluation.attributes import ATTRIBUTE_BENCHMARKS
from landmarks.evaluation.metrics import pck, pck_curve
from landmarks.evaluation.protocol import (
    EvaluationResult,
    IodMetric,
    Metric,
    PckMetric,
    SizeMetric,
)
from landmarks.evaluation.torso import TorsoMetric
from landmarks.inference import Detector
from landmarks.registry import BENCHMARKS

__all__ = ["PCK_THRESHOLDS", "REALFACES", "available_benchmarks", "detect_split",
           "detector_saw_groups", "evaluate_benchmark", "json_safe", "metric_for"]

#: The benchmark :mod:`landmarks.evaluation.run` scores itself (not through this module).
REALFACES = "realfaces"
#: PCK curve thresholds, in 128-crop pixels (RealFaces) or in pixels of the network input.
PCK_THRESHOLDS: tuple[int, ...] = tuple(range(1, 21))
_BATCH = 128


def available_benchmarks() -> list[str]:
    """Every registered benchmark (``realfaces`` included) and the attribute benchmarks
    (:data:`~landmarks.evaluation.attributes.ATTRIBUTE_BENCHMARKS`)."""
    return sorted({*BENCHMARKS.names(), *ATTRIBUTE_BENCHMARKS})


def _collate_labelled(batch: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """:func:`~landmarks.data.collate_skipping` for labelled benchmark items: unreadable items
    (``None``) are dropped and counted in ``"skipped"``. When any kept item carries a
    ``"group"``, every kept item gets the key (``None`` where it has none), so that ``"group"``
    is a list aligned with the kept images and a split that only partly names its groups is
    caught by :func:`detect_split`, not by a KeyError."""
    kept = [item for item in batch if item is not None]
    if any("group" in item for item in kept):
        kept = [item if "group" in item else {**item, "group": None} for item in kept]
    out = collate_skipping(kept)
    out["skipped"] = len(batch) - len(kept)
    return out


def detect_split(detector: Any, split: Any, size: int, what: str = "split"
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str] | None, int]:
    """Keypoints (N,K,2), labels (N,L,2) and visibility (N,L) of the readable items of a
    labelled split, all in pixels of the S×S network input, the items' ``"group"`` names (N,
    aligned with them) or ``None`` when the items carry none (:mod:`landmarks.data.labelled`),
    and the number of unreadable items skipped (the reader returned ``None``; it warns with the
    file, and a summary warning names ``what``).

    Raises ValueError naming ``what`` when only some items carry a group, one is not a
    non-empty string, or no item of the split could be read."""
    kps, labels, visible = [], [], []
    groups: list[str] = []
    with_group = without_group = skipped = 0
    for batch in DataLoader(split, batch_size=_BATCH, shuffle=False,
                            collate_fn=_collate_labelled):
        skipped += int(batch.pop("skipped", 0))
        if "image" not in batch:  # every item of this batch was unreadable
            continue
        kps.append(detector.detect_images(batch["image"]))  # pixels of the S×S items
        labels.append(batch["labels"].numpy().astype(np.float64))
        visible.append(batch["visible"].numpy().astype(bool))
        n = len(batch["labels"])
        names = batch.get("group")
        if names is None:
            without_group += n
            continue
        if not isinstance(names, list):
            raise ValueError(f"{what}: item key 'group' must hold a non-empty string (e.g. an "
                             f"activity name), got {names!r}")
        bad = next((g for g in names if g is not None and (not isinstance(g, str) or not g)),
                   None)
        if bad is not None:
            raise ValueError(f"{what}: item key 'group' must hold a non-empty string (e.g. an "
                             f"activity name), got {bad!r}")
        missing = sum(g is None for g in names)
        without_group += missing
        with_group += n - missing
        groups += [g for g in names if g is not None]
    if with_group and without_group:
        raise ValueError(f"{what}: {with_group} items carry a 'group' and {without_group} do "
                         f"not; either every item names its group or none does")
    if not kps:
        raise ValueError(f"{what}: no readable item ({skipped} unreadable of {len(split)})")
    if skipped:
        warnings.warn(f"{what}: skipped {skipped} unreadable item(s) of {len(split)}; the "
                      f"evaluation uses the other {len(split) - skipped}", stacklevel=2)
    return (np.concatenate(kps), np.concatenate(labels), np.concatenate(visible),
            groups if with_group else None, skipped)


def metric_for(bench: LabelledBenchmark, size: int) -> Metric:
    """The metric object that scores ``bench`` with keypoints in pixels of the S×S input."""
    if bench.metric == "torso":
        return TorsoMetric(bench.torso_indices or ((0, 1), (2, 3)))
    if bench.metric == "size":
        return SizeMetric(float(size))
    if bench.metric == "iod":
        return IodMetric(tuple(bench.eye_indices or (0, 1)))
    return PckMetric(bench.pck_threshold, bench.pixel_scale)


def evaluate_benchmark(checkpoint: Path, name: str, root: Path, device: str = "auto",
                       draws: int = 10, **options: Any) -> EvaluationResult:
    """The protocol on a registered :class:`~landmarks.data.labelled.LabelledBenchmark`
    (MAFL, AFLW, BBC-Pose, Human3.6M, …): the same steps as for realfaces, in pixels of the
    network input.

    Metric ``iod`` reports the IOD error; metric ``pck`` PCK at the benchmark's threshold (in
    the dataset's original pixels) per part, plus Hungarian-matched raw points; metric ``size``
    (Human3.6M) the error in % of the image side S: ``size_error`` = ``{"mean", "per_point"}``
    and, when the test items carry groups, ``"per_group"``, ``"mean_over_groups"`` (the paper's
    per-activity average) and ``"group_frames"``
    (:func:`~landmarks.evaluation.metrics.size_error`); ``val_size_error`` on the
    10% of train held out of the fit; Hungarian matching of the raw keypoints and the mean
    training shape in the same unit; the sample-efficiency curve (plain mean over test points);
    PCK at thresholds in % of the side (``pck["threshold"]`` = the benchmark's
    ``pck_threshold``, in % of the side).

    Unreadable items (the reader returns ``None`` and warns with the file) are skipped, never a
    crash; ``sizes["skipped_train"]`` / ``sizes["skipped_test"]`` count them per split (a
    ValueError only when no item of a split can be read). Items with a missing label are left
    out of the protocol image-wise (``sizes`` counts the images used).
    """
    if name not in BENCHMARKS.names() or name == REALFACES:
        raise ValueError(f"unknown dataset {name!r}; available: "
                         f"{', '.join(available_benchmarks())}")
    checkpoint, root = Path(checkpoint), Path(root)
    detector = Detector.from_checkpoint(checkpoint, device=device)
    k, size = detector.num_keypoints, detector.image_size
    bench = BENCHMARKS.create(name, root=root, image_size=size, **options)
    train_kp, train_labels, train_vis, train_groups, skipped_train = detect_split(
        detector, bench.split("train"), size, f"benchmark {name!r} train split")
    test_kp, test_labels, test_vis, test_groups, skipped_test = detect_split(
        detector, bench.split("test"), size, f"benchmark {name!r} test split")
    metric = metric_for(bench, size)
    if not metric.per_point_visibility and not (train_vis.all() and test_vis.all()):
        # the protocol regresses every point; missing labels are excluded image-wise
        keep_tr, keep_te = train_vis.all(axis=1), test_vis.all(axis=1)
        train_kp, train_labels = train_kp[keep_tr], train_labels[keep_tr]
        test_kp, test_labels = test_kp[keep_te], test_labels[keep_te]
        if test_groups is not None:
            test_groups = [g for g, keep in zip(test_groups, keep_te, strict=True) if keep]
    results: dict[str, Any] = {
        "checkpoint": str(checkpoint), "dataset": name, "metric": bench.metric,
        "root": str(root),
        "num_keypoints": k, "image_size": size, "crop_size": size,
        "labels_note": bench.labels_note,
        "point_names": list(bench.point_names), "paper_figure": bench.paper_figure,
        "notes": list(bench.notes),
        "sizes": {"train_labelled": len(train_kp), "test": len(test_kp),
                  "skipped_train": skipped_train, "skipped_test": skipped_test},
        "baseline": {"skipped": "a supervised baseline row is computed for realfaces only"},
    }
    # PCK distances: the dataset's original pixels, or % of the side for metric "size"
    scale = 100.0 / size if bench.metric == "size" else bench.pixel_scale
    extra: dict[str, Any] = {}
    if metric.per_point_visibility:
        extra["visible"] = (train_vis, test_vis)
    if metric.holds_out_groups and bench.validation_groups is not None:
        extra.update(train_groups=train_groups, val_groups=bench.validation_groups)
    scored = metric.score(train_kp, train_labels, test_kp, test_labels, groups=test_groups,
                          draws=draws, **extra)
    regressed = scored.regressed
    if bench.metric == "size":
        results["sizes"].update(scored.fit_sizes)
        if test_groups is not None:
            results["group_label"] = bench.group_label
    at, per_part = pck(regressed * scale, test_labels * scale, bench.pck_threshold)
    results["pck"] = {"thresholds": list(PCK_THRESHOLDS),
                      "curve": pck_curve(regressed * scale, test_labels * scale,
                                         PCK_THRESHOLDS).tolist(),
                      "at_6": at, "threshold": bench.pck_threshold,
                      "per_part_at_6": per_part.tolist()}
    results.update(scored.entries)  # a metric's own "pck" (torso) replaces the one above
    split = results.get("val_split")
    if isinstance(split, dict) and split.get("by") == "group":
        split["detector_saw_them"] = detector_saw_groups(detector.training_root, bench,
                                                         split["groups"])
        if split["detector_saw_them"]:
            results["notes"].append(
                f"validation groups {', '.join(split['groups'])} were in the detector's "
                f"training root {detector.training_root}: the validation figure is not held "
                f"out of training (benchmarks/bodies_quality.py trains without them)")
    results["examples"] = []  # images come from a dataset object; none are stored
    return EvaluationResult(json_safe(results))


def detector_saw_groups(training_root: str | None, bench: LabelledBenchmark,
                        groups: Sequence[str]) -> bool | None:
    """Whether a detector trained on ``training_root`` saw any of ``groups``
    (:attr:`LabelledBenchmark.training_groups`); ``None`` when that cannot be told (no such
    function, or the root is not on this machine)."""
    if bench.training_groups is None or not training_root:
        return None
    path = Path(training_root).expanduser()
    if not path.exists():
        return None
    return bool(bench.training_groups(path) & set(groups))


def json_safe(obj: Any) -> Any:
    """``obj`` with NumPy scalars/arrays turned into Python values and NaN/inf into ``None``."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj
