"""Human3.6M in the protocol of Zhang et al. (CVPR 2018), which Jakab et al. (2018) follow.

Training data ``h36m`` (frame pairs of one sequence) and the labelled benchmark ``h36m`` (32 2D
joints, error normalised by the image size).

**What is supported: the "Simplified Human3.6M" release of Zhang et al.** (``human_images.tar.gz``
of the lmdis-rep release, ``release-v1/human3.6m/``; the data KeypointGAN (Jakab et al. 2020) also
reads): person-centred 128×128 crops of the Human3.6M videos, a foreground mask and the 2D joints
of every frame. Layout (folder names as released, including the ``Backgroud`` typo)::

    <root>/S1/WithBackground/<Activity>[ <n>].<camera>/<frame>.jpg    128×128 RGB frames
    <root>/S1/BackgroudMask/<same sequence>/<frame>.png               foreground mask (1-bit PNG)
    <root>/S1/Landmarks/<same sequence>/<frame>.mat                   2D joints
    <root>/S5/...  S6/ S7/ S8/ S9/ S11/

e.g. ``S9/WithBackground/Walking 1.55011271/123.jpg``. ``<frame>`` is a frame number without
padding; frames are ordered by number. Each ``.mat`` holds ``keypoints_2d``, a ``(32, 2)`` array
of the 32 Human3.6M joints (the D2_Positions order, :data:`POINT_NAMES`) as ``(y, x)`` fractions of
the image height / width; this reader treats ``value × size`` as a continuous position with 0 at
the top/left image edge (pixel centre = ``value × size - 0.5``). Masks are read as
"foreground where non-zero", any bit depth. (Sources: KeypointGAN's
``data/simplehuman36m_dataset.py`` and other public readers of this release: read, not copied.)

The official Human3.6M download (videos or extracted frames plus ``D2_Positions/*.cdf``) is read
by :mod:`landmarks.data.h36m_full` (``data.kind: h36m_full``, benchmark ``h36m_full``), which makes
loose crops from the 2D poses itself; the published figures use this module's release, whose
crops and masks are Zhang et al.'s.

**Protocol** (Zhang et al. 2018; Jakab et al. 2018): 6 activities — Directions, Discussion,
Greeting, Posing, Waiting, Walking (:data:`ACTIVITIES`; sequence ``"Walking 1.55011271"`` is
activity ``Walking``; ``WalkDog`` / ``WalkTogether`` are other activities) — subjects S1, S5, S6,
S7, S8, S9 for training and S11 for testing (:data:`TRAIN_SUBJECTS`, :data:`TEST_SUBJECTS`; the
3D-pose protocol's S1, S5–S8 / S9, S11 is available through the options). The background is
removed with the masks (option ``mask``, default on, for training and evaluation). The error is
the mean L2 distance between regressed and annotated joints divided by the image side, in %
(the benchmark's metric ``"size"``); the paper averages it per activity, then over activities,
which is ``size_error.mean_over_groups`` of ``landmarks eval`` (each test item carries its
activity as ``"group"``).

Training pairs (:class:`H36MFramePairs`): each frame of a sequence is a target, its source a frame
``g`` positions later or earlier in the same sequence (same subject, activity and camera), ``g``
uniform in ``data.frame_gap``. ``data.crop`` (fractions) applies as for image folders.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from landmarks.config import DataConfig
from landmarks.data.labelled import LabelledBenchmark, labelled_item
from landmarks.data.options import check_options, read_count, read_flag, read_names
from landmarks.data.pairs import ClipFrames, check_frame_gap, pair_item
from landmarks.data.transforms import (
    DatasetError,
    check_crop,
    is_image_file,
    resize_frame,
    square_crop_box,
)
from landmarks.registry import register_benchmark, register_dataset

__all__ = [
    "ACTIVITIES",
    "IMAGE_DIR",
    "LABEL_DIR",
    "LABEL_KEY",
    "MASK_DIR",
    "PAPER_FIGURE",
    "POINT_NAMES",
    "SUBJECTS",
    "TEST_SUBJECTS",
    "TRAIN_SUBJECTS",
    "H36MFramePairs",
    "H36MLabelled",
    "H36MSequence",
    "find_sequences",
    "joint_indices",
    "load_frame",
    "load_joints",
    "make_benchmark",
    "sequence_activity",
    "split_subjects",
]

SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9")
TEST_SUBJECTS: tuple[str, ...] = ("S11",)
ACTIVITIES: tuple[str, ...] = ("Directions", "Discussion", "Greeting", "Posing", "Waiting",
                               "Walking")
IMAGE_DIR = "WithBackground"
MASK_DIR = "BackgroudMask"  # sic, as released
LABEL_DIR = "Landmarks"
LABEL_KEY = "keypoints_2d"
#: The 32 Human3.6M joints in file order ("left"/"right" are the subject's); names follow
#: Martinez et al.'s H36M_NAMES where those name a joint, descriptive names elsewhere.
POINT_NAMES: tuple[str, ...] = (
    "hip", "right_hip", "right_knee", "right_foot", "right_foot_ball", "right_toes",
    "left_hip", "left_knee", "left_foot", "left_foot_ball", "left_toes",
    "pelvis", "spine", "thorax", "neck_nose", "head",
    "left_collar", "left_shoulder", "left_elbow", "left_wrist", "left_wrist_2", "left_thumb",
    "left_hand", "left_hand_2",
    "right_collar", "right_shoulder", "right_elbow", "right_wrist", "right_wrist_2",
    "right_thumb", "right_hand", "right_hand_2",
)
#: Threshold of the secondary PCK figure, in % of the image side (not a figure of the papers).
PCK_THRESHOLD = 5.0
PAPER_FIGURE = ("Human3.6M 2.73% mean error normalised by image size, K=16, linear regressor "
                "(Jakab et al. 2018, Human3.6M table; Zhang et al. 2018: 4.14%)")

_SPLITS = ("train", "test", "all")
_TRAIN_OPTIONS = ("mask", "activities", "train_subjects", "test_subjects")
_BENCH_OPTIONS = ("mask", "activities", "train_subjects", "test_subjects", "joints",
                  "train_stride", "test_stride")


# ----------------------------------------------------------------------------------------------
# Layout


@dataclass(frozen=True)
class H36MSequence:
    """One sequence folder: a subject, an activity, a camera; frames sorted by number."""

    root: Path
    subject: str
    name: str  # e.g. "Walking 1.55011271"
    activity: str  # e.g. "Walking"
    frames: tuple[str, ...]  # frame file stems, e.g. ("1", "2", ...)
    image_suffix: str = ".jpg"

    def image(self, i: int) -> Path:
        return self.root / self.subject / IMAGE_DIR / self.name / (self.frames[i]
                                                                   + self.image_suffix)

    def mask(self, i: int) -> Path:
        return self.root / self.subject / MASK_DIR / self.name / (self.frames[i] + ".png")

    def label(self, i: int) -> Path:
        return self.root / self.subject / LABEL_DIR / self.name / (self.frames[i] + ".mat")


def sequence_activity(name: str) -> str:
    """The activity of a sequence folder name: ``"Walking 1.55011271"`` → ``"Walking"``."""
    return name.split(".", 1)[0].split(" ", 1)[0]


def _frame_key(stem: str) -> tuple[bool, int, str]:
    return (not stem.isdigit(), int(stem) if stem.isdigit() else 0, stem)


def find_sequences(root: str | Path, subjects: Sequence[str], activities: Sequence[str],
                   need_masks: bool, need_labels: bool) -> list[H36MSequence]:
    """The sequences of ``subjects`` whose activity is one of ``activities`` (case-insensitive),
    sorted by subject order then name.

    Raises :class:`DatasetError` naming the expected path when the root, a subject folder, its
    ``WithBackground`` folder, or (when needed) a sequence's mask / landmark folder is missing.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"Human3.6M root {root} does not exist or is not a folder; expected "
                           f"the 'human_images' folder of Zhang et al.'s human_images.tar.gz "
                           f"(subject folders {', '.join(SUBJECTS)})")
    wanted = {a.lower() for a in activities}
    sequences = []
    for subject in subjects:
        images = root / subject / IMAGE_DIR
        if not (root / subject).is_dir():
            raise DatasetError(f"Human3.6M subject folder {root / subject} is missing (subject "
                               f"{subject} of Zhang et al.'s human_images release)")
        if not images.is_dir():
            raise DatasetError(f"Human3.6M frame folder {images} is missing (the "
                               f"'{IMAGE_DIR}' folder of subject {subject})")
        for entry in sorted(os.scandir(images), key=lambda e: e.name):
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            if sequence_activity(entry.name).lower() not in wanted:
                continue
            files = [Path(e.name) for e in os.scandir(entry.path)
                     if e.is_file() and not e.name.startswith(".") and is_image_file(Path(e.name))]
            if not files:
                continue
            files.sort(key=lambda p: _frame_key(p.stem))
            for folder, what, needed in ((MASK_DIR, "foreground masks", need_masks),
                                         (LABEL_DIR, "2D joints", need_labels)):
                if needed and not (root / subject / folder / entry.name).is_dir():
                    raise DatasetError(f"Human3.6M {what} folder "
                                       f"{root / subject / folder / entry.name} is missing (the "
                                       f"'{folder}' folder of subject {subject} holds one "
                                       f"folder per sequence)")
            suffixes = {p.suffix for p in files}
            suffix = ".jpg" if ".jpg" in suffixes else files[0].suffix
            files = [p for p in files if p.suffix == suffix]
            sequences.append(H36MSequence(root, subject, entry.name,
                                          sequence_activity(entry.name),
                                          tuple(p.stem for p in files), suffix))
    return sequences


