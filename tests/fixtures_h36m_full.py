"""A tiny official-release Human3.6M root in the real file formats (never real data).

:func:`write_h36m_full_fixture` writes, per subject, ``S<k>/Videos/<Action>.<camera>.mp4`` (real
mp4 files, h264 if PyAV has libx264, else MPEG-4 part 2, with a short keyframe interval so that
reading a frame seeks), ``S<k>/Images/<Action>.<camera>/<number>.png`` frame folders (ffmpeg-like
1-based, zero-padded numbers) and ``S<k>/MyPoseFeatures/D2_Positions/<Action>.<camera>.cdf``:
NASA CDF files written with ``cdflib``'s writer, one float64 zVariable ``Pose`` of shape
``(1, N, 64)`` (32 joints × (x, y) frame pixels per frame).

Every frame shows a textured blue/green background (red channel 0) and a synthetic "figure":
32 joints around a centre that moves right and grows with the frame number
(:func:`fixture_joints`). Red discs (radius :data:`MARKER_RADIUS`) are drawn exactly on the
joints :data:`MARKER_JOINTS`, far apart, so a test can find each of them in a crop (its red
centroid) and compare it with the transformed label.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from fixtures import write_video_frames

#: (H, W) of the fixture videos (even, for yuv420p).
FRAME_HW = (96, 128)
MARKER_RADIUS = 3.0
#: Joints drawn as red discs: head (top), left foot (bottom right), right wrist (left).
MARKER_JOINTS = (15, 8, 27)
SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
CAMERA = "54138969"

# the figure in body units: x in [-0.5, 0.5], y in [-1, 1] (y down); markers at the extremes
_rng = np.random.default_rng(7)
_BODY = np.stack([_rng.uniform(-0.4, 0.4, 32), _rng.uniform(-0.85, 0.85, 32)], axis=1)
_BODY[15] = (0.0, -1.0)
_BODY[8] = (0.5, 1.0)
_BODY[27] = (-0.5, 0.0)


def fixture_joints(t: int, frames: int, size_hw: Sequence[int] = FRAME_HW,
                   start_x: float = 0.35) -> np.ndarray:
    """The ``(32, 2)`` joints (0-based pixel-centre ``(x, y)``) of frame ``t`` of ``frames``: the
    centre moves from ``start_x`` to ``start_x + 0.3`` of the width, the half height grows from
    0.25 to 0.3 of the frame height."""
    h, w = size_hw
    frac = t / max(frames - 1, 1)
    centre = np.array([(start_x + 0.3 * frac) * (w - 1), 0.5 * (h - 1)])
    half = (0.25 + 0.05 * frac) * h
    return centre + _BODY * half


def _background(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tex = 0.5 + 0.5 * np.sin(xx / 3.0) * np.cos(yy / 4.0)
    img = np.zeros((h, w, 3), np.float32)
    img[..., 1] = 40 + 60 * tex
    img[..., 2] = 80 + 60 * (1 - tex)
    return img


def fixture_frame(joints: np.ndarray, size_hw: Sequence[int] = FRAME_HW) -> np.ndarray:
    """The ``(H, W, 3)`` uint8 frame showing red discs on the :data:`MARKER_JOINTS` of
    ``joints``."""
    h, w = size_hw
    img = _background(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for j in MARKER_JOINTS:
        d = np.hypot(xx - joints[j, 0], yy - joints[j, 1])
        alpha = np.clip(MARKER_RADIUS + 0.5 - d, 0.0, 1.0)[..., None]
        img = img * (1 - alpha) + np.array([255.0, 0.0, 0.0], np.float32) * alpha
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def write_pose_cdf(path: str | Path, pose: np.ndarray) -> Path:
    """Write a D2_Positions-like CDF: zVariable ``Pose``, CDF_DOUBLE, one record of the given
    array (``(1, N, 64)`` in the release; any shape for the bad-shape tests)."""
    from cdflib.cdfwrite import CDF

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pose = np.asarray(pose, dtype=np.float64)
    dims = list(pose.shape[1:]) if pose.ndim >= 2 and pose.shape[0] == 1 else list(pose.shape)
    data = pose if pose.ndim >= 2 and pose.shape[0] == 1 else pose[None]
    writer = CDF(str(path), delete=True)
    writer.write_var({"Variable": "Pose", "Data_Type": CDF.CDF_DOUBLE, "Num_Elements": 1,
                      "Rec_Vary": True, "Dim_Sizes": dims}, var_data=data)
    writer.close()
    return path


def write_fixture_video(path: str | Path, images: Sequence[np.ndarray], fps: int = 50,
                        gop: int = 6) -> Path:
    """Write ``images`` (``(H, W, 3)`` uint8, even sizes) as an mp4 at ``fps`` with a keyframe
    every ``gop`` frames."""
    return write_video_frames(path, images, fps, crf=8, bit_rate=8_000_000, gop=gop)


def write_sequence(root: Path, subject: str, stem: str, frames: int, form: str,
                   start_x: float = 0.35, pose: bool = True) -> dict:
    """One sequence ``stem`` of ``subject``: a video (``form="video"``) or a PNG frame folder
    (``"folder"``, files ``000001.png …``) plus its pose file (unless ``pose`` is false).
    Returns ``{"joints": (N, 32, 2), "source": path, "pose": path}``."""
    joints = np.stack([fixture_joints(t, frames, FRAME_HW, start_x) for t in range(frames)])
    images = [fixture_frame(j) for j in joints]
    base = root / subject
    if form == "video":
        source = write_fixture_video(base / "Videos" / f"{stem}.mp4", images)
    elif form == "folder":
        source = base / "Images" / stem
        source.mkdir(parents=True, exist_ok=True)
        for t, img in enumerate(images):
            Image.fromarray(img).save(source / f"{t + 1:06d}.png")
    else:
        raise ValueError(form)
    pose_path = base / "MyPoseFeatures" / "D2_Positions" / f"{stem}.cdf"
    if pose:
        write_pose_cdf(pose_path, joints.reshape(1, frames, 64))
    else:
        pose_path.parent.mkdir(parents=True, exist_ok=True)
    return {"joints": joints, "source": source, "pose": pose_path}


def write_h36m_full_fixture(root: str | Path, frames: int = 24,
                            subjects: Sequence[str] = SUBJECTS) -> dict:
    """Write the fixture root. Every subject has ``Directions 1.<cam>`` (video) and ``Walking
    1.<cam>`` (frame folder); S1 also has ``WalkDog 1.<cam>`` (video; not one of the six
    activities), ``Greeting 1.<cam>`` (video without a pose file: skipped) and ``Posing
    1.<cam>`` (video whose figure sits at the left edge, so its crops leave the frame).

    Returns ``{"root", "frames", "sequences": {(subject, stem): write_sequence(...)},
    "no_pose": [paths]}``.
    """
    root = Path(root)
    sequences: dict[tuple[str, str], dict] = {}
    no_pose = []
    for subject in subjects:
        sequences[subject, f"Directions 1.{CAMERA}"] = write_sequence(
            root, subject, f"Directions 1.{CAMERA}", frames, "video")
        sequences[subject, f"Walking 1.{CAMERA}"] = write_sequence(
            root, subject, f"Walking 1.{CAMERA}", frames, "folder", start_x=0.3)
        if subject == "S1":
            sequences[subject, f"WalkDog 1.{CAMERA}"] = write_sequence(
                root, subject, f"WalkDog 1.{CAMERA}", frames, "video")
            sequences[subject, f"Posing 1.{CAMERA}"] = write_sequence(
                root, subject, f"Posing 1.{CAMERA}", frames, "video", start_x=0.13)
            missing = write_sequence(root, subject, f"Greeting 1.{CAMERA}", 8, "video",
                                     pose=False)
            no_pose.append(missing["source"])
    return {"root": root, "frames": frames, "sequences": sequences, "no_pose": no_pose}
