"""Tiny BBC-Pose and Human3.6M datasets in their real on-disk formats (never real data).

* :func:`write_bbcpose_fixture`: ``<root>/<n>/<frame>.jpg`` frame folders (frame numbers without
  padding) and ``<root>/code/bbcpose.mat`` with the ``bbcpose`` 1×V struct array (fields
  ``videoName``, ``type``, ``source``, ``train_frames`` 1×N, ``train_joints`` 2×7×N,
  ``test_frames``, ``test_joints``; MATLAB 1-based pixel coordinates).
* :func:`write_h36m_fixture`: Zhang et al.'s "Simplified Human3.6M" layout,
  ``<root>/S<k>/{WithBackground,BackgroudMask,Landmarks}/<sequence>/<frame>.{jpg,png,mat}`` with
  ``keypoints_2d`` (32, 2) ``(y, x)`` fractions and 1-bit PNG masks.

Every frame shows a textured blue/green background and one red disc (radius
:data:`MARKER_RADIUS`) centred exactly on one joint (BBC-Pose: the head; Human3.6M: joint
:data:`H36M_MARKER_JOINT`), so tests can find the joint in the returned tensor. Human3.6M frames
also have a bright yellow background outside the mask, which masking must turn black.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

MARKER_RADIUS = 4.0
#: BBC-Pose struct fields, in the order of the real file.
BBC_FIELDS = ("videoName", "type", "source", "train_frames", "train_joints", "test_frames",
              "test_joints")
#: The Human3.6M joint drawn as the marker (15 = head).
H36M_MARKER_JOINT = 15
H36M_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")


def _background(h: int, w: int, seed: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=2)
    tex = 0.5 + 0.5 * np.sin(xx / 3.0 + phase[0]) * np.cos(yy / 4.0 + phase[1])
    img = np.zeros((h, w, 3), np.float32)
    img[..., 1] = 40 + 60 * tex
    img[..., 2] = 80 + 60 * (1 - tex)
    return img


def _disc(img: np.ndarray, centre: tuple[float, float], radius: float = MARKER_RADIUS,
          colour: Sequence[float] = (255.0, 0.0, 0.0)) -> np.ndarray:
    """A copy of ``img`` with a disc (anti-aliased edge) centred on the 0-based pixel-centre
    point ``centre``."""
    out = img.copy()
    h, w = img.shape[:2]
    r = int(np.ceil(radius + 1))
    x0, x1 = max(0, int(centre[0]) - r), min(w, int(centre[0]) + r + 2)
    y0, y1 = max(0, int(centre[1]) - r), min(h, int(centre[1]) + r + 2)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = np.hypot(xx - centre[0], yy - centre[1])
    alpha = np.clip(radius + 0.5 - d, 0.0, 1.0)[..., None]
    out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    return out


def _save_jpeg(img: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8)).save(path, quality=98)


# ----------------------------------------------------------------------------------------------
# BBC-Pose


def bbc_joints(video: int, frame: int, size_hw: tuple[int, int]) -> np.ndarray:
    """The fixture's 7 joints of ``frame`` of ``video`` as ``(7, 2)`` MATLAB 1-based ``(x, y)``.

    The signer sits near the right edge (so a 300-px-like crop pads on the right); the head moves
    with the frame number.
    """
    h, w = size_hw
    cx, cy = 0.78 * w, 0.5 * h
    offsets = np.array([[0, -0.25], [-0.2, 0.3], [0.2, 0.3], [-0.22, 0.1], [0.22, 0.1],
                        [-0.15, -0.05], [0.15, -0.05]]) * h
    joints = np.array([cx, cy]) + offsets
    joints[0] += [0.9 * frame - 5 + video, 0.3 * frame]  # the head moves
    return joints + 1.0  # 1-based


def write_bbcpose_fixture(root: str | Path,
                          types: Sequence[str] = ("train", "train", "val", "test", "test"),
                          frames: int = 12, size_hw: tuple[int, int] = (90, 120),
                          manual: Sequence[int] = (2, 5, 11)) -> dict[str, object]:
    """Write a tiny BBC-Pose root: one frame folder per entry of ``types`` (``<root>/1`` ...),
    ``frames`` JPEG frames each (``1.jpg`` .. ``<frames>.jpg``, ``size_hw`` = (H, W)), and
    ``<root>/code/bbcpose.mat``.

    Every video has ``train_frames`` = all its frames (the semi-automatic labels); val/test videos
    also have ``test_frames`` = ``manual`` with the same joints (the manual labels); training
    videos have empty ``test_*`` fields, as in the real file. Returns ``{"root", "types",
    "frames", "size_hw", "manual"}``.
    """
    root = Path(root)
    h, w = size_hw
    table = np.empty((1, len(types)), dtype=[(f, object) for f in BBC_FIELDS])
    for i, kind in enumerate(types):
        number = i + 1
        all_frames = np.arange(1, frames + 1)
        joints = np.stack([bbc_joints(number, int(f), size_hw) for f in all_frames], axis=-1)
        joints = joints.transpose(1, 0, 2)  # (7, 2, N) -> (2, 7, N)
        for f in all_frames:
            img = _background(h, w, seed=100 * number + int(f))
            head = bbc_joints(number, int(f), size_hw)[0] - 1.0
            _save_jpeg(_disc(img, (float(head[0]), float(head[1]))), root / str(number) /
                       f"{f}.jpg")
        if kind == "train":
            test_frames, test_joints = np.zeros((0, 0)), np.zeros((0, 0))
        else:
            sel = np.asarray(manual, dtype=np.int64)
            test_frames = sel[None, :].astype(np.float64)
            test_joints = joints[:, :, sel - 1]
        table[0, i] = (f"fixture_video_{number:02d}", kind,
                       "tracker" if kind == "train" else "manual",
                       all_frames[None, :].astype(np.float64), joints.astype(np.float64),
                       test_frames, test_joints.astype(np.float64))
    (root / "code").mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(root / "code" / "bbcpose.mat"), {"bbcpose": table})
    return {"root": root, "types": tuple(types), "frames": frames, "size_hw": size_hw,
            "manual": tuple(manual)}


# ----------------------------------------------------------------------------------------------
# Human3.6M (Zhang et al.'s simplified release)


def h36m_joints(subject: int, sequence: int, frame: int) -> np.ndarray:
    """The fixture's 32 joints as ``(32, 2)`` ``(x, y)`` fractions of the image side; x != y for
    the marker joint so that a swapped reader is caught."""
    rng = np.random.default_rng(1000 * subject + 10 * sequence)
    base = rng.uniform(0.3, 0.7, size=(32, 2))
    base[H36M_MARKER_JOINT] = [0.35 + 0.02 * frame, 0.25 + 0.01 * sequence]
    return base


def write_h36m_fixture(root: str | Path, subjects: Sequence[str] = H36M_SUBJECTS,
                       sequences: Sequence[str] = ("Directions.54138969",
                                                   "Walking 1.55011271"),
                       extra: Sequence[str] = ("WalkDog.54138969",), frames: int = 11,
                       size: int = 128) -> dict[str, object]:
    """Write a tiny "Simplified Human3.6M" root (module docstring): for each subject, the
    ``sequences`` (the first subject also the ``extra`` ones: activities outside the protocol),
    each with ``frames`` frames named ``1`` .. ``frames``. Returns ``{"root", "subjects",
    "sequences", "extra", "frames", "size"}``.

    The mask is 1 inside ``[0.2, 0.8] × [0.1, 0.9]`` (x × y fractions) and 0 outside, where the
    frame is bright yellow.
    """
    root = Path(root)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    fx, fy = (xx + 0.5) / size, (yy + 0.5) / size
    inside = (fx >= 0.2) & (fx <= 0.8) & (fy >= 0.1) & (fy <= 0.9)
    mask = Image.fromarray(inside).convert("1")
    for s_idx, subject in enumerate(subjects):
        names = tuple(sequences) + (tuple(extra) if s_idx == 0 else ())
        for q_idx, seq in enumerate(names):
            background = _background(size, size, seed=s_idx * 97 + q_idx * 13)
            background[~inside] = [250.0, 250.0, 0.0]
            for folder in ("WithBackground", "BackgroudMask", "Landmarks"):
                (root / subject / folder / seq).mkdir(parents=True, exist_ok=True)
            for f in range(1, frames + 1):
                xy = h36m_joints(s_idx, q_idx, f)
                mx, my = xy[H36M_MARKER_JOINT] * size - 0.5
                _save_jpeg(_disc(background, (float(mx), float(my))),
                           root / subject / "WithBackground" / seq / f"{f}.jpg")
                mask.save(root / subject / "BackgroudMask" / seq / f"{f}.png")
                scipy.io.savemat(str(root / subject / "Landmarks" / seq / f"{f}.mat"),
                                 {"keypoints_2d": xy[:, ::-1].copy()})
    return {"root": root, "subjects": tuple(subjects), "sequences": tuple(sequences),
            "extra": tuple(extra), "frames": frames, "size": size}
