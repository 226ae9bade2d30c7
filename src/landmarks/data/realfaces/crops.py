"""RealFaces crop geometry (pure NumPy and PIL; no dlib needed): MAFL's five points from the 68,
the loose square crop around a face box, the temporal smoothing of a face track, and the
mapping of points into and out of the crops. See :mod:`landmarks.data.realfaces`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from landmarks.data.realfaces.definition import (
    CROP_SIZE,
    LOOSE_SCALE,
    LOOSE_SHIFT,
    MAX_GAP,
    SMOOTH_RADIUS,
)

__all__ = [
    "crop_square",
    "fit_inside",
    "from_crop_coords",
    "loose_square",
    "mafl5_from_68",
    "points_at_size",
    "smooth_boxes",
    "to_crop_coords",
]



def mafl5_from_68(points68: np.ndarray) -> np.ndarray:
    """MAFL's five points from the 68 iBUG points (0-based indices).

    ``(..., 68, 2)`` → ``(..., 5, 2)`` in the order of :data:`POINT_NAMES_5`: left-eye centre
    (mean of 36–41), right-eye centre (mean of 42–47), nose tip (30), left mouth corner (48),
    right mouth corner (54); "left" is the image's left.
    """
    pts = np.asarray(points68, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-2:] != (68, 2):
        raise ValueError(f"points68: expected shape (..., 68, 2), got {pts.shape}")
    return np.stack([pts[..., 36:42, :].mean(axis=-2), pts[..., 42:48, :].mean(axis=-2),
                     pts[..., 30, :], pts[..., 48, :], pts[..., 54, :]], axis=-2)


def _check_boxes(boxes: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] != 4:
        raise ValueError(f"{name}: expected [x0, y0, x1, y1] on the last axis, got shape "
                         f"{arr.shape}")
    return arr


def loose_square(box: Sequence[float] | np.ndarray, scale: float = LOOSE_SCALE,
                 shift: float = LOOSE_SHIFT) -> np.ndarray:
    """The loose square around a face box.

    ``box``: ``[x0, y0, x1, y1]`` (or ``(..., 4)``), pixel-edge coordinates. Its side is the
    mean of its width and height; the result is a square of side ``scale × side`` centred at the
    box centre moved down by ``shift × side`` (negative ``shift`` moves it up). Returns float
    ``[x0, y0, x1, y1]`` of the same shape; it may extend beyond the image.
    """
    b = _check_boxes(box, "box")
    side = ((b[..., 2] - b[..., 0]) + (b[..., 3] - b[..., 1])) / 2.0
    cx = (b[..., 0] + b[..., 2]) / 2.0
    cy = (b[..., 1] + b[..., 3]) / 2.0 + shift * side
    half = scale * side / 2.0
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=-1)


def fit_inside(box: Sequence[float] | np.ndarray, width: float, height: float) -> np.ndarray:
    """Shrink a square ``[x0, y0, x1, y1]`` (pixel edges) about its centre so that its side is at
    most ``min(width, height)``; it stays centred on the face (a part outside the image is then
    filled by :func:`crop_square`). Returns the square."""
    b = _check_boxes(box, "box").copy()
    side = np.minimum(b[..., 2] - b[..., 0], min(width, height))
    cx = (b[..., 0] + b[..., 2]) / 2.0
    cy = (b[..., 1] + b[..., 3]) / 2.0
    return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], axis=-1)


def _to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2,
                     boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)


def _from_cxcywh(c: np.ndarray) -> np.ndarray:
    return np.stack([c[:, 0] - c[:, 2] / 2, c[:, 1] - c[:, 3] / 2,
                     c[:, 0] + c[:, 2] / 2, c[:, 1] + c[:, 3] / 2], axis=1)


def _fill_short_gaps(values: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate runs of NaN rows of length ``<= max_gap`` between their neighbours
    (runs at the start or end are held at the nearest value); longer runs stay NaN."""
    out = values.copy()
    missing = np.isnan(out).any(axis=1)
    t_len = len(out)
    t = 0
    while t < t_len:
        if not missing[t]:
            t += 1
            continue
        start = t
        while t < t_len and missing[t]:
            t += 1
        end = t  # exclusive
        if end - start > max_gap or (start == 0 and end == t_len):
            continue
        if start == 0:
            out[start:end] = out[end]
        elif end == t_len:
            out[start:end] = out[start - 1]
        else:
            w = (np.arange(start, end) - (start - 1)) / (end - (start - 1))
            out[start:end] = (1 - w)[:, None] * out[start - 1] + w[:, None] * out[end]
    return out


