"""Human3.6M official-release reader (landmarks.data.h36m_full) on a tiny fixture written in the
release's formats (mp4 videos, PNG frame folders, NASA CDF pose files)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

import landmarks.data.h36m_full as h36m_full
import landmarks.data.h36m_full_io as h36m_full_io
from fixtures import write_tiny_checkpoint
from fixtures_h36m_full import (
    CAMERA,
    FRAME_HW,
    MARKER_JOINTS,
    SUBJECTS,
    write_h36m_full_fixture,
    write_pose_cdf,
    write_sequence,
)
from landmarks.config import DataConfig, load_config
from landmarks.data import DatasetError, collate_skipping
from landmarks.data.h36m import POINT_NAMES, TEST_SUBJECTS, TRAIN_SUBJECTS
from landmarks.registry import BENCHMARKS, DATASETS

DIRECTIONS = f"Directions 1.{CAMERA}"
WALKING = f"Walking 1.{CAMERA}"
POSING = f"Posing 1.{CAMERA}"


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_h36m_full_fixture(tmp_path_factory.mktemp("h36m_full"))


@pytest.fixture(autouse=True)
def _close_videos():
    yield
    h36m_full.clear_video_readers()


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _red_centroid(image: torch.Tensor, near: np.ndarray, radius: int = 5) -> np.ndarray:
    """The red-weighted centroid of ``image`` (3, S, S) within ``radius`` px of ``near``."""
    red = image[0].numpy().astype(np.float64) * 255.0
    ys, xs = np.mgrid[0:red.shape[0], 0:red.shape[1]]
    weight = np.clip(red - 30.0, 0.0, None)
    weight *= (np.abs(xs - near[0]) <= radius) & (np.abs(ys - near[1]) <= radius)
    assert weight.sum() > 0, f"no marker near {near}"
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


def _assert_markers_at(image: torch.Tensor, points: np.ndarray, atol: float = 0.5) -> None:
    for j in MARKER_JOINTS:
        np.testing.assert_allclose(_red_centroid(image, points[j]), points[j], atol=atol,
                                   err_msg=f"joint {j} ({POINT_NAMES[j]})")


# ------------------------------------------------------------------------------------------------
# layout and pose files


def test_sequences_both_forms_activities_and_skipped(fixture: dict) -> None:
    root = fixture["root"]
    with pytest.warns(UserWarning, match=r"skipping 1 Human3.6M sequence\(s\) without a pose "
                                         r"file") as record:
        seqs, skipped, mismatched = h36m_full.find_sequences(root, ["S1", "S11"],
                                                             h36m_full.ACTIVITIES)
    assert sum("without a pose file" in str(w.message) for w in record) == 1
    names = [(s.subject, s.name) for s in seqs]
    assert names == [("S1", DIRECTIONS), ("S1", POSING), ("S1", WALKING), ("S11", DIRECTIONS),
                     ("S11", WALKING)]  # not WalkDog (another activity), not Greeting (no .cdf)
    by_name = {(s.subject, s.name): s for s in seqs}
    video, folder = by_name["S1", DIRECTIONS], by_name["S1", WALKING]
    assert video.video is not None and video.video.suffix == ".mp4" and not video.frames
    assert folder.video is None and folder.frames[0].name == "000001.png"
    assert [p.name for p in folder.frames[:3]] == ["000001.png", "000002.png", "000003.png"]
    assert video.activity == "Directions" and video.camera == CAMERA
    assert all(s.num_frames == fixture["frames"] for s in seqs) and mismatched == []
    assert list(skipped) == [str(fixture["no_pose"][0])]
    assert "Greeting 1" in skipped[str(fixture["no_pose"][0])]
    # activities: without the trailing " N", case-insensitive
    seqs, _, _ = _quiet(h36m_full.find_sequences, root, ["S1"], ["walkdog", "WALKING"])
    assert [s.name for s in seqs] == [f"WalkDog 1.{CAMERA}", WALKING]


def test_pose_file_round_trip_and_errors(tmp_path: Path) -> None:
    pose = np.random.default_rng(0).uniform(0, 1000, size=(1, 5, 64))
    path = write_pose_cdf(tmp_path / "a.cdf", pose)
    got = h36m_full.load_poses(path)
    assert got.shape == (5, 32, 2) and h36m_full.pose_rows(path) == 5
    np.testing.assert_array_equal(got[2, 7], pose[0, 2, 14:16])  # joint 7 = (x, y) at 14, 15
    bad = write_pose_cdf(tmp_path / "bad.cdf", np.zeros((1, 5, 96)))
    for fn in (h36m_full.load_poses, h36m_full.pose_rows):
        with pytest.raises(DatasetError, match=r"bad\.cdf: 'Pose' has shape \(1, 5, 96\)"):
            fn(bad)
        with pytest.raises(DatasetError, match=r"pose file .*missing\.cdf is missing"):
            fn(tmp_path / "missing.cdf")
    junk = tmp_path / "junk.cdf"
    junk.write_bytes(b"not a cdf file at all")
    with pytest.raises(DatasetError, match="junk.cdf cannot be read as a CDF"):
        h36m_full.load_poses(junk)


def test_bad_pose_shape_in_a_root_is_named(tmp_path: Path) -> None:
    root = tmp_path / "h36m"
    write_sequence(root, "S11", DIRECTIONS, 6, "folder")
    bad = write_pose_cdf(root / "S11/MyPoseFeatures/D2_Positions" / f"{DIRECTIONS}.cdf",
                         np.zeros((1, 6, 34)))
    with pytest.raises(DatasetError, match=rf"{bad.name}: 'Pose' has shape \(1, 6, 34\)"):
        h36m_full.make_benchmark(root, 32, train_subjects=["S11"])


def test_missing_root_and_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=rf"root {tmp_path / 'none'} does not exist"):
        h36m_full.make_benchmark(tmp_path / "none", 32)
    root = tmp_path / "h36m"
    write_sequence(root, "S11", DIRECTIONS, 6, "folder")
    with pytest.raises(DatasetError, match=rf"subject folder {root / 'S1'} is missing"):
        h36m_full.make_benchmark(root, 32)  # train subjects S1, S5-S9
    (root / "S1").mkdir()
    with pytest.raises(DatasetError, match=rf"video folder {root / 'S1' / 'Videos'} is missing"):
        h36m_full.make_benchmark(root, 32, train_subjects=["S1"])
    (root / "S1" / "Videos").mkdir()
    with pytest.raises(DatasetError, match=r"2D pose folder .*S1/MyPoseFeatures/D2_Positions "
                                           r"is missing"):
        h36m_full.make_benchmark(root, 32, train_subjects=["S1"])
    (root / "S1" / "MyPoseFeatures" / "D2_Positions").mkdir(parents=True)
    with pytest.raises(DatasetError, match="holds no frames of subjects S1"):
        h36m_full.make_benchmark(root, 32, train_subjects=["S1"])


def test_frame_folder_numbering(tmp_path: Path) -> None:
    root = tmp_path / "h36m"
    seq = write_sequence(root, "S11", DIRECTIONS, 6, "folder")
    folder = seq["source"]
    for i, path in enumerate(sorted(folder.iterdir())):  # 0-based, prefixed, unpadded: fine
        path.rename(folder / f"img_{i}.png")
    (seqs, _, _) = h36m_full.find_sequences(root, ["S11"], ["Directions"])
    assert [p.name for p in seqs[0].frames] == [f"img_{i}.png" for i in range(6)]
    (folder / "img_3.png").unlink()  # a gap: frames cannot be matched to pose rows
    with pytest.warns(UserWarning, match="not consecutive"):
        seqs, skipped, _ = h36m_full.find_sequences(root, ["S11"], ["Directions"])
    assert not seqs and "extract every frame" in skipped[str(folder)]


def test_frame_count_mismatch_uses_the_shorter(tmp_path: Path) -> None:
    root = tmp_path / "h36m"
    seq = write_sequence(root, "S11", DIRECTIONS, 8, "folder")
    (seq["source"] / "000008.png").unlink()
    with pytest.warns(UserWarning, match=r"1 Human3.6M sequence\(s\) have a different number"):
        bench = h36m_full.make_benchmark(root, 32, train_subjects=["S11"], stride=1)
    assert len(bench.split("test")) == 7


# ------------------------------------------------------------------------------------------------
# geometry


def test_crop_repeats_edge_pixels_like_a_padded_frame() -> None:
    frame = np.random.default_rng(1).integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    box = (-12.3, 20.6, 37.0)  # leaves the frame on the left and at the bottom
    got = h36m_full.crop_frame(frame, box, 16)
    pad = 60
    padded = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    x0, y0, side = box[0] + pad, box[1] + pad, box[2]
    want = np.array(Image.fromarray(padded).resize(
        (16, 16), Image.Resampling.BILINEAR, box=(x0, y0, x0 + side, y0 + side)))
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    inside = h36m_full.crop_frame(frame, (5.0, 4.0, 30.0), 30)  # 1:1, integer box: a plain crop
    np.testing.assert_array_equal(inside, frame[4:34, 5:35])


def test_joint_box_and_label_mapping() -> None:
    joints = np.array([[10.0, 20.0], [30.0, 60.0], [np.nan, 5.0]])
    x0, y0, side = h36m_full.joint_box(joints, margin=1.5)
    assert side == pytest.approx(60.0)  # max(20, 40) * 1.5
    assert (x0 + side / 2, y0 + side / 2) == pytest.approx((20.5, 40.5))  # centre pixel (20, 40)
    # the box centre pixel maps to the centre of the crop; its corners to the crop's corners
    np.testing.assert_allclose(h36m_full.to_crop_pixels(np.array([20.0, 40.0]), (x0, y0, side),
                                                         64), [31.5, 31.5])
    np.testing.assert_allclose(h36m_full.to_crop_pixels(np.array([x0 - 0.5, y0 - 0.5]),
                                                        (x0, y0, side), 64), [-0.5, -0.5])
    assert h36m_full.joint_box(np.full((32, 2), np.nan)) is None
    assert h36m_full.joint_box(np.zeros((32, 2)))[2] == h36m_full_io.MIN_CROP_SIDE


def test_video_frames_are_read_by_number(fixture: dict) -> None:
    seqs, _, _ = _quiet(h36m_full.find_sequences, fixture["root"], ["S1"], ["Directions"])
    seq = seqs[0]
    with av.open(str(seq.video)) as container:
        every = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(every) == fixture["frames"]
    # backwards, far ahead, just ahead, the last frame: each must be the frame asked for
    for rows in ([17, 4], [2], [20, 23], [5], [6, 7], [0]):
        got = h36m_full.read_frames(seq, rows)
        for r in rows:
            np.testing.assert_array_equal(got[r], every[r], err_msg=f"frame {r}")


# ------------------------------------------------------------------------------------------------
# benchmark


def test_benchmark_splits_labels_follow_the_image(fixture: dict) -> None:
    bench = _quiet(BENCHMARKS.create, "h36m_full", root=fixture["root"], image_size=64,
                   stride=4)
    assert bench.name == "h36m_full" and bench.metric == "size"
    assert bench.group_label == "activity" and bench.point_names == list(POINT_NAMES)
    frames = fixture["frames"]
    per_seq = len(range(0, frames, 4))
    test = bench.split("test")
    assert {seq.subject for seq, _, _ in test.items} == set(TEST_SUBJECTS)
    train = bench.split("train")
    assert {seq.subject for seq, _, _ in train.items} == set(TRAIN_SUBJECTS)
    assert len(test) == 2 * per_seq  # Directions (video) + Walking (frame folder)
    assert len(train) == (2 * 6 + 1) * per_seq  # + S1's Posing
    assert [item["group"] for item in (test[i] for i in range(len(test)))] == \
        ["Directions"] * per_seq + ["Walking"] * per_seq
    checked = {"video": 0, "folder": 0, "edge": 0, "outside": 0}
    for split in (train, test):
        for i in range(len(split)):
            seq, row, _ = split.items[i]
            item = split[i]
            assert item["image"].shape == (3, 64, 64) and item["visible"].all()
            joints = fixture["sequences"][seq.subject, seq.name]["joints"][row]
            box = h36m_full.joint_box(joints, h36m_full.DEFAULT_CROP_MARGIN)
            expected = h36m_full.to_crop_pixels(joints, box, 64)
            np.testing.assert_allclose(item["labels"].numpy(), expected, atol=1e-3)
            _assert_markers_at(item["image"], expected)  # the marker pixels are at the labels
            checked["edge" if seq.name == POSING else
                    "video" if seq.video is not None else "folder"] += 1
            if box[0] < 0:  # the crop leaves the frame: edge pixels, not black
                left = item["image"][1:, :, : int(np.floor(-box[0] * 64 / box[2]))]
                assert left.numel() and left.mean() > 0.1
                checked["outside"] += 1
    assert all(checked.values())


def test_benchmark_options(fixture: dict) -> None:
    root = fixture["root"]
    sub = _quiet(h36m_full.make_benchmark, root, 32, joints=[15, 8, 27], test_stride=8,
                 train_stride=12, activities=["walking"], crop_margin=2.0)
    assert sub.point_names == ["head", "left_foot", "right_wrist"]
    test = sub.split("test")
    assert len(test) == 3 and {item["group"] for item in (test[i] for i in range(3))} == \
        {"Walking"}
    assert len(sub.split("train")) == 6 * 2
    assert test[0]["labels"].shape == (3, 2)
    # a wider margin shrinks the figure: the head-to-foot span scales by 1.5 / 2.0
    wide = test[0]["labels"].numpy()
    base = _quiet(h36m_full.make_benchmark, root, 32, joints=[15, 8, 27], test_stride=8,
                  activities=["walking"]).split("test")[0]["labels"].numpy()
    assert np.ptp(wide[:, 1]) == pytest.approx(np.ptp(base[:, 1]) * 1.5 / 2.0, rel=1e-4)
    s1 = _quiet(h36m_full.make_benchmark, root, 32, train_subjects=["S1"],
                test_subjects=["S5"], stride=6)
    assert {seq.subject for seq, _, _ in s1.split("test").items} == {"S5"}
    assert any("skipped" in note for note in s1.notes)


def test_options_are_checked(fixture: dict) -> None:
    root = str(fixture["root"])
    with pytest.raises(DatasetError, match="unknown option.*'colour'"):
        h36m_full.make_benchmark(root, 32, colour=True)
    with pytest.raises(DatasetError, match=r"no foreground masks.*data\.options=\{\}"):
        h36m_full.make_benchmark(root, 32, mask=True)
    with pytest.raises(DatasetError, match="'stride': expected an integer >= 1"):
        h36m_full.make_benchmark(root, 32, stride=0)
    with pytest.raises(DatasetError, match="'crop_margin'"):
        h36m_full.make_benchmark(root, 32, crop_margin=-1)
    with pytest.raises(DatasetError, match="'joints'"):
        h36m_full.make_benchmark(root, 32, joints=[32])
    with pytest.raises(DatasetError, match="no foreground masks"):
        DATASETS.create("h36m_full", cfg=DataConfig(kind="h36m_full", root=root,
                                                    options={"mask": True}), image_size=32)
    with pytest.raises(DatasetError, match="data.crop is not used"):
        DATASETS.create("h36m_full", cfg=DataConfig(kind="h36m_full", root=root,
                                                    crop=[0, 0, 1, 1]), image_size=32)
    with pytest.raises(DatasetError, match="split 'val' is unknown"):
        DATASETS.create("h36m_full", cfg=DataConfig(kind="h36m_full", root=root, split="val"),
                        image_size=32)
    # mask: false is accepted (there is nothing to mask)
    _quiet(h36m_full.make_benchmark, root, 32, mask=False, stride=12)


def test_recipe_config_needs_the_options_override(fixture: dict) -> None:
    over = [f"data.root={fixture['root']}", "data.kind=h36m_full"]
    cfg = load_config("configs/h36m_k20.yaml", over)
    with pytest.raises(DatasetError, match=r"data\.options=\{\}"):
        DATASETS.create("h36m_full", cfg=cfg.data, image_size=32)
    cfg = load_config("configs/h36m_k20.yaml", [*over, "data.options={}"])
    assert cfg.data.options == {} and cfg.data.frame_gap == [3, 30]
    data = _quiet(DATASETS.create, "h36m_full", cfg=cfg.data, image_size=32)
    assert isinstance(data, h36m_full.H36MFullPairs)


# ------------------------------------------------------------------------------------------------
# training pairs


def test_training_pairs(fixture: dict) -> None:
    cfg = DataConfig(kind="h36m_full", root=str(fixture["root"]), frame_gap=[3, 6],
                     options={"stride": 4})
    data = _quiet(DATASETS.create, "h36m_full", cfg=cfg, image_size=64)
    assert isinstance(data, h36m_full.H36MFullPairs)
    assert {s.subject for s in data.sequences} == set(TRAIN_SUBJECTS)
    frames = fixture["frames"]
    per_seq = len(range(0, frames, 4))
    assert len(data) == (2 * 6 + 1) * per_seq
    torch.manual_seed(0)
    forms = set()
    for index in range(len(data)):
        q, t = data.locate(index)
        seq = data.sequences[q]
        assert t % 4 == 0
        item = data[index]
        assert item["source"].shape == item["target"].shape == (3, 64, 64)
        tt, s = item["frames"].tolist()
        assert tt == t and 3 <= abs(s - t) <= 6 and 0 <= s < frames  # frame_gap apart
        # both frames are cropped with the target's box: the source's markers sit where its own
        # joints fall in the target's crop, so the motion between the frames is kept
        joints = fixture["sequences"][seq.subject, seq.name]["joints"]
        box = h36m_full.joint_box(joints[t], h36m_full.DEFAULT_CROP_MARGIN)
        _assert_markers_at(item["target"], h36m_full.to_crop_pixels(joints[t], box, 64))
        _assert_markers_at(item["source"], h36m_full.to_crop_pixels(joints[s], box, 64))
        forms.add(seq.video is not None)
    assert forms == {True, False}
    batch = collate_skipping([data[0], data[1]])
    assert batch["source"].shape == (2, 3, 64, 64) and batch["skipped"] == 0


def test_training_split_and_max_frames(fixture: dict) -> None:
    root = str(fixture["root"])
    test = _quiet(DATASETS.create, "h36m_full",
                  cfg=DataConfig(kind="h36m_full", root=root, split="test", max_frames=10,
                                 options={"stride": 5}), image_size=32)
    assert {s.subject for s in test.sequences} == {"S11"} and len(test) == 2 * 2
    assert all(s.num_frames == 10 for s in test.sequences)
    with pytest.warns(UserWarning, match="fewer than the 31 that frame_gap needs"), \
            pytest.raises(DatasetError, match="holds no usable sequence"):
        DATASETS.create("h36m_full", cfg=DataConfig(kind="h36m_full", root=root,
                                                    split="test", frame_gap=[30, 30]),
                        image_size=32)
    every = _quiet(DATASETS.create, "h36m_full",
                   cfg=DataConfig(kind="h36m_full", root=root, split="all",
                                  options={"activities": ["Walking"], "stride": 1}),
                   image_size=32)
    assert [s.subject for s in every.sequences] == list(SUBJECTS)


def test_unreadable_frames_are_skipped_with_one_warning(tmp_path: Path) -> None:
    root = tmp_path / "h36m"
    folder = write_sequence(root, "S11", WALKING, 8, "folder")["source"]
    video = write_sequence(root, "S11", DIRECTIONS, 8, "video")["source"]
    bad_image = folder / "000003.png"  # frame 2
    bad_image.write_bytes(b"this is not a png \x00\xff" * 8)
    video.write_bytes(video.read_bytes()[:200])  # the container cannot be opened any more
    with pytest.warns(UserWarning, match="cannot be opened"):
        bench = h36m_full.make_benchmark(root, 32, train_subjects=["S11"], stride=1)
    assert all(seq.video is None for seq, _, _ in bench.split("test").items)  # video skipped
    test = bench.split("test")
    with pytest.warns(UserWarning) as record:
        items = [test[i] for i in range(len(test))] + [test[2]]
    assert items[2] is None and items[-1] is None
    assert sum(str(bad_image) in str(w.message) for w in record) == 1
    assert sum(item is None for item in items) == 2
    pairs = _quiet(h36m_full.H36MFullPairs, root, 16, ["S11"], frame_gap=(1, 1), stride=1)
    with pytest.warns(UserWarning, match=str(bad_image)):
        assert pairs[2] is None
    # a video longer than its pose file: the pose rows count; shorter: the video's frames
    root2 = tmp_path / "short"
    short = write_sequence(root2, "S11", DIRECTIONS, 8, "video")
    write_pose_cdf(short["pose"], np.concatenate([short["joints"]] * 2).reshape(1, 16, 64))
    with pytest.warns(UserWarning, match="different number of frames than pose rows"):
        bench = h36m_full.make_benchmark(root2, 32, train_subjects=["S11"], stride=1)
    assert len(bench.split("test")) == 8
    # a video that ends before a frame its metadata promised: that frame is unreadable
    seq, _, pose = bench.split("test").items[0]
    longer = h36m_full.FullSequence(seq.subject, seq.name, seq.activity, seq.pose_path,
                                    seq.video, (), 16)
    labelled = h36m_full.H36MFullLabelled([(longer, 7, pose), (longer, 12, pose)], 32,
                                          range(32))
    assert labelled[0] is not None
    with pytest.warns(UserWarning, match=r"frame 12 of .*Directions 1.*has no frame 12"):
        assert labelled[1] is None


# ------------------------------------------------------------------------------------------------
# `landmarks eval` end to end


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "m.pt")


def test_eval_cli_reports_error_per_activity(fixture: dict, checkpoint: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    from landmarks.cli import main

    out = tmp_path / "h36m.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["eval", str(checkpoint), "--dataset", "h36m_full", "--root",
                     str(fixture["root"]), "--out", str(out), "--device", "cpu",
                     "--draws", "2"]) == 0
    res = json.loads(out.read_text())
    per_seq = len(range(0, fixture["frames"], h36m_full.DEFAULT_STRIDE))
    assert res["dataset"] == "h36m_full" and res["group_label"] == "activity"
    assert res["sizes"]["test"] == 2 * per_seq
    assert res["sizes"]["train_labelled"] == 13 * per_seq
    err = res["size_error"]
    assert set(err["per_group"]) == {"Directions", "Walking"}
    assert err["group_frames"] == {"Directions": per_seq, "Walking": per_seq}
    assert err["mean_over_groups"] == pytest.approx(np.mean(list(err["per_group"].values())))
    assert len(err["per_point"]) == 32 and 0.0 < err["mean"] < 100.0
    text = capsys.readouterr().out
    assert "Error in % of image side" in text and "Per activity" in text


def test_fixture_frames_show_the_joints(fixture: dict) -> None:
    """The fixture itself: its PNG frames have the markers on the CDF joints."""
    seq = fixture["sequences"]["S11", WALKING]
    poses = h36m_full.load_poses(seq["pose"])
    np.testing.assert_allclose(poses, seq["joints"])
    with Image.open(seq["source"] / "000004.png") as img:
        frame = torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255.0
    assert frame.shape[1:] == FRAME_HW
    _assert_markers_at(frame, poses[3], atol=0.05)


def test_copy_of_fixture_without_subject_fails(fixture: dict, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(fixture["root"], root)
    shutil.rmtree(root / "S9")
    with pytest.raises(DatasetError, match=rf"{root / 'S9'} is missing"):
        DATASETS.create("h36m_full", cfg=DataConfig(kind="h36m_full", root=str(root)),
                        image_size=32)
