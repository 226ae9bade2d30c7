"""Tiny SmallNORB, SVHN and VoxCeleb roots in the datasets' real on-disk formats (no real data).

* :func:`write_smallnorb_fixture`: NORB binary matrices (``*-dat.mat``, ``*-cat.mat``,
  ``*-info.mat`` with the real file names, magic numbers, headers, dtypes and 96×96 stereo
  pairs) holding a small grid of views in shuffled order.
* :func:`write_svhn_fixture`: MATLAB v5 ``train_32x32.mat`` / ``test_32x32.mat`` /
  ``extra_32x32.mat`` with ``X`` uint8 ``(32, 32, 3, N)`` and ``y`` uint8 ``(N, 1)`` (10 = 0).
* :func:`write_voxceleb_fixture`: ``id10001/<11-char video id>/00001.mp4`` clips (h264, or
  MPEG-4 part 2 where PyAV lacks libx264) or ``unzippedFaces``-style
  ``<Name>/1.6/<video id>/0000375.jpg`` frame folders with a ``vox1_meta.csv``.

Pictures encode what they show so that tests can check it after resizing: a uniform level
that identifies the image (SmallNORB row and camera, SVHN index, VoxCeleb clip and frame) and
a marker block in the top-right corner (which a transposition would move to the bottom-left).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from fixtures import write_video_frames

# ----------------------------------------------------------------------------------------------
# SmallNORB

NORB_TRAIN_PREFIX = "smallnorb-5x46789x9x18x6x2x96x96-training"
NORB_TEST_PREFIX = "smallnorb-5x01235x9x18x6x2x96x96-testing"
NORB_MAGIC_BYTE = 0x1E3D4C55
NORB_MAGIC_INT = 0x1E3D4C54
NORB_SIZE = 96
NORB_MARKER = 24  # the marker block: rows 0..23, columns 72..95


def norb_level(row: int, camera: int) -> int:
    """The uniform grey level of image ``row`` seen by ``camera`` in the fixture."""
    return 30 + 5 * row if camera == 0 else 225 - 5 * row


def _write_norb_matrix(path: Path, array: np.ndarray, magic: int, header_dims: Sequence[int]
                       ) -> None:
    """A NORB binary matrix: int32 magic, ndim, max(3, ndim) dims, then little-endian data."""
    ndim = array.ndim
    dims = list(header_dims) + [1] * (max(3, ndim) - len(header_dims))
    with open(path, "wb") as fh:
        fh.write(struct.pack("<ii", magic, ndim))
        fh.write(struct.pack(f"<{len(dims)}i", *dims))
        fh.write(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())


def write_smallnorb_fixture(root: str | Path, splits: Sequence[str] = ("train", "test"),
                            categories: Sequence[int] = (4, 2), lightings: Sequence[int] = (0, 3),
                            elevations: Sequence[int] = (0, 1, 2),
                            azimuths: Sequence[int] = (0, 2, 34), seed: int = 0,
                            gzip_only: bool = False) -> dict[str, np.ndarray]:
    """Write the ``-dat`` / ``-cat`` / ``-info`` files of ``splits`` into ``root``.

    Each split holds every combination of ``categories`` × one instance (4 for train, 0 for
    test, as in the real split) × ``lightings`` × ``elevations`` × ``azimuths`` (raw values:
    0, 2, …, 34), in a shuffled row order. Image ``row`` of camera ``c`` is a uniform
    :func:`norb_level` with a 24×24 marker (255 for camera 0, 0 for camera 1) in its top-right
    corner. With ``gzip_only`` only ``<file>.mat.gz`` files are written (as downloaded).
    Returns ``{split: info}`` with ``info`` the ``(N, 5)`` int array of (category, instance,
    elevation, azimuth, lighting) per row.
    """
    import gzip

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for split in splits:
        instance = 4 if split == "train" else 0
        prefix = NORB_TRAIN_PREFIX if split == "train" else NORB_TEST_PREFIX
        combos = [(c, instance, e, a, li) for c in categories for li in lightings
                  for e in elevations for a in azimuths]
        order = np.random.default_rng(seed).permutation(len(combos))
        table = np.asarray([combos[i] for i in order], dtype=np.int64)
        n = len(table)
        dat = np.zeros((n, 2, NORB_SIZE, NORB_SIZE), np.uint8)
        for row in range(n):
            for cam in (0, 1):
                dat[row, cam] = norb_level(row, cam)
                dat[row, cam, :NORB_MARKER, NORB_SIZE - NORB_MARKER:] = 255 if cam == 0 else 0
        cat = table[:, 0].astype(np.int32)
        info = table[:, [1, 2, 3, 4]].astype(np.int32)
        files = {
            "dat": (dat, NORB_MAGIC_BYTE, [n, 2, NORB_SIZE, NORB_SIZE]),
            "cat": (cat, NORB_MAGIC_INT, [n]),
            "info": (info, NORB_MAGIC_INT, [n, 4]),
        }
        for kind, (array, magic, dims) in files.items():
            path = root / f"{prefix}-{kind}.mat"
            _write_norb_matrix(path, array, magic, dims)
            if gzip_only:
                with open(path, "rb") as src, gzip.open(str(path) + ".gz", "wb") as dst:
                    dst.write(src.read())
                path.unlink()
        out[split] = table
    return out


# ----------------------------------------------------------------------------------------------
# SVHN (cropped digits)

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}


def svhn_level(index: int) -> int:
    """The green level of digit ``index`` in the fixture."""
    return 20 + 30 * index


def write_svhn_fixture(root: str | Path, counts: dict[str, int] | None = None
                       ) -> dict[str, np.ndarray]:
    """Write ``train_32x32.mat`` (5 digits) and ``test_32x32.mat`` (3 digits) by default
    (``counts`` = {split: N}) as MATLAB v5 files: ``X`` uint8 ``(32, 32, 3, N)``, ``y`` uint8
    ``(N, 1)`` with labels 1–10 (10 = digit 0). Digit ``i`` has green level
    :func:`svhn_level`, blue 90, red 0, and a red 8×8 block in its top-right corner. Returns
    ``{split: X}``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    counts = counts if counts is not None else {"train": 5, "test": 3}
    out = {}
    for split, n in counts.items():
        x = np.zeros((32, 32, 3, n), np.uint8)
        for i in range(n):
            x[:, :, 1, i] = svhn_level(i)
            x[:, :, 2, i] = 90
            x[:8, 24:, 0, i] = 255
        y = ((np.arange(n) % 10) + 1).astype(np.uint8).reshape(n, 1)
        scipy.io.savemat(str(root / SVHN_FILES[split]), {"X": x, "y": y}, format="5",
                         do_compression=True)
        out[split] = x
    return out