def load_frame(sequence: H36MSequence, i: int, mask: bool) -> np.ndarray:
    """Frame ``i`` of ``sequence`` as ``(H, W, 3)`` uint8 RGB, background set to black when
    ``mask``. Raises ``OSError`` / PIL errors when a file cannot be read."""
    with Image.open(sequence.image(i)) as img:
        rgb = np.array(img.convert("RGB"), dtype=np.uint8)
    if mask:
        with Image.open(sequence.mask(i)) as m:
            alpha = np.asarray(m.convert("L"), dtype=np.float32)
        if alpha.shape != rgb.shape[:2]:
            raise OSError(f"mask {sequence.mask(i)} is {alpha.shape[1]}x{alpha.shape[0]}, the "
                          f"frame {rgb.shape[1]}x{rgb.shape[0]}")
        if alpha.max() > 1.0:
            alpha /= 255.0
        rgb = np.clip(rgb * alpha[..., None] + 0.5, 0, 255).astype(np.uint8)
    return rgb


def load_joints(path: str | Path) -> np.ndarray:
    """``keypoints_2d`` of a landmark ``.mat`` as ``(32, 2)`` ``(x, y)`` fractions of the image
    width / height (the file stores ``(y, x)``). Raises ``ValueError`` for a bad file."""
    mat = scipy.io.loadmat(str(path))
    if LABEL_KEY not in mat:
        raise ValueError(f"{path} has no variable {LABEL_KEY!r}")
    arr = np.asarray(mat[LABEL_KEY], dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{path}: {LABEL_KEY} has shape {arr.shape}, expected (32, 2)")
    return arr[:, ::-1].copy()


# ----------------------------------------------------------------------------------------------
# Options


def joint_indices(options: Mapping[str, Any]) -> list[int]:
    """Option ``joints``: ``"all"`` (default) = every joint of :data:`POINT_NAMES`, or a list of
    their indices."""
    value = options.get("joints", "all")
    if value == "all":
        return list(range(len(POINT_NAMES)))
    if isinstance(value, list | tuple) and value and all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(POINT_NAMES)
            for i in value):
        return [int(i) for i in value]
    raise DatasetError(f"option 'joints': expected \"all\" or a list of joint indices in "
                       f"0..{len(POINT_NAMES) - 1}, got {value!r}")


