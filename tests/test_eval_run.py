"""`landmarks eval` on a tiny RealFaces root: the result schema, the CLI contract (no overwrite,
clear errors) and the MediaPipe reference row (only where mediapipe is installed)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fake_detector import DetectorLike
from fixtures import write_realfaces_root
from landmarks.cli import main
from landmarks.config import load_config, to_dict
from landmarks.data.realfaces import load_manifest
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.evaluation import baseline
from landmarks.evaluation.formatting import format_results
from landmarks.evaluation.run import detect_crops, evaluate_checkpoint, json_safe
from landmarks.inference import Detector
from landmarks.models import create_model

TINY = {"num_keypoints": 5, "image_size": 32, "width": 8, "render_channels": 32,
        "min_render_channels": 8}
N_LABELLED, N_TEST, N_STILLS = 6, 3, 1

TOP_KEYS = {"checkpoint", "dataset", "root", "num_keypoints", "image_size", "crop_size",
            "labels_note", "point_names", "sizes", "iod_error", "val_iod_error", "pck",
            "matching", "sample_efficiency", "baseline", "examples", "regressor"}


def _save_tiny(path: Path, **changes: int) -> Path:
    kw = {**TINY, **changes}
    cfg = load_config(None, [f"model.{k}={v}" for k, v in kw.items()])
    model = create_model("imm", **kw)
    return save_checkpoint(path, {"model": model.state_dict(), "step": 0,
                                  "config": to_dict(cfg)})


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("evalrun")
    root = write_realfaces_root(base / "realfaces", n_labelled=N_LABELLED, n_test=N_TEST,
                                n_stills=N_STILLS, crop_size=32)
    return _save_tiny(base / "tiny.pt"), root


@pytest.fixture(scope="module")
def results(setup: tuple[Path, Path]) -> dict:
    ckpt, root = setup
    return evaluate_checkpoint(ckpt, "realfaces", root, device="cpu", draws=3)


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_schema_sizes_and_finite_errors(results: dict, setup: tuple[Path, Path]) -> None:
    ckpt, root = setup
    assert set(results) >= TOP_KEYS
    text = json.dumps(results, allow_nan=False)  # JSON-safe: no NaN, no numpy types
    assert json.loads(text) == results
    assert results["checkpoint"] == str(ckpt) and results["root"] == str(root)
    assert results["dataset"] == "realfaces"
    assert (results["num_keypoints"], results["image_size"], results["crop_size"]) == (5, 32, 32)
    assert "not human annotations" in results["labels_note"]
    assert len(results["point_names"]) == 5
    assert results["sizes"]["train_labelled"] == N_LABELLED
    assert results["sizes"]["test"] == N_TEST + N_STILLS

    iod = results["iod_error"]
    assert _finite(iod["mean"]) and len(iod["per_point"]) == 5
    assert all(_finite(v) for v in iod["per_point"])
    assert _finite(results["val_iod_error"])

    pck = results["pck"]
    assert pck["thresholds"] == list(range(1, 21)) and len(pck["curve"]) == 20
    assert np.all(np.diff(pck["curve"]) >= 0) and 0 <= pck["at_6"] <= 100
    assert len(pck["per_part_at_6"]) == 5

    m = results["matching"]
    assert {"assignment", "iod_error", "mean_error_px"} <= set(m)
    assert len(set(m["assignment"])) == 5 and all(0 <= a < 5 for a in m["assignment"])
    assert _finite(m["mean_error_px"]) and _finite(m["iod_error"])

    rows = results["sample_efficiency"]
    assert [r["n"] for r in rows] == [1, 5, N_LABELLED]
    assert all({"n", "mean", "std", "draws"} <= set(r) and _finite(r["mean"]) for r in rows)
    assert rows[0]["draws"] == 3 and rows[-1]["draws"] == 1

    b = results["baseline"]
    if "skipped" in b:
        assert "mediapipe" in b["skipped"]
    else:
        assert b["name"] == "mediapipe-face-mesh" and set(b) >= {"iod_error", "missing"}
        assert 0 <= b["missing"] <= N_TEST + N_STILLS

    assert _finite(results["mean_shape"]["iod_error"]["mean"])

    ex = results["examples"]
    assert 1 <= len(ex) <= 8
    for e in ex:
        assert Path(e["image"]).is_file()
        assert np.asarray(e["labels"]).shape == (5, 2)
        assert np.asarray(e["regressed"]).shape == (5, 2)
        assert np.asarray(e["keypoints"]).shape == (5, 2)
    assert results["regressor"]["num_keypoints"] == 5 and results["regressor"]["bias"] is False


def test_format_results_table(results: dict) -> None:
    text = format_results(json.loads(json.dumps(results)))
    for part in ("IOD error", "MediaPipe", "mean train shape", "PCK@6", "Hungarian",
                 "Sample efficiency", "not human annotations",
                 f"{results['iod_error']['mean']:.2f}"):
        assert part in text, part


def test_format_results_skipped_rows(results: dict) -> None:
    res = dict(results, baseline={"skipped": "mediapipe not installed; make demo installs it"},
               matching={"skipped": "K=3 keypoints < 5 labelled points"})
    text = format_results(res)
    assert "skipped: mediapipe not installed; make demo installs it" in text
    assert "K=3 keypoints < 5" in text


def test_baseline_skipped_when_mediapipe_missing(setup: tuple[Path, Path], monkeypatch) -> None:
    ckpt, root = setup
    monkeypatch.setattr(baseline, "mediapipe_available",
                        lambda: (False, "mediapipe not installed; make demo installs it"))
    res = evaluate_checkpoint(ckpt, "realfaces", root, device="cpu", draws=1)
    assert res["baseline"] == {"skipped": "mediapipe not installed; make demo installs it"}


def test_few_keypoints_skip_matching(tmp_path: Path, setup: tuple[Path, Path],
                                     monkeypatch) -> None:
    _, root = setup
    monkeypatch.setattr(baseline, "mediapipe_available", lambda: (False, "off in this test"))
    ckpt = _save_tiny(tmp_path / "k3.pt", num_keypoints=3)
    res = evaluate_checkpoint(ckpt, "realfaces", root, device="cpu", draws=1)
    assert "K=3" in res["matching"]["skipped"]
    assert _finite(res["iod_error"]["mean"])


def test_cli_writes_once_and_refuses_to_overwrite(setup: tuple[Path, Path], tmp_path: Path,
                                                  capsys, monkeypatch) -> None:
    ckpt, root = setup
    monkeypatch.setattr(baseline, "mediapipe_available", lambda: (False, "off in this test"))
    out = tmp_path / "eval.json"
    argv = ["eval", str(ckpt), "--dataset", "realfaces", "--root", str(root), "--out", str(out),
            "--device", "cpu", "--draws", "2"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "IOD error" in printed and str(out) in printed
    before = out.read_bytes()
    assert json.loads(before)["dataset"] == "realfaces"
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_checkpoint_larger_than_crop_is_rejected(tmp_path: Path, setup: tuple[Path, Path],
                                                 capsys) -> None:
    _, root = setup
    big = _save_tiny(tmp_path / "big256.pt", image_size=256)
    with pytest.raises(ValueError, match=r"big256\.pt.*image_size is 256.*<= its crop size 32"):
        evaluate_checkpoint(big, "realfaces", root, device="cpu")
    out = tmp_path / "big.json"
    assert main(["eval", str(big), "--dataset", "realfaces", "--root", str(root),
                 "--out", str(out), "--device", "cpu"]) == 2
    assert "big256.pt" in capsys.readouterr().err
    assert not out.exists()


def test_missing_frame_names_the_path(tmp_path: Path, capsys) -> None:
    root = write_realfaces_root(tmp_path / "rf", n_labelled=4, n_test=2, crop_size=32)
    manifest = json.loads((root / "manifest.json").read_text())
    fid = manifest["splits"]["test"][0]
    missing = root / manifest["frames"][fid]["image"]
    missing.unlink()
    ckpt = _save_tiny(tmp_path / "tiny.pt")
    out = tmp_path / "e.json"
    assert main(["eval", str(ckpt), "--dataset", "realfaces", "--root", str(root),
                 "--out", str(out), "--device", "cpu"]) == 2
    assert str(missing) in capsys.readouterr().err
    assert not out.exists()


def test_unknown_dataset_is_rejected(setup: tuple[Path, Path]) -> None:
    ckpt, root = setup
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*mafl.*realfaces"):
        evaluate_checkpoint(ckpt, "nope", root)


def test_json_safe_replaces_nan() -> None:
    out = json_safe({"a": np.float32(np.nan), "b": np.arange(2), "c": (np.int64(3), np.inf)})
    assert out == {"a": None, "b": [0, 1], "c": [3, None]}


def test_mafl5_from_mesh_indices() -> None:
    mesh = np.zeros((478, 2))
    mesh[list(baseline.MP_RIGHT_EYE_CONTOUR)] = (10.0, 20.0)
    mesh[list(baseline.MP_LEFT_EYE_CONTOUR)] = (30.0, 20.0)
    mesh[baseline.MP_NOSE_TIP] = (20.0, 30.0)
    mesh[baseline.MP_MOUTH_LEFT] = (12.0, 40.0)
    mesh[baseline.MP_MOUTH_RIGHT] = (28.0, 40.0)
    expected = [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]]
    np.testing.assert_allclose(baseline.mafl5_from_mesh(mesh), expected)
    np.testing.assert_allclose(baseline.mafl5_from_mesh(np.stack([mesh, mesh]))[1], expected)
    with pytest.raises(ValueError, match="478"):
        baseline.mafl5_from_mesh(np.zeros((5, 2)))


def test_mediapipe_blank_image_gives_nan() -> None:
    ok, reason = baseline.mediapipe_available()
    if not ok:
        pytest.skip(f"MediaPipe reference row not testable here: {reason}")
    blank = np.zeros((128, 128, 3), np.uint8)
    out = baseline.mediapipe_mafl5([blank])
    assert out.shape == (1, 5, 2) and np.isnan(out).all()
    with pytest.raises(ValueError, match=r"images_uint8\[0\]"):
        baseline.mediapipe_mafl5([blank.astype(np.float32)])


class _RealFacesOracle(DetectorLike):
    """Each crop's own 5 labels (looked up by its pixels), reversed and moved ``offset`` crop
    pixels in x: a detector whose matched error is known."""

    def __init__(self, root: Path, offset: float) -> None:
        import hashlib

        import torch

        from landmarks.data.realfaces import load_manifest, load_split_images

        self._hash = lambda im: hashlib.sha1(im.contiguous().numpy().tobytes()).digest()
        manifest = load_manifest(root)
        self.crop_size = int(manifest.crop_size)
        self.table = {}
        for name in ("train_labelled", "test"):
            frames = list(manifest.split(name))
            for im, f in zip(load_split_images(frames, self.crop_size), frames, strict=True):
                self.table[self._hash(im)] = torch.tensor(f.mafl5, dtype=torch.float64)
        self.image_size, self.num_keypoints, self.offset = self.crop_size, 5, offset
        self.training_root = ""  # trained on nothing: the identity check has nothing to read

    def detect_tensor(self, images):  # noqa: ANN001, ANN201
        import torch

        from landmarks.geometry.coords import pixels_to_normalized

        px = torch.stack([self.table[self._hash(im)].flip(0) for im in images])
        px[..., 0] += self.offset
        return pixels_to_normalized(px, (self.crop_size, self.crop_size)).float()


@pytest.mark.parametrize("offset", [0.0, 0.75])
def test_matching_with_a_known_detector(offset: float, setup: tuple[Path, Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from landmarks.data.realfaces import load_manifest
    from landmarks.inference import Detector

    ckpt, root = setup
    oracle = _RealFacesOracle(root, offset)
    monkeypatch.setattr(Detector, "from_checkpoint",
                        classmethod(lambda cls, path, device="auto": oracle))
    res = evaluate_checkpoint(ckpt, "realfaces", root, device="cpu", draws=2)
    manifest = load_manifest(root)
    test = np.stack([np.asarray(f.mafl5, np.float64) for f in manifest.split("test")])
    e0, e1 = manifest.eye_indices_5
    iod = np.linalg.norm(test[:, e0] - test[:, e1], axis=-1)
    m = res["matching"]
    assert m["assignment"] == [4, 3, 2, 1, 0]
    assert m["mean_error_px"] == pytest.approx(offset, abs=1e-4)
    assert m["iod_error"] == pytest.approx(100 * offset * np.mean(1 / iod), rel=1e-4, abs=1e-4)
    # the stored examples are the detector's points in crop pixels
    for e in res["examples"]:
        kp, labels = np.asarray(e["keypoints"]), np.asarray(e["labels"])
        np.testing.assert_allclose(kp, labels[::-1] + [offset, 0.0], atol=1e-4)


def test_mediapipe_chatter_is_filtered_but_errors_pass(capfd) -> None:
    import os

    from landmarks.evaluation.baseline import _filtered_native_stderr

    with _filtered_native_stderr():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"W0000 00:00:1796094417.110328 8738 inference_feedback_manager.cc:114] "
                    b"Feedback manager requires a model with a single signature inference.\n")
        os.write(2, b"E0000 00:00:1796094417.110328 8738 calculator.cc:10] a real error\n")
    err = capfd.readouterr().err
    assert "XNNPACK" not in err and "Feedback manager" not in err
    assert "a real error" in err
    with pytest.raises(RuntimeError, match="ours"), _filtered_native_stderr():
        raise RuntimeError("ours")
    assert os.write(2, b"") == 0  # descriptor 2 restored


def test_detect_and_eval_give_the_same_points_with_the_checkpoints_crop(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``landmarks detect`` on a benchmark crop file and ``landmarks eval``'s detection of that
    frame (:func:`detect_crops`) are one detection: the checkpoint's ``data.crop`` box, the
    resize to the model's size, and the points in crop pixels."""
    root = write_realfaces_root(tmp_path / "rf", n_labelled=2, n_test=3, crop_size=64)
    frames = load_manifest(root).split("test")
    crop = [0.1, 0.2, 0.8, 0.9]
    cfg = load_config(None, [f"model.{k}={v}" for k, v in TINY.items()]
                      + [f"data.crop={crop}"])
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "crop.pt", {"model": create_model("imm", **TINY)
                                                  .state_dict(), "step": 0,
                                                  "config": to_dict(cfg)})
    out = tmp_path / "detect.json"
    assert main(["detect", str(ckpt), *[str(f.image) for f in frames], "--out", str(out),
                 "--device", "cpu"]) == 0
    capsys.readouterr()
    detected = np.array([r["keypoints"] for r in json.loads(out.read_text())])
    detector = Detector.from_checkpoint(ckpt, device="cpu")
    evaluated = detect_crops(detector, frames, 64)
    np.testing.assert_allclose(evaluated, detected, atol=1e-4)
    # the crop matters: without it the same weights put the points elsewhere
    uncropped = Detector(detector.model, load_config(None, [f"model.{k}={v}"
                                                            for k, v in TINY.items()]),
                         detector.device)
    assert np.abs(detect_crops(uncropped, frames, 64) - detected).max() > 0.5
