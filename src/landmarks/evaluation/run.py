"""Evaluate a checkpoint on a labelled benchmark: ``landmarks eval CHECKPOINT --dataset realfaces``.

For ``realfaces`` (real face video frames, 128 × 128 crops, 5 MAFL-style points derived from
dlib's supervised 68-point model -- *not* human annotations):

1. load the manifest and the detector; the model's image size must be a power of two no larger
   than the crop (crops are resized to it) and K >= 1;
2. detect the K keypoints of the ``train_labelled`` and ``test`` frames (batched, inference mode)
   and map them back to 128-crop pixels, ``x_px = (x + 1) * 128 / 2 - 0.5``; keypoints and labels
   are then in the same pixel frame, so the bias-free linear map can copy points;
3. the protocol of :mod:`landmarks.evaluation`: a bias-free linear regressor fitted on 90% of
   ``train_labelled`` (10% held out: ``val_iod_error``) and scored on ``test`` (IOD error, mean
   and per point, in %); PCK of the regressed points at d = 1..20 crop pixels and PCK@6 per part;
   Hungarian matching of the raw keypoints to the 5 labels (the assignment is chosen on
   ``train_labelled`` and scored on ``test``; skipped when K < 5); the sample-efficiency curve over
   n in {1, 5, 10, 100, 500, 1000, 5000, all} labelled frames;
4. the test IOD error per source group (``iod_error_by_group``: ``video`` and each held-out
   clip, ``photos`` and each source package; regressor and mean-shape floor, and whether the
   group's people were seen in training), beside the overall figure;
5. a supervised reference row on the same test frames and labels: MediaPipe's face mesh reduced
   to the 5 points (:mod:`landmarks.evaluation.baseline`), or the reason it was skipped; and a
   floor, ``mean_shape``: the mean ``train_labelled`` label predicted for every test frame.

For the registered benchmarks (:func:`evaluate_benchmark`; MAFL, AFLW, BBC-Pose, Human3.6M, …)
the same steps run in pixels of the S×S network input, scored with the benchmark's metric:
``iod`` (IOD error, as above), ``pck`` (PCK at the benchmark's threshold) or ``size`` (the
Human3.6M metric: mean L2 error / image side S in %,
:func:`~landmarks.evaluation.metrics.size_error`; with per-group means and
their mean, ``mean_over_groups``, when the test items carry a ``"group"``, e.g. an activity).

The attribute benchmarks (``celeba_attributes``, ``realfaces_attributes``: attributes from
landmarks, Zhang et al. 2018) are not landmark benchmarks: :func:`evaluate_checkpoint` hands
them to :func:`landmarks.evaluation.attributes.evaluate_attributes` (its own result keys,
``attribute_accuracy``, and its own text table).

The result is a JSON-safe dict (NaN → ``None``) whose keys are shared with the report writer;
:func:`format_results` renders it as plain text.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from landmarks.data import collate_skipping
from landmarks.data.labelled import LabelledBenchmark
from landmarks.data.realfaces import load_split_images
from landmarks.evaluation import baseline as mp_points
from landmarks.evaluation.attributes import (
    ATTRIBUTE_BENCHMARKS,
    evaluate_attributes,
    format_attribute_results,
)
from landmarks.evaluation.metrics import (
    iod_error,
    normalized_point_errors,
    pck,
    pck_curve,
)
from landmarks.evaluation.protocol import (
    EvaluationResult,
    IodMetric,
    Metric,
    PckMetric,
    SizeMetric,
    metric_of_result,
)
from landmarks.evaluation.sample_efficiency import format_table
from landmarks.evaluation.torso import TorsoMetric, format_torso_results
from landmarks.geometry.coords import normalized_to_pixels
from landmarks.inference import Detector
from landmarks.registry import BENCHMARKS

__all__ = [
    "DATASETS",
    "LABELS_NOTE",
    "MAFL_POINT_NAMES",
    "PCK_THRESHOLDS",
    "available_benchmarks",
    "detect_crops",
    "evaluate_benchmark",
    "evaluate_checkpoint",
    "format_results",
    "iod_error_by_group",
    "json_safe",
    "realfaces_groups",
]

#: Benchmarks ``evaluate_checkpoint`` knows.
REALFACES = "realfaces"
DATASETS: tuple[str, ...] = (REALFACES,)  # kept for readers of the old constant
#: Where the realfaces labels come from; every result and table says it.
LABELS_NOTE = "pseudo labels from dlib's 68-point model (supervised), not human annotations"
#: The 5 points, in label order ("left"/"right" as seen in the image).
MAFL_POINT_NAMES: tuple[str, ...] = ("left_eye", "right_eye", "nose", "left_mouth",
                                     "right_mouth")
#: PCK curve thresholds, in 128-crop pixels.
PCK_THRESHOLDS: tuple[int, ...] = tuple(range(1, 21))
#: PCK threshold of the headline figure and the per-part figures, in crop pixels.
PCK_AT = 6.0
#: Number of test frames whose points are stored in ``results["examples"]``.
NUM_EXAMPLES = 8
_BATCH = 128


def _check_fit(checkpoint: Path, num_keypoints: int, image_size: int, crop_size: int) -> None:
    """Raise a ValueError naming ``checkpoint`` unless its K and image size fit the benchmark."""
    if num_keypoints < 1:
        raise ValueError(f"checkpoint {checkpoint}: model.num_keypoints is {num_keypoints}; "
                         f"expected K >= 1")
    if image_size < 1 or image_size & (image_size - 1) or image_size > crop_size:
        raise ValueError(f"checkpoint {checkpoint}: model.image_size is {image_size}; the "
                         f"realfaces benchmark needs a power of two <= its crop size "
                         f"{crop_size} (the {crop_size}-px crops are resized to the model's size)")


def detect_crops(detector: Any, frames: Sequence[Any], crop_size: int,
                 batch_size: int = _BATCH) -> np.ndarray:
    """Keypoints of benchmark frames, in crop pixels.

    Args:
        detector: a :class:`landmarks.inference.Detector`.
        frames: ``RealFacesFrame`` s; their crops are resized to the detector's image size.
        crop_size: side of the crops the labels refer to (128).
        batch_size: frames loaded and detected at a time.

    Returns:
        ``(N, K, 2)`` float64 ``(x, y)`` with ``x_px = (x + 1) * crop_size / 2 - 0.5``.
    """
    out = []
    with torch.inference_mode():
        for start in range(0, len(frames), batch_size):
            images = load_split_images(frames[start:start + batch_size], detector.image_size)
            out.append(detector.detect_tensor(images).double().numpy())
    kp = np.concatenate(out, axis=0) if out else np.zeros((0, detector.num_keypoints, 2))
    return normalized_to_pixels(kp, (crop_size, crop_size))


def _crops_uint8(frames: Sequence[Any], crop_size: int) -> list[np.ndarray]:
    crops: list[np.ndarray] = []
    for start in range(0, len(frames), _BATCH):
        images = load_split_images(frames[start:start + _BATCH], crop_size)
        arr = (images.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        crops += [np.ascontiguousarray(a) for a in arr]
    return crops


def _baseline(frames: Sequence[Any], labels: np.ndarray, crop_size: int,
              eyes: tuple[int, int]) -> dict[str, Any]:
    """The MediaPipe face-mesh row on ``frames`` against ``labels``, or why it was skipped."""
    ok, reason = mp_points.mediapipe_available()
    if not ok:
        return {"skipped": reason}
    upscale = 4 * crop_size  # chosen on train_labelled, see landmarks.evaluation.baseline
    pred = mp_points.mediapipe_mafl5(_crops_uint8(frames, crop_size), size=upscale)
    found = np.isfinite(pred).all(axis=(1, 2))
    row: dict[str, Any] = {
        "name": "mediapipe-face-mesh",
        "version": reason,
        "iod_error": {"mean": None, "per_point": [None] * labels.shape[1]},
        "missing": int((~found).sum()),
        "frames": len(frames),
        "note": "IOD error over the frames where MediaPipe found a face; 'missing' frames "
                "(no face found) are failures not counted in it",
        "settings": {"upscaled_to": upscale, "eye_contours": [list(mp_points.MP_RIGHT_EYE_CONTOUR),
                                                                list(mp_points.MP_LEFT_EYE_CONTOUR)],
                     "nose_tip": mp_points.MP_NOSE_TIP,
                     "mouth_corners": [mp_points.MP_MOUTH_LEFT, mp_points.MP_MOUTH_RIGHT]},
    }
    if found.any():
        mean, per_point = iod_error(pred[found], labels[found], eyes)
        row["iod_error"] = {"mean": mean, "per_point": per_point.tolist()}
        row["pck_at_6"] = pck(pred[found], labels[found], PCK_AT)[0]
    return row


def realfaces_groups(frames: Sequence[Any]) -> list[list[str]]:
    """The source groups of each RealFaces test frame, for :func:`iod_error_by_group`:
    ``"video"`` and ``"video/<clip>"`` for a clip frame; ``"photos"`` and ``"photos/<package>"``
    for a photo face (``kind`` of :class:`~landmarks.data.realfaces.RealFacesFrame`)."""
    out = []
    for f in frames:
        if getattr(f, "kind", "video") == "photo":
            out.append(["photos", f"photos/{getattr(f, 'source', '') or 'unknown'}"])
        else:
            out.append(["video", f"video/{f.clip}"])
    return out


def iod_error_by_group(pred: np.ndarray, gt: np.ndarray, eye_indices: Sequence[int],
                       groups: Sequence[Sequence[str]]) -> dict[str, dict[str, Any]]:
    """IOD error (%) of the frames of each group: ``{name: {"frames": n, "mean": %,
    "per_point": [%, ...]}}``, in order of first appearance, with the broad groups (names
    without ``/``) before their parts (``"video"``, ``"video/<clip>"``, …, ``"photos"``, …).

    ``pred``, ``gt``: ``(N, L, 2)``; ``groups[i]``: the names of the groups frame ``i`` belongs
    to. The mean of a group is over its frames and points, as :func:`iod_error`."""
    err = normalized_point_errors(pred, gt, eye_indices)
    members: dict[str, list[int]] = {}
    for i, names in enumerate(groups):
        for name in names:
            members.setdefault(name, []).append(i)
    broad = [n for n in members if "/" not in n]
    order = [part for b in broad for part in [b] + [n for n in members
                                                    if n.startswith(b + "/")]]
    order += [n for n in members if n not in order]
    return {name: {"frames": len(members[name]),
                   "mean": float(100.0 * err[members[name]].mean()),
                   "per_point": (100.0 * err[members[name]].mean(axis=0)).tolist()}
            for name in order}


def evaluate_checkpoint(checkpoint: Path, dataset: str, root: Path, device: str = "auto",
                        draws: int = 10, **options: Any) -> EvaluationResult:
    """Run the landmark protocol for ``checkpoint`` on the registered benchmark ``dataset``
    (RealFaces and every other; see the module doc).

    Args:
        checkpoint: a checkpoint written by training (self-describing).
        dataset: a registered benchmark, or an attribute benchmark (attributes from
            landmarks, :func:`landmarks.evaluation.attributes.evaluate_attributes`);
            :func:`available_benchmarks` lists both.
        root: the benchmark folder.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        draws: random draws per sample-efficiency size (not used by attribute benchmarks).
        options: the benchmark reader's options (for an attribute benchmark:
            ``attributes``, the names to score).

    Returns:
        An :class:`~landmarks.evaluation.protocol.EvaluationResult` (a JSON-safe dict whose
        keys are in the module doc; ``"metric"`` says how it was scored).

    Raises:
        ValueError: unknown dataset; a checkpoint whose K or image size does not fit (names the
            checkpoint); ``landmarks.data.DatasetError`` for a bad benchmark folder or frame;
            ``CheckpointError`` for an unreadable checkpoint.
    """
    if dataset in ATTRIBUTE_BENCHMARKS:  # attributes from landmarks (Zhang et al. 2018)
        return EvaluationResult(json_safe(evaluate_attributes(checkpoint, dataset, root,
                                                              device=device, **options)))
    if dataset not in BENCHMARKS.names():
        raise ValueError(f"unknown dataset {dataset!r}; available: "
                         f"{', '.join(available_benchmarks())}")
    if dataset == REALFACES:  # its reader needs no image size: the folder is checked first
        bench = BENCHMARKS.create(dataset, root=Path(root), image_size=0, **options)
        return _evaluate_realfaces(Path(checkpoint), bench, device, draws)
    return evaluate_benchmark(checkpoint, dataset, root, device=device, draws=draws, **options)


def _evaluate_realfaces(checkpoint: Path, manifest: Any, device: str,
                        draws: int) -> EvaluationResult:
    """RealFaces: keypoints detected on the 128-px crops (in crop pixels), scored by the IOD
    metric, plus its supervised reference row, its per-group errors and example frames."""
    root = Path(manifest.root)
    crop = int(manifest.crop_size)
    detector = Detector.from_checkpoint(checkpoint, device=device)
    k, size = detector.num_keypoints, detector.image_size
    _check_fit(checkpoint, k, size, crop)
    eyes = (int(manifest.eye_indices_5[0]), int(manifest.eye_indices_5[1]))

    train = list(manifest.split("train_labelled"))
    test = list(manifest.split("test"))
    for name, split in (("train_labelled", train), ("test", test)):
        if not split:
            raise ValueError(f"realfaces root {root}: the {name} split holds no frames")
    train_labels = np.stack([np.asarray(f.mafl5, np.float64) for f in train])
    test_labels = np.stack([np.asarray(f.mafl5, np.float64) for f in test])
    train_kp = detect_crops(detector, train, crop)
    test_kp = detect_crops(detector, test, crop)

    scored = IodMetric(eyes).score(train_kp, train_labels, test_kp, test_labels, draws=draws)
    regressed = scored.regressed
    at6, per_part = pck(regressed, test_labels, PCK_AT)
    curve = pck_curve(regressed, test_labels, PCK_THRESHOLDS)
    picks = sorted({int(i) for i in np.linspace(0, len(test) - 1, min(NUM_EXAMPLES, len(test)))})
    examples = [{"image": str(test[i].image), "id": str(test[i].id),
                 "labels": test_labels[i].tolist(), "regressed": regressed[i].tolist(),
                 "keypoints": test_kp[i].tolist()} for i in picks]
    e = scored.entries
    results = {
        "checkpoint": str(checkpoint),
        "dataset": REALFACES,
        "metric": IodMetric.name,
        "root": str(root),
        "num_keypoints": k,
        "image_size": size,
        "crop_size": crop,
        "labels_note": LABELS_NOTE,
        "point_names": list(getattr(manifest, "point_names_5", MAFL_POINT_NAMES)),
        "sizes": {"train_labelled": len(train), "test": len(test), **scored.fit_sizes},
        "iod_error": e["iod_error"],
        "val_iod_error": e["val_iod_error"],
        "pck": {"thresholds": list(PCK_THRESHOLDS), "curve": curve.tolist(), "at_6": at6,
                "per_part_at_6": per_part.tolist()},
        "matching": e["matching"],
        "sample_efficiency": e["sample_efficiency"],
        "baseline": _baseline(test, test_labels, crop, eyes),
        "mean_shape": e["mean_shape"],
        "iod_error_by_group": _by_group(test, regressed, train_labels, test_labels, eyes),
        "examples": examples,
        "regressor": e["regressor"],
    }
    return EvaluationResult(json_safe(results))


def _by_group(test: Sequence[Any], regressed: np.ndarray, train_labels: np.ndarray,
              test_labels: np.ndarray, eyes: tuple[int, int]) -> dict[str, Any]:
    """The test IOD error per source group (regressor and mean-shape floor), with whether the
    group's people were seen in training."""
    groups = realfaces_groups(test)
    shape = np.broadcast_to(train_labels.mean(axis=0), test_labels.shape)
    ours = iod_error_by_group(regressed, test_labels, eyes, groups)
    floor = iod_error_by_group(shape, test_labels, eyes, groups)
    for name, block in ours.items():
        seen = {bool(getattr(test[i], "person_in_train", False))
                for i, g in enumerate(groups) if name in g}
        block["mean_shape"] = floor[name]["mean"]
        block["person_in_train"] = seen.pop() if len(seen) == 1 else "mixed"
    return ours


