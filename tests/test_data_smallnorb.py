"""SmallNORB reader (landmarks.data.smallnorb) on a tiny fixture in the real binary format."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import landmarks.data.smallnorb as norb
from fixtures_objects import (
    NORB_TEST_PREFIX,
    NORB_TRAIN_PREFIX,
    norb_level,
    write_smallnorb_fixture,
)
from landmarks.config import DataConfig
from landmarks.data import DatasetError, build_dataset, collate_skipping

CAR, AIRPLANE = 4, 2


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path_factory.mktemp("smallnorb")
    return path, write_smallnorb_fixture(path)


def _cfg(root: Path, split: str = "train", **options) -> DataConfig:
    return DataConfig(kind="smallnorb", root=str(root), split=split, options=options)


def _az_steps(a: int, b: int) -> int:
    d = abs(a - b) // 2 % 18
    return min(d, 18 - d)


def test_header_matches_the_norb_format(root):
    path, tables = root
    dat = path / f"{NORB_TRAIN_PREFIX}-dat.mat"
    magic, ndim, *dims = struct.unpack("<6i", dat.read_bytes()[:24])
    assert (magic, ndim) == (0x1E3D4C55, 4) and dims == [36, 2, 96, 96]
    cat = path / f"{NORB_TRAIN_PREFIX}-cat.mat"
    assert struct.unpack("<5i", cat.read_bytes()[:20]) == (0x1E3D4C54, 1, 36, 1, 1)
    dtype, shape, offset = norb.read_norb_header(path / f"{NORB_TRAIN_PREFIX}-info.mat")
    assert (dtype, shape, offset) == (np.dtype("<i4"), (36, 4), 20)
    info = norb.read_norb_matrix(path / f"{NORB_TRAIN_PREFIX}-info.mat")
    np.testing.assert_array_equal(info, tables["train"][:, 1:])
    images = norb.read_norb_matrix(dat, mmap=True)
    assert isinstance(images, np.memmap) and images.shape == (36, 2, 96, 96)
    assert images[7, 1, 50, 10] == norb_level(7, 1)


@pytest.mark.parametrize("image_size", [32, 64])
def test_pairs_are_neighbouring_views_of_one_instance_and_lighting(root, image_size):
    path, tables = root
    table = tables["train"]  # (category, instance, elevation, azimuth, lighting)
    ds = build_dataset(_cfg(path, category="car"), image_size)
    assert isinstance(ds, norb.SmallNORBPairs)
    assert len(ds) == int((table[:, 0] == CAR).sum()) == 18
    torch.manual_seed(0)
    seen_wrap = False
    for _ in range(4):
        for i in range(len(ds)):
            item = ds[i]
            assert item["source"].shape == item["target"].shape == (3, image_size, image_size)
            assert item["target"].dtype == torch.float32
            t, s = item["rows"].tolist()
            ct, it, et, at, lt = table[t]
            cs, is_, es, as_, ls = table[s]
            assert ct == cs == CAR and it == is_ and lt == ls
            assert abs(et - es) <= 1 and _az_steps(at, as_) <= 1 and (et, at) != (es, as_)
            seen_wrap |= {int(at), int(as_)} == {0, 34}
            # the pixels are those of the rows named, camera 0, grey replicated to RGB
            for img, row in ((item["target"], t), (item["source"], s)):
                level = img[:, -2, 2] * 255
                assert torch.allclose(level, torch.full((3,), float(norb_level(row, 0))),
                                      atol=1.0)
    assert seen_wrap, "azimuth 340° and 0° must be neighbours"


def test_marker_stays_top_right_after_resize(root):
    path, _ = root
    for size in (32, 128):
        img = build_dataset(_cfg(path), size)[0]["target"]
        q = size // 4 - 3  # inside the block, clear of its blurred inner edges
        assert img[0, :q, -q:].min() > 0.99  # the 24/96 marker block: top-right quarter
        assert img[0, -q:, :q].max() < 0.99  # not transposed to the bottom-left


def test_category_camera_and_split(root):
    path, tables = root
    ds = build_dataset(_cfg(path, category=AIRPLANE, camera=1), 32)
    rows = set(ds.rows)
    assert rows == set(np.flatnonzero(tables["train"][:, 0] == AIRPLANE).tolist())
    item = ds[3]
    t = int(item["rows"][0])
    assert abs(float(item["target"][0, -2, 2]) * 255 - norb_level(t, 1)) <= 1.0
    assert float(item["target"][0, 1, -2]) < 0.01  # camera 1 draws its marker black
    test = build_dataset(_cfg(path, split="test", category="airplane"), 32)
    assert test.paths["dat"].name == f"{NORB_TEST_PREFIX}-dat.mat"
    assert set(test.rows) == set(np.flatnonzero(tables["test"][:, 0] == AIRPLANE).tolist())


@pytest.mark.parametrize("mode", ["azimuth", "elevation"])
def test_neighbour_modes_and_max_step(root, mode):
    path, tables = root
    table = tables["train"]
    ds = build_dataset(_cfg(path, neighbours=mode), 32)
    for row, sources in zip(ds.rows, ds.sources, strict=True):
        for s in sources:
            if mode == "azimuth":
                assert table[s, 2] == table[row, 2] and _az_steps(table[s, 3], table[row, 3]) == 1
            else:
                assert table[s, 3] == table[row, 3] and abs(table[s, 2] - table[row, 2]) == 1
    # azimuths 20° and 340° are two steps apart: neighbours only with max_step=2
    wide = build_dataset(_cfg(path, neighbours="azimuth", max_step=2), 32)
    two = [(r, s) for r, src in zip(wide.rows, wide.sources, strict=True) for s in src
           if {int(table[r, 3]), int(table[s, 3])} == {2, 34}]
    assert two and all(table[r, 2] == table[s, 2] for r, s in two)


def test_views_without_neighbours_are_left_out(tmp_path):
    write_smallnorb_fixture(tmp_path, splits=("train",), categories=(4,), lightings=(0,),
                            elevations=(0, 1), azimuths=(0, 10))  # 0° and 100°
    ds = norb.SmallNORBPairs(tmp_path, 32, neighbours="elevation")
    assert len(ds) == 4 and ds.isolated == 0
    with pytest.raises(DatasetError, match="no car images with a neighbouring viewpoint"):
        norb.SmallNORBPairs(tmp_path, 32, neighbours="azimuth")


def test_loader_batches_pairs(root):
    path, _ = root
    ds = build_dataset(_cfg(path), 32)
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_skipping)))
    assert batch["source"].shape == (4, 3, 32, 32) and batch["rows"].shape == (4, 2)
    assert batch["skipped"] == 0


def test_pickling_does_not_carry_the_memory_map(root):
    import pickle

    path, _ = root
    ds = build_dataset(_cfg(path), 32)
    ds[0]
    assert ds._images is not None
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._images is None and torch.equal(clone.image(5), ds.image(5))


def test_missing_files_name_the_expected_path(tmp_path):
    with pytest.raises(DatasetError, match="is not a folder"):
        build_dataset(_cfg(tmp_path / "nowhere"), 32)
    write_smallnorb_fixture(tmp_path, splits=("train",))
    with pytest.raises(DatasetError) as err:
        build_dataset(_cfg(tmp_path, split="test"), 32)
    assert str(tmp_path / f"{NORB_TEST_PREFIX}-dat.mat") in str(err.value)
    (tmp_path / f"{NORB_TRAIN_PREFIX}-info.mat").unlink()
    with pytest.raises(DatasetError, match="info file .*-training-info.mat .*is missing"):
        build_dataset(_cfg(tmp_path), 32)


def test_gzipped_download_asks_to_decompress(tmp_path):
    write_smallnorb_fixture(tmp_path, splits=("train",), gzip_only=True)
    with pytest.raises(DatasetError, match="decompress it first"):
        build_dataset(_cfg(tmp_path), 32)


def test_truncated_and_foreign_files_are_errors(tmp_path):
    write_smallnorb_fixture(tmp_path, splits=("train",))
    dat = tmp_path / f"{NORB_TRAIN_PREFIX}-dat.mat"
    dat.write_bytes(dat.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="truncated"):
        build_dataset(_cfg(tmp_path), 32)
    dat.write_bytes(b"\x1f\x8b" + bytes(100))  # a gzip stream under the .mat name
    with pytest.raises(DatasetError, match="not a NORB binary matrix"):
        build_dataset(_cfg(tmp_path), 32)


def test_unknown_and_invalid_options(root):
    path, _ = root
    with pytest.raises(DatasetError, match=r"'colour'.*valid options: category, camera"):
        build_dataset(_cfg(path, colour=1), 32)
    with pytest.raises(DatasetError, match="category='boat'"):
        build_dataset(_cfg(path, category="boat"), 32)
    with pytest.raises(DatasetError, match="camera=2"):
        build_dataset(_cfg(path, camera=2), 32)
    with pytest.raises(DatasetError, match="neighbours='diagonal'"):
        build_dataset(_cfg(path, neighbours="diagonal"), 32)
    with pytest.raises(DatasetError, match="max_step=0"):
        build_dataset(_cfg(path, max_step=0), 32)
    with pytest.raises(DatasetError, match="split 'val' is unknown"):
        build_dataset(_cfg(path, split="val"), 32)
