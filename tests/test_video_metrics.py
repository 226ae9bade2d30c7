"""Video reconstruction metrics (L1, AKD, MKR, AED, FID), landmarks.animation and
``landmarks eval --task reconstruction`` on a tiny fake animating model."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from conftest import REAL_CACHE
from landmarks.animation import reconstruct_video, relative_motion, render_video
from landmarks.cli import main
from landmarks.config import load_config, to_dict
from landmarks.data import realfaces
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.evaluation import face_models
from landmarks.evaluation.face_models import MetricModels
from landmarks.evaluation.reconstruction import (
    VideoClip,
    evaluate_reconstruction,
    read_videos,
    score_rows,
)
from landmarks.evaluation.video_metrics import (
    ExternalModel,
    FaceObservation,
    feature_statistics,
    fid_from_features,
    format_table,
    frechet_distance,
    identity_stats,
    keypoint_stats,
    l1_error,
    l1_per_frame,
)
from landmarks.geometry import coordinate_grid
from landmarks.models import AnimationError, LandmarkModel, build_model, create_model
from landmarks.registry import MODELS, register_model

# ----------------------------------------------------------------------------------------------
# A tiny animating model: keypoints = the brightness centroid (K copies), identity Jacobians;
# generate() shifts the source by the mean keypoint displacement.


class FakeAnimator(LandmarkModel):
    def __init__(self, num_keypoints: int = 2, image_size: int = 32) -> None:
        super().__init__()
        self.num_keypoints, self.image_size = num_keypoints, image_size
        self.offset = nn.Parameter(torch.zeros(2))

    def detect(self, images: Tensor) -> dict[str, Tensor]:
        b, _, h, w = images.shape
        m = images.mean(1)  # (B,H,W)
        ys = (torch.arange(h, dtype=m.dtype) + 0.5) / h * 2 - 1
        xs = (torch.arange(w, dtype=m.dtype) + 0.5) / w * 2 - 1
        tot = m.sum((1, 2)).clamp_min(1e-6)
        c = torch.stack(((m.sum(1) * xs).sum(1) / tot, (m.sum(2) * ys).sum(1) / tot), -1)
        kp = (c + self.offset)[:, None].expand(b, self.num_keypoints, 2)
        return {"keypoints": kp, "jacobians": torch.eye(2).expand(b, self.num_keypoints, 2, 2)}

    def generate(self, source: Tensor, source_motion: dict[str, Tensor],
                 driving_motion: dict[str, Tensor]) -> dict[str, Tensor]:
        shift = (driving_motion["keypoints"] - source_motion["keypoints"]).mean(1)  # (B,2)
        theta = torch.zeros(len(source), 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, :, 2] = -shift
        grid = F.affine_grid(theta, list(source.shape), align_corners=False)
        return {"reconstruction": F.grid_sample(source, grid, align_corners=False),
                "deformation": grid}


if "fake_animator" not in MODELS.names():
    register_model("fake_animator")(lambda num_keypoints=2, image_size=32:
                                     FakeAnimator(num_keypoints, image_size))


def _checkpoint(tmp_path: Path, name: str) -> Path:
    cfg = load_config(None, [f"model.name={name}", "model.num_keypoints=2",
                             "model.image_size=32"] + (
        ["model.width=8", "model.render_channels=16", "model.min_render_channels=8"]
        if name == "imm" else []))
    torch.manual_seed(0)
    model = build_model(cfg)
    return save_checkpoint(tmp_path / f"{name}.pt", {"model": model.state_dict(), "step": 0,
                                                     "config": to_dict(cfg)})


def _moving_square(n: int = 6, size: int = 32, step: int = 2) -> np.ndarray:
    frames = np.zeros((n, size, size, 3), np.uint8)
    for t in range(n):
        frames[t, 10:18, 6 + step * t:14 + step * t] = 230
    return frames


def _write_mp4(path: Path, frames: np.ndarray) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# ----------------------------------------------------------------------------------------------
# L1


def test_l1_hand_computed() -> None:
    real = np.zeros((2, 2, 2, 3), np.uint8)
    fake = real.copy()
    fake[0, 0, 0, 0] = 255  # one channel of one pixel fully wrong in frame 0 (12 values)
    fake[1] = 51  # frame 1: every value off by 0.2
    assert l1_per_frame(real, fake) == pytest.approx([1 / 12, 0.2])
    assert l1_error(real, fake) == pytest.approx((1 / 12 + 0.2) / 2)
    assert l1_error(real, real) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        l1_error(real, fake[:1])
    with pytest.raises(ValueError, match="uint8"):
        l1_error(real.astype(np.float32), fake)


# ----------------------------------------------------------------------------------------------
# FID


def test_frechet_distance_formula_on_gaussians() -> None:
    # 1-D: |m1 - m2|^2 + s1^2 + s2^2 - 2 s1 s2 = (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]),
                            np.array([[1.0]])) == pytest.approx(4 + 1)
    # diagonal covariances: sum over dimensions
    s1, s2 = np.diag([1.0, 9.0]), np.diag([4.0, 1.0])
    assert frechet_distance(np.zeros(2), s1, np.ones(2), s2) == pytest.approx(
        2 + (1 - 2) ** 2 + (3 - 1) ** 2)


def test_fid_of_feature_sets() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 4))
    mu, sigma = feature_statistics(a)
    assert mu.shape == (4,) and sigma.shape == (4, 4)
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-6)
    shifted = a + np.array([2.0, 0, 0, 0])  # same covariance, mean moved by 2
    assert fid_from_features(a, shifted) == pytest.approx(4.0, rel=1e-6)
    b = rng.normal(scale=3.0, size=(400, 4))
    want = frechet_distance(*feature_statistics(a), *feature_statistics(b))
    assert fid_from_features(a, b) == pytest.approx(want) and want > 10
    with pytest.raises(ValueError, match="N >= 2"):
        feature_statistics(a[:1])


# ----------------------------------------------------------------------------------------------
# AKD / MKR / AED


def test_keypoint_stats_akd_mkr_by_hand() -> None:
    pts = np.zeros((68, 2))
    real = [pts, pts, pts, None]
    fake = [pts + [3.0, 4.0], None, pts, pts]  # frame 0: 5 px off; frame 1: face missing
    st = keypoint_stats(real, fake)
    assert st.pairs == 2 and st.akd == pytest.approx((5 + 0) / 2)
    assert st.detected == 3 * 68 and st.missing == 68 and st.mkr == pytest.approx(1 / 3)
    # a frame whose real face is not found counts for neither
    none = keypoint_stats([None], [pts])
    assert none.akd is None and none.mkr is None
    assert (st + none).frames == 5


def test_identity_stats_and_fake_annotator() -> None:
    st = identity_stats([np.zeros(3), np.zeros(3), None], [np.array([0, 3.0, 4]), None,
                                                           np.zeros(3)])
    assert st.pairs == 1 and st.aed == pytest.approx(5.0)

    def fake_faces(frame: np.ndarray) -> FaceObservation:
        # "finds a face" only when the frame is bright enough; the points follow the brightness
        if frame.mean() < 10:
            return FaceObservation()
        ys, xs = np.nonzero(frame.mean(-1) > 100)
        return FaceObservation(np.tile([xs.mean(), ys.mean()], (68, 1)),
                               np.array([frame.mean() / 10.0]))

    clip_frames = _moving_square(4)
    clips = [VideoClip("sq", clip_frames)]
    shifted = np.roll(clip_frames, 2, axis=2)  # moved 2 px right: AKD 2, MKR 0
    dark = np.zeros_like(clip_frames)  # no face found: MKR 1
    model = ExternalModel("fake", "fake.dat", "0" * 64)
    mm = MetricModels(faces=fake_faces, models={"landmarks": model, "identity": model})
    rows = score_rows(clips, {"shifted": [shifted], "dark": [dark]}, mm)
    shifted_mean, dark_mean = rows[0].means(), rows[1].means()
    assert shifted_mean["AKD"] == pytest.approx(2.0) and shifted_mean["MKR"] == 0.0
    assert shifted_mean["AED"] == pytest.approx(0.0, abs=1e-9)
    assert dark_mean["AKD"] is None and dark_mean["MKR"] == 1.0
    assert shifted_mean["FID"] is None and "unavailable" in format_table(rows)


# ----------------------------------------------------------------------------------------------
# relative_motion


def _motion(kp: list, jac: list | None = None) -> dict[str, Tensor]:
    k = torch.tensor(kp, dtype=torch.float64)[None]
    j = (torch.tensor(jac, dtype=torch.float64) if jac is not None
         else torch.eye(2, dtype=torch.float64).expand(k.shape[1], 2, 2))[None]
    return {"keypoints": k, "jacobians": j}


def test_relative_motion_translation_identity_jacobians() -> None:
    src = _motion([[0.0, 0.0], [0.5, 0.0], [0.0, 0.5]])
    ini = _motion([[0.1, 0.1], [0.3, 0.1], [0.1, 0.3]])
    drv = _motion([[0.2, 0.0], [0.4, 0.0], [0.2, 0.2]])  # moved by (+0.1, -0.1)
    out = relative_motion(src, drv, ini)
    assert torch.allclose(out["keypoints"], src["keypoints"] + torch.tensor([0.1, -0.1],
                                                                            dtype=torch.float64))
    assert torch.allclose(out["jacobians"], torch.eye(2, dtype=torch.float64).expand(1, 3, 2, 2))


def test_relative_motion_jacobians_and_adapt_scale() -> None:
    a = [[2.0, 0.0], [0.0, 1.0]]
    src = _motion([[0.0, 0.0], [0.4, 0.0], [0.0, 0.4]], [a] * 3)  # hull area 0.08
    ini = _motion([[0.0, 0.0], [0.2, 0.0], [0.0, 0.2]], [[[1.0, 0], [0, 2.0]]] * 3)  # 0.02
    drv = _motion([[0.1, 0.0], [0.3, 0.0], [0.1, 0.2]], [[[1.0, 0], [0, 2.0]]] * 3)
    out = relative_motion(src, drv, ini, adapt_scale=True)
    # scale = sqrt(0.08 / 0.02) = 2: the +0.1 x move becomes +0.2
    assert torch.allclose(out["keypoints"], src["keypoints"] + torch.tensor(
        [0.2, 0.0], dtype=torch.float64))
    # J_d inv(J_i) = I, so the source Jacobian is kept
    assert torch.allclose(out["jacobians"], torch.tensor(a, dtype=torch.float64).expand(1, 3, 2, 2))
    rot = [[0.0, -1.0], [1.0, 0.0]]
    drv2 = _motion([[0.0, 0.0], [0.2, 0.0], [0.0, 0.2]], [rot] * 3)
    ini2 = _motion([[0.0, 0.0], [0.2, 0.0], [0.0, 0.2]])
    out2 = relative_motion(src, drv2, ini2)
    want = torch.tensor(rot, dtype=torch.float64) @ torch.tensor(a, dtype=torch.float64)
    assert torch.allclose(out2["jacobians"][0, 0], want)
    assert torch.allclose(out2["keypoints"], src["keypoints"])
    with pytest.raises(ValueError, match="span no area|zero area"):
        line = _motion([[0.0, 0.0], [0.1, 0.1], [0.2, 0.2]])
        relative_motion(line, drv, line, adapt_scale=True)


# ----------------------------------------------------------------------------------------------
# reconstruct_video / render_video


def test_reconstruct_video_follows_motion_and_rejects_non_animating() -> None:
    model = FakeAnimator(2, 32).eval()
    frames = _moving_square(5)
    out = reconstruct_video(model, frames, batch_size=2)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert l1_error(frames, out) < 0.5 * l1_error(frames, np.repeat(frames[:1], 5, axis=0))
    with pytest.raises(ValueError, match="32x32"):
        reconstruct_video(model, _moving_square(2, size=16), 2)
    imm = build_model(load_config(None, ["model.num_keypoints=2", "model.image_size=32",
                                         "model.width=8", "model.render_channels=16",
                                         "model.min_render_channels=8"])).eval()
    with pytest.raises(AnimationError, match="cannot animate"):
        reconstruct_video(imm, frames, 2)
    assert render_video(imm, frames, 2).shape == frames.shape


# ----------------------------------------------------------------------------------------------
# the CLI


def test_cli_reconstruction_skips_corrupt_video(tmp_path: Path, capsys) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    _write_mp4(videos / "a.mp4", _moving_square(6))
    _write_mp4(videos / "b.mp4", _moving_square(5, step=-1)[:, :, ::-1].copy())
    (videos / "broken.mp4").write_bytes(b"not a video at all" * 20)
    still = videos / "still"
    still.mkdir()
    Image.fromarray(_moving_square(1)[0]).save(still / "00000.png")
    ckpt = _checkpoint(tmp_path, "fake_animator")
    imm = _checkpoint(tmp_path, "imm")
    out = tmp_path / "rec.json"
    args = ["eval", str(ckpt), "--task", "reconstruction", "--videos", str(videos),
            "--out", str(out), "--baseline-imm", str(imm), "--device", "cpu"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "first frame repeated" in text and "imm render (baseline)" in text
    assert "1 skipped" in text and "1 too short" in text
    assert "unavailable" in text  # the test cache holds no dlib / Inception files
    res = json.loads(out.read_text())
    assert res["skipped"]["count"] == 1 and "broken.mp4" in res["skipped"]["files"][0]
    assert res["videos"] == ["a.mp4", "b.mp4"]
    rows = {r["method"]: r for r in res["rows"]}
    assert rows["fake_animator"]["mean"]["L1"] < rows["first frame repeated"]["mean"]["L1"]
    assert rows["fake_animator"]["metrics"]["AKD"]["unavailable"]
    assert main(args) == 2  # never overwrites without --force
    assert "already exists" in capsys.readouterr().err
    assert main(args + ["--force", "--max-frames", "3"]) == 0
    assert json.loads(out.read_text())["rows"][0]["frames"] == 6


def test_cli_non_animating_checkpoint_is_an_error(tmp_path: Path, capsys) -> None:
    videos = tmp_path / "v"
    videos.mkdir()
    _write_mp4(videos / "a.mp4", _moving_square(3))
    ckpt = _checkpoint(tmp_path, "imm")
    with pytest.raises(AnimationError, match="'imm' cannot animate"):
        evaluate_reconstruction(ckpt, videos, device="cpu", metric_models=MetricModels())
    assert main(["eval", str(ckpt), "--task", "reconstruction", "--videos", str(videos)]) == 2
    assert "'imm' cannot animate" in capsys.readouterr().err


def test_read_videos_frame_folders(tmp_path: Path) -> None:
    clip = tmp_path / "clip"
    clip.mkdir()
    for i, f in enumerate(_moving_square(4, size=48)):
        Image.fromarray(f).save(clip / f"{i:05d}.png")
    clips, skipped, short = read_videos(tmp_path, 32, max_frames=3)
    assert [c.name for c in clips] == ["clip"] and clips[0].frames.shape == (3, 32, 32, 3)
    assert not skipped and not short


# ----------------------------------------------------------------------------------------------
# the real external models, when they are in the user's cache


def _real_file(name: str) -> Path:
    path = REAL_CACHE / "weights" / name
    if not path.is_file():
        pytest.skip(f"{path} not in the cache; `landmarks weights fetch video-metrics` "
                    f"fetches it")
    return path


def test_real_dlib_and_inception_when_cached(monkeypatch) -> None:
    pytest.importorskip("dlib", reason="dlib not installed (pip install -e '.[annotate]')")
    _real_file(realfaces.PREDICTOR_FILE)
    _real_file(realfaces.DESCRIPTOR_FILE)
    _real_file(face_models.FID_FILE)
    face = REAL_CACHE / "data" / "realfaces" / "frames" / "test" / "carphone_pristine"
    if not face.is_dir():
        pytest.skip(f"{face} not in the cache (`landmarks data fetch realfaces`)")
    monkeypatch.setenv("LANDMARKS_CACHE", str(REAL_CACHE))
    mm = face_models.load_metric_models()
    assert not mm.unavailable, mm.unavailable
    clips, _, _ = read_videos(face.parent, 64, max_frames=2)
    frames = [c for c in clips if c.name == "carphone_pristine"][0].frames
    obs = mm.faces(frames[0])
    assert obs.points is not None and obs.points.shape == (68, 2)
    assert obs.embedding is not None and obs.embedding.shape == (128,)
    assert (obs.points > -1).all() and (obs.points < 64).all()
    feats = mm.inception(frames)
    assert feats.shape == (2, 2048) and np.isfinite(feats).all()


def test_reconstruct_video_with_the_motion_model() -> None:
    model = create_model("motion", num_keypoints=3, image_size=32, width=8, generator_width=8,
                         levels=2, down_blocks=1, res_blocks=1, max_width=16).eval()
    frames = _moving_square(3)
    out = reconstruct_video(model, frames, batch_size=2)
    assert out.shape == frames.shape and out.dtype == np.uint8


def test_a_static_clip_reconstructs_to_itself() -> None:
    """No motion, no change: a clip of one repeated frame is redrawn as that frame (a model
    that moves the source by its keypoints' motion), and by the untrained motion model as its
    own redraw of the first frame, identically for every frame (identity deformation)."""
    still = np.repeat(_moving_square(3)[1:2], 5, axis=0)
    out = reconstruct_video(FakeAnimator(2, 32).eval(), still, batch_size=2)
    assert np.array_equal(out, still)
    model = create_model("motion", num_keypoints=3, image_size=32, width=8, generator_width=8,
                         levels=2, down_blocks=1, res_blocks=1, max_width=16).eval()
    out = reconstruct_video(model, still, batch_size=2)
    with torch.no_grad():
        first = torch.from_numpy(still[:1]).permute(0, 3, 1, 2).float() / 255
        det = model.detect(first)
        gen = model.generate(first, det, det)
    grid = coordinate_grid(*gen["deformation"].shape[1:3]).expand_as(gen["deformation"])
    torch.testing.assert_close(gen["deformation"], grid, atol=1e-5, rtol=0)
    redraw = (gen["reconstruction"][0].permute(1, 2, 0) * 255).round().byte().numpy()
    assert all(np.array_equal(o, out[0]) for o in out)
    assert np.abs(out[0].astype(int) - redraw.astype(int)).max() <= 1
