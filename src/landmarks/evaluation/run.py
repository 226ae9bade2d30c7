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
4. a supervised reference row on the same test frames and labels: MediaPipe's face mesh reduced
   to the 5 points (:mod:`landmarks.evaluation.baseline`), or the reason it was skipped; and a
   floor, ``mean_shape``: the mean ``train_labelled`` label predicted for every test frame.

The result is a JSON-safe dict (NaN → ``None``) whose keys are shared with the report writer;
:func:`format_results` renders it as plain text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from landmarks.evaluation.matching import match_keypoints
from landmarks.evaluation.metrics import iod_error, pck, pck_curve, point_distances
from landmarks.evaluation.regression import evaluate_regression
from landmarks.evaluation.sample_efficiency import DEFAULT_SIZES, format_table, sample_efficiency
from landmarks.geometry.coords import normalized_to_pixels

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
    "json_safe",
]

#: Benchmarks ``evaluate_checkpoint`` knows.
DATASETS: tuple[str, ...] = ("realfaces",)
#: Where the realfaces labels come from; every result and table says it.
LABELS_NOTE = "labels from dlib's 68-point model (supervised), not human annotations"
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
    from landmarks.data.realfaces import load_split_images

    out = []
    with torch.inference_mode():
        for start in range(0, len(frames), batch_size):
            images = load_split_images(frames[start:start + batch_size], detector.image_size)
            out.append(detector.detect_tensor(images).double().numpy())
    kp = np.concatenate(out, axis=0) if out else np.zeros((0, detector.num_keypoints, 2))
    return normalized_to_pixels(kp, (crop_size, crop_size))


