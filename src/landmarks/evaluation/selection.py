"""Choosing a checkpoint on validation people (never on the test split).

The paper's protocol holds part of the labelled training split out "for model selection"; on
RealFaces that part is whole people (:func:`~landmarks.evaluation.identity.
realfaces_validation_groups`), so choosing the checkpoint whose regressed points fit them best
chooses for faces the regressor has not seen. ``make demo`` ranks the run's kept checkpoints
this way and evaluates the best one. Benchmarks that name their validation groups
(:attr:`~landmarks.data.labelled.LabelledBenchmark.validation_groups`; Bodies: whole actors)
are ranked the same way by :func:`benchmark_validation_error`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmarks.evaluation.benchmark_eval import detect_split, detector_saw_groups, metric_for
from landmarks.evaluation.identity import realfaces_validation_groups
from landmarks.evaluation.metrics import iod_error
from landmarks.evaluation.regression import fit_linear_regressor
from landmarks.evaluation.run import check_fit, detect_crops
from landmarks.inference import Detector
from landmarks.registry import BENCHMARKS

__all__ = ["benchmark_validation_error", "realfaces_validation_error",
           "select_on_benchmark_validation", "select_on_validation"]


def realfaces_validation_error(checkpoint: Path, manifest: Any, device: str = "auto"
                               ) -> dict[str, Any]:
    """The validation figure alone of :func:`evaluate_checkpoint` on RealFaces, for choosing a
    checkpoint: detect the labelled training faces, fit the regressor without the validation
    people (:func:`~landmarks.evaluation.identity.realfaces_validation_groups`) and score
    them. Returns ``{"checkpoint", "val_iod_error", "val_groups", "frames"}``; never looks at
    the test split."""
    detector = Detector.from_checkpoint(checkpoint, device=device)
    crop = int(manifest.crop_size)
    check_fit(checkpoint, detector.num_keypoints, detector.image_size, crop)
    eyes = (int(manifest.eye_indices_5[0]), int(manifest.eye_indices_5[1]))
    train = list(manifest.split("train_labelled"))
    groups, held = realfaces_validation_groups(manifest)
    val = np.isin(np.asarray(groups), held)
    if not held or val.all():
        raise ValueError(f"realfaces root {manifest.root}: too few identity groups in "
                         f"train_labelled to hold people out for validation")
    labels = np.stack([np.asarray(f.mafl5, np.float64) for f in train])
    kp = detect_crops(detector, train, crop)
    regressor = fit_linear_regressor(kp[~val], labels[~val], bias=False)
    error, _ = iod_error(regressor.predict(kp[val]), labels[val], eyes)
    return {"checkpoint": str(checkpoint), "val_iod_error": float(error), "val_groups": held,
            "frames": int(val.sum())}


def select_on_validation(checkpoints: Sequence[Path], manifest: Any, device: str = "auto"
                         ) -> list[dict[str, Any]]:
    """:func:`realfaces_validation_error` of each checkpoint, best (lowest) first: the
    paper's use of the validation split (choose the checkpoint), on people held out of the
    regressor's fit."""
    rows = [realfaces_validation_error(Path(c), manifest, device) for c in checkpoints]
    return sorted(rows, key=lambda r: r["val_iod_error"])


def benchmark_validation_error(checkpoint: Path, name: str, root: Path, device: str = "auto",
                               **options: Any) -> dict[str, Any]:
    """The validation figure alone of
    :func:`~landmarks.evaluation.benchmark_eval.evaluate_benchmark`
    on a benchmark that names its validation groups (Bodies: actors 7 and 8): detect the
    labelled train split, fit the regressor without those groups and score them with the
    benchmark's metric, together with the benchmark's
    :attr:`~landmarks.data.labelled.LabelledBenchmark.validation_extra` frames (Bodies: the
    validation actors' unsupervised clips: three times the frames, four motions per actor
    instead of one) when the detector's training root is known not to hold those groups. Returns
    ``{"checkpoint", "val_error", "val_floor", "metric", "val_groups", "frames",
    "extra_frames", "val_by_group"}`` (``val_floor``: the fit frames' mean pose predicted for
    every validation frame; ``val_by_group``: the error of each group's frames alone, same
    fit); never looks at the test split.

    Raises:
        ValueError: the benchmark names no validation groups, or its metric cannot hold groups
            out.
    """
    detector = Detector.from_checkpoint(checkpoint, device=device)
    size = detector.image_size
    bench = BENCHMARKS.create(name, root=Path(root), image_size=size, **options)
    metric = metric_for(bench, size)
    if not bench.validation_groups or not metric.holds_out_groups:
        raise ValueError(f"benchmark {name!r} names no validation groups its metric "
                         f"{bench.metric!r} can hold out; choose checkpoints on it with "
                         f"`landmarks eval` instead")
    kp, labels, visible, groups, _ = detect_split(detector, bench.split("train"), size,
                                                  f"benchmark {name!r} train split")
    if groups is None:
        raise ValueError(f"benchmark {name!r}: its train items carry no 'group'; validation "
                         f"groups cannot be found among them")
    held = np.isin(np.asarray(groups), bench.validation_groups)
    val = (kp[held], labels[held], visible[held], np.asarray(groups)[held])
    extra_frames = 0
    if (bench.validation_extra is not None
            and detector_saw_groups(detector.training_root, bench,
                                    bench.validation_groups) is False):
        e_kp, e_labels, e_visible, e_groups, _ = detect_split(
            detector, bench.validation_extra, size, f"benchmark {name!r} validation frames")
        if e_groups is None or not np.isin(e_groups, bench.validation_groups).all():
            raise ValueError(f"benchmark {name!r}: its validation_extra items must carry a "
                             f"validation group ({', '.join(bench.validation_groups)})")
        val = tuple(np.concatenate([a, b]) for a, b in zip(
            val, (e_kp, e_labels, e_visible, np.asarray(e_groups)), strict=True))
        extra_frames = len(e_kp)

    def score(keep: np.ndarray) -> Any:
        return metric.score(kp, labels, val[0][keep], val[1][keep],
                            visible=(visible, val[2][keep]), train_groups=groups,
                            val_groups=bench.validation_groups)

    scored = score(np.ones(len(val[0]), bool))
    key = f"{bench.metric}_error"
    by_group = {str(g): float(score(val[3] == g).entries[key]["mean"])
                for g in sorted(set(val[3].tolist()))}
    return {"checkpoint": str(checkpoint), "val_error": float(scored.entries[key]["mean"]),
            "val_floor": float(scored.entries["mean_shape"][key]["mean"]),
            "metric": bench.metric,
            "val_groups": list(scored.entries["val_split"]["groups"]),
            "frames": int(len(val[0])), "extra_frames": extra_frames,
            "val_by_group": by_group}


def select_on_benchmark_validation(checkpoints: Sequence[Path], name: str, root: Path,
                                   device: str = "auto") -> list[dict[str, Any]]:
    """:func:`benchmark_validation_error` of each checkpoint, best (lowest) first."""
    rows = [benchmark_validation_error(Path(c), name, root, device) for c in checkpoints]
    return sorted(rows, key=lambda r: r["val_error"])
