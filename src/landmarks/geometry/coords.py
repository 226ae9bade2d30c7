"""Coordinate conversions under the package's one convention (see :mod:`landmarks`).

Keypoints are ``(x, y)``, x to the right and y down, normalised to ``[-1, 1]`` with
``align_corners=False`` semantics: the centre of pixel ``i`` of an axis of ``n`` pixels is at
``-1 + (2 i + 1) / n`` and ``±1`` are the outer edges of the border pixels. Pixel coordinates
(``x_pixel = (x + 1) * W / 2 - 0.5``, so pixel ``i``'s centre is at ``i``) appear only at the
edges of the library: file I/O, metrics and drawing.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "coordinate_grid",
    "normalized_to_pixels",
    "pixel_centers",
    "pixels_to_normalized",
]


def pixel_centers(
    n: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Normalised coordinates of the centres of the ``n`` pixels of one axis.

    Returns:
        ``(n,)``: ``-1 + (2 i + 1) / n`` for ``i = 0 .. n-1``.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    i = torch.arange(n, device=device, dtype=dtype)
    return (2.0 * i + 1.0) / n - 1.0


def _size_tensor(size_hw: tuple[int, int], like: Tensor) -> Tensor:
    """``(2,)`` tensor ``(W, H)`` matching the ``(x, y)`` layout of ``like``."""
    h, w = size_hw
    return torch.tensor([w, h], device=like.device, dtype=like.dtype)


def normalized_to_pixels(points: Tensor, size_hw: tuple[int, int]) -> Tensor:
    """Normalised ``(x, y)`` → pixel ``(x, y)``: ``x_px = (x + 1) W / 2 - 0.5`` (same for y, H).

    Args:
        points: ``(..., 2)`` floating tensor of ``(x, y)`` in normalised units.
        size_hw: ``(H, W)`` of the image the points refer to.

    Returns:
        ``(..., 2)`` pixel coordinates; pixel ``i``'s centre is at ``i``.
    """
    if not torch.is_tensor(points):
        raise TypeError(f"points must be a torch.Tensor, got {type(points).__name__}")
    size = _size_tensor(size_hw, points)
    return (points + 1.0) * size / 2.0 - 0.5


def pixels_to_normalized(points: Tensor, size_hw: tuple[int, int]) -> Tensor:
    """Pixel ``(x, y)`` → normalised ``(x, y)``; the inverse of :func:`normalized_to_pixels`.

    Args:
        points: ``(..., 2)`` floating tensor of pixel ``(x, y)``.
        size_hw: ``(H, W)`` of the image the points refer to.

    Returns:
        ``(..., 2)`` normalised coordinates: ``x = (2 x_px + 1) / W - 1``.
    """
    if not torch.is_tensor(points):
        raise TypeError(f"points must be a torch.Tensor, got {type(points).__name__}")
    size = _size_tensor(size_hw, points)
    return (2.0 * points + 1.0) / size - 1.0


def coordinate_grid(
    h: int, w: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Normalised ``(x, y)`` of every pixel centre of an ``h × w`` image.

    The result is an identity sampling grid for ``grid_sample(..., align_corners=False)``.

    Returns:
        ``(h, w, 2)``: ``grid[i, j] = (pixel_centers(w)[j], pixel_centers(h)[i])``.
    """
    xs = pixel_centers(w, device=device, dtype=dtype)
    ys = pixel_centers(h, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), dim=-1)
