"""Optical flow between the two frames of a training pair, computed offline with OpenCV in the
process that reads the item (a DataLoader worker) and cached (``data.flow``).

Convention (the package's, :mod:`landmarks.geometry.coords`): a flow is ``(2, H, W)`` float32
in *normalised* units, ``(dx, dy)`` on the grid of the frame it starts from: the pixel at
normalised ``p`` of the *source* frame moves to ``p + flow[:, p]`` in the *target* frame
(``flow_x = 2 · dx_pixels / W``, ``flow_y = 2 · dy_pixels / H``). OpenCV's dense flows use
the same direction (``prev(y, x) ≈ next(y + fy, x + fx)``) in pixels. Worked example: a
64-pixel frame whose content moves 3 pixels to the right has ``flow_x = 2 · 3 / 64 = 0.094``.

Estimators (:data:`FLOW_METHODS`): ``dis`` is OpenCV's DIS optical flow (Kroeger et al. 2016)
at its MEDIUM preset, refined at full resolution for frames up to :data:`DIS_FULL_RESOLUTION`
pixels (the preset's half resolution above); ``farneback`` is
:func:`cv2.calcOpticalFlowFarneback` (Farnebäck 2003) with a window of about 1/8 of the frame.
Both run on the grey levels of the resized uint8 frames. Cost on one CPU core per direction
(two per pair): DIS 2.9 / 2.7 / 11 ms at 64 / 128 / 256 px, Farnebäck 1.3 / 5.1 / 21 ms; a
3-pixel shift of a textured frame comes out within 0.01 pixel (median) with either. Neither
follows motions much beyond a tenth of the frame (a fine texture shifted 9 pixels in a 64-px
frame defeats both, 6 pixels do not): train the temporal terms on close frames
(``data.frame_gap`` such as [1, 3]).

:class:`FlowPairs` wraps any frame-pair dataset (items with ``"source"`` and ``"target"``,
e.g. :class:`~landmarks.data.video.VideoFramePairs`) and adds ``"flow"`` (source → target) and
``"flow_back"`` (target → source), each ``(2, S, S)`` float32.

Caching (:class:`FlowCache`): keyed by the *content* of the two frames (a BLAKE2b digest of
their bytes, which costs far less than the flow), the method and :data:`FLOW_VERSION`, so a
changed video, crop, size or decoder can never return a stale flow. Every process keeps an LRU
in memory (``memory_bytes``, default 256 MB per worker); with ``disk=True`` (``data.flow_cache``)
flows are also stored as float16 ``.npy`` files under ``landmarks.fetching.cache_dir()/flow``
(``$LANDMARKS_CACHE/flow``), written atomically, reused across runs and workers and never
pruned: delete the folder to reclaim the space (about 32 kB per pair at 64 px, 512 kB at
256 px). A cache folder that cannot be written degrades to the memory cache with one warning.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from landmarks import fetching
from landmarks.config import FLOW_CHOICES
from landmarks.data.transforms import DatasetError

__all__ = [
    "DIS_FULL_RESOLUTION",
    "FLOW_METHODS",
    "FLOW_VERSION",
    "FlowCache",
    "FlowPairs",
    "compute_flow",
    "pixel_flow",
    "pixel_to_normalised_flow",
]

#: values of ``data.flow`` (``none``: no flow in the items)
FLOW_METHODS: tuple[str, ...] = FLOW_CHOICES
#: DIS refines at full resolution up to this frame side (MEDIUM's half resolution above it)
DIS_FULL_RESOLUTION = 96
#: version of the estimators' settings; part of every cache key (bump it when they change)
FLOW_VERSION = 1

_threads_set = False


def _grey(frame: np.ndarray) -> np.ndarray:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def pixel_flow(source: np.ndarray, target: np.ndarray, method: str) -> np.ndarray:
    """The dense flow from ``source`` to ``target`` in pixels (OpenCV's convention).

    Args:
        source, target: ``(H, W, 3)`` uint8 RGB frames of one size.
        method: ``"dis"`` or ``"farneback"`` (module docstring).

    Returns:
        ``(H, W, 2)`` float32 ``(dx, dy)``: source pixel ``(x, y)`` is at ``(x + dx, y + dy)``
        in ``target``.
    """
    global _threads_set
    if source.shape != target.shape:
        raise ValueError(f"frames of different shapes: {source.shape} and {target.shape}")
    if not _threads_set:  # one thread per data worker: the workers are the parallelism
        cv2.setNumThreads(1)
        _threads_set = True
    a, b = _grey(source), _grey(target)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        if max(a.shape) <= DIS_FULL_RESOLUTION:  # small frames: refine at full resolution
            dis.setFinestScale(0)
        flow = dis.calc(a, b, None)
    elif method == "farneback":
        win = max(5, (min(a.shape) // 8) | 1)
        flow = cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale=0.5, levels=3, winsize=win,
                                            iterations=3, poly_n=5, poly_sigma=1.1, flags=0)
    else:
        raise ValueError(f"unknown flow method {method!r}; expected one of "
                         f"{', '.join(FLOW_METHODS[1:])}")
    return np.asarray(flow, dtype=np.float32)


def pixel_to_normalised_flow(flow: np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` pixel flow → ``(2, H, W)`` normalised flow (``2 · d / W``, ``2 · d / H``).

    Example: ``dx = 3`` pixels on a 64-pixel-wide frame is ``0.09375``."""
    h, w = flow.shape[:2]
    scale = np.array([2.0 / w, 2.0 / h], dtype=np.float32)
    return np.ascontiguousarray((flow * scale).transpose(2, 0, 1))


def compute_flow(source: np.ndarray, target: np.ndarray, method: str) -> np.ndarray:
    """The normalised flow ``(2, H, W)`` float32 from ``source`` to ``target`` (``(H, W, 3)``
    uint8): source point ``p`` is at ``p + flow[:, p]`` in ``target`` (module docstring)."""
    return pixel_to_normalised_flow(pixel_flow(source, target, method))


class FlowCache:
    """Flows by the content of their two frames: an LRU in memory (``memory_bytes``) and,
    with ``disk``, float16 files under ``root`` (default ``cache_dir()/flow``); see the module
    docstring. Thread-safe; each process has its own memory part."""

    def __init__(self, method: str, memory_bytes: int = 256 << 20, disk: bool = False,
                 root: str | Path | None = None) -> None:
        if method not in FLOW_METHODS[1:]:
            raise ValueError(f"unknown flow method {method!r}; expected one of "
                             f"{', '.join(FLOW_METHODS[1:])}")
        self.method = method
        self.memory_bytes = int(memory_bytes)
        self.disk = bool(disk)
        self._root = Path(root) if root is not None else None
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._disk_failed = False
        self.hits = self.misses = 0

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (a DataLoader worker started by spawn) without the lock and the memory
        part: each process fills its own."""
        state = dict(self.__dict__)
        state.update(_memory=OrderedDict(), _bytes=0, _lock=None, hits=0, misses=0)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """The disk cache's folder (``cache_dir()/flow/<method>-v<FLOW_VERSION>``)."""
        base = self._root if self._root is not None else fetching.cache_dir() / "flow"
        return base / f"{self.method}-v{FLOW_VERSION}"

    def key(self, source: np.ndarray, target: np.ndarray) -> str:
        """The hex digest naming the pair ``(source, target)`` (order matters)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.method}/{FLOW_VERSION}/{source.shape}".encode())
        h.update(np.ascontiguousarray(source).data)
        h.update(np.ascontiguousarray(target).data)
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(flow, flow_back)``, each ``(2, H, W)`` float32: source → target and
        target → source (:func:`compute_flow`), from the cache or computed now (views of the
        cached array: copy them before changing them)."""
        key = self.key(source, target)
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None:
                self._memory.move_to_end(key)
                self.hits += 1
                return hit[0], hit[1]
        both = self._load(key)
        if both is None:
            self.misses += 1
            both = np.stack([compute_flow(source, target, self.method),
                             compute_flow(target, source, self.method)])
            self._store(key, both)
        else:
            self.hits += 1
        self._remember(key, both)
        return both[0], both[1]

    def _remember(self, key: str, both: np.ndarray) -> None:
        with self._lock:
            if key not in self._memory:
                self._memory[key] = both
                self._bytes += both.nbytes
            while len(self._memory) > 1 and self._bytes > self.memory_bytes:
                _, old = self._memory.popitem(last=False)
                self._bytes -= old.nbytes

    def _load(self, key: str) -> np.ndarray | None:
        if not self.disk or self._disk_failed:
            return None
        path = self._path(key)
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError):  # absent, or torn by a crash: computed again
            return None
        if data.ndim != 4 or data.shape[:2] != (2, 2):
            return None
        return data.astype(np.float32)

    def _store(self, key: str, both: np.ndarray) -> None:
        if not self.disk or self._disk_failed:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as f:
                    np.save(f, both.astype(np.float16), allow_pickle=False)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as err:
            self._disk_failed = True
            warnings.warn(f"flow cache folder {self.root} cannot be written ({err}); keeping "
                          f"flows in memory only (set $LANDMARKS_CACHE to a writable folder)",
                          stacklevel=3)


