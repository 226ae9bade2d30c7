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

For the registered benchmarks (:func:`~landmarks.evaluation.benchmark_eval.evaluate_benchmark`,
in its own module; MAFL, AFLW, BBC-Pose, Human3.6M, …)
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
:func:`landmarks.evaluation.formatting.format_results` renders it as plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from landmarks.data.realfaces import load_split_images
from landmarks.evaluation import baseline as mp_points
from landmarks.evaluation.attributes import (
    ATTRIBUTE_BENCHMARKS,
    evaluate_attributes,
)
from landmarks.evaluation.benchmark_eval import (
    PCK_THRESHOLDS,
    REALFACES,
    available_benchmarks,
    evaluate_benchmark,
    json_safe,
)
from landmarks.evaluation.identity import (
    TestIdentityError,
    realfaces_validation_groups,
    training_overlap,
)
from landmarks.evaluation.metrics import (
    iod_error,
    normalized_point_errors,
    pck,
    pck_curve,
)
from landmarks.evaluation.protocol import EvaluationResult, IodMetric
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
    "iod_error_by_group",
    "json_safe",
    "realfaces_groups",
]

DATASETS: tuple[str, ...] = (REALFACES,)  # kept for readers of the old constant
#: Where the realfaces labels come from; every result and table says it.
LABELS_NOTE = "pseudo labels from dlib's 68-point model (supervised), not human annotations"
#: The 5 points, in label order ("left"/"right" as seen in the image).
MAFL_POINT_NAMES: tuple[str, ...] = ("left_eye", "right_eye", "nose", "left_mouth",
                                     "right_mouth")
#: PCK threshold of the headline figure and the per-part figures, in crop pixels.
PCK_AT = 6.0
#: Number of test frames whose points are stored in ``results["examples"]``.
NUM_EXAMPLES = 8
_BATCH = 128


def check_fit(checkpoint: Path, num_keypoints: int, image_size: int, crop_size: int) -> None:
    """Raise a ValueError naming ``checkpoint`` unless its K and image size fit the benchmark."""
    if num_keypoints < 1:
        raise ValueError(f"checkpoint {checkpoint}: model.num_keypoints is {num_keypoints}; "
                         f"expected K >= 1")
    if image_size < 1 or image_size & (image_size - 1) or image_size > crop_size:
        raise ValueError(f"checkpoint {checkpoint}: model.image_size is {image_size}; the "
                         f"realfaces benchmark needs a power of two <= its crop size "
                         f"{crop_size} (the {crop_size}-px crops are resized to the model's size)")


