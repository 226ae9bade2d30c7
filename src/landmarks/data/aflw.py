"""AFLW in Thewlis et al.'s ``aflw_release-2`` layout: unsupervised fine-tuning and the labelled
regression protocol.

Layout of the root (the unzipped ``aflw_release-2.zip`` that the official code points to)::

    aflw_train_images.txt      one image path per line, relative to output/
    aflw_test_images.txt
    aflw_train_keypoints.mat   MATLAB (v5) file: 'gt' (N, 5, 2) the 5 points as (y, x) pixel
    aflw_test_keypoints.mat    coordinates of the image, 'hw' (N, 2) its (height, width);
                               row i belongs to line i of the matching images.txt
    output/...                 the face crops (JPEG), of varying sizes

Point order is MAFL's (:data:`~landmarks.data.celeba.POINT_NAMES`: left eye, right eye, nose,
left and right mouth corner; the official code takes the eyes as points 0 and 1).

Splits (official tomasjakab/imm ``aflw_dataset.py``, file order):

* ``train`` — the training list minus its last 10% (``round(0.1 n)``), which the official code
  keeps for validation: what it fine-tunes on;
* ``val`` — that last 10%;
* ``train_all`` — the whole training list (the benchmark's ``train`` split: the regression
  protocol holds out its own 10%);
* ``test`` — the test list.

Geometry (official code): the whole image is resized to ``S x S`` (the aspect ratio is not kept).
Labels are scaled from the ``hw`` frame of the .mat file, as the official code does, in the
library's pixel-centre convention: ``x' = (x + 0.5) * S / w - 0.5``; the file's values are taken
as they are (``0`` = centre of the first pixel; the official code subtracts no origin).
Non-finite coordinates mark a missing point (``visible`` False, label 0).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
import torch
from torch import Tensor
from torch.utils.data import Dataset

from landmarks.config import DataConfig
from landmarks.data.celeba import (
    EYE_INDICES,
    POINT_NAMES,
    box_points,
    load_box_image,
)
from landmarks.data.labelled import LabelledBenchmark
from landmarks.data.options import check_options
from landmarks.data.transforms import DatasetError
from landmarks.registry import register_benchmark, register_dataset

__all__ = [
    "AFLW",
    "AFLW_SPLITS",
    "OPTIONS",
    "aflw_benchmark",
    "aflw_split",
    "read_aflw_list",
]

#: The splits ``cfg.split`` selects (module docstring).
AFLW_SPLITS: tuple[str, ...] = ("train", "val", "train_all", "test")
#: Reader options (``data.options`` / benchmark keyword options): none.
OPTIONS: tuple[str, ...] = ()
#: Fraction of the training list (the last images) that the official code keeps for validation.
VAL_FRACTION = 0.1
IMAGE_DIR = "output"
PAPER_FIGURE = ("AFLW: 6.31% IOD error at K=30 (Jakab et al. 2018, Table 1; CelebA training, "
                "then unsupervised fine-tuning on AFLW)")


def read_aflw_list(root: str | Path, part: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read one part (``"train"`` or ``"test"``) of the release.

    Returns ``(names, points, hw)``: image paths relative to ``output/``, ``(N, 5, 2)`` float32
    ``(x, y)`` pixel coordinates (converted from the file's ``(y, x)``), and ``(N, 2)`` float64
    ``(height, width)`` of the frame the points refer to. Raises :class:`DatasetError` naming the
    file for a missing file, a missing or misshapen variable, or a count mismatch.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"AFLW root {root} does not exist (expected the unzipped "
                           f"aflw_release-2 folder with aflw_*_images.txt, aflw_*_keypoints.mat "
                           f"and output/)")
    list_path = root / f"aflw_{part}_images.txt"
    mat_path = root / f"aflw_{part}_keypoints.mat"
    if not list_path.is_file():
        raise DatasetError(f"AFLW image list {list_path} is missing (the {part} image names of "
                           f"aflw_release-2)")
    if not mat_path.is_file():
        raise DatasetError(f"AFLW keypoints file {mat_path} is missing (the {part} landmarks "
                           f"'gt' and image sizes 'hw' of aflw_release-2)")
    names = [line.strip() for line in list_path.read_text().splitlines() if line.strip()]
    try:
        mat = scipy.io.loadmat(str(mat_path))
    except Exception as err:  # scipy raises several types (v7.3/HDF5, truncated, not a .mat)
        raise DatasetError(f"AFLW keypoints file {mat_path} cannot be read as a MATLAB v5 "
                           f"file: {type(err).__name__}: {err}") from err
    for key in ("gt", "hw"):
        if key not in mat:
            raise DatasetError(f"AFLW keypoints file {mat_path} has no variable {key!r} "
                               f"(expected 'gt' (N, 5, 2) and 'hw' (N, 2))")
    gt = np.asarray(mat["gt"], dtype=np.float64)
    hw = np.asarray(mat["hw"], dtype=np.float64)
    if gt.ndim != 3 or gt.shape[1:] != (5, 2):
        raise DatasetError(f"AFLW keypoints file {mat_path}: 'gt' has shape {gt.shape}; "
                           f"expected (N, 5, 2)")
    if hw.shape != (gt.shape[0], 2):
        raise DatasetError(f"AFLW keypoints file {mat_path}: 'hw' has shape {hw.shape}; "
                           f"expected ({gt.shape[0]}, 2)")
    if len(names) != gt.shape[0]:
        raise DatasetError(f"AFLW: {list_path} lists {len(names)} images but {mat_path} holds "
                           f"{gt.shape[0]} rows")
    if not np.all(hw > 0):
        raise DatasetError(f"AFLW keypoints file {mat_path}: 'hw' holds non-positive sizes")
    points = gt[:, :, ::-1].astype(np.float32)  # (y, x) -> (x, y)
    return names, points, hw


def aflw_split(root: str | Path, split: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(names, points (N, 5, 2) (x, y), hw (N, 2))`` of ``split`` (one of
    :data:`AFLW_SPLITS`), in file order."""
    if split not in AFLW_SPLITS:
        raise DatasetError(f"aflw: unknown split {split!r}; expected one of "
                           f"{', '.join(AFLW_SPLITS)}")
    names, points, hw = read_aflw_list(root, "test" if split == "test" else "train")
    if split in ("train", "val"):
        n_val = math.floor(VAL_FRACTION * len(names) + 0.5)
        cut = len(names) - n_val
        sel = slice(0, cut) if split == "train" else slice(cut, len(names))
        names, points, hw = names[sel], points[sel], hw[sel]
    return names, points, hw


