"""CelebA's 40 binary attributes (``Anno/list_attr_celeba.txt``) for the attributes-from-
landmarks protocol (:mod:`landmarks.evaluation.attributes`).

File format (as distributed)::

    202599                                       line 1: the number of images
    5_o_Clock_Shadow Arched_Eyebrows ... Young   line 2: the 40 attribute names
    000001.jpg -1  1  1 -1 ...                   then NAME and 40 values, 1 or -1,
                                                 separated by one or more spaces

Splits come from ``Eval/list_eval_partition.txt`` (0 = train, 1 = val, 2 = test); the images
are the aligned ones of the CelebA reader (:mod:`landmarks.data.celeba`, same geometry).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmarks.data.celeba import PARTITION_FILE, read_partition_file
from landmarks.data.transforms import DatasetError

__all__ = [
    "ATTRIBUTES_FILE",
    "CelebAAttributes",
    "SHAPE_ATTRIBUTES",
    "attribute_split",
    "read_attributes_file",
]

ATTRIBUTES_FILE = ("Anno", "list_attr_celeba.txt")
NUM_ATTRIBUTES = 40

#: The 13 attributes scored by default. Zhang et al. 2018 report 13 "shape-related" CelebA
#: attributes without a list we could check offline; these are our choice: the ones that
#: describe the geometry of the face or of its parts (or the expression, which moves them).
SHAPE_ATTRIBUTES: tuple[str, ...] = (
    "Arched_Eyebrows", "Big_Lips", "Big_Nose", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "High_Cheekbones", "Mouth_Slightly_Open", "Narrow_Eyes", "Oval_Face", "Pointy_Nose",
    "Receding_Hairline", "Smiling",
)


@dataclass
class CelebAAttributes:
    """The parsed file: ``names`` (40), ``files`` (N image names), ``values`` ``(N, 40)`` int8
    in {1, -1}."""

    names: list[str]
    files: list[str]
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """The ``(N,)`` values of attribute ``name``."""
        if name not in self.names:
            raise KeyError(f"unknown CelebA attribute {name!r}; the file has: "
                           f"{', '.join(self.names)}")
        return self.values[:, self.names.index(name)]

    def select(self, files: list[str]) -> np.ndarray:
        """``(len(files), 40)`` rows of the named images."""
        index = {f: i for i, f in enumerate(self.files)}
        missing = [f for f in files if f not in index]
        if missing:
            raise DatasetError(f"CelebA attributes: no row for {len(missing)} image(s), e.g. "
                               f"{missing[0]}")
        return self.values[[index[f] for f in files]]


def read_attributes_file(path: str | Path) -> CelebAAttributes:
    """Read ``list_attr_celeba.txt`` (module docstring), checked line by line.

    Raises:
        DatasetError: a missing file; a first line that is not the row count or does not match
            the rows; a header without 40 names; a row without a name and 40 values; a value
            other than 1 / -1; a name given twice. Each names the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"CelebA attributes file {path} is missing (Anno/list_attr_celeba.txt "
                           f"of the CelebA download)")
    lines = path.read_text().splitlines()
    if len(lines) < 2:
        raise DatasetError(f"CelebA attributes file {path}: expected a count line and a header "
                           f"line, found {len(lines)} line(s)")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise DatasetError(f"CelebA attributes file {path} line 1: expected the number of "
                           f"images, got {lines[0]!r}") from None
    names = lines[1].split()
    if len(names) != NUM_ATTRIBUTES:
        raise DatasetError(f"CelebA attributes file {path} line 2: expected {NUM_ATTRIBUTES} "
                           f"attribute names, got {len(names)}")
    files: list[str] = []
    rows: list[list[int]] = []
    seen: set[str] = set()
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != NUM_ATTRIBUTES + 1:
            raise DatasetError(f"CelebA attributes file {path} line {number}: expected an image "
                               f"name and {NUM_ATTRIBUTES} values, got {len(fields)} fields")
        if any(v not in ("1", "-1") for v in fields[1:]):
            bad = next(v for v in fields[1:] if v not in ("1", "-1"))
            raise DatasetError(f"CelebA attributes file {path} line {number}: values must be "
                               f"1 or -1, got {bad!r}")
        if fields[0] in seen:
            raise DatasetError(f"CelebA attributes file {path} line {number}: image "
                               f"{fields[0]} appears twice")
        seen.add(fields[0])
        files.append(fields[0])
        rows.append([int(v) for v in fields[1:]])
    if len(files) != count:
        raise DatasetError(f"CelebA attributes file {path}: line 1 says {count} images, the "
                           f"file has {len(files)} rows")
    values = np.array(rows, dtype=np.int8).reshape(len(files), NUM_ATTRIBUTES)
    return CelebAAttributes(names, files, values)


def attribute_split(root: str | Path, split: str) -> tuple[list[str], np.ndarray, list[str]]:
    """The image names of CelebA's ``split`` (``train``, ``val`` or ``test`` of the partition
    file), their ``(N, 40)`` values and the 40 names, in attributes-file order."""
    labels = {"train": 0, "val": 1, "test": 2}
    if split not in labels:
        raise DatasetError(f"celeba_attributes: unknown split {split!r}; expected train, val "
                           f"or test")
    root = Path(root).expanduser()
    attrs = read_attributes_file(root.joinpath(*ATTRIBUTES_FILE))
    partition = read_partition_file(root.joinpath(*PARTITION_FILE))
    keep = [i for i, f in enumerate(attrs.files) if partition.get(f) == labels[split]]
    return [attrs.files[i] for i in keep], attrs.values[keep], attrs.names