# ----------------------------------------------------------------------------------------------
# VoxCeleb

VOX_SIZE = 32  # the real clips are 224×224; tiny here to keep the tests fast


def vox_color(clip: int, frame: int) -> tuple[int, int, int]:
    """The uniform RGB colour of ``frame`` of fixture clip number ``clip``."""
    return 20 + 40 * clip, 10 + 20 * frame, 128


def _vox_frame(clip: int, frame: int) -> np.ndarray:
    img = np.empty((VOX_SIZE, VOX_SIZE, 3), np.uint8)
    img[:] = vox_color(clip, frame)
    return img


def _write_clip(path: Path, clip: int, frames: int) -> None:
    write_video_frames(path, [_vox_frame(clip, t) for t in range(frames)], 25, crf=4)


#: The mp4 layout: identity → {video id: number of frames of each utterance clip}.
VOX_MP4_LAYOUT: dict[str, dict[str, list[int]]] = {
    "id10001": {"1zcIwhmdeo4": [6, 5], "7w0IBEWc9Qw": [6]},
    "id10002": {"C7k7C-PDvAA": [6]},
    "id10003": {"E_6MjfYr0sQ": [2]},  # too short for frame_gap min 3: skipped
    "id10270": {"5r0dWxy17C8": [6]},  # a VoxCeleb1 test identity
}
#: The unzippedFaces layout: name → (id, set, {video id: frames}); frames are JPEGs.
VOX_FACES_LAYOUT: dict[str, tuple[str, str, dict[str, int]]] = {
    "Ann_Example": ("id10001", "dev", {"1zcIwhmdeo4": 5, "7w0IBEWc9Qw": 4}),
    "Ted_Sample": ("id10270", "test", {"5r0dWxy17C8": 5}),
}


def write_voxceleb_fixture(root: str | Path, layout: str = "mp4", meta: bool = True
                           ) -> dict[str, int]:
    """Write a tiny VoxCeleb root.

    ``layout="mp4"``: :data:`VOX_MP4_LAYOUT` as ``<id>/<video>/<00001>.mp4`` clips;
    ``layout="faces"``: :data:`VOX_FACES_LAYOUT` as ``<Name>/1.6/<video>/<frame:07d>.jpg``
    (frame numbers 375, 400, … as in the real folders) plus, with ``meta``, a tab-separated
    ``vox1_meta.csv`` next to them. Every clip has its own number ``k`` (in writing order):
    frame ``t`` is the uniform colour :func:`vox_color` (k, t). Returns ``{clip path: k}``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    clips: dict[str, int] = {}
    if layout == "mp4":
        for identity, videos in VOX_MP4_LAYOUT.items():
            for video, lengths in videos.items():
                for u, frames in enumerate(lengths, start=1):
                    path = root / identity / video / f"{u:05d}.mp4"
                    _write_clip(path, len(clips), frames)
                    clips[str(path)] = len(clips)
        return clips
    if layout != "faces":
        raise ValueError(f"layout: expected mp4 or faces, got {layout!r}")
    rows = ["VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet"]
    for name, (vox_id, which, videos) in VOX_FACES_LAYOUT.items():
        # a trailing '.' on a meta name must still match the folder name
        listed = name + "." if which == "test" else name
        rows.append(f"{vox_id}\t{listed}\tf\tNowhere\t{which}")
        for video, frames in videos.items():
            folder = root / name / "1.6" / video
            folder.mkdir(parents=True, exist_ok=True)
            k = len(clips)
            for t in range(frames):
                Image.fromarray(_vox_frame(k, t)).save(folder / f"{375 + 25 * t:07d}.jpg",
                                                       quality=95)
            clips[str(folder)] = k
    if meta:
        (root / "vox1_meta.csv").write_text("\n".join(rows) + "\n")
    return clips
