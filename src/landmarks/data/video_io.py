"""Reading video files with PyAV: the one video reader of the library (datasets, the index
cache, inference and the demo all decode through it).

Frames are ``(H, W, 3)`` uint8 RGB arrays of the first video stream.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from landmarks.data.transforms import DatasetError

__all__ = ["FrameReader", "VideoInfo", "count_frames", "iter_rgb_frames", "video_fps",
           "video_info"]


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


def rgb_array(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as an ``(H, W, 3)`` uint8 RGB array, converted by swscale on the calling
    thread (``threads=1``). PyAV's default, a pool of swscale slice threads, hung a DataLoader
    worker for good (it waited in ``avpriv_slicethread_execute`` for threads that do not exist
    in a forked process); the frames here are small, so the pool saves nothing."""
    return frame.to_ndarray(format="rgb24", threads=1)


def iter_rgb_frames(path: str | Path, max_frames: int = 0) -> Iterator[np.ndarray]:
    """Yield decoded frames of the first video stream as ``(H, W, 3)`` uint8 RGB arrays."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for count, frame in enumerate(container.decode(stream), start=1):
            yield rgb_array(frame)
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


class FrameReader:
    """An open video of this process that returns frames by number (timestamps), seeking only
    when the next frame asked for is behind, or far ahead of, the last decoded one."""

    #: Frames ahead of the last decoded one that are reached by decoding on, not by seeking.
    CONTINUE = 64

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pid = os.getpid()
        self.container = av.open(str(path))
        if not self.container.streams.video:
            raise ValueError(f"video {path} has no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        rate = self.stream.average_rate or self.stream.guessed_rate
        if not rate or self.stream.time_base is None:
            raise ValueError(f"video {path} has no frame rate / time base")
        self.fps = float(rate)
        self.time_base = float(self.stream.time_base)
        self.start = int(self.stream.start_time or 0)
        self._frames: Iterator[tuple[int, Any]] | None = None
        self._last = -1  # number of the last frame taken from self._frames

    def close(self) -> None:
        self._frames = None
        self.container.close()

    def _decode(self) -> Iterator[tuple[int, Any]]:
        for frame in self.container.decode(self.stream):
            if frame.pts is None:
                raise ValueError(f"video {self.path}: a frame has no timestamp")
            yield round((frame.pts - self.start) * self.time_base * self.fps), frame

    def _position(self, row: int) -> None:
        """Seek so that the next decoded frame is at or before frame ``row``."""
        back = 0
        while True:
            target = max(row - back, 0)
            pts = self.start + int(target / self.fps / self.time_base)
            self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
            frames = self._decode()
            first = next(frames, None)
            if first is None and target > 0:
                back = max(2 * back, int(self.fps))
                continue
            if first is None:
                self._frames = iter(())
                return
            if first[0] <= row or target == 0:
                self._frames = _chain(first, frames)
                self._last = first[0] - 1
                return
            back = max(2 * back, int(self.fps))  # the demuxer landed after the frame

    def read(self, rows: Sequence[int]) -> dict[int, np.ndarray]:
        """Frames ``rows`` as ``(H, W, 3)`` uint8 RGB; rows past the end are missing."""
        want = sorted(set(int(r) for r in rows))
        if not (self._frames is not None and self._last < want[0] <= self._last + self.CONTINUE):
            self._position(want[0])
        assert self._frames is not None
        out: dict[int, np.ndarray] = {}
        wanted = set(want)
        for number, frame in self._frames:
            self._last = number
            if number in wanted:
                out[number] = rgb_array(frame)
            if number >= want[-1]:
                break
        else:
            self._frames = None  # end of the stream
        return out


def _chain(first: tuple[int, Any], rest: Iterator[tuple[int, Any]]
           ) -> Iterator[tuple[int, Any]]:
    yield first
    yield from rest
