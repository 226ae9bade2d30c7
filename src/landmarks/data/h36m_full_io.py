"""The official Human3.6M release on disk, for :mod:`landmarks.data.h36m_full`: its layout
(:func:`find_sequences` pairs each video or frame folder with the ``D2_Positions`` pose file of
the same stem), the CDF pose files (:func:`load_poses`, :func:`pose_rows`), the crops around the
2D poses (:func:`joint_box`, :func:`crop_frame`) and the frames (:func:`read_frames`, with a
per-process cache of open videos). The rules are in :mod:`landmarks.data.h36m_full`'s docstring.
"""

from __future__ import annotations

import math
import os
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from landmarks.data.h36m import POINT_NAMES, SUBJECTS, sequence_activity
from landmarks.data.transforms import DatasetError
from landmarks.data.video_io import FrameReader, video_info

__all__ = [
    "CAMERAS",
    "DEFAULT_CROP_MARGIN",
    "FPS",
    "IMAGE_DIR",
    "MAX_OPEN_VIDEOS",
    "MIN_CROP_SIDE",
    "POSE_DIR",
    "POSE_VARIABLE",
    "VIDEO_DIR",
    "FullSequence",
    "clear_video_readers",
    "crop_frame",
    "find_sequences",
    "joint_box",
    "load_poses",
    "pose_rows",
    "read_frames",
]

VIDEO_DIR = "Videos"
POSE_DIR = "MyPoseFeatures/D2_Positions"
IMAGE_DIR = "Images"
POSE_VARIABLE = "Pose"
CAMERAS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
FPS = 50
DEFAULT_CROP_MARGIN = 1.5
#: Smallest crop side in frame pixels (a pose whose joints coincide still gets a crop).
MIN_CROP_SIDE = 8.0

_VIDEO_SUFFIXES = (".mp4",)
_FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
_T = TypeVar("_T")
_FRAME_NUMBER = re.compile(r"^(?:.*\D)?(\d+)$")


# ----------------------------------------------------------------------------------------------
# Layout


@dataclass(frozen=True)
class FullSequence:
    """One sequence: a video file, or a frame folder (``frames``: its images in frame order),
    and the pose file of the same stem. ``num_frames`` = ``min(pose rows, frames)``."""

    subject: str
    name: str  # the stem, e.g. "Directions 1.54138969"
    activity: str  # e.g. "Directions"
    pose_path: Path
    video: Path | None  # the .mp4, or None for a frame folder
    frames: tuple[Path, ...]  # the frame folder's images, frame 0 first (empty for a video)
    num_frames: int

    @property
    def camera(self) -> str:
        """The camera id of the stem (``""`` when the stem has no ``.<camera>`` part)."""
        return self.name.rsplit(".", 1)[1] if "." in self.name else ""

    @property
    def source(self) -> Path:
        """The video file or the frame folder."""
        return self.video if self.video is not None else self.frames[0].parent

    def frame_path(self, row: int) -> Path:
        """The file holding frame ``row`` (the video itself for a video)."""
        return self.video if self.video is not None else self.frames[row]


def load_poses(path: str | Path) -> np.ndarray:
    """The ``Pose`` variable of a ``D2_Positions`` ``.cdf`` as ``(N, 32, 2)`` float64 ``(x, y)``
    frame pixels. Raises :class:`DatasetError` naming the file when it is missing, is no CDF file,
    has no ``Pose`` variable, or ``Pose`` is not ``(1, N, 64)`` / ``(N, 64)``."""
    path = Path(path)
    pose = _read_pose_file(path, lambda cdf: np.asarray(cdf.varget(POSE_VARIABLE),
                                                        dtype=np.float64))
    rows = _check_pose_shape(path, tuple(int(d) for d in pose.shape))
    return pose.reshape(len(rows), len(POINT_NAMES), 2)


