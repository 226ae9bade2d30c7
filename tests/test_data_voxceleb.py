"""VoxCeleb reader (landmarks.data.voxceleb) on tiny fixtures: mp4 clips and unzippedFaces."""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

import landmarks.data.index_cache as ic
import landmarks.data.voxceleb as vox
from data_checks import count_video_probes, forbid_video_opens
from fixtures_objects import VOX_MP4_LAYOUT, write_voxceleb_fixture
from landmarks.config import DataConfig
from landmarks.data import DatasetError, VideoFramePairs, build_dataset, collate_skipping


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


# -- index cache (landmarks.data.index_cache, through VideoFramePairs) ---------------------------


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch) -> Path:
    """Every test writes its index cache under its own tmp folder, never the real home cache."""
    cache = tmp_path / "landmarks-cache"
    monkeypatch.setenv("LANDMARKS_CACHE", str(cache))
    return cache


@pytest.fixture()
def probes(monkeypatch) -> list[Path]:
    """Record every clip the index opens (through ``landmarks.data.video.count_frames``)."""
    return count_video_probes(monkeypatch)


def _summary(ds: vox.VoxCelebPairs) -> tuple:
    return (ds.identities, len(ds), sorted(ds.skip_reasons.items()),
            [[(str(v.path), v.num_frames) for v in p.videos] for p in ds.parts])


def test_index_cache_second_construction_opens_no_video(mp4_root, probes, monkeypatch,
                                                        _private_cache):
    root, _ = mp4_root
    first = _build(_cfg(root))
    assert len(probes) == 5  # id10001 (3 clips), id10002 (1), id10003 (1): the train split
    path = ic.index_cache_path(root)
    assert path.is_file() and path.parent == _private_cache / "index"
    assert path.name.startswith("frames-") and path.suffix == ".json"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # one file per root
    forbid_video_opens(monkeypatch)
    again = _build(_cfg(root))
    assert _summary(again) == _summary(first)
    assert any("id10003" in p and "fewer than the 4" in r for p, r in again.skip_reasons.items())
    monkeypatch.undo()  # decoding (not indexing) opens the clips
    torch.manual_seed(0)
    assert _check_pairs(again, mp4_root[1], (3, 4)) == _check_pairs(first, mp4_root[1], (3, 4))


def test_index_cache_is_shared_by_splits_and_options(mp4_root, probes, monkeypatch):
    root, _ = mp4_root
    _build(_cfg(root))
    _build(_cfg(root, split="test"))
    assert len(probes) == 5 + 1  # the test split probes only its own clip
    _build(_cfg(root, split="all", gap=(1, 2)))  # train entries survived the test build
    assert len(probes) == 6
    capped = _build(DataConfig(kind="voxceleb", root=str(root), split="all", frame_gap=[3, 4],
                               max_frames=4))
    assert len(probes) == 6 + 6  # max_frames changes the counts: a cache file of its own
    assert ic.index_cache_path(root, 4) != ic.index_cache_path(root)
    assert len(capped) == 4 * 5 and all(v.num_frames == 4 for p in capped.parts
                                        for v in p.videos)


def test_index_cache_reprobes_only_changed_and_drops_deleted(tmp_path, probes):
    root = tmp_path / "vox"
    write_voxceleb_fixture(root, "mp4")
    first = _build(_cfg(root, split="all"))
    assert len(probes) == 6
    touched = root / "id10001" / "1zcIwhmdeo4" / "00002.mp4"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    deleted = root / "id10002" / "C7k7C-PDvAA" / "00001.mp4"
    deleted.unlink()
    probes.clear()
    again = _build(_cfg(root, split="all"))
    assert probes == [touched]
    assert len(again) == len(first) - 6 and "id10002" not in again.identities
    entries = json.loads(ic.index_cache_path(root).read_text())["entries"]
    assert "id10002/C7k7C-PDvAA/00001.mp4" not in entries and len(entries) == 5
    assert entries["id10001/1zcIwhmdeo4/00002.mp4"][:2] == [st.st_size, st.st_mtime_ns + 10**9]
    added = root / "id10001" / "7w0IBEWc9Qw" / "00002.mp4"
    shutil.copyfile(root / "id10001" / "7w0IBEWc9Qw" / "00001.mp4", added)
    probes.clear()
    assert len(_build(_cfg(root, split="all"))) == len(again) + 6 and probes == [added]


