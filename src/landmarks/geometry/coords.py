"""Coordinate conversions under the package's one convention (see :mod:`landmarks`).

Keypoints are ``(x, y)``, x to the right and y down, normalised to ``[-1, 1]`` with
``align_corners=False`` semantics: the centre of pixel ``i`` of an axis of ``n`` pixels is at
``-1 + (2 i + 1) / n`` and ``±1`` are the outer edges of the border pixels. Pixel coordinates
(``x_pixel = (x + 1) * W / 2 - 0.5``, so pixel ``i``'s centre is at ``i``) appear only at the
edges of the library: file I/O, metrics and drawing.
"""

from __future__ import annotations

import numpy as np
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


def _size_like(size_hw: tuple[float, float], like: Tensor | np.ndarray) -> Tensor | np.ndarray:
    """``(2,)`` ``(W, H)`` matching the ``(x, y)`` layout, type, dtype and device of ``like``."""
    h, w = size_hw
    if torch.is_tensor(like):
        return torch.tensor([w, h], device=like.device, dtype=like.dtype)
    if isinstance(like, np.ndarray):
        return np.array([w, h], dtype=like.dtype if like.dtype.kind == "f" else np.float64)
    raise TypeError(f"points must be a torch.Tensor or numpy array, got {type(like).__name__}")


def normalized_to_pixels(points: Tensor | np.ndarray,
                         size_hw: tuple[float, float]) -> Tensor | np.ndarray:
    """Normalised ``(x, y)`` → pixel ``(x, y)``: ``x_px = (x + 1) W / 2 - 0.5`` (same for y, H).

    The one implementation of the library's pixel mapping; tensors and NumPy arrays alike.

    Args:
        points: ``(..., 2)`` floating tensor or array of ``(x, y)`` in normalised units.
        size_hw: ``(H, W)`` of the image (or square region) the points refer to.

    Returns:
        ``(..., 2)`` pixel coordinates; pixel ``i``'s centre is at ``i``.
    """
    size = _size_like(size_hw, points)
    return (points + 1.0) * size / 2.0 - 0.5


def pixels_to_normalized(points: Tensor | np.ndarray,
                         size_hw: tuple[float, float]) -> Tensor | np.ndarray:
    """Pixel ``(x, y)`` → normalised ``(x, y)``; the inverse of :func:`normalized_to_pixels`.

    Args:
        points: ``(..., 2)`` floating tensor of pixel ``(x, y)``.
        size_hw: ``(H, W)`` of the image the points refer to.

    Returns:
        ``(..., 2)`` normalised coordinates: ``x = (2 x_px + 1) / W - 1``.
    """
    size = _size_like(size_hw, points)
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


def inverse_2x2(matrices: Tensor) -> Tensor:
    """The inverse of each 2×2 matrix, in closed form (the adjugate over the determinant).

    Equal to ``torch.linalg.inv`` up to rounding, but made of elementwise ops only, so that it
    exports to ONNX (which has no matrix inverse; ``landmarks export``).

    Args:
        matrices: ``(..., 2, 2)``, invertible.

    Returns:
        ``(..., 2, 2)``; e.g. ``[[2, 0], [0, 4]] → [[0.5, 0], [0, 0.25]]``.
    """
    a, b = matrices[..., 0, 0], matrices[..., 0, 1]
    c, d = matrices[..., 1, 0], matrices[..., 1, 1]
    det = a * d - b * c
    adjugate = torch.stack((torch.stack((d, -b), dim=-1), torch.stack((-c, a), dim=-1)), dim=-2)
    return adjugate / det[..., None, None]