def split_subjects(split: str, options: Mapping[str, Any]) -> tuple[str, ...]:
    """The subjects of ``split`` (``train``, ``test`` or ``all``) from options ``train_subjects``
    / ``test_subjects`` (default :data:`TRAIN_SUBJECTS` / :data:`TEST_SUBJECTS`). Raises
    :class:`DatasetError` for another split or a bad subject list."""
    if split not in _SPLITS:
        raise DatasetError(f"Human3.6M split {split!r} is unknown; expected one of "
                           f"{', '.join(_SPLITS)}")
    train = read_names(options, "train_subjects", TRAIN_SUBJECTS)
    test = read_names(options, "test_subjects", TEST_SUBJECTS)
    if split == "train":
        return train
    if split == "test":
        return test
    return tuple(dict.fromkeys(train + test))


# ----------------------------------------------------------------------------------------------
# Training pairs


class H36MFramePairs(ClipFrames):
    """Frame pairs within Human3.6M sequences (module docstring).

    ``dataset[i]`` is ``{"source", "target": (3, S, S) float32 in [0, 1], "frames": (2,) int64
    positions [target, source] in the sequence}``, or ``None`` when a file cannot be read (warned
    once). Sequences shorter than ``frame_gap[0] + 1`` frames are skipped with a warning.
    """

    def __init__(self, root: str | Path, image_size: int, subjects: Sequence[str],
                 activities: Sequence[str] = ACTIVITIES, frame_gap: Sequence[int] = (3, 30),
                 mask: bool = True, crop: Sequence[float] | None = None,
                 max_frames: int = 0) -> None:
        self.root = Path(root).expanduser()
        self.image_size = int(image_size)
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.min_gap, self.max_gap = check_frame_gap(frame_gap)
        self.mask, self.crop = bool(mask), check_crop(crop)
        self.subjects, self.activities = tuple(subjects), tuple(activities)
        self.skipped: list[str] = []
        self.sequences: list[H36MSequence] = []
        for seq in find_sequences(self.root, self.subjects, self.activities,
                                  need_masks=self.mask, need_labels=False):
            if max_frames > 0:
                seq = H36MSequence(seq.root, seq.subject, seq.name, seq.activity,
                                   seq.frames[:max_frames], seq.image_suffix)
            if len(seq.frames) < self.min_gap + 1:
                where = self.root / seq.subject / IMAGE_DIR / seq.name
                self.skipped.append(str(where))
                warnings.warn(f"skipping Human3.6M sequence {where}: {len(seq.frames)} frame(s), "
                              f"fewer than the {self.min_gap + 1} that frame_gap needs",
                              stacklevel=2)
                continue
            self.sequences.append(seq)
        if not self.sequences:
            raise DatasetError(f"Human3.6M root {self.root} holds no usable sequence of subjects "
                               f"{', '.join(self.subjects)} and activities "
                               f"{', '.join(self.activities)}")
        self.index_clips([len(s.frames) for s in self.sequences])
        self._warned: set[str] = set()

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        q, t = self.locate(index)
        seq = self.sequences[q]
        s = self.pick_source(t, len(seq.frames))
        out = []
        for i in (t, s):
            try:
                out.append(resize_frame(load_frame(seq, i, self.mask), self.image_size,
                                        self.crop))
            except Exception as err:
                key = str(seq.image(i))
                if key not in self._warned:
                    self._warned.add(key)
                    warnings.warn(f"skipping unreadable Human3.6M frame {key}: {err}",
                                  stacklevel=2)
                return None
        return pair_item(out[0], out[1], t, s)

    def __repr__(self) -> str:
        return (f"H36MFramePairs(root={str(self.root)!r}, subjects={list(self.subjects)}, "
                f"sequences={len(self.sequences)}, frames={len(self)}, "
                f"image_size={self.image_size}, mask={self.mask})")