def test_index_cache_keeps_corrupt_clips_skipped(tmp_path, probes, monkeypatch):
    from fixtures import write_corrupt_video

    root = tmp_path / "vox"
    write_voxceleb_fixture(root, "mp4")
    bad = write_corrupt_video(root / "id10002" / "C7k7C-PDvAA" / "00002.mp4")
    first = _build(_cfg(root))
    assert str(bad) in first.skipped and str(bad) in first.skip_reasons[str(bad)]
    forbid_video_opens(monkeypatch)
    with pytest.warns(UserWarning, match=re.escape(f"skipping video {bad}")):
        again = vox.VoxCelebPairs(root, 32, frame_gap=(3, 4))
    assert _summary(again) == _summary(first)


def test_corrupt_index_cache_is_ignored_with_a_warning(mp4_root, probes):
    root, _ = mp4_root
    path = ic.index_cache_path(root)
    for garbage in ("{not json", '{"format": "something else"}', "[1, 2]"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(garbage)
        probes.clear()
        with pytest.warns(UserWarning, match=r"index cache .* is corrupt"):
            ds = vox.VoxCelebPairs(root, 32, frame_gap=(3, 4))
        assert ds.identities == ["id10001", "id10002"] and len(probes) == 5
        assert json.loads(path.read_text())["version"] == ic.INDEX_VERSION  # rewritten
    data = json.loads(path.read_text())
    data["entries"]["id10001/1zcIwhmdeo4/00001.mp4"] = ["x", 1]  # one malformed entry
    path.write_text(json.dumps(data))
    probes.clear()
    _build(_cfg(root))
    assert probes == [root / "id10001" / "1zcIwhmdeo4" / "00001.mp4"]


def test_unwritable_index_cache_warns_once_and_still_builds(mp4_root, tmp_path, monkeypatch,
                                                            probes):
    root, _ = mp4_root
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LANDMARKS_CACHE", str(blocker / "cache"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = vox.VoxCelebPairs(root, 32, frame_gap=(3, 4))
        second = vox.VoxCelebPairs(root, 32, frame_gap=(3, 4))
    cache_warnings = [w for w in caught if "index cache" in str(w.message)]
    assert len(cache_warnings) == 1 and "cannot be written" in str(cache_warnings[0].message)
    assert _summary(first) == _summary(second) and len(probes) == 2 * 5  # no caching


def test_probe_frame_counts_threads_agree(mp4_root, tmp_path, monkeypatch):
    root, _ = mp4_root
    clips = sorted(root.rglob("*.mp4"))
    one = ic.probe_frame_counts(root, clips, threads=1)
    monkeypatch.setenv("LANDMARKS_CACHE", str(tmp_path / "other"))
    many = ic.probe_frame_counts(root, clips, threads=4)  # real PyAV opens on 4 threads
    assert one == many and sorted(one.values()) == [2, 5, 6, 6, 6, 6]


def test_index_cache_is_shared_with_data_kind_video(mp4_root, probes, monkeypatch):
    root, _ = mp4_root
    everything = _build(_cfg(root, split="all"))
    assert len(probes) == 6
    forbid_video_opens(monkeypatch)  # the same root read as data.kind=video: same cache file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = VideoFramePairs(root, 32, frame_gap=(3, 4))
    assert sorted((str(v.path), v.num_frames) for v in plain.videos) \
        == sorted((str(v.path), v.num_frames) for p in everything.parts for v in p.videos)
