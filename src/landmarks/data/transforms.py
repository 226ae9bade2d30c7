"""Image geometry shared by every reader (and by inference, to map keypoints back).

The one geometry, for still images and video frames alike:

1. optional ``crop = [x0, y0, x1, y1]``, fractions of the width / height, selects a box
   ``(x0 * W, y0 * H) .. (x1 * W, y1 * H)`` in continuous pixel-edge coordinates (the image spans
   ``[0, W] x [0, H]``; the centre of pixel ``i`` is at ``i + 0.5``);
2. the largest square centred in that box is kept (side ``min(box width, box height)``);
3. the square is resized to ``size x size`` with antialiasing (PIL's bilinear filter, whose
   support widens with the downscaling factor) directly from the float box, so no rounding of the
   box to whole pixels happens anywhere.

:func:`square_crop_box` returns that square as ``(x0, y0, side_w, side_h)`` in input pixels.
A normalised keypoint ``(x, y)`` in ``[-1, 1]`` (align_corners=False, see :mod:`landmarks`) of
the ``size x size`` network input lies at the input-image pixel coordinate (pixel-centre
convention, ``0`` = centre of the first pixel)::

    x_px = x0 + (x + 1) / 2 * side_w - 0.5
    y_px = y0 + (y + 1) / 2 * side_h - 0.5

which :func:`to_input_pixels` computes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from landmarks.geometry.coords import normalized_to_pixels


class DatasetError(ValueError):
    """A dataset root or file is missing or unusable; the message names it and what was expected."""


#: Still-image file extensions that the readers pick up (lower case, with the dot).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff",
                                     ".ppm", ".pgm")
#: Video file extensions that the readers pick up (lower case, with the dot).
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")

_RESAMPLE = Image.Resampling.BILINEAR


def is_image_file(path: Path) -> bool:
    """Whether ``path`` has one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS


def is_video_file(path: Path) -> bool:
    """Whether ``path`` has one of :data:`VIDEO_EXTENSIONS` (case-insensitive)."""
    return path.suffix.lower() in VIDEO_EXTENSIONS


def check_crop(crop: Sequence[float] | None) -> tuple[float, float, float, float] | None:
    """Validate a crop box ``[x0, y0, x1, y1]`` (fractions); ``None`` or empty means no crop."""
    if crop is None or len(crop) == 0:
        return None
    if len(crop) != 4:
        raise ValueError(f"crop: expected [x0, y0, x1, y1] as fractions of width/height, "
                         f"got {list(crop)}")
    x0, y0, x1, y1 = (float(c) for c in crop)
    if not all(math.isfinite(c) for c in (x0, y0, x1, y1)) or not (
        0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
    ):
        raise ValueError(f"crop: expected 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, "
                         f"got {list(crop)}")
    return x0, y0, x1, y1


def square_crop_box(width: int, height: int,
                    crop: Sequence[float] | None = None) -> tuple[float, float, float, float]:
    """The square region of a ``width x height`` image that becomes the network input.

    Applies the optional fractional ``crop`` box, then takes the centred square inside it.
    Returns ``(x0, y0, side_w, side_h)`` in input pixels, pixel-edge coordinates (the image spans
    ``[0, width] x [0, height]``); the region is ``[x0, x0 + side_w] x [y0, y0 + side_h]`` and
    ``side_w == side_h`` (both are returned so callers can map x and y the same way).
    """
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    box = check_crop(crop)
    bx0, by0, bx1, by1 = (0.0, 0.0, float(width), float(height)) if box is None else (
        box[0] * width, box[1] * height, box[2] * width, box[3] * height)
    bw, bh = bx1 - bx0, by1 - by0
    side = min(bw, bh)
    return bx0 + (bw - side) / 2.0, by0 + (bh - side) / 2.0, side, side


