"""SVHN (Netzer et al. 2011), cropped digits: single images, paired by TPS warps.

Training reader only: SVHN has no landmark annotations, so there is no benchmark; the paper
shows its landmarks on SVHN qualitatively.

**Files** (format 2 of the download, "Cropped Digits")::

    <root>/train_32x32.mat    data.split = "train"  (73,257 digits)
    <root>/test_32x32.mat     data.split = "test"   (26,032 digits)
    <root>/extra_32x32.mat    data.split = "extra"  (531,131 digits)

MATLAB (v5) files holding ``X``: uint8 ``(32, 32, 3, N)`` (row, column, RGB, image) and ``y``:
``(N, 1)`` labels 1–10, 10 standing for the digit 0. Only ``X`` is read (labels are not used).
``scipy.io.loadmat`` decompresses the whole array at construction (about 225 MB for ``train``,
1.6 GB for ``extra``); DataLoader workers started by ``fork`` share it without copying.

**Pairs.** The cropped-digit format carries no house-number or image id (digits cut from one
house-number photo cannot be told apart from the others), so real pairs of one object are not
available: the format only allows single images, and each training pair is made of two
thin-plate-spline warps of one digit image by the trainer (``landmarks.engine.trainer.make_pair``,
the paper's synthetic-transformation setting).

The *full-numbers* format (format 1: ``train.tar.gz`` with PNGs and ``digitStruct.mat``, a
MATLAB v7.3 / HDF5 file of per-digit boxes) is **not supported**.

Items: ``{"image": (3, S, S)}`` float32 in ``[0, 1]``: the 32×32 digit, optionally cropped
(``data.crop``), resized to ``image_size`` with the library's geometry
(:mod:`landmarks.data.transforms`). No reader options (``data.options`` must be empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from landmarks.config import DataConfig
from landmarks.data.options import check_options
from landmarks.data.transforms import DatasetError, check_crop, resize_image, uint8_to_tensor
from landmarks.registry import register_dataset

__all__ = ["SPLIT_FILES", "SVHNDigits", "load_svhn_images"]

#: The file of each split.
SPLIT_FILES: dict[str, str] = {
    "train": "train_32x32.mat",
    "test": "test_32x32.mat",
    "extra": "extra_32x32.mat",
}


def load_svhn_images(path: str | Path) -> np.ndarray:
    """The ``X`` array of an SVHN cropped-digits file: uint8 ``(32, 32, 3, N)``.

    Raises :class:`DatasetError` naming the file when it cannot be read as a MATLAB file or
    holds no ``X`` of that shape and type.
    """
    path = Path(path)
    try:
        data = scipy.io.loadmat(str(path), variable_names=["X"])
    except NotImplementedError as err:  # MATLAB v7.3 (HDF5), e.g. digitStruct.mat
        raise DatasetError(f"SVHN file {path} is a MATLAB v7.3 (HDF5) file; expected the "
                           f"cropped-digits format (v5 .mat with X and y)") from err
    except Exception as err:
        raise DatasetError(f"SVHN file {path} cannot be read as a MATLAB file: {err}") from err
    if "X" not in data:
        raise DatasetError(f"SVHN file {path} holds no variable 'X' (expected X: uint8 "
                           f"(32, 32, 3, N) and y: (N, 1))")
    images = data["X"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[2] != 3:
        raise DatasetError(f"SVHN file {path}: expected X as uint8 (32, 32, 3, N), got "
                           f"{images.dtype} {images.shape}")
    if images.shape[3] == 0:
        raise DatasetError(f"SVHN file {path} holds no images (X has shape {images.shape})")
    return images


class SVHNDigits(Dataset):
    """The digits of one SVHN cropped-digits split (module docstring).

    ``root``: the folder holding ``train_32x32.mat`` etc.; ``split``: ``"train"``, ``"test"`` or
    ``"extra"``. ``dataset[i]`` is ``{"image": (3, S, S) float32 in [0, 1]}``.
    """

    def __init__(self, root: str | Path, image_size: int, split: str = "train",
                 crop: Sequence[float] | None = None) -> None:
        self.root = Path(root).expanduser()
        self.image_size = int(image_size)
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        if split not in SPLIT_FILES:
            raise DatasetError(f"SVHN split {split!r} is unknown; expected one of "
                               f"{', '.join(SPLIT_FILES)}")
        self.split = split
        self.crop = check_crop(crop)
        self.path = self.root / SPLIT_FILES[split]
        if not self.path.is_file():
            hint = ""
            if (self.root / split / "digitStruct.mat").is_file():
                hint = (f"; {self.root / split / 'digitStruct.mat'} is the full-numbers format, "
                        f"which is not supported")
            raise DatasetError(f"SVHN {split} file {self.path} is missing (the "
                               f"'{SPLIT_FILES[split]}' file of the SVHN cropped-digits "
                               f"download){hint}")
        self.images = load_svhn_images(self.path)
        self.skipped: list[str] = []

    def __len__(self) -> int:
        return int(self.images.shape[3])

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        digit = np.ascontiguousarray(self.images[:, :, :, index])
        return {"image": uint8_to_tensor(resize_image(Image.fromarray(digit, "RGB"),
                                                      self.image_size, self.crop))}

    def __repr__(self) -> str:
        return (f"SVHNDigits(path={str(self.path)!r}, images={len(self)}, "
                f"image_size={self.image_size})")


@register_dataset("svhn")
def _factory(cfg: DataConfig, image_size: int) -> Dataset:
    """``data.kind=svhn``: :class:`SVHNDigits` from ``cfg.root`` / ``cfg.split`` / ``cfg.crop``
    (no options)."""
    check_options(cfg.options, (), "svhn", in_data_options=True)
    return SVHNDigits(cfg.root, image_size, split=cfg.split, crop=cfg.crop or None)
