"""BBC-Pose (Charles et al., BMVC 2013): sign-language interpreters in BBC broadcasts.

Training data ``bbcpose`` (frame pairs of the training videos, cropped to the signer) and the
labelled benchmark ``bbcpose`` (7 upper-body joints, PCK at d = 6 pixels).

**What to download** (https://www.robots.ox.ac.uk/~vgg/data/pose/): ``bbcpose_data_1.0.zip`` (20
tarballs, one per video; unpack each into the root) and the code/annotation package
``bbcpose_extbbcpose_code_1.0.tgz`` (unpacks to ``code/``). The layout this reader expects::

    <root>/1/1.jpg, 2.jpg, ...     frames of video 1, named by frame number (1-based, no padding)
    <root>/2/...                   ... one folder per video, "1" .. "20"
    <root>/code/bbcpose.mat        the annotations (``bbcpose.mat`` directly in <root> also works)

``bbcpose.mat`` holds one variable ``bbcpose``: a 1×V MATLAB struct array (V = 20 for BBC-Pose;
the file shipped with the Extended-BBC-Pose code has V = 92, of which the first 20 are BBC-Pose and
are the only ones read here). Entry ``i`` (1-based) describes the frames in folder ``<root>/i``;
its fields:

* ``videoName`` (char), ``type`` (``'train'``, ``'val'`` or ``'test'``), ``source`` (char: which
  annotation method made the labels);
* ``train_frames`` (1×N double): frame numbers, and ``train_joints`` (2×7×N double): their joints,
  ``(x, y)`` in MATLAB's 1-based pixel coordinates of the frame images (semi-automatic labels);
* ``test_frames`` / ``test_joints``: the same for the manually annotated frames (empty for
  training videos; 200 frames per validation / test video).

The 7 joints, in file order: head, right wrist, left wrist, right elbow, left elbow, right
shoulder, left shoulder (:data:`POINT_NAMES`; "right" is the signer's right). The split is the
``type`` field: videos 1–10 train, 11–15 val, 16–20 test (:data:`DEFAULT_SPLIT`, used only when an
entry has no recognisable ``type``). The test set is the 5 test videos × 200 manually annotated
frames = 1000 frames. Sources for the format: the dataset's README as quoted in OpenMMLab's
``TopDownVGGBBCDataset`` and the BBC-Pose loaders of NVIDIA/UnsupervisedLandmarkLearning (read,
not copied).

**Crop** (:func:`crop_box`): a square of ``crop_size`` frame pixels (default 300, the box of the
public BBC-Pose landmark evaluation code) centred on

* ``"video"`` (default): one fixed centre per video, the median over the video's annotated frames
  of the centre of the 7 joints' bounding box (``train_joints``, else ``test_joints``). The
  signer sits still in a fixed inset, so this is a fixed person box; it uses no per-frame label;
* ``"frame"`` (benchmark only): the centre of that frame's own joints' bounding box;
* ``"image"``: the centre of the frame.

Parts of the square outside the frame are black. The square is resized (antialiased bilinear) to
the network size S. A joint at frame pixel ``p`` (0-based, pixel centres at integers) lies at
``(p + 0.5 - box_origin) * S / crop_size - 0.5`` in the S×S image.

**Metric.** PCK at d = 6 pixels, at the scale of the official BBC-Pose evaluation code, which
halves both predictions and labels (``0.5 * (p - 1) + 1``) before measuring distances; hence
``pixel_scale = eval_scale * crop_size / S`` with ``eval_scale = 0.5`` (so 6 evaluation pixels are
12 frame pixels). Set option ``eval_scale=1`` to measure in frame pixels instead.

Training pairs (:class:`BBCPoseFramePairs`): every frame of a video's folder (sorted by frame
*number*, so ``10.jpg`` follows ``9.jpg``) is a target, its source a frame ``g`` positions away
with ``g`` uniform in ``data.frame_gap``, both cropped with the same per-video box.
"""

from __future__ import annotations

import math
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
from landmarks.data.options import check_options, read_choice, read_count, read_positive
from landmarks.data.pairs import ClipFrames, check_frame_gap, pair_item
from landmarks.data.transforms import (
    DatasetError,
    is_image_file,
    to_crop_pixels,
)
from landmarks.registry import register_benchmark, register_dataset

