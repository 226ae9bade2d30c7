"""The temporal regulariser: optical flow in the data (sign convention, caching, config errors),
the keypoint and heatmap terms on hand values, and training steps of ``zhang`` with the terms on
a tiny video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter

from fixtures import write_image_folder, write_video
from landmarks.config import ConfigError, load_config
from landmarks.data import DatasetError, FlowPairs, build_dataset, collate_skipping
from landmarks.data.flow import FlowCache, compute_flow
from landmarks.engine.trainer import build_model, train, training_step
from landmarks.geometry.coords import pixel_centers
from landmarks.losses import (
    Objective,
    PixelLoss,
    carry_keypoints,
    check_terms,
    temporal_heatmap_loss,
    temporal_keypoint_loss,
    warp_by_flow,
)
from landmarks.registry import create_model

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
SHIFT = 3  # pixels per frame of the translated texture


def _constant_flow(dx: float, dy: float = 0.0, b: int = 2, size: int = 16) -> torch.Tensor:
    flow = torch.zeros(b, 2, size, size)
    flow[:, 0], flow[:, 1] = dx, dy
    return flow


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture ``(h, w, 3)`` uint8 (trackable everywhere)."""
    noise = np.random.default_rng(seed).random((h, w, 3))
    smooth = gaussian_filter(noise, (1.5, 1.5, 0))
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def _translated_frames(folder: Path, frames: int, size: int) -> Path:
    """PNG frames of a texture moving ``SHIFT`` pixels to the right per frame."""
    folder.mkdir(parents=True)
    canvas = _texture(size, size + SHIFT * frames)
    for t in range(frames):
        x0 = SHIFT * (frames - 1 - t)  # content at x in frame t is at x + SHIFT in frame t+1
        Image.fromarray(canvas[:, x0:x0 + size]).save(folder / f"frame_{t:03d}.png")
    return folder


# -- the terms on hand values ------------------------------------------------------------------


def test_keypoint_term_hand_values() -> None:
    src = torch.tensor([[[0.2, -0.5], [-0.3, 0.1], [0.0, 0.6]],
                        [[0.5, 0.5], [-0.7, -0.2], [0.1, 0.0]]])
    zero = _constant_flow(0.0)
    assert float(temporal_keypoint_loss(src, src, zero)) == 0.0
    flow = _constant_flow(0.1)
    assert torch.allclose(carry_keypoints(src, flow), src + torch.tensor([0.1, 0.0]), atol=1e-6)
    right = torch.tensor([0.1, 0.0])
    assert float(temporal_keypoint_loss(src, src + right, flow)) == pytest.approx(0.0, abs=1e-10)
    # 0.2 to the right under a flow of 0.1: every point is 0.1 off, squared 0.01
    assert float(temporal_keypoint_loss(src, src + 2 * right, flow)) == pytest.approx(0.01)
    # a vertical error counts the same; both axes add
    assert float(temporal_keypoint_loss(src, src + torch.tensor([0.1, 0.3]), flow)) == \
        pytest.approx(0.09)


def test_flow_is_sampled_bilinearly_at_the_keypoints() -> None:
    """A flow that grows linearly with x (half the x coordinate) is read exactly between the
    pixel centres."""
    c = pixel_centers(16)
    flow = torch.zeros(1, 2, 16, 16)
    flow[0, 0] = 0.5 * c.view(1, 16)
    kp = torch.tensor([[[0.13, 0.4], [-0.61, -0.2]]])
    carried = carry_keypoints(kp, flow)
    assert torch.allclose(carried[..., 0], 1.5 * kp[..., 0], atol=1e-6)
    assert torch.allclose(carried[..., 1], kp[..., 1])


def test_warp_by_flow_shifts_the_maps() -> None:
    maps = torch.rand(1, 3, 8, 8)
    warped, valid = warp_by_flow(maps, _constant_flow(2 / 8, b=1, size=32))  # one map pixel
    assert torch.allclose(warped[..., :-1], maps[..., 1:], atol=1e-6)
    assert valid[..., :-1].min() == 1 and valid[..., -1].max() == 0


def test_heatmap_term_is_zero_when_the_flow_explains_the_motion() -> None:
    h = 16
    source = torch.zeros(1, 2, h, h)
    source[0, 0, 5, 6], source[0, 1, 9, 3] = 1.0, 1.0
    target = torch.roll(source, shifts=1, dims=-1)  # moved one pixel to the right
    back = _constant_flow(-2 / h, b=1, size=h)  # target pixel q came from q - 1 pixel
    assert float(temporal_heatmap_loss(source, target, back)) == pytest.approx(0.0, abs=1e-9)
    assert float(temporal_heatmap_loss(source, target, torch.zeros_like(back))) > 1.0
    # the scale of the maps does not matter (each is made a distribution)
    assert float(temporal_heatmap_loss(source * 1e-3, target * 7, back)) == \
        pytest.approx(0.0, abs=1e-9)


