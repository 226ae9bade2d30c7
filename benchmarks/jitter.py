"""Keypoint jitter of trained checkpoints on the held-out RealFaces clips: a script that prints
figures (not a test).

Every displacement is a keypoint's Euclidean frame-to-frame displacement, averaged over the
points and the frame transitions, divided by the face size: the inter-ocular distance (IOD,
the eye centres of the RealFaces pseudo labels, ``mafl5`` points 0 and 1) of the frame (of the
two frames of a transition, their mean), in percent.

* **static**: one frame of each held-out test clip (its middle frame) repeated ``--repeats``
  (30) times, each copy with independent Gaussian pixel noise (σ = ``--sigma`` / 255 = 2/255,
  seeded by ``--seed``, the same noise for every checkpoint of one image size) added to the
  model's input and clipped to [0, 1]. Nothing moves, so all of the displacement is jitter.
* **moving**: the held-out test clips as they are (consecutive frames only: a frame missing
  from the benchmark breaks the transition). Printed: the keypoints' mean displacement, the
  pseudo labels' own mean displacement (``mafl5``: the face's motion, plus dlib's own jitter),
  and the *residual*: the mean of ``|Δ regressed − Δ label|`` over the five points, where the
  regressed points come from the paper's protocol (a linear map without bias from the K
  keypoints to the five labels, fitted on the ``train_labelled`` split), i.e. the part of
  the motion of the landmarks the keypoints predict that the labels do not show.

Any registered model's checkpoint works. Keypoints come from the one detection on benchmark
crops, :func:`landmarks.evaluation.run.detect_crops` (:meth:`landmarks.inference.Detector.
detect_images`: the checkpoint's preprocessing, ``data.crop`` included), as in ``landmarks
eval``. Example::

    .venv/bin/python benchmarks/jitter.py runs/a/checkpoints/step_0001000.pt \\
        runs/b/checkpoints/step_0001000.pt --root $LANDMARKS_CACHE/data/realfaces

``--json OUT`` also writes the figures (per clip too); it never overwrites without ``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from landmarks.data.realfaces import (
    RealFaces,
    RealFacesFrame,
    default_root,
    load_manifest,
    load_split_images,
)
from landmarks.evaluation.regression import fit_linear_regressor
from landmarks.evaluation.run import detect_crops
from landmarks.inference import Detector

BATCH = 64


def clips_of(frames: Sequence[RealFacesFrame]) -> dict[str, list[RealFacesFrame]]:
    """The video frames of ``frames`` by clip, each clip in frame order (photos left out)."""
    clips: dict[str, list[RealFacesFrame]] = {}
    for f in frames:
        if f.kind == "video" and f.frame is not None:
            clips.setdefault(f.clip, []).append(f)
    return {c: sorted(fs, key=lambda f: int(f.frame)) for c, fs in sorted(clips.items())}


def iod(labels: np.ndarray, eyes: tuple[int, int]) -> np.ndarray:
    """Inter-ocular distances ``(N,)`` of labels ``(N, P, 2)`` (crop pixels)."""
    return np.linalg.norm(labels[:, eyes[0]] - labels[:, eyes[1]], axis=-1)


def mean_displacement(points: np.ndarray, scale: np.ndarray,
                      consecutive: np.ndarray | None = None) -> float:
    """Mean over transitions ``t-1 → t`` and points of ``|p_t − p_{t−1}| / scale_t``.

    Args:
        points: ``(T, P, 2)`` (crop pixels).
        scale: ``(T - 1,)`` the face size of each transition (crop pixels).
        consecutive: ``(T - 1,)`` bool, the transitions to count (default: all).

    Returns:
        A fraction of the face size (NaN when no transition counts).

    Example: a point moving 1 px per frame with an IOD of 50 px → 0.02 (2%).
    """
    step = np.linalg.norm(np.diff(points, axis=0), axis=-1).mean(axis=-1) / scale
    if consecutive is not None:
        step = step[consecutive]
    return float(step.mean()) if step.size else float("nan")


def static_jitter(detector: Detector, clips: dict[str, list[RealFacesFrame]], crop: int,
                  eyes: tuple[int, int], repeats: int, sigma: float, seed: int
                  ) -> dict[str, float]:
    """Per clip: the mean displacement (fraction of IOD) of the keypoints over ``repeats``
    noisy copies of the clip's middle frame. The noise is added to the model's input (the crop
    after the checkpoint's preprocessing, :meth:`~landmarks.inference.Detector.preprocess`);
    the points are mapped back to crop pixels as every detection is."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, frames in clips.items():
        frame = frames[len(frames) // 2]
        image = detector.preprocess(load_split_images([frame], crop))
        noise = torch.randn((repeats, *image.shape[1:]), generator=gen) * sigma
        copies = (image + noise).clamp(0.0, 1.0)
        kp = np.concatenate([detector.detect_tensor(copies[i:i + BATCH]).double().numpy()
                             for i in range(0, repeats, BATCH)])
        kp = detector.to_image_pixels(kp, crop, crop)
        face = iod(frame.mafl5[None], eyes)[0]
        out[name] = mean_displacement(kp, np.full(repeats - 1, face))
    return out


def moving_figures(detector: Detector, manifest: RealFaces,
                   clips: dict[str, list[RealFacesFrame]], crop: int, eyes: tuple[int, int]
                   ) -> dict[str, dict[str, float]]:
    """Per clip: keypoint, label and residual displacements (fractions of IOD) and the number
    of transitions."""
    train = manifest.split("train_labelled")
    regressor = fit_linear_regressor(detect_crops(detector, train, crop),
                                     np.stack([f.mafl5 for f in train]))
    out = {}
    for name, frames in clips.items():
        kp = detect_crops(detector, frames, crop)
        labels = np.stack([f.mafl5 for f in frames])
        numbers = np.array([int(f.frame) for f in frames])
        consecutive = np.diff(numbers) == 1
        faces = iod(labels, eyes)
        scale = (faces[1:] + faces[:-1]) / 2
        regressed = regressor.predict(kp)
        residual = np.linalg.norm(np.diff(regressed, axis=0) - np.diff(labels, axis=0),
                                  axis=-1).mean(-1) / scale
        out[name] = {
            "transitions": int(consecutive.sum()),
            "keypoints": mean_displacement(kp, scale, consecutive),
            "labels": mean_displacement(labels, scale, consecutive),
            "regressed": mean_displacement(regressed, scale, consecutive),
            "residual": float(residual[consecutive].mean()),
        }
    return out


def measure(checkpoint: Path, manifest: RealFaces, device: str, repeats: int, sigma: float,
            seed: int) -> dict[str, Any]:
    """The figures of one checkpoint (fractions of IOD), overall and per clip."""
    detector = Detector.from_checkpoint(checkpoint, device=device)
    crop = int(manifest.crop_size)
    eyes = (int(manifest.eye_indices_5[0]), int(manifest.eye_indices_5[1]))
    clips = clips_of(manifest.split("test"))
    if not clips:
        raise ValueError(f"RealFaces root {manifest.root}: the test split holds no video clip")
    static = static_jitter(detector, clips, crop, eyes, repeats, sigma, seed)
    moving = moving_figures(detector, manifest, clips, crop, eyes)
    weights = np.array([moving[c]["transitions"] for c in clips], dtype=np.float64)

    def overall(key: str) -> float:  # weighted by transitions: every frame pair counts once
        return float(np.average([moving[c][key] for c in clips], weights=weights))

    return {
        "checkpoint": str(checkpoint),
        "model": detector.config.model.name,
        "num_keypoints": detector.num_keypoints,
        "image_size": detector.image_size,
        "static": float(np.mean(list(static.values()))),
        "moving": {k: overall(k) for k in ("keypoints", "labels", "regressed", "residual")},
        "clips": {c: {"static": static[c], **moving[c]} for c in clips},
    }


def table(results: Sequence[dict[str, Any]], repeats: int, sigma: float) -> str:
    """The figures as Markdown tables (percent of IOD): one row per checkpoint, then one per
    checkpoint and clip."""
    lines = [
        f"| checkpoint | model | K | static jitter (% IOD; {repeats} noisy copies, "
        f"σ={sigma:g}/255) | moving: keypoints (% IOD / frame) | moving: labels (mafl5) | "
        f"moving: regressed 5 pts | moving: residual ‖Δregressed − Δlabel‖ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r["moving"]
        lines.append(f"| {r['checkpoint']} | {r['model']} | {r['num_keypoints']} | "
                     f"{100 * r['static']:.3f} | {100 * m['keypoints']:.3f} | "
                     f"{100 * m['labels']:.3f} | {100 * m['regressed']:.3f} | "
                     f"{100 * m['residual']:.3f} |")
    lines += ["", "| checkpoint | clip | transitions | static | moving: keypoints | labels | "
                  "regressed | residual |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for c, f in r["clips"].items():
            lines.append(f"| {Path(*Path(r['checkpoint']).parts[-3:])} | {c} | "
                         f"{f['transitions']} | "
                         f"{100 * f['static']:.3f} | {100 * f['keypoints']:.3f} | "
                         f"{100 * f['labels']:.3f} | {100 * f['regressed']:.3f} | "
                         f"{100 * f['residual']:.3f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--root", type=Path, default=None,
                        help="RealFaces folder (default: $LANDMARKS_CACHE/data/realfaces)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for PyTorch (0: PyTorch's default)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--sigma", type=float, default=2.0, help="pixel noise σ, in 1/255")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--force", action="store_true", help="overwrite --json")
    args = parser.parse_args(argv)
    if args.repeats < 2:
        parser.error(f"--repeats: expected at least 2 copies, got {args.repeats}")
    if args.json is not None and args.json.exists() and not args.force:
        parser.error(f"--json {args.json} exists; pass --force to overwrite it")
    for ckpt in args.checkpoints:
        if not ckpt.is_file():
            parser.error(f"checkpoint {ckpt} does not exist")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    manifest = load_manifest(args.root if args.root is not None else default_root())
    results = [measure(c, manifest, args.device, args.repeats, args.sigma / 255.0, args.seed)
               for c in args.checkpoints]
    print(table(results, args.repeats, args.sigma))
    if args.json is not None:
        args.json.write_text(json.dumps({"repeats": args.repeats, "sigma_255": args.sigma,
                                         "seed": args.seed, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
