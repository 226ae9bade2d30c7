"""Helpers that write small data fixtures in the real file formats (PNG, JPEG, mp4).

Every picture shows a red Gaussian blob on a dark blue/green textured background. In videos and
frame folders the blob moves left to right at a constant speed, so its position tells which
frame is shown: :func:`blob_position` gives the centre of frame ``t`` in input pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image


def _hw(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def blob_position(t: int, frames: int, size_hw: Sequence[int]) -> tuple[float, float]:
    """Centre ``(x, y)`` (pixel-centre coordinates) of the blob in frame ``t`` of ``frames``."""
    h, w = _hw(size_hw)
    frac = t / max(frames - 1, 1)
    return (0.2 + 0.6 * frac) * (w - 1), 0.5 * (h - 1)


def blob_image(size_hw: Sequence[int], center: tuple[float, float], radius: float | None = None,
               seed: int = 0) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 picture: textured background, red blob at ``center`` (x, y)."""
    h, w = _hw(size_hw)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=2)
    texture = 0.5 + 0.5 * np.sin(xx / 3.0 + phase[0]) * np.cos(yy / 4.0 + phase[1])
    img = np.zeros((h, w, 3), np.float32)
    img[..., 1] = 40 + 50 * texture
    img[..., 2] = 70 + 60 * (1 - texture)
    r = radius if radius is not None else 0.12 * min(h, w)
    blob = np.exp(-((xx - center[0]) ** 2 + (yy - center[1]) ** 2) / (2 * r * r))
    img = img * (1 - blob[..., None]) + np.array([240.0, 20.0, 20.0]) * blob[..., None]
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def write_image_folder(dir: str | Path, n: int, size: int | Sequence[int]) -> list[Path]:
    """Write ``n`` blob images into ``dir`` (created), alternately PNG and JPEG; ``size`` is
    ``S`` or ``(H, W)``. Returns the paths, sorted."""
    root = Path(dir)
    root.mkdir(parents=True, exist_ok=True)
    h, w = _hw(size)
    paths = []
    for i in range(n):
        rng = np.random.default_rng(i)
        center = (rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h)
        img = Image.fromarray(blob_image((h, w), center, seed=i))
        path = root / f"img_{i:04d}.{'png' if i % 2 == 0 else 'jpg'}"
        if path.suffix == ".jpg":
            img.save(path, quality=95)
        else:
            img.save(path)
        paths.append(path)
    return sorted(paths)


def _video_codec() -> str:
    for name in ("libx264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:
            continue
    raise RuntimeError("PyAV has neither a libx264 nor an mpeg4 encoder")


def write_video(path: str | Path, frames: int, size_hw: Sequence[int], fps: int = 25) -> Path:
    """Write a real video (h264 if PyAV has libx264, else MPEG-4 part 2) of ``frames`` frames of
    ``size_hw = (H, W)`` (even numbers) showing the moving blob; the container follows the suffix
    (``.mp4``, ``.mkv``, ``.avi``, ``.mov``). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = _hw(size_hw)
    codec = _video_codec()
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "12", "preset": "veryfast"}
        else:
            stream.bit_rate = 4_000_000
        for t in range(frames):
            rgb = blob_image((h, w), blob_position(t, frames, (h, w)))
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frame_folder(dir: str | Path, frames: int, size_hw: Sequence[int]) -> list[Path]:
    """Write ``frames`` PNG frames ``frame_0000.png …`` of the moving blob into ``dir``."""
    root = Path(dir)
    root.mkdir(parents=True, exist_ok=True)
    h, w = _hw(size_hw)
    paths = []
    for t in range(frames):
        path = root / f"frame_{t:04d}.png"
        Image.fromarray(blob_image((h, w), blob_position(t, frames, (h, w)))).save(path)
        paths.append(path)
    return paths


def write_corrupt_image(path: str | Path) -> Path:
    """Write a JPEG cut off half way (the header parses, decoding fails). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".full.jpg")
    Image.fromarray(blob_image((64, 64), (32.0, 32.0))).save(tmp, quality=95)
    data = tmp.read_bytes()
    tmp.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_corrupt_video(path: str | Path) -> Path:
    """Write a file with a video suffix whose contents are no decodable video (an mp4 with its
    index cut off, followed by junk). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".full.mp4")
    write_video(tmp, 12, (32, 32))
    data = tmp.read_bytes()
    tmp.unlink()
    junk = np.random.default_rng(0).integers(0, 256, 2048, dtype=np.uint8).tobytes()
    path.write_bytes(data[: len(data) // 3] + junk)
    return path
