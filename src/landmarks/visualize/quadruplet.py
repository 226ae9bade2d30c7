"""The paper's quadruplet figure: source | target | reconstruction | keypoints | heatmaps.

One row per example, a header row with the column titles, thin white separators between cells.
Small images (e.g. 32 px) are upscaled bilinearly so the figure is readable; keypoints are drawn
at the upscaled resolution, which keeps them exactly where the normalised coordinates say
(``align_corners=False``: a resize by any factor maps normalised coordinates to themselves).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from landmarks.geometry.coords import normalized_to_pixels
from landmarks.visualize.colors import keypoint_colors
from landmarks.visualize.overlay import _font, draw_keypoints, save_image, tensor_to_uint8

__all__ = [
    "SEPARATOR_PX",
    "QuadrupletLayout",
    "colorize_heatmaps",
    "normalized_to_pixel_np",
    "quadruplet_grid",
    "quadruplet_layout",
    "save_quadruplets",
]

SEPARATOR_PX = 2
"""Width of the white lines between cells (and around the figure)."""

_BACKGROUND = 255
_TITLE_RGB = (30, 30, 30)
_TITLES = ("source", "target", "reconstruction", "keypoints", "heatmaps")


def normalized_to_pixel_np(keypoints: np.ndarray | torch.Tensor, h: int, w: int) -> np.ndarray:
    """Normalised ``(x, y)`` in ``[-1, 1]`` (``align_corners=False``) → pixel ``(x, y)``.

    ``x_px = (x + 1) * w / 2 - 0.5``, ``y_px = (y + 1) * h / 2 - 0.5``; so ``(0, 0)`` is the image
    centre ``((w - 1) / 2, (h - 1) / 2)`` and ``(-1 + 1/w, -1 + 1/h)`` is the centre of pixel
    ``(0, 0)``.

    Args:
        keypoints: ``(..., 2)`` normalised ``(x, y)``.
        h: image height in pixels.
        w: image width in pixels.

    Returns:
        ``(..., 2)`` float64 pixel ``(x, y)``.
    """
    if isinstance(keypoints, torch.Tensor):
        keypoints = keypoints.detach().cpu().double().numpy()
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape[-1] != 2:
        raise ValueError(f"expected keypoints of shape (..., 2), got {kp.shape}")
    return normalized_to_pixels(kp, (h, w))


@dataclass(frozen=True)
class QuadrupletLayout:
    """Where each cell of a quadruplet grid lies (all sizes in pixels)."""

    rows: int
    cols: int
    cell_h: int
    cell_w: int
    header_h: int
    sep: int = SEPARATOR_PX

    @property
    def height(self) -> int:
        """Total figure height."""
        return self.header_h + self.rows * (self.cell_h + self.sep) + self.sep

    @property
    def width(self) -> int:
        """Total figure width."""
        return self.cols * (self.cell_w + self.sep) + self.sep

    def cell_origin(self, row: int, col: int) -> tuple[int, int]:
        """``(top, left)`` pixel of cell ``(row, col)``."""
        top = self.header_h + self.sep + row * (self.cell_h + self.sep)
        left = self.sep + col * (self.cell_w + self.sep)
        return top, left


def _cell_size(h: int, w: int, upscale_to: int) -> tuple[int, int]:
    """Cell size: the longer side is raised to ``upscale_to`` if shorter; never shrinks."""
    longest = max(h, w)
    if upscale_to <= longest:
        return h, w
    s = upscale_to / longest
    return max(1, round(h * s)), max(1, round(w * s))


def _header_font_size(cell_w: int) -> int:
    return max(10, min(24, cell_w // 9))


def quadruplet_layout(
    h: int, w: int, rows: int, with_heatmaps: bool, upscale_to: int = 128
) -> QuadrupletLayout:
    """Layout of :func:`quadruplet_grid` for ``rows`` examples of ``h × w`` images."""
    cell_h, cell_w = _cell_size(h, w, upscale_to)
    size = _header_font_size(cell_w)
    header_h = size + 2 * max(3, size // 3)
    return QuadrupletLayout(
        rows=rows, cols=5 if with_heatmaps else 4, cell_h=cell_h, cell_w=cell_w, header_h=header_h
    )


def colorize_heatmaps(
    heatmaps: torch.Tensor, size_hw: tuple[int, int], colors: np.ndarray | None = None
) -> np.ndarray:
    """One picture of K heatmaps: each keypoint's colour weighted by its map, summed.

    Each map is clamped at 0 and divided by its own maximum (so every keypoint shows, whether the
    maps are probabilities or Gaussians), resized bilinearly to ``size_hw``, and the colours are
    blended as ``sum_k m_k c_k / max(1, sum_k m_k)`` (a plain sum where maps do not overlap, no
    saturation to white where they do). The background is black.

    Args:
        heatmaps: ``(K, h, w)`` float tensor.
        size_hw: output ``(H, W)``.
        colors: ``(K, 3)`` uint8 colours; default :func:`keypoint_colors`.

    Returns:
        ``(H, W, 3)`` uint8.
    """
    if heatmaps.ndim != 3:
        raise ValueError(f"expected heatmaps of shape (K, h, w), got {tuple(heatmaps.shape)}")
    k = heatmaps.shape[0]
    maps = torch.nan_to_num(heatmaps.detach().to("cpu", torch.float32)).clamp_min(0.0)
    peak = maps.flatten(1).amax(dim=1).clamp_min(1e-12)
    maps = maps / peak[:, None, None]
    maps = F.interpolate(maps[None], size=size_hw, mode="bilinear", align_corners=False)[0]
    maps = maps.clamp(0.0, 1.0)
    cols = keypoint_colors(k) if colors is None else np.asarray(colors, dtype=np.uint8)
    col_t = torch.from_numpy(cols[:k].astype(np.float32) / 255.0)  # (K, 3)
    rgb = torch.einsum("khw,kc->chw", maps, col_t)
    rgb = rgb / maps.sum(dim=0).clamp_min(1.0)[None]
    return tensor_to_uint8(rgb)


def _check_images(name: str, t: torch.Tensor, ref: torch.Size | None) -> None:
    if t.ndim != 4 or t.shape[1] not in (1, 3):
        raise ValueError(f"{name} must be (B, 3, H, W), got {tuple(t.shape)}")
    if ref is not None and (t.shape[0] != ref[0] or t.shape[2:] != ref[2:]):
        raise ValueError(f"{name} has shape {tuple(t.shape)}, expected batch/size of {tuple(ref)}")


def _resize_images(images: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
    """``(N, C, H, W)`` → ``(N, C, *size_hw)`` float32 on CPU (bilinear when upscaling)."""
    x = images.detach().to("cpu", torch.float32)
    if tuple(x.shape[2:]) == tuple(size_hw):
        return x
    return F.interpolate(x, size=size_hw, mode="bilinear", align_corners=False)


def _draw_header(canvas: np.ndarray, layout: QuadrupletLayout, titles: tuple[str, ...]) -> None:
    """Write the column titles, centred over their columns, into ``canvas`` (in place)."""
    pil = Image.fromarray(canvas)
    draw = ImageDraw.Draw(pil)
    size = _header_font_size(layout.cell_w)
    for col, title in enumerate(titles):
        font = _font(size)
        s = size
        while s > 6 and draw.textlength(title, font=font) > layout.cell_w - 2:
            s -= 1
            font = _font(s)
        left = layout.cell_origin(0, col)[1]
        draw.text(
            (left + layout.cell_w / 2.0, (layout.header_h + layout.sep) / 2.0),
            title,
            fill=_TITLE_RGB,
            font=font,
            anchor="mm",
        )
    canvas[...] = np.asarray(pil)


def quadruplet_grid(
    source: torch.Tensor,
    target: torch.Tensor,
    reconstruction: torch.Tensor,
    keypoints: torch.Tensor,
    heatmaps: torch.Tensor | None = None,
    max_rows: int = 8,
    upscale_to: int = 128,
) -> np.ndarray:
    """The quadruplet figure of Jakab et al. 2018, one row per example.

    Columns: source | target | reconstruction (clamped to ``[0, 1]``) | target with the keypoints
    drawn | (if ``heatmaps``) the K heatmaps coloured by keypoint and summed
    (:func:`colorize_heatmaps`). A header row names the columns.

    Args:
        source: ``(B, 3, H, W)`` images in ``[0, 1]``.
        target: ``(B, 3, H, W)`` images in ``[0, 1]``.
        reconstruction: ``(B, 3, H, W)`` generated targets (any range; clamped).
        keypoints: ``(B, K, 2)`` normalised ``(x, y)`` of the target's landmarks.
        heatmaps: optional ``(B, K, h, w)`` maps (any ``h, w``; resized to the cell).
        max_rows: show at most this many examples (the first ones).
        upscale_to: images whose longer side is shorter than this are upscaled (bilinear) so
            that it becomes ``upscale_to``; larger images keep their size.

    Returns:
        ``(H_fig, W_fig, 3)`` uint8, laid out as :func:`quadruplet_layout` says.
    """
    _check_images("source", source, None)
    _check_images("target", target, source.shape)
    _check_images("reconstruction", reconstruction, source.shape)
    b, _, h, w = source.shape
    if keypoints.ndim != 3 or keypoints.shape[0] != b or keypoints.shape[2] != 2:
        raise ValueError(f"keypoints must be ({b}, K, 2), got {tuple(keypoints.shape)}")
    k = keypoints.shape[1]
    if heatmaps is not None and (
        heatmaps.ndim != 4 or heatmaps.shape[0] != b or heatmaps.shape[1] != k
    ):
        raise ValueError(f"heatmaps must be ({b}, {k}, h, w), got {tuple(heatmaps.shape)}")
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    if b == 0:
        raise ValueError("empty batch: nothing to draw")

    n = min(b, max_rows)
    layout = quadruplet_layout(h, w, n, heatmaps is not None, upscale_to)
    size_hw = (layout.cell_h, layout.cell_w)
    canvas = np.full((layout.height, layout.width, 3), _BACKGROUND, dtype=np.uint8)
    _draw_header(canvas, layout, _TITLES[: layout.cols])

    src = _resize_images(source[:n], size_hw)
    tgt = _resize_images(target[:n], size_hw)
    rec = _resize_images(reconstruction[:n], size_hw)
    kp_px = normalized_to_pixel_np(keypoints[:n], layout.cell_h, layout.cell_w)  # (n, K, 2)
    colors = keypoint_colors(k)
    radius = max(2.0, min(size_hw) / 32.0)

    for i in range(n):
        tgt_u8 = tensor_to_uint8(tgt[i])
        cells = [
            tensor_to_uint8(src[i]),
            tgt_u8,
            tensor_to_uint8(rec[i]),
            draw_keypoints(tgt_u8, kp_px[i], colors=colors, radius=radius),
        ]
        if heatmaps is not None:
            cells.append(colorize_heatmaps(heatmaps[i], size_hw, colors))
        for col, cell in enumerate(cells):
            top, left = layout.cell_origin(i, col)
            canvas[top : top + layout.cell_h, left : left + layout.cell_w] = cell
    return canvas


def save_quadruplets(
    path: str | Path,
    source: torch.Tensor,
    target: torch.Tensor,
    reconstruction: torch.Tensor,
    keypoints: torch.Tensor,
    heatmaps: torch.Tensor | None = None,
    max_rows: int = 8,
    upscale_to: int = 128,
) -> Path:
    """:func:`quadruplet_grid` written to ``path`` (PNG/JPEG by suffix). Returns the path."""
    grid = quadruplet_grid(
        source,
        target,
        reconstruction,
        keypoints,
        heatmaps=heatmaps,
        max_rows=max_rows,
        upscale_to=upscale_to,
    )
    return save_image(grid, path)
