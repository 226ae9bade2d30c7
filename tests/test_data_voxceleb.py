"""VoxCeleb reader (landmarks.data.voxceleb) on tiny fixtures: mp4 clips and unzippedFaces."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

import landmarks.data.voxceleb as vox
from fixtures_objects import VOX_MP4_LAYOUT, write_voxceleb_fixture
from landmarks.config import DataConfig
from landmarks.data import DatasetError, build_dataset, collate_skipping


@pytest.fixture(scope="module")
def mp4_root(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("vox_mp4")
    return path, write_voxceleb_fixture(path, "mp4")


@pytest.fixture(scope="module")
def faces_root(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("vox_faces")
    return path, write_voxceleb_fixture(path, "faces")


def _cfg(root: Path, split: str = "train", gap=(3, 4), **options) -> DataConfig:
    return DataConfig(kind="voxceleb", root=str(root), split=split, options=options,
                      frame_gap=list(gap))


def _build(cfg: DataConfig, size: int = 32) -> vox.VoxCelebPairs:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short clips are skipped with a warning
        ds = build_dataset(cfg, size)
    assert isinstance(ds, vox.VoxCelebPairs)
    return ds


def _clip_and_frame(img: torch.Tensor) -> tuple[int, int]:
    """Decode the fixture colour (20 + 40 k, 10 + 20 t, 128) back to (clip k, frame t)."""
    r, g, _ = (img[:, img.shape[1] // 2, img.shape[2] // 2] * 255).tolist()
    return round((r - 20) / 40), round((g - 10) / 20)


def _check_pairs(ds: vox.VoxCelebPairs, clips: dict[str, int], gap: tuple[int, int]) -> set:
    """Every item: both frames from one clip, at the frame indices it reports."""
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        assert item["source"].shape == item["target"].shape == (3, 32, 32)
        t, s = item["frames"].tolist()
        kt, ft = _clip_and_frame(item["target"])
        ks, fs = _clip_and_frame(item["source"])
        assert kt == ks, f"item {i} mixes clips {kt} and {ks}"
        assert (ft, fs) == (t, s) and 1 <= abs(t - s) <= gap[1]
        seen.add(kt)
    return seen


def test_identity_split_rule():
    assert vox.identity_split("id10270") == vox.identity_split("id10309") == "test"
    assert vox.identity_split("id10269") == vox.identity_split("id10310") == "train"
    assert vox.identity_split("id10001") == vox.identity_split("id11251") == "train"
    assert vox.identity_split("id00012") is None  # VoxCeleb2
    assert vox.identity_split("A.J._Buckley") is None


def test_mp4_clips_train_split(mp4_root):
    root, clips = mp4_root
    ds = _build(_cfg(root))
    assert ds.identities == ["id10001", "id10002"]  # id10003's only clip is too short
    assert any("id10003" in p for p in ds.skipped)
    assert len(ds) == 6 + 5 + 6 + 6
    torch.manual_seed(0)
    seen = _check_pairs(ds, clips, (3, 4))
    want = {k for p, k in clips.items() if "/id10001/" in p or "/id10002/" in p}
    assert seen == want


def test_mp4_clips_test_and_all_splits(mp4_root):
    root, clips = mp4_root
    test = _build(_cfg(root, split="test"))
    assert test.identities == ["id10270"] and len(test) == 6
    assert _check_pairs(test, clips, (3, 4)) == {clips[str(root / "id10270" / "5r0dWxy17C8"
                                                            / "00001.mp4")]}
    everything = _build(_cfg(root, split="all"))
    assert everything.identities == ["id10001", "id10002", "id10270"]
    # every clip long enough for frame_gap (3, 4), i.e. of at least 4 frames
    n = sum(f for v in VOX_MP4_LAYOUT.values() for fs in v.values() for f in fs if f >= 4)
    assert len(everything) == n == 29
    batch = next(iter(DataLoader(everything, batch_size=5, shuffle=True,
                                 collate_fn=collate_skipping)))
    assert batch["source"].shape == (5, 3, 32, 32) and batch["frames"].shape == (5, 2)


def test_unzipped_faces_frame_folders_split_by_meta(faces_root):
    root, clips = faces_root
    train = _build(_cfg(root))
    assert train.identities == ["Ann_Example"] and len(train) == 5 + 4
    assert len(train.parts[0].videos) == 2  # one frame folder per video under 1.6/
    torch.manual_seed(1)
    assert _check_pairs(train, clips, (3, 4)) == {0, 1}
    test = _build(_cfg(root, split="test"))
    assert test.identities == ["Ted_Sample"]
    assert _check_pairs(test, clips, (3, 4)) == {2}


def test_meta_option_and_missing_meta(tmp_path):
    root = tmp_path / "unzippedFaces"
    write_voxceleb_fixture(root, "faces")
    meta = tmp_path / "elsewhere.csv"
    (root / "vox1_meta.csv").rename(meta)
    with pytest.raises(DatasetError) as err:
        _build(_cfg(root))
    assert str(root / "vox1_meta.csv") in str(err.value) and "Ann_Example" in str(err.value)
    assert _build(_cfg(root, meta=str(meta))).identities == ["Ann_Example"]
    assert len(_build(_cfg(root, split="all"))) == 5 + 4 + 5  # no meta needed
    with pytest.raises(DatasetError, match="option 'meta'"):
        _build(_cfg(root, meta=str(tmp_path / "nope.csv")))
    meta.write_text("VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\n"
                    "id10001\tSomeone_Else\tm\tNowhere\tdev\n")
    with pytest.raises(DatasetError, match="Ann_Example is not listed in"):
        _build(_cfg(root, meta=str(meta)))


def test_voxceleb2_ids_need_split_all(tmp_path):
    from fixtures import write_frame_folder

    write_frame_folder(tmp_path / "id00012" / "_raOc3-IRsw" / "00110", 5, (32, 32))
    with pytest.raises(DatasetError, match="id00012 is not a VoxCeleb1 id"):
        _build(_cfg(tmp_path))
    assert len(_build(_cfg(tmp_path, split="all"))) == 5


def test_errors_name_paths_splits_and_options(mp4_root, tmp_path):
    root, _ = mp4_root
    with pytest.raises(DatasetError, match=str(tmp_path / "absent")):
        _build(_cfg(tmp_path / "absent"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="holds no identity folders"):
        _build(_cfg(empty))
    (empty / "id10005").mkdir()
    with pytest.raises(DatasetError, match="no usable clip in split 'train'"):
        _build(_cfg(empty))
    with pytest.raises(DatasetError, match="no identity of split 'test'"):
        _build(_cfg(empty, split="test"))
    with pytest.raises(DatasetError, match="split 'dev' is unknown"):
        _build(_cfg(root, split="dev"))
    with pytest.raises(DatasetError, match=r"'fps'.*valid options: meta"):
        _build(_cfg(root, fps=25))