def to_input_pixels(keypoints: Tensor | np.ndarray, width: int, height: int,
                    crop: Sequence[float] | None = None) -> Tensor | np.ndarray:
    """Map normalised keypoints of the network input back to input-image pixel coordinates.

    ``keypoints``: ``(..., 2)`` as ``(x, y)`` in ``[-1, 1]``; returns ``(..., 2)`` pixel
    coordinates in the original ``width x height`` image (pixel-centre convention: ``0`` is the
    centre of the first pixel), undoing :func:`square_crop_box`.
    """
    x0, y0, sw, sh = square_crop_box(width, height, crop)
    offset = (keypoints.new_tensor([x0, y0]) if torch.is_tensor(keypoints)
              else np.array([x0, y0]))
    return offset + normalized_to_pixels(keypoints, (sh, sw))


def to_crop_pixels(points: np.ndarray, box: tuple[float, float, float], size: int) -> np.ndarray:
    """Map ``(..., 2)`` 0-based frame pixels into the ``size × size`` crop of the square
    ``box = (x0, y0, side)`` (pixel-edge coordinates; same convention: pixel centres at
    integers). For readers that crop a square around the person (BBC-Pose, Human3.6M official
    release)."""
    x0, y0, side = box
    return (np.asarray(points, np.float64) + 0.5 - np.array([x0, y0])) * (size / side) - 0.5


def _resize_pil(img: Image.Image, size: int, crop: Sequence[float] | None) -> np.ndarray:
    """Crop + resize a PIL image; returns ``(size, size, 3)`` uint8."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if img.mode != "RGB":
        img = img.convert("RGB")
    x0, y0, sw, sh = square_crop_box(img.width, img.height, crop)
    out = img.resize((size, size), _RESAMPLE, box=(x0, y0, x0 + sw, y0 + sh))
    return np.array(out, dtype=np.uint8)  # a writable copy (torch.from_numpy needs one)


def resize_frame(frame: np.ndarray, size: int, crop: Sequence[float] | None = None) -> np.ndarray:
    """Crop + resize one ``(H, W, 3)`` uint8 RGB frame to ``(size, size, 3)`` uint8."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame: expected an (H, W, 3) uint8 array, got {frame.shape} "
                         f"{frame.dtype}")
    return _resize_pil(Image.fromarray(np.ascontiguousarray(frame), "RGB"), size, crop)


def resize_image(img: Image.Image, size: int, crop: Sequence[float] | None = None) -> np.ndarray:
    """Crop + resize a PIL image (any mode; converted to RGB) to ``(size, size, 3)`` uint8."""
    return _resize_pil(img, size, crop)


def uint8_to_tensor(array: np.ndarray) -> Tensor:
    """``(H, W, 3)`` (or ``(N, H, W, 3)``) uint8 → ``(3, H, W)`` (``(N, 3, H, W)``) float32
    in ``[0, 1]``."""
    t = torch.from_numpy(np.ascontiguousarray(array))
    return t.movedim(-1, -3).to(torch.float32).div_(255.0)


def read_image_uint8(path: str | Path, size: int,
                     crop: Sequence[float] | None = None) -> np.ndarray:
    """Decode an image file and return it cropped/resized as ``(size, size, 3)`` uint8.

    Raises :class:`OSError` (or a PIL error) when the file cannot be decoded.
    """
    with Image.open(path) as img:
        img.load()
        return _resize_pil(img, size, crop)


def load_image(path: str | Path, size: int, crop: Sequence[float] | None = None) -> Tensor:
    """Load an image file as the network sees it.

    Converted to RGB, optionally cropped to ``crop = [x0, y0, x1, y1]`` (fractions of width /
    height), centre-cropped to a square and resized with antialiasing (module docstring).
    Returns ``(3, size, size)`` float32 in ``[0, 1]``.
    """
    return uint8_to_tensor(read_image_uint8(path, size, crop))


def frame_to_tensor(frame: np.ndarray, size: int, crop: Sequence[float] | None = None) -> Tensor:
    """A video frame ``(H, W, 3)`` uint8 RGB → ``(3, size, size)`` float32 in ``[0, 1]``, with the
    same geometry as :func:`load_image`."""
    return uint8_to_tensor(resize_frame(frame, size, crop))
