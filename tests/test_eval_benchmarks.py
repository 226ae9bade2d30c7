"""`landmarks eval` on the registered benchmarks (MAFL, AFLW), read from fixtures written in
the datasets' real formats."""

import json
from pathlib import Path

import numpy as np
import pytest

from fake_detector import DetectorLike
from fixtures import write_tiny_checkpoint
from fixtures_faces import write_aflw_fixture, write_celeba_fixture
from landmarks.cli import main
from landmarks.data.labelled import LabelledBenchmark
from landmarks.evaluation.benchmark_eval import (
    _collate_labelled,
    available_benchmarks,
    detect_split,
)
from landmarks.evaluation.formatting import format_results
from landmarks.evaluation.protocol import SizeMetric
from landmarks.evaluation.run import evaluate_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "m.pt")


def test_registered_benchmarks_are_listed() -> None:
    assert {"realfaces", "mafl", "aflw"} <= set(available_benchmarks())


@pytest.mark.parametrize("name, writer", [("mafl", write_celeba_fixture),
                                          ("aflw", write_aflw_fixture)])
def test_eval_on_a_fixture(name: str, writer, checkpoint: Path, tmp_path: Path) -> None:
    writer(tmp_path / "data")
    res = evaluate_checkpoint(checkpoint, name, tmp_path / "data", device="cpu", draws=2)
    assert res["dataset"] == name and res["num_keypoints"] == 6
    assert res["sizes"]["test"] > 0 and res["sizes"]["train_labelled"] > 0
    assert res["iod_error"]["mean"] is not None and res["iod_error"]["mean"] > 0
    assert len(res["iod_error"]["per_point"]) == 5
    assert res["matching"]["assignment"] and len(set(res["matching"]["assignment"])) == 5
    json.dumps(res)  # JSON-safe


def test_unknown_benchmark_lists_the_known_ones(checkpoint: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", str(checkpoint), "--dataset", "nope", "--root", str(tmp_path),
                 "--out", str(tmp_path / "o.json")]) == 2
    assert "mafl" in capsys.readouterr().err