def pose_rows(path: str | Path) -> int:
    """The number of frames (rows) of a ``D2_Positions`` ``.cdf``, from the variable's header
    (no data read). Raises :class:`DatasetError` as :func:`load_poses` does."""
    path = Path(path)
    info = _read_pose_file(path, lambda cdf: cdf.varinq(POSE_VARIABLE))
    dims = tuple(int(d) for d in info.Dim_Sizes)
    shape = ((int(info.Last_Rec) + 1,) + dims) if info.Rec_Vary else dims
    return len(_check_pose_shape(path, shape))


def _read_pose_file(path: Path, read: Callable[[Any], _T]) -> _T:
    """``read(cdf)`` of the pose file ``path`` opened with ``cdflib``; a :class:`DatasetError`
    naming the file when it is missing or ``read`` fails (no CDF file, no ``Pose`` variable)."""
    import cdflib

    if not path.is_file():
        raise DatasetError(f"Human3.6M pose file {path} is missing (the 2D poses of a sequence: "
                           f"{POSE_DIR}/<Action>.<camera>.cdf of the official release)")
    try:
        cdf = cdflib.CDF(str(path))
        try:
            return read(cdf)
        finally:
            del cdf
    except Exception as err:
        raise DatasetError(f"Human3.6M pose file {path} cannot be read as a CDF file with a "
                           f"{POSE_VARIABLE!r} variable: {err}") from err


def _check_pose_shape(path: Path, shape: tuple[int, ...]) -> range:
    """``range(N)`` for a ``Pose`` of shape ``(1, N, 64)`` or ``(N, 64)``; else a
    :class:`DatasetError` naming the file and the shape."""
    width = 2 * len(POINT_NAMES)
    if len(shape) == 3 and shape[0] == 1 and shape[2] == width:
        return range(shape[1])
    if len(shape) == 2 and shape[1] == width:
        return range(shape[0])
    raise DatasetError(f"Human3.6M pose file {path}: {POSE_VARIABLE!r} has shape {shape}, "
                       f"expected (1, N, {width}) (per frame {len(POINT_NAMES)} joints × (x, y))")


def _frame_folder(folder: Path) -> tuple[tuple[Path, ...], str]:
    """The images of a frame folder in frame order, or ``((), why)`` when they cannot be matched
    to pose rows (module docstring)."""
    numbered = []
    for entry in os.scandir(folder):
        name = entry.name
        if name.startswith(".") or not entry.is_file():
            continue
        path = Path(name)
        if path.suffix.lower() not in _FRAME_SUFFIXES:
            continue
        match = _FRAME_NUMBER.match(path.stem)
        if match is None:
            return (), f"image {folder / name} has no frame number at the end of its name"
        numbered.append((int(match.group(1)), folder / name))
    if not numbered:
        return (), "no frames (.jpg / .png)"
    numbered.sort(key=lambda item: (item[0], item[1].name))
    numbers = [n for n, _ in numbered]
    if numbers[-1] - numbers[0] + 1 != len(numbers) or len(set(numbers)) != len(numbers):
        return (), (f"frame numbers {numbers[0]}..{numbers[-1]} are not consecutive "
                    f"({len(numbers)} images): extract every frame so that image i is pose "
                    f"row i")
    return tuple(p for _, p in numbered), ""


def _video_frames(path: Path) -> int | str:
    """The frame count of a video's container metadata (0 when it does not say), or why the
    video cannot be opened (:func:`landmarks.data.video_io.video_info`)."""
    try:
        return video_info(path).frames
    except DatasetError as err:
        return str(err)


