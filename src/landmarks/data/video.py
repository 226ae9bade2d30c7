"""Pairs of frames of one video: the target frame ``t`` and a source frame ``t ± g``.

Videos are video files (decoded with PyAV) or *frame folders* (a folder whose images are the
frames of one video, in sorted order). Each video file is decoded once per process into a uint8
array of resized frames ``(N, S, S, 3)`` and kept in a small per-process LRU cache; decoding
happens lazily in the process that reads the item (usually a DataLoader worker). Use
``persistent_workers=True`` so the workers keep their caches between epochs, or call
:meth:`VideoFramePairs.preload` before the DataLoader forks its workers so that they share the
decoded frames copy-on-write.

Building the index needs the frame count of every video file; the counts are kept across runs
in a cache file per root (:mod:`landmarks.data.index_cache`: where it lives, what invalidates
an entry, how to delete it), so that a second construction on unchanged files opens no video.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import ChainMap, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from landmarks.data.index_cache import Probe, probe_frame_counts
from landmarks.data.pairs import ClipFrames, check_frame_gap, pair_item
from landmarks.data.transforms import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    DatasetError,
    check_crop,
    is_image_file,
    is_video_file,
    read_image_uint8,
    resize_frame,
)
from landmarks.data.video_io import count_frames, iter_rgb_frames

# ----------------------------------------------------------------------------------------------
# Video files


def decode_video(path: str | Path, size: int, crop: Sequence[float] | None = None,
                 max_frames: int = 0, *, strict: bool = True) -> np.ndarray:
    """Decode a whole video file into ``(N, size, size, 3)`` uint8 frames (geometry of
    :func:`~landmarks.data.transforms.load_image`); at most ``max_frames`` when positive.

    With ``strict=False`` a decoding error part way keeps the frames decoded before it (and
    raises only if there are none); with ``strict=True`` any error raises
    :class:`DatasetError` naming the file.
    """
    frames, error = _decode(path, size, check_crop(crop), max_frames)
    if error is not None and (strict or not frames):
        raise DatasetError(f"video {path} cannot be decoded: {error}")
    if not frames:
        raise DatasetError(f"video {path} holds no decodable frames")
    return np.stack(frames)


def _decode(path: str | Path, size: int, crop: Sequence[float] | None,
            max_frames: int) -> tuple[list[np.ndarray], str | None]:
    frames: list[np.ndarray] = []
    try:
        for rgb in iter_rgb_frames(path, max_frames):
            frames.append(resize_frame(rgb, size, crop))
    except Exception as err:  # PyAV raises av.error.* (and OSError) subclasses
        return frames, f"{type(err).__name__}: {err}"
    return frames, None


# A per-process LRU of decoded videos, shared by every VideoFramePairs of the process.
# Key: (path, mtime_ns, size, crop, max_frames) -> (frames (N, S, S, 3) uint8, clean: bool).
_CACHE: OrderedDict[tuple[Any, ...], tuple[np.ndarray, bool]] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def clear_video_cache() -> None:
    """Forget every decoded video held by this process."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _cache_put(key: tuple[Any, ...], value: tuple[np.ndarray, bool], max_videos: int,
               max_bytes: int) -> None:
    with _CACHE_LOCK:
        _CACHE[key] = value
        _CACHE.move_to_end(key)
        total = sum(v[0].nbytes for v in _CACHE.values())
        while len(_CACHE) > 1 and (len(_CACHE) > max_videos or total > max_bytes):
            _, (old, _clean) = _CACHE.popitem(last=False)
            total -= old.nbytes


def _cache_get(key: tuple[Any, ...]) -> tuple[np.ndarray, bool] | None:
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
        return hit


# ----------------------------------------------------------------------------------------------
# The dataset


@dataclass
class _Video:
    path: Path
    num_frames: int
    frame_paths: list[Path] = field(default_factory=list)  # empty for video files

    @property
    def is_frame_folder(self) -> bool:
        return bool(self.frame_paths)


#: One video of a root: ``(path, frame paths)``; the frame paths are empty for a video file.
Source = tuple[Path, list[Path]]