__all__ = [
    "ANNOTATION_FILES",
    "DEFAULT_CROP_SIZE",
    "DEFAULT_SPLIT",
    "EVAL_SCALE",
    "NUM_VIDEOS",
    "PAPER_FIGURE",
    "POINT_NAMES",
    "BBCPoseFramePairs",
    "BBCPoseLabelled",
    "BBCVideo",
    "crop_box",
    "crop_square",
    "find_annotations",
    "load_annotations",
    "make_benchmark",
    "to_crop_pixels",
    "video_centre",
]

#: The 7 joints, in the order of ``train_joints`` / ``test_joints`` (the signer's left / right).
POINT_NAMES: tuple[str, ...] = ("head", "right_wrist", "left_wrist", "right_elbow", "left_elbow",
                                "right_shoulder", "left_shoulder")
#: BBC-Pose videos (the first entries of ``bbcpose``; later ones are Extended BBC-Pose).
NUM_VIDEOS = 20
#: The split by video number, used only for entries whose ``type`` field is not train/val/test.
DEFAULT_SPLIT: dict[str, tuple[int, ...]] = {"train": tuple(range(1, 11)),
                                             "val": tuple(range(11, 16)),
                                             "test": tuple(range(16, 21))}
#: Where the annotation file is looked for, relative to the root, in order.
ANNOTATION_FILES: tuple[str, ...] = ("code/bbcpose.mat", "bbcpose.mat")
#: Side of the square crop, in frame pixels.
DEFAULT_CROP_SIZE = 300.0
#: Scale of the official evaluation relative to the frames (it halves all coordinates).
EVAL_SCALE = 0.5
#: PCK threshold, in evaluation pixels.
PCK_THRESHOLD = 6.0
PAPER_FIGURE = ("BBC-Pose 68.44% PCK@6 px averaged over the 7 joints, K=50, linear regressor "
                "(Jakab et al. 2018); the paper also reports Hungarian-matched raw landmarks")

_SPLITS = ("train", "val", "test")
_TRAIN_SPLITS = ("train", "val", "test", "trainval")
_CENTRES_TRAIN = ("video", "image")
_CENTRES_BENCH = ("video", "frame", "image")
_TRAIN_OPTIONS = ("annotations", "crop_size", "crop_centre")
_BENCH_OPTIONS = ("annotations", "crop_size", "crop_centre", "eval_scale", "train_stride")
_RESAMPLE = Image.Resampling.BILINEAR


# ----------------------------------------------------------------------------------------------
# Annotations


@dataclass(frozen=True)
class BBCVideo:
    """One entry of ``bbcpose.mat``; joints are ``(N, 7, 2)`` ``(x, y)`` frame pixels, 0-based
    (pixel centres at integers: the file's 1-based values minus 1)."""

    number: int  # 1-based entry index = name of the frame folder
    name: str
    kind: str  # "train", "val" or "test"
    source: str
    train_frames: np.ndarray  # (N,) int64 frame numbers
    train_joints: np.ndarray  # (N, 7, 2) float64
    test_frames: np.ndarray  # (M,) int64
    test_joints: np.ndarray  # (M, 7, 2) float64


def find_annotations(root: str | Path, annotations: str | Path | None = None) -> Path:
    """The ``bbcpose.mat`` to read: ``annotations`` (absolute, or relative to ``root``) if given,
    else the first of :data:`ANNOTATION_FILES` under ``root`` that exists.

    Raises :class:`DatasetError` naming the expected path when it is missing.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"BBC-Pose root {root} does not exist or is not a folder; expected the "
                           f"folder holding the frame folders 1..20 and code/bbcpose.mat")
    if annotations:
        path = Path(annotations).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise DatasetError(f"BBC-Pose annotation file {path} is missing (option "
                               f"'annotations'; the bbcpose.mat of "
                               f"bbcpose_extbbcpose_code_1.0.tgz)")
        return path
    for rel in ANNOTATION_FILES:
        if (root / rel).is_file():
            return root / rel
    raise DatasetError(f"BBC-Pose annotation file {root / ANNOTATION_FILES[0]} is missing (the "
                       f"'code' folder that bbcpose_extbbcpose_code_1.0.tgz unpacks to; "
                       f"{root / ANNOTATION_FILES[1]} is also accepted)")


def _text(value: Any) -> str:
    arr = np.asarray(value).ravel()
    return str(arr[0]).strip() if arr.size else ""


def _frames(value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64).ravel()
    return np.rint(arr).astype(np.int64)


def _joints(value: Any, where: str) -> np.ndarray:
    """MATLAB ``2×7×N`` (a ``2×7`` array when N = 1) → ``(N, 7, 2)`` 0-based pixels."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 7, 2))
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[:2] != (2, 7):
        raise DatasetError(f"{where}: expected a 2x7xN array of joints, got shape {arr.shape}")
    return arr.transpose(2, 1, 0) - 1.0