class AFLW(Dataset):
    """AFLW face crops resized to ``image_size x image_size`` (official geometry).

    ``dataset[i]`` is ``{"image": (3, S, S) float32 in [0, 1]}``; with ``labels=True`` also
    ``"labels"``: ``(5, 2)`` float32 pixel coordinates of the ``S x S`` image and ``"visible"``:
    ``(5,)`` bool. An unreadable (corrupt, truncated, vanished) image gives ``None``, with or
    without labels, and one warning naming the file (training's
    :func:`~landmarks.data.video.collate_skipping` and the evaluation skip and count it). A
    missing list, keypoints file, ``output`` folder or first image of the split is a structural
    problem and raises :class:`DatasetError` when the dataset is built.
    """

    def __init__(self, root: str | Path, image_size: int, split: str = "train",
                 labels: bool = False) -> None:
        self.root = Path(root).expanduser()
        self.image_size = int(image_size)
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.split = split
        self.labels = bool(labels)
        self.names, self.points, self.hw = aflw_split(self.root, split)
        if not self.names:
            raise DatasetError(f"AFLW split {split!r} under {self.root} holds no images")
        self.image_dir = self.root / IMAGE_DIR
        if not self.image_dir.is_dir():
            raise DatasetError(f"AFLW image folder {self.image_dir} is missing (the 'output' "
                               f"folder of aflw_release-2)")
        first = self.image_dir / self.names[0]
        if not first.is_file():
            raise DatasetError(f"AFLW image {first} is missing (the first image of split "
                               f"{split!r}, listed relative to {self.image_dir})")
        self.skipped: list[str] = []
        self._size_warned = False

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        path = self.image_dir / self.names[index]
        try:
            image, (w, h) = load_box_image(path, self.image_size)
        except Exception as err:  # PIL raises several types for corrupt/truncated files
            # one corrupt image is skipped and counted, never a crash (labelled or not)
            if str(path) not in self.skipped:
                self.skipped.append(str(path))
                warnings.warn(f"skipping unreadable AFLW image {path}: {err}", stacklevel=2)
            return None
        if not self.labels:
            return {"image": image}
        mat_h, mat_w = (float(v) for v in self.hw[index])
        if (h, w) != (mat_h, mat_w) and not self._size_warned:
            self._size_warned = True
            warnings.warn(f"AFLW image {path} is {w}x{h} but the keypoints file gives "
                          f"{mat_w:g}x{mat_h:g}; labels are scaled from the file's size "
                          f"(warned once)", stacklevel=2)
        pts = self.points[index]
        visible = np.isfinite(pts).all(axis=1)
        mapped = box_points(np.where(visible[:, None], pts, 0.0), mat_w, mat_h, self.image_size)
        mapped[~visible] = 0.0
        return {"image": image, "labels": torch.from_numpy(mapped),
                "visible": torch.from_numpy(visible)}

    def __repr__(self) -> str:
        return (f"AFLW(root={str(self.root)!r}, split={self.split!r}, images={len(self.names)}, "
                f"image_size={self.image_size}, labels={self.labels})")