def find_sequences(root: str | Path, subjects: Sequence[str], activities: Sequence[str]
                   ) -> tuple[list[FullSequence], dict[str, str], list[str]]:
    """The sequences of ``subjects`` whose activity is one of ``activities`` (case-insensitive),
    sorted by subject order, then stem. Returns ``(sequences, skipped, mismatched)``:
    ``skipped`` maps each skipped video / frame folder to why (no pose file of its stem,
    unusable frame folder, unopenable video), ``mismatched`` lists the sequences (video files /
    frame folders) whose frame count differs from their pose rows. Warns once about the skipped
    sequences without a pose file and once about any other skipped sequence.

    Raises :class:`DatasetError` naming the expected path when the root, a subject folder, its
    ``MyPoseFeatures/D2_Positions`` folder, or both its ``Videos`` and ``Images`` folders are
    missing; and (from :func:`load_poses`) for an unreadable pose file or a bad ``Pose`` shape.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"Human3.6M root {root} does not exist or is not a folder; expected "
                           f"the official release's subject folders ({', '.join(SUBJECTS)}), "
                           f"each with {VIDEO_DIR}/ (or {IMAGE_DIR}/) and {POSE_DIR}/")
    wanted = {a.lower() for a in activities}
    sequences: list[FullSequence] = []
    skipped: dict[str, str] = {}
    no_pose: list[str] = []
    mismatched: list[str] = []
    for subject in subjects:
        base = root / subject
        if not base.is_dir():
            raise DatasetError(f"Human3.6M subject folder {base} is missing (subject {subject} of "
                               f"the official release, with {VIDEO_DIR}/ and {POSE_DIR}/)")
        videos_dir, images_dir, pose_dir = base / VIDEO_DIR, base / IMAGE_DIR, base / POSE_DIR
        if not videos_dir.is_dir() and not images_dir.is_dir():
            raise DatasetError(f"Human3.6M video folder {videos_dir} is missing (the videos "
                               f"<Action>.<camera>.mp4 of subject {subject}; or extracted frames "
                               f"in {images_dir}/<Action>.<camera>/)")
        if not pose_dir.is_dir():
            raise DatasetError(f"Human3.6M 2D pose folder {pose_dir} is missing (the "
                               f"D2_Positions/<Action>.<camera>.cdf files of subject {subject})")
        found: dict[str, Path] = {}  # stem -> video file or frame folder (a folder wins)
        if videos_dir.is_dir():
            for entry in os.scandir(videos_dir):
                path = Path(entry.path)
                if (not entry.name.startswith(".") and entry.is_file()
                        and path.suffix.lower() in _VIDEO_SUFFIXES):
                    found[path.stem] = path
        if images_dir.is_dir():
            for entry in os.scandir(images_dir):
                if not entry.name.startswith(".") and entry.is_dir():
                    found[entry.name] = Path(entry.path)
        for stem in sorted(found):
            activity = sequence_activity(stem)
            if activity.lower() not in wanted:
                continue
            source = found[stem]
            pose_path = pose_dir / f"{stem}.cdf"
            if not pose_path.is_file():
                skipped[str(source)] = f"no pose file {pose_path}"
                no_pose.append(str(source))
                continue
            frames: tuple[Path, ...] = ()
            if source.is_dir():
                frames, why = _frame_folder(source)
                if not frames:
                    skipped[str(source)] = why
                    continue
                count = len(frames)
            else:
                probe = _video_frames(source)
                if isinstance(probe, str):
                    skipped[str(source)] = probe
                    continue
                count = probe
            rows = pose_rows(pose_path)
            n = min(rows, count) if count > 0 else rows
            if count > 0 and count != rows:
                mismatched.append(str(source))
            sequences.append(FullSequence(subject, stem, activity, pose_path,
                                          None if frames else source, frames, n))
    if no_pose:
        warnings.warn(f"skipping {len(no_pose)} Human3.6M sequence(s) without a pose file of "
                      f"the same stem in {POSE_DIR} (e.g. {no_pose[0]}); see "
                      f"landmarks.data.h36m_full on the release's inconsistent names",
                      stacklevel=2)
    other = {k: v for k, v in skipped.items() if k not in set(no_pose)}
    if other:
        first = next(iter(other.items()))
        warnings.warn(f"skipping {len(other)} unusable Human3.6M sequence(s), e.g. {first[0]}: "
                      f"{first[1]}", stacklevel=2)
    return sequences, skipped, mismatched


# ----------------------------------------------------------------------------------------------
# Geometry


def joint_box(joints: np.ndarray, margin: float = DEFAULT_CROP_MARGIN
              ) -> tuple[float, float, float] | None:
    """The crop square ``(x0, y0, side)`` (pixel-edge coordinates: the frame spans ``[0, W]``) of
    a pose ``(J, 2)`` in 0-based frame pixels: its joints' bounding box made square around the
    box centre, side ``max(w, h) × margin`` (at least :data:`MIN_CROP_SIDE`). ``None`` when no
    joint is finite."""
    joints = np.asarray(joints, dtype=np.float64)
    finite = np.isfinite(joints).all(axis=1)
    if not finite.any():
        return None
    lo, hi = joints[finite].min(axis=0), joints[finite].max(axis=0)
    side = max(float((hi - lo).max()) * float(margin), MIN_CROP_SIDE)
    cx, cy = (lo + hi) / 2.0
    return float(cx) + 0.5 - side / 2.0, float(cy) + 0.5 - side / 2.0, side


def crop_frame(frame: np.ndarray, box: tuple[float, float, float], size: int) -> np.ndarray:
    """Crop the square ``box = (x0, y0, side)`` (pixel edges; it may leave the frame, which is
    then extended by repeating its edge pixels) out of an ``(H, W, 3)`` uint8 frame and resize it
    to ``(size, size, 3)`` uint8 (antialiased bilinear, straight from the float box)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame: expected an (H, W, 3) uint8 array, got {frame.shape} "
                         f"{frame.dtype}")
    h, w = frame.shape[:2]
    x0, y0, side = box
    # the filter reads about side / size input pixels around the box: take them too
    support = int(math.ceil(max(side / size, 1.0))) + 2
    ix0, iy0 = int(math.floor(x0)) - support, int(math.floor(y0)) - support
    ix1 = int(math.ceil(x0 + side)) + support
    iy1 = int(math.ceil(y0 + side)) + support
    xs = np.clip(np.arange(ix0, ix1), 0, w - 1)
    ys = np.clip(np.arange(iy0, iy1), 0, h - 1)
    region = frame[ys[:, None], xs[None, :]]  # edge pixels repeated outside the frame
    img = Image.fromarray(np.ascontiguousarray(region), "RGB")
    bx, by = x0 - ix0, y0 - iy0
    out = img.resize((size, size), Image.Resampling.BILINEAR, box=(bx, by, bx + side, by + side))
    return np.array(out, dtype=np.uint8)


