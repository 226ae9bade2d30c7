"""SVHN cropped-digits reader (landmarks.data.svhn) on tiny MATLAB v5 fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from torch.utils.data import DataLoader

import landmarks.data.svhn as svhn
from fixtures_objects import svhn_level, write_svhn_fixture
from landmarks.config import Config, DataConfig
from landmarks.data import DatasetError, build_dataset, collate_skipping
from landmarks.engine.trainer import make_pair


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("svhn")
    write_svhn_fixture(path)
    return path


def _cfg(root: Path, split: str = "train", **options) -> DataConfig:
    return DataConfig(kind="svhn", root=str(root), split=split, options=options)


def test_fixture_has_the_real_variables(root):
    mat = scipy.io.loadmat(str(root / "train_32x32.mat"))
    assert mat["X"].shape == (32, 32, 3, 5) and mat["X"].dtype == np.uint8
    assert mat["y"].shape == (5, 1) and mat["y"].dtype == np.uint8
    assert set(mat["y"].ravel()) <= set(range(1, 11))


@pytest.mark.parametrize("image_size", [32, 64])
def test_items_are_single_images_in_order(root, image_size):
    ds = build_dataset(_cfg(root), image_size)
    assert isinstance(ds, svhn.SVHNDigits) and len(ds) == 5
    for i in range(len(ds)):
        item = ds[i]
        assert set(item) == {"image"}
        img = item["image"]
        assert img.shape == (3, image_size, image_size) and img.dtype == torch.float32
        assert abs(float(img[1, -2, 2]) * 255 - svhn_level(i)) <= 1.0
        assert abs(float(img[2, -2, 2]) * 255 - 90) <= 1.0
    assert torch.equal(ds[-1]["image"], ds[4]["image"])


def test_marker_stays_top_right_after_resize(root):
    for size in (32, 128):
        img = build_dataset(_cfg(root), size)[0]["image"]
        q = size // 4 - 3  # inside the block, clear of its blurred inner edges
        assert img[0, :q, -q:].min() > 0.99  # the 8×8 red block: top-right quarter
        assert img[0, -q:, :q].max() < 0.01  # rows are rows: nothing bottom-left


def test_splits(root):
    assert len(build_dataset(_cfg(root, split="test"), 32)) == 3
    with pytest.raises(DatasetError) as err:
        build_dataset(_cfg(root, split="extra"), 32)
    assert str(root / "extra_32x32.mat") in str(err.value)
    with pytest.raises(DatasetError, match="split 'valid' is unknown"):
        build_dataset(_cfg(root, split="valid"), 32)


def test_batches_become_tps_pairs(root):
    ds = build_dataset(_cfg(root), 32)
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_skipping)))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["skipped"] == 0
    cfg = Config()
    cfg.model.image_size = 32
    source, target, mask, _ = make_pair(batch, cfg, torch.Generator().manual_seed(0))[:4]
    assert source.shape == target.shape == (4, 3, 32, 32)
    assert not torch.equal(source, target)


def test_missing_root_and_unsupported_full_numbers_format(tmp_path):
    with pytest.raises(DatasetError) as err:
        build_dataset(_cfg(tmp_path), 32)
    assert str(tmp_path / "train_32x32.mat") in str(err.value)
    assert "cropped-digits" in str(err.value)
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "digitStruct.mat").write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(DatasetError, match="full-numbers format, which is not supported"):
        build_dataset(_cfg(tmp_path), 32)


def test_unreadable_and_wrong_files(tmp_path):
    (tmp_path / "train_32x32.mat").write_bytes(b"not a matlab file at all" * 8)
    with pytest.raises(DatasetError, match=r"train_32x32.mat cannot be read"):
        build_dataset(_cfg(tmp_path), 32)
    scipy.io.savemat(str(tmp_path / "train_32x32.mat"), {"images": np.zeros((2, 2))})
    with pytest.raises(DatasetError, match="holds no variable 'X'"):
        build_dataset(_cfg(tmp_path), 32)
    scipy.io.savemat(str(tmp_path / "train_32x32.mat"), {"X": np.zeros((32, 32, 3, 2))})
    with pytest.raises(DatasetError, match="expected X as uint8"):
        build_dataset(_cfg(tmp_path), 32)


def test_unknown_option(root):
    with pytest.raises(DatasetError, match=r"unknown svhn option\(s\) 'digits'.*none"):
        build_dataset(_cfg(root, digits=[1, 2]), 32)
