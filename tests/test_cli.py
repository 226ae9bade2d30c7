"""The command line as a user runs it: train → detect on generated data; every bad input is a
clear error that names what is wrong, and nothing is overwritten."""

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from fixtures import write_corrupt_image, write_image_folder, write_video
from landmarks.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "configs" / "smoke.yaml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("cli")
    images = base / "images"
    write_image_folder(images, 12, 48)
    run = base / "run"
    assert main(["train", "--config", SMOKE, f"data.root={images}", "train.device=cpu",
                 "--out", str(run)]) == 0
    return images, run


def test_train_writes_checkpoints_and_pictures(trained: tuple[Path, Path]) -> None:
    _, run = trained
    assert (run / "checkpoints" / "step_0000006.pt").is_file()
    assert (run / "quadruplets" / "step_0000006.png").is_file()
    assert "num_keypoints: 4" in (run / "config.yaml").read_text()


def test_detect_images_folder_and_video(trained: tuple[Path, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    images, run = trained
    video = write_video(tmp_path / "clip.mp4", 9, (40, 64))
    out = tmp_path / "kp.json"
    overlay = tmp_path / "overlay"
    ckpt = str(run / "checkpoints" / "step_0000006.pt")
    assert main(["detect", ckpt, str(images), str(video), "--out", str(out),
                 "--overlay", str(overlay), "--device", "cpu"]) == 0
    records = json.loads(out.read_text())
    stills = [r for r in records if r["frame"] is None]
    frames = [r for r in records if r["frame"] is not None]
    assert len(stills) == 12 and [r["frame"] for r in frames] == list(range(9))
    for r in records:
        assert len(r["keypoints"]) == 4
        w, h = (64, 40) if r["frame"] is not None else (48, 48)
        # points are in the input's pixels: inside the (centre-square-cropped) frame
        assert all(-0.5 <= x <= w - 0.5 and -0.5 <= y <= h - 0.5 for x, y in r["keypoints"])
    assert len(list(overlay.glob("*.png"))) == 12
    with av.open(str(overlay / "clip.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 9
    # a second run does not overwrite the JSON without --force: refused, named, untouched
    before, stamp = out.read_bytes(), out.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["detect", ckpt, str(images), "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"{out} already exists" in err and "--force" in err
    assert out.read_bytes() == before and out.stat().st_mtime_ns == stamp
    # nor writes into a non-empty overlay folder
    overlays = sorted((p.name, p.stat().st_mtime_ns) for p in overlay.iterdir())
    assert main(["detect", ckpt, str(images), "--out", str(tmp_path / "other.json"),
                 "--overlay", str(overlay), "--device", "cpu"]) == 2
    assert f"overlay folder {overlay} is not empty" in capsys.readouterr().err
    assert not (tmp_path / "other.json").exists()
    assert sorted((p.name, p.stat().st_mtime_ns) for p in overlay.iterdir()) == overlays
    # with --force the JSON is rewritten: now the stills only
    assert main(["detect", ckpt, str(images), "--out", str(out), "--force",
                 "--device", "cpu"]) == 0
    rewritten = json.loads(out.read_text())
    assert len(rewritten) == 12 and all(r["frame"] is None for r in rewritten)
    # the same checkpoint and images: the same points
    assert [r["source"] for r in rewritten] == [r["source"] for r in stills]
    for a, b in zip(rewritten, stills, strict=True):
        assert np.allclose(a["keypoints"], b["keypoints"], atol=1e-4)
    assert out.read_bytes() != before


def test_detect_skips_and_names_a_corrupt_image(trained: tuple[Path, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    _, run = trained
    good = write_image_folder(tmp_path / "in", 2, 32)
    bad = write_corrupt_image(tmp_path / "in" / "broken.jpg")
    out = tmp_path / "kp.json"
    assert main(["detect", str(run / "checkpoints" / "step_0000006.pt"), str(tmp_path / "in"),
                 "--out", str(out), "--device", "cpu"]) == 0
    assert len(json.loads(out.read_text())) == len(good)
    assert f"skipped {bad}" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["train", "--config", SMOKE, "model.num_keypointz=3", "--out", "{tmp}/r"],
     "model.num_keypointz"),
    (["train", "--config", SMOKE, "model.num_keypoints=three", "--out", "{tmp}/r"],
     "model.num_keypoints"),
    (["train", "--config", "{tmp}/missing.yaml", "--out", "{tmp}/r"], "missing.yaml"),
    (["train", "--config", SMOKE, "data.root={tmp}/nowhere", "--out", "{tmp}/r"], "nowhere"),
    (["train", "--config", SMOKE, "data.root={tmp}/empty", "--out", "{tmp}/r"], "empty"),
    (["train", "--out", "{tmp}/norun", "--resume"], "no checkpoint"),
    (["detect", "{tmp}/missing.pt", "{tmp}/empty", "--out", "{tmp}/o.json"], "missing.pt"),
    (["detect", "{ckpt}", "{tmp}/nothing.png", "--out", "{tmp}/o.json"], "nothing.png"),
    (["detect", "{ckpt}", "{tmp}/notes.txt", "--out", "{tmp}/o.json"], "notes.txt"),
    (["detect", "{ckpt}", "{tmp}/empty", "--out", "{tmp}/o.json"], "empty"),
])
def test_bad_input_is_a_clear_error(args: list[str], message: str, trained: tuple[Path, Path],
                                    tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hi")
    ckpt = trained[1] / "checkpoints" / "step_0000006.pt"
    argv = [a.format(tmp=tmp_path, ckpt=ckpt) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err


def test_existing_run_folder_is_refused(trained: tuple[Path, Path],
                                        capsys: pytest.CaptureFixture) -> None:
    images, run = trained
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert main(["train", "--config", SMOKE, f"data.root={images}", "--out", str(run)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before


def test_init_with_another_k_is_a_clear_error_and_leaves_nothing(
        trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    images, run = trained
    ckpt = run / "checkpoints" / "step_0000006.pt"
    out = tmp_path / "finetune"
    base = ["train", "--config", SMOKE, f"data.root={images}", "train.device=cpu",
            "train.steps=1"]
    assert main([*base, "model.num_keypoints=7", "--out", str(out), "--init", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --init: checkpoint") and str(ckpt) in err
    assert "model.num_keypoints=4" in err and "model.num_keypoints=7" in err
    assert "size mismatch" not in err
    assert not out.exists()  # nothing half-made blocks the rerun
    assert main([*base, "--out", str(out), "--init", str(tmp_path / "nothere.pt")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nothere.pt") in err and "does not exist" in err
    assert not out.exists()
    # the corrected rerun into the same --out
    assert main([*base, "--out", str(out), "--init", str(ckpt)]) == 0
    assert (out / "checkpoints" / "step_0000001.pt").is_file()


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("landmarks")
    proc = subprocess.run([str(exe), "models"], capture_output=True, text=True,
                          env={**os.environ}, timeout=120)
    assert proc.returncode == 0 and "imm" in proc.stdout.split()
