"""CelebA (aligned) for unsupervised training and MAFL for the labelled regression protocol.

Layout of the root (the CelebA download plus MAFL's two lists; the official code's
``celeba.zip`` has exactly this, with its images in ``Img/img_align_celeba_hq``)::

    Anno/list_landmarks_align_celeba.txt   line 1: the number of images; line 2: the header
                                           "lefteye_x lefteye_y righteye_x ... rightmouth_y";
                                           then "000001.jpg 69 109 106 113 77 142 73 152 108 154"
                                           (whitespace-separated pixel coordinates, x right,
                                           y down, in the 178x218 aligned image)
    Eval/list_eval_partition.txt           "000001.jpg 0"; 0 = train, 1 = val, 2 = test
    MAFL/training.txt                      one image name per line (19,000)
    MAFL/testing.txt                       one image name per line (1,000)
    Img/img_align_celeba_hq/000001.jpg     the aligned 178x218 images; also found in
      or Img/img_align_celeba/             ``Img/img_align_celeba`` or ``img_align_celeba``
      or img_align_celeba/                 (first that exists), or ``options: {image_dir: ...}``

Splits (the official code, tomasjakab/imm ``celeba_dataset.py``; images in the order of the
landmarks file). "MAFL val" is the last 10% (``round(0.1 n)``) of the MAFL training images,
which the official code keeps out of unsupervised training for validation:

* ``train`` — CelebA's train partition minus MAFL test minus MAFL val: the unsupervised
  training set of the paper (MAFL's other training images stay in it, unlabelled);
* ``val`` / ``test`` — CelebA's val / test partitions minus MAFL test and MAFL val;
* ``mafl_train`` — all MAFL training images (the benchmark's ``train`` split: the regression
  protocol holds out its own 10% of them);
* ``mafl_val`` — MAFL val (the official regressor's held-out part);
* ``mafl_test`` — MAFL test.

Geometry (official code): the whole image is resized to ``S / 0.8`` in *both* directions
(the 178x218 face is squeezed, not cropped to a square) and the centred ``S x S`` is kept, at
every ``S`` (160 -> 128 at ``S = 128``). That is the box ``[0.1, 0.9] x [0.1, 0.9]`` (fractions of
width and height) resized to ``S x S``, which :func:`load_box_image` does in one antialiased
step and :func:`box_points` applies to labels. Pixel coordinates of the files are taken as they
are (``0`` = centre of the first pixel), as the official code subtracts no origin; a 1-based
origin would shift every label by the same sub-pixel amount.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from landmarks.config import DataConfig
from landmarks.data.labelled import LabelledBenchmark
from landmarks.data.options import check_options
from landmarks.data.transforms import DatasetError, uint8_to_tensor
from landmarks.registry import register_benchmark, register_dataset

__all__ = [
    "CELEBA_BOX",
    "CELEBA_SPLITS",
    "EYE_INDICES",
    "OPTIONS",
    "POINT_NAMES",
    "CelebA",
    "box_points",
    "celeba_split",
    "load_box_image",
    "mafl_benchmark",
    "read_landmarks_file",
    "read_name_list",
    "read_partition_file",
]

#: The 5 MAFL points, in file order ("left"/"right" as seen in the image).
POINT_NAMES: tuple[str, ...] = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")
#: The two points whose distance normalises the error (inter-ocular distance).
EYE_INDICES: tuple[int, int] = (0, 1)
#: The region of the aligned image that becomes the network input: ``[x0, y0, x1, y1]``,
#: fractions of width / height (resize to S/0.8, centre crop S; official ``crop_percent=0.8``).
CELEBA_BOX: tuple[float, float, float, float] = (0.1, 0.1, 0.9, 0.9)
#: The splits ``cfg.split`` selects (module docstring).
CELEBA_SPLITS: tuple[str, ...] = ("train", "val", "test", "mafl_train", "mafl_val", "mafl_test")
#: Reader options (``data.options`` / benchmark keyword options).
OPTIONS: tuple[str, ...] = ("image_dir",)

LANDMARKS_FILE = ("Anno", "list_landmarks_align_celeba.txt")
PARTITION_FILE = ("Eval", "list_eval_partition.txt")
MAFL_TRAIN_FILE = ("MAFL", "training.txt")
MAFL_TEST_FILE = ("MAFL", "testing.txt")
IMAGE_DIRS: tuple[str, ...] = ("Img/img_align_celeba_hq", "Img/img_align_celeba",
                               "img_align_celeba")
#: Fraction of the MAFL training images (the last ones) kept for validation.
MAFL_VAL_FRACTION = 0.1
#: The aligned CelebA image size (width, height).
CELEBA_SIZE: tuple[int, int] = (178, 218)
PAPER_FIGURE = ("MAFL: 3.19% (K=10) / 2.58% (K=30) IOD error (Jakab et al. 2018, Table 1; "
                "CelebA training, linear regressor fitted on MAFL train)")


# ----------------------------------------------------------------------------------------------
# Shared geometry (also used by landmarks.data.aflw)


def load_box_image(path: str | Path, size: int,
                   box: Sequence[float] = (0.0, 0.0, 1.0, 1.0)) -> tuple[Tensor, tuple[int, int]]:
    """Decode an image and resize the region ``box`` to ``size x size`` (aspect not kept).

    ``box = [x0, y0, x1, y1]`` are fractions of the width / height in pixel-edge coordinates
    (the image spans ``[0, W] x [0, H]``); the region is resized with PIL's antialiased bilinear
    filter, straight from the float box. Returns ``((3, size, size) float32 in [0, 1], (W, H))``
    with ``(W, H)`` the decoded image's size. Raises ``OSError`` (or a PIL error) for a file
    that cannot be decoded.
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    with Image.open(path) as img:
        img.load()
        rgb = img.convert("RGB") if img.mode != "RGB" else img
        w, h = rgb.size
        region = (box[0] * w, box[1] * h, box[2] * w, box[3] * h)
        out = rgb.resize((size, size), Image.Resampling.BILINEAR, box=region)
        array = np.array(out, dtype=np.uint8)
    return uint8_to_tensor(array), (w, h)