def _uint8(frame: Tensor) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] → ``(H, W, 3)`` uint8 (exact for frames read as uint8)."""
    return frame.detach().mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(
        1, 2, 0).contiguous().numpy()


class FlowPairs(Dataset):
    """A frame-pair dataset whose items also carry their optical flows.

    Args:
        dataset: items ``{"source", "target": (3, S, S) float in [0, 1], ...}`` or ``None``
            (an unreadable item, passed on).
        method: ``"dis"`` or ``"farneback"`` (``data.flow``).
        disk_cache: also keep flows on disk (``data.flow_cache``; :class:`FlowCache`).
        memory_bytes: the in-memory LRU's bound, per process.

    Items: the wrapped item plus ``"flow"`` (source → target) and ``"flow_back"``
    (target → source), each ``(2, S, S)`` float32 in normalised units (module docstring).
    An item without ``"source"`` and ``"target"`` (a dataset of single images) raises a
    :class:`DatasetError` naming ``data.flow``.
    """

    def __init__(self, dataset: Dataset, method: str, *, disk_cache: bool = False,
                 memory_bytes: int = 256 << 20) -> None:
        self.dataset = dataset
        self.cache = FlowCache(method, memory_bytes, disk_cache)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:  # the wrapped reader's attributes (.skipped, ...)
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        item = self.dataset[index]
        if item is None:
            return None
        if not isinstance(item, Mapping) or "source" not in item or "target" not in item:
            keys = sorted(item) if isinstance(item, Mapping) else type(item).__name__
            raise DatasetError(f"data.flow={self.cache.method!r} needs frame pairs (items with "
                               f"'source' and 'target' frames, e.g. data.kind video), but this "
                               f"dataset's items hold {keys}; set data.flow=none")
        flow, back = self.cache.get(_uint8(item["source"]), _uint8(item["target"]))
        # copies: the cached arrays must not change with the item's tensors
        return {**item, "flow": torch.from_numpy(flow.copy()),
                "flow_back": torch.from_numpy(back.copy())}

    def __repr__(self) -> str:
        return f"FlowPairs({self.dataset!r}, method={self.cache.method!r})"
