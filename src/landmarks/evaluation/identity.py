"""Which benchmark people a checkpoint's training data held (issue 14's guarantee).

A figure on "people never seen in training" is only worth something if training really never
saw them. :func:`training_overlap` compares the image files under a checkpoint's training root
(``data.root`` of its config) with a benchmark split's image files, by content (SHA-256 of the
file's bytes, with the file size as a cheap first filter), so a copied or renamed test frame is
found as well as the benchmark's own folder. :class:`TestIdentityError` is what ``landmarks
eval`` raises when the test split's people were in training, unless the user allows it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landmarks.data.transforms import is_image_file
from landmarks.evaluation.regression import split_train_val_by_group

__all__ = ["Overlap", "TestIdentityError", "realfaces_validation_groups", "training_overlap",
           "training_root_without"]


class TestIdentityError(RuntimeError):
    """The checkpoint's training data holds test frames of the benchmark."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class Overlap:
    """One benchmark image found in the training data: the training file, the benchmark file
    and the identity group of the benchmark frame."""

    training_file: str
    benchmark_file: str
    group: str


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _image_files(root: Path) -> Iterable[Path]:
    if root.is_file():
        yield root
        return
    for here, _, files in os.walk(root, followlinks=True):
        for name in files:
            path = Path(here) / name
            if is_image_file(path):
                yield path


def training_overlap(train_root: str | Path, images: Sequence[str | Path],
                     groups: Sequence[str]) -> list[Overlap]:
    """The benchmark images (``images``, with the identity ``groups`` of their frames) whose
    exact bytes are among the image files under ``train_root`` (a folder, searched recursively
    with symbolic links followed, or one file).

    Returns one :class:`Overlap` per training file that equals a benchmark image, in the order
    found; empty when nothing matches. Raises ``FileNotFoundError`` naming ``train_root`` when
    it does not exist.
    """
    root = Path(train_root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"training root {root} does not exist")
    wanted: dict[int, dict[str, tuple[str, str]]] = {}
    by_size: dict[int, list[tuple[Path, str]]] = {}
    for image, group in zip(images, groups, strict=True):
        path = Path(image)
        by_size.setdefault(path.stat().st_size, []).append((path, str(group)))
    found: list[Overlap] = []
    for candidate in _image_files(root):
        try:
            size = candidate.stat().st_size
        except OSError:
            continue
        if size not in by_size:
            continue
        if size not in wanted:  # hash the benchmark files of this size once
            wanted[size] = {_digest(p): (str(p), g) for p, g in by_size[size]}
        hit = wanted[size].get(_digest(candidate))
        if hit is not None:
            found.append(Overlap(str(candidate), hit[0], hit[1]))
    return found


def realfaces_validation_groups(manifest: Any, val_fraction: float = 0.2,
                                seed: int = 0) -> tuple[list[str], list[str]]:
    """The identity groups of RealFaces' ``train_labelled`` split and those its validation
    holds out: ``(groups of each train_labelled frame, held-out groups)``. The people of the
    seen-person test frames are never held out. The same split :func:`landmarks.evaluation.
    run.evaluate_checkpoint` validates on, so a recipe trained without these groups
    (:func:`training_root_without`) is validated on people its detector never saw either.
    No group is held out (``[]``) when there are too few to hold one out."""
    train = manifest.split("train_labelled")
    groups = [f.group for f in train]
    keep = sorted({f.group for f in manifest.split("test") if f.person_in_train})
    try:
        _, val = split_train_val_by_group(groups, val_fraction, seed, keep)
    except ValueError:  # too few people to hold one out (the evaluation then splits images)
        return groups, []
    return groups, sorted({groups[i] for i in val})


def training_root_without(manifest: Any, groups: Sequence[str], dest: str | Path) -> Path:
    """A training root holding every RealFaces training folder (``frames/train/<clip>``)
    except those of ``groups``: ``dest/<clip>`` symbolic links to the benchmark's folders
    (``dest`` is emptied of such links first; anything else in it is an error). Returns
    ``dest``. Raises ``ValueError`` when a folder holds frames of several groups (it could not
    be left out whole)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for entry in dest.iterdir():
        if not entry.is_symlink():
            raise ValueError(f"{dest} holds {entry.name}, which is not a link this function "
                             f"made; choose an empty folder")
        entry.unlink()
    folders: dict[Path, set[str]] = {}
    for frame in manifest.split("train"):
        folders.setdefault(Path(frame.image).parent, set()).add(frame.group)
    drop = set(groups)
    for folder, owners in sorted(folders.items()):
        if owners & drop and owners - drop:
            raise ValueError(f"{folder} holds frames of groups {sorted(owners)}; it cannot be "
                             f"left out by group")
        if not owners & drop:
            (dest / folder.name).symlink_to(folder.resolve(), target_is_directory=True)
    return dest
