"""The first-order motion model (model ``motion``): its equations on hand values, the
Jacobian equivariance and pyramid losses, the recipes. The contract (training step, detect,
checkpoints) is tested for every model in test_contract.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from landmarks.config import LossConfig, load_config
from landmarks.geometry import (
    TPSSpread,
    coordinate_grid,
    identity_tps_warp,
    sample_tps_warp,
    tps_jacobian,
    tps_transform_points,
)
from landmarks.losses import build_objective, check_terms
from landmarks.losses.motion import jacobian_equivariance_loss, pyramid_perceptual_loss
from landmarks.models import TrainingPair, build_model, can_animate, create_model
from landmarks.models.motion import (
    combine_motions,
    keypoint_difference_heatmaps,
    sparse_motions,
)

ROOT = Path(__file__).resolve().parents[1]
EYE = torch.eye(2).expand(1, 3, 2, 2)


def _motion(kp: torch.Tensor, jac: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    return {"keypoints": kp, "jacobians": EYE.clone() if jac is None else jac}


def test_sparse_motions_translate_with_identity_jacobians_and_keep_the_background() -> None:
    drv = torch.tensor([[[0.0, 0.0], [0.5, -0.5], [-0.2, 0.3]]])
    d = torch.tensor([0.1, -0.2])
    m = sparse_motions(_motion(drv + d), _motion(drv), (4, 6))
    grid = coordinate_grid(4, 6)
    assert m.shape == (1, 4, 4, 6, 2)
    torch.testing.assert_close(m[0, 0], grid)
    for k in range(1, 4):
        torch.testing.assert_close(m[0, k], grid + d)


def test_sparse_motion_is_the_first_order_map_at_and_near_the_keypoint() -> None:
    drv, src = torch.tensor([[[0.25, -0.25]] * 3]), torch.tensor([[[-0.5, 0.5]] * 3])
    j_s = torch.tensor([[2.0, 0.0], [0.0, 1.0]]).expand(1, 3, 2, 2)  # source stretched in x
    m = sparse_motions(_motion(src, j_s), _motion(drv), (8, 8))
    grid = coordinate_grid(8, 8)
    expected = src[0, 0] + (grid - drv[0, 0]) * torch.tensor([2.0, 1.0])
    torch.testing.assert_close(m[0, 1], expected)


def test_difference_heatmaps_vanish_without_motion_and_peak_at_the_driving_keypoint() -> None:
    kp = torch.tensor([[[0.0, 0.0], [0.5, 0.5], [-0.5, 0.25]]])
    h = keypoint_difference_heatmaps(kp, kp, (8, 8))
    assert h.shape == (1, 4, 8, 8) and h.abs().max() == 0
    kp = torch.tensor([[[0.0625, 0.0625], [0.5625, 0.5625], [-0.4375, 0.1875]]])  # centres
    far = kp + 1.5
    h = keypoint_difference_heatmaps(kp, far, (16, 16))
    assert (h[:, 0] == 0).all()
    peak = h[0, 1].flatten().argmax()
    centre = coordinate_grid(16, 16).view(-1, 2)[peak]
    torch.testing.assert_close(centre, kp[0, 0])
    assert h[0, 1].max() == pytest.approx(1.0, abs=1e-6)


def test_combine_motions_with_one_hot_masks_picks_that_motion() -> None:
    motions = torch.randn(2, 3, 5, 5, 2)
    masks = torch.zeros(2, 3, 5, 5)
    masks[:, 2] = 1
    torch.testing.assert_close(combine_motions(masks, motions), motions[:, 2])


def test_tps_jacobian_matches_finite_differences() -> None:
    g = torch.Generator().manual_seed(0)
    warp = sample_tps_warp(2, TPSSpread(10.0, 0.1, 0.1, (0.01, 0.02)), 5, torch.device("cpu"), g)
    p = torch.rand(2, 4, 2, generator=g) * 1.6 - 0.8
    jac = tps_jacobian(warp, p)
    eps = 1e-3
    for k in range(2):
        step = torch.zeros(2)
        step[k] = eps
        col = (tps_transform_points(warp, p + step) - tps_transform_points(warp, p - step)) / (
            2 * eps)
        torch.testing.assert_close(jac[..., k], col, atol=2e-3, rtol=1e-2)
    torch.testing.assert_close(tps_jacobian(identity_tps_warp(1, 5), p[:1]),
                               torch.eye(2).expand(1, 4, 2, 2), atol=1e-5, rtol=0)


def test_jacobian_equivariance_is_zero_for_consistent_frames_and_counts_a_scaling() -> None:
    g = torch.Generator().manual_seed(1)
    warp = sample_tps_warp(2, TPSSpread(10.0, 0.1, 0.1, (0.01, 0.02)), 5, torch.device("cpu"), g)
    kp_w = torch.rand(2, 3, 2, generator=g) - 0.5
    jac_w = torch.eye(2) + 0.1 * torch.randn(2, 3, 2, 2, generator=g)
    consistent = tps_jacobian(warp, kp_w) @ jac_w
    assert jacobian_equivariance_loss(jac_w, consistent, kp_w, warp) < 1e-5
    ident = identity_tps_warp(2, 5)
    eye = torch.eye(2).expand(2, 3, 2, 2)
    assert jacobian_equivariance_loss(eye, eye, kp_w, ident) < 1e-5
    # the image's frame is twice the warped one's: |1 - 1/2| + |1 - 1/2| = 1
    loss = jacobian_equivariance_loss(eye, 2 * eye, kp_w, ident)
    assert loss == pytest.approx(1.0, abs=1e-4)


def _small(**kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("motion", num_keypoints=3, image_size=32, width=8, generator_width=8,
                        res_blocks=1, **kw).eval()


def test_same_motion_gives_the_identity_deformation_and_moving_a_keypoint_changes_it() -> None:
    model = _small()
    assert can_animate(model)
    source = torch.rand(2, 3, 32, 32)
    det = model.detect(source)
    assert det["jacobians"].shape == (2, 3, 2, 2)
    # untrained: the Jacobian head starts at the identity
    torch.testing.assert_close(det["jacobians"], torch.eye(2).expand(2, 3, 2, 2))
    with torch.no_grad():
        out = model.generate(source, det, det)
        grid = coordinate_grid(16, 16).expand(2, 16, 16, 2)
        torch.testing.assert_close(out["deformation"], grid, atol=1e-5, rtol=0)
        moved = {k: v.clone() for k, v in det.items()}
        moved["keypoints"][:, 0] += 0.3
        other = model.generate(source, det, moved)
    assert out["reconstruction"].shape == (2, 3, 32, 32)
    assert (other["deformation"] - out["deformation"]).abs().max() > 1e-3
    assert not torch.allclose(other["reconstruction"], out["reconstruction"])


def test_zero_order_variant_keeps_identity_jacobians() -> None:
    model = _small(estimate_jacobian=False)
    assert not any(p.requires_grad for p in model.kp_detector.jacobian_head.parameters())


@pytest.mark.parametrize("kw, match", [
    ({"detector_scale": 0.3}, "detector_scale"),
    ({"motion_scale": 1.5}, "motion_scale"),
    ({"temperature": 0.0}, "temperature"),
])
def test_bad_sizes_name_the_argument(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        create_model("motion", num_keypoints=3, image_size=32, width=8, **kw)


def test_pyramid_perceptual_has_one_loss_per_scale_with_layers_that_fit() -> None:
    cfg = LossConfig(name="pyramid_perceptual", vgg_weights="random",
                     pyramid_scales=[1.0, 0.5, 0.25], min_feature_size=8)
    loss = pyramid_perceptual_loss(cfg, 64)
    assert loss.scales == [1.0, 0.5, 0.25]
    assert "conv4_2" in loss.losses[0].layers and "conv4_2" not in loss.losses[2].layers
    a, b = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    out = loss(a, b)
    assert set(out) >= {"loss", "pyramid/1", "pyramid/0.5", "pyramid/0.25"}
    torch.testing.assert_close(out["loss"], out["pyramid/1"] + out["pyramid/0.5"]
                               + out["pyramid/0.25"])
    with pytest.raises(ValueError, match="pyramid_scales"):
        pyramid_perceptual_loss(LossConfig(vgg_weights="random", pyramid_scales=[2.0]), 64)


@pytest.mark.parametrize("recipe", ["motion_faces", "motion_vox256", "motion_taichi256"])
def test_recipes_build_and_feed_their_terms(recipe: str) -> None:
    cfg = load_config(ROOT / "configs" / f"{recipe}.yaml", ["loss.vgg_weights=random"])
    with torch.device("meta"):
        model = build_model(cfg)
    check_terms(cfg.loss, model, "motion")
    assert cfg.loss.name == "pyramid_perceptual"


def test_one_training_step_learns_nothing_wrong() -> None:
    """A step with the recipe's terms: finite loss, gradient reaching the detector."""
    model = _small().train()
    cfg = LossConfig(name="pyramid_perceptual", vgg_weights="random", pyramid_scales=[1.0, 0.5],
                     terms={"equivariance": 1.0, "jacobian_equivariance": 1.0})
    objective = build_objective(cfg, 32)
    g = torch.Generator().manual_seed(0)
    warp = sample_tps_warp(2, TPSSpread(5.0, 0.05, 0.05, (0.005, 0.005)), 5,
                           torch.device("cpu"), g)
    pair = TrainingPair(torch.rand(2, 3, 32, 32, generator=g),
                        torch.rand(2, 3, 32, 32, generator=g), None, warp)
    losses, out = model.training_step(pair, objective)
    assert torch.isfinite(losses["loss"])
    assert {"jacobian_equivariance", "equivariance", "pyramid/1"} <= set(losses)
    losses["loss"].backward()
    grad = model.kp_detector.jacobian_head.weight.grad
    assert grad is not None and grad.abs().sum() > 0
