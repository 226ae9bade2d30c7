"""VoxCeleb (Nagrani et al. 2017; Chung et al. 2018): pairs of frames of one face-track clip.

Training reader only: VoxCeleb has no landmark annotations, so there is no benchmark.

**Layout.** A folder per identity, inside it a folder per YouTube video, inside that either
mp4 utterance clips or frame folders; every clip / frame folder is one video of
:class:`~landmarks.data.video.VideoFramePairs` (each folder that directly holds images is one
clip, frames in file-name order), so a pair never mixes two clips, two videos or two people::

    <root>/id10001/1zcIwhmdeo4/00001.mp4                 VoxCeleb1/2 video release
    <root>/id10001/1zcIwhmdeo4/00002.mp4                 (VoxCeleb2: <dev|test>/mp4/id00012/…)
    <root>/A.J._Buckley/1.6/1zcIwhmdeo4/0000375.jpg      VoxCeleb1 "unzippedFaces" frames
    <root>/A.J._Buckley/1.6/1zcIwhmdeo4/0000400.jpg      (identity folders named by celebrity)

Identity folders are the top-level folders of ``root`` (hidden ones ignored); identity folders
with no usable clip are skipped with a warning (``.skipped``).

**Splits** (``data.split``), VoxCeleb1's identity split (the verification split, which holds
out whole people):

* ``"test"``: the 40 identities ``id10270`` – ``id10309``;
* ``"train"``: every other VoxCeleb1 identity (``id10001`` – ``id11251``, 1,211 people);
* ``"all"``: every identity folder under ``root``, whatever its name.

Folders named by celebrity (``unzippedFaces``) are mapped to VoxCeleb1 ids through the
dataset's ``vox1_meta.csv`` (tab-separated: ``VoxCeleb1 ID``, ``VGGFace1 ID`` (the folder
name), gender, nationality, ``Set`` = dev/test), looked for at ``<root>/vox1_meta.csv``, then
next to ``root``, or given with the ``meta`` option. VoxCeleb2's identities (``id00012`` …) are
split by download instead (its dev and test sets are separate archives): point ``data.root``
at the one you want and use ``data.split=all``; ``train`` / ``test`` refuse them.

**Options** (``data.options``): ``meta``: path of ``vox1_meta.csv`` (default: looked for as
above). Pair sampling follows ``data.frame_gap`` (frames, not seconds: VoxCeleb's mp4 clips
are 25 fps, while ``unzippedFaces`` keeps about one frame per second), ``data.crop`` and
``data.max_frames`` exactly as for ``data.kind=video``.

Items: ``{"source", "target": (3, S, S)}`` float32 in ``[0, 1]`` and ``"frames":
tensor([t_target, t_source])``, or ``None`` for an undecodable clip (see
:class:`~landmarks.data.video.VideoFramePairs`).

**Index cache.** Indexing needs the number of frames of every mp4 clip (150k in VoxCeleb1, 1M
in VoxCeleb2), which means opening each file; the counts are kept across runs by
:mod:`landmarks.data.index_cache` (where the file lives, what invalidates an entry, how to
delete it), so that a later construction on unchanged data opens no video. A VoxCeleb root has
one cache file (``index_cache_path(root, max_frames)``), shared by the three splits and by
``data.kind=video`` on the same root: the clips of the identity folders being read are probed
on cache misses, the entries of the other splits' identity folders are kept, those of clips and
identity folders no longer under ``root`` dropped. Frame folders (``unzippedFaces``) need no
probing.

DataLoader workers get the built dataset (forked or pickled), so they never rebuild the index.
Each DDP rank builds its own, so on the very first start every rank probes every clip; construct
the dataset on rank 0 before the others (e.g. behind a barrier) to probe only once.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor
from torch.utils.data import Dataset

from landmarks.config import DataConfig
from landmarks.data import video
from landmarks.data.index_cache import probe_frame_counts
from landmarks.data.options import check_options
from landmarks.data.pairs import ClipFrames
from landmarks.data.transforms import DatasetError
from landmarks.data.video import VideoFramePairs, find_sources
from landmarks.registry import register_dataset

__all__ = [
    "SPLITS",
    "TEST_IDS",
    "VOX1_IDS",
    "VoxCelebPairs",
    "identity_split",
    "read_vox1_meta",
]

#: VoxCeleb1's test identities (the verification test set): id10270 – id10309.
TEST_IDS: range = range(10270, 10310)
#: All VoxCeleb1 identities: id10001 – id11251.
VOX1_IDS: range = range(10001, 11252)
SPLITS: tuple[str, ...] = ("train", "test", "all")
META_NAME = "vox1_meta.csv"
_ID = re.compile(r"^id(\d{5})$")
_OPTIONS = ("meta",)


def identity_split(identity: str) -> str | None:
    """``"train"`` / ``"test"`` for a VoxCeleb1 id such as ``"id10270"``; ``None`` for anything
    else (a VoxCeleb2 id, a celebrity name)."""
    m = _ID.match(identity)
    if m is None or int(m.group(1)) not in VOX1_IDS:
        return None
    return "test" if int(m.group(1)) in TEST_IDS else "train"


def read_vox1_meta(path: str | Path) -> dict[str, tuple[str, str]]:
    """Parse ``vox1_meta.csv``: ``{VGGFace1 name: (VoxCeleb1 id, "train" | "test")}``.

    Rows are tab-separated (commas accepted too); the header row and rows whose first field is
    not an ``idNNNNN`` are ignored. The ``Set`` column (last) says ``dev`` (→ ``"train"``) or
    ``test``. A name ending in ``.`` is also entered without it (so that it matches a folder
    named without the dot). Raises :class:`DatasetError` naming the file when it
    holds no such row.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise DatasetError(f"VoxCeleb1 meta file {path} cannot be read: {err}") from err
    table: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        sep = "\t" if "\t" in line else ","
        fields = [f.strip() for f in line.split(sep)]
        if len(fields) < 3 or not _ID.match(fields[0]):
            continue
        which = fields[-1].lower()
        if which not in ("dev", "test"):
            continue
        entry = (fields[0], "test" if which == "test" else "train")
        table[fields[1]] = entry
        table.setdefault(fields[1].rstrip("."), entry)  # also without a trailing '.'
    if not table:
        raise DatasetError(f"VoxCeleb1 meta file {path} holds no rows 'idNNNNN<TAB>name<TAB>"
                           f"gender<TAB>nationality<TAB>dev|test'")
    return table


