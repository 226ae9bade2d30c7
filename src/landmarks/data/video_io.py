"""Reading video files with PyAV: the one video reader of the library (datasets, the index
cache, inference and the demo all decode through it).

Frames are ``(H, W, 3)`` uint8 RGB arrays of the first video stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from landmarks.data.transforms import DatasetError

__all__ = ["VideoInfo", "count_frames", "iter_rgb_frames", "video_fps", "video_info"]


@dataclass(frozen=True)
class VideoInfo:
    """Stream metadata of a video file (``frames`` is 0 when the container does not say)."""

    frames: int
    width: int
    height: int
    fps: float
    codec: str


def video_info(path: str | Path) -> VideoInfo:
    """Open ``path`` with PyAV and read its first video stream's metadata (no decoding).

    Raises :class:`DatasetError` naming the file when it cannot be opened or has no video stream.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DatasetError(f"video {path} has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            return VideoInfo(frames=int(stream.frames or 0), width=int(stream.width),
                             height=int(stream.height), fps=float(rate) if rate else 0.0,
                             codec=str(stream.codec_context.name))
    except DatasetError:
        raise
    except Exception as err:
        raise DatasetError(f"video {path} cannot be opened: {err}") from err


def iter_rgb_frames(path: str | Path, max_frames: int = 0) -> Iterator[np.ndarray]:
    """Yield decoded frames of the first video stream as ``(H, W, 3)`` uint8 RGB arrays."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for count, frame in enumerate(container.decode(stream), start=1):
            yield frame.to_ndarray(format="rgb24")
            if max_frames and count >= max_frames:
                return


def count_frames(path: str | Path, max_frames: int = 0) -> int:
    """Number of frames of a video file: from the stream metadata, else by decoding.

    Capped at ``max_frames`` when that is positive. Raises :class:`DatasetError` naming the file
    when it cannot be opened or decoded.
    """
    info = video_info(path)
    if info.frames > 0:
        return min(info.frames, max_frames) if max_frames > 0 else info.frames
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            n = 0
            for n, _ in enumerate(container.decode(stream), start=1):
                if max_frames and n >= max_frames:
                    break
            return n
    except Exception as err:
        raise DatasetError(f"video {path} cannot be decoded: {err}") from err


def video_fps(path: str | Path, default: float = 25.0) -> float:
    """The average frame rate of ``path``'s first video stream (``default`` when the container
    does not say)."""
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
    return float(rate) if rate else default