def box_points(points: np.ndarray, width: float, height: float, size: int,
               box: Sequence[float] = (0.0, 0.0, 1.0, 1.0)) -> np.ndarray:
    """Map pixel coordinates of a ``width x height`` image into the ``size x size`` image that
    :func:`load_box_image` makes of ``box``.

    ``points``: ``(..., 2)`` ``(x, y)``, pixel-centre convention (``0`` = centre of the first
    pixel) in both frames. Returns ``(..., 2)`` float32:
    ``x' = (x + 0.5 - x0 W) * size / ((x1 - x0) W) - 0.5`` and the same for ``y`` with ``H``.
    """
    pts = np.asarray(points, dtype=np.float64)
    origin = np.array([box[0] * width, box[1] * height])
    extent = np.array([(box[2] - box[0]) * width, (box[3] - box[1]) * height])
    return ((pts + 0.5 - origin) * size / extent - 0.5).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# File readers


def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"{what} {path} is missing")
    return path


def read_landmarks_file(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read ``list_landmarks_align_celeba.txt``.

    Returns ``(names, points)``: the image names in file order and ``(N, 5, 2)`` float32
    ``(x, y)`` pixel coordinates in :data:`POINT_NAMES` order. Raises :class:`DatasetError`
    naming the file (and line) when it is missing or malformed. The parse is cached per file
    (path, size, modification time), so the splits of one root read it once.
    """
    path = _require(Path(path), "CelebA landmarks file")
    stat = path.stat()
    names, points = _parse_landmarks(str(path), stat.st_size, stat.st_mtime_ns)
    return list(names), points.copy()


@functools.lru_cache(maxsize=4)
def _parse_landmarks(path_str: str, size: int, mtime_ns: int) -> tuple[tuple[str, ...],
                                                                         np.ndarray]:
    path = Path(path_str)
    lines = path.read_text().splitlines()
    if len(lines) < 2:
        raise DatasetError(f"CelebA landmarks file {path}: expected a count line and a header "
                           f"line, got {len(lines)} line(s)")
    try:
        count = int(lines[0].split()[0])
    except (ValueError, IndexError) as err:
        raise DatasetError(f"CelebA landmarks file {path} line 1: expected the number of "
                           f"images, got {lines[0]!r}") from err
    names: list[str] = []
    values: list[list[float]] = []
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 11:
            raise DatasetError(f"CelebA landmarks file {path} line {number}: expected an image "
                               f"name and 10 coordinates, got {line!r}")
        try:
            values.append([float(v) for v in fields[1:]])
        except ValueError as err:
            raise DatasetError(f"CelebA landmarks file {path} line {number}: coordinates are "
                               f"not numbers: {line!r}") from err
        names.append(fields[0])
    if len(names) != count:
        raise DatasetError(f"CelebA landmarks file {path}: line 1 announces {count} images but "
                           f"{len(names)} follow (a truncated download?)")
    points = np.asarray(values, dtype=np.float32).reshape(-1, 5, 2)
    return tuple(names), points


def read_partition_file(path: str | Path) -> dict[str, int]:
    """Read ``list_eval_partition.txt``: image name -> 0 (train), 1 (val) or 2 (test)."""
    path = _require(Path(path), "CelebA partition file (the 'Eval' folder of CelebA)")
    out: dict[str, int] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DatasetError(f"CelebA partition file {path} line {number}: expected "
                               f"'NAME 0|1|2', got {line!r}")
        out[fields[0]] = int(fields[1])
    return out


def read_name_list(path: str | Path, what: str = "image list") -> list[str]:
    """Read a file of image names, one per line (blank lines skipped)."""
    path = _require(Path(path), what)
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _landmarks_path(root: Path) -> Path:
    path = root.joinpath(*LANDMARKS_FILE)
    if not path.is_file():
        raise DatasetError(f"CelebA landmarks file {path} is missing (the 'Anno' folder of the "
                           f"CelebA download)")
    return path


def celeba_split(root: str | Path, split: str) -> tuple[list[str], np.ndarray]:
    """The image names of ``split`` and their 5 points, in landmarks-file order.

    ``split`` is one of :data:`CELEBA_SPLITS` (module docstring). Returns ``(names, points)``
    with ``points`` ``(N, 5, 2)`` float32 ``(x, y)`` in the aligned image's pixels.
    """
    if split not in CELEBA_SPLITS:
        raise DatasetError(f"celeba: unknown split {split!r}; expected one of "
                           f"{', '.join(CELEBA_SPLITS)}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"CelebA root {root} does not exist (expected the folder holding "
                           f"Anno/, Eval/, MAFL/ and the aligned images)")
    names, points = read_landmarks_file(_landmarks_path(root))
    mafl_train = set(read_name_list(root.joinpath(*MAFL_TRAIN_FILE),
                                    "MAFL training list (MAFL/training.txt of the MAFL lists)"))
    mafl_test = set(read_name_list(root.joinpath(*MAFL_TEST_FILE),
                                   "MAFL test list (MAFL/testing.txt of the MAFL lists)"))
    train_idx = [i for i, n in enumerate(names) if n in mafl_train]
    n_val = math.floor(MAFL_VAL_FRACTION * len(train_idx) + 0.5)
    val_idx = set(train_idx[len(train_idx) - n_val:])
    if split == "mafl_train":
        keep = [i for i in train_idx if names[i] not in mafl_test]
    elif split == "mafl_val":
        keep = sorted(val_idx)
    elif split == "mafl_test":
        keep = [i for i, n in enumerate(names) if n in mafl_test and i not in val_idx]
    else:
        partition = read_partition_file(root.joinpath(*PARTITION_FILE))
        label = {"train": 0, "val": 1, "test": 2}[split]
        missing = [n for n in names if n not in partition]
        if missing:
            raise DatasetError(f"CelebA partition file {root.joinpath(*PARTITION_FILE)} has no "
                               f"entry for {len(missing)} image(s) of the landmarks file, e.g. "
                               f"{missing[0]}")
        keep = [i for i, n in enumerate(names) if partition[n] == label
                and n not in mafl_test and i not in val_idx]
    return [names[i] for i in keep], points[keep] if keep else np.zeros((0, 5, 2), np.float32)


def find_image_dir(root: str | Path, image_dir: str | None = None) -> Path:
    """The folder of aligned images: ``image_dir`` (relative to ``root`` or absolute), else the
    first of :data:`IMAGE_DIRS` that exists under ``root``."""
    root = Path(root).expanduser()
    if image_dir:
        path = Path(image_dir).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_dir():
            raise DatasetError(f"CelebA image folder {path} (option image_dir) does not exist")
        return path
    for rel in IMAGE_DIRS:
        if (root / rel).is_dir():
            return root / rel
    raise DatasetError(f"CelebA image folder is missing: expected the aligned images "
                       f"(NNNNNN.jpg, 178x218) in one of "
                       f"{', '.join(str(root / r) for r in IMAGE_DIRS)} "
                       f"(img_align_celeba of the CelebA download), or set option image_dir")


# ----------------------------------------------------------------------------------------------
# Dataset


class CelebA(Dataset):
    """Aligned CelebA / MAFL images at ``image_size x image_size`` (official geometry).

    ``dataset[i]`` is ``{"image": (3, S, S) float32 in [0, 1]}``; with ``labels=True`` also
    ``"labels"``: ``(5, 2)`` float32 pixel coordinates of the ``S x S`` image (pixel centres
    at integers) and ``"visible"``: ``(5,)`` bool (all True). An unreadable (corrupt,
    truncated, vanished) image gives ``None``, with or without labels, and one warning naming the
    file: :func:`~landmarks.data.video.collate_skipping` drops and counts it in training, and the
    evaluation skips it and reports it per split (``sizes["skipped_train"/"skipped_test"]``).
    A missing landmarks / partition / MAFL list, image folder or first image of the split is a
    structural problem and raises :class:`DatasetError` when the dataset is built.
    """

    def __init__(self, root: str | Path, image_size: int, split: str = "train",
                 labels: bool = False, image_dir: str | None = None) -> None:
        self.root = Path(root).expanduser()
        self.image_size = int(image_size)
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.split = split
        self.labels = bool(labels)
        self.names, self.points = celeba_split(self.root, split)
        if not self.names:
            raise DatasetError(f"CelebA split {split!r} under {self.root} holds no images")
        self.image_dir = find_image_dir(self.root, image_dir)
        first = self.image_dir / self.names[0]
        if not first.is_file():
            raise DatasetError(f"CelebA image {first} is missing (the first image of split "
                               f"{split!r}; expected the aligned images in {self.image_dir})")
        self.skipped: list[str] = []

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        path = self.image_dir / self.names[index]
        try:
            image, (w, h) = load_box_image(path, self.image_size, CELEBA_BOX)
        except Exception as err:  # PIL raises several types for corrupt/truncated files
            # one corrupt image is skipped and counted, never a crash (labelled or not)
            if str(path) not in self.skipped:
                self.skipped.append(str(path))
                warnings.warn(f"skipping unreadable CelebA image {path}: {err}", stacklevel=2)
            return None
        if not self.labels:
            return {"image": image}
        pts = box_points(self.points[index], w, h, self.image_size, CELEBA_BOX)
        return {"image": image, "labels": torch.from_numpy(pts),
                "visible": torch.ones(len(POINT_NAMES), dtype=torch.bool)}

    def __repr__(self) -> str:
        return (f"CelebA(root={str(self.root)!r}, split={self.split!r}, "
                f"images={len(self.names)}, image_size={self.image_size}, labels={self.labels})")


@register_dataset("celeba")
def _celeba(cfg: DataConfig, image_size: int) -> Dataset:
    """Unsupervised training on aligned CelebA (TPS pairs): items ``{"image": (3, S, S)}``."""
    check_options(cfg.options, OPTIONS, "celeba")
    if not cfg.root:
        raise DatasetError("data.root is empty; expected the CelebA folder (Anno/, Eval/, MAFL/, "
                           "img_align_celeba/)")
    if cfg.crop:
        raise DatasetError(f"celeba: data.crop {cfg.crop} is not supported; the official "
                           f"geometry (resize to S/0.8, centre crop S) is fixed so that training "
                           f"and the mafl benchmark see the same faces")
    return CelebA(cfg.root, image_size, split=cfg.split, image_dir=cfg.options.get("image_dir"))


def mafl_benchmark(root: str | Path, image_size: int, **options: Any) -> LabelledBenchmark:
    """The MAFL benchmark: ``train`` = MAFL training images, ``test`` = MAFL test images, each
    item ``{"image": (3, S, S), "labels": (5, 2) pixels, "visible": (5,)}``; IOD error with the
    eye centres (0, 1). Options: :data:`OPTIONS`."""
    check_options(options, OPTIONS, "mafl")
    image_dir = options.get("image_dir")
    splits = {name: CelebA(root, image_size, split=f"mafl_{name}", labels=True,
                           image_dir=image_dir) for name in ("train", "test")}
    sx = (CELEBA_BOX[2] - CELEBA_BOX[0]) * CELEBA_SIZE[0] / image_size
    sy = (CELEBA_BOX[3] - CELEBA_BOX[1]) * CELEBA_SIZE[1] / image_size
    return LabelledBenchmark(
        name="mafl", splits=splits, point_names=list(POINT_NAMES), metric="iod",
        eye_indices=EYE_INDICES, pixel_scale=math.sqrt(sx * sy), paper_figure=PAPER_FIGURE,
        notes=[
            "images: the aligned 178x218 CelebA image squeezed to S/0.8 x S/0.8 and centre-"
            "cropped to S x S (official geometry); labels transformed the same way",
            f"pixel_scale is the geometric mean of the anisotropic scales ({sx:.3f} original "
            f"px per px in x, {sy:.3f} in y); the IOD error does not use it, the secondary PCK "
            f"figure does (its 6-px threshold is in these approximate original pixels)",
            "the official regressor held out the last 10% of MAFL train; this protocol holds "
            "out its own random 10% (split 'mafl_val' of the celeba reader is the official one)",
        ])


@register_benchmark("mafl")
def _mafl(root: str | Path, image_size: int, **options: Any) -> LabelledBenchmark:
    return mafl_benchmark(root, image_size, **options)