@register_dataset("aflw")
def _aflw(cfg: DataConfig, image_size: int) -> Dataset:
    """Unsupervised (fine-tuning) training on AFLW (TPS pairs): items ``{"image": (3, S, S)}``."""
    check_options(cfg.options, OPTIONS, "aflw")
    if not cfg.root:
        raise DatasetError("data.root is empty; expected the aflw_release-2 folder")
    if cfg.crop:
        raise DatasetError(f"aflw: data.crop {cfg.crop} is not supported; the official geometry "
                           f"(the whole crop resized to S x S) is fixed so that training and the "
                           f"aflw benchmark see the same faces")
    return AFLW(cfg.root, image_size, split=cfg.split)


def aflw_benchmark(root: str | Path, image_size: int, **options: Any) -> LabelledBenchmark:
    """The AFLW benchmark: ``train`` = the whole training list, ``test`` = the test list; items
    ``{"image": (3, S, S), "labels": (5, 2) pixels, "visible": (5,)}``; IOD error with the eyes
    (0, 1). No options."""
    check_options(options, OPTIONS, "aflw")
    splits = {"train": AFLW(root, image_size, split="train_all", labels=True),
              "test": AFLW(root, image_size, split="test", labels=True)}
    return LabelledBenchmark(
        name="aflw", splits=splits, point_names=list(POINT_NAMES), metric="iod",
        eye_indices=EYE_INDICES, pixel_scale=1.0, paper_figure=PAPER_FIGURE,
        notes=[
            "images: each aflw_release-2 face crop resized to S x S (aspect not kept; official "
            "geometry); labels scaled from the keypoints file's 'hw' size",
            "pixel_scale is 1: the crops have different sizes, so there is no single scale "
            "to original pixels; the IOD metric does not need one, and the secondary PCK "
            "figure is in pixels of the S x S input",
            "the official regressor was fitted on the first 90% of the training list; this "
            "protocol holds out its own random 10% (split 'val' of the aflw reader is the "
            "official one)",
        ])


@register_benchmark("aflw")
def _aflw_bench(root: str | Path, image_size: int, **options: Any) -> LabelledBenchmark:
    return aflw_benchmark(root, image_size, **options)