def _identity_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


class VoxCelebPairs(ClipFrames):
    """Frame pairs of the VoxCeleb clips of one identity split (module docstring).

    One :class:`~landmarks.data.video.VideoFramePairs` per identity folder of the split, read
    as one dataset: ``len`` is the total number of frames, ``dataset[i]`` a pair of frames of
    the clip that frame ``i`` belongs to. ``.identities`` lists the folders used, ``.skipped``
    the clips and identity folders left out (with reasons in ``.skip_reasons``).
    """

    def __init__(self, root: str | Path, image_size: int, split: str = "train",
                 frame_gap: Sequence[int] = (3, 30), crop: Sequence[float] | None = None,
                 max_frames: int = 0, meta: str | Path | None = None) -> None:
        self.root = Path(root).expanduser()
        self.image_size = int(image_size)
        if split not in SPLITS:
            raise DatasetError(f"VoxCeleb split {split!r} is unknown; expected one of "
                               f"{', '.join(SPLITS)}")
        self.split = split
        if not self.root.is_dir():
            raise DatasetError(f"VoxCeleb root {self.root} is not a folder; expected a folder "
                               f"of identity folders (id10001/<video>/00001.mp4 or "
                               f"<name>/1.6/<video>/<frame>.jpg)")
        folders = _identity_folders(self.root)
        if not folders:
            raise DatasetError(f"VoxCeleb root {self.root} holds no identity folders (expected "
                               f"id10001/<video>/00001.mp4 or <name>/1.6/<video>/<frame>.jpg)")
        self.meta_path = Path(meta).expanduser() if meta else None
        if self.meta_path is not None and not self.meta_path.is_file():
            raise DatasetError(f"VoxCeleb1 meta file {self.meta_path} (option 'meta') is "
                               f"missing; expected vox1_meta.csv of the VoxCeleb1 download")
        chosen = folders if split == "all" else self._select(folders)
        if not chosen:
            raise DatasetError(f"VoxCeleb root {self.root} holds no identity of split "
                               f"{split!r} ({len(folders)} identity folders, e.g. "
                               f"{folders[0].name}; test = id{TEST_IDS[0]}–id{TEST_IDS[-1]})")
        self._skipped: dict[str, str] = {}  # identity folders left out -> reason
        self.parts: list[VideoFramePairs] = []
        self.identities: list[str] = []
        if max_frames < 0:
            raise ValueError(f"max_frames: expected >= 0 (0 = all frames), got {max_frames}")
        # list every clip, then count the frames of the video files through the index cache of
        # the whole root (one file, not one per identity folder), keeping the other splits' part
        sources = {folder: find_sources(folder) for folder in chosen}
        clips = [path for found in sources.values() for path, frames in found if not frames]
        others = {f.name for f in folders} - {f.name for f in chosen}
        counts = (probe_frame_counts(self.root, clips, int(max_frames), keep=others,
                                     count=video.count_frames) if clips else {})
        for folder in chosen:
            try:
                part = VideoFramePairs(folder, image_size, frame_gap=frame_gap, crop=crop,
                                       max_frames=max_frames, sources=sources[folder],
                                       frame_counts=counts)
            except DatasetError as err:
                self._skipped[str(folder)] = str(err)
                warnings.warn(f"skipping VoxCeleb identity {folder}: {err}", stacklevel=2)
                continue
            self.parts.append(part)
            self.identities.append(folder.name)
        if not self.parts:
            raise DatasetError(f"VoxCeleb root {self.root} holds no usable clip in split "
                               f"{split!r} ({len(self._skipped)} identity folders skipped: "
                               + "; ".join(f"{k}: {v}" for k, v in self._skipped.items())
                               + ")")
        self.index_clips([len(p) for p in self.parts])

    def _select(self, folders: list[Path]) -> list[Path]:
        """The identity folders of ``self.split`` (``"train"`` or ``"test"``)."""
        table: dict[str, tuple[str, str]] | None = None
        chosen = []
        for folder in folders:
            which = identity_split(folder.name)
            if which is None and _ID.match(folder.name):
                raise DatasetError(
                    f"VoxCeleb identity folder {folder} is not a VoxCeleb1 id "
                    f"(id{VOX1_IDS[0]}–id{VOX1_IDS[-1]}), so data.split={self.split!r} cannot "
                    f"place it; VoxCeleb2's dev and test sets are separate downloads: point "
                    f"data.root at the one you want and set data.split=all")
            if which is None:
                if table is None:
                    table = read_vox1_meta(self._find_meta(folder))
                entry = table.get(folder.name) or table.get(folder.name.rstrip("."))
                if entry is None:
                    raise DatasetError(f"VoxCeleb identity folder {folder} is not listed in "
                                       f"{self._find_meta(folder)} (VGGFace1 ID column)")
                which = entry[1]
            if which == self.split:
                chosen.append(folder)
        return chosen

    def _find_meta(self, folder: Path) -> Path:
        if self.meta_path is not None:
            return self.meta_path
        for candidate in (self.root / META_NAME, self.root.parent / META_NAME):
            if candidate.is_file():
                return candidate
        raise DatasetError(
            f"VoxCeleb1 meta file {self.root / META_NAME} is missing (vox1_meta.csv of the "
            f"VoxCeleb1 download, mapping names to ids and dev/test); it is needed to split "
            f"identity folders named by celebrity such as {folder.name}. Put it there or next "
            f"to the root, pass data.options.meta=PATH, or use data.split=all")

    @property
    def skip_reasons(self) -> dict[str, str]:
        """Identity folders and clips left out (so far, in this process) → why."""
        reasons = dict(self._skipped)
        for part in self.parts:
            reasons.update(part.skip_reasons)
        return reasons

    @property
    def skipped(self) -> list[str]:
        """Paths of the identity folders and clips left out (so far, in this process)."""
        return list(self.skip_reasons)

    # -- sampling ------------------------------------------------------------------------------
    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        part, local = self.locate(index)
        return self.parts[part][local]

    def preload(self) -> None:
        """Decode every video file now (see :meth:`VideoFramePairs.preload`)."""
        for part in self.parts:
            part.preload()

    def __repr__(self) -> str:
        clips = sum(len(p.videos) for p in self.parts)
        return (f"VoxCelebPairs(root={str(self.root)!r}, split={self.split!r}, "
                f"identities={len(self.parts)}, clips={clips}, frames={len(self)}, "
                f"skipped={len(self.skipped)}, image_size={self.image_size})")


@register_dataset("voxceleb")
def _factory(cfg: DataConfig, image_size: int) -> Dataset:
    """``data.kind=voxceleb``: :class:`VoxCelebPairs` from ``cfg.root`` / ``cfg.split`` /
    ``cfg.frame_gap`` / ``cfg.crop`` / ``cfg.max_frames`` / ``cfg.options`` (``meta``)."""
    check_options(cfg.options, _OPTIONS, "voxceleb", in_data_options=True)
    return VoxCelebPairs(cfg.root, image_size, split=cfg.split, frame_gap=tuple(cfg.frame_gap),
                         crop=cfg.crop or None, max_frames=cfg.max_frames, **cfg.options)
