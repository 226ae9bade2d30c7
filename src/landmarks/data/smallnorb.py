"""SmallNORB (LeCun, Huang, Bottou, CVPR 2004): pairs of neighbouring viewpoints of one toy.

Training reader only: SmallNORB has no landmark annotations, so there is no benchmark; the
paper shows its landmarks on SmallNORB qualitatively.

**Files** (the six files of the download, decompressed with ``gunzip``; the reader memory-maps
the image file and never reads it whole)::

    <root>/smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat    data.split = "train"
    <root>/smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat    (instances 4, 6, 7, 8, 9)
    <root>/smallnorb-5x46789x9x18x6x2x96x96-training-info.mat
    <root>/smallnorb-5x01235x9x18x6x2x96x96-testing-dat.mat     data.split = "test"
    <root>/smallnorb-5x01235x9x18x6x2x96x96-testing-cat.mat     (instances 0, 1, 2, 3, 5)
    <root>/smallnorb-5x01235x9x18x6x2x96x96-testing-info.mat

Despite the ``.mat`` suffix these are not MATLAB files but NORB *binary matrices*: a header of
little-endian int32 ``magic``, ``ndim`` and ``max(3, ndim)`` dimension sizes (unused trailing
sizes are 1), then the data, little-endian, last index fastest. ``magic`` is ``0x1E3D4C55`` for
a byte matrix and ``0x1E3D4C54`` for an int32 matrix. ``-dat``: uint8 ``(N, 2, 96, 96)``, the
stereo pair (camera 0 = left, 1 = right); ``-cat``: int32 ``(N,)``, category 0–4 = animal,
human, airplane, truck, car; ``-info``: int32 ``(N, 4)`` = instance (0–9), elevation (0–8:
30°–70° in 5° steps), azimuth (0, 2, …, 34: ×10°, so 20° steps), lighting (0–5). ``N`` is
24,300 per split (5 categories × 5 instances × 6 lightings × 9 elevations × 18 azimuths); the
rows are in no particular order, so the reader indexes them by their info.

**Pairs.** One category at a time. ``len(dataset)`` is the number of images of that category in
the split (4,860); item ``i`` is image ``i`` (the *target*) and a *source* image of the same
instance, lighting and camera seen from a neighbouring viewpoint, drawn uniformly (torch RNG)
among the viewpoints at most ``max_step`` steps away:

* ``neighbours="both"`` (default): elevation and azimuth each change by at most ``max_step``
  steps (5° and 20° per step), not both zero — up to 8 neighbours for ``max_step=1``;
* ``neighbours="azimuth"``: same elevation, azimuth ±1 … ±``max_step`` steps;
* ``neighbours="elevation"``: same azimuth, elevation ±1 … ±``max_step`` steps.

Azimuth wraps around (340° and 0° are neighbours); elevation does not. A view with no
neighbour in the file (never the case in the full download) is left out of the index and
counted in ``.isolated``. Images are grey; they are replicated to 3 channels, optionally
cropped (``data.crop``), and resized to ``image_size`` with the library's geometry
(:mod:`landmarks.data.transforms`).

**Options** (``data.options``): ``category`` (``"animal"``, ``"human"``, ``"airplane"``,
``"truck"``, ``"car"`` or 0–4; default ``"car"``), ``camera`` (0 or 1; default 0),
``neighbours`` (``"both"``, ``"azimuth"``, ``"elevation"``; default ``"both"``), ``max_step``
(int >= 1; default 1).

Items: ``{"source": (3, S, S), "target": (3, S, S)}`` float32 in ``[0, 1]`` and ``"rows":
tensor([row_target, row_source])`` (int64, rows of the split's files); ``None`` if the image
file cannot be read (warned once; :func:`~landmarks.data.video.collate_skipping` counts it).
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from landmarks.config import DataConfig
from landmarks.data.options import check_options
from landmarks.data.transforms import DatasetError, check_crop, resize_image, uint8_to_tensor
from landmarks.registry import register_dataset

__all__ = [
    "CATEGORIES",
    "FILE_PREFIX",
    "SmallNORBPairs",
    "read_norb_header",
    "read_norb_matrix",
    "smallnorb_paths",
]

#: Category names in label order (the ``-cat`` files' 0–4).
CATEGORIES: tuple[str, ...] = ("animal", "human", "airplane", "truck", "car")
#: File-name prefix of each split; the files are ``<prefix>-{dat,cat,info}.mat``.
FILE_PREFIX: dict[str, str] = {
    "train": "smallnorb-5x46789x9x18x6x2x96x96-training",
    "test": "smallnorb-5x01235x9x18x6x2x96x96-testing",
}
MAGIC_BYTE = 0x1E3D4C55
MAGIC_INT = 0x1E3D4C54
_MAGIC_DTYPES: dict[int, np.dtype] = {
    0x1E3D4C51: np.dtype("<f4"),
    0x1E3D4C53: np.dtype("<f8"),
    MAGIC_INT: np.dtype("<i4"),
    MAGIC_BYTE: np.dtype("u1"),
    0x1E3D4C56: np.dtype("<i2"),
}
_WHAT = {"dat": "the stereo image pairs", "cat": "the category labels",
         "info": "instance / elevation / azimuth / lighting of each pair"}
_OPTIONS = ("category", "camera", "neighbours", "max_step")
_NEIGHBOURS = ("both", "azimuth", "elevation")
_AZIMUTHS = 18  # 0..34 in steps of 2 (×10°)


def smallnorb_paths(root: str | Path, split: str) -> dict[str, Path]:
    """The ``{"dat", "cat", "info"}`` file paths of ``split`` (``"train"`` or ``"test"``)."""
    if split not in FILE_PREFIX:
        raise DatasetError(f"SmallNORB split {split!r} is unknown; expected one of "
                           f"{', '.join(FILE_PREFIX)}")
    root = Path(root).expanduser()
    return {kind: root / f"{FILE_PREFIX[split]}-{kind}.mat" for kind in ("dat", "cat", "info")}


def read_norb_header(path: str | Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Parse a NORB binary-matrix header: ``(dtype, shape, data offset in bytes)``.

    Raises :class:`DatasetError` naming the file when the magic number is not a NORB one, the
    header is cut short, or the file is shorter than the header says.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise DatasetError(f"SmallNORB file {path} is too short for a binary-matrix header")
        magic, ndim = struct.unpack("<ii", head)
        if magic not in _MAGIC_DTYPES:
            raise DatasetError(
                f"SmallNORB file {path} is not a NORB binary matrix (magic {magic & 0xFFFFFFFF:#x};"
                f" expected {MAGIC_BYTE:#x} or {MAGIC_INT:#x}); is it still gzip-compressed?")
        if not 1 <= ndim <= 16:
            raise DatasetError(f"SmallNORB file {path}: implausible ndim {ndim} in its header")
        count = max(3, ndim)
        raw = fh.read(4 * count)
        if len(raw) < 4 * count:
            raise DatasetError(f"SmallNORB file {path}: header cut short")
    dims = struct.unpack(f"<{count}i", raw)
    shape = tuple(int(d) for d in dims[:ndim])
    dtype = _MAGIC_DTYPES[magic]
    offset = 8 + 4 * count
    need = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = path.stat().st_size
    if size < need:
        raise DatasetError(f"SmallNORB file {path} is truncated: {size} bytes, its header "
                           f"{shape} {dtype} needs {need}")
    return dtype, shape, offset


def read_norb_matrix(path: str | Path, mmap: bool = False) -> np.ndarray:
    """Read a NORB binary matrix (``mmap=True``: a read-only memory map, nothing read yet)."""
    dtype, shape, offset = read_norb_header(path)
    if mmap:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = np.fromfile(fh, dtype=dtype, count=int(np.prod(shape, dtype=np.int64)))
    return data.reshape(shape)


def _check_file(path: Path, kind: str) -> None:
    if path.is_file():
        return
    gz = path.with_name(path.name + ".gz")
    hint = (f"; {gz.name} is there: decompress it first (gunzip {gz}), the reader memory-maps "
            f"the uncompressed file" if gz.is_file() else
            f" (the '{path.name}' file of the SmallNORB download, gunzipped)")
    raise DatasetError(f"SmallNORB {kind} file {path} ({_WHAT[kind]}) is missing{hint}")


def _category_index(value: Any) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and 0 <= value < len(CATEGORIES):
        return value
    if isinstance(value, str) and value.lower() in CATEGORIES:
        return CATEGORIES.index(value.lower())
    raise DatasetError(f"SmallNORB option category={value!r} is invalid; expected one of "
                       f"{', '.join(CATEGORIES)} or 0-{len(CATEGORIES) - 1}")


def _neighbour_offsets(mode: str, max_step: int) -> list[tuple[int, int]]:
    """(elevation step, azimuth step) offsets of the neighbouring viewpoints."""
    r = range(-max_step, max_step + 1)
    if mode == "azimuth":
        return [(0, da) for da in r if da]
    if mode == "elevation":
        return [(de, 0) for de in r if de]
    return [(de, da) for de in r for da in r if de or da]


class SmallNORBPairs(Dataset):
    """Pairs of neighbouring viewpoints of one SmallNORB category (module docstring).

    ``root``: the folder holding the decompressed files; ``split``: ``"train"`` or ``"test"``;
    ``category``: a name of :data:`CATEGORIES` or its index; ``camera``: 0 (left) or 1 (right);
    ``neighbours``: ``"both"``, ``"azimuth"`` or ``"elevation"``; ``max_step``: the largest
    viewpoint change in steps (5° elevation, 20° azimuth).
    """

    def __init__(self, root: str | Path, image_size: int, split: str = "train",
                 category: str | int = "car", camera: int = 0, neighbours: str = "both",
                 max_step: int = 1, crop: Sequence[float] | None = None) -> None:
        self.root = Path(root).expanduser()
        self.image_size = int(image_size)
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.split = split
        self.category = _category_index(category)
        if isinstance(camera, bool) or camera not in (0, 1):
            raise DatasetError(f"SmallNORB option camera={camera!r} is invalid; expected 0 "
                               f"(left) or 1 (right)")
        self.camera = int(camera)
        if neighbours not in _NEIGHBOURS:
            raise DatasetError(f"SmallNORB option neighbours={neighbours!r} is invalid; "
                               f"expected one of {', '.join(_NEIGHBOURS)}")
        self.neighbours = neighbours
        if isinstance(max_step, bool) or not isinstance(max_step, int) or max_step < 1:
            raise DatasetError(f"SmallNORB option max_step={max_step!r} is invalid; expected "
                               f"an integer >= 1")
        self.max_step = max_step
        self.crop = check_crop(crop)
        if not self.root.is_dir():
            raise DatasetError(f"SmallNORB root {self.root} is not a folder; expected the folder "
                               f"holding the {FILE_PREFIX.get(split, 'smallnorb-…')}-*.mat files")
        self.paths = smallnorb_paths(self.root, split)
        for kind, path in self.paths.items():
            _check_file(path, kind)
        self._dat_header = read_norb_header(self.paths["dat"])
        dtype, shape, _ = self._dat_header
        if dtype != np.uint8 or len(shape) != 4 or shape[1] != 2:
            raise DatasetError(f"SmallNORB file {self.paths['dat']}: expected a uint8 "
                               f"(N, 2, H, W) matrix, got {dtype} {shape}")
        cat = read_norb_matrix(self.paths["cat"]).reshape(-1)
        info = read_norb_matrix(self.paths["info"])
        if info.ndim != 2 or info.shape[1] != 4:
            raise DatasetError(f"SmallNORB file {self.paths['info']}: expected an (N, 4) matrix, "
                               f"got {info.shape}")
        if not len(cat) == len(info) == shape[0]:
            raise DatasetError(f"SmallNORB files of split {split!r} disagree on the number of "
                               f"pairs: dat {shape[0]}, cat {len(cat)}, info {len(info)}")
        self.skipped: list[str] = []
        self.isolated = 0
        self.rows, self.sources = self._build_index(cat, info)
        if not self.rows:
            raise DatasetError(
                f"SmallNORB {split} files under {self.root} hold no "
                f"{CATEGORIES[self.category]} images with a neighbouring viewpoint "
                f"(neighbours={neighbours!r}, max_step={max_step})")
        self._images: np.memmap | None = None

    def _build_index(self, cat: np.ndarray, info: np.ndarray
                     ) -> tuple[list[int], list[np.ndarray]]:
        """Rows of the category and, for each, the rows of its neighbouring views."""
        where: dict[tuple[int, int, int, int], int] = {}
        for row in np.flatnonzero(cat == self.category):
            inst, elev, azim, light = (int(v) for v in info[row])
            where[(inst, light, elev, azim // 2)] = int(row)
        offsets = _neighbour_offsets(self.neighbours, self.max_step)
        rows, sources = [], []
        for (inst, light, elev, az), row in sorted(where.items(), key=lambda kv: kv[1]):
            found = []
            for de, da in offsets:
                other = where.get((inst, light, elev + de, (az + da) % _AZIMUTHS))
                if other is not None:
                    found.append(other)
            if found:
                rows.append(row)
                sources.append(np.asarray(sorted(set(found)), dtype=np.int64))
            else:
                self.isolated += 1
        return rows, sources

    # -- reading -------------------------------------------------------------------------------
    def _dat(self) -> np.memmap:
        if self._images is None:  # opened lazily, once per process (DataLoader workers)
            self._images = read_norb_matrix(self.paths["dat"], mmap=True)
        return self._images

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_images"] = None  # never pickle the memory map's contents
        return state

    def image(self, row: int) -> Tensor:
        """Image ``row`` of the split's files (this dataset's camera) as ``(3, S, S)`` float32."""
        gray = np.asarray(self._dat()[row, self.camera])
        rgb = resize_image(Image.fromarray(gray, "L"), self.image_size, self.crop)
        return uint8_to_tensor(rgb)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        row = self.rows[index]
        options = self.sources[index]
        src = int(options[int(torch.randint(len(options), (1,)).item())])
        try:
            target, source = self.image(row), self.image(src)
        except Exception as err:  # an I/O error on the memory-mapped file
            key = str(self.paths["dat"])
            if key not in self.skipped:
                self.skipped.append(key)
                warnings.warn(f"skipping unreadable SmallNORB image file {key}: {err}",
                              stacklevel=2)
            return None
        return {"source": source, "target": target,
                "rows": torch.tensor([row, src], dtype=torch.int64)}

    def __repr__(self) -> str:
        return (f"SmallNORBPairs(root={str(self.root)!r}, split={self.split!r}, "
                f"category={CATEGORIES[self.category]!r}, camera={self.camera}, "
                f"neighbours={self.neighbours!r}, max_step={self.max_step}, "
                f"images={len(self)}, image_size={self.image_size})")


@register_dataset("smallnorb")
def _factory(cfg: DataConfig, image_size: int) -> Dataset:
    """``data.kind=smallnorb``: :class:`SmallNORBPairs` from ``cfg.root`` / ``cfg.split`` /
    ``cfg.options`` (``category``, ``camera``, ``neighbours``, ``max_step``) / ``cfg.crop``."""
    check_options(cfg.options, _OPTIONS, "smallnorb", in_data_options=True)
    return SmallNORBPairs(cfg.root, image_size, split=cfg.split, crop=cfg.crop or None,
                          **cfg.options)
