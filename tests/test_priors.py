"""Priors (concentration, separation, equivariance), the weighted objective, the softmax scale,
perceptual layers that fit the image size, the optimiser choice and the training-health checks,
on hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from landmarks.config import ConfigError, LossConfig, load_config
from landmarks.engine.health import HealthMonitor, keypoint_health, weight_rms
from landmarks.engine.trainer import build_model, build_optimizer, training_step
from landmarks.geometry import (
    TPSSpread,
    identity_tps_warp,
    sample_tps_warp,
    spatial_softmax_keypoints,
    warp_points,
)
from landmarks.losses import (
    Objective,
    PixelLoss,
    build_objective,
    check_terms,
    concentration_loss,
    equivariance_loss,
    fitting_layers,
    layer_stride,
    separation_loss,
)
from landmarks.registry import ModelArgumentError

PAPER_LAYERS = ["input", "conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2"]


# ------------------------------------------------------------------------------ concentration


def test_concentration_is_the_marginal_variance() -> None:
    one_hot = torch.zeros(1, 1, 4)
    one_hot[..., 2] = 1.0
    assert concentration_loss(one_hot, one_hot).item() == pytest.approx(0.0, abs=1e-7)
    # two equal bins at the centres -0.75 and 0.75 of a 4-bin axis: variance 0.75² = 0.5625
    two = torch.tensor([[[0.5, 0.0, 0.0, 0.5]]])
    assert concentration_loss(two, one_hot).item() == pytest.approx(0.5625, rel=1e-6)
    assert concentration_loss(two, two).item() == pytest.approx(1.125, rel=1e-6)


# ------------------------------------------------------------------------------ separation


def test_separation_on_hand_values() -> None:
    same = torch.zeros(1, 2, 2)
    assert separation_loss(same, 0.1).item() == pytest.approx(1.0)
    apart = torch.tensor([[[0.0, 0.0], [0.3, 0.0]]])  # d² = 0.09, 2σ² = 0.02
    assert separation_loss(apart, 0.1).item() == pytest.approx(math.exp(-4.5), rel=1e-6)
    assert separation_loss(torch.zeros(2, 1, 2)).item() == 0.0  # K = 1: nothing to separate
    with pytest.raises(ValueError, match="bandwidth"):
        separation_loss(apart, 0.0)


def test_separation_pushes_points_apart() -> None:
    kp = torch.tensor([[[0.0, 0.0], [0.1, 0.0]]], requires_grad=True)
    separation_loss(kp, 0.16).backward()
    assert kp.grad[0, 0, 0] > 0 > kp.grad[0, 1, 0]  # descent moves them away from each other


# ------------------------------------------------------------------------------ equivariance


def test_equivariance_is_zero_for_points_that_move_with_the_warp() -> None:
    g = torch.Generator().manual_seed(0)
    warp = sample_tps_warp(3, TPSSpread(5.0, 0.1, 0.1, (0.001, 0.01)), generator=g)
    kp = torch.rand(3, 5, 2, generator=g) * 1.2 - 0.6
    moved = warp_points(warp, kp)  # where the content at kp appears in the warped image
    assert equivariance_loss(moved, kp, warp).item() < 1e-8
    # points that stay put while the image moves are penalised
    assert equivariance_loss(kp, kp, warp).item() > 1e-3
    # identity warp: the loss is the mean squared distance
    ident = identity_tps_warp(1)
    a, b = torch.tensor([[[0.1, 0.2]]]), torch.tensor([[[0.4, -0.2]]])
    assert equivariance_loss(a, b, ident).item() == pytest.approx(0.09 + 0.16, rel=1e-5)


# ------------------------------------------------------------------------------ objective


def _out(b: int = 2, k: int = 3, size: int = 8) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    soft = spatial_softmax_keypoints(torch.randn(b, k, 4, 4))
    return {"reconstruction": torch.rand(b, 3, size, size), "keypoints": soft.keypoints,
            "prob_x": soft.prob_x, "prob_y": soft.prob_y,
            "warped_keypoints": soft.keypoints + 0.05}


def test_objective_sums_weighted_terms_and_logs_them_unweighted() -> None:
    out, target = _out(), torch.rand(2, 3, 8, 8)
    warp = identity_tps_warp(2)
    obj = Objective(PixelLoss("l2"), {"equivariance": 10.0, "separation": 2.0,
                                      "concentration": 3.0, "reconstruction": 0.5})
    assert obj.needs_warped_target
    losses = obj(out, target, None, warp)
    expected = (0.5 * losses["reconstruction"] + 10 * losses["equivariance"]
                + 2 * losses["separation"] + 3 * losses["concentration"])
    assert losses["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert losses["equivariance"].item() == pytest.approx(2 * 0.05**2, rel=1e-4)
    plain = Objective(PixelLoss("l2"))
    assert not plain.needs_warped_target
    assert set(plain(out, target)) == {"loss", "reconstruction", "pixel/l2"}


def test_objective_errors_name_the_term() -> None:
    with pytest.raises(ValueError, match="'smoothness'"):
        Objective(PixelLoss("l2"), {"smoothness": 1.0})
    with pytest.raises(ValueError, match="needs the model's 'warped_keypoints'"):
        out = _out()
        del out["warped_keypoints"]
        Objective(PixelLoss("l2"), {"equivariance": 1.0})(out, torch.rand(2, 3, 8, 8))


def test_config_terms_are_checked_and_merged() -> None:
    cfg = load_config(None, ["loss.terms={equivariance: 1e3, separation: 2}",
                             "loss.terms.separation=5"])
    assert cfg.loss.terms == {"equivariance": 1000.0, "separation": 5.0}
    # term names are the registry's: checked with the model, before training
    with pytest.raises(ConfigError, match=r"'loss\.terms\.smoothness'.*unknown loss term"):
        check_terms(load_config(None, ["loss.terms.smoothness=1"]).loss, build_model(
            load_config(None, [])), "imm")
    with pytest.raises(ConfigError, match=r"'loss\.terms\.separation'.*weight >= 0"):
        load_config(None, ["loss.terms.separation=abc"])
    with pytest.raises(ConfigError, match=r"'loss\.terms\.separation'.*weight >= 0"):
        load_config(None, ["loss.terms.separation=-1"])
    with pytest.raises(ConfigError, match=r"'optim\.name'"):
        load_config(None, ["optim.name=sgd"])


# ------------------------------------------------------------------------------ softmax scale


def test_softmax_scale_multiplies_the_logits() -> None:
    scores = torch.randn(2, 3, 16, 16)
    flat = spatial_softmax_keypoints(scores)
    summed = spatial_softmax_keypoints(scores, scale=16.0)
    by_hand = torch.softmax(scores.sum(dim=-2), dim=-1)  # logits summed over rows
    assert torch.allclose(summed.prob_x, by_hand, atol=1e-6)
    assert summed.prob_x.amax(-1).mean() > flat.prob_x.amax(-1).mean()


def test_model_checks_the_softmax_scale() -> None:
    with pytest.raises(ModelArgumentError, match="softmax_scale must be > 0"):
        build_model(load_config(None, ["model.softmax_scale=0"]))


def test_model_takes_the_softmax_scale() -> None:
    cfg = load_config(None, ["model.image_size=32", "model.width=8", "model.heatmap_size=8",
                             "model.render_channels=16", "model.min_render_channels=8",
                             "model.num_keypoints=3", "model.softmax_scale=8"])
    model = build_model(cfg).eval()
    x = torch.rand(2, 3, 32, 32)
    scores = model.score_head(model.landmark_encoder(x))
    det = model.detect(x)
    assert torch.allclose(det["keypoints"], spatial_softmax_keypoints(scores, 8.0).keypoints)


# ------------------------------------------------------------------------------ layers


def test_layers_that_fit_the_image_size() -> None:
    assert [layer_stride(n) for n in PAPER_LAYERS] == [1, 1, 2, 4, 8, 16]
    assert fitting_layers(PAPER_LAYERS, 128, 8) == PAPER_LAYERS
    assert fitting_layers(PAPER_LAYERS, 64, 8) == PAPER_LAYERS[:-1]
    assert fitting_layers(PAPER_LAYERS, 64, 16) == PAPER_LAYERS[:-2]
    assert fitting_layers(PAPER_LAYERS, 64, 0) == PAPER_LAYERS
    with pytest.raises(ValueError, match="at least 64 px at image size 32"):
        fitting_layers(["conv5_2"], 32, 64)
    obj = build_objective(LossConfig(vgg_weights="random"), image_size=64)
    assert obj.reconstruction.layers == PAPER_LAYERS[:-1]


# ------------------------------------------------------------------------------ optimiser


def test_adamw_decay_does_not_crush_a_branch_that_adam_l2_does() -> None:
    """The measured failure in miniature: gradients clipped to norm 1 while the raw norm is
    1e4. Adam's L2 term (5e-4 · w, added to the clipped gradient) then rivals the loss gradient
    and pulls the weights to zero; AdamW's decoupled decay cannot."""
    def run(name: str, decay: float) -> float:
        torch.manual_seed(0)
        layer = nn.Linear(16, 16)
        cfg = load_config(None, [f"optim.name={name}", f"optim.weight_decay={decay}"])
        opt = build_optimizer(layer, cfg)
        start = weight_rms(layer.parameters())
        for _ in range(200):
            x = torch.randn(32, 16)
            loss = 1e4 * (layer(x) - x.flip(-1)).square().mean()  # a loss that keeps weights
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(layer.parameters(), 1.0)
            opt.step()
        return weight_rms(layer.parameters()) / start

    assert run("adamw", 1e-5) > 0.5
    assert run("adam", 5e-4) < run("adamw", 1e-5)