def find_sources(root: str | Path) -> list[Source]:
    """The videos under the folder ``root``, as :class:`VideoFramePairs` reads them: every video
    file and every folder that directly holds images (its frames, in sorted file-name order),
    searched recursively (hidden files and folders ignored, symlinks followed); sorted by path.
    """
    root = Path(root)
    sources: list[Source] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        files = sorted(here / f for f in filenames if not f.startswith("."))
        images = [f for f in files if is_image_file(f)]
        if images:
            sources.append((here, images))
        sources.extend((f, []) for f in files if is_video_file(f))
    return sorted(sources, key=lambda s: str(s[0]))


class VideoFramePairs(ClipFrames):
    """Frame pairs of the videos under ``root`` for training on video.

    ``root`` is a video file (one of ``VIDEO_EXTENSIONS``) or a folder searched recursively for
    video files and frame folders (any folder that directly holds images is one video, frames in
    sorted file-name order). ``len(dataset)`` is the total number of frames; item ``i`` is frame
    ``t`` of one video (the *target*) and a *source* frame ``t ± g``, with ``g`` drawn uniformly
    from ``frame_gap = (min, max)`` clipped to what the video allows around ``t`` (if no frame is
    ``min`` away from ``t``, the farthest frame is used) and the direction drawn at random among
    those that stay inside the video. Randomness comes from torch's RNG, so the DataLoader's
    per-worker seeding applies.

    ``dataset[i]`` is ``{"source": (3, S, S), "target": (3, S, S)}`` float32 in ``[0, 1]`` plus
    ``"frames"``: ``tensor([t_target, t_source])`` (int64), or ``None`` if the frames could not be
    decoded (see :func:`collate_skipping`).

    Index building only reads stream metadata (decoding to count frames only when the container
    does not say), and with ``index_cache`` (default) only for video files not in the index
    cache of ``root`` (:mod:`landmarks.data.index_cache`), which it updates. Videos that cannot
    be opened, and videos shorter than ``min + 1`` frames (after ``max_frames``, which keeps the
    first ``max_frames`` frames of each video when positive), are skipped with one warning each
    and listed in ``.skipped``; if none is left, a :class:`DatasetError` names ``root``.

    ``stills=True`` keeps frame folders that hold a single image (a still photo, e.g. a
    RealFaces training photo): its pair is the image with itself, so it only teaches something
    when the pair is warped afterwards (``data.video_tps``, which is what the ``video`` dataset
    factory passes here). Without it such folders are skipped like any too-short video.

    ``still_share`` (with ``stills``) balances stills against video frames: each still is
    repeated in the index so that stills make up about that share of an epoch (0: each still
    counts once, as one frame). A few dozen photos of many people are otherwise swamped by
    thousands of frames of a few (RealFaces: 69 photos beside 2,484 frames).

    ``cache_videos`` / ``cache_bytes`` bound the per-process cache of decoded videos.

    ``sources`` / ``frame_counts`` are for a caller that reads many folders as one dataset and
    so lists and probes them itself, with one index cache for all of them (VoxCeleb: one
    dataset per identity folder): ``sources`` replaces listing the folder ``root``
    (:func:`find_sources` of it), ``frame_counts`` maps its video files to their counts or
    error messages (:func:`~landmarks.data.index_cache.probe_frame_counts`); video files
    missing from ``frame_counts`` are probed without the cache.
    """

    def __init__(self, root: str | Path, image_size: int,
                 frame_gap: Sequence[int] = (3, 30), crop: Sequence[float] | None = None,
                 max_frames: int = 0, *, cache_videos: int = 64,
                 cache_bytes: int = 4 << 30, index_cache: bool = True,
                 sources: Sequence[Source] | None = None,
                 frame_counts: Mapping[Path, Probe] | None = None,
                 stills: bool = False, still_share: float = 0.0) -> None:
        self.root = Path(root).expanduser()
        self.stills = bool(stills)
        if not 0 <= still_share < 1:
            raise ValueError(f"still_share: expected a share in [0, 1), got {still_share}")
        self.image_size = int(image_size)
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.min_gap, self.max_gap = check_frame_gap(frame_gap)
        self.crop = check_crop(crop)
        if max_frames < 0:
            raise ValueError(f"max_frames: expected >= 0 (0 = all frames), got {max_frames}")
        self.max_frames = int(max_frames)
        self.cache_videos = int(cache_videos)
        self.cache_bytes = int(cache_bytes)
        self.index_cache = bool(index_cache)
        self.skipped: list[str] = []
        self.skip_reasons: dict[str, str] = {}
        self._warned: set[str] = set()
        self.videos: list[_Video] = self._build_index(sources, frame_counts)
        self.still_repeat = self._still_repeat(still_share)
        self.index_clips([self.still_repeat if v.num_frames == 1 else v.num_frames
                          for v in self.videos])

    # -- index ---------------------------------------------------------------------------------
    def _skip(self, path: Path, reason: str, warn: bool = True) -> None:
        key = str(path)
        if key not in self.skip_reasons:
            self.skipped.append(key)
            self.skip_reasons[key] = reason
            if warn:
                warnings.warn(f"skipping video {path}: {reason}", stacklevel=3)

    def _build_index(self, sources: Sequence[Source] | None = None,
                     frame_counts: Mapping[Path, Probe] | None = None) -> list[_Video]:
        root = self.root
        if sources is None:
            if not root.exists():
                raise DatasetError(f"video root {root} does not exist")
            if root.is_file():
                if not is_video_file(root):
                    raise DatasetError(f"video root {root} is a file but not a video; expected "
                                       f"a video file ({', '.join(VIDEO_EXTENSIONS)}) or a "
                                       f"folder of videos and/or frame folders")
                sources = [(root, [])]
            else:
                sources = find_sources(root)
        if not sources:
            raise DatasetError(
                f"video root {root} holds no videos (looked recursively for video files "
                f"{', '.join(VIDEO_EXTENSIONS)} and folders of images "
                f"{', '.join(IMAGE_EXTENSIONS)})")
        given: Mapping[Path, Probe] = frame_counts or {}  # not copied: it may be huge
        files = [path for path, frame_paths in sources if not frame_paths and path not in given]
        # frame folders need no probing: their length is their number of images
        probed = probe_frame_counts(root, files, self.max_frames, count=count_frames,
                                    use_cache=self.index_cache and frame_counts is None
                                    ) if files else {}
        counts = ChainMap(probed, given)
        videos: list[_Video] = []
        need = self.min_gap + 1
        short: list[tuple[Path, int]] = []
        for path, frame_paths in sources:
            if frame_paths:
                if self.max_frames:
                    frame_paths = frame_paths[: self.max_frames]
                n = len(frame_paths)
            else:
                probe = counts[path]
                if isinstance(probe, str):  # the file cannot be opened or decoded
                    self._skip(path, probe)
                    continue
                n = probe
            if n < need and not (self.stills and frame_paths and n == 1):
                # one warning for all of them (a folder of stills would print one per photo)
                self._skip(path, f"{n} frame(s), fewer than the {need} that frame_gap "
                                 f"{(self.min_gap, self.max_gap)} needs", warn=False)
                short.append((path, n))
                continue
            videos.append(_Video(path, n, frame_paths))
        if short:
            names = ", ".join(f"{p.name}: {n} frame(s)" for p, n in short[:3]) + (
                ", ..." if len(short) > 3 else "")
            warnings.warn(f"skipping {len(short)} video(s) of {root} with fewer than the {need} "
                          f"frames that frame_gap {(self.min_gap, self.max_gap)} needs ({names}; "
                          f"all in .skip_reasons)", stacklevel=2)
        if not videos:
            details = "; ".join(f"{p}: {r}" for p, r in self.skip_reasons.items())
            raise DatasetError(f"video root {root} holds no usable video ({len(self.skipped)} "
                               f"skipped: {details})")
        return videos

    def _still_repeat(self, share: float) -> int:
        """How many times each still is indexed so that stills are ``share`` of the index."""
        stills = sum(v.num_frames == 1 for v in self.videos)
        frames = sum(v.num_frames for v in self.videos if v.num_frames > 1)
        if share <= 0 or not stills or not frames:
            return 1
        return max(1, round(share / (1 - share) * frames / stills))

    # -- decoding ------------------------------------------------------------------------------
    def _cache_key(self, video: _Video) -> tuple[Any, ...]:
        try:
            mtime = video.path.stat().st_mtime_ns
        except OSError:
            mtime = 0
        return (str(video.path), mtime, self.image_size, self.crop, self.max_frames)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            if key not in self.skip_reasons:
                self.skipped.append(key)
                self.skip_reasons[key] = message
            warnings.warn(message, stacklevel=3)

    def decoded(self, index: int) -> tuple[np.ndarray, bool] | None:
        """Frames of video file ``index`` as ``(N, S, S, 3)`` uint8 and whether it decoded
        cleanly (``False``: an error cut it short), from this process's cache or decoded now;
        ``None`` if nothing could be decoded. Not for frame folders (read lazily)."""
        video = self.videos[index]
        key = self._cache_key(video)
        hit = _cache_get(key)
        if hit is not None:
            return hit if len(hit[0]) else None
        frames, error = _decode(video.path, self.image_size, self.crop, self.max_frames)
        if error is not None:
            self._warn_once(str(video.path), f"video {video.path} failed to decode after "
                                             f"{len(frames)} frame(s): {error}")
        array = (np.stack(frames) if frames
                 else np.zeros((0, self.image_size, self.image_size, 3), np.uint8))
        _cache_put(key, (array, error is None), self.cache_videos, self.cache_bytes)
        return (array, error is None) if frames else None

    def preload(self) -> None:
        """Decode every video file into this process's cache now (e.g. before the DataLoader
        forks its workers, which then share the frames copy-on-write)."""
        for i, video in enumerate(self.videos):
            if not video.is_frame_folder:
                self.decoded(i)

    # -- sampling ------------------------------------------------------------------------------
    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        v, t = self.locate(index)
        video = self.videos[v]
        if video.is_frame_folder:
            t = min(t, video.num_frames - 1)  # a still may be indexed several times
            s = self.pick_source(t, video.num_frames)
            pair = []
            for i in (t, s):
                path = video.frame_paths[i]
                try:
                    pair.append(read_image_uint8(path, self.image_size, self.crop))
                except Exception as err:
                    self._warn_once(str(path), f"skipping unreadable frame {path}: {err}")
                    return None
        else:
            got = self.decoded(v)
            if got is None:
                return None
            frames, clean = got
            n = len(frames)
            if t >= n:
                if not clean:  # the decoder failed before reaching frame t
                    return None
                t = n - 1  # the metadata over-counted the frames
            if n < self.min_gap + 1:
                return None
            s = self.pick_source(t, n)
            pair = [frames[t], frames[s]]
        return pair_item(pair[0], pair[1], t, s)

    def __repr__(self) -> str:
        return (f"VideoFramePairs(root={str(self.root)!r}, videos={len(self.videos)}, "
                f"frames={len(self)}, skipped={len(self.skipped)}, "
                f"image_size={self.image_size}, frame_gap={(self.min_gap, self.max_gap)})")


# ----------------------------------------------------------------------------------------------
# Batching


def collate_skipping(batch: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Collate dataset items, dropping the ``None`` ones (unreadable files).

    Tensors are stacked (``(B, ...)``), numbers become a tensor ``(B,)``, anything else a list.
    ``"skipped"`` is the number of items dropped. If every item was ``None`` the result is
    ``{"skipped": len(batch)}`` only.
    """
    items = [b for b in batch if b is not None]
    out: dict[str, Any] = {}
    if items:
        for key in items[0]:
            values = [item[key] for item in items]
            first = values[0]
            if isinstance(first, Tensor):
                out[key] = torch.stack(values)
            elif isinstance(first, bool | int | float):
                out[key] = torch.tensor(values)
            else:
                out[key] = values
    out["skipped"] = len(batch) - len(items)
    return out
