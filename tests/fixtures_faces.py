"""Tiny CelebA/MAFL and AFLW (aflw_release-2) fixtures in the real on-disk formats.

No real data: every picture is a dark textured background with coloured Gaussian markers drawn
at three of its five landmarks (red: left eye, green: right eye, blue: right mouth corner), so a
test can find where a landmark ended up after the reader's resize/crop by looking for the
marker's colour (:func:`marker_centroid`).

Run as a script to write both fixtures somewhere for a look::

    python tests/fixtures_faces.py /tmp/faces_fixture
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

#: Landmark index -> RGB channel of its marker.
MARKERS: dict[int, int] = {0: 0, 1: 1, 4: 2}
CELEBA_HEADER = ("lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x "
                 "leftmouth_y rightmouth_x rightmouth_y")
MARKER_SIGMA = 2.5


def marker_image(height: int, width: int, points: np.ndarray, seed: int = 0) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 picture with :data:`MARKERS` drawn at ``points`` ``(5, 2)`` (x, y),
    pixel-centre coordinates."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    base = 20.0 + 12.0 * np.sin(xx / 5.0 + rng.uniform(0, 6)) * np.cos(yy / 7.0)
    img = np.repeat(base[..., None], 3, axis=2)
    for index, channel in MARKERS.items():
        x, y = points[index]
        blob = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * MARKER_SIGMA ** 2))
        img[..., channel] += 230.0 * blob
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def marker_centroid(image: np.ndarray, channel: int) -> tuple[float, float]:
    """Centre ``(x, y)`` (pixel-centre coordinates) of the marker of ``channel`` in an
    ``(H, W, 3)`` or ``(3, H, W)`` float/uint8 image: the centroid of how much that channel
    exceeds the others, above half its maximum."""
    arr = np.asarray(image, dtype=np.float64)
    if arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(1, 2, 0)
    others = [c for c in range(3) if c != channel]
    score = arr[..., channel] - arr[..., others].max(axis=-1)
    score = np.where(score > 0.5 * score.max(), score, 0.0)
    yy, xx = np.mgrid[0:arr.shape[0], 0:arr.shape[1]]
    total = score.sum()
    return float((score * xx).sum() / total), float((score * yy).sum() / total)


def _save_jpeg(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95, subsampling=0)


def write_celeba_fixture(root: str | Path, n: int = 20, image_dir: str = "Img/img_align_celeba",
                         partition: list[int] | None = None,
                         mafl_train: list[int] | None = None,
                         mafl_test: list[int] | None = None) -> dict:
    """Write a CelebA + MAFL folder of ``n`` aligned 178x218 JPEGs under ``root``.

    Files: ``Anno/list_landmarks_align_celeba.txt`` (count, header, ``NNNNNN.jpg`` + 10 integer
    coordinates, space-aligned like the real file), ``Eval/list_eval_partition.txt``,
    ``MAFL/training.txt``, ``MAFL/testing.txt`` and ``<image_dir>/NNNNNN.jpg``. ``partition``
    (0/1/2 per image), ``mafl_train`` / ``mafl_test`` (1-based image numbers) default to: images
    1-14 train, 15-17 val, 18-20 test; MAFL train = 1-10; MAFL test = 11, 12, 18.

    Returns ``{"names", "points" (n, 5, 2) int (x, y), "partition", "mafl_train", "mafl_test",
    "image_dir"}``.
    """
    root = Path(root)
    if partition is None:
        partition = [0 if i < 14 else 1 if i < 17 else 2 for i in range(n)]
    mafl_train = list(range(1, 11)) if mafl_train is None else mafl_train
    mafl_test = [11, 12, 18] if mafl_test is None else mafl_test
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    rng = np.random.default_rng(0)
    means = np.array([[70, 110], [108, 112], [89, 135], [72, 158], [106, 160]], np.float64)
    points = np.rint(means + rng.uniform(-12, 12, size=(n, 5, 2))).astype(np.int64)
    for i, name in enumerate(names):
        _save_jpeg(marker_image(218, 178, points[i], seed=i), root / image_dir / name)
    (root / "Anno").mkdir(parents=True, exist_ok=True)
    rows = [str(n), CELEBA_HEADER]
    rows += [name + " " + " ".join(f"{v:4d}" for v in points[i].reshape(-1))
             for i, name in enumerate(names)]
    (root / "Anno" / "list_landmarks_align_celeba.txt").write_text("\n".join(rows) + "\n")
    (root / "Eval").mkdir(parents=True, exist_ok=True)
    (root / "Eval" / "list_eval_partition.txt").write_text(
        "".join(f"{name} {p}\n" for name, p in zip(names, partition, strict=True)))
    (root / "MAFL").mkdir(parents=True, exist_ok=True)
    (root / "MAFL" / "training.txt").write_text("".join(f"{k:06d}.jpg\n" for k in mafl_train))
    (root / "MAFL" / "testing.txt").write_text("".join(f"{k:06d}.jpg\n" for k in mafl_test))
    return {"names": names, "points": points, "partition": partition,
            "mafl_train": [f"{k:06d}.jpg" for k in mafl_train],
            "mafl_test": [f"{k:06d}.jpg" for k in mafl_test], "image_dir": root / image_dir}


def _aflw_part(root: Path, part: str, count: int, offset: int) -> dict:
    rng = np.random.default_rng(offset + 1)
    shapes = [(120, 100), (96, 96), (84, 112), (140, 110)]
    names, gt_yx, hw = [], [], []
    for i in range(count):
        h, w = shapes[i % len(shapes)]
        k = offset + i
        name = f"{k % 3}/image{k:05d}_{40000 + 7 * k}.jpg"
        rel = np.array([[0.33, 0.4], [0.67, 0.4], [0.5, 0.58], [0.37, 0.75], [0.63, 0.75]])
        xy = rel * [w, h] + rng.uniform(-4, 4, size=(5, 2))
        xy = np.round(xy * 2) / 2  # half-pixel values, like annotation tools store
        _save_jpeg(marker_image(h, w, xy, seed=k), root / "output" / name)
        names.append(name)
        gt_yx.append(xy[:, ::-1])
        hw.append((h, w))
    (root / f"aflw_{part}_images.txt").write_text("".join(f"{n}\n" for n in names))
    gt = np.asarray(gt_yx, dtype=np.float64).reshape(count, 5, 2)
    hw_arr = np.asarray(hw, dtype=np.float64).reshape(count, 2)
    scipy.io.savemat(str(root / f"aflw_{part}_keypoints.mat"), {"gt": gt, "hw": hw_arr})
    return {"names": names, "points": gt[:, :, ::-1].copy(), "hw": hw_arr}


def write_aflw_fixture(root: str | Path, n_train: int = 10, n_test: int = 4) -> dict:
    """Write an aflw_release-2 folder under ``root``: ``aflw_{train,test}_images.txt`` (paths
    relative to ``output/``), ``aflw_{train,test}_keypoints.mat`` (MATLAB v5: ``gt`` (N, 5, 2)
    float64 ``(y, x)``, ``hw`` (N, 2) float64 ``(height, width)``) and the JPEG crops in
    ``output/<k>/imageNNNNN_MMMMM.jpg`` (non-square, four sizes).

    Returns ``{"train": {...}, "test": {...}}``, each ``{"names", "points" (N, 5, 2) (x, y),
    "hw" (N, 2)}``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    return {"train": _aflw_part(root, "train", n_train, 0),
            "test": _aflw_part(root, "test", n_test, 1000)}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "faces_fixture")
    write_celeba_fixture(out / "celeba")
    write_aflw_fixture(out / "aflw_release-2")
    print(f"wrote {out / 'celeba'} and {out / 'aflw_release-2'}")