# ------------------------------------------------------------------------------ health


def test_keypoint_health_figures() -> None:
    kp = torch.tensor([[[-0.5, 0.0], [0.5, 0.0]]])  # on one horizontal line
    px = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])
    h = keypoint_health({"keypoints": kp, "prob_x": px, "prob_y": px})
    assert h["health/spread_x"].item() == pytest.approx(0.5)
    assert h["health/spread_y"].item() == pytest.approx(0.0)
    assert h["health/peak"].item() == pytest.approx(0.75)


def test_health_monitor_warns_once_naming_the_step() -> None:
    layer = nn.Conv2d(3, 4, 3)
    monitor = HealthMonitor([layer], warmup=10)
    healthy = {"health/spread_x": 0.3, "health/spread_y": 0.3}
    collapsed = {"health/spread_x": 0.01, "health/spread_y": 0.3}
    assert monitor.check(5, collapsed)[1] == []  # within the warm-up: the softmax starts flat
    assert monitor.check(20, healthy)[1] == []
    figures, warnings = monitor.check(40, collapsed)
    assert figures["health/detector_rms"] == pytest.approx(1.0)
    assert len(warnings) == 1 and "step 40" in warnings[0] and "vertical line" in warnings[0]
    assert monitor.check(60, collapsed)[1] == []  # said once per episode
    with torch.no_grad():
        layer.weight.mul_(0.1)
    warnings = monitor.check(80, healthy)[1]
    assert len(warnings) == 1 and "step 80" in warnings[0] and "shrank to 0.10×" in warnings[0]


def test_training_step_detects_on_the_warped_target_for_equivariance() -> None:
    cfg = load_config(None, ["model.image_size=32", "model.width=8", "model.heatmap_size=8",
                             "model.render_channels=16", "model.min_render_channels=8",
                             "model.num_keypoints=3", "loss.name=l2",
                             "loss.terms={equivariance: 1}", "data.video_tps=false"])
    model = build_model(cfg)
    objective = build_objective(cfg.loss, 32)
    frames = {"source": torch.rand(2, 3, 32, 32), "target": torch.rand(2, 3, 32, 32)}
    losses, out, _ = training_step(model, objective, frames, cfg, torch.Generator())
    assert out["warped_keypoints"].shape == (2, 3, 2)
    assert {"loss", "equivariance", "health/spread_x", "health/peak"} <= set(losses)
    losses["loss"].backward()
    assert model.score_head.weight.grad.abs().sum() > 0
