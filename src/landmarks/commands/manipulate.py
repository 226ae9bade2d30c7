"""Image manipulation by moving landmarks (Zhang et al. 2018): re-decode an image with some of
its detected landmarks moved.

``landmarks manipulate CKPT IMAGE --move K=DX,DY ... --out FILE.png``: the image is prepared as
in training (optional ``data.crop``, centre square, resize to the model's size), its landmarks
are detected, landmark ``K`` (0-based, the order of ``landmarks detect``'s JSON) is moved by
``(DX, DY)`` pixels *of the input image* (x right, y down), and the model renders the image's
own appearance at the detected and at the moved landmarks. The picture is three panels:
original | reconstruction (detected landmarks) | manipulated (moved landmarks), the points
drawn and numbered on each (the numbers are the K of ``--move``).

Any model with ``render(source, keypoints) -> {"reconstruction", ...}`` can do this (the IMM
model and ``zhang``; :func:`landmarks.models.can_render`); a checkpoint of a model that cannot
render is a :class:`~landmarks.models.RendererError` naming the model and the checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from landmarks.data.transforms import frame_to_tensor, resize_frame, square_crop_box
from landmarks.geometry.coords import normalized_to_pixels
from landmarks.inference import Detector
from landmarks.models import RendererError, require_render
from landmarks.visualize import draw_keypoints, keypoint_colors, save_image, tensor_to_uint8

__all__ = ["ManipulateError", "RendererError", "manipulate", "manipulate_file",
           "move_keypoints", "parse_moves"]


class ManipulateError(ValueError):
    """A bad --move (a model that cannot render is a :class:`RendererError`)."""


def parse_moves(items: Sequence[str], num_keypoints: int | None = None
                ) -> dict[int, tuple[float, float]]:
    """``["3=10,-4", ...]`` → ``{3: (10.0, -4.0), ...}`` (landmark → pixel offset).

    Raises:
        ManipulateError: a malformed item, a landmark named twice, or (with ``num_keypoints``)
            an index outside ``0 .. K-1``; each names the item.
    """
    moves: dict[int, tuple[float, float]] = {}
    for item in items:
        try:
            key, _, offsets = item.partition("=")
            x, y = offsets.split(",")
            if not key.strip().isdigit():
                raise ValueError(key)
            k, dx, dy = int(key), float(x), float(y)
        except ValueError:
            raise ManipulateError(f"--move {item!r}: expected K=DX,DY (landmark index, pixel "
                                  f"offsets), e.g. 3=10,-4") from None
        if not (np.isfinite(dx) and np.isfinite(dy)):
            raise ManipulateError(f"--move {item!r}: offsets must be finite")
        if k in moves:
            raise ManipulateError(f"--move {item!r}: landmark {k} is moved twice")
        if num_keypoints is not None and k >= num_keypoints:
            raise ManipulateError(f"--move {item!r}: landmark {k} does not exist; the model "
                                  f"has K={num_keypoints} landmarks, numbered 0.."
                                  f"{num_keypoints - 1}")
        moves[k] = (dx, dy)
    if not moves:
        raise ManipulateError("no --move given: nothing to manipulate")
    return moves


def move_keypoints(keypoints: Tensor, moves: Mapping[int, tuple[float, float]],
                   side: float) -> Tensor:
    """Normalised keypoints ``(..., K, 2)`` with ``moves`` (landmark → ``(dx, dy)`` in pixels of
    a square of ``side`` pixels that spans [-1, 1]) applied: ``x += 2 dx / side``."""
    out = keypoints.clone()
    for k, (dx, dy) in moves.items():
        out[..., k, 0] += 2.0 * dx / side
        out[..., k, 1] += 2.0 * dy / side
    return out


@torch.inference_mode()
def manipulate(model: torch.nn.Module, image: Tensor, moves: Mapping[int, tuple[float, float]],
               side: float | None = None) -> dict[str, Tensor]:
    """Detect, move, re-render.

    Args:
        model: a landmark model with ``detect`` and ``render`` (eval mode is the caller's).
        image: ``(3, S, S)`` or ``(1, 3, S, S)`` in [0, 1], the network input.
        moves: landmark → ``(dx, dy)`` pixels of a square of ``side`` pixels (default ``S``:
            pixels of the network input).

    Returns:
        ``"keypoints"`` and ``"moved_keypoints"`` ``(K, 2)`` normalised; ``"reconstruction"`` and
        ``"manipulated"`` ``(3, S, S)`` (clamped to [0, 1]); ``"rendered_maps"`` ``(K, h, w)``,
        the maps the moved landmarks were rendered from.

    Raises:
        RendererError: ``model`` cannot render (named by its class).
        ManipulateError: a moved landmark that does not exist.
    """
    require_render(model, type(model).__name__, "manipulate")
    x = image if image.dim() == 4 else image[None]
    det = model.detect(x)
    kp = det["keypoints"].float()
    k = kp.shape[1]
    bad = [i for i in moves if i < 0 or i >= k]
    if bad:
        raise ManipulateError(f"landmark(s) {bad} do not exist; the model has K={k}")
    moved = move_keypoints(kp, moves, float(side or x.shape[-1]))
    both = model.render(torch.cat([x, x]), torch.cat([kp, moved]))
    rec = both["reconstruction"].float().clamp(0, 1)
    return {"keypoints": kp[0], "moved_keypoints": moved[0], "reconstruction": rec[0],
            "manipulated": rec[1], "rendered_maps": both["rendered_maps"][1].float()}


def _panel(image: np.ndarray, keypoints: Tensor, colors: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized to ``size`` with the numbered ``keypoints`` (normalised) drawn."""
    img = np.array(Image.fromarray(image).resize((size, size), Image.BILINEAR))
    px = normalized_to_pixels(keypoints.double().cpu().numpy(), (size, size))
    return draw_keypoints(img, px, colors, labels=True)


def manipulate_file(checkpoint: str | Path, image: str | Path, moves: Sequence[str],
                    out: str | Path, *, force: bool = False, device: str = "auto",
                    display_size: int = 256) -> Path:
    """The CLI's work (module docstring): writes the three-panel picture to ``out``.

    Raises:
        FileExistsError: ``out`` exists and not ``force`` (checked before anything is loaded).
        ManipulateError: a bad ``--move``.
        RendererError: a model that cannot render (named, with the checkpoint).
        FileNotFoundError / ValueError: an unreadable image or checkpoint.
    """
    out, image = Path(out), Path(image)
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; pass --force to overwrite it")
    parse_moves(moves)  # malformed moves fail before the checkpoint is loaded
    if not image.is_file():
        raise FileNotFoundError(f"image {image} does not exist")
    det = Detector.from_checkpoint(checkpoint, device=device)
    try:
        require_render(det.model, det.config.model.name, "manipulate")
    except RendererError as err:
        raise RendererError(f"checkpoint {checkpoint}: {err}") from None
    parsed = parse_moves(moves, det.num_keypoints)
    try:
        with Image.open(image) as im:
            frame = np.asarray(im.convert("RGB"))
    except OSError as err:
        raise ValueError(f"image {image} could not be read: {err}") from err
    crop = det.config.data.crop or None
    side = square_crop_box(frame.shape[1], frame.shape[0], crop)[2]
    x = frame_to_tensor(frame, det.image_size, crop).to(det.device)
    result = manipulate(det.model, x, parsed, side=side)
    colors = keypoint_colors(det.num_keypoints)
    original = resize_frame(frame, display_size, crop)
    panels = [_panel(original, result["keypoints"], colors, display_size),
              _panel(tensor_to_uint8(result["reconstruction"]), result["keypoints"], colors,
                     display_size),
              _panel(tensor_to_uint8(result["manipulated"]), result["moved_keypoints"], colors,
                     display_size)]
    gap = np.full((display_size, 4, 3), 255, np.uint8)
    picture = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)
    return save_image(picture, out)
