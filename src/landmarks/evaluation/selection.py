"""Choosing a checkpoint on RealFaces' validation people (never on the test split).

The paper's protocol holds part of the labelled training split out "for model selection"; on
RealFaces that part is whole people (:func:`~landmarks.evaluation.identity.
realfaces_validation_groups`), so choosing the checkpoint whose regressed points fit them best
chooses for faces the regressor has not seen. ``make demo`` ranks the run's kept checkpoints
this way and evaluates the best one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmarks.evaluation.identity import realfaces_validation_groups
from landmarks.evaluation.metrics import iod_error
from landmarks.evaluation.regression import fit_linear_regressor
from landmarks.evaluation.run import check_fit, detect_crops
from landmarks.inference import Detector

__all__ = ["realfaces_validation_error", "select_on_validation"]


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
