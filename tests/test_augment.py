"""data.augment (one photometric draw per pair) and data.still_share (stills' share of an epoch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from landmarks.config import ConfigError, load_config
from landmarks.data import DatasetError, VideoFramePairs, build_dataset
from landmarks.data.augment import AppearanceAugmented, PairAugmentation, check_augment

ALL = dict(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.05, greyscale=0.5, blur=0.5,
           jpeg=0.5)


def test_same_draw_for_both_images_of_a_pair():
    torch.manual_seed(0)
    image = torch.rand(3, 32, 32)
    aug = PairAugmentation(ALL)
    changed = 0
    for _ in range(20):
        out = aug(torch.stack([image, image]))
        assert out.shape == (2, 3, 32, 32)
        assert float(out.min()) >= 0 and float(out.max()) <= 1
        torch.testing.assert_close(out[0], out[1])  # one draw, applied alike
        changed += int(not torch.allclose(out[0], image, atol=1e-3))
    assert changed >= 15  # and the draws do change the look


def test_draws_differ_between_pairs():
    torch.manual_seed(1)
    image = torch.rand(1, 3, 32, 32)
    aug = PairAugmentation({"brightness": 0.4, "hue": 0.1})
    a, b = aug(image), aug(image)
    assert not torch.allclose(a, b)


def test_greyscale_gives_equal_channels():
    torch.manual_seed(0)
    out = PairAugmentation({"greyscale": 1.0})(torch.rand(2, 3, 16, 16))
    torch.testing.assert_close(out[:, 0], out[:, 1])
    torch.testing.assert_close(out[:, 1], out[:, 2])


def test_off_by_default_and_bad_values_named():
    assert not PairAugmentation({}).active
    with pytest.raises(DatasetError, match=r"data\.augment\.hue.*\[0, 0\.5\].*0\.9"):
        check_augment({"hue": 0.9})
    with pytest.raises(DatasetError, match=r"data\.augment.*'sharpen'"):
        check_augment({"sharpen": 0.3})


class _Pairs(torch.utils.data.Dataset):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        if i == 2:
            return None
        g = torch.Generator().manual_seed(i)
        img = torch.rand(3, 16, 16, generator=g)
        return {"source": img, "target": img.clone(), "frames": torch.tensor([i, i])}


def test_dataset_wrapper_keeps_other_keys_and_none():
    torch.manual_seed(0)
    ds = AppearanceAugmented(_Pairs(), {"brightness": 0.5, "greyscale": 1.0})
    item = ds[0]
    assert item["frames"].tolist() == [0, 0]
    torch.testing.assert_close(item["source"], item["target"])
    torch.testing.assert_close(item["source"][0], item["source"][1])
    assert ds[2] is None and len(ds) == 3


def _frames(root, name, n, seed):
    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(
            folder / f"{i:04d}.png")


def test_still_share_balances_stills_and_frames(tmp_path):
    _frames(tmp_path, "clip", 60, 0)
    for i in range(3):
        _frames(tmp_path, f"still{i}", 1, i + 1)
    plain = VideoFramePairs(tmp_path, 16, frame_gap=(1, 3), stills=True)
    assert len(plain) == 63
    half = VideoFramePairs(tmp_path, 16, frame_gap=(1, 3), stills=True, still_share=0.5)
    assert half.still_repeat == 20 and len(half) == 120
    # every index of a repeated still reads that still, paired with itself
    for i in range(60, 120):
        item = half[i]
        torch.testing.assert_close(item["source"], item["target"])
    with pytest.raises(ValueError, match="still_share"):
        VideoFramePairs(tmp_path, 16, frame_gap=(1, 3), stills=True, still_share=1.0)


def test_config_keys_reach_the_dataset(tmp_path):
    _frames(tmp_path, "clip", 40, 0)
    _frames(tmp_path, "still", 1, 1)
    cfg = load_config(None, [f"data.root={tmp_path}", "data.kind=video", "data.video_tps=true",
                             "data.frame_gap=[1, 3]", "data.still_share=0.5",
                             "data.augment={greyscale: 1.0}"])
    ds = build_dataset(cfg.data, 16)
    assert isinstance(ds, AppearanceAugmented) and len(ds) == 80
    item = ds[0]
    torch.testing.assert_close(item["target"][0], item["target"][2])
    with pytest.raises(ConfigError, match="data.still_share"):
        load_config(None, ["data.still_share=1.5"])
