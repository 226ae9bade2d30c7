"""BBC-Pose reader (landmarks.data.bbcpose) on a tiny fixture in the real format."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

import landmarks.data.bbcpose as bbc
from fixtures_pose import BBC_FIELDS, bbc_joints, write_bbcpose_fixture
from landmarks.config import DataConfig
from landmarks.data import DatasetError, collate_skipping
from landmarks.registry import BENCHMARKS, DATASETS

CROP = 80.0  # frame px; the signer sits near the right edge, so the square pads on the right


@pytest.fixture(scope="module")
def bbc_root(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return write_bbcpose_fixture(tmp_path_factory.mktemp("bbcpose"))


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _red_centroid(image: torch.Tensor) -> np.ndarray:
    """(x, y) centroid, in pixel-centre coordinates, of the red marker of a (3, S, S) image."""
    img = image.numpy()
    redness = np.clip(img[0] - np.maximum(img[1], img[2]) - 0.35, 0, None)
    ys, xs = np.mgrid[0:img.shape[1], 0:img.shape[2]]
    total = redness.sum()
    assert total > 0, "no marker found"
    return np.array([(xs * redness).sum() / total, (ys * redness).sum() / total])


def test_annotations_read_back(bbc_root: dict) -> None:
    path = bbc.find_annotations(bbc_root["root"])
    assert path == bbc_root["root"] / "code" / "bbcpose.mat"
    videos = bbc.load_annotations(path)
    assert [v.kind for v in videos] == list(bbc_root["types"])
    assert [v.number for v in videos] == [1, 2, 3, 4, 5]
    v = videos[0]
    assert v.name == "fixture_video_01" and v.source == "tracker"
    assert v.train_frames.tolist() == list(range(1, 13))
    assert v.train_joints.shape == (12, 7, 2) and v.test_joints.shape == (0, 7, 2)
    # 1-based MATLAB coordinates become 0-based pixel centres; (2, 7, N) becomes (N, 7, 2)
    np.testing.assert_allclose(v.train_joints[4], bbc_joints(1, 5, bbc_root["size_hw"]) - 1.0)
    t = videos[3]
    assert t.test_frames.tolist() == [2, 5, 11] and t.test_joints.shape == (3, 7, 2)
    np.testing.assert_allclose(t.test_joints[2], bbc_joints(4, 11, bbc_root["size_hw"]) - 1.0)


def test_single_frame_joints_and_missing_type(tmp_path: Path) -> None:
    """A 2×7×1 array saves as 2×7 in MATLAB; an unknown ``type`` falls back to the default
    split by video number."""
    table = np.empty((1, 1), dtype=[(f, object) for f in BBC_FIELDS])
    joints = np.arange(14, dtype=np.float64).reshape(2, 7) + 1
    table[0, 0] = ("v", "", "", np.array([[7.0]]), joints, np.zeros((0, 0)), np.zeros((0, 0)))
    scipy.io.savemat(str(tmp_path / "bbcpose.mat"), {"bbcpose": table})
    (video,) = bbc.load_annotations(tmp_path / "bbcpose.mat")
    assert video.kind == "train" and video.train_frames.tolist() == [7]
    np.testing.assert_allclose(video.train_joints[0], joints.T - 1)


def test_benchmark_splits_and_scoring(bbc_root: dict) -> None:
    bench = BENCHMARKS.create("bbcpose", root=bbc_root["root"], image_size=64, crop_size=CROP)
    assert bench.name == "bbcpose" and bench.metric == "pck"
    assert bench.point_names == list(bbc.POINT_NAMES) and len(bench.point_names) == 7
    assert bench.pck_threshold == 6.0
    assert bench.pixel_scale == pytest.approx(0.5 * CROP / 64)
    assert "68.44" in bench.paper_figure
    assert len(bench.split("train")) == 2 * 12  # train videos, every annotated frame
    assert len(bench.split("val")) == 3 and len(bench.split("test")) == 2 * 3
    item = bench.split("test")[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    assert item["labels"].shape == (7, 2) and item["labels"].dtype == torch.float32
    assert item["visible"].dtype == torch.bool and bool(item["visible"].all())
    strided = bbc.make_benchmark(bbc_root["root"], 64, crop_size=CROP, train_stride=5)
    assert len(strided.split("train")) == 2 * 3


@pytest.mark.parametrize("centre", ["video", "frame", "image"])
def test_labels_follow_the_crop(bbc_root: dict, centre: str) -> None:
    """The head marker drawn at the annotated pixel is where the returned label says, after the
    (padded) crop and the resize, for every crop centring."""
    bench = bbc.make_benchmark(bbc_root["root"], 64, crop_size=110.0, crop_centre=centre)
    for split in ("train", "test"):
        data = bench.split(split)
        for index in (0, len(data) - 1):
            item = data[index]
            found = _red_centroid(item["image"])
            np.testing.assert_allclose(found, item["labels"][0].numpy(), atol=0.5)


def test_crop_pads_and_maps_points() -> None:
    img = Image.fromarray(np.full((10, 20, 3), 200, np.uint8))
    box = bbc.crop_box((18.5, 4.5), 10.0)  # pixel-edge square [14, 24] x [0, 10]
    assert box == (14.0, 0.0, 10.0)
    out = bbc.crop_square(img, box, 10)
    assert out.shape == (10, 10, 3)
    assert (out[:, :5] == 200).all() and (out[:, 7:] == 0).all()  # black past the right edge
    np.testing.assert_allclose(bbc.to_crop_pixels(np.array([[14.0, 0.0]]), box, 20),
                               [[0.5, 0.5]])


def test_training_pairs(bbc_root: dict) -> None:
    cfg = DataConfig(kind="bbcpose", root=str(bbc_root["root"]), frame_gap=[3, 5],
                     options={"crop_size": CROP})
    data = DATASETS.create("bbcpose", cfg=cfg, image_size=32)
    assert isinstance(data, bbc.BBCPoseFramePairs)
    assert [v.number for v in data.videos] == [1, 2]  # the "train" videos
    assert len(data) == 2 * 12
    # frames sorted by number (10.jpg after 9.jpg), not by name
    assert [n for n, _ in data.frames[0]] == list(range(1, 13))
    torch.manual_seed(0)
    for index in range(len(data)):
        item = data[index]
        assert item["source"].shape == item["target"].shape == (3, 32, 32)
        t, s = item["frames"].tolist()
        assert 3 <= abs(t - s) <= 5
        v, pos = data.locate(index)
        assert t == pos + 1
    # the target is frame t of the video, cropped with the video's fixed box
    item = data[14]
    v, pos = data.locate(14)
    with Image.open(data.frames[v][pos][1]) as img:
        expected = bbc.crop_square(img, data.box(v, img), 32)
    np.testing.assert_allclose(item["target"].permute(1, 2, 0).numpy() * 255, expected,
                               atol=1e-3)
    val = DATASETS.create("bbcpose", cfg=DataConfig(kind="bbcpose", root=str(bbc_root["root"]),
                                                    split="trainval"), image_size=32)
    assert [v.number for v in val.videos] == [1, 2, 3]


def test_unreadable_frame_is_skipped(bbc_root: dict, tmp_path: Path) -> None:
    root = _copy(bbc_root["root"], tmp_path / "bbc")
    (root / "1" / "4.jpg").write_bytes(b"not a jpeg")
    data = bbc.BBCPoseFramePairs(root, 16, frame_gap=(1, 1), crop_size=CROP)
    with pytest.warns(UserWarning, match=r"1/4\.jpg"):
        batch = collate_skipping([data[3], data[0]])
    assert batch["skipped"] == 1 and batch["target"].shape == (1, 3, 16, 16)


def test_missing_files_name_the_path(bbc_root: dict, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"code/bbcpose\.mat"):
        bbc.make_benchmark(tmp_path, 64)
    with pytest.raises(DatasetError, match=r"nope\.mat.*missing"):
        bbc.make_benchmark(bbc_root["root"], 64, annotations="nope.mat")
    root = _copy(bbc_root["root"], tmp_path / "bbc")
    shutil.rmtree(root / "4")
    with pytest.raises(DatasetError, match=rf"{root / '4'} is missing"):
        bbc.make_benchmark(root, 64)
    bbc.BBCPoseFramePairs(root, 16)  # the training split does not need video 4
    (root / "5" / "11.jpg").unlink()
    shutil.copytree(bbc_root["root"] / "4", root / "4")
    with pytest.raises(DatasetError, match=rf"{root / '5' / '11.jpg'} is missing"):
        bbc.make_benchmark(root, 64)


def test_bad_options(bbc_root: dict) -> None:
    root = str(bbc_root["root"])
    with pytest.raises(DatasetError, match=r"'colour'.*valid options: annotations, crop_size"):
        DATASETS.create("bbcpose", cfg=DataConfig(kind="bbcpose", root=root,
                                                  options={"colour": 1}), image_size=32)
    with pytest.raises(DatasetError, match="'crop_centre'"):
        DATASETS.create("bbcpose", cfg=DataConfig(kind="bbcpose", root=root,
                                                  options={"crop_centre": "frame"}),
                        image_size=32)
    with pytest.raises(DatasetError, match="data.crop"):
        DATASETS.create("bbcpose", cfg=DataConfig(kind="bbcpose", root=root, crop=[0, 0, 1, 1]),
                        image_size=32)
    with pytest.raises(DatasetError, match="split 'bogus'"):
        DATASETS.create("bbcpose", cfg=DataConfig(kind="bbcpose", root=root, split="bogus"),
                        image_size=32)
    with pytest.raises(DatasetError, match="'eval_scale'"):
        bbc.make_benchmark(root, 64, eval_scale=0)
    with pytest.raises(DatasetError, match=r"'bogus'.*valid options"):
        bbc.make_benchmark(root, 64, bogus=True)