@register_dataset("h36m")
def _h36m_dataset(cfg: DataConfig, image_size: int) -> Dataset:
    """``data.kind: h36m``: :class:`H36MFramePairs` of ``data.split`` (``train`` = S1, S5–S9;
    ``test`` = S11; ``all``). Options: ``mask`` (true), ``activities``, ``train_subjects``,
    ``test_subjects``."""
    options = dict(cfg.options)
    check_options(options, _TRAIN_OPTIONS, "data.kind 'h36m'")
    return H36MFramePairs(cfg.root, image_size, split_subjects(cfg.split, options),
                          activities=read_names(options, "activities", ACTIVITIES),
                          frame_gap=tuple(cfg.frame_gap), mask=read_flag(options, "mask", True),
                          crop=cfg.crop or None, max_frames=cfg.max_frames)


# ----------------------------------------------------------------------------------------------
# Labelled benchmark


class H36MLabelled(Dataset):
    """Labelled Human3.6M frames: ``{"image": (3, S, S), "labels": (L, 2) float32 pixels of the
    S×S image, "visible": (L,) bool, "group": str}`` (``None`` for an unreadable file, warned
    once); ``"group"`` is the frame's activity (e.g. ``"Walking"``, :func:`sequence_activity`),
    over which the benchmark's error is averaged first.

    ``items``: ``(sequence, frame position)``; ``joints``: the file's joint indices to return.
    """

    def __init__(self, items: Sequence[tuple[H36MSequence, int]], image_size: int, mask: bool,
                 joints: Sequence[int]) -> None:
        self.items = list(items)
        self.image_size = int(image_size)
        self.mask = bool(mask)
        self.joints = list(joints)
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        seq, i = self.items[index]
        try:
            rgb = load_frame(seq, i, self.mask)
            xy = load_joints(seq.label(i))[self.joints]
        except Exception as err:
            key = str(seq.image(i))
            if key not in self._warned:
                self._warned.add(key)
                warnings.warn(f"skipping unreadable Human3.6M frame {key} (or its mask / "
                              f"joints): {err}", stacklevel=2)
            return None
        h, w = rgb.shape[:2]
        x0, y0, side, _ = square_crop_box(w, h)
        edge = xy * np.array([w, h], dtype=np.float64)  # continuous position, 0 = image edge
        labels = (edge - np.array([x0, y0])) * (self.image_size / side) - 0.5
        return labelled_item(resize_frame(rgb, self.image_size), labels, seq.activity)