# ----------------------------------------------------------------------------------------------
# Reading frames


_READERS: OrderedDict[str, FrameReader] = OrderedDict()
_READERS_LOCK = threading.Lock()
#: Open videos kept per process.
MAX_OPEN_VIDEOS = 8


def clear_video_readers() -> None:
    """Close every video this process holds open for :func:`read_frames`."""
    with _READERS_LOCK:
        for reader in _READERS.values():
            if reader.pid == os.getpid():
                reader.close()
        _READERS.clear()


def _read_video(path: Path, rows: Sequence[int]) -> dict[int, np.ndarray]:
    key = str(path)
    with _READERS_LOCK:
        reader = _READERS.pop(key, None)
        if reader is not None and reader.pid != os.getpid():
            reader = None  # inherited from the parent process: never touch its decoder
        try:
            if reader is None:
                reader = FrameReader(path)
            frames = reader.read(rows)
        except Exception:
            if reader is not None and reader.pid == os.getpid():
                reader.close()
            raise
        _READERS[key] = reader
        while len(_READERS) > MAX_OPEN_VIDEOS:
            _, old = _READERS.popitem(last=False)
            if old.pid == os.getpid():
                old.close()
        return frames


def read_frames(sequence: FullSequence, rows: Sequence[int]) -> dict[int, np.ndarray]:
    """Frames ``rows`` of ``sequence`` as full-size ``(H, W, 3)`` uint8 RGB arrays. Raises
    ``OSError`` / PIL / PyAV errors when a file cannot be read, ``EOFError`` when the video ends
    before a frame."""
    if sequence.video is None:
        out = {}
        for row in rows:
            with Image.open(sequence.frames[row]) as img:
                out[int(row)] = np.array(img.convert("RGB"), dtype=np.uint8)
        return out
    frames = _read_video(sequence.video, rows)
    missing = sorted(set(int(r) for r in rows) - set(frames))
    if missing:
        raise EOFError(f"video {sequence.video} has no frame {missing[0]} (it ends earlier than "
                       f"its pose file)")
    return frames
