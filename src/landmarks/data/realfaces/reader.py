"""Reading a built RealFaces folder: :func:`load_manifest` → :class:`RealFaces`;
``.split(name)`` → a list of :class:`RealFacesFrame`; :func:`load_split_images` stacks the crops
as a tensor, :func:`stack_labels` the labels; the benchmark is registered as ``realfaces``
(:func:`realfaces_benchmark`). See :mod:`landmarks.data.realfaces`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from landmarks.data.realfaces.definition import (
    EYE_INDICES_5,
    EYE_INDICES_68,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    POINT_NAMES_5,
    SPLIT_NAMES,
)
from landmarks.data.transforms import DatasetError, load_image
from landmarks.registry import register_benchmark

__all__ = [
    "RealFaces",
    "RealFacesFrame",
    "load_manifest",
    "load_split_images",
    "realfaces_benchmark",
    "stack_labels",
]

_FETCH_HINT = "run `landmarks data fetch realfaces --root DIR` to build it"


@dataclass(frozen=True, eq=False)
class RealFacesFrame:
    """One labelled crop. ``mafl5`` ``(5, 2)`` and ``landmarks68`` ``(68, 2)`` are float64
    pixel coordinates of the ``crop_size`` crop (pseudo labels from dlib's supervised model,
    not from people); ``frame`` is ``None`` for photos; ``kind`` is ``"video"`` or
    ``"photo"``."""

    id: str
    image: Path
    clip: str
    frame: int | None
    person: str
    mafl5: np.ndarray
    landmarks68: np.ndarray
    split: str = ""
    person_in_train: bool = False
    kind: str = "video"  # "video" (a clip frame) or "photo"
    source: str = ""  # the package the source file came from
    group: str = ""  # the identity group that decided the split


@dataclass(eq=False)
class RealFaces:
    """A loaded, validated RealFaces manifest (see :func:`load_manifest`)."""

    root: Path
    manifest_path: Path
    crop_size: int
    labels: str
    point_names_5: tuple[str, ...]
    eye_indices_5: tuple[int, int]
    eye_indices_68: tuple[int, int]
    frames: dict[str, RealFacesFrame]
    splits: dict[str, list[str]]
    skipped: dict[str, Any]

    def split(self, name: str) -> list[RealFacesFrame]:
        """The frames of split ``name`` in manifest order: ``"train_unlabelled"``,
        ``"train_labelled"``, ``"test"``, or ``"train"`` (unlabelled then labelled: every frame
        under ``frames/train``)."""
        if name == "train":
            ids = self.splits["train_unlabelled"] + self.splits["train_labelled"]
        elif name in self.splits:
            ids = self.splits[name]
        else:
            raise KeyError(f"RealFaces has no split {name!r}; expected one of "
                           f"{', '.join((*SPLIT_NAMES, 'train'))}")
        return [self.frames[i] for i in ids]

    def __len__(self) -> int:
        return len(self.frames)


def _points(fid: str, entry: dict[str, Any], key: str, n: int, manifest: Path) -> np.ndarray:
    want = f"({n}, 2)"
    if key not in entry:
        raise DatasetError(f"{manifest}: frame {fid!r} has no {key!r}; expected an array of "
                           f"shape {want}")
    try:
        arr = np.asarray(entry[key], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DatasetError(f"{manifest}: frame {fid!r}: {key!r} is not numeric; expected "
                           f"shape {want} ({err})") from err
    if arr.shape != (n, 2):
        raise DatasetError(f"{manifest}: frame {fid!r}: {key!r} has shape {arr.shape}; "
                           f"expected {want}")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise DatasetError(f"{manifest}: frame {fid!r}: {key!r} holds NaN/inf (first at point "
                           f"{bad}); expected finite values of shape {want}")
    return arr


def load_manifest(root: Path) -> RealFaces:
    """Read and validate ``root/manifest.json``.

    Raises :class:`~landmarks.data.DatasetError` naming the file when the manifest is missing
    (with how to build it) or malformed, naming the frame and the manifest when a frame's image
    is missing, and naming the frame id, the key and the expected shape when its labels have the
    wrong shape or hold NaN.
    """
    root = Path(root).expanduser()
    path = root / "manifest.json"
    if not path.is_file():
        raise DatasetError(f"RealFaces manifest {path} not found; {_FETCH_HINT}")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"RealFaces manifest {path} cannot be read: {err}; rebuild with "
                           f"`landmarks data fetch realfaces --root DIR --force`") from err
    if not isinstance(data, dict) or data.get("name") != MANIFEST_NAME:
        raise DatasetError(f"{path} is not a RealFaces manifest (expected \"name\": "
                           f"\"{MANIFEST_NAME}\")")
    if data.get("version") != MANIFEST_VERSION:
        raise DatasetError(f"{path}: manifest version {data.get('version')!r} is not supported "
                           f"(expected {MANIFEST_VERSION}); rebuild with `landmarks data fetch "
                           f"realfaces --root DIR --force`")
    for key in ("crop_size", "frames", "splits"):
        if key not in data:
            raise DatasetError(f"{path}: missing key {key!r}")
    crop_size = data["crop_size"]
    if not isinstance(crop_size, int) or crop_size < 1:
        raise DatasetError(f"{path}: crop_size must be a positive integer, got {crop_size!r}")
    frames: dict[str, RealFacesFrame] = {}
    for fid, entry in data["frames"].items():
        if not isinstance(entry, dict) or "image" not in entry:
            raise DatasetError(f"{path}: frame {fid!r} has no \"image\"")
        image = root / entry["image"]
        if not image.is_file():
            raise DatasetError(f"{path}: frame {fid!r}: image {image} does not exist; rebuild "
                               f"with `landmarks data fetch realfaces --root DIR --force`")
        frames[fid] = RealFacesFrame(
            id=fid, image=image, clip=str(entry.get("clip", "")), frame=entry.get("frame"),
            person=str(entry.get("person", "")),
            mafl5=_points(fid, entry, "mafl5", 5, path),
            landmarks68=_points(fid, entry, "landmarks68", 68, path),
            split=str(entry.get("split", "")),
            person_in_train=bool(entry.get("person_in_train", False)),
            kind=str(entry.get("kind") or ("photo" if entry.get("frame") is None else "video")),
            source=str(entry.get("source", "")),
            group=str(entry.get("group") or entry.get("person", "")))
    splits: dict[str, list[str]] = {}
    for name in SPLIT_NAMES:
        ids = data["splits"].get(name)
        if not isinstance(ids, list):
            raise DatasetError(f"{path}: splits has no list {name!r}")
        unknown = [i for i in ids if i not in frames]
        if unknown:
            raise DatasetError(f"{path}: split {name!r} names {len(unknown)} frame(s) not in "
                               f"\"frames\", first {unknown[0]!r}")
        splits[name] = list(ids)
    return RealFaces(
        root=root, manifest_path=path, crop_size=crop_size,
        labels=str(data.get("labels", "")),
        point_names_5=tuple(data.get("point_names_5", POINT_NAMES_5)),
        eye_indices_5=tuple(data.get("eye_indices_5", EYE_INDICES_5)),  # type: ignore[arg-type]
        eye_indices_68=tuple(data.get("eye_indices_68", EYE_INDICES_68)),  # type: ignore[arg-type]
        frames=frames, splits=splits, skipped=dict(data.get("skipped", {})))


def load_split_images(frames: Sequence[RealFacesFrame], size: int) -> Tensor:
    """The crops of ``frames`` as ``(N, 3, size, size)`` float32 in ``[0, 1]``.

    The crops are square, so this is a plain antialiased resize (PIL bilinear, as
    :func:`~landmarks.data.transforms.load_image`); labels in crop pixels scale with it by
    ``size / crop_size`` in the pixel-centre convention (:func:`points_at_size`); normalised
    ``[-1, 1]`` coordinates do not change.
    """
    if not frames:
        return torch.zeros(0, 3, size, size)
    return torch.stack([load_image(f.image, size) for f in frames])


def stack_labels(frames: Sequence[RealFacesFrame], key: str = "mafl5") -> np.ndarray:
    """The labels of ``frames`` as ``(N, P, 2)`` float64 (``key``: ``"mafl5"`` or
    ``"landmarks68"``), in crop pixel coordinates."""
    if key not in ("mafl5", "landmarks68"):
        raise ValueError(f"key must be 'mafl5' or 'landmarks68', got {key!r}")
    n = 5 if key == "mafl5" else 68
    if not frames:
        return np.zeros((0, n, 2))
    return np.stack([getattr(f, key) for f in frames])


@register_benchmark("realfaces")
def realfaces_benchmark(root: str | Path, image_size: int = 0, **options: Any) -> RealFaces:
    """The RealFaces benchmark (its manifest, :func:`load_manifest`), registered like the other
    benchmarks; ``landmarks eval --dataset realfaces`` scores it with the IOD metric on its
    128-px crops (``image_size`` is not used: crops are resized to the checkpoint's size).

    Raises:
        DatasetError: a bad benchmark folder, or any option (it takes none).
    """
    if options:
        raise DatasetError(f"benchmark 'realfaces' takes no options, got "
                           f"{', '.join(map(repr, sorted(options)))}")
    return load_manifest(Path(root))
