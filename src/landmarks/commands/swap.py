"""Style/geometry swaps: render the geometry of one image with the appearance of another.

Through the method contract (:class:`landmarks.models.LandmarkModel`): a model that can render
(:func:`landmarks.models.can_render`) draws an image from the *appearance* of a source image and
given *landmarks*. Rendering a "style" image with the landmarks detected on a different
"geometry" image therefore draws the geometry image's shape in the style image's appearance
(Jakab et al. 2018, the disentangling figures).

:func:`swap_grid` lays the results out as a table::

                  style 1   style 2   …      ← first row: the style images (keypoints drawn)
    geometry 1    r(1, 1)   r(1, 2)   …
    geometry 2    r(2, 1)   r(2, 2)   …
    ↑ first column: the geometry images (keypoints drawn)

where ``r(g, a) = model.render(style[a], model.detect(geometry[g])["keypoints"])
["reconstruction"]``: each row should keep its geometry image's shape, each column its style
image's appearance.

``landmarks swap CHECKPOINT --style IMG... --geometry IMG... --out grid.png`` →
:func:`swap_from_files`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor, nn

from landmarks.data import IMAGE_EXTENSIONS, load_image
from landmarks.inference import Detector, InputError, expand_inputs
from landmarks.models import RendererError, require_render
from landmarks.visualize import (
    draw_keypoints,
    keypoint_colors,
    normalized_to_pixel_np,
    save_image,
    tensor_to_uint8,
)

__all__ = ["RendererError", "swap_from_files", "swap_grid", "swap_reconstructions"]

#: White space between cells; the header row and column are set off by :data:`HEADER_GAP_PX`.
SEPARATOR_PX = 2
HEADER_GAP_PX = 8
_TEXT_RGB = (30, 30, 30)


def _model_and_device(model: Detector | nn.Module) -> tuple[nn.Module, torch.device]:
    if isinstance(model, Detector):
        net, device = model.model, model.device
        name = model.config.model.name
    else:
        if not isinstance(model, nn.Module) or not hasattr(model, "detect"):
            raise TypeError(f"expected a Detector or a landmark model with .detect and .render, "
                            f"got {type(model).__name__}")
        param = next(model.parameters(), None)
        net, device = model, param.device if param is not None else torch.device("cpu")
        name = type(model).__name__
    require_render(net, name, "a style/geometry swap")
    return net, device


def _check_batch(name: str, images: Tensor, size: int | None) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{name} images: expected a (N, 3, S, S) tensor, got {shape}")
    if images.shape[0] == 0:
        raise ValueError(f"{name} images: none given")
    if images.shape[2] != images.shape[3] or (size is not None and images.shape[2] != size):
        want = f"{size}×{size}" if size is not None else "square"
        raise ValueError(f"{name} images: expected {want} images, got "
                         f"{images.shape[2]}×{images.shape[3]}")


@torch.inference_mode()
def swap_reconstructions(model: Detector | nn.Module, style_images: Tensor,
                         geometry_images: Tensor, batch_size: int = 64) -> dict[str, Tensor]:
    """Every geometry image rendered with every style image's appearance.

    Args:
        model: a :class:`~landmarks.inference.Detector` or a landmark model that can render
            (``detect`` and ``render``, e.g. :class:`~landmarks.models.imm.ImmModel`); a bare
            model runs in eval mode and its mode is restored afterwards.
        style_images: ``(A, 3, S, S)`` in ``[0, 1]``, the appearance (the model's source).
        geometry_images: ``(G, 3, S, S)`` in ``[0, 1]``, the geometry (the model's target).
        batch_size: pairs per forward pass.

    Returns:
        ``"reconstruction"`` ``(G, A, 3, S, S)`` (not clamped), ``"style_keypoints"``
        ``(A, K, 2)`` and ``"geometry_keypoints"`` ``(G, K, 2)`` normalised ``(x, y)``; all on
        the CPU, float32.
    """
    net, device = _model_and_device(model)
    size = getattr(net, "image_size", None)
    _check_batch("style", style_images, size)
    _check_batch("geometry", geometry_images, style_images.shape[2])
    was_training = net.training
    net.eval()
    try:
        style = style_images.to(device, torch.float32)
        geometry = geometry_images.to(device, torch.float32)
        a, g = style.shape[0], geometry.shape[0]
        style_kp = net.detect(style)["keypoints"].float().cpu()
        geometry_kp = net.detect(geometry)["keypoints"].float().cpu()
        src = style[None].expand(g, -1, -1, -1, -1).reshape(g * a, *style.shape[1:])
        tgt = geometry[:, None].expand(-1, a, -1, -1, -1).reshape(g * a, *geometry.shape[1:])
        chunks = []
        for i in range(0, g * a, max(1, batch_size)):
            kp = net.detect(tgt[i:i + batch_size])["keypoints"]
            chunks.append(net.render(src[i:i + batch_size], kp)["reconstruction"].float().cpu())
    finally:
        net.train(was_training)
    rec = torch.cat(chunks).reshape(g, a, *style.shape[1:])
    return {"reconstruction": rec, "style_keypoints": style_kp, "geometry_keypoints": geometry_kp}


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _cell(image: Tensor, cell: int) -> Tensor:
    """``(3, S, S)`` → ``(3, cell, cell)`` float32 (bilinear when the size changes)."""
    x = image.detach().to("cpu", torch.float32)
    if x.shape[-1] == cell:
        return x
    return F.interpolate(x[None], size=(cell, cell), mode="bilinear", align_corners=False)[0]


def swap_grid(model: Detector | nn.Module, style_images: Tensor, geometry_images: Tensor, *,
              upscale_to: int = 96, show_keypoints: bool = True) -> np.ndarray:
    """The swap table (module docstring) as one picture.

    Row 0 holds the style images, column 0 the geometry images (both with their detected
    keypoints drawn unless ``show_keypoints`` is false, keypoint ``k`` in
    :func:`~landmarks.visualize.keypoint_colors` colour ``k``); cell ``(1 + g, 1 + a)`` holds
    geometry image ``g`` rendered with style image ``a``'s appearance (clamped to ``[0, 1]``).
    The top-left cell is labelled. Images smaller than ``upscale_to`` pixels are upscaled
    (bilinear) so that small digits stay visible; the header row and column are set off from the
    reconstructions by a wider white gap.

    Args:
        model: a :class:`~landmarks.inference.Detector` or a landmark model.
        style_images: ``(A, 3, S, S)`` in ``[0, 1]``.
        geometry_images: ``(G, 3, S, S)`` in ``[0, 1]``.
        upscale_to: minimum cell side in pixels.
        show_keypoints: draw the keypoints on the style and geometry images.

    Returns:
        ``(H, W, 3)`` uint8 with ``H = (G + 1) · cell + 2 G + 10`` and
        ``W = (A + 1) · cell + 2 A + 10`` where ``cell = max(S, upscale_to)`` (2-pixel
        separators and border, an 8-pixel gap after the header row/column).
    """
    out = swap_reconstructions(model, style_images, geometry_images)
    rec = out["reconstruction"]
    g, a, _, s, _ = rec.shape
    cell = max(int(s), int(upscale_to))
    k = out["style_keypoints"].shape[1]
    colors = keypoint_colors(k)
    radius = max(2.0, cell / 32.0)

    def header(image: Tensor, kp: Tensor) -> np.ndarray:
        arr = tensor_to_uint8(_cell(image, cell))
        if show_keypoints:
            arr = draw_keypoints(arr, normalized_to_pixel_np(kp, cell, cell), colors, radius)
        return arr

    def origin(row: int, col: int) -> tuple[int, int]:
        top = SEPARATOR_PX + row * (cell + SEPARATOR_PX) + (HEADER_GAP_PX - SEPARATOR_PX
                                                            if row > 0 else 0)
        left = SEPARATOR_PX + col * (cell + SEPARATOR_PX) + (HEADER_GAP_PX - SEPARATOR_PX
                                                             if col > 0 else 0)
        return top, left

    height = origin(g, 0)[0] + cell + SEPARATOR_PX
    width = origin(0, a)[1] + cell + SEPARATOR_PX
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)

    def put(row: int, col: int, arr: np.ndarray) -> None:
        top, left = origin(row, col)
        canvas[top:top + cell, left:left + cell] = arr

    for j in range(a):
        put(0, 1 + j, header(style_images[j], out["style_keypoints"][j]))
    for i in range(g):
        put(1 + i, 0, header(geometry_images[i], out["geometry_keypoints"][i]))
        for j in range(a):
            put(1 + i, 1 + j, tensor_to_uint8(_cell(rec[i, j], cell)))

    pil = Image.fromarray(canvas)
    draw = ImageDraw.Draw(pil)
    font = _font(max(10, min(18, cell // 6)))
    top, left = origin(0, 0)  # a table corner: "style" names the row, "geometry" the column
    draw.line((left, top, left + cell - 1, top + cell - 1), fill=(160, 160, 160), width=1)
    draw.text((left + cell - 4, top + 4), "style", fill=_TEXT_RGB, font=font, anchor="ra")
    draw.text((left + 4, top + cell - 4), "geometry", fill=_TEXT_RGB, font=font, anchor="ld")
    return np.asarray(pil).copy()


def _image_files(items: Sequence[str | Path], role: str) -> list[Path]:
    if not items:
        raise InputError(f"no {role} images given")
    paths = expand_inputs(items)
    for p in paths:
        if p.suffix.lower() not in IMAGE_EXTENSIONS:
            raise InputError(f"{role} input {p} is not an image (videos are not supported here); "
                             f"expected one of {', '.join(IMAGE_EXTENSIONS)}")
    return paths


def _load(paths: Sequence[Path], role: str, size: int, crop: Sequence[float] | None) -> Tensor:
    images = []
    for p in paths:
        try:
            images.append(load_image(p, size, crop))
        except Exception as err:  # PIL raises several types for corrupt files
            raise InputError(f"{role} image {p} cannot be read: {err}") from err
    return torch.stack(images)


def swap_from_files(checkpoint: str | Path, style_paths: Sequence[str | Path],
                    geometry_paths: Sequence[str | Path], out: str | Path, force: bool = False,
                    device: str = "auto", upscale_to: int = 96) -> Path:
    """Load a checkpoint and image files, and write :func:`swap_grid` to ``out``.

    Images (files, or folders searched recursively for images) are loaded with
    :func:`~landmarks.data.load_image` at the checkpoint's ``model.image_size`` with its
    ``data.crop``, as in training.

    Raises:
        FileExistsError: ``out`` exists and ``force`` is false (checked first).
        InputError: a style/geometry path is missing, not an image, or unreadable (named).
        landmarks.engine.checkpoint.CheckpointError: the checkpoint is missing or unreadable.

    Returns:
        ``out`` (written atomically; the format follows its suffix, e.g. ``.png``).
    """
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; pass --force to overwrite it")
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"):
        raise ValueError(f"--out {out}: give an image file name (.png or .jpg)")
    style_files = _image_files(style_paths, "style")
    geometry_files = _image_files(geometry_paths, "geometry")
    detector = Detector.from_checkpoint(checkpoint, device=device)
    crop = detector.config.data.crop or None
    style = _load(style_files, "style", detector.image_size, crop)
    geometry = _load(geometry_files, "geometry", detector.image_size, crop)
    grid = swap_grid(detector, style, geometry, upscale_to=upscale_to)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=out.suffix)
    os.close(fd)
    try:
        save_image(grid, tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