def _crops_uint8(frames: Sequence[Any], crop_size: int) -> list[np.ndarray]:
    from landmarks.data.realfaces import load_split_images

    crops: list[np.ndarray] = []
    for start in range(0, len(frames), _BATCH):
        images = load_split_images(frames[start:start + _BATCH], crop_size)
        arr = (images.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        crops += [np.ascontiguousarray(a) for a in arr]
    return crops


def _baseline(frames: Sequence[Any], labels: np.ndarray, crop_size: int,
              eyes: tuple[int, int]) -> dict[str, Any]:
    """The MediaPipe face-mesh row on ``frames`` against ``labels``, or why it was skipped."""
    from landmarks.evaluation import baseline as mp_points

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


def _mean_shape(train_labels: np.ndarray, test_labels: np.ndarray,
                eyes: tuple[int, int]) -> dict[str, Any]:
    """A floor every detector should beat: the mean training label predicted for each frame."""
    pred = np.broadcast_to(train_labels.mean(axis=0), test_labels.shape)
    mean, per_point = iod_error(pred, test_labels, eyes)
    return {"iod_error": {"mean": mean, "per_point": per_point.tolist()},
            "note": "no detector: the mean train_labelled label predicted for every test frame"}


def _matching(train_kp: np.ndarray, train_labels: np.ndarray, test_kp: np.ndarray,
              test_labels: np.ndarray, eyes: tuple[int, int]) -> dict[str, Any]:
    """Hungarian matching: assignment chosen on the training frames, scored on the test frames."""
    k, n_labels = train_kp.shape[1], train_labels.shape[1]
    if k < n_labels:
        return {"skipped": f"K={k} keypoints < {n_labels} labelled points: Hungarian matching "
                           f"needs one distinct keypoint per label"}
    assignment = match_keypoints(train_kp, train_labels).assignment
    matched = test_kp[:, assignment]
    dist = point_distances(matched, test_labels)
    iod, _ = iod_error(matched, test_labels, eyes)
    return {
        "assignment": [int(a) for a in assignment],
        "mean_error_px": float(dist.mean()),
        "per_point_error_px": dist.mean(axis=0).tolist(),
        "iod_error": iod,
        "assignment_from": "train_labelled",
    }


def evaluate_checkpoint(checkpoint: Path, dataset: str, root: Path, device: str = "auto",
                        draws: int = 10) -> dict[str, Any]:
    """Run the landmark protocol for ``checkpoint`` on a labelled benchmark (see module doc).

    Args:
        checkpoint: a checkpoint written by training (self-describing).
        dataset: the benchmark; only ``"realfaces"``.
        root: the benchmark folder (with its manifest).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        draws: random draws per sample-efficiency size.

    Returns:
        A JSON-safe dict (keys in the module doc / README of the report writer).

    Raises:
        ValueError: unknown dataset; a checkpoint whose K or image size does not fit (names the
            checkpoint); ``landmarks.data.DatasetError`` for a bad benchmark folder or frame;
            ``CheckpointError`` for an unreadable checkpoint.
    """
    if dataset != "realfaces":
        return evaluate_benchmark(checkpoint, dataset, root, device=device, draws=draws)
    from landmarks.data.realfaces import load_manifest
    from landmarks.inference import Detector

    checkpoint, root = Path(checkpoint), Path(root)
    manifest = load_manifest(root)
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

    reg = evaluate_regression(train_kp, train_labels, test_kp, test_labels, eye_indices=eyes,
                              bias=False, val_fraction=0.1)
    regressed = reg.regressor.predict(test_kp)
    at6, per_part = pck(regressed, test_labels, PCK_AT)
    curve = pck_curve(regressed, test_labels, PCK_THRESHOLDS)
    efficiency = sample_efficiency(train_kp, train_labels, test_kp, test_labels, eyes,
                                   sizes=DEFAULT_SIZES, draws=draws)
    picks = sorted({int(i) for i in np.linspace(0, len(test) - 1, min(NUM_EXAMPLES, len(test)))})
    examples = [{"image": str(test[i].image), "id": str(test[i].id),
                 "labels": test_labels[i].tolist(), "regressed": regressed[i].tolist(),
                 "keypoints": test_kp[i].tolist()} for i in picks]

    results = {
        "checkpoint": str(checkpoint),
        "dataset": dataset,
        "root": str(root),
        "num_keypoints": k,
        "image_size": size,
        "crop_size": crop,
        "labels_note": LABELS_NOTE,
        "point_names": list(getattr(manifest, "point_names_5", MAFL_POINT_NAMES)),
        "sizes": {"train_labelled": len(train), "test": len(test),
                  "regression_fit": reg.train_size, "regression_val": reg.val_size},
        "iod_error": {"mean": reg.iod_error_mean, "per_point": reg.iod_error_per_point.tolist()},
        "val_iod_error": reg.val_iod_error,
        "pck": {"thresholds": list(PCK_THRESHOLDS), "curve": curve.tolist(), "at_6": at6,
                "per_part_at_6": per_part.tolist()},
        "matching": _matching(train_kp, train_labels, test_kp, test_labels, eyes),
        "sample_efficiency": efficiency,
        "baseline": _baseline(test, test_labels, crop, eyes),
        "mean_shape": _mean_shape(train_labels, test_labels, eyes),
        "examples": examples,
        "regressor": reg.regressor.to_dict(),
    }
    return json_safe(results)


def available_benchmarks() -> list[str]:
    """``realfaces`` and every benchmark registered by the dataset readers."""
    from landmarks.registry import BENCHMARKS, load_builtin_datasets

    load_builtin_datasets()
    return sorted({*DATASETS, *BENCHMARKS.names()})


def _detect_split(detector: Any, split: Any, size: int) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Keypoints (N,K,2), labels (N,L,2) and visibility (N,L) of a labelled split, all in
    pixels of the S×S network input."""
    from torch.utils.data import DataLoader

    kps, labels, visible = [], [], []
    for batch in DataLoader(split, batch_size=_BATCH, shuffle=False):
        kp = detector.detect_tensor(batch["image"]).numpy().astype(np.float64)
        kps.append(normalized_to_pixels(kp, (size, size)))
        labels.append(batch["labels"].numpy().astype(np.float64))
        visible.append(batch["visible"].numpy().astype(bool))
    return np.concatenate(kps), np.concatenate(labels), np.concatenate(visible)


def evaluate_benchmark(checkpoint: Path, name: str, root: Path, device: str = "auto",
                       draws: int = 10, **options: Any) -> dict[str, Any]:
    """The protocol on a registered :class:`~landmarks.data.labelled.LabelledBenchmark`
    (MAFL, AFLW, BBC-Pose, …): the same steps as for realfaces, in pixels of the network input;
    metric ``iod`` reports the IOD error, metric ``pck`` PCK at the benchmark's threshold (in
    the dataset's original pixels) per part, plus Hungarian-matched raw points."""
    from landmarks.inference import Detector
    from landmarks.registry import BENCHMARKS, load_builtin_datasets

    load_builtin_datasets()
    if name not in BENCHMARKS.names():
        raise ValueError(f"unknown dataset {name!r}; available: "
                         f"{', '.join(available_benchmarks())}")
    checkpoint, root = Path(checkpoint), Path(root)
    detector = Detector.from_checkpoint(checkpoint, device=device)
    k, size = detector.num_keypoints, detector.image_size
    bench = BENCHMARKS.create(name, root=root, image_size=size, **options)
    train_kp, train_labels, train_vis = _detect_split(detector, bench.split("train"), size)
    test_kp, test_labels, test_vis = _detect_split(detector, bench.split("test"), size)
    if not (train_vis.all() and test_vis.all()):
        # the protocol regresses every point; missing labels are excluded image-wise
        keep_tr, keep_te = train_vis.all(axis=1), test_vis.all(axis=1)
        train_kp, train_labels = train_kp[keep_tr], train_labels[keep_tr]
        test_kp, test_labels = test_kp[keep_te], test_labels[keep_te]
    results: dict[str, Any] = {
        "checkpoint": str(checkpoint), "dataset": name, "root": str(root),
        "num_keypoints": k, "image_size": size, "crop_size": size,
        "labels_note": "human annotations of the dataset",
        "point_names": list(bench.point_names), "paper_figure": bench.paper_figure,
        "notes": list(bench.notes),
        "sizes": {"train_labelled": len(train_kp), "test": len(test_kp)},
        "baseline": {"skipped": "a supervised baseline row is computed for realfaces only"},
    }
    scale = bench.pixel_scale
    if bench.metric == "iod":
        eyes = bench.eye_indices or (0, 1)
        reg = evaluate_regression(train_kp, train_labels, test_kp, test_labels,
                                  eye_indices=eyes, bias=False, val_fraction=0.1)
        regressed = reg.regressor.predict(test_kp)
        results.update(
            iod_error={"mean": reg.iod_error_mean,
                       "per_point": reg.iod_error_per_point.tolist()},
            val_iod_error=reg.val_iod_error,
            matching=_matching(train_kp, train_labels, test_kp, test_labels, eyes),
            sample_efficiency=sample_efficiency(train_kp, train_labels, test_kp, test_labels,
                                                eyes, sizes=DEFAULT_SIZES, draws=draws),
            mean_shape=_mean_shape(train_labels, test_labels, eyes),
            regressor=reg.regressor.to_dict())
    else:
        from landmarks.evaluation.regression import fit_linear_regressor

        regressor = fit_linear_regressor(train_kp, train_labels)
        regressed = regressor.predict(test_kp)
        results["regressor"] = regressor.to_dict()
        if k >= train_labels.shape[1]:
            assignment = match_keypoints(train_kp, train_labels).assignment
            matched = test_kp[:, assignment]
            m_at, m_per = pck(matched * scale, test_labels * scale, bench.pck_threshold)
            results["matching"] = {"assignment": [int(a) for a in assignment],
                                   "mean_error_px": float(point_distances(
                                       matched, test_labels).mean() * scale),
                                   "pck": m_at, "per_part_pck": m_per.tolist(),
                                   "assignment_from": "train"}
        else:
            results["matching"] = {"skipped": f"K={k} < {train_labels.shape[1]} labels"}
    at, per_part = pck(regressed * scale, test_labels * scale, bench.pck_threshold)
    results["pck"] = {"thresholds": list(PCK_THRESHOLDS),
                      "curve": pck_curve(regressed * scale, test_labels * scale,
                                         PCK_THRESHOLDS).tolist(),
                      "at_6": at, "threshold": bench.pck_threshold,
                      "per_part_at_6": per_part.tolist()}
    results["examples"] = []  # images come from a dataset object; none are stored
    return json_safe(results)


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


def format_results(results: dict[str, Any]) -> str:
    """A plain-text summary of :func:`evaluate_checkpoint`'s dict (also of its JSON, reloaded)."""
    names = list(results.get("point_names") or MAFL_POINT_NAMES)
    sizes = results.get("sizes", {})
    lines = [
        f"{results.get('dataset', '?')} evaluation of {results.get('checkpoint', '?')}",
        f"  model: K={results.get('num_keypoints')} keypoints at {results.get('image_size')} px; "
        f"crops {results.get('crop_size')} px; {sizes.get('train_labelled', '?')} labelled "
        f"train frames, {sizes.get('test', '?')} test frames",
        f"  {results.get('labels_note', LABELS_NOTE)}",
        "",
        "IOD error on the test split (%; lower is better)",
    ]
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
    lines.append("")
    if "skipped" in m:
        lines.append(f"Hungarian matching of raw keypoints: skipped ({m['skipped']})")
    else:
        lines.append(f"Hungarian matching of raw keypoints (no regression; assignment from "
                     f"{m.get('assignment_from', 'train_labelled')}): keypoints "
                     f"{m.get('assignment')} -> mean error {_num(m.get('mean_error_px'), '.2f')} "
                     f"px, IOD error {_num(m.get('iod_error'), '.2f')} %")

    rows = results.get("sample_efficiency") or []
    if rows:
        lines += ["", "Sample efficiency (linear regressor on n labelled train frames; test IOD "
                  "error)", format_table(rows)]
    return "\n".join(lines)
