"""A folder of still images (searched recursively): one sample per image."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor
from torch.utils.data import Dataset

from landmarks.data.transforms import (
    IMAGE_EXTENSIONS,
    DatasetError,
    check_crop,
    is_image_file,
    load_image,
)


def list_images(root: Path) -> list[Path]:
    """All image files under ``root`` (recursive, hidden files and folders skipped), sorted."""
    found = []
    for p in root.rglob("*"):
        rel = p.relative_to(root).parts
        if any(part.startswith(".") for part in rel):
            continue
        if is_image_file(p) and p.is_file():
            found.append(p)
    return sorted(found)


class ImageFolder(Dataset):
    """Every image under ``root`` (recursively, sorted by path), loaded with
    :func:`~landmarks.data.transforms.load_image`.

    ``dataset[i]`` is ``{"image": (3, S, S) float32 in [0, 1]}``, or ``None`` when the file cannot
    be decoded (a warning names the file once per process; such items are dropped and counted by
    :func:`~landmarks.data.video.collate_skipping`). ``.skipped`` lists the files that failed in
    this process.
    """

    def __init__(self, root: str | Path, image_size: int,
                 crop: Sequence[float] | None = None) -> None:
        self.root = Path(root).expanduser()
        self.image_size = int(image_size)
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.crop = check_crop(crop)
        if not self.root.exists():
            raise DatasetError(f"image folder {self.root} does not exist")
        if not self.root.is_dir():
            raise DatasetError(f"image folder {self.root} is not a folder; expected a folder of "
                               f"images ({', '.join(IMAGE_EXTENSIONS)})")
        self.paths: list[Path] = list_images(self.root)
        if not self.paths:
            raise DatasetError(f"image folder {self.root} holds no images (looked recursively "
                               f"for {', '.join(IMAGE_EXTENSIONS)})")
        self.skipped: list[str] = []

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        path = self.paths[index]
        try:
            image = load_image(path, self.image_size, self.crop)
        except Exception as err:  # PIL raises several types for corrupt/truncated files
            if str(path) not in self.skipped:
                self.skipped.append(str(path))
                warnings.warn(f"skipping unreadable image {path}: {err}", stacklevel=2)
            return None
        return {"image": image}

    def __repr__(self) -> str:
        return (f"ImageFolder(root={str(self.root)!r}, images={len(self.paths)}, "
                f"image_size={self.image_size}, crop={self.crop})")
