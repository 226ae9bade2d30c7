"""AFLW (aflw_release-2) reader on a tiny fixture in the real formats (no downloads)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from torch.utils.data import DataLoader

import landmarks.data.aflw as aflw
from data_checks import check_corrupt_labelled_image, skipped_with_one_warning
from fixtures_faces import MARKERS, marker_centroid, write_aflw_fixture
from landmarks.config import DataConfig
from landmarks.data import DatasetError, collate_skipping
from landmarks.data.labelled import LabelledBenchmark
from landmarks.registry import BENCHMARKS, DATASETS


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("aflw")
    return path, write_aflw_fixture(path)


@pytest.fixture(scope="module")
def root(written: tuple[Path, dict]) -> Path:
    return written[0]


@pytest.fixture
def fresh(written: tuple[Path, dict], tmp_path: Path) -> Path:
    """A copy of its own, for tests that break it."""
    shutil.copytree(written[0], tmp_path / "aflw")
    return tmp_path / "aflw"


def test_registered() -> None:
    assert "aflw" in DATASETS.names()
    assert "aflw" in BENCHMARKS.names()


def test_read_list_converts_yx_to_xy(written: tuple[Path, dict]) -> None:
    root, meta = written
    names, points, hw = aflw.read_aflw_list(root, "train")
    assert names == meta["train"]["names"]
    assert points.shape == (10, 5, 2) and points.dtype == np.float32
    np.testing.assert_allclose(points, meta["train"]["points"])
    raw = scipy.io.loadmat(str(root / "aflw_train_keypoints.mat"))["gt"]
    np.testing.assert_allclose(points[..., 0], raw[..., 1])  # x is the file's second column
    np.testing.assert_array_equal(hw, meta["train"]["hw"])


@pytest.mark.parametrize(("split", "expected"), [
    ("train", slice(0, 9)),  # the official code keeps the last round(0.1 * 10) = 1 for val
    ("val", slice(9, 10)),
    ("train_all", slice(0, 10)),
])
def test_splits(written: tuple[Path, dict], split: str, expected: slice) -> None:
    root, meta = written
    assert aflw.aflw_split(root, split)[0] == meta["train"]["names"][expected]
    assert aflw.aflw_split(root, "test")[0] == meta["test"]["names"]


def test_training_dataset(root: Path) -> None:
    ds = DATASETS.create("aflw", cfg=DataConfig(kind="aflw", root=str(root)), image_size=32)
    assert len(ds) == 9
    item = ds[0]
    assert set(item) == {"image"}
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert 0.0 <= float(item["image"].min()) <= float(item["image"].max()) <= 1.0
    cfg = DataConfig(kind="aflw", root=str(root), split="test")
    assert len(DATASETS.create("aflw", cfg=cfg, image_size=32)) == 4


def test_benchmark(root: Path) -> None:
    bench = BENCHMARKS.create("aflw", root=root, image_size=64)
    assert isinstance(bench, LabelledBenchmark)
    assert bench.metric == "iod" and bench.eye_indices == (0, 1)
    assert bench.point_names[:2] == ["left_eye", "right_eye"] and len(bench.point_names) == 5
    assert "6.31" in bench.paper_figure
    assert len(bench.split("train")) == 10 and len(bench.split("test")) == 4
    item = bench.split("train")[0]
    assert set(item) == {"image", "labels", "visible"}
    assert item["image"].shape == (3, 64, 64)
    assert item["labels"].shape == (5, 2) and item["labels"].dtype == torch.float32
    assert item["visible"].dtype == torch.bool and bool(item["visible"].all())


def test_label_formula(written: tuple[Path, dict]) -> None:
    root, meta = written
    ds = aflw.AFLW(root, 128, split="train_all", labels=True)
    item = ds[0]  # a 100 (w) x 120 (h) crop: x scales by 1.28, y by 128/120
    h, w = meta["train"]["hw"][0]
    expected = (meta["train"]["points"][0] + 0.5) * [128 / w, 128 / h] - 0.5
    np.testing.assert_allclose(item["labels"].numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("size", [64, 128])
def test_labels_follow_the_image(root: Path, size: int) -> None:
    """Markers drawn at the landmarks of non-square crops are where the labels say after the
    whole crop is resized to S x S."""
    bench = aflw.aflw_benchmark(root, size)
    for split in ("train", "test"):
        ds = bench.split(split)
        for i in range(len(ds)):
            item = ds[i]
            image = item["image"].numpy()
            for index, channel in MARKERS.items():
                found = marker_centroid(image, channel)
                np.testing.assert_allclose(found, item["labels"][index].numpy(),
                                           atol=0.3)


def test_missing_points_are_invisible(fresh: Path) -> None:
    mat_path = fresh / "aflw_test_keypoints.mat"
    mat = scipy.io.loadmat(str(mat_path))
    gt = mat["gt"].copy()
    gt[1, 2] = np.nan
    scipy.io.savemat(str(mat_path), {"gt": gt, "hw": mat["hw"]})
    item = aflw.aflw_benchmark(fresh, 32).split("test")[1]
    assert item["visible"].tolist() == [True, True, False, True, True]
    assert torch.isfinite(item["labels"]).all() and item["labels"][2].tolist() == [0.0, 0.0]


def test_size_mismatch_warns_once(fresh: Path) -> None:
    mat_path = fresh / "aflw_test_keypoints.mat"
    mat = scipy.io.loadmat(str(mat_path))
    scipy.io.savemat(str(mat_path), {"gt": mat["gt"], "hw": mat["hw"] * 2})
    ds = aflw.aflw_benchmark(fresh, 32).split("test")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds[0]
        ds[1]
    assert len([w for w in caught if "labels are scaled from the file's size" in
                str(w.message)]) == 1


@pytest.mark.parametrize(("rel", "words"), [
    ("aflw_train_images.txt", "AFLW image list"),
    ("aflw_train_keypoints.mat", "AFLW keypoints file"),
])
def test_missing_files_are_named(fresh: Path, rel: str, words: str) -> None:
    (fresh / rel).unlink()
    with pytest.raises(DatasetError) as err:
        DATASETS.create("aflw", cfg=DataConfig(kind="aflw", root=str(fresh)), image_size=32)
    assert str(fresh / rel) in str(err.value) and words in str(err.value)


def test_missing_images_are_named(fresh: Path, written: tuple[Path, dict]) -> None:
    first = written[1]["test"]["names"][0]
    (fresh / "output" / first).unlink()
    with pytest.raises(DatasetError) as err:
        aflw.aflw_benchmark(fresh, 32)
    assert str(fresh / "output" / first) in str(err.value)
    shutil.rmtree(fresh / "output")
    with pytest.raises(DatasetError, match="'output' folder"):
        aflw.aflw_benchmark(fresh, 32)
    with pytest.raises(DatasetError, match="AFLW root .* does not exist"):
        aflw.AFLW(fresh / "nope", 32)


def test_bad_mat_contents(fresh: Path) -> None:
    mat_path = fresh / "aflw_train_keypoints.mat"
    mat = scipy.io.loadmat(str(mat_path))
    scipy.io.savemat(str(mat_path), {"gt": mat["gt"]})
    with pytest.raises(DatasetError, match="has no variable 'hw'"):
        aflw.read_aflw_list(fresh, "train")
    scipy.io.savemat(str(mat_path), {"gt": mat["gt"][:, :4], "hw": mat["hw"]})
    with pytest.raises(DatasetError, match=r"'gt' has shape \(10, 4, 2\)"):
        aflw.read_aflw_list(fresh, "train")
    scipy.io.savemat(str(mat_path), {"gt": mat["gt"][:7], "hw": mat["hw"][:7]})
    with pytest.raises(DatasetError, match="lists 10 images but .* holds 7 rows"):
        aflw.read_aflw_list(fresh, "train")
    mat_path.write_bytes(b"not a mat file at all")
    with pytest.raises(DatasetError, match="cannot be read"):
        aflw.read_aflw_list(fresh, "train")


def test_unknown_option_split_and_crop(root: Path) -> None:
    cfg = DataConfig(kind="aflw", root=str(root), options={"image_dir": "x"})
    with pytest.raises(DatasetError, match=r"unknown option\(s\) 'image_dir'; valid options: "
                                           r"none"):
        DATASETS.create("aflw", cfg=cfg, image_size=32)
    with pytest.raises(DatasetError, match="unknown option"):
        BENCHMARKS.create("aflw", root=root, image_size=32, flip=True)
    cfg = DataConfig(kind="aflw", root=str(root), split="mafl_train")
    with pytest.raises(DatasetError, match="unknown split 'mafl_train'.*train_all"):
        DATASETS.create("aflw", cfg=cfg, image_size=32)
    cfg = DataConfig(kind="aflw", root=str(root), crop=[0.0, 0.0, 0.5, 0.5])
    with pytest.raises(DatasetError, match="data.crop"):
        DATASETS.create("aflw", cfg=cfg, image_size=32)


def test_unreadable_image_is_skipped(fresh: Path, written: tuple[Path, dict]) -> None:
    second = written[1]["train"]["names"][1]
    (fresh / "output" / second).write_bytes(b"not a jpeg")
    ds = DATASETS.create("aflw", cfg=DataConfig(kind="aflw", root=str(fresh)), image_size=32)
    skipped_with_one_warning(ds, 1, second)
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_skipping)))
    assert batch["image"].shape == (3, 3, 32, 32) and batch["skipped"] == 1


def test_corrupt_labelled_image_gives_none_and_names_the_file(
        fresh: Path, written: tuple[Path, dict]) -> None:
    # one corrupt image of a benchmark split is skipped (the evaluation counts it), not a crash
    check_corrupt_labelled_image(fresh / "output" / written[1]["test"]["names"][2],
                                 lambda: aflw.aflw_benchmark(fresh, 32).split("test"), 2)