def load_annotations(path: str | Path) -> list[BBCVideo]:
    """Read ``bbcpose.mat`` (module docstring) into one :class:`BBCVideo` per BBC-Pose video (the
    first :data:`NUM_VIDEOS` entries). Raises :class:`DatasetError` naming the file when it is not
    a MAT-file with a ``bbcpose`` struct array of the documented fields."""
    path = Path(path)
    try:
        mat = scipy.io.loadmat(str(path), squeeze_me=False, struct_as_record=True)
    except Exception as err:
        raise DatasetError(f"BBC-Pose annotation file {path} cannot be read as a MAT-file: "
                           f"{err}") from err
    if "bbcpose" not in mat:
        names = sorted(k for k in mat if not k.startswith("__"))
        raise DatasetError(f"BBC-Pose annotation file {path} has no variable 'bbcpose' "
                           f"(it has: {', '.join(names) or 'none'})")
    table = np.asarray(mat["bbcpose"])
    fields = table.dtype.names or ()
    need = ("train_frames", "train_joints", "test_frames", "test_joints")
    missing = [f for f in need if f not in fields]
    if missing:
        raise DatasetError(f"BBC-Pose annotation file {path}: 'bbcpose' lacks the field(s) "
                           f"{', '.join(missing)} (it has: {', '.join(fields) or 'none'})")
    videos = []
    for i, entry in enumerate(table.ravel()[:NUM_VIDEOS]):
        number = i + 1
        where = f"{path} entry {number}"
        kind = _text(entry["type"]).lower() if "type" in fields else ""
        if kind not in _SPLITS:
            kind = next(s for s, nums in DEFAULT_SPLIT.items() if number in nums)
        train_frames = _frames(entry["train_frames"])
        train_joints = _joints(entry["train_joints"], f"{where} train_joints")
        test_frames = _frames(entry["test_frames"])
        test_joints = _joints(entry["test_joints"], f"{where} test_joints")
        for frames, joints, name in ((train_frames, train_joints, "train"),
                                     (test_frames, test_joints, "test")):
            if len(frames) != len(joints):
                raise DatasetError(f"{where}: {len(frames)} {name}_frames but {len(joints)} "
                                   f"{name}_joints")
        videos.append(BBCVideo(
            number=number,
            name=_text(entry["videoName"]) if "videoName" in fields else str(number),
            kind=kind, source=_text(entry["source"]) if "source" in fields else "",
            train_frames=train_frames, train_joints=train_joints,
            test_frames=test_frames, test_joints=test_joints))
    if not videos:
        raise DatasetError(f"BBC-Pose annotation file {path}: 'bbcpose' is empty")
    return videos


def video_centre(video: BBCVideo) -> tuple[float, float] | None:
    """The per-video crop centre ``(x, y)`` (0-based frame pixels): the median over annotated
    frames of the joints' bounding-box centre (``train_joints``, else ``test_joints``); ``None``
    when the video has no finite joints."""
    joints = video.train_joints if len(video.train_joints) else video.test_joints
    centres = []
    for pose in joints:
        ok = np.isfinite(pose).all(axis=1)
        if ok.any():
            centres.append((pose[ok].min(axis=0) + pose[ok].max(axis=0)) / 2.0)
    if not centres:
        return None
    cx, cy = np.median(np.stack(centres), axis=0)
    return float(cx), float(cy)


# ----------------------------------------------------------------------------------------------
# Geometry


def crop_box(centre: tuple[float, float], side: float) -> tuple[float, float, float]:
    """The square ``(x0, y0, side)`` in pixel-edge coordinates (the frame spans ``[0, W]``) whose
    centre is the 0-based pixel-centre point ``centre``."""
    cx, cy = centre
    return cx + 0.5 - side / 2.0, cy + 0.5 - side / 2.0, float(side)


