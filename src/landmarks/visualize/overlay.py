"""Keypoints drawn on images and videos: tensor → uint8, dots, PNG/JPEG files and mp4 videos.

Everything here works in **pixel** coordinates ``(x, y)`` (x to the right, y down, the centre of
the top-left pixel at ``(0, 0)``); convert normalised keypoints first with
``x_px = (x + 1) * W / 2 - 0.5`` (:func:`landmarks.visualize.normalized_to_pixel_np`).
Drawing uses Pillow, files use Pillow, videos use PyAV.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from landmarks.visualize.colors import keypoint_colors

__all__ = [
    "VideoOverlayWriter",
    "default_radius",
    "draw_keypoints",
    "save_image",
    "tensor_to_uint8",
    "write_overlay_video",
]

_OUTLINE_RGB = (20, 20, 20)


def tensor_to_uint8(image: torch.Tensor) -> np.ndarray:
    """Convert one image tensor to a displayable array.

    Args:
        image: ``(3, H, W)`` (or ``(1, H, W)``, replicated to grey RGB) float tensor in ``[0, 1]``,
            on any device; values outside ``[0, 1]`` are clamped.

    Returns:
        ``(H, W, 3)`` uint8 array (a new array, C-contiguous).
    """
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(
            f"expected an image of shape (3, H, W) or (1, H, W), got {tuple(image.shape)}"
        )
    img = image.detach().to(device="cpu", dtype=torch.float32)
    if img.shape[0] == 1:
        img = img.expand(3, -1, -1)
    img = torch.nan_to_num(img, nan=0.0).clamp(0.0, 1.0)
    arr = (img * 255.0).round().to(torch.uint8).permute(1, 2, 0).contiguous()
    return arr.numpy()


def default_radius(height: int, width: int) -> float:
    """Dot radius (pixels) that stays visible from 32 px to 640 px images: ``max(1.5, min/50)``."""
    return max(1.5, min(height, width) / 50.0)


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Check / coerce ``(H, W, 3)`` (or ``(H, W)`` grey) to uint8 RGB. Returns ``(H, W, 3)``."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an image of shape (H, W, 3), got {arr.shape}")
    if arr.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {arr.dtype}")
    return arr


def _as_colors(colors: np.ndarray | None, k: int) -> np.ndarray:
    """Colours for ``k`` keypoints: ``None`` → the default palette; one colour → repeated.

    Float colours with a maximum ``<= 1`` are read as ``[0, 1]`` RGB. Returns ``(k, 3)`` uint8.
    """
    if colors is None:
        return keypoint_colors(k)
    col = np.asarray(colors)
    if np.issubdtype(col.dtype, np.floating) and col.size and float(col.max()) <= 1.0:
        col = col * 255.0
    col = np.clip(np.round(col), 0, 255).astype(np.uint8)
    if col.shape == (3,):
        col = np.broadcast_to(col, (k, 3))
    if col.ndim != 2 or col.shape[1] != 3 or col.shape[0] < k:
        raise ValueError(f"expected colours of shape ({k}, 3), got {col.shape}")
    return col[:k]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font at ``size`` px (the fixed bitmap font on very old Pillow)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _span(c: float, r: float) -> tuple[int, int]:
    """Inclusive pixel range ``[lo, hi]`` of a disc of radius ``r`` centred at pixel coord ``c``.

    ``lo + hi == 2 c`` whenever ``2 c`` is an integer, so dots on pixel centres and on pixel
    corners are drawn symmetrically about the keypoint (Pillow rounds float boxes unevenly).
    """
    lo = math.floor(c - r + 0.5)
    hi = math.ceil(c + r - 0.5)
    return lo, max(lo, hi)


def _disc(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill: tuple) -> None:
    """A filled disc; Pillow's ellipse box ``(x0, y0, x1, y1)`` covers pixels x0..x1 inclusive."""
    x0, x1 = _span(cx, r)
    y0, y1 = _span(cy, r)
    if x1 == x0 or y1 == y0:  # one pixel wide: Pillow draws no ellipse
        draw.rectangle((x0, y0, x1, y1), fill=fill)
    else:
        draw.ellipse((x0, y0, x1, y1), fill=fill)


