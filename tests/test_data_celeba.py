"""CelebA / MAFL reader on a tiny fixture in the real formats (no downloads, no real data)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import landmarks.data.celeba as celeba
from data_checks import check_corrupt_labelled_image, skipped_with_one_warning
from fixtures_faces import MARKERS, marker_centroid, write_celeba_fixture
from landmarks.config import DataConfig
from landmarks.data import DatasetError, collate_skipping
from landmarks.data.labelled import LabelledBenchmark
from landmarks.registry import BENCHMARKS, DATASETS


def names(*numbers: int) -> list[str]:
    return [f"{k:06d}.jpg" for k in numbers]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("celeba")
    return path, write_celeba_fixture(path)


@pytest.fixture(scope="module")
def root(written: tuple[Path, dict]) -> Path:
    return written[0]


@pytest.fixture
def fresh(written: tuple[Path, dict], tmp_path: Path) -> Path:
    """A copy of its own, for tests that break it."""
    shutil.copytree(written[0], tmp_path / "celeba")
    return tmp_path / "celeba"


def test_registered() -> None:
    assert "celeba" in DATASETS.names()
    assert "mafl" in BENCHMARKS.names()


def test_read_landmarks_file(written: tuple[Path, dict]) -> None:
    root, meta = written
    file_names, points = celeba.read_landmarks_file(
        root / "Anno" / "list_landmarks_align_celeba.txt")
    assert file_names == meta["names"]
    assert points.shape == (20, 5, 2) and points.dtype == np.float32
    np.testing.assert_array_equal(points, meta["points"])  # (x, y) per point, file order


@pytest.mark.parametrize(("split", "expected"), [
    # CelebA train (1-14) minus MAFL test (11, 12) minus MAFL val (the last 10% of MAFL train: 10)
    ("train", names(1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14)),
    ("val", names(15, 16, 17)),
    ("test", names(19, 20)),  # 18 is MAFL test
    ("mafl_train", names(*range(1, 11))),
    ("mafl_val", names(10)),
    ("mafl_test", names(11, 12, 18)),
])
def test_splits(root: Path, split: str, expected: list[str]) -> None:
    got, points = celeba.celeba_split(root, split)
    assert got == expected
    assert points.shape == (len(expected), 5, 2)


def test_mafl_val_is_rounded_tenth(tmp_path: Path) -> None:
    write_celeba_fixture(tmp_path, n=20, partition=[0] * 20, mafl_train=list(range(1, 16)),
                         mafl_test=[20])
    # round(0.1 * 15) = 2 (halves up): the last two MAFL training images, in file order
    assert celeba.celeba_split(tmp_path, "mafl_val")[0] == names(14, 15)
    assert celeba.celeba_split(tmp_path, "train")[0] == names(*range(1, 14), 16, 17, 18, 19)


def test_training_dataset(root: Path) -> None:
    cfg = DataConfig(kind="celeba", root=str(root))
    ds = DATASETS.create("celeba", cfg=cfg, image_size=32)
    assert len(ds) == 11
    item = ds[0]
    assert set(item) == {"image"}
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert 0.0 <= float(item["image"].min()) <= float(item["image"].max()) <= 1.0
    ds = DATASETS.create("celeba", cfg=DataConfig(kind="celeba", root=str(root),
                                                  split="mafl_test"), image_size=32)
    assert ds.names == names(11, 12, 18)


def test_benchmark(root: Path) -> None:
    bench = BENCHMARKS.create("mafl", root=root, image_size=64)
    assert isinstance(bench, LabelledBenchmark)
    assert bench.metric == "iod" and bench.eye_indices == (0, 1)
    assert bench.point_names == ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth"]
    assert "2.58" in bench.paper_figure and "3.19" in bench.paper_figure
    assert len(bench.split("train")) == 10 and len(bench.split("test")) == 3
    item = bench.split("test")[0]
    assert set(item) == {"image", "labels", "visible"}
    assert item["image"].shape == (3, 64, 64)
    assert item["labels"].shape == (5, 2) and item["labels"].dtype == torch.float32
    assert item["visible"].dtype == torch.bool and bool(item["visible"].all())


def test_label_formula(root: Path) -> None:
    # resize 178x218 → S/0.8 in both directions, keep the centred S x S: box [0.1, 0.9]²
    size = 128
    pts = np.array([[88.5, 108.5], [17.3, 21.3], [0.0, 0.0]])
    out = celeba.box_points(pts, 178, 218, size, celeba.CELEBA_BOX)
    np.testing.assert_allclose(out[0], [63.5, 63.5], atol=1e-4)  # image centre → output centre
    np.testing.assert_allclose(out[1], [-0.5, -0.5], atol=1e-4)  # box's top-left pixel edge
    np.testing.assert_allclose(out[2], [(0.5 - 17.8) * 128 / 142.4 - 0.5,
                                        (0.5 - 21.8) * 128 / 174.4 - 0.5], atol=1e-4)


@pytest.mark.parametrize("size", [64, 128])
def test_labels_follow_the_image(root: Path, size: int) -> None:
    """A marker drawn at a landmark of the 178x218 image is where the label says after the
    official resize + centre crop (anisotropic: x and y scale differently)."""
    bench = celeba.mafl_benchmark(root, size)
    for split in ("train", "test"):
        ds = bench.split(split)
        for i in range(0, len(ds), 2):
            item = ds[i]
            image = item["image"].numpy()
            for index, channel in MARKERS.items():
                found = marker_centroid(image, channel)
                np.testing.assert_allclose(found, item["labels"][index].numpy(),
                                           atol=0.3)


def test_alternative_image_folders(fresh: Path, tmp_path: Path) -> None:
    path = fresh
    shutil.move(str(path / "Img" / "img_align_celeba"), str(path / "img_align_celeba"))
    shutil.rmtree(path / "Img")
    ds = celeba.CelebA(path, 32, split="mafl_test")
    assert ds.image_dir == path / "img_align_celeba"
    shutil.move(str(path / "img_align_celeba"), str(tmp_path / "elsewhere"))
    cfg = DataConfig(kind="celeba", root=str(path),
                     options={"image_dir": str(tmp_path / "elsewhere")})
    assert len(DATASETS.create("celeba", cfg=cfg, image_size=32)) == 11
    bench = BENCHMARKS.create("mafl", root=path, image_size=32,
                              image_dir=str(tmp_path / "elsewhere"))
    assert len(bench.split("test")) == 3


@pytest.mark.parametrize(("rel", "words"), [
    ("Anno/list_landmarks_align_celeba.txt", "'Anno' folder"),
    ("Eval/list_eval_partition.txt", "'Eval' folder"),
    ("MAFL/training.txt", "MAFL training list"),
    ("MAFL/testing.txt", "MAFL test list"),
])
def test_missing_files_are_named(fresh: Path, rel: str, words: str) -> None:
    path = fresh
    (path / rel).unlink()
    with pytest.raises(DatasetError) as err:
        DATASETS.create("celeba", cfg=DataConfig(kind="celeba", root=str(path)), image_size=32)
    assert str(path / rel) in str(err.value) and words in str(err.value)


def test_missing_images_are_named(fresh: Path) -> None:
    path = fresh
    (path / "Img" / "img_align_celeba" / "000011.jpg").unlink()
    with pytest.raises(DatasetError, match="000011.jpg is missing"):
        celeba.mafl_benchmark(path, 32)
    shutil.rmtree(path / "Img")
    with pytest.raises(DatasetError) as err:
        celeba.mafl_benchmark(path, 32)
    assert str(path / "img_align_celeba") in str(err.value)
    assert str(path / "Img" / "img_align_celeba") in str(err.value)
    with pytest.raises(DatasetError, match="CelebA root .* does not exist"):
        celeba.CelebA(path / "nope", 32)


def test_malformed_landmarks_file(fresh: Path) -> None:
    path = fresh
    file = path / "Anno" / "list_landmarks_align_celeba.txt"
    lines = file.read_text().splitlines()
    file.write_text("\n".join(lines[:5] + ["000004.jpg 1 2 3"] + lines[6:]) + "\n")
    with pytest.raises(DatasetError, match=r"line 6: expected an image name and 10"):
        celeba.read_landmarks_file(file)
    file.write_text("\n".join(lines[:-3]) + "\n")
    with pytest.raises(DatasetError, match="announces 20 images but 17 follow"):
        celeba.read_landmarks_file(file)


def test_unknown_option_split_and_crop(root: Path) -> None:
    cfg = DataConfig(kind="celeba", root=str(root), options={"colour": True})
    with pytest.raises(DatasetError, match=r"unknown option\(s\) 'colour'; valid options: "
                                           r"image_dir"):
        DATASETS.create("celeba", cfg=cfg, image_size=32)
    with pytest.raises(DatasetError, match="unknown option"):
        BENCHMARKS.create("mafl", root=root, image_size=32, colour=True)
    cfg = DataConfig(kind="celeba", root=str(root), split="training")
    with pytest.raises(DatasetError, match="unknown split 'training'.*mafl_train"):
        DATASETS.create("celeba", cfg=cfg, image_size=32)
    cfg = DataConfig(kind="celeba", root=str(root), crop=[0.0, 0.0, 0.5, 0.5])
    with pytest.raises(DatasetError, match="data.crop"):
        DATASETS.create("celeba", cfg=cfg, image_size=32)


def test_unreadable_image_is_skipped(fresh: Path) -> None:
    path = fresh
    (path / "Img" / "img_align_celeba" / "000002.jpg").write_bytes(b"not a jpeg")
    ds = DATASETS.create("celeba", cfg=DataConfig(kind="celeba", root=str(path)), image_size=32)
    skipped_with_one_warning(ds, 1, "000002.jpg")
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_skipping)))
    assert batch["image"].shape == (3, 3, 32, 32) and batch["skipped"] == 1


def test_corrupt_labelled_image_gives_none_and_names_the_file(fresh: Path) -> None:
    # one corrupt image of a benchmark split is skipped (the evaluation counts it), not a crash
    check_corrupt_labelled_image(fresh / "Img" / "img_align_celeba" / "000002.jpg",
                                 lambda: celeba.mafl_benchmark(fresh, 32).split("train"), 1)