def detect_crops(detector: Detector, frames: Sequence[Any], crop_size: int,
                 batch_size: int = _BATCH) -> np.ndarray:
    """Keypoints of benchmark frames, in crop pixels: the crops as their files give them,
    through :meth:`landmarks.inference.Detector.detect_images` (the checkpoint's
    preprocessing, ``data.crop`` included), so ``landmarks detect`` on a crop file gives the
    same points.

    Args:
        detector: a :class:`landmarks.inference.Detector`.
        frames: ``RealFacesFrame`` s (their crops are ``crop_size`` squares).
        crop_size: side of the crops the labels refer to (128).
        batch_size: frames loaded and detected at a time.

    Returns:
        ``(N, K, 2)`` float64 ``(x, y)`` in crop pixels (pixel centres at integers).
    """
    out = [detector.detect_images(load_split_images(frames[i:i + batch_size], crop_size),
                                  batch_size)
           for i in range(0, len(frames), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, detector.num_keypoints, 2))


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
                        draws: int = 10, *, allow_test_identities: bool = False,
                        **options: Any) -> EvaluationResult:
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
        allow_test_identities: RealFaces: score a checkpoint whose training data held test
            frames of the benchmark (otherwise :class:`~landmarks.evaluation.identity.
            TestIdentityError`); recorded in the results' ``identity_check``.
        options: the benchmark reader's options (for an attribute benchmark:
            ``attributes``, the names to score).

    Returns:
        An :class:`~landmarks.evaluation.protocol.EvaluationResult` (a JSON-safe dict whose
        keys are in the module doc; ``"metric"`` says how it was scored).

    Raises:
        ValueError: unknown dataset; a checkpoint whose K or image size does not fit (names the
            checkpoint); ``landmarks.data.DatasetError`` for a bad benchmark folder or frame;
            ``CheckpointError`` for an unreadable checkpoint; ``TestIdentityError`` (RealFaces)
            when training saw test people and ``allow_test_identities`` is false.
    """
    if dataset in ATTRIBUTE_BENCHMARKS:  # attributes from landmarks (Zhang et al. 2018)
        return EvaluationResult(json_safe(evaluate_attributes(checkpoint, dataset, root,
                                                              device=device, **options)))
    if dataset not in BENCHMARKS.names():
        raise ValueError(f"unknown dataset {dataset!r}; available: "
                         f"{', '.join(available_benchmarks())}")
    if dataset == REALFACES:  # its reader needs no image size: the folder is checked first
        bench = BENCHMARKS.create(dataset, root=Path(root), image_size=0, **options)
        return _evaluate_realfaces(Path(checkpoint), bench, device, draws,
                                   allow_test_identities)
    return evaluate_benchmark(checkpoint, dataset, root, device=device, draws=draws, **options)


def realfaces_identity_check(training_root: str, manifest: Any, allow: bool = False
                             ) -> dict[str, Any]:
    """Whether the training data under ``training_root`` (a checkpoint's ``data.root``) held
    RealFaces test frames (by content, :func:`~landmarks.evaluation.identity.
    training_overlap`) or the faces that validation holds out.

    Returns ``{"checked", "training_root", "test_frames_in_training", "test_groups",
    "validation_people_in_training", "allowed"}`` (``checked`` false with a ``reason`` when the
    root is not on this machine). Raises :class:`TestIdentityError` naming the folder and the
    identity groups when test frames were in training and ``allow`` is false.
    """
    out: dict[str, Any] = {"training_root": training_root, "allowed": bool(allow)}
    if not training_root or not Path(training_root).expanduser().exists():
        return {**out, "checked": False,
                "reason": f"the training root {training_root!r} is not on this machine"}
    test = manifest.split("test")
    hits = training_overlap(training_root, [f.image for f in test], [f.group for f in test])
    groups = sorted({h.group for h in hits})
    if hits and not allow:
        first = Path(hits[0].training_file)
        raise TestIdentityError(
            f"the checkpoint was trained on {training_root}, which holds {len(hits)} RealFaces "
            f"test frame(s) of identity group(s) {', '.join(groups)} (e.g. {first.parent}/"
            f"{first.name}); scores on them would not measure unseen faces. Train on "
            f"{Path(manifest.root) / 'frames' / 'train'}, or pass --allow-test-identities for a "
            f"deliberate experiment (recorded in the results)")
    train = manifest.split("train_labelled")
    _, held = realfaces_validation_groups(manifest)
    held_frames = [f for f in train if f.group in held]
    val_hits = training_overlap(training_root, [f.image for f in held_frames],
                                [f.group for f in held_frames]) if held_frames else []
    return {**out, "checked": True, "test_frames_in_training": len(hits),
            "test_groups": groups,
            "validation_people_in_training": sorted({h.group for h in val_hits})}


def _seen_unseen(test: Sequence[Any], regressed: np.ndarray, labels: np.ndarray,
                 eyes: tuple[int, int]) -> dict[str, dict[str, Any]]:
    """``iod_error_unseen`` / ``iod_error_seen``: the IOD error (%) of the test faces whose
    person was not / was in training, each ``{"mean", "frames"}`` (``mean`` None without
    frames)."""
    err = normalized_point_errors(regressed, labels, eyes)
    seen = np.array([bool(getattr(f, "person_in_train", False)) for f in test])
    out = {}
    for key, mask in (("iod_error_unseen", ~seen), ("iod_error_seen", seen)):
        out[key] = {"mean": float(100.0 * err[mask].mean()) if mask.any() else None,
                    "frames": int(mask.sum())}
    return out


def _evaluate_realfaces(checkpoint: Path, manifest: Any, device: str, draws: int,
                        allow_test_identities: bool = False) -> EvaluationResult:
    """RealFaces: keypoints detected on the 128-px crops (in crop pixels), scored by the IOD
    metric, first on the people never seen in training, then on the seen person; validation
    holds out whole people; plus its supervised reference row, its per-group errors and
    example frames. Refuses a checkpoint trained on test frames (:func:`realfaces_identity_
    check`)."""
    root = Path(manifest.root)
    crop = int(manifest.crop_size)
    detector = Detector.from_checkpoint(checkpoint, device=device)
    k, size = detector.num_keypoints, detector.image_size
    check_fit(checkpoint, k, size, crop)
    identity = realfaces_identity_check(detector.training_root, manifest,
                                        allow_test_identities)
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

    # validation holds out whole people (never the seen-person test's own person)
    seen_groups = sorted({f.group for f in test if f.person_in_train})
    scored = IodMetric(eyes).score(train_kp, train_labels, test_kp, test_labels, draws=draws,
                                   train_groups=[f.group for f in train],
                                   keep_groups=seen_groups)
    regressed = scored.regressed
    headline = _seen_unseen(test, regressed, test_labels, eyes)
    floor = _seen_unseen(test, np.broadcast_to(train_labels.mean(axis=0), test_labels.shape),
                         test_labels, eyes)
    for key, block in headline.items():
        block["mean_shape"] = floor[key]["mean"]
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
        **headline,
        "iod_error": e["iod_error"],
        "val_iod_error": e["val_iod_error"],
        "val_split": {**e["val_split"], "detector_saw_them":
                      bool(identity.get("validation_people_in_training"))
                      if identity.get("checked") else None},
        "identity_check": identity,
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