def _moving(values: np.ndarray, radius: int, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    """Apply ``reduce`` (median / mean over axis 0) to a window of ±r rows, ignoring NaN rows;
    rows that are NaN stay NaN. Near the ends of the track the window shrinks symmetrically
    (``r = min(radius, t, T - 1 - t)``) so that steady motion is not pulled towards the
    middle."""
    out = np.full_like(values, np.nan)
    valid = ~np.isnan(values).any(axis=1)
    t_len = len(values)
    for t in np.flatnonzero(valid):
        r = min(radius, int(t), t_len - 1 - int(t))
        lo, hi = t - r, t + r + 1
        window = values[lo:hi][valid[lo:hi]]
        out[t] = reduce(window, axis=0)
    return out


def smooth_boxes(boxes: np.ndarray, radius: int = SMOOTH_RADIUS,
                 max_gap: int = MAX_GAP) -> np.ndarray:
    """Smooth a face track over time.

    ``boxes``: ``(T, 4)`` ``[x0, y0, x1, y1]`` per frame, a NaN row where there was no
    detection. Works on the box centre, width and height: gaps of at most ``max_gap`` frames are
    first filled by linear interpolation (held at the nearest value at the start and end), then
    a moving median over ±``radius`` frames removes single wrong detections and a moving mean
    over ±``radius`` frames removes the remaining jitter (including the steps of the detector's
    discrete scales). Near the ends of the track the windows shrink symmetrically, so steady
    motion is followed without lag (the first and last frames keep their own box). Returns
    ``(T, 4)``; rows in longer gaps stay NaN. ``radius=0`` only fills the gaps.
    """
    arr = _check_boxes(boxes, "boxes")
    if arr.ndim != 2:
        raise ValueError(f"boxes: expected shape (T, 4), got {arr.shape}")
    if radius < 0 or max_gap < 0:
        raise ValueError(f"radius and max_gap must be >= 0, got {radius}, {max_gap}")
    if len(arr) == 0:
        return arr.copy()
    c = _fill_short_gaps(_to_cxcywh(arr), max_gap)
    if radius > 0:
        c = _moving(_moving(c, radius, np.median), radius, np.mean)
    return _from_cxcywh(c)


def to_crop_coords(points: np.ndarray, crop_box: Sequence[float] | np.ndarray,
                   crop_size: int = CROP_SIZE) -> np.ndarray:
    """Map source-image pixel coordinates into the pixel coordinates of a square crop.

    ``points``: ``(..., 2)`` ``(x, y)``, pixel-centre convention (``0`` = centre of the first
    pixel). ``crop_box``: ``[x0, y0, x1, y1]`` in pixel-edge coordinates (what
    :func:`crop_square` cuts out and resizes to ``crop_size × crop_size``). Returns ``(..., 2)``
    in the crop's pixel-centre coordinates: ``(p + 0.5 - x0) * crop_size / (x1 - x0) - 0.5``.
    """
    pts = np.asarray(points, dtype=np.float64)
    x0, y0, x1, y1 = (float(v) for v in _check_boxes(crop_box, "crop_box"))
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"crop_box: expected x1 > x0 and y1 > y0, got {[x0, y0, x1, y1]}")
    scale = np.array([crop_size / (x1 - x0), crop_size / (y1 - y0)])
    return (pts + 0.5 - np.array([x0, y0])) * scale - 0.5


def from_crop_coords(points: np.ndarray, crop_box: Sequence[float] | np.ndarray,
                     crop_size: int = CROP_SIZE) -> np.ndarray:
    """The inverse of :func:`to_crop_coords`: crop pixel coordinates → source pixel coordinates
    (e.g. ``frame.mafl5`` back into the source frame with the manifest's ``crop_box``)."""
    pts = np.asarray(points, dtype=np.float64)
    x0, y0, x1, y1 = (float(v) for v in _check_boxes(crop_box, "crop_box"))
    scale = np.array([(x1 - x0) / crop_size, (y1 - y0) / crop_size])
    return (pts + 0.5) * scale + np.array([x0, y0]) - 0.5


def points_at_size(points: np.ndarray, size: int, crop_size: int = CROP_SIZE) -> np.ndarray:
    """Crop pixel coordinates at ``crop_size`` → pixel coordinates of the crop resized to
    ``size × size`` (what :func:`load_split_images` returns): ``(p + 0.5) * size / crop_size -
    0.5``, i.e. a scaling by ``size / crop_size`` about the image corner, in the pixel-centre
    convention."""
    pts = np.asarray(points, dtype=np.float64)
    return (pts + 0.5) * (size / crop_size) - 0.5


def crop_square(image: np.ndarray, crop_box: Sequence[float] | np.ndarray,
                crop_size: int = CROP_SIZE) -> np.ndarray:
    """Cut ``crop_box`` (``[x0, y0, x1, y1]``, pixel edges, may leave the image) out of an
    ``(H, W, 3)`` uint8 image and resize it to ``crop_size × crop_size`` (PIL's antialiased
    bilinear filter, straight from the float box). Outside the image, the nearest edge pixel is
    repeated. Returns
    ``(crop_size, crop_size, 3)`` uint8."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected an (H, W, 3) uint8 array, got {image.shape} "
                         f"{image.dtype}")
    x0, y0, x1, y1 = (float(v) for v in _check_boxes(crop_box, "crop_box"))
    h, w = image.shape[:2]
    ix0, iy0 = math.floor(x0), math.floor(y0)
    ix1, iy1 = math.ceil(x1), math.ceil(y1)
    # rows/columns outside the image repeat the nearest edge pixel (no hard black edge that
    # moves against the face)
    rows = np.clip(np.arange(iy0, iy1), 0, h - 1)
    cols = np.clip(np.arange(ix0, ix1), 0, w - 1)
    canvas = np.ascontiguousarray(image[rows][:, cols])
    pil = Image.fromarray(canvas, "RGB")
    out = pil.resize((crop_size, crop_size), Image.Resampling.BILINEAR,
                     box=(x0 - ix0, y0 - iy0, x1 - ix0, y1 - iy0))
    return np.asarray(out, dtype=np.uint8).copy()


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