# -- the flow in the data ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_of_a_translated_image(method: str) -> None:
    """Content that moves 3 pixels to the right between source and target: flow ≈ +3 px =
    6 / S in normalised x, 0 in y; the flow back is its negative."""
    size = 48
    canvas = _texture(size, size + SHIFT)
    source, target = canvas[:, SHIFT:], canvas[:, :size]  # source x is target x + 3
    assert np.array_equal(source[:, :-SHIFT], target[:, SHIFT:])
    flow = compute_flow(source, target, method)
    assert flow.shape == (2, size, size) and flow.dtype == np.float32
    inner = flow[:, 6:-6, 6:-6]
    assert np.median(inner[0]) == pytest.approx(2 * SHIFT / size, abs=0.1 / size)
    assert abs(np.median(inner[1])) < 0.1 / size
    back = compute_flow(target, source, method)[:, 6:-6, 6:-6]
    assert np.median(back[0]) == pytest.approx(-2 * SHIFT / size, abs=0.1 / size)


def test_video_pairs_carry_their_flows(tmp_path: Path) -> None:
    """Through the data path (frame folder → data.flow=dis): each item's flow is the motion
    from its source frame to its target frame, with the sign of their frame difference."""
    frames = _translated_frames(tmp_path / "clip", 6, 32)
    cfg = load_config(None, [f"data.root={frames}", "data.kind=video", "data.flow=dis",
                             "data.frame_gap=[1, 1]", "data.num_workers=0"])
    dataset = build_dataset(cfg.data, 32)
    assert isinstance(dataset, FlowPairs) and len(dataset) == 6
    torch.manual_seed(0)
    for i in range(len(dataset)):
        item = dataset[i]
        t, s = item["frames"].tolist()
        assert item["flow"].shape == item["flow_back"].shape == (2, 32, 32)
        expected = 2 * SHIFT * (t - s) / 32  # frame s → frame t moves (t - s) · 3 px
        assert float(item["flow"][0, 6:-6, 6:-6].median()) == pytest.approx(expected, abs=0.01)
        assert float(item["flow_back"][0, 6:-6, 6:-6].median()) == pytest.approx(-expected,
                                                                                   abs=0.01)
    batch = collate_skipping([dataset[0], dataset[1]])
    assert batch["flow"].shape == (2, 2, 32, 32)


def test_flow_cache_memory_and_disk(tmp_path: Path) -> None:
    canvas = _texture(32, 32 + SHIFT)
    a, b = canvas[:, SHIFT:], canvas[:, :32]
    cache = FlowCache("dis", disk=True, root=tmp_path / "flow")
    flow, back = cache.get(a, b)
    again, _ = cache.get(a, b)
    assert (cache.hits, cache.misses) == (1, 1) and np.shares_memory(again, flow)
    files = list((tmp_path / "flow").rglob("*.npy"))
    assert len(files) == 1 and "dis-v" in str(files[0])
    fresh = FlowCache("dis", disk=True, root=tmp_path / "flow")
    loaded, loaded_back = fresh.get(a, b)
    assert (fresh.hits, fresh.misses) == (1, 0)
    assert np.allclose(loaded, flow, atol=1e-3) and np.allclose(loaded_back, back, atol=1e-3)
    # another pair (or the pair reversed) is another entry
    cache.get(b, a)
    assert cache.misses == 2
    # a tiny memory bound keeps only the newest entry
    small = FlowCache("farneback", memory_bytes=1)
    small.get(a, b), small.get(b, a), small.get(a, b)
    assert small.misses == 3


# -- configuration errors ----------------------------------------------------------------------


