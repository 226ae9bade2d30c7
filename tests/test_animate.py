"""``landmarks animate`` (motion transfer) and the report's animation section, with a tiny fake
model that animates: ``detect`` puts one keypoint on the brightest pixel (identity Jacobians),
``generate`` shifts the source by the mean keypoint displacement. On a video of a moving dot,
absolute mode puts the source's dot where the driving dot is; relative mode moves it from its
own place by the driving dot's displacement since the first frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from fixtures import write_frame_folder, write_realfaces_root, write_video_frames
from landmarks.cli import main
from landmarks.commands.animate import animate_frames, parse_crop, side_by_side
from landmarks.config import load_config, to_dict
from landmarks.data.video_io import iter_rgb_frames
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.inference import Detector
from landmarks.models import AnimationError, LandmarkModel, build_model
from landmarks.registry import MODELS, register_model

ROOT = Path(__file__).resolve().parents[1]
SIZE = 32
NAME = "test_dot_animator"


class DotAnimator(LandmarkModel):
    """K copies of one keypoint at the brightest pixel; generate = translate the source."""

    def __init__(self, num_keypoints: int = 2, image_size: int = SIZE) -> None:
        super().__init__()
        self.num_keypoints, self.image_size = num_keypoints, image_size
        self.gain = torch.nn.Parameter(torch.ones(()))  # a state dict and a device

    def detect(self, images: Tensor) -> dict[str, Tensor]:
        grey = images.mean(1)
        b, h, w = grey.shape
        idx = grey.flatten(1).argmax(1)
        xy = torch.stack([(2 * (idx % w) + 1) / w - 1, (2 * (idx // w) + 1) / h - 1], -1)
        k = self.num_keypoints
        return {"keypoints": xy.float()[:, None].expand(b, k, 2).contiguous(),
                "jacobians": torch.eye(2).expand(b, k, 2, 2).contiguous()}

    def generate(self, source: Tensor, source_motion: dict[str, Tensor],
                 driving_motion: dict[str, Tensor]) -> dict[str, Tensor]:
        d = (driving_motion["keypoints"] - source_motion["keypoints"]).mean(1)  # (B, 2)
        eye = torch.eye(2, 3).expand(source.shape[0], 2, 3)
        grid = F.affine_grid(eye, list(source.shape), align_corners=False) - d[:, None, None]
        rec = F.grid_sample(source, grid, align_corners=False)
        return {"reconstruction": rec * self.gain, "deformation": grid}


if NAME not in MODELS.names():
    @register_model(NAME)
    def _dot_animator(num_keypoints: int = 2, image_size: int = SIZE, width: int = 8,
                      render_channels: int = 32, min_render_channels: int = 8) -> DotAnimator:
        """The fake (the sizes of configs/smoke.yaml other than K and S are ignored)."""
        return DotAnimator(num_keypoints, image_size)


def _dot(xy: tuple[int, int], size: int = SIZE) -> np.ndarray:
    """A black frame with a bright Gaussian dot centred on pixel ``xy``."""
    yy, xx = np.mgrid[:size, :size]
    g = np.exp(-((xx - xy[0]) ** 2 + (yy - xy[1]) ** 2) / (2 * 1.2 ** 2))
    return np.repeat((g * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def _brightest(frame: np.ndarray) -> np.ndarray:
    grey = frame.astype(np.float64).mean(2)
    y, x = np.unravel_index(np.argmax(grey), grey.shape)
    return np.array([x, y])


SOURCE_XY = (8, 10)
DRIVING_XY = [(14 + 2 * t, 18 - t) for t in range(8)]  # moves right and up


def _checkpoint(path: Path, name: str = NAME) -> Path:
    cfg = load_config(ROOT / "configs" / "smoke.yaml",
                      [f"model.name={name}", f"model.image_size={SIZE}"]
                      + (["model.num_keypoints=2"] if name == NAME else []))
    torch.manual_seed(0)
    model = build_model(cfg)
    return save_checkpoint(path, {"model": model.state_dict(), "step": 0,
                                  "config": to_dict(cfg)})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("animate")
    Image.fromarray(_dot(SOURCE_XY)).save(base / "source.png")
    video = write_video_frames(base / "dot.mp4", [_dot(xy) for xy in DRIVING_XY], fps=10)
    return {"base": base, "ckpt": _checkpoint(base / "dot.pt"), "source": base / "source.png",
            "video": video}


def _run(inputs: dict[str, Path], out: Path, *extra: str) -> int:
    return main(["animate", str(inputs["ckpt"]), "--source", str(inputs["source"]), "--driving",
                 str(inputs["video"]), "--out", str(out), "--device", "cpu", *extra])


def test_relative_and_absolute_modes_on_a_moving_dot(inputs: dict[str, Path], capsys) -> None:
    rel, ab = inputs["base"] / "rel.mp4", inputs["base"] / "abs.mp4"
    assert _run(inputs, rel, "--batch-size", "3") == 0
    printed = capsys.readouterr().out
    assert str(rel) in printed and "8 frames at 10 fps" in printed and "relative" in printed
    assert _run(inputs, ab, "--absolute") == 0
    rel_frames, abs_frames = list(iter_rgb_frames(rel)), list(iter_rgb_frames(ab))
    assert len(rel_frames) == len(abs_frames) == len(DRIVING_XY)
    assert rel_frames[0].shape == (SIZE, SIZE, 3)
    start = np.array(DRIVING_XY[0])
    for t, xy in enumerate(DRIVING_XY):
        want_rel = np.array(SOURCE_XY) + np.array(xy) - start  # the source's dot, moved
        assert np.abs(_brightest(rel_frames[t]) - want_rel).max() <= 1, t
        assert np.abs(_brightest(abs_frames[t]) - np.array(xy)).max() <= 1, t  # driving's place


def test_side_by_side_frames_and_out_size(inputs: dict[str, Path]) -> None:
    out = inputs["base"] / "sbs.mp4"
    assert _run(inputs, out, "--side-by-side", "--out-size", "48") == 0
    frames = list(iter_rgb_frames(out))
    assert len(frames) == len(DRIVING_XY)
    assert frames[0].shape == (48, 3 * 48, 3)
    # the driving panel shows the moving dot, the source panel does not move
    assert not np.array_equal(frames[0][:, 48:96], frames[-1][:, 48:96])
    assert np.abs(frames[0][:, :48].astype(int) - frames[-1][:, :48]).mean() < 2


def test_side_by_side_draws_each_panels_keypoints() -> None:
    black = np.zeros((SIZE, SIZE, 3), np.uint8)
    kp = [np.array([[-0.5, -0.5]]), np.array([[0.0, 0.0]]), np.array([[0.5, 0.5]])]
    frame = side_by_side(black, black, black, *kp, size=64)
    assert frame.shape == (64, 192, 3)
    for i, (x, y) in enumerate(((15.5, 15.5), (31.5, 31.5), (47.5, 47.5))):
        panel = frame[:, 64 * i:64 * (i + 1)]
        assert panel[int(y), int(x)].max() > 0  # the dot is in its panel, where its kp says
        assert panel[5, 60].max() == 0


def test_frame_folder_driving_and_force(inputs: dict[str, Path], capsys) -> None:
    folder = inputs["base"] / "frames"
    write_frame_folder(folder, 5, (SIZE, SIZE))
    out = inputs["base"] / "folder.mp4"
    args = ["animate", str(inputs["ckpt"]), "--source", str(inputs["source"]), "--driving",
            str(folder), "--out", str(out), "--device", "cpu"]
    assert main(args) == 0
    assert "5 frames at 25 fps" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and str(out) in err and "--force" in err
    assert out.read_bytes() == before
    assert main([*args, "--force", "--fps", "12"]) == 0
    assert "5 frames at 12 fps" in capsys.readouterr().out
    assert len(list(iter_rgb_frames(out))) == 5
    assert not list(inputs["base"].glob(".*part*"))  # no temporary file left behind


def test_bad_inputs_are_named(inputs: dict[str, Path], capsys) -> None:
    base = inputs["base"]
    text = base / "notes.png"
    text.write_text("not an image")
    out = base / "bad.mp4"
    assert main(["animate", str(inputs["ckpt"]), "--source", str(text), "--driving",
                 str(inputs["video"]), "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert str(text) in err and "not an image" in err and "expected an image file" in err
    assert main(["animate", str(inputs["ckpt"]), "--source", str(inputs["video"]), "--driving",
                 str(inputs["video"]), "--out", str(out), "--device", "cpu"]) == 2
    assert "not an image" in capsys.readouterr().err
    broken = base / "broken.mp4"
    broken.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    assert main(["animate", str(inputs["ckpt"]), "--source", str(inputs["source"]), "--driving",
                 str(broken), "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"driving video {broken} cannot be decoded" in err
    assert main(["animate", str(inputs["ckpt"]), "--source", str(inputs["source"]), "--driving",
                 str(base / "nowhere.mp4"), "--out", str(out), "--device", "cpu"]) == 2
    assert "nowhere.mp4 does not exist" in capsys.readouterr().err
    assert _run(inputs, out, "--absolute", "--adapt-scale") == 2
    assert "--adapt-scale" in capsys.readouterr().err
    assert _run(inputs, base / "x.png") == 2
    assert "expected a video file name" in capsys.readouterr().err
    assert _run(inputs, out, "--crop", "0.5,0,0.2,1") == 2
    assert "--crop '0.5,0,0.2,1'" in capsys.readouterr().err
    assert not out.exists()


def test_a_model_that_cannot_animate_is_named(inputs: dict[str, Path], capsys) -> None:
    ckpt = _checkpoint(inputs["base"] / "zhang.pt", "zhang")
    out = inputs["base"] / "z.mp4"
    assert main(["animate", str(ckpt), "--source", str(inputs["source"]), "--driving",
                 str(inputs["video"]), "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "model 'zhang' cannot animate" in err and str(ckpt) in err and "'motion'" in err
    assert not out.exists()
    zhang = Detector.from_checkpoint(ckpt, "cpu").model
    with pytest.raises(AnimationError, match="'ZhangModel' cannot animate"):
        animate_frames(zhang, torch.rand(3, SIZE, SIZE), [])


def test_adapt_scale_scales_the_relative_motion() -> None:
    """Three keypoints around the dot, spread in proportion to the image's brightness: the
    source's spread is 255/127 times the driving frames', so --adapt-scale multiplies the
    motion by 255/127 (FOMM: sqrt of the keypoints' convex hull areas)."""

    class TwoDots(DotAnimator):
        def detect(self, images: Tensor) -> dict[str, Tensor]:
            kp = super().detect(images)["keypoints"][:, :1]
            spread = images[:, 0].amax((1, 2))[:, None, None]
            offs = torch.tensor([[0.0, 0.0], [0.2, 0.0], [0.0, 0.2]])[None] * spread
            return {"keypoints": kp + offs, "jacobians": torch.eye(2).expand(len(kp), 3, 2, 2)}

    model = TwoDots(3)
    src = torch.from_numpy(_dot((10, 10))).permute(2, 0, 1).float() / 255
    frames = [_dot(xy) // 2 for xy in ((10, 12), (14, 12))]  # peak 127: spread 127/255
    plain = next(animate_frames(model, src, frames, batch_size=2))
    scaled = next(animate_frames(model, src, frames, adapt_scale=True, batch_size=2))
    move = plain.motion_keypoints[1] - plain.motion_keypoints[0]
    assert np.allclose(scaled.motion_keypoints[1] - scaled.motion_keypoints[0],
                       move * 255 / 127,
                       atol=1e-5)
    assert model.training  # the mode is restored


def test_parse_crop() -> None:
    assert parse_crop(None) is None and parse_crop("") is None
    assert parse_crop("0.1,0,0.9,1") == (0.1, 0.0, 0.9, 1.0)
    with pytest.raises(ValueError, match="x0,y0,x1,y1"):
        parse_crop("0.1,0.2")


def test_report_animation_section_on_realfaces(tmp_path: Path) -> None:
    from landmarks.report import sections
    from landmarks.report.html import SECTION_TITLES

    root = write_realfaces_root(tmp_path / "rf", n_test=4, n_stills=2)
    ckpt = _checkpoint(tmp_path / "dot.pt")
    det = Detector.from_checkpoint(ckpt, "cpu")
    det.config.data.root = str(root / "frames" / "train")
    run = sections._RunModel(ckpt, det, dataset=None)
    section = sections._animation_section(run)
    assert section.key == "animation" and SECTION_TITLES["animation"] == "Animation"
    body = section.body
    assert "skipped" not in body
    assert "clipA" in body and "stills_0/00000" in body and "relative mode" in body
    assert body.count("<img") == 1
    uri = body.split('src="data:image/png;base64,')[1].split('"')[0]
    import base64
    import io

    with Image.open(io.BytesIO(base64.b64decode(uri))) as im:
        # source column plus the 4 test frames of clipA (fewer than 6), two rows of 96 px cells
        assert im.size == (2 + 96 + 8 + 4 * 98, 2 + 2 * 98)


def test_report_animation_section_from_the_runs_videos(tmp_path: Path) -> None:
    from landmarks.data import build_dataset
    from landmarks.report import sections

    for name in ("a", "b"):
        write_frame_folder(tmp_path / "clips" / name, 9 if name == "a" else 5, (SIZE, SIZE))
    ckpt = _checkpoint(tmp_path / "dot.pt")
    det = Detector.from_checkpoint(ckpt, "cpu")
    det.config.data.root, det.config.data.kind = str(tmp_path / "clips"), "video"
    det.config.data.frame_gap = [1, 2]
    dataset = build_dataset(det.config.data, SIZE)
    body = sections._animation_section(sections._RunModel(ckpt, det, dataset)).body
    assert "training video <code>a</code>" in body and "no test split" in body
    assert "frame 2 of the training video <code>b</code>" in body
    none = sections._animation_section(sections._RunModel(ckpt, det, None)).body
    assert "Animation skipped" in none


def test_report_of_an_animating_run_has_the_animation_section(tmp_path: Path) -> None:
    from landmarks.config import from_dict, save_config
    from landmarks.engine.checkpoint import checkpoint_path, load_checkpoint
    from landmarks.report import build_report

    root = write_realfaces_root(tmp_path / "rf", n_test=3, n_stills=1)
    run = tmp_path / "run"
    state = load_checkpoint(_checkpoint(tmp_path / "dot.pt"))
    state["config"]["data"].update(kind="video", root=str(root / "frames" / "train"))
    save_checkpoint(checkpoint_path(run, 1), state)
    save_config(from_dict(state["config"]), run / "config.yaml")
    text = build_report(run)
    assert '<section id="animation"><h2>Animation</h2>' in text
    section = text.split('<section id="animation">')[1].split("</section>")[0]
    assert "skipped" not in section and section.count("data:image/png;base64,") == 1
    assert "RealFaces held-out test clip <code>clipA</code>" in section


def test_the_motion_model_animates_through_the_cli(inputs: dict[str, Path], capsys) -> None:
    """The real (untrained, tiny) ``motion`` model through the whole command: relative mode with
    --adapt-scale, side by side."""
    cfg = load_config(ROOT / "configs" / "motion_faces.yaml",
                      ["model.num_keypoints=3", f"model.image_size={SIZE}", "model.width=8",
                       "model.generator_width=8", "model.res_blocks=1"])
    torch.manual_seed(0)
    ckpt = save_checkpoint(inputs["base"] / "motion.pt", {
        "model": build_model(cfg).state_dict(), "step": 0, "config": to_dict(cfg)})
    out = inputs["base"] / "motion.mp4"
    assert main(["animate", str(ckpt), "--source", str(inputs["source"]), "--driving",
                 str(inputs["video"]), "--out", str(out), "--device", "cpu", "--side-by-side",
                 "--adapt-scale", "--batch-size", "4"]) == 0
    assert f"animation: {out} (8 frames" in capsys.readouterr().out
    frames = list(iter_rgb_frames(out))
    assert len(frames) == len(DRIVING_XY) and frames[0].shape == (SIZE, 3 * SIZE, 3)