def make_benchmark(root: str | Path, image_size: int, **options: Any) -> LabelledBenchmark:
    """The Human3.6M benchmark of Zhang et al. / Jakab et al. (module docstring).

    Splits ``"train"`` (S1, S5–S9, every ``train_stride``-th frame of each sequence) and
    ``"test"`` (S11, every ``test_stride``-th). Options: ``mask`` (true), ``activities``,
    ``train_subjects``, ``test_subjects``, ``joints`` (``"all"`` = the 32 joints, or a list of
    indices), ``train_stride`` / ``test_stride`` (1).

    The metric is the paper's, ``"size"``: the mean L2 error of the regressed joints divided by
    the image side, in %. Test items carry their activity as ``"group"``, so ``landmarks eval``
    reports the error per activity and its mean over activities (the paper's figure) as well as
    the plain mean over test frames. PCK is a secondary figure, at :data:`PCK_THRESHOLD` % of
    the side.
    """
    check_options(options, _BENCH_OPTIONS, "benchmark 'h36m'")
    mask = read_flag(options, "mask", True)
    activities = read_names(options, "activities", ACTIVITIES)
    joints = joint_indices(options)
    strides = {"train": read_count(options, "train_stride", 1),
               "test": read_count(options, "test_stride", 1)}
    splits: dict[str, Dataset] = {}
    for split in ("train", "test"):
        subjects = split_subjects(split, options)
        sequences = find_sequences(root, subjects, activities, need_masks=mask, need_labels=True)
        items = [(seq, i) for seq in sequences
                 for i in range(0, len(seq.frames), strides[split])]
        if not items:
            raise DatasetError(f"Human3.6M root {Path(root).expanduser()} holds no frames of "
                               f"subjects {', '.join(subjects)} and activities "
                               f"{', '.join(activities)} ({split} split)")
        splits[split] = H36MLabelled(items, image_size, mask, joints)
    return LabelledBenchmark(
        name="h36m", splits=splits, point_names=[POINT_NAMES[j] for j in joints], metric="size",
        pck_threshold=PCK_THRESHOLD, paper_figure=PAPER_FIGURE, group_label="activity",
        notes=[
            "errors are in % of the image side; the paper's figure is the error averaged per "
            "activity, then over the activities (size_error.mean_over_groups); "
            "size_error.mean, over all test frames, weights activities by their frame counts",
            f"PCK (at {PCK_THRESHOLD:g}% of the side) is a secondary figure, not one of the "
            "papers'",
            f"train: {', '.join(split_subjects('train', options))}; "
            f"test: {', '.join(split_subjects('test', options))}; "
            f"background {'masked' if mask else 'kept'}",
            "paper figure quoted from the paper's Human3.6M table as remembered (2.73%, K=16): "
            "check it against the paper before citing",
        ])


@register_benchmark("h36m")
def _h36m_benchmark(root: str | Path, image_size: int, **options: Any) -> LabelledBenchmark:
    return make_benchmark(root, image_size, **options)