def test_config_errors_name_the_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="data.flow.*'lucas'"):
        load_config(None, ["data.flow=lucas"])
    with pytest.raises(ConfigError, match="'data.flow' and 'data.video_tps'"):
        load_config(None, ["data.flow=dis", "data.video_tps=true"])
    cfg = load_config(SMOKE, ["model.name=zhang", "loss.terms={temporal: 1}"])
    model = build_model(cfg)
    with pytest.raises(ConfigError, match="loss.terms.temporal.*'data.flow' is 'none'"):
        check_terms(cfg.loss, model, "zhang", cfg.data.flow)
    check_terms(cfg.loss, model, "zhang", "dis")
    cfg.loss.terms = {"temporal_heatmaps": 1.0}
    with pytest.raises(ConfigError, match="temporal_heatmaps.*data.flow"):
        check_terms(cfg.loss, model, "zhang", "none")
    # models that do not detect on the source cannot feed the term
    with pytest.raises(ConfigError, match="'source_heatmaps'.*'zhang'"):
        check_terms(cfg.loss, create_model("zhang", num_keypoints=2, image_size=32,
                                           appearance="target"), "zhang", "dis")
    cfg.loss.terms = {"temporal": 1.0}
    with pytest.raises(ConfigError, match="'source_keypoints', which model 'imm'"):
        check_terms(cfg.loss, create_model("imm", num_keypoints=2, image_size=32), "imm", "dis")
    # the trainer checks before writing anything
    with pytest.raises(ConfigError, match="data.flow"):
        train(load_config(SMOKE, [f"data.root={tmp_path}", "model.name=zhang",
                                  "loss.terms={temporal: 1}"]), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_flow_on_single_images_is_an_error(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "images", 2, 32)
    cfg = load_config(SMOKE, [f"data.root={tmp_path / 'images'}", "data.flow=dis"])
    dataset = build_dataset(cfg.data, 32)
    with pytest.raises(DatasetError, match="data.flow='dis' needs frame pairs.*'image'"):
        dataset[0]


# -- training ----------------------------------------------------------------------------------


def _video_cfg(root: Path, *extra: str):
    return load_config(SMOKE, [f"data.root={root}", "data.kind=video", "data.flow=dis",
                               "data.frame_gap=[1, 3]", "model.name=zhang",
                               "model.decoder_feature_channels=8", "train.device=cpu", *extra])


def test_zhang_step_with_the_temporal_terms_has_gradient(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", 12, (32, 32))
    cfg = _video_cfg(video)
    dataset = build_dataset(cfg.data, 32)
    torch.manual_seed(0)
    batch = collate_skipping([dataset[i] for i in range(4)])
    batch.pop("skipped")
    model = build_model(cfg)
    objective = Objective(PixelLoss("l1"), {"reconstruction": 0.0, "temporal": 1.0,
                                            "temporal_heatmaps": 1.0})
    losses, out, pair = training_step(model, objective, batch, cfg,
                                      torch.Generator().manual_seed(0))
    assert pair.flow is batch["flow"] and pair.flow_back is batch["flow_back"]
    assert "flow" in out and out["source_heatmaps"].shape == out["heatmaps"].shape
    assert torch.isfinite(losses["temporal"]) and torch.isfinite(losses["temporal_heatmaps"])
    assert float(losses["temporal"].detach()) > 0
    losses["loss"].backward()
    grad = model.score_head.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_train_zhang_with_temporal_on_a_video(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", 12, (32, 32))
    cfg = _video_cfg(video, "train.steps=2", "train.log_every=1",
                     "loss.terms={temporal: 10, temporal_heatmaps: 1}")
    result = train(cfg, tmp_path / "run")
    assert result.step == 2
    for row in result.history:
        assert np.isfinite(row["temporal"]) and np.isfinite(row["temporal_heatmaps"])
        assert np.isfinite(row["loss"])


# -- the jitter benchmark (benchmarks/jitter.py) -------------------------------------------------


def _jitter_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("jitter", ROOT / "benchmarks" / "jitter.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_jitter_benchmark_runs_on_a_tiny_benchmark(tmp_path: Path, capsys) -> None:
    from fixtures import write_realfaces_root, write_tiny_checkpoint

    jitter = _jitter_module()
    # one point moving 1 px per frame with an IOD of 50 px: 2% per frame
    pts = np.array([[[0.0, 0.0]], [[1.0, 0.0]], [[2.0, 0.0]]])
    assert jitter.mean_displacement(pts, np.full(2, 50.0)) == pytest.approx(0.02)
    root = write_realfaces_root(tmp_path / "rf", n_labelled=4, n_test=4)
    ckpt = write_tiny_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "jitter.json"
    assert jitter.main([str(ckpt), "--root", str(root), "--repeats", "5", "--device", "cpu",
                        "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "static jitter" in printed and "clipA" in printed
    result = json.loads(out.read_text())["results"][0]
    assert result["num_keypoints"] == 6 and set(result["clips"]) == {"clipA"}
    assert result["static"] > 0 and np.isfinite(result["moving"]["residual"])
    # the fixture's labels move 0.1 px right and 0.05 px up per frame (a made-up face)
    assert result["moving"]["labels"] > 0
    with pytest.raises(SystemExit):  # never overwrites
        jitter.main([str(ckpt), "--root", str(root), "--json", str(out)])
