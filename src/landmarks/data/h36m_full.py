"""Human3.6M from the **official release** (videos + ``D2_Positions`` CDF files), cropped to the
person with loose boxes computed from the given 2D poses.

Training data ``h36m_full`` (frame pairs of one sequence) and the labelled benchmark
``h36m_full`` (the 32 2D joints, error in % of the image side, averaged per activity). The
protocol (activities, subject split, joints, metric) is that of :mod:`landmarks.data.h36m`, whose
names this module reuses; what differs is the input: :mod:`~landmarks.data.h36m` reads Zhang et
al.'s pre-cropped 128×128 release, this module the files of the Human3.6M site and makes its own
crops.

**What to download** (http://vision.imar.ro/human3.6m/, per subject S1, S5, S6, S7, S8, S9, S11):
the videos and the "D2 Positions" poses. Layout (as unpacked; the subject folder names are those
of the release)::

    <root>/S1/Videos/<Action>.<camera>.mp4                        e.g. "Directions 1.54138969.mp4"
    <root>/S1/MyPoseFeatures/D2_Positions/<Action>.<camera>.cdf   the 2D poses of that video
    <root>/S1/Images/<Action>.<camera>/<number>.jpg|png           optional: extracted frames
    <root>/S5/...  S6/ S7/ S8/ S9/ S11/

The videos are 50 fps, 1000×1002 (cameras 54138969, 55011271, 58860488, 60457274). A ``.cdf`` is
a NASA CDF file (read with the pure-Python ``cdflib``) whose variable ``Pose`` has shape
``(1, N, 64)`` (``(N, 64)`` is accepted too): per frame, the 32 joints as ``x0, y0, x1, y1, …``
in pixels of the video frame, in the order of :data:`landmarks.data.h36m.POINT_NAMES`. They are
taken as 0-based pixel-centre coordinates (the project's convention); the release does not say,
and the difference (0.5 frame px) is about 0.1 px at 128×128.

**Sequences.** A *sequence* is one video file ``Videos/<stem>.mp4`` or one frame folder
``Images/<stem>/``; it is paired with the pose file of the **same stem**,
``MyPoseFeatures/D2_Positions/<stem>.cdf``. When both a video and a frame folder have the stem,
the frame folder is read (it is much faster). Sequences without a pose file of their stem are
skipped, counted in ``.skipped`` / the benchmark notes, and reported in one warning. The release
is not consistent in its names (some files have an ``_ALL`` suffix; some actions are spelt
differently for different subjects, e.g. ``TakingPhoto`` / ``Photo``, ``WalkDog`` /
``WalkingDog``); no name is translated: a video whose pose file has a different stem is skipped,
so rename one of the two if you want it. The activity of a sequence is its action name without
the trailing `` N`` number (``"Directions 1.54138969"`` → ``"Directions"``, as
:func:`landmarks.data.h36m.sequence_activity`); option ``activities`` (default the protocol's six,
:data:`landmarks.data.h36m.ACTIVITIES`) is matched against it, case-insensitively, so
``"WalkDog 1"`` is activity ``WalkDog`` and only read when listed.

**Frame folders** (for users who extracted the frames, e.g. ``ffmpeg -i "Directions
1.54138969.mp4" "Images/Directions 1.54138969/%06d.jpg"``): every image (``.jpg``, ``.jpeg``,
``.png``, any case) of the folder is a frame; its name must end in its frame number (``1.jpg``,
``000001.jpg``, ``img_000001.png``; zero padding and a non-digit prefix are allowed). The numbers
must be consecutive (no gaps, no duplicates); the smallest number is frame 0, so 0-based and
ffmpeg's 1-based numbering both work, and frame ``i`` of the folder is pose row ``i``. Extract
every frame: a folder with gaps (e.g. every 5th frame) or a name without a number is skipped with
a warning, since its frames cannot be matched to the pose rows.

**Frame counts.** A sequence has ``min(pose rows, frames)`` frames (for a video, the frame count
of its container metadata; when the container does not say, the pose rows). A few official videos
differ from their pose files by some frames; this is counted in ``.length_mismatch`` and reported
in one warning. Video frames are addressed by their timestamps (``round((pts - start) × fps ×
time_base)``; the official videos have a constant frame rate).

**Crops** (:func:`joint_box`, :func:`crop_frame`): per frame, the bounding box of the 32 joints
(non-finite joints ignored), made square around its centre with side ``max(w, h) ×
crop_margin`` (option ``crop_margin``, default :data:`DEFAULT_CROP_MARGIN` = 1.5: the joints span
2/3 of the side, leaving room for the top of the head, which no joint marks, and a loose frame
like the person-centred crops of Zhang et al.'s release; the value is ours, not theirs). Where the
square leaves the frame the frame is extended by **repeating its edge pixels** (the studio
background continues, no black bars). The square is resized to S×S (128 in the recipe; antialiased
bilinear, as everywhere in the project). A joint at frame pixel ``p`` lies at ``(p + 0.5 -
box_origin) × S / side - 0.5`` in the S×S image (:func:`to_crop_pixels`; pixel centres at
integers, x right, y down, as :mod:`landmarks` states). Zhang et al.'s release also removes the
background with foreground masks; the official release has none, so this reader keeps the
background (option ``mask`` accepts only ``false``).

**Frames, stride and pairs** (:class:`H36MFullPairs`). Frames are numbered as in the video (pose
row ``i`` = video frame ``i``, 50 fps). Option ``stride`` (default :data:`DEFAULT_STRIDE` = 5,
i.e. 10 targets per second) keeps every ``stride``-th frame (0, stride, 2·stride, …) as a
*target*, which keeps the index and an epoch manageable (consecutive 50 fps frames are nearly
identical). The *source* of a target ``t`` is frame ``t ± g`` of the same sequence with ``g``
uniform in ``data.frame_gap`` (default 3–30) **in the original 50 fps numbering** (any frame, not
only the kept ones), so the gap does not change with ``stride``; direction and clipping as
:func:`landmarks.data.pairs.pick_partner_frame`. Both frames are cropped with **the target's
box**, so the person's motion between the two frames stays in the pair (a per-frame re-centring
would cancel it). ``data.max_frames`` keeps the first frames of each sequence; ``data.crop`` is
not used (the crops come from the poses).

Decoding: a frame folder reads two images per item. A video is decoded from the keyframe before
the earlier frame of the item up to the later one (the reader of a video stays open per process,
and a later frame close ahead continues the decoding instead of seeking, so the benchmark, which
reads frames in order, decodes each video about once). Random access into 1000×1002 video is
nevertheless slow, a keyframe interval of decoding per item: on a 2-core build machine, about 1 s
per training pair for a synthetic 1000×1002 h264 video with a keyframe every 250 frames, against
0.04 s per frame for in-order reads. For training at scale, extract the frames (layout above).

**Benchmark** (:func:`make_benchmark`): splits ``train`` (S1, S5–S9, every ``train_stride``-th
frame) and ``test`` (S11, every ``test_stride``-th frame), each frame cropped with its own box.
Items carry their activity as ``"group"``; the error is in % of the image side, reported per
activity and as the mean over activities (``size_error.mean_over_groups``), as for ``h36m``. The
figure of the papers was measured on Zhang et al.'s crops, which these crops only resemble.

This module holds the datasets (:class:`H36MFullPairs`, :class:`H36MFullLabelled`,
:func:`make_benchmark`) and their options; reading the release on disk (sequences, CDF poses,
crops, frames) is :mod:`landmarks.data.h36m_full_io`, whose public names are importable from here.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from landmarks.config import DataConfig
from landmarks.data.h36m import (
    ACTIVITIES,
    PAPER_FIGURE,
    PCK_THRESHOLD,
    POINT_NAMES,
    joint_indices,
    split_subjects,
)
from landmarks.data.h36m_full_io import (
    CAMERAS,
    DEFAULT_CROP_MARGIN,
    FPS,
    IMAGE_DIR,
    POSE_DIR,
    POSE_VARIABLE,
    VIDEO_DIR,
    FullSequence,
    clear_video_readers,
    crop_frame,
    find_sequences,
    joint_box,
    load_poses,
    pose_rows,
    read_frames,
)
from landmarks.data.labelled import LabelledBenchmark, labelled_item
from landmarks.data.options import check_options, read_count, read_names, read_positive
from landmarks.data.pairs import ClipFrames, check_frame_gap, pair_item
from landmarks.data.transforms import DatasetError, to_crop_pixels
from landmarks.registry import register_benchmark, register_dataset

__all__ = [
    "CAMERAS",
    "DEFAULT_CROP_MARGIN",
    "DEFAULT_STRIDE",
    "FPS",
    "IMAGE_DIR",
    "POSE_DIR",
    "POSE_VARIABLE",
    "VIDEO_DIR",
    "FullSequence",
    "H36MFullLabelled",
    "H36MFullPairs",
    "clear_video_readers",
    "crop_frame",
    "find_sequences",
    "joint_box",
    "load_poses",
    "make_benchmark",
    "pose_rows",
    "read_frames",
    "to_crop_pixels",
]

DEFAULT_STRIDE = 5
_TRAIN_OPTIONS = ("activities", "train_subjects", "test_subjects", "stride", "crop_margin",
                  "mask")
_BENCH_OPTIONS = ("activities", "train_subjects", "test_subjects", "joints", "stride",
                  "train_stride", "test_stride", "crop_margin", "mask")


# ----------------------------------------------------------------------------------------------
# Options


def _check_options(options: Mapping[str, Any], valid: Sequence[str], what: str) -> None:
    """:func:`~landmarks.data.options.check_options`, and option ``mask`` only false."""
    check_options(options, valid, what)
    if options.get("mask", False) is not False:
        raise DatasetError(f"{what}: option 'mask' must be false or absent, got "
                           f"{options['mask']!r}: the official Human3.6M release has no "
                           f"foreground masks (Zhang et al.'s release, data.kind 'h36m', has); "
                           f"with configs/h36m_k20.yaml pass data.options={{}}")


def _margin(options: Mapping[str, Any]) -> float:
    return read_positive(options, "crop_margin", DEFAULT_CROP_MARGIN,
                         "the crop side over the joints' box side")


def _warn_mismatch(mismatched: Sequence[str]) -> None:
    if mismatched:
        warnings.warn(f"{len(mismatched)} Human3.6M sequence(s) have a different number of "
                      f"frames than pose rows (e.g. {mismatched[0]}); the first min(frames, "
                      f"rows) frames of each are used", stacklevel=3)


# ----------------------------------------------------------------------------------------------
# Training pairs


class H36MFullPairs(ClipFrames):
    """Frame pairs of official Human3.6M sequences, cropped with the target's pose box (module
    docstring).

    ``dataset[i]`` is ``{"source", "target": (3, S, S) float32 in [0, 1], "frames": (2,) int64
    frame numbers [target, source] in the sequence (50 fps numbering)}``, or ``None`` when a
    frame cannot be read (one warning per file). Targets are every ``stride``-th frame.
    Sequences shorter than ``frame_gap[0] + 1`` frames are skipped (``.skipped``, warned).
    """

    def __init__(self, root: str | Path, image_size: int, subjects: Sequence[str],
                 activities: Sequence[str] = ACTIVITIES, frame_gap: Sequence[int] = (3, 30),
                 stride: int = DEFAULT_STRIDE, crop_margin: float = DEFAULT_CROP_MARGIN,
                 max_frames: int = 0) -> None:
        self.root = Path(root).expanduser()
        self.image_size = int(image_size)
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.min_gap, self.max_gap = check_frame_gap(frame_gap)
        if int(stride) < 1:
            raise ValueError(f"stride: expected >= 1, got {stride}")
        if not crop_margin > 0:
            raise ValueError(f"crop_margin: expected > 0, got {crop_margin}")
        self.stride, self.crop_margin = int(stride), float(crop_margin)
        self.subjects, self.activities = tuple(subjects), tuple(activities)
        found, skipped, self.length_mismatch = find_sequences(self.root, self.subjects,
                                                              self.activities)
        self.skipped: dict[str, str] = dict(skipped)
        self.sequences: list[FullSequence] = []
        self._boxes: list[np.ndarray] = []  # per sequence: (targets, 3) target boxes, NaN: none
        need = self.min_gap + 1
        for seq in found:
            n = min(seq.num_frames, max_frames) if max_frames > 0 else seq.num_frames
            if n < need:
                self.skipped[str(seq.source)] = (f"{n} frame(s), fewer than the {need} that "
                                                 f"frame_gap needs")
                warnings.warn(f"skipping Human3.6M sequence {seq.source}: {n} frame(s), fewer "
                              f"than the {need} that frame_gap needs", stacklevel=2)
                continue
            if n != seq.num_frames:
                seq = FullSequence(seq.subject, seq.name, seq.activity, seq.pose_path,
                                   seq.video, seq.frames[:n], n)
            poses = load_poses(seq.pose_path)[: n: self.stride]
            boxes = [joint_box(p, self.crop_margin) for p in poses]
            self._boxes.append(np.array([b if b is not None else (np.nan,) * 3 for b in boxes],
                                        dtype=np.float64))
            self.sequences.append(seq)
        _warn_mismatch(self.length_mismatch)
        if not self.sequences:
            raise DatasetError(f"Human3.6M root {self.root} holds no usable sequence of subjects "
                               f"{', '.join(self.subjects)} and activities "
                               f"{', '.join(self.activities)} ({len(self.skipped)} skipped)")
        self.index_clips([len(b) for b in self._boxes])
        self._warned: set[str] = set()

    def locate(self, index: int) -> tuple[int, int]:
        """Map a dataset index to ``(sequence index, target frame number)``."""
        q, k = super().locate(index)
        return q, k * self.stride

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, stacklevel=3)

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        q, t = self.locate(index)
        seq = self.sequences[q]
        box = self._boxes[q][t // self.stride]
        s = self.pick_source(t, seq.num_frames)
        if not np.isfinite(box).all():
            self._warn(f"{seq.pose_path}#{t}", f"skipping Human3.6M frame {t} of {seq.source}: "
                                               f"its pose in {seq.pose_path} has no finite joint")
            return None
        frames: dict[int, np.ndarray] = {}
        # a frame folder is read image by image, so that a failure names the image
        for rows in ([t, s] if seq.video is None else [(t, s)]):
            rows = rows if isinstance(rows, tuple) else (rows,)
            try:
                frames.update(read_frames(seq, rows))
            except Exception as err:
                path = seq.frame_path(rows[0])
                self._warn(str(path), f"skipping unreadable Human3.6M frame(s) {list(rows)} of "
                                      f"{path}: {err}")
                return None
        box_t = (float(box[0]), float(box[1]), float(box[2]))
        target = crop_frame(frames[t], box_t, self.image_size)
        source = crop_frame(frames[s], box_t, self.image_size)
        return pair_item(target, source, t, s)

    def __repr__(self) -> str:
        return (f"H36MFullPairs(root={str(self.root)!r}, subjects={list(self.subjects)}, "
                f"sequences={len(self.sequences)}, targets={len(self)}, stride={self.stride}, "
                f"image_size={self.image_size}, crop_margin={self.crop_margin})")


@register_dataset("h36m_full")
def _h36m_full_dataset(cfg: DataConfig, image_size: int) -> Dataset:
    """``data.kind: h36m_full``: :class:`H36MFullPairs` of ``data.split`` (``train`` = S1,
    S5–S9; ``test`` = S11; ``all``). Options: ``activities``, ``train_subjects``,
    ``test_subjects``, ``stride`` (5), ``crop_margin`` (1.5), ``mask`` (only false)."""
    options = dict(cfg.options)
    _check_options(options, _TRAIN_OPTIONS, "data.kind 'h36m_full'")
    subjects = split_subjects(cfg.split, options)
    if cfg.crop:
        raise DatasetError("data.crop is not used by data.kind 'h36m_full', which crops around "
                           "the 2D pose of each target frame; set data.options.crop_margin")
    return H36MFullPairs(cfg.root, image_size, subjects,
                         activities=read_names(options, "activities", ACTIVITIES),
                         frame_gap=tuple(cfg.frame_gap),
                         stride=read_count(options, "stride", DEFAULT_STRIDE),
                         crop_margin=_margin(options), max_frames=cfg.max_frames)


# ----------------------------------------------------------------------------------------------
# Labelled benchmark


class H36MFullLabelled(Dataset):
    """Labelled frames of official Human3.6M sequences, each cropped with its own pose box:
    ``{"image": (3, S, S), "labels": (L, 2) float32 pixels of the S×S image, "visible": (L,)
    bool, "group": str (the activity)}``, or ``None`` for an unreadable frame (one warning per
    file).

    ``items``: ``(sequence, frame number, pose (32, 2) in frame pixels)``; ``joints``: the joint
    indices to return.
    """

    def __init__(self, items: Sequence[tuple[FullSequence, int, np.ndarray]], image_size: int,
                 joints: Sequence[int], crop_margin: float = DEFAULT_CROP_MARGIN) -> None:
        self.items = list(items)
        self.image_size = int(image_size)
        self.joints = list(joints)
        self.crop_margin = float(crop_margin)
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        seq, row, pose = self.items[index]
        box = joint_box(pose, self.crop_margin)
        try:
            if box is None:
                raise ValueError(f"its pose in {seq.pose_path} has no finite joint")
            frame = read_frames(seq, (row,))[row]
        except Exception as err:
            key = str(seq.frame_path(row))
            if key not in self._warned:
                self._warned.add(key)
                warnings.warn(f"skipping unreadable Human3.6M frame {row} of {key}: {err}",
                              stacklevel=2)
            return None
        labels = to_crop_pixels(pose[self.joints], box, self.image_size)
        return labelled_item(crop_frame(frame, box, self.image_size), labels, seq.activity)


def make_benchmark(root: str | Path, image_size: int, **options: Any) -> LabelledBenchmark:
    """The Human3.6M benchmark on the official release (module docstring).

    Splits ``"train"`` (S1, S5–S9) and ``"test"`` (S11), every ``train_stride`` / ``test_stride``
    -th frame of each sequence (both default to ``stride``, default 5). Options:
    ``activities``, ``train_subjects``, ``test_subjects``, ``joints`` (``"all"`` or a list of
    indices), ``stride``, ``train_stride``, ``test_stride``, ``crop_margin`` (1.5), ``mask``
    (only false). Metric ``"size"``; test items carry their activity as ``"group"``.
    """
    _check_options(options, _BENCH_OPTIONS, "benchmark 'h36m_full'")
    activities = read_names(options, "activities", ACTIVITIES)
    joints = joint_indices(options)
    margin = _margin(options)
    stride = read_count(options, "stride", DEFAULT_STRIDE)
    strides = {"train": read_count(options, "train_stride", stride),
               "test": read_count(options, "test_stride", stride)}
    splits: dict[str, Dataset] = {}
    skipped: dict[str, str] = {}
    mismatched: dict[str, None] = {}
    for split in ("train", "test"):
        subjects = split_subjects(split, options)
        sequences, skipped_here, mismatch = find_sequences(root, subjects, activities)
        skipped.update(skipped_here)
        mismatched.update(dict.fromkeys(mismatch))
        items = []
        for seq in sequences:
            poses = load_poses(seq.pose_path)
            items.extend((seq, row, poses[row].astype(np.float32))
                         for row in range(0, seq.num_frames, strides[split]))
        if not items:
            raise DatasetError(f"Human3.6M root {Path(root).expanduser()} holds no frames of "
                               f"subjects {', '.join(subjects)} and activities "
                               f"{', '.join(activities)} ({split} split; "
                               f"{len(skipped_here)} sequence(s) skipped)")
        splits[split] = H36MFullLabelled(items, image_size, joints, margin)
    _warn_mismatch(list(mismatched))
    notes = [
        "errors are in % of the image side; the paper's figure is the error averaged per "
        "activity, then over the activities (size_error.mean_over_groups)",
        f"official release, loose crops from the 2D poses (crop_margin {margin:g}, edge pixels "
        f"repeated outside the frame), background kept (no masks): the paper's figure was "
        f"measured on Zhang et al.'s crops, so compare with care",
        f"frame stride {strides['train']} (train) / {strides['test']} (test) at 50 fps; "
        f"train: {', '.join(split_subjects('train', options))}; "
        f"test: {', '.join(split_subjects('test', options))}",
        f"PCK (at {PCK_THRESHOLD:g}% of the side) is a secondary figure, not one of the papers'",
    ]
    if skipped:
        notes.append(f"{len(skipped)} sequence(s) skipped (no pose file of the same stem, or "
                     f"unusable), e.g. {next(iter(skipped))}")
    return LabelledBenchmark(
        name="h36m_full", splits=splits, point_names=[POINT_NAMES[j] for j in joints],
        metric="size", pck_threshold=PCK_THRESHOLD, paper_figure=PAPER_FIGURE,
        group_label="activity", notes=notes)


@register_benchmark("h36m_full")
def _h36m_full_benchmark(root: str | Path, image_size: int, **options: Any
                         ) -> LabelledBenchmark:
    return make_benchmark(root, image_size, **options)