def crop_square(image: Image.Image, box: tuple[float, float, float], size: int) -> np.ndarray:
    """Crop the square ``box = (x0, y0, side)`` (pixel-edge coordinates, may extend past the
    image: black there) and resize it to ``(size, size, 3)`` uint8 (antialiased bilinear)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    x0, y0, side = box
    left, top = max(0, math.ceil(-x0)), max(0, math.ceil(-y0))
    right = max(0, math.ceil(x0 + side - image.width))
    bottom = max(0, math.ceil(y0 + side - image.height))
    if left or top or right or bottom:
        canvas = Image.new("RGB", (image.width + left + right, image.height + top + bottom))
        canvas.paste(image, (left, top))
        image, x0, y0 = canvas, x0 + left, y0 + top
    out = image.resize((size, size), _RESAMPLE, box=(x0, y0, x0 + side, y0 + side))
    return np.array(out, dtype=np.uint8)


def _image_centre(image: Image.Image) -> tuple[float, float]:
    return (image.width - 1) / 2.0, (image.height - 1) / 2.0


def _frame_folder(root: Path, video: BBCVideo) -> Path:
    folder = root / str(video.number)
    if not folder.is_dir():
        raise DatasetError(f"BBC-Pose frame folder {folder} is missing (video {video.number}, "
                           f"{video.name!r}, {video.kind}; one of the folders 1..20 that the "
                           f"tarballs of bbcpose_data_1.0.zip unpack to)")
    return folder


def _numbered_frames(folder: Path) -> list[tuple[int, Path]]:
    """Image files of ``folder`` as ``(frame number, path)``, sorted by number (names that are
    not numbers come last, by name, numbered by position)."""
    files = sorted((Path(e.path) for e in os.scandir(folder)
                    if e.is_file() and not e.name.startswith(".") and is_image_file(Path(e.name))),
                   key=lambda p: (not p.stem.isdigit(), int(p.stem) if p.stem.isdigit() else 0,
                                  p.name))
    return [(int(p.stem) if p.stem.isdigit() else i, p) for i, p in enumerate(files)]


# ----------------------------------------------------------------------------------------------
# Training pairs


class BBCPoseFramePairs(ClipFrames):
    """Frame pairs of the BBC-Pose videos of one split, cropped to the signer.

    ``split``: ``"train"`` (videos 1–10), ``"val"``, ``"test"`` or ``"trainval"``. Every frame of
    each video folder is a target ``t``; the source is ``t ± g`` frames (in the folder's frame
    order) with ``g`` uniform in ``frame_gap`` (clipped to what the video allows; direction at
    random among those that stay inside). ``max_frames > 0`` keeps the first frames of each video.
    Randomness is torch's RNG (DataLoader worker seeding applies).

    ``dataset[i]`` is ``{"source", "target": (3, S, S) float32 in [0, 1], "frames": (2,) int64
    frame numbers [target, source]}``, or ``None`` when a frame cannot be read (warned once).
    """

    def __init__(self, root: str | Path, image_size: int, split: str = "train",
                 frame_gap: Sequence[int] = (3, 30), max_frames: int = 0, *,
                 annotations: str | Path | None = None, crop_size: float = DEFAULT_CROP_SIZE,
                 crop_centre: str = "video") -> None:
        self.root = Path(root).expanduser()
        self.image_size = int(image_size)
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        if split not in _TRAIN_SPLITS:
            raise DatasetError(f"BBC-Pose split {split!r} is unknown; expected one of "
                               f"{', '.join(_TRAIN_SPLITS)}")
        self.min_gap, self.max_gap = check_frame_gap(frame_gap)
        if crop_centre not in _CENTRES_TRAIN:
            raise DatasetError(f"option 'crop_centre': expected one of "
                               f"{', '.join(_CENTRES_TRAIN)} for training, got {crop_centre!r}")
        self.crop_size, self.crop_centre = float(crop_size), crop_centre
        self.split = split
        self.annotations = find_annotations(self.root, annotations)
        kinds = ("train", "val") if split == "trainval" else (split,)
        self.videos: list[BBCVideo] = []
        self.frames: list[list[tuple[int, Path]]] = []
        self.centres: list[tuple[float, float] | None] = []
        self.skipped: list[str] = []
        for video in load_annotations(self.annotations):
            if video.kind not in kinds:
                continue
            frames = _numbered_frames(_frame_folder(self.root, video))
            if max_frames > 0:
                frames = frames[:max_frames]
            if len(frames) < self.min_gap + 1:
                self.skipped.append(str(self.root / str(video.number)))
                warnings.warn(f"skipping BBC-Pose video folder {self.root / str(video.number)}: "
                              f"{len(frames)} frame(s), fewer than the {self.min_gap + 1} that "
                              f"frame_gap needs", stacklevel=2)
                continue
            self.videos.append(video)
            self.frames.append(frames)
            self.centres.append(video_centre(video))
        if not self.videos:
            raise DatasetError(f"BBC-Pose root {self.root} holds no usable {split} video (split "
                               f"from {self.annotations})")
        self.index_clips([len(f) for f in self.frames])
        self._warned: set[str] = set()

    def box(self, v: int, image: Image.Image) -> tuple[float, float, float]:
        """The crop square of video ``v`` (``(x0, y0, side)``, pixel edges)."""
        centre = self.centres[v] if self.crop_centre == "video" else None
        return crop_box(centre if centre is not None else _image_centre(image), self.crop_size)

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        v, t = self.locate(index)
        frames = self.frames[v]
        s = self.pick_source(t, len(frames))
        out = []
        for i in (t, s):
            path = frames[i][1]
            try:
                with Image.open(path) as img:
                    img.load()
                    out.append(crop_square(img, self.box(v, img), self.image_size))
            except Exception as err:
                if str(path) not in self._warned:
                    self._warned.add(str(path))
                    warnings.warn(f"skipping unreadable BBC-Pose frame {path}: {err}",
                                  stacklevel=2)
                return None
        return pair_item(out[0], out[1], frames[t][0], frames[s][0])

    def __repr__(self) -> str:
        return (f"BBCPoseFramePairs(root={str(self.root)!r}, split={self.split!r}, "
                f"videos={[v.number for v in self.videos]}, frames={len(self)}, "
                f"image_size={self.image_size}, crop_size={self.crop_size}, "
                f"crop_centre={self.crop_centre!r})")


@register_dataset("bbcpose")
def _bbcpose_dataset(cfg: DataConfig, image_size: int) -> Dataset:
    """``data.kind: bbcpose``: :class:`BBCPoseFramePairs` of ``data.split`` (train, val, test,
    trainval). Options: ``annotations`` (path), ``crop_size`` (frame px, default 300),
    ``crop_centre`` (``video`` | ``image``)."""
    options = dict(cfg.options)
    check_options(options, _TRAIN_OPTIONS, "data.kind 'bbcpose'")
    if cfg.crop:
        raise DatasetError("data.crop is not used by data.kind 'bbcpose', which crops a square "
                           "around the signer itself; set data.options.crop_size / crop_centre")
    return BBCPoseFramePairs(
        cfg.root, image_size, split=cfg.split, frame_gap=tuple(cfg.frame_gap),
        max_frames=cfg.max_frames, annotations=options.get("annotations"),
        crop_size=read_positive(options, "crop_size", DEFAULT_CROP_SIZE),
        crop_centre=read_choice(options, "crop_centre", "video", _CENTRES_TRAIN))


# ----------------------------------------------------------------------------------------------
# Labelled benchmark


class BBCPoseLabelled(Dataset):
    """Annotated BBC-Pose frames: ``{"image": (3, S, S), "labels": (7, 2) float32 pixels of the
    S×S image, "visible": (7,) bool}`` (``None`` for an unreadable frame, warned once).

    ``items``: ``(video number, frame number, joints (7, 2) 0-based frame pixels)``.
    """

    def __init__(self, root: Path, image_size: int,
                 items: Sequence[tuple[int, int, np.ndarray]],
                 centres: Mapping[int, tuple[float, float] | None], crop_size: float,
                 crop_centre: str) -> None:
        self.root = root
        self.image_size = int(image_size)
        self.items = list(items)
        self.centres = dict(centres)
        self.crop_size, self.crop_centre = float(crop_size), crop_centre
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.items)

    def path(self, index: int) -> Path:
        video, frame, _ = self.items[index]
        return self.root / str(video) / f"{frame}.jpg"

    def box(self, index: int, image: Image.Image) -> tuple[float, float, float]:
        """The crop square of item ``index`` (``(x0, y0, side)``, pixel edges)."""
        video, _, joints = self.items[index]
        centre: tuple[float, float] | None = None
        if self.crop_centre == "video":
            centre = self.centres.get(video)
        elif self.crop_centre == "frame":
            ok = np.isfinite(joints).all(axis=1)
            if ok.any():
                cx, cy = (joints[ok].min(axis=0) + joints[ok].max(axis=0)) / 2.0
                centre = (float(cx), float(cy))
        return crop_box(centre if centre is not None else _image_centre(image), self.crop_size)

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        path = self.path(index)
        joints = self.items[index][2]
        try:
            with Image.open(path) as img:
                img.load()
                box = self.box(index, img)
                pixels = crop_square(img, box, self.image_size)
        except Exception as err:
            if str(path) not in self._warned:
                self._warned.add(str(path))
                warnings.warn(f"skipping unreadable BBC-Pose frame {path}: {err}", stacklevel=2)
            return None
        return labelled_item(pixels, to_crop_pixels(joints, box, self.image_size))


def _labelled_items(root: Path, videos: Sequence[BBCVideo], manual: bool,
                    stride: int) -> list[tuple[int, int, np.ndarray]]:
    items = []
    for video in videos:
        folder = _frame_folder(root, video)
        frames = video.test_frames if manual else video.train_frames
        joints = video.test_joints if manual else video.train_joints
        if len(frames) == 0:
            continue
        names = {e.name for e in os.scandir(folder)}
        missing = [f for f in frames if f"{f}.jpg" not in names]
        if missing:
            raise DatasetError(f"BBC-Pose frame {folder / f'{missing[0]}.jpg'} is missing "
                               f"({len(missing)} of the {len(frames)} annotated frames of video "
                               f"{video.number} are; annotations list them in "
                               f"{'test' if manual else 'train'}_frames)")
        items.extend((video.number, int(f), j) for f, j in
                     zip(frames[::stride], joints[::stride], strict=True))
    return items


def make_benchmark(root: str | Path, image_size: int, **options: Any) -> LabelledBenchmark:
    """The BBC-Pose benchmark (module docstring).

    Splits: ``"train"`` — the training videos' annotated frames (``train_frames`` /
    ``train_joints``, every ``train_stride``-th); ``"val"`` and ``"test"`` — the manually annotated
    frames (``test_frames`` / ``test_joints``) of the validation / test videos (1000 test frames).
    Options: ``annotations``, ``crop_size`` (frame px, 300), ``crop_centre`` (``video`` | ``frame``
    | ``image``), ``eval_scale`` (0.5), ``train_stride`` (1).
    """
    check_options(options, _BENCH_OPTIONS, "benchmark 'bbcpose'")
    crop_size = read_positive(options, "crop_size", DEFAULT_CROP_SIZE)
    crop_centre = read_choice(options, "crop_centre", "video", _CENTRES_BENCH)
    eval_scale = read_positive(options, "eval_scale", EVAL_SCALE)
    stride = read_count(options, "train_stride", 1)
    root = Path(root).expanduser()
    path = find_annotations(root, options.get("annotations"))
    videos = load_annotations(path)
    centres = {v.number: video_centre(v) for v in videos}
    splits: dict[str, Dataset] = {}
    for split in _SPLITS:
        chosen = [v for v in videos if v.kind == split]
        items = _labelled_items(root, chosen, manual=split != "train",
                                stride=stride if split == "train" else 1)
        if not items and split in ("train", "test"):
            raise DatasetError(f"BBC-Pose annotation file {path} lists no annotated {split} "
                               f"frames (videos of type {split!r}: "
                               f"{[v.number for v in chosen] or 'none'})")
        splits[split] = BBCPoseLabelled(root, image_size, items, centres, crop_size, crop_centre)
    return LabelledBenchmark(
        name="bbcpose", splits=splits, point_names=list(POINT_NAMES), metric="pck",
        pck_threshold=PCK_THRESHOLD, pixel_scale=eval_scale * crop_size / image_size,
        paper_figure=PAPER_FIGURE,
        notes=[
            "labels: 'train' = semi-automatic train_joints of the training videos ("
            + ("every frame" if stride == 1 else f"every {stride}th frame")
            + "); 'val'/'test' = manual test_joints (200 frames per video)",
            f"crop: {crop_size:g} frame px square, centred per {crop_centre}; resized to "
            f"{image_size}",
            f"PCK@{PCK_THRESHOLD:g} px at {eval_scale:g}x the frame resolution (the official "
            f"evaluation halves coordinates); pixel_scale = {eval_scale:g} * {crop_size:g} / "
            f"{image_size}",
        ])


@register_benchmark("bbcpose")
def _bbcpose_benchmark(root: str | Path, image_size: int, **options: Any) -> LabelledBenchmark:
    return make_benchmark(root, image_size, **options)
