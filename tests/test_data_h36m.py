"""Human3.6M reader (landmarks.data.h36m) on a tiny "Simplified Human3.6M" fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

import landmarks.data.h36m as h36m
from fixtures_pose import H36M_MARKER_JOINT, H36M_SUBJECTS, h36m_joints, write_h36m_fixture
from landmarks.config import DataConfig
from landmarks.data import DatasetError, collate_skipping
from landmarks.registry import BENCHMARKS, DATASETS


@pytest.fixture(scope="module")
def h36m_root(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return write_h36m_fixture(tmp_path_factory.mktemp("h36m"))


def _small(root: Path, subjects: tuple[str, ...] = H36M_SUBJECTS) -> Path:
    """A smaller fixture (4 frames per sequence) to damage in a test."""
    return write_h36m_fixture(root, subjects=subjects, extra=(), frames=4)["root"]


def _red_centroid(image: torch.Tensor) -> np.ndarray:
    img = image.numpy()
    redness = np.clip(img[0] - np.maximum(img[1], img[2]) - 0.35, 0, None)
    ys, xs = np.mgrid[0:img.shape[1], 0:img.shape[2]]
    total = redness.sum()
    assert total > 0, "no marker found"
    return np.array([(xs * redness).sum() / total, (ys * redness).sum() / total])


def test_sequences_activities_and_frame_order(h36m_root: dict) -> None:
    seqs = h36m.find_sequences(h36m_root["root"], ["S1", "S11"], h36m.ACTIVITIES,
                               need_masks=True, need_labels=True)
    assert [(s.subject, s.name) for s in seqs] == [
        ("S1", "Directions.54138969"), ("S1", "Walking 1.55011271"),
        ("S11", "Directions.54138969"), ("S11", "Walking 1.55011271")]  # not WalkDog
    assert seqs[1].activity == "Walking"
    assert seqs[0].frames == tuple(str(i) for i in range(1, 12))  # 10 after 9
    assert h36m.sequence_activity("WalkDog.54138969") == "WalkDog"
    assert h36m.sequence_activity("Sitting 1.58860488") == "Sitting"


def test_joints_file_is_y_then_x(tmp_path: Path) -> None:
    yx = np.zeros((32, 2))
    yx[3] = [0.25, 0.75]  # y, x
    scipy.io.savemat(str(tmp_path / "1.mat"), {"keypoints_2d": yx})
    xy = h36m.load_joints(tmp_path / "1.mat")
    assert xy.shape == (32, 2)
    np.testing.assert_allclose(xy[3], [0.75, 0.25])


def test_benchmark_splits_labels_and_mask(h36m_root: dict) -> None:
    bench = BENCHMARKS.create("h36m", root=h36m_root["root"], image_size=64)
    assert bench.name == "h36m" and bench.metric == "size" and bench.group_label == "activity"
    assert bench.point_names == list(h36m.POINT_NAMES) and len(bench.point_names) == 32
    assert bench.pixel_scale == 1.0  # not used by metric "size"
    assert bench.pck_threshold == h36m.PCK_THRESHOLD  # in % of the image side
    n = h36m_root["frames"] * len(h36m_root["sequences"])
    assert len(bench.split("train")) == 6 * n and len(bench.split("test")) == n
    # every item carries its activity as "group": the test split is S11's Directions frames,
    # then its Walking frames
    test_groups = [bench.split("test")[i]["group"] for i in range(n)]
    assert test_groups == ["Directions"] * h36m_root["frames"] + ["Walking"] * h36m_root["frames"]
    assert {bench.split("train")[i]["group"] for i in (0, 6 * n - 1)} == {"Directions", "Walking"}
    item = bench.split("test")[4]
    assert item["image"].shape == (3, 64, 64) and item["labels"].shape == (32, 2)
    assert item["visible"].dtype == torch.bool and bool(item["visible"].all())
    # the marker is drawn on joint 15 at (x, y) * 128 in the 128×128 frame; after the resize to 64
    # it must sit at the returned label
    for split, index in (("test", 4), ("train", 0), ("train", 6 * n - 1)):
        item = bench.split(split)[index]
        np.testing.assert_allclose(_red_centroid(item["image"]),
                                   item["labels"][H36M_MARKER_JOINT].numpy(), atol=0.5)
    # the labels are the file's joints mapped to 64 px (pixel-centre convention)
    test_item = bench.split("test")[4]  # S11 (subject index 6), Directions, frame 5
    expected = h36m_joints(6, 0, 5) * 64 - 0.5
    np.testing.assert_allclose(test_item["labels"].numpy(), expected, atol=1e-4)
    # background outside the mask is black; unmasked it is the fixture's yellow
    assert float(test_item["image"][:, :, :4].max()) < 0.05
    raw = h36m.make_benchmark(h36m_root["root"], 64, mask=False).split("test")[4]
    assert float(raw["image"][0, :, :4].mean()) > 0.9 and float(raw["image"][1, :, :4].mean()) > 0.9


def test_benchmark_options(h36m_root: dict) -> None:
    sub = h36m.make_benchmark(h36m_root["root"], 32, joints=[15, 19, 27], test_stride=5,
                              train_subjects=["S1", "S5", "S6", "S7", "S8"],
                              test_subjects=["S9", "S11"])
    assert sub.point_names == ["head", "left_wrist", "right_wrist"]
    assert sub.split("test")[0]["labels"].shape == (3, 2)
    n = h36m_root["frames"] * len(h36m_root["sequences"])
    assert len(sub.split("train")) == 5 * n
    assert len(sub.split("test")) == 2 * 2 * 3  # frames 1, 6, 11 of 2 sequences × 2 subjects
    walking = h36m.make_benchmark(h36m_root["root"], 32, activities=["walking"])
    assert len(walking.split("test")) == h36m_root["frames"]


def test_training_pairs(h36m_root: dict) -> None:
    cfg = DataConfig(kind="h36m", root=str(h36m_root["root"]), frame_gap=[3, 6])
    data = DATASETS.create("h36m", cfg=cfg, image_size=32)
    assert isinstance(data, h36m.H36MFramePairs)
    assert {s.subject for s in data.sequences} == set(h36m.TRAIN_SUBJECTS)
    assert len(data) == 6 * 2 * h36m_root["frames"]
    torch.manual_seed(0)
    for index in range(0, len(data), 7):
        item = data[index]
        assert item["source"].shape == item["target"].shape == (3, 32, 32)
        t, s = item["frames"].tolist()
        assert 3 <= abs(t - s) <= 6
        assert t == data.locate(index)[1]
        assert float(item["target"][:, :, :2].max()) < 0.05  # masked background
    test = DATASETS.create("h36m", cfg=DataConfig(kind="h36m", root=str(h36m_root["root"]),
                                                  split="test",
                                                  options={"mask": False}), image_size=32)
    assert {s.subject for s in test.sequences} == {"S11"}
    assert float(test[0]["target"][0, :, :2].mean()) > 0.9


def test_unreadable_frame_is_skipped(h36m_root: dict, tmp_path: Path) -> None:
    root = _small(tmp_path / "h36m", subjects=("S11",))
    (root / "S11" / "WithBackground" / "Directions.54138969" / "1.jpg").write_bytes(b"junk")
    data = h36m.H36MFramePairs(root, 16, ["S11"], frame_gap=(1, 1))
    with pytest.warns(UserWarning, match=r"Directions\.54138969/1\.jpg"):
        batch = collate_skipping([data[0], data[2]])
    assert batch["skipped"] == 1 and batch["source"].shape == (1, 3, 16, 16)


def test_missing_folders_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=rf"{tmp_path / 'none'} does not exist"):
        h36m.make_benchmark(tmp_path / "none", 64)
    root = _small(tmp_path / "h36m")
    shutil.rmtree(root / "S5")
    with pytest.raises(DatasetError, match=rf"subject folder {root / 'S5'} is missing"):
        DATASETS.create("h36m", cfg=DataConfig(kind="h36m", root=str(root)), image_size=32)
    h36m.make_benchmark(root, 32, train_subjects=["S1"])  # fine without S5
    shutil.rmtree(root / "S11" / "BackgroudMask" / "Walking 1.55011271")
    expected = root / "S11" / "BackgroudMask" / "Walking 1.55011271"
    with pytest.raises(DatasetError, match=rf"{expected} is missing"):
        h36m.make_benchmark(root, 32, train_subjects=["S1"])
    h36m.make_benchmark(root, 32, train_subjects=["S1"], mask=False)  # masks not needed
    shutil.rmtree(root / "S1" / "Landmarks")
    with pytest.raises(DatasetError, match=rf"{root / 'S1' / 'Landmarks'}"):
        h36m.make_benchmark(root, 32, train_subjects=["S1"], mask=False)


def test_bad_options(h36m_root: dict) -> None:
    root = str(h36m_root["root"])
    with pytest.raises(DatasetError, match=r"'joints'.*valid options: mask, activities"):
        DATASETS.create("h36m", cfg=DataConfig(kind="h36m", root=root,
                                               options={"joints": "all"}), image_size=32)
    with pytest.raises(DatasetError, match="split 'val'"):
        DATASETS.create("h36m", cfg=DataConfig(kind="h36m", root=root, split="val"),
                        image_size=32)
    with pytest.raises(DatasetError, match="'mask'"):
        h36m.make_benchmark(root, 32, mask="yes")
    with pytest.raises(DatasetError, match="'joints'"):
        h36m.make_benchmark(root, 32, joints=[40])
    with pytest.raises(DatasetError, match=r"'extra'.*valid options"):
        h36m.make_benchmark(root, 32, extra=1)
