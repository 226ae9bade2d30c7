"""RealFaces (landmarks.data.realfaces): geometry, the reader and its validation, and the build
pipeline with a fake annotator. No dlib and no network needed (one optional test runs dlib on a
cached still when both are present)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fixtures import face_template_68, write_realfaces_root, write_video
from landmarks.data import DatasetError, VideoFramePairs
from landmarks.data import realfaces as rf

# ----------------------------------------------------------------------------------------------
# Geometry


def test_mafl5_from_68_indices_and_order() -> None:
    p68 = np.zeros((68, 2))
    p68[36:42] = [[0, 0], [2, 0], [4, 0], [6, 0], [2, 6], [4, 6]]  # mean (3, 2)
    p68[42:48] = [[10, 1], [12, 1], [14, 1], [16, 1], [12, 1], [14, 1]]  # mean (13, 1)
    p68[30] = [8, 9]
    p68[48] = [5, 15]
    p68[54] = [11, 16]
    out = rf.mafl5_from_68(p68)
    np.testing.assert_allclose(out, [[3, 2], [13, 1], [8, 9], [5, 15], [11, 16]])
    batch = rf.mafl5_from_68(np.stack([p68, p68 + 1]))
    assert batch.shape == (2, 5, 2)
    np.testing.assert_allclose(batch[1], out + 1)
    assert rf.POINT_NAMES_5 == ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")
    with pytest.raises(ValueError, match=r"\(\.\.\., 68, 2\)"):
        rf.mafl5_from_68(np.zeros((5, 2)))


def test_loose_square_geometry() -> None:
    box = np.array([100.0, 50.0, 200.0, 150.0])  # side 100, centre (150, 100)
    out = rf.loose_square(box, scale=1.8, shift=0.1)
    np.testing.assert_allclose(out, [60.0, 20.0, 240.0, 200.0])  # centre (150, 110), side 180
    assert out[2] - out[0] == pytest.approx(out[3] - out[1])
    # a non-square box: side = mean of width and height; negative shift moves it up
    out = rf.loose_square([0.0, 0.0, 40.0, 60.0], scale=2.0, shift=-0.5)
    np.testing.assert_allclose(out, [-30.0, -45.0, 70.0, 55.0])
    assert rf.loose_square(np.tile(box, (3, 1))).shape == (3, 4)


def _track(t_len: int, rng: np.random.Generator, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(t_len, dtype=np.float64)
    cx, cy, side = 100 + 0.5 * t, 80 + 0.2 * t, 60 + 0.05 * t
    truth = np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], axis=1)
    return truth, truth + rng.normal(0, jitter, truth.shape)


def test_smooth_boxes_reduces_jitter_and_rejects_an_outlier() -> None:
    truth, noisy = _track(60, np.random.default_rng(0), jitter=2.0)
    noisy[30] += 40.0  # one wrong detection
    smooth = rf.smooth_boxes(noisy, radius=5)
    inner = slice(8, 52)
    err_noisy = np.abs(noisy[inner] - truth[inner]).mean()
    err_smooth = np.abs(smooth[inner] - truth[inner]).mean()
    assert err_smooth < 0.4 * err_noisy
    assert np.abs(smooth[30] - truth[30]).max() < 3.0  # the outlier does not drag the track
    assert np.isfinite(smooth).all()


def test_smooth_boxes_fills_short_gaps_only() -> None:
    truth, _ = _track(40, np.random.default_rng(1), jitter=0.0)
    boxes = truth.copy()
    boxes[10:13] = np.nan  # short gap: interpolated
    boxes[20:32] = np.nan  # long gap: stays missing
    boxes[0] = np.nan  # a miss at the start: held
    out = rf.smooth_boxes(boxes, radius=0, max_gap=5)
    np.testing.assert_allclose(out[10:13], truth[10:13], atol=1e-9)  # linear motion
    assert np.isnan(out[20:32]).all()
    np.testing.assert_allclose(out[0], truth[1])
    smoothed = rf.smooth_boxes(boxes, radius=3, max_gap=5)
    assert np.isfinite(smoothed[10:13]).all() and np.isnan(smoothed[20:32]).all()
    assert np.isnan(rf.smooth_boxes(np.full((4, 4), np.nan))).all()
    with pytest.raises(ValueError, match="T, 4"):
        rf.smooth_boxes(np.zeros(4))


def test_to_crop_coords_and_back() -> None:
    crop_box = [10.0, 20.0, 110.0, 120.0]  # 100 px square → 50 px crop
    pts = np.array([[10.0 - 0.5, 20.0 - 0.5], [59.5, 69.5], [109.5, 119.5]])  # edges and centre
    out = rf.to_crop_coords(pts, crop_box, crop_size=50)
    np.testing.assert_allclose(out, [[-0.5, -0.5], [24.5, 24.5], [49.5, 49.5]])
    np.testing.assert_allclose(rf.from_crop_coords(out, crop_box, crop_size=50), pts)
    # points_at_size: the pixel-centre scaling of the whole crop
    np.testing.assert_allclose(rf.points_at_size([[-0.5, 127.5], [63.5, 63.5]], 64, 128),
                               [[-0.5, 63.5], [31.5, 31.5]])


def test_crop_square_repeats_edges_and_matches_point_mapping() -> None:
    img = np.full((40, 60, 3), 200, np.uint8)
    img[10, 30] = [255, 0, 0]  # a marked pixel (centre at x=30, y=10)
    crop_box = [0.0, -10.0, 40.0, 30.0]  # leaves the image at the top
    out = rf.crop_square(img, crop_box, crop_size=40)  # scale 1: an exact shift
    assert out.shape == (40, 40, 3) and out.dtype == np.uint8
    img[0, :] = [0, 0, 250]  # the top row: repeated upwards outside the image
    out = rf.crop_square(img, crop_box, crop_size=40)
    assert (out[:10] == [0, 0, 250]).all() and (out[11:] == 200).sum() > 0
    x, y = rf.to_crop_coords(np.array([30.0, 10.0]), crop_box, 40)
    assert tuple(out[int(round(y)), int(round(x))]) == (255, 0, 0)


# ----------------------------------------------------------------------------------------------
# The reader


def test_load_manifest_splits_and_images(tmp_path: Path) -> None:
    root = write_realfaces_root(tmp_path / "rf", n_unlabelled=4, n_labelled=3, n_test=2,
                                crop_size=32, n_stills=2)
    ds = rf.load_manifest(root)
    assert ds.crop_size == 32 and ds.eye_indices_5 == (0, 1) and ds.eye_indices_68 == (36, 45)
    assert "NOT human" in ds.labels
    assert [len(ds.split(s)) for s in ("train_unlabelled", "train_labelled", "test", "train")] \
        == [4, 3, 4, 7]
    frame = ds.split("train_labelled")[0]
    assert frame.id == "clipA/00004" and frame.frame == 4 and frame.clip == "clipA"
    assert frame.image == root / "frames/train/clipA/00004.png" and frame.image.is_file()
    assert frame.mafl5.shape == (5, 2) and frame.landmarks68.shape == (68, 2)
    np.testing.assert_allclose(frame.mafl5, rf.mafl5_from_68(frame.landmarks68))
    still = ds.split("test")[-1]
    assert still.frame is None and still.person == "stillperson" and not still.person_in_train
    with pytest.raises(KeyError, match="train_labelled"):
        ds.split("validation")

    test = ds.split("test")
    images = rf.load_split_images(test, 16)
    assert images.shape == (4, 3, 16, 16) and images.dtype == torch.float32
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert rf.stack_labels(test).shape == (4, 5, 2)
    assert rf.stack_labels(test, "landmarks68").shape == (4, 68, 2)
    # the training folder is a root of frame-folder videos
    pairs = VideoFramePairs(root / "frames" / "train", 16)
    assert len(pairs) == 7


def test_missing_manifest_names_it_and_the_command(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        rf.load_manifest(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere" / "manifest.json") in str(err.value)
    assert "landmarks data fetch realfaces --root DIR" in str(err.value)


def test_missing_frame_names_frame_and_manifest(tmp_path: Path) -> None:
    root = write_realfaces_root(tmp_path / "rf")
    missing = root / "frames" / "test" / "clipA" / "00008.png"
    missing.unlink()
    with pytest.raises(DatasetError) as err:
        rf.load_manifest(root)
    msg = str(err.value)
    assert str(missing) in msg and str(root / "manifest.json") in msg and "clipA/00008" in msg


def _edit_manifest(root: Path, fid: str, key: str, value: object) -> None:
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    data["frames"][fid][key] = value
    path.write_text(json.dumps(data))


def test_nan_label_names_frame_key_and_shape(tmp_path: Path) -> None:
    root = write_realfaces_root(tmp_path / "rf")
    pts = face_template_68(32)[:5].tolist()
    pts[2][0] = float("nan")
    _edit_manifest(root, "clipA/00001", "mafl5", pts)
    with pytest.raises(DatasetError, match=r"clipA/00001.*'mafl5'.*NaN.*\(5, 2\)"):
        rf.load_manifest(root)


def test_wrong_point_count_names_frame_key_and_shape(tmp_path: Path) -> None:
    root = write_realfaces_root(tmp_path / "rf")
    _edit_manifest(root, "clipA/00002", "landmarks68", face_template_68(32)[:67].tolist())
    with pytest.raises(DatasetError, match=r"clipA/00002.*'landmarks68'.*\(67, 2\).*\(68, 2\)"):
        rf.load_manifest(root)


def test_split_naming_an_unknown_frame_is_an_error(tmp_path: Path) -> None:
    root = write_realfaces_root(tmp_path / "rf")
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    data["splits"]["test"].append("ghost/00000")
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="ghost/00000"):
        rf.load_manifest(root)


# ----------------------------------------------------------------------------------------------
# Building, with a fake annotator (no dlib)


class _BlobAnnotator:
    """Finds the red blob of the fixture pictures as the "face"; misses chosen detect calls."""

    def __init__(self, miss_calls: set[int] = frozenset()):
        self.calls = 0
        self.miss_calls = set(miss_calls)

    def detect(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        self.calls += 1
        if self.calls - 1 in self.miss_calls:
            return []
        red = image[..., 0].astype(float) - image[..., 1:].mean(axis=2)
        ys, xs = np.nonzero(red > 0.5 * red.max())
        cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
        half = 0.15 * min(image.shape[:2])
        return [(np.array([cx - half, cy - half, cx + half, cy + half]), 1.0)]

    def predict68(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        side = box[2] - box[0]
        return face_template_68(128) / 128.0 * side + box[:2] - 0.5

    def info(self) -> dict:
        return {"labels": "a fake annotator for tests"}


def test_build_with_fake_annotator(tmp_path: Path) -> None:
    faces = tmp_path / "faces"
    write_video(faces / "videos" / "a.mp4", 10, (48, 64))
    write_video(faces / "videos" / "b.mp4", 4, (48, 64))
    (faces / "stills").mkdir(parents=True)
    from fixtures import blob_image

    Image.fromarray(blob_image((50, 40), (20.0, 25.0))).save(faces / "stills" / "s.png")
    clips = (rf.ClipSpec("a", "videos/a.mp4", "pA",
                         (("train_unlabelled", 0, 4), ("train_labelled", 5, 7), ("test", 8, 9))),
             rf.ClipSpec("b", "videos/b.mp4", "pB", (("test", 0, 3),), person_in_train=False))
    stills = (rf.StillSpec("s", "stills/s.png", "pS", faces=2),)
    root = tmp_path / "out" / "realfaces"
    root.mkdir(parents=True)
    (root / "mine.txt").write_text("keep me")
    (root / "frames").mkdir()
    (root / "frames" / "stale.png").write_bytes(b"old")
    annot = _BlobAnnotator(miss_calls={2, 6})  # frames 2 and 6 of clip a: no face
    rf.build_realfaces(root, faces, annot, clips=clips, stills=stills, crop_size=32,
                       log=lambda _msg: None)

    assert (root / "mine.txt").read_text() == "keep me"  # nothing else touched
    assert not (root / "frames" / "stale.png").exists()  # its own old frames replaced
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["realfaces"]  # no temp left
    readme = (root / "README.txt").read_text()
    assert "NOT HUMAN ANNOTATIONS" in readme and "iBUG 300-W" in readme
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["labels"] == rf.LABELS_NOTE and "NOT human" in manifest["labels"]
    assert manifest["skipped"] == {"no_face": 3, "by_clip": {"a": 2, "b": 0, "stills_s": 1}}

    ds = rf.load_manifest(root)
    assert [f.frame for f in ds.split("train_unlabelled")] == [0, 1, 3, 4]
    assert [f.frame for f in ds.split("train_labelled")] == [5, 7]
    assert [f.id for f in ds.split("test")] == ["a/00008", "a/00009", "b/00000", "b/00001",
                                                "b/00002", "b/00003", "stills_s_0/00000"]
    assert (root / "frames/train/a/00004.png").is_file()
    assert (root / "frames/test/a/00008.png").is_file()
    with Image.open(root / "frames/test/stills_s_0/00000.png") as img:
        assert img.size == (32, 32)
    # labels are the annotator's points mapped into the crop
    entry = manifest["frames"]["a/00005"]
    back = rf.from_crop_coords(np.array(entry["landmarks68"]), entry["crop_box"], 32)
    np.testing.assert_allclose(back, annot.predict68(None, np.array(entry["box"])), atol=0.02)
    # the loose box is centred on the (smoothed) face: the template's eyes land mid-crop
    assert np.abs(ds.frames["a/00005"].mafl5[:2, 0].mean() - 15.5) < 2.0

    # an existing manifest short-cuts fetch_realfaces (no dlib, no download)
    assert rf.fetch_realfaces(root) == root


def test_fetch_without_dlib_says_how_to_install(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` raises ImportError
    monkeypatch.setattr(rf, "fetch_face_videos", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(rf.AnnotatorUnavailableError, match=r"pip install -e '\.\[annotate\]'"):
        rf.fetch_realfaces(tmp_path / "rf")
    assert not (tmp_path / "rf").exists()


def test_default_root_is_in_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANDMARKS_CACHE", str(tmp_path))
    assert rf.default_root() == tmp_path / "data" / "realfaces"


def test_dlib_on_a_cached_still_if_available() -> None:
    """Optional: runs only where dlib is installed and the still and the model are cached."""
    pytest.importorskip("dlib", reason="dlib is not installed (pip install -e '.[annotate]')")
    from conftest import REAL_CACHE

    still = REAL_CACHE / "data" / "faces" / "stills" / "single_face.jpg"
    model = REAL_CACHE / "weights" / rf.PREDICTOR_FILE
    if not (still.is_file() and model.is_file()):
        pytest.skip(f"needs {still} and {model} in the cache (landmarks data fetch realfaces); "
                    f"tests never download")
    annot = rf.DlibAnnotator(model)
    with Image.open(still) as img:
        image = np.asarray(img.convert("RGB")).copy()
    dets = annot.detect(image)
    assert len(dets) == 1
    box = dets[0][0]
    p5 = rf.mafl5_from_68(annot.predict68(image, box))
    assert (p5[:, 0] > box[0]).all() and (p5[:, 0] < box[2]).all()
    assert p5[0, 0] < p5[1, 0] and p5[3, 0] < p5[4, 0]  # left/right = image left/right
    assert p5[0, 1] < p5[2, 1] < p5[3, 1]  # eyes above the nose above the mouth


def test_fit_inside_shrinks_but_keeps_the_face_centred() -> None:
    from landmarks.data.realfaces import fit_inside

    # larger than the short side: shrinks to it about the same centre
    b = fit_inside(np.array([100.0, -50.0, 566.0, 416.0]), 640, 360)
    assert np.allclose(b[2] - b[0], 360) and np.allclose(b[3] - b[1], 360)
    assert np.allclose((b[0] + b[2]) / 2, 333.0) and np.allclose((b[1] + b[3]) / 2, 183.0)
    # small enough: unchanged, even where it leaves the image
    off = np.array([600.0, 10.0, 700.0, 110.0])
    assert np.allclose(fit_inside(off, 640, 360), off)