def draw_keypoints(
    image: np.ndarray,
    keypoints_px: np.ndarray,
    colors: np.ndarray | None = None,
    radius: float | None = None,
    labels: bool = False,
) -> np.ndarray:
    """Draw keypoints as filled dots with a thin dark outline.

    Args:
        image: ``(H, W, 3)`` uint8 RGB image; not modified.
        keypoints_px: ``(K, 2)`` keypoints ``(x, y)`` in pixels (centre of the top-left pixel at
            ``(0, 0)``). Rows with a NaN are skipped; points off the image are clipped by it.
        colors: ``(K, 3)`` RGB colours (uint8, or floats in ``[0, 1]``), or one ``(3,)`` colour;
            default :func:`keypoint_colors`.
        radius: dot radius in pixels; default :func:`default_radius` (scales with image size).
        labels: write each keypoint's index next to its dot.

    Returns:
        ``(H, W, 3)`` uint8, a new array.
    """
    arr = _as_rgb_uint8(image)
    kp = np.asarray(keypoints_px, dtype=np.float64)
    if kp.ndim != 2 or kp.shape[1] != 2:
        raise ValueError(f"expected keypoints of shape (K, 2), got {kp.shape}")
    k = kp.shape[0]
    h, w = arr.shape[:2]
    cols = _as_colors(colors, k)
    r = float(default_radius(h, w) if radius is None else radius)
    if r <= 0:
        raise ValueError(f"radius must be positive, got {r}")
    outline = max(1.0, round(r / 4.0))

    pil = Image.fromarray(np.ascontiguousarray(arr), mode="RGB")  # a copy: input untouched
    draw = ImageDraw.Draw(pil)
    centres = kp
    for (cx, cy), col in zip(centres, cols, strict=True):
        if not (np.isfinite(cx) and np.isfinite(cy)):
            continue
        _disc(draw, cx, cy, r + outline, _OUTLINE_RGB)
        _disc(draw, cx, cy, r, tuple(int(c) for c in col))
    if labels:
        size = max(8, int(round(2.2 * r + 4)))
        font = _font(size)
        stroke = max(1, size // 10)
        for i, ((cx, cy), col) in enumerate(zip(centres, cols, strict=True)):
            if not (np.isfinite(cx) and np.isfinite(cy)):
                continue
            text = str(i)
            tx, ty = cx + r + outline + 1, cy - r - outline - 1  # up and right of the dot
            # Keep the label on the image (a dot at the border would push it off).
            x0, y0, x1, y1 = draw.textbbox(
                (tx, ty), text, font=font, anchor="ls", stroke_width=stroke
            )
            tx += max(0.0, -x0) - max(0.0, x1 - w)
            ty += max(0.0, -y0) - max(0.0, y1 - h)
            draw.text(
                (tx, ty),
                text,
                fill=tuple(int(c) for c in col),
                font=font,
                anchor="ls",
                stroke_width=stroke,
                stroke_fill=_OUTLINE_RGB,
            )
    return np.asarray(pil).copy()


def save_image(array: np.ndarray, path: str | Path) -> Path:
    """Write an image; the format follows the suffix (``.png``, ``.jpg``/``.jpeg``, ...).

    Args:
        array: ``(H, W, 3)`` uint8 RGB (or ``(H, W)`` uint8 grey) image.
        path: destination; missing parent folders are created.

    Returns:
        The path written, as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    arr = np.asarray(array)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(f"expected a (H, W, 3) uint8 array, got {arr.shape} {arr.dtype}")
    if not path.suffix:
        raise ValueError(f"cannot tell the image format of {path}: give it a suffix like .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(np.ascontiguousarray(arr))
    if path.suffix.lower() in (".jpg", ".jpeg"):
        img.save(path, quality=95)
    else:
        img.save(path)
    return path


def _pick_codec() -> str:
    """The best mp4 video encoder this PyAV build has: libx264 (h264) else mpeg4."""
    import av

    for name in ("libx264", "h264", "mpeg4"):
        try:
            codec = av.codec.Codec(name, "w")
        except Exception:  # PyAV raises different errors across versions
            continue
        if name == "h264" and codec.name != "libx264":
            continue  # a hardware h264 encoder may exist but not work here; use mpeg4
        return codec.name
    raise RuntimeError("PyAV has neither an h264 nor an mpeg4 encoder")


class VideoOverlayWriter:
    """Write RGB frames to an mp4 file (h264/yuv420p through PyAV, else mpeg4).

    The file is opened at the first :meth:`write` (writing no frame creates no file). Every frame
    is resized (bilinear) to the video size: ``size_hw`` if given, else the first frame's size.
    yuv420p needs even sizes, so an odd height/width is padded by one replicated row/column at the
    bottom/right; the decoded video then has size :attr:`encoded_size_hw`.

    Example::

        with VideoOverlayWriter("out.mp4", fps=25) as writer:
            for frame in frames:
                writer.write(frame)  # (H, W, 3) uint8
    """

    def __init__(self, path: str | Path, fps: float, size_hw: tuple[int, int] | None = None):
        """Args: path of the ``.mp4``; frames per second (> 0); optional ``(H, W)`` frame size."""
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if size_hw is not None and (len(size_hw) != 2 or min(size_hw) < 1):
            raise ValueError(f"size_hw must be (H, W) with H, W >= 1, got {size_hw}")
        self.path = Path(path)
        self.fps = float(fps)
        self.size_hw: tuple[int, int] | None = (
            None if size_hw is None else (int(size_hw[0]), int(size_hw[1]))
        )
        self.frames_written = 0
        self._container = None
        self._stream = None
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def encoded_size_hw(self) -> tuple[int, int] | None:
        """``(H, W)`` of the encoded video (the frame size rounded up to even), once known."""
        if self.size_hw is None:
            return None
        h, w = self.size_hw
        return h + h % 2, w + w % 2

    def _open(self) -> None:
        import av

        assert self.size_hw is not None
        codec = _pick_codec()
        rate = Fraction(self.fps).limit_denominator(1001)
        container = av.open(str(self.path), mode="w")
        try:
            stream = container.add_stream(codec, rate=rate)
            eh, ew = self.encoded_size_hw  # type: ignore[misc]
            stream.height = eh
            stream.width = ew
            stream.pix_fmt = "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": "18", "preset": "medium"}
            else:
                stream.bit_rate = max(2_000_000, eh * ew * 8)
        except Exception:
            container.close()
            raise
        self._container = container
        self._stream = stream

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        """Resize to the video size and pad to even. ``(H, W, 3)`` → ``(H', W', 3)`` uint8."""
        arr = _as_rgb_uint8(frame)
        assert self.size_hw is not None
        h, w = self.size_hw
        if arr.shape[:2] != (h, w):
            arr = np.asarray(Image.fromarray(arr).resize((w, h), Image.Resampling.BILINEAR))
        eh, ew = self.encoded_size_hw  # type: ignore[misc]
        if (eh, ew) != (h, w):
            arr = np.pad(arr, ((0, eh - h), (0, ew - w), (0, 0)), mode="edge")
        return np.ascontiguousarray(arr)

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame."""
        import av

        if self._closed:
            raise RuntimeError("write() on a closed VideoOverlayWriter")
        arr = _as_rgb_uint8(frame)
        if self.size_hw is None:
            self.size_hw = (int(arr.shape[0]), int(arr.shape[1]))
        if self._container is None:
            self._open()
        vframe = av.VideoFrame.from_ndarray(self._prepare(arr), format="rgb24")
        for packet in self._stream.encode(vframe):  # type: ignore[union-attr]
            self._container.mux(packet)  # type: ignore[union-attr]
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and close the file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._container is None:
            if self.frames_written == 0:
                warnings.warn(f"no frames written; {self.path} not created", stacklevel=2)
            return
        try:
            for packet in self._stream.encode(None):  # type: ignore[union-attr]
                self._container.mux(packet)
        finally:
            self._container.close()

    def __enter__(self) -> VideoOverlayWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def write_overlay_video(
    frames: Iterable[np.ndarray],
    keypoints_px: Iterable[np.ndarray],
    path: str | Path,
    fps: float,
    colors: np.ndarray | None = None,
) -> Path:
    """Draw each frame's keypoints on it and encode the result as an mp4.

    Args:
        frames: ``(H, W, 3)`` uint8 RGB frames.
        keypoints_px: one ``(K, 2)`` array of pixel ``(x, y)`` per frame (same length as frames).
        path: destination ``.mp4`` (parent folders created).
        fps: frames per second.
        colors: ``(K, 3)`` colours; default :func:`keypoint_colors`.

    Returns:
        The path written.
    """
    with VideoOverlayWriter(path, fps) as writer:
        for frame, kp in zip(frames, keypoints_px, strict=True):
            writer.write(draw_keypoints(frame, kp, colors=colors))
    return Path(path)
