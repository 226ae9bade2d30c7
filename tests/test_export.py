"""`landmarks export`: ONNX files of every registered model's detector (and the motion model's
generator) verified against PyTorch, run by `landmarks detect` with the same JSON; weights-only
release folders (safetensors + model card) that load with no pickle; one-line errors for files
that are not checkpoints; no overwriting without --force."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from fixtures import write_image_folder, write_model_checkpoint, write_video
from landmarks.cli import main
from landmarks.export import (
    OnnxDetector,
    OnnxGenerator,
    ReleaseError,
    load_release,
    onnx_format,
)
from landmarks.export.onnx_format import TOLERANCE, generator_path
from landmarks.geometry import inverse_2x2
from landmarks.inference import Detector
from landmarks.models import can_animate, list_models
from landmarks.registry import MODELS

#: every model the library registers (test modules may register fakes of their own)
MODELS_UNDER_TEST = [n for n in list_models()
                     if MODELS.get(n).__module__.startswith("landmarks.")]


def write_checkpoint(path: Path, name: str, images: Path | None = None) -> Path:
    """An untrained registered model at 32 px, K=4 (:func:`fixtures.write_model_checkpoint`)."""
    return write_model_checkpoint(path, name, images)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export_images")
    write_image_folder(root, 5, (40, 56))
    return root


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory,
             images: Path) -> dict[str, tuple[Path, Path, str]]:
    """Each registered model: its checkpoint, its ONNX file and what `landmarks export`
    printed (one export per model for the whole module)."""
    base = tmp_path_factory.mktemp("export")
    out: dict[str, tuple[Path, Path, str]] = {}
    for name in MODELS_UNDER_TEST:
        ckpt = write_checkpoint(base / f"{name}.pt", name, images)
        onnx_file = base / f"{name}.onnx"
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["export", str(ckpt), "--format", "onnx", "--out", str(onnx_file)]) == 0
        out[name] = (ckpt, onnx_file, buf.getvalue())
    return out


@pytest.mark.parametrize("name", MODELS_UNDER_TEST)
def test_onnx_round_trip(name: str, exported: dict[str, tuple[Path, Path, str]]) -> None:
    ckpt, onnx_file, printed = exported[name]
    assert onnx_file.is_file() and "max difference" in printed
    # verified on random and on the training data's images, both printed
    assert "(random)" in printed and "(images)" in printed and "image(s) of" in printed
    reference = Detector.from_checkpoint(ckpt, device="cpu")
    runtime = OnnxDetector.from_file(onnx_file, threads=1)
    assert runtime.meta["model"] == name and runtime.meta["num_keypoints"] == 4
    assert runtime.meta["image_size"] == 32 and runtime.meta["step"] == 7
    assert 0 <= runtime.meta["max_difference"] <= TOLERANCE
    # a batch size other than the traced one (dynamic batch)
    for batch in (1, 5):
        x = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want = reference.model.detect(x)
        got = runtime.detect(x)
        assert got["keypoints"].shape == (batch, 4, 2)
        assert (got["keypoints"] - want["keypoints"]).abs().max() <= TOLERANCE
        if "jacobians" in want:  # motion: the Jacobians are exported too
            assert (got["jacobians"] - want["jacobians"]).abs().max() <= TOLERANCE
    gen_file = generator_path(onnx_file)
    assert gen_file.is_file() == can_animate(reference.model)
    if gen_file.is_file():
        assert "generator:" in printed
        gen = OnnxGenerator.from_file(gen_file, threads=1)
        x = torch.rand(3, 3, 32, 32)
        with torch.no_grad():
            src = reference.model.detect(x)
            drv = {k: v.flip(0) for k, v in src.items()}
            want = reference.model.generate(x, src, drv)["reconstruction"]
        got = gen.generate(x, src, drv)["reconstruction"]
        assert got.shape == want.shape and (got - want).abs().max() <= TOLERANCE


def test_broken_export_is_an_error_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    ckpt = write_checkpoint(tmp_path / "imm.pt", "imm")
    forward = onnx_format._DetectGraph.forward

    def shifted(self: Any, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        kp, *rest = forward(self, images)
        return (kp + 1e-3, *rest)  # a graph that is off by 1e-3 normalised units

    monkeypatch.setattr(onnx_format._DetectGraph, "forward", shifted)
    out = tmp_path / "broken.onnx"
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "does not match PyTorch" in err and "1.00e-03 > 0.0001" in err
    assert not out.exists() and not list(tmp_path.glob(".*.part"))
    # a graph torch.onnx cannot trace (its inputs cannot be named): one line says so
    monkeypatch.setattr(onnx_format._DetectGraph, "forward", lambda self, *a: forward(self, *a))
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: torch.onnx could not export the detector: ")
    assert err.count("\n") == 1 and not out.exists()
    # a generator that is off: neither file is kept (the detector passed on its own)
    monkeypatch.setattr(onnx_format._DetectGraph, "forward", forward)
    generate = onnx_format._GenerateGraph.forward

    def brighter(self: Any, source: torch.Tensor, source_keypoints: torch.Tensor,
                 source_jacobians: torch.Tensor, driving_keypoints: torch.Tensor,
                 driving_jacobians: torch.Tensor) -> torch.Tensor:
        return generate(self, source, source_keypoints, source_jacobians, driving_keypoints,
                        driving_jacobians) + 1e-3

    monkeypatch.setattr(onnx_format._GenerateGraph, "forward", brighter)
    mckpt = write_checkpoint(tmp_path / "motion.pt", "motion")
    out = tmp_path / "motion.onnx"
    assert main(["export", str(mckpt), "--format", "onnx", "--out", str(out)]) == 2
    assert "the ONNX generator" in capsys.readouterr().err
    assert not out.exists() and not generator_path(out).exists()
    assert not list(tmp_path.glob(".*.part"))


def test_detect_with_onnx_writes_the_checkpoints_json(
        exported: dict[str, tuple[Path, Path, str]], images: Path, tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", 4, (40, 64))
    for name in ("imm", "motion"):
        ckpt, onnx_file, _ = exported[name]
        a, b = tmp_path / f"{name}_ckpt.json", tmp_path / f"{name}_onnx.json"
        assert main(["detect", str(ckpt), str(images), str(video), "--out", str(a),
                     "--device", "cpu"]) == 0
        assert main(["detect", str(onnx_file), str(images), str(video), "--out", str(b)]) == 0
        ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
        assert [(r["source"], r["frame"]) for r in ra] == [(r["source"], r["frame"]) for r in rb]
        pa = np.array([r["keypoints"] for r in ra])
        pb = np.array([r["keypoints"] for r in rb])
        # ≤ 1e-4 normalised units is ≤ 0.01 px of these inputs
        assert pa.shape == pb.shape and np.abs(pa - pb).max() < 0.01


def _eval_json(ckpt: Path) -> dict[str, Any]:
    return {"checkpoint": str(ckpt), "dataset": "mafl", "metric": "iod", "num_keypoints": 4,
            "image_size": 32, "crop_size": 32, "labels_note": "human annotations",
            "point_names": ["left eye", "right eye", "nose", "left mouth", "right mouth"],
            "sizes": {"train_labelled": 40, "test": 12},
            "iod_error": {"mean": 9.5, "per_point": [8.0, 9.0, 10.0, 10.5, 10.0]}}


def test_safetensors_release_loads_without_pickle(
        tmp_path: Path, images: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    ckpt = write_checkpoint(run / "checkpoints" / "step_0000007.pt", "imm", images)
    (run / "eval").mkdir()
    (run / "eval" / "mafl.json").write_text(json.dumps(_eval_json(ckpt)))
    (run / "eval" / "recon.json").write_text(json.dumps({
        "task": "reconstruction", "checkpoint": str(ckpt), "videos_root": "clips",
        "videos": ["a.mp4"], "size": 32, "protocol": "source = first frame, driving = every "
        "frame", "rows": [{"method": "imm", "l1": 0.0512, "akd": 1.25}]}))
    rel = tmp_path / "release"
    assert main(["export", str(ckpt), "--format", "safetensors", "--out", str(rel)]) == 0
    assert sorted(p.name for p in rel.iterdir()) == ["README.md", "config.json",
                                                      "model.safetensors"]
    card = (rel / "README.md").read_text()
    sha = hashlib.sha256((rel / "model.safetensors").read_bytes()).hexdigest()
    for text in (sha, "Jakab", "| keypoints (K) | 4 |", "32×32", str(images), "| training steps "
                 "| 7 of", "unsupervised-landmarks 0.1.0", "mafl evaluation of", "9.50",
                 "video reconstruction of", "protocol: source = first frame", "l1 0.0512"):
        assert text in card, text
    reference = Detector.from_checkpoint(ckpt, device="cpu")
    x = torch.rand(3, 3, 32, 32)
    want = reference.detect_tensor(x)

    def no_pickle(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("torch.load (pickle) was called")

    monkeypatch.setattr(torch, "load", no_pickle)
    loaded = Detector.from_pretrained(rel, device="cpu")
    assert torch.equal(loaded.detect_tensor(x), want)
    assert loaded.training_root == str(images)
    out = tmp_path / "kp.json"
    assert main(["detect", str(rel), str(images), "--out", str(out), "--device", "cpu"]) == 0
    assert len(json.loads(out.read_text())) == 5
    # the ONNX export reads a release folder too
    assert main(["export", str(rel), "--format", "onnx", "--out", str(tmp_path / "r.onnx")]) == 0
    # a changed weights file is refused, named
    with (rel / "model.safetensors").open("r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ReleaseError, match="does not match the sha256"):
        load_release(rel)


@pytest.mark.parametrize("command", ["detect", "export", "swap", "manipulate", "animate",
                                     "eval"])
def test_garbage_checkpoint_is_one_line(command: str, tmp_path: Path, images: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(bytes(range(256)) * 4)
    img = str(next(images.iterdir()))
    argv = {
        "detect": ["detect", str(junk), img, "--out", str(tmp_path / "o.json")],
        "export": ["export", str(junk), "--format", "onnx", "--out", str(tmp_path / "o.onnx")],
        "swap": ["swap", str(junk), "--style", img, "--geometry", img, "--out",
                 str(tmp_path / "o.png")],
        "manipulate": ["manipulate", str(junk), img, "--move", "0=1,1", "--out",
                       str(tmp_path / "o.png")],
        "animate": ["animate", str(junk), "--source", img, "--driving", str(images), "--out",
                    str(tmp_path / "o.mp4")],
        "eval": ["eval", str(junk), "--task", "reconstruction", "--videos", str(images)],
    }[command]
    assert main([*argv, "--device", "cpu"] if command != "export" else argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{junk} is not a checkpoint: not a PyTorch file" in err
    assert "weights_only" not in err


def test_pickle_that_is_not_ours_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "numpy.pt"
    torch.save({"x": np.zeros(3)}, bad)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"is not a checkpoint: a weights-only load refuses "
                                          r"it \(Unsupported global: GLOBAL numpy"):
        Detector.from_checkpoint(bad)
    with pytest.raises(ValueError, match="is not a checkpoint: the file is empty"):
        Detector.load(empty)


def test_existing_out_is_not_overwritten_without_force(
        exported: dict[str, tuple[Path, Path, str]], tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    ckpt = exported["imm"][0]
    target = tmp_path / "m.onnx"
    target.write_bytes(b"keep")
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "mine.txt").write_text("keep")
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(target)]) == 2
    assert main(["export", str(ckpt), "--format", "safetensors", "--out", str(rel)]) == 2
    err = capsys.readouterr().err
    assert f"{target} already exists; pass --force" in err and f"{rel} already exists" in err
    assert target.read_bytes() == b"keep" and (rel / "mine.txt").read_text() == "keep"
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(target), "--force"]) == 0
    assert OnnxDetector.from_file(target).meta["model"] == "imm"
    assert main(["export", str(ckpt), "--format", "safetensors", "--out", str(rel),
                 "--force"]) == 0
    assert not (rel / "mine.txt").exists() and (rel / "model.safetensors").is_file()
    # the motion model's generator file is guarded too
    mckpt, monnx, _ = exported["motion"]
    gen_target = generator_path(tmp_path / "mo.onnx")
    gen_target.write_bytes(b"keep")
    assert main(["export", str(mckpt), "--format", "onnx", "--out",
                 str(tmp_path / "mo.onnx")]) == 2
    assert f"{gen_target} already exists" in capsys.readouterr().err
    assert not (tmp_path / "mo.onnx").exists()


def test_inverse_2x2_matches_torch() -> None:
    m = torch.randn(5, 3, 2, 2) + 2 * torch.eye(2)
    assert torch.allclose(inverse_2x2(m), torch.linalg.inv(m), atol=1e-5)