def available_benchmarks() -> list[str]:
    """Every registered benchmark (``realfaces`` included) and the attribute benchmarks
    (:data:`~landmarks.evaluation.attributes.ATTRIBUTE_BENCHMARKS`)."""
    return sorted({*BENCHMARKS.names(), *ATTRIBUTE_BENCHMARKS})


def _collate_labelled(batch: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """:func:`~landmarks.data.collate_skipping` for labelled benchmark items: unreadable items
    (``None``) are dropped and counted in ``"skipped"``. When any kept item carries a
    ``"group"``, every kept item gets the key (``None`` where it has none), so that ``"group"``
    is a list aligned with the kept images and a split that only partly names its groups is
    caught by :func:`_detect_split`, not by a KeyError."""
    kept = [item for item in batch if item is not None]
    if any("group" in item for item in kept):
        kept = [item if "group" in item else {**item, "group": None} for item in kept]
    out = collate_skipping(kept)
    out["skipped"] = len(batch) - len(kept)
    return out


def _detect_split(detector: Any, split: Any, size: int, what: str = "split"
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str] | None, int]:
    """Keypoints (N,K,2), labels (N,L,2) and visibility (N,L) of the readable items of a
    labelled split, all in pixels of the S×S network input, the items' ``"group"`` names (N,
    aligned with them) or ``None`` when the items carry none (:mod:`landmarks.data.labelled`),
    and the number of unreadable items skipped (the reader returned ``None``; it warns with the
    file, and a summary warning names ``what``).

    Raises ValueError naming ``what`` when only some items carry a group, one is not a
    non-empty string, or no item of the split could be read."""
    from torch.utils.data import DataLoader

    kps, labels, visible = [], [], []
    groups: list[str] = []
    with_group = without_group = skipped = 0
    for batch in DataLoader(split, batch_size=_BATCH, shuffle=False,
                            collate_fn=_collate_labelled):
        skipped += int(batch.pop("skipped", 0))
        if "image" not in batch:  # every item of this batch was unreadable
            continue
        kp = detector.detect_tensor(batch["image"]).numpy().astype(np.float64)
        kps.append(normalized_to_pixels(kp, (size, size)))
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
    train_kp, train_labels, train_vis, _, skipped_train = _detect_split(
        detector, bench.split("train"), size, f"benchmark {name!r} train split")
    test_kp, test_labels, test_vis, test_groups, skipped_test = _detect_split(
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
    visible = {"visible": (train_vis, test_vis)} if metric.per_point_visibility else {}
    scored = metric.score(train_kp, train_labels, test_kp, test_labels, groups=test_groups,
                          draws=draws, **visible)
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
    results["examples"] = []  # images come from a dataset object; none are stored
    return EvaluationResult(json_safe(results))


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


def _num(value: Any, fmt: str = "6.2f") -> str:
    return "n/a" if value is None else format(float(value), fmt)


def _skipped_lines(sizes: dict[str, Any]) -> list[str]:
    """The line saying how many unreadable items were skipped per split; none when none was."""
    counts = [(split, sizes.get(f"skipped_{split}") or 0) for split in ("train", "test")]
    if not any(n for _, n in counts):
        return []
    return ["  skipped unreadable images: " + ", ".join(f"{n} {split}" for split, n in counts)
            + " (left out; the reader's warnings name the files)"]


def _head_lines(results: dict[str, Any], *, crops: bool = False, labels_note: str = "",
                paper: bool = True) -> list[str]:
    """The title, model and data lines that open every layout: the crop size when ``crops``,
    ``labels_note`` when the results have none, the paper's figure (when given) with ``paper``."""
    sizes = results.get("sizes", {})
    crop = f"crops {results.get('crop_size')} px; " if crops else ""
    lines = [
        f"{results.get('dataset', '?')} evaluation of {results.get('checkpoint', '?')}",
        f"  model: K={results.get('num_keypoints')} keypoints at {results.get('image_size')} px; "
        f"{crop}{sizes.get('train_labelled', '?')} labelled train frames, "
        f"{sizes.get('test', '?')} test frames",
        *_skipped_lines(sizes),
        f"  {results.get('labels_note', labels_note)}",
    ]
    if paper and results.get("paper_figure"):
        lines.append(f"  paper: {results['paper_figure']}")
    return lines


def _curve_pairs(p: dict[str, Any]) -> str:
    """A PCK curve as ``"threshold:pck"`` pairs (``""`` when the results hold none)."""
    if not (p.get("thresholds") and p.get("curve")):
        return ""
    return " ".join(f"{_num(t, 'g')}:{_num(c, '.0f')}" for t, c in zip(
        p["thresholds"], p["curve"], strict=False))


def _matching_line(match: dict[str, Any], assigned_from: str, unit: str) -> str:
    """The Hungarian-matching summary: skipped and why, or the assignment and its mean error in
    ``unit`` (``assigned_from``: the split named when the results do not say)."""
    if "skipped" in match:
        return f"Hungarian matching of raw keypoints: skipped ({match['skipped']})"
    return (f"Hungarian matching of raw keypoints (no regression; assignment from "
            f"{match.get('assignment_from', assigned_from)}): keypoints "
            f"{match.get('assignment')} -> mean error {_num(match.get('mean_error_px'), '.2f')} "
            f"{unit}")


def _efficiency_lines(results: dict[str, Any], title: str, **table: Any) -> list[str]:
    """A blank line, ``title`` and the sample-efficiency table (``table``: keywords of
    :func:`format_table`); none when the results hold no table."""
    rows = results.get("sample_efficiency") or []
    return ["", title, format_table(rows, **table)] if rows else []


def _notes_lines(results: dict[str, Any]) -> list[str]:
    """A blank line and the benchmark's notes; none when it has none."""
    notes = results.get("notes") or []
    return ["", "Notes:"] + [f"  - {n}" for n in notes] if notes else []


def _format_size_results(results: dict[str, Any]) -> str:
    """:func:`format_results` for metric ``size`` (results holding ``size_error``)."""
    names = list(results.get("point_names") or [])
    err = results.get("size_error") or {}
    match = results.get("matching") or {}
    shape = (results.get("mean_shape") or {}).get("size_error") or {}
    per_group = err.get("per_group") or {}
    group = str(results.get("group_label") or "group")
    plural = "activities" if group == "activity" else f"{group}s"
    lines = _head_lines(results)
    lines += ["", "Error in % of image side (mean L2 distance to the labels / image side; lower "
              "is better)"]
    label_w = 44
    cols = ([f"mean over {plural}"] if per_group else []) + ["mean over frames"]
    width = max(len(c) for c in cols)
    lines.append(f"  {'':<{label_w}} " + " ".join(f"{c:>{width}}" for c in cols))

    def row(label: str, block: dict[str, Any]) -> str:
        values = ([block.get("mean_over_groups")] if per_group else []) + [block.get("mean")]
        return f"  {label:<{label_w}} " + " ".join(f"{_num(v, '.2f'):>{width}}" for v in values)

    lines.append(row(f"unsupervised K={results.get('num_keypoints')} + linear regressor", err))
    if "skipped" in match:
        lines.append(f"  {'Hungarian matching (no regression)':<{label_w}} skipped: "
                     f"{match['skipped']}")
    elif match:
        lines.append(row("Hungarian matching (no regression)", match.get("size_error") or {}))
    if shape:
        lines.append(row("mean train shape (no detector)", shape))
    lines.append(f"  validation error (10% of the train split held out, mean over frames): "
                 f"{_num(results.get('val_size_error'), '.2f')} %")

    if per_group:
        frames = err.get("group_frames") or {}
        m_groups = (match.get("size_error") or {}).get("per_group") or {}
        s_groups = shape.get("per_group") or {}
        name_w = max(len(f"mean over {plural}"), *(len(g) for g in per_group))
        lines += ["", f"Per {group} (error in % of image side; the paper's figure is the mean "
                  f"over {plural})",
                  f"  {group:<{name_w}} {'frames':>7} {'regression':>11} {'matching':>9} "
                  f"{'mean shape':>11}"]
        for g, v in per_group.items():
            lines.append(f"  {g:<{name_w}} {frames.get(g, '?'):>7} {_num(v, '.2f'):>11} "
                         f"{_num(m_groups.get(g), '.2f'):>9} {_num(s_groups.get(g), '.2f'):>11}")
        lines.append(f"  {'mean over ' + plural:<{name_w}} {'':>7} "
                     f"{_num(err.get('mean_over_groups'), '.2f'):>11} "
                     f"{_num((match.get('size_error') or {}).get('mean_over_groups'), '.2f'):>9} "
                     f"{_num(shape.get('mean_over_groups'), '.2f'):>11}")

    per_point = err.get("per_point") or []
    if per_point:
        # "name value" pairs never split across lines (non-breaking space while wrapping)
        pairs = ", ".join(f"{n}\u00a0{_num(v, '.2f')}" for n, v in zip(
            names + [f"point {i}" for i in range(len(names), len(per_point))], per_point,
            strict=False))
        lines += ["", "Per point (linear regressor, % of image side, mean over frames):"]
        lines += [line.replace("\u00a0", " ") for line in textwrap.wrap(
            pairs, width=100, initial_indent="  ", subsequent_indent="  ")]

    p = results.get("pck") or {}
    lines += ["", f"PCK@{_num(p.get('threshold'), 'g')}% of image side (regressed points): "
              f"{_num(p.get('at_6'), '.1f')} %"]
    curve = _curve_pairs(p)
    if curve:
        lines.append("  PCK curve (d in % of side: %): " + curve)

    lines.append("")
    if match:
        lines.append(_matching_line(match, "train", "px"))
    lines += _efficiency_lines(results, "Sample efficiency (linear regressor on n labelled "
                               "train frames; test error in % of image side, mean over frames)",
                               error_label="error (% side)")
    lines += _notes_lines(results)
    return "\n".join(lines)


def _format_pck_results(results: dict[str, Any]) -> str:
    """:func:`format_results` for metric ``pck`` (BBC-Pose: results with ``pck`` but neither
    ``iod_error`` nor ``size_error``): PCK at the benchmark's threshold, in the dataset's original
    (evaluation) pixels, per part, for the linear regressor and the Hungarian-matched raw
    keypoints; the PCK curve."""
    p = results.get("pck") or {}
    match = results.get("matching") or {}
    per_part = list(p.get("per_part_at_6") or [])
    names = list(results.get("point_names") or [])
    names += [f"point {i}" for i in range(len(names), len(per_part))]
    thr = _num(p.get("threshold", PCK_AT), "g")
    lines = _head_lines(results)
    lines += ["", f"PCK@{thr} px on the test split (% of points within {thr} px of the label, "
              f"in the dataset's original pixels; higher is better)",
              f"  PCK@{thr} px, linear regressor (fitted on all labelled train frames): "
              f"{_num(p.get('at_6'), '.2f')} %"]
    matched = "skipped" not in match and bool(match)
    if matched:
        lines.append(f"  PCK@{thr} px, Hungarian-matched raw keypoints (no regression): "
                     f"{_num(match.get('pck'), '.2f')} %")
    if per_part:
        name_w = max(len("mean"), len("part"), *(len(n) for n in names))
        cols = ["regression"] + (["matching"] if matched else [])
        lines += ["", f"Per part (PCK@{thr} px, %)",
                  f"  {'part':<{name_w}} " + " ".join(f"{c:>10}" for c in cols)]
        m_per = list(match.get("per_part_pck") or []) if matched else []
        for i, (n, v) in enumerate(zip(names, per_part, strict=False)):
            vals = [v] + ([m_per[i] if i < len(m_per) else None] if matched else [])
            lines.append(f"  {n:<{name_w}} " + " ".join(f"{_num(x, '.1f'):>10}" for x in vals))
        means = [p.get("at_6")] + ([match.get("pck")] if matched else [])
        lines.append(f"  {'mean':<{name_w}} " + " ".join(f"{_num(x, '.1f'):>10}" for x in means))
    curve = _curve_pairs(p)
    if curve:
        lines += ["", "PCK curve (linear regressor; d in original px: %): " + curve]

    lines.append("")
    if match:
        lines.append(_matching_line(match, "train", "original px"))
    lines += _notes_lines(results)
    return "\n".join(lines)


def _group_lines(results: dict[str, Any]) -> list[str]:
    """The per-source table (``iod_error_by_group``): a blank line, a title and one row per group
    (parts indented under their broad group); none when the results hold no groups."""
    groups = results.get("iod_error_by_group") or {}
    if not groups:
        return []
    names = [("  " + n.split("/", 1)[1]) if "/" in n else n for n in groups]
    name_w = max(len("all test frames"), *(len(n) for n in names))
    lines = ["", "IOD error by test source (%; regressor as above; seen = people also in training)",
             f"  {'group':<{name_w}} {'frames':>7} {'regression':>11} {'mean shape':>11}  people"]
    sizes = results.get("sizes") or {}
    overall = (results.get("iod_error") or {}).get("mean")
    floor = ((results.get("mean_shape") or {}).get("iod_error") or {}).get("mean")
    lines.append(f"  {'all test frames':<{name_w}} {sizes.get('test', '?'):>7} "
                 f"{_num(overall, '.2f'):>11} {_num(floor, '.2f'):>11}")
    for label, block in zip(names, groups.values(), strict=True):
        seen = block.get("person_in_train")
        people = {True: "seen", False: "unseen"}.get(seen, str(seen)) if seen is not None else ""
        lines.append(f"  {label:<{name_w}} {block.get('frames', '?'):>7} "
                     f"{_num(block.get('mean'), '.2f'):>11} "
                     f"{_num(block.get('mean_shape'), '.2f'):>11}  {people}")
    return lines


def format_results(results: dict[str, Any]) -> str:
    """A plain-text summary of :func:`evaluate_checkpoint`'s dict (also of its JSON, reloaded).

    Results of a metric-``size`` benchmark (``size_error``, Human3.6M) get their own layout:
    the error in % of the image side, per group (activity) and averaged over the groups. So do
    results of a metric-``pck`` benchmark (``pck`` without ``iod_error``, BBC-Pose): PCK at the
    benchmark's threshold per part, for the regressor and the Hungarian-matched raw keypoints,
    and the PCK curve. Everything else (realfaces, MAFL, AFLW) gets the IOD layout."""
    if "attribute_accuracy" in results:
        return format_attribute_results(results)
    metric = metric_of_result(results)
    if metric == "torso":
        return format_torso_results(results)
    if metric == "size":
        return _format_size_results(results)
    if metric == "pck":
        return _format_pck_results(results)
    names = list(results.get("point_names") or MAFL_POINT_NAMES)
    lines = _head_lines(results, crops=True, labels_note=LABELS_NOTE, paper=False)
    lines += ["", "IOD error on the test split (%; lower is better)"]
    ours = f"unsupervised K={results.get('num_keypoints')} + linear regressor"
    label_w = max(len(ours), 32)
    header = f"  {'':<{label_w}} {'mean':>7} " + " ".join(f"{n:>11}" for n in names)
    lines += [header, "  " + "-" * (len(header) - 2)]

    def row(label: str, block: dict[str, Any] | None) -> str:
        block = block or {}
        per = list(block.get("per_point") or [None] * len(names))
        return (f"  {label:<{label_w}} {_num(block.get('mean'), '7.2f'):>7} "
                + " ".join(f"{_num(v, '11.2f'):>11}" for v in per))

    lines.append(row(ours, results.get("iod_error")))
    base = results.get("baseline") or {}
    if "skipped" in base:
        lines.append(f"  {'MediaPipe face mesh (supervised)':<{label_w}} skipped: "
                     f"{base['skipped']}")
    else:
        frames = base.get("frames")
        missing = base.get("missing", 0)
        found = f"{frames - missing}/{frames}" if frames is not None else "?"
        lines.append(row("MediaPipe face mesh (supervised)", base.get("iod_error")))
        lines.append(f"    (MediaPipe found a face in {found} test frames; its error is over "
                     f"those; {missing} missing = failures, not counted)")
    if results.get("mean_shape"):
        lines.append(row("mean train shape (no detector)", results["mean_shape"].get("iod_error")))
    lines.append(f"  validation IOD error (10% of train_labelled held out): "
                 f"{_num(results.get('val_iod_error'), '.2f')} %")
    lines += _group_lines(results)

    p = results.get("pck") or {}
    per_part = p.get("per_part_at_6") or []
    lines += ["", f"PCK@6 px (regressed points, {results.get('crop_size')}-px crop): "
              f"{_num(p.get('at_6'), '.1f')} %  "
              "(per point: " + ", ".join(f"{n} {_num(v, '.1f')}" for n, v in zip(names, per_part,
                                                                              strict=False))
              + ")"]
    if p.get("thresholds") and p.get("curve"):
        pairs = [f"{int(t)}:{_num(c, '.0f')}" for t, c in zip(p["thresholds"], p["curve"],
                                                            strict=False)]
        lines.append("  PCK curve (d px: %): " + " ".join(pairs))

    m = results.get("matching") or {}
    lines += ["", _matching_line(m, "train_labelled", "px")
              + ("" if "skipped" in m else f", IOD error {_num(m.get('iod_error'), '.2f')} %")]
    lines += _efficiency_lines(results, "Sample efficiency (linear regressor on n labelled "
                               "train frames; test IOD error)")
    return "\n".join(lines)