@pytest.mark.parametrize("name, missing, expected", [
    ("mafl", "Anno/list_landmarks_align_celeba.txt", "the 'Anno' folder of the CelebA download"),
    ("aflw", "aflw_train_images.txt", "the train image names of aflw_release-2"),
    ("bbcpose", "code/bbcpose.mat", "the 'code' folder that bbcpose_extbbcpose_code_1.0.tgz"),
    ("h36m", "S1", "subject S1 of Zhang et al.'s human_images release"),
])
def test_missing_dataset_file_is_named(name: str, missing: str, expected: str, checkpoint: Path,
                                       tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "root"
    root.mkdir()
    out = tmp_path / "o.json"
    assert main(["eval", str(checkpoint), "--dataset", name, "--root", str(root),
                 "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    # the message names the missing file itself (not only the root) and what it should be
    assert err.startswith("error: ") and f"{root / missing} is missing" in err
    assert expected in err
    assert not out.exists()


def test_pck_benchmark_bbcpose(checkpoint: Path, tmp_path: Path) -> None:
    from fixtures_pose import write_bbcpose_fixture

    write_bbcpose_fixture(tmp_path / "bbc")
    res = evaluate_checkpoint(checkpoint, "bbcpose", tmp_path / "bbc", device="cpu", draws=2)
    assert res["pck"]["threshold"] == 6.0
    assert 0.0 <= res["pck"]["at_6"] <= 100.0 and len(res["pck"]["per_part_at_6"]) == 7
    curve = res["pck"]["curve"]
    assert all(a <= b for a, b in zip(curve, curve[1:], strict=False))  # PCK grows with d
    assert res["matching"]["skipped"]  # K=6 < 7 joints: no one-to-one matching
    json.dumps(res)
    text = format_results(res)
    assert f"PCK@6 px, linear regressor (fitted on all labelled train frames): " \
           f"{res['pck']['at_6']:.2f} %" in text
    assert "Per part (PCK@6 px, %)" in text and "PCK curve" in text
    for name in ("head", "right_wrist", "left_wrist", "right_elbow", "left_elbow",
                 "right_shoulder", "left_shoulder"):
        assert f"  {name} " in text
    assert "Hungarian matching of raw keypoints: skipped (K=6 < 7 labels)" in text
    assert "IOD" not in text and "n/a" not in text


def test_format_results_pck_with_matching() -> None:
    # a pck result (BBC-Pose) whose raw keypoints could be matched: both columns per part
    res = {"dataset": "bbcpose", "checkpoint": "c.pt", "num_keypoints": 8, "image_size": 64,
           "point_names": ["head", "right_wrist"], "paper_figure": "68.44% PCK@6",
           "labels_note": "human annotations of the dataset", "notes": ["halved coordinates"],
           "sizes": {"train_labelled": 30, "test": 10, "skipped_train": 0, "skipped_test": 0},
           "baseline": {"skipped": "a supervised baseline row is computed for realfaces only"},
           "matching": {"assignment": [3, 5], "mean_error_px": 4.25, "pck": 45.0,
                        "per_part_pck": [60.0, 30.0], "assignment_from": "train"},
           "pck": {"thresholds": [1, 2, 6], "curve": [5.0, 20.0, 70.0], "at_6": 70.0,
                   "threshold": 6.0, "per_part_at_6": [90.0, 50.0]}}
    text = format_results(res)
    lines = text.splitlines()
    assert "PCK@6 px, linear regressor (fitted on all labelled train frames): 70.00 %" in text
    assert "PCK@6 px, Hungarian-matched raw keypoints (no regression): 45.00 %" in text
    assert [ln.split() for ln in lines if ln.strip().startswith(("head", "right_wrist", "mean "))
            ] == [["head", "90.0", "60.0"], ["right_wrist", "50.0", "30.0"],
                  ["mean", "70.0", "45.0"]]
    assert "PCK curve (linear regressor; d in original px: %): 1:5 2:20 6:70" in text
    assert "keypoints [3, 5] -> mean error 4.25 original px" in text
    assert "paper: 68.44% PCK@6" in text and "  - halved coordinates" in text
    assert "IOD" not in text and "n/a" not in text and "skipped unreadable" not in text
    dirty = {**res, "sizes": {**res["sizes"], "skipped_test": 1}}
    assert "skipped unreadable images: 0 train, 1 test" in format_results(dirty)
    json.loads(json.dumps(res))  # the layout reads the reloaded JSON as well
    assert format_results(json.loads(json.dumps(res))) == text


# ------------------------------------------------------------------------------------------------
# metric "size" (Human3.6M): error in % of the image side, averaged per group (activity)


def test_unknown_metric_is_named() -> None:
    with pytest.raises(ValueError, match="metric 'cm' is unknown"):
        LabelledBenchmark(name="x", splits={}, point_names=[], metric="cm")  # type: ignore[arg-type]


def test_size_matching_hand_values() -> None:
    # the raw keypoints are the labels in another order plus one spare keypoint; on the test
    # images they are 0.5 px off in x: 5% of a 10 px side, whatever the group
    rng = np.random.default_rng(0)
    order = [2, 0, 1]  # keypoint k shows label order[k]
    train_labels = rng.uniform(0, 10, size=(20, 3, 2))
    test_labels = rng.uniform(0, 10, size=(4, 3, 2))

    def keypoints(labels: np.ndarray, dx: float) -> np.ndarray:
        spare = np.full((labels.shape[0], 1, 2), 50.0)
        return np.concatenate([labels[:, order] + [dx, 0.0], spare], axis=1)

    def _size_matching(train_kp, train_labels, test_kp, test_labels, side, groups):
        return SizeMetric(side).score(train_kp, train_labels, test_kp, test_labels,
                                      groups=groups, draws=1).entries["matching"]

    m = _size_matching(keypoints(train_labels, 0.0), train_labels, keypoints(test_labels, 0.5),
                       test_labels, 10.0, ["x", "x", "y", "y"])
    assert m["assignment"] == [1, 2, 0]  # label l <- keypoint with order[k] == l
    assert m["mean_error_px"] == pytest.approx(0.5)
    assert m["size_error"]["mean"] == pytest.approx(5.0)
    assert m["size_error"]["per_group"] == pytest.approx({"x": 5.0, "y": 5.0})
    assert m["size_error"]["mean_over_groups"] == pytest.approx(5.0)
    few = _size_matching(keypoints(train_labels, 0.0)[:, :2], train_labels,
                         keypoints(test_labels, 0.0)[:, :2], test_labels, 10.0, None)
    assert "K=2 keypoints < 3 labelled points" in few["skipped"]


def test_eval_h36m_cli_reports_error_per_activity(checkpoint: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    from fixtures_pose import write_h36m_fixture
    from landmarks.data.h36m import PAPER_FIGURE

    fixture = write_h36m_fixture(tmp_path / "h36m")
    out = tmp_path / "h36m.json"
    assert main(["eval", str(checkpoint), "--dataset", "h36m", "--root", str(fixture["root"]),
                 "--out", str(out), "--device", "cpu", "--draws", "2"]) == 0
    res = json.loads(out.read_text())
    frames = fixture["frames"]
    assert res["dataset"] == "h36m" and res["group_label"] == "activity"
    assert res["sizes"]["test"] == 2 * frames and res["sizes"]["train_labelled"] == 12 * frames
    assert res["sizes"]["regression_val"] == round(0.1 * 12 * frames)
    assert res["sizes"]["regression_fit"] == 12 * frames - res["sizes"]["regression_val"]
    err = res["size_error"]
    assert set(err["per_group"]) == {"Directions", "Walking"}  # not WalkDog (S1 only, extra)
    assert err["group_frames"] == {"Directions": frames, "Walking": frames}
    assert err["mean_over_groups"] == pytest.approx(np.mean(list(err["per_group"].values())))
    # equal group sizes: the frame mean equals the mean over groups
    assert err["mean"] == pytest.approx(err["mean_over_groups"])
    assert len(err["per_point"]) == 32 and err["mean"] == pytest.approx(np.mean(err["per_point"]))
    assert 0.0 < err["mean"] < 100.0 and res["val_size_error"] > 0.0
    shape = res["mean_shape"]["size_error"]
    assert set(shape["per_group"]) == {"Directions", "Walking"}
    assert shape["mean_over_groups"] == pytest.approx(np.mean(list(shape["per_group"].values())))
    assert "K=6 keypoints < 32" in res["matching"]["skipped"]
    assert [r["n"] for r in res["sample_efficiency"]][-1] == 12 * frames
    assert res["pck"]["threshold"] == 5.0 and len(res["pck"]["per_part_at_6"]) == 32
    assert "iod_error" not in res and "val_iod_error" not in res
    assert res["paper_figure"] == PAPER_FIGURE
    text = capsys.readouterr().out
    assert "Error in % of image side" in text and "mean over activities" in text
    assert "Per activity" in text and "Directions" in text and "Walking" in text
    assert f"{err['mean_over_groups']:.2f}" in text
    assert "IOD" not in text


def test_format_results_size_without_groups() -> None:
    res = {"dataset": "toy", "checkpoint": "c.pt", "num_keypoints": 4, "image_size": 32,
           "point_names": ["a", "b"], "sizes": {"train_labelled": 9, "test": 3},
           "size_error": {"mean": 12.5, "per_point": [10.0, 15.0]}, "val_size_error": 11.0,
           "matching": {"skipped": "K=1 < 2 labels"},
           "mean_shape": {"size_error": {"mean": 30.0, "per_point": [25.0, 35.0]}},
           "pck": {"thresholds": [1, 2], "curve": [10.0, 20.0], "at_6": 55.0, "threshold": 5.0}}
    text = format_results(res)
    assert "Error in % of image side" in text and "12.50" in text and "30.00" in text
    assert "mean over" in text and "Per group" not in text and "Per activity" not in text
    assert "a 10.00, b 15.00" in text and "PCK@5% of image side" in text
    assert "IOD" not in text and "skipped (K=1 < 2 labels)" in text


# ------------------------------------------------------------------------------------------------
# unreadable images: skipped and counted per split, never a crash


def _corrupt(path: Path) -> Path:
    """Overwrite an image file with junk bytes (it keeps its name and extension)."""
    assert path.is_file()
    path.write_bytes(b"this is not an image \x00\xff\x13" * 8)
    return path


def test_eval_h36m_skips_a_corrupt_image(checkpoint: Path, tmp_path: Path) -> None:
    from fixtures_pose import write_h36m_fixture

    fixture = write_h36m_fixture(tmp_path / "h36m")
    root, frames = Path(fixture["root"]), fixture["frames"]
    bad_test = _corrupt(root / "S11" / "WithBackground" / "Directions.54138969" / "3.jpg")
    bad_train = _corrupt(root / "S9" / "WithBackground" / "Walking 1.55011271" / "5.jpg")
    with pytest.warns(UserWarning) as record:
        res = evaluate_checkpoint(checkpoint, "h36m", root, device="cpu", draws=2)
    messages = [str(w.message) for w in record]
    assert any(str(bad_test) in m for m in messages)  # the reader names the file
    assert any(str(bad_train) in m for m in messages)
    assert any("test split: skipped 1 unreadable item(s)" in m for m in messages)
    sizes = res["sizes"]
    assert sizes["skipped_train"] == 1 and sizes["skipped_test"] == 1
    assert sizes["train_labelled"] == 12 * frames - 1 and sizes["test"] == 2 * frames - 1
    # the groups stay aligned with the kept frames: one Directions frame fewer
    err = res["size_error"]
    assert err["group_frames"] == {"Directions": frames - 1, "Walking": frames}
    assert err["mean_over_groups"] == pytest.approx(np.mean(list(err["per_group"].values())))
    json.dumps(res)
    assert "skipped unreadable images: 1 train, 1 test" in format_results(res)


def test_eval_bbcpose_skips_a_corrupt_test_frame(checkpoint: Path, tmp_path: Path) -> None:
    from fixtures_pose import write_bbcpose_fixture

    fixture = write_bbcpose_fixture(tmp_path / "bbc")
    root = Path(fixture["root"])
    bad = _corrupt(root / "4" / "5.jpg")  # a manually labelled frame of the first test video
    with pytest.warns(UserWarning) as record:
        res = evaluate_checkpoint(checkpoint, "bbcpose", root, device="cpu", draws=2)
    messages = [str(w.message) for w in record]
    assert any(str(bad) in m for m in messages)  # the reader names the file
    assert any("test split: skipped 1 unreadable item(s) of 6" in m for m in messages)
    assert res["sizes"]["skipped_test"] == 1 and res["sizes"]["skipped_train"] == 0
    assert res["sizes"]["test"] == 2 * len(fixture["manual"]) - 1
    assert 0.0 <= res["pck"]["at_6"] <= 100.0
    assert "skipped unreadable images: 0 train, 1 test" in format_results(res)


def test_eval_mafl_cli_skips_a_corrupt_test_image(checkpoint: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    fixture = write_celeba_fixture(tmp_path / "celeba")
    root = tmp_path / "celeba"
    bad = _corrupt(fixture["image_dir"] / "000018.jpg")  # a MAFL test image
    out = tmp_path / "mafl.json"
    with pytest.warns(UserWarning) as record:
        code = main(["eval", str(checkpoint), "--dataset", "mafl", "--root", str(root),
                     "--out", str(out), "--device", "cpu", "--draws", "2"])
    assert code == 0
    messages = [str(w.message) for w in record]
    assert any(str(bad) in m for m in messages)  # the reader names the file
    assert any("test split: skipped 1 unreadable item(s) of 3" in m for m in messages)
    res = json.loads(out.read_text())
    assert res["sizes"]["skipped_test"] == 1 and res["sizes"]["skipped_train"] == 0
    assert res["sizes"]["test"] == 2  # MAFL test 11, 12, 18 minus the corrupt one
    assert res["iod_error"]["mean"] is not None
    assert "skipped unreadable images: 0 train, 1 test" in capsys.readouterr().out


class _Items:
    """A labelled split in memory: item i has an image filled with i / 100 and labels i; the
    items in ``unreadable`` are None; ``groups`` (or None) gives each item's group."""

    def __init__(self, n: int, unreadable: set[int], groups: list[str | None] | None,
                 side: int = 8) -> None:
        self.n, self.unreadable, self.groups, self.side = n, unreadable, groups, side

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict | None:
        import torch

        if i in self.unreadable:
            return None
        item = {"image": torch.full((3, self.side, self.side), i / 100.0),
                "labels": torch.full((2, 2), float(i)), "visible": torch.ones(2, dtype=torch.bool)}
        if self.groups is not None and self.groups[i] is not None:
            item["group"] = self.groups[i]
        return item


class _MeanDetector(DetectorLike):
    """Every keypoint of an image at (image mean, image mean), in [-1, 1] units."""

    def __init__(self, image_size: int = 8) -> None:
        self.image_size, self.num_keypoints = image_size, 3

    def detect_tensor(self, images):  # noqa: ANN001, ANN201
        mean = images.mean(dim=(1, 2, 3))
        return mean[:, None, None].expand(-1, 3, 2).clone()


def test_detect_split_keeps_groups_aligned_with_readable_items() -> None:
    groups = [f"g{i % 3}" for i in range(10)]
    split = _Items(10, unreadable={0, 4, 5, 9}, groups=groups, side=200)
    with pytest.warns(UserWarning, match="toy split: skipped 4 unreadable item"):
        kp, labels, vis, names, skipped = detect_split(_MeanDetector(200), split, 200,
                                                        "toy split")
    kept = [1, 2, 3, 6, 7, 8]
    assert skipped == 4 and vis.shape == (6, 2) and vis.all()
    np.testing.assert_allclose(labels[:, 0, 0], kept)
    assert names == [groups[i] for i in kept]
    # keypoint x in pixels of a 200 px side: (i / 100 + 1) * 100 - 0.5 = i + 99.5
    np.testing.assert_allclose(kp[:, 0, 0], [i + 99.5 for i in kept], atol=1e-4)
    # nothing unreadable: no skip, no warning; no groups: None
    _, _, _, names, skipped = detect_split(_MeanDetector(), _Items(3, set(), None), 8, "clean")
    assert skipped == 0 and names is None


def test_detect_split_names_partial_groups_and_an_unreadable_split() -> None:
    # one item of a batch without a group: a ValueError naming the split, not a KeyError
    partial = _Items(4, unreadable={1}, groups=["a", "b", None, "a"])
    with pytest.raises(ValueError, match="toy split: 2 items carry a 'group' and 1 do not"):
        detect_split(_MeanDetector(), partial, 8, "toy split")
    with pytest.raises(ValueError, match="toy split: no readable item \\(3 unreadable of 3\\)"):
        detect_split(_MeanDetector(), _Items(3, {0, 1, 2}, None), 8, "toy split")
    batch = _collate_labelled([None, None])
    assert batch == {"skipped": 2}


def test_format_results_prints_skipped_only_when_nonzero() -> None:
    base = {"dataset": "toy", "checkpoint": "c.pt", "num_keypoints": 4, "image_size": 32,
            "point_names": ["a", "b"],
            "pck": {"thresholds": [1, 2], "curve": [10.0, 20.0], "at_6": 55.0, "threshold": 5.0}}
    size = {**base, "size_error": {"mean": 12.5, "per_point": [10.0, 15.0]}}
    iod = {**base, "iod_error": {"mean": 3.0, "per_point": [2.0, 4.0]}}
    for res in (size, iod):
        clean = {**res, "sizes": {"train_labelled": 9, "test": 3, "skipped_train": 0,
                                  "skipped_test": 0}}
        assert "skipped unreadable" not in format_results(clean)
        dirty = {**res, "sizes": {"train_labelled": 9, "test": 3, "skipped_train": 2,
                                  "skipped_test": 0}}
        assert "skipped unreadable images: 2 train, 0 test" in format_results(dirty)


# ------------------------------------------------------------------------------------------------
# a detector whose output is known: every benchmark's error must come out as hand-computed


def _image_key(image) -> bytes:  # noqa: ANN001
    import hashlib

    return hashlib.sha1(image.contiguous().numpy().tobytes()).digest()


class _OracleDetector(DetectorLike):
    """Returns each image's own labels (looked up by its pixels in the benchmark's splits), in
    the keypoint order ``order`` (keypoint k = label ``order[k]``), moved by ``offset`` pixels
    of the S×S input in x: a detector whose errors are known."""

    def __init__(self, bench, size: int, order: list[int], offset: float = 0.0) -> None:  # noqa: ANN001
        import torch

        self.table: dict[bytes, torch.Tensor] = {}
        for split in ("train", "test"):
            for item in bench.split(split):
                key, labels = _image_key(item["image"]), item["labels"].double()
                assert key not in self.table or torch.equal(self.table[key], labels)
                self.table[key] = labels
        self.image_size, self.num_keypoints = size, len(order)
        self.order, self.offset = order, offset

    def detect_tensor(self, images):  # noqa: ANN001, ANN201
        import torch

        from landmarks.geometry.coords import pixels_to_normalized

        px = torch.stack([self.table[_image_key(im)][self.order] for im in images])
        px[..., 0] += self.offset
        return pixels_to_normalized(px, (self.image_size, self.image_size)).float()


def _with_oracle(monkeypatch: pytest.MonkeyPatch, name: str, root: Path, order_of=None,  # noqa: ANN001
                 offset: float = 0.0) -> _OracleDetector:
    """Make ``Detector.from_checkpoint`` return an oracle for benchmark ``name`` at S=32
    (``order_of(L)`` gives the keypoint order; reversed by default)."""
    from landmarks.inference import Detector
    from landmarks.registry import BENCHMARKS

    bench = BENCHMARKS.create(name, root=root, image_size=32)
    n = bench.split("test")[0]["labels"].shape[0]
    order = order_of(n) if order_of else list(range(n))[::-1]
    oracle = _OracleDetector(bench, 32, order, offset)
    monkeypatch.setattr(Detector, "from_checkpoint",
                        classmethod(lambda cls, path, device="auto": oracle))
    return oracle


@pytest.mark.parametrize("offset", [0.0, 0.5, 1.5])
def test_eval_bbcpose_with_a_known_detector(offset: float, checkpoint: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from fixtures_pose import write_bbcpose_fixture

    root = Path(write_bbcpose_fixture(tmp_path / "bbc")["root"])
    _with_oracle(monkeypatch, "bbcpose", root, offset=offset)
    res = evaluate_checkpoint(checkpoint, "bbcpose", root, device="cpu", draws=2)
    scale = 0.5 * 300 / 32  # original px per input px: halved coordinates of 300-px crops
    # the keypoints are the labels reversed (and shifted): the regressor undoes both exactly
    assert res["pck"]["curve"] == [100.0] * len(res["pck"]["curve"])
    assert res["pck"]["at_6"] == 100.0 and res["pck"]["per_part_at_6"] == [100.0] * 7
    # the raw keypoints, matched one-to-one, are off by the shift: offset * scale original px
    m = res["matching"]
    assert m["assignment"] == [6, 5, 4, 3, 2, 1, 0]
    assert m["mean_error_px"] == pytest.approx(offset * scale, abs=1e-4)
    within = offset * scale <= res["pck"]["threshold"]  # 0 and 2.34 px: in; 7.03 px: out
    assert m["pck"] == (100.0 if within else 0.0)
    assert m["per_part_pck"] == [m["pck"]] * 7


@pytest.mark.parametrize("offset", [0.0, 0.64])
def test_eval_h36m_with_a_known_detector(offset: float, checkpoint: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from fixtures_pose import write_h36m_fixture

    root = Path(write_h36m_fixture(tmp_path / "h36m")["root"])
    _with_oracle(monkeypatch, "h36m", root, offset=offset)
    res = evaluate_checkpoint(checkpoint, "h36m", root, device="cpu", draws=2)
    side_pct = offset / 32 * 100  # the shift in % of the 32-px side: 0 or 2 %
    m = res["matching"]
    assert m["assignment"] == list(range(32))[::-1]
    assert m["mean_error_px"] == pytest.approx(offset, abs=1e-4)
    assert m["size_error"]["mean"] == pytest.approx(side_pct, abs=1e-3)
    assert m["size_error"]["per_group"] == pytest.approx(
        {"Directions": side_pct, "Walking": side_pct}, abs=1e-3)
    # held-out training frames lie in the span of the fitted ones: the regressor is exact there
    assert res["val_size_error"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name, writer", [("mafl", write_celeba_fixture),
                                          ("aflw", write_aflw_fixture)])
def test_eval_iod_with_a_known_detector(name: str, writer, checkpoint: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    writer(tmp_path / "data")
    offset = 0.5
    oracle = _with_oracle(monkeypatch, name, tmp_path / "data", offset=offset)
    res = evaluate_checkpoint(checkpoint, name, tmp_path / "data", device="cpu", draws=2)
    from landmarks.registry import BENCHMARKS

    bench = BENCHMARKS.create(name, root=tmp_path / "data", image_size=32)
    eyes = bench.eye_indices or (0, 1)
    test = np.stack([item["labels"].numpy() for item in bench.split("test")]).astype(np.float64)
    iod = np.linalg.norm(test[:, eyes[0]] - test[:, eyes[1]], axis=-1)
    m = res["matching"]
    assert m["assignment"] == oracle.order
    assert m["per_point_error_px"] == pytest.approx([offset] * 5, abs=1e-4)
    # every matched point is `offset` px off: IOD error = mean over images of offset / IOD
    assert m["iod_error"] == pytest.approx(100 * offset * np.mean(1 / iod), rel=1e-4)
