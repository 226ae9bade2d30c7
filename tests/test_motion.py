"""The first-order motion model (model ``motion``): its equations on hand values, the
Jacobian equivariance and pyramid losses, the recipes. The contract (training step, detect,
checkpoints) is tested for every model in test_contract.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from landmarks.config import LossConfig, load_config
from landmarks.engine.trainer import build_optimizer
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


def test_sparse_motion_with_non_commuting_jacobians_maps_the_driving_frame_to_the_source() -> None:
    """T_k(z) = p_S + J_S J_D⁻¹ (z − p_D): the driving keypoint's local frame (p_D + J_D e_i)
    lands on the source's (p_S + J_S e_i). J_S (a shear) and J_D (a rotation and stretch) do
    not commute, so J_D⁻¹ J_S, J_S J_D (no inverse) or a transposed product all fail."""
    c, s = math.cos(0.6), math.sin(0.6)
    j_d = torch.tensor([[1.5 * c, -s], [1.5 * s, c]])
    j_s = torch.tensor([[1.0, 0.7], [0.0, 1.2]])
    assert not torch.allclose(j_s @ j_d, j_d @ j_s)
    p_d, p_s = torch.tensor([0.1, -0.2]), torch.tensor([-0.3, 0.25])
    drv = {"keypoints": p_d.view(1, 1, 2), "jacobians": j_d.view(1, 1, 2, 2)}
    src = {"keypoints": p_s.view(1, 1, 2), "jacobians": j_s.view(1, 1, 2, 2)}
    m = sparse_motions(src, drv, (8, 8))[0, 1]  # (8, 8, 2), keypoint 1
    grid = coordinate_grid(8, 8)
    # by hand, point by point: z - p_D in J_D's frame, then out through J_S
    a = torch.linalg.solve(j_d, (grid - p_d).reshape(-1, 2).T)  # (2, 64)
    by_hand = (p_s[:, None] + j_s @ a).T.reshape(8, 8, 2)
    torch.testing.assert_close(m, by_hand)
    # the frame property, at points off the grid (through the same formula on a 1×1 grid)
    for e in torch.eye(2):
        z = p_d + 0.2 * j_d @ e
        one = sparse_motions(src, {**drv, "keypoints": (p_d - z).view(1, 1, 2)}, (1, 1))
        # a 1×1 grid's only point is the centre (0, 0); shifting p_D by -z puts z there
        torch.testing.assert_close(one[0, 1, 0, 0], p_s + 0.2 * j_s @ e)
    wrong = {"J_D⁻¹ J_S": torch.linalg.inv(j_d) @ j_s, "J_S J_D": j_s @ j_d,
             "(J_S J_D⁻¹)ᵀ": (j_s @ torch.linalg.inv(j_d)).T,
             "J_S⁻¹ J_D": torch.linalg.inv(j_s) @ j_d}
    for name, jac in wrong.items():
        other = (p_s[:, None] + jac @ (grid - p_d).reshape(-1, 2).T).T.reshape(8, 8, 2)
        assert (other - m).abs().max() > 0.05, name


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


def _affine_warp(g: torch.Tensor) -> object:
    """A TPS warp that is the linear map ``T(p) = G p`` (its Jacobian is ``G`` everywhere)."""
    warp = identity_tps_warp(1, 5)
    m = warp.control_points.shape[0]
    warp.weights[:, m + 1:] = g.T  # the weights' affine block acts on row vectors: p @ Gᵀ
    return warp


def test_jacobian_equivariance_on_non_commuting_frames_by_hand() -> None:
    """L = ‖I − A⁻¹ ∇T A_w‖₁ with a shear ∇T = G and a rotation A, which do not commute."""
    g = torch.tensor([[1.0, 0.5], [0.0, 1.0]])
    a = torch.tensor([[0.0, -1.0], [1.0, 0.0]])  # 90° rotation
    assert not torch.allclose(g @ a, a @ g)
    warp = _affine_warp(g)
    kp = torch.tensor([[[0.2, -0.4]]])
    torch.testing.assert_close(tps_jacobian(warp, kp)[0, 0], g)
    # consistent frames: the image's frame is G A_w (not A_w G)
    a_w = torch.tensor([[2.0, 0.0], [0.3, 1.0]])
    loss = jacobian_equivariance_loss(a_w.view(1, 1, 2, 2), (g @ a_w).view(1, 1, 2, 2), kp, warp)
    assert loss < 1e-6
    loss = jacobian_equivariance_loss(a_w.view(1, 1, 2, 2), (a_w @ g).view(1, 1, 2, 2), kp, warp)
    assert loss > 0.1
    # by hand, A_w = diag(2, 1): A⁻¹ G A_w = [[0, 1], [-2, -0.5]], so
    # |1 - 0| + |0 - 1| + |0 + 2| + |1 + 0.5| = 5.5
    a_w = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    loss = jacobian_equivariance_loss(a_w.view(1, 1, 2, 2), a.view(1, 1, 2, 2), kp, warp)
    assert loss == pytest.approx(5.5, abs=1e-5)


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


def _train_steps(model: torch.nn.Module, steps: int = 3) -> None:
    """A few AdamW steps of the model on random TPS pairs (FOMM's terms, L2 reconstruction)."""
    cfg = load_config(None, ["loss.name=l2", "optim.lr=1e-2",
                             "loss.terms={equivariance: 1, jacobian_equivariance: 1}"])
    objective = build_objective(cfg.loss, 32)
    optimizer = build_optimizer(model, cfg)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        warp = sample_tps_warp(2, TPSSpread(10.0, 0.1, 0.1, (0.005, 0.01)), 5,
                               torch.device("cpu"), g)
        pair = TrainingPair(torch.rand(2, 3, 32, 32, generator=g),
                            torch.rand(2, 3, 32, 32, generator=g), None, warp)
        losses, _ = model.training_step(pair, objective)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
    model.eval()


def test_zero_order_variant_keeps_identity_jacobians() -> None:
    """``estimate_jacobian=False``: the Jacobians are the identity by value, also after
    training steps that move the first-order model's Jacobians away from it."""
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    eye = torch.eye(2).expand(2, 3, 2, 2)
    zero, first = _small(estimate_jacobian=False), _small()
    assert not any(p.requires_grad for p in zero.kp_detector.jacobian_head.parameters())
    _train_steps(zero)
    _train_steps(first)
    with torch.no_grad():
        torch.testing.assert_close(zero.detect(images)["jacobians"], eye, atol=1e-6, rtol=0)
        assert (first.detect(images)["jacobians"] - eye).abs().max() > 1e-3  # can fail


def test_the_occlusion_map_masks_the_source_features() -> None:
    """The generator multiplies the warped source features by the occlusion map: all occluded
    (0), the output no longer depends on the source; none occluded (1) is no map at all. A
    model with ``occlusion=False`` ignores the map its dense motion computes."""
    model = _small()
    g = torch.Generator().manual_seed(4)
    a, b = torch.rand(2, 1, 3, 32, 32, generator=g)
    grid = coordinate_grid(16, 16).expand(1, 16, 16, 2)
    zeros, ones = torch.zeros(1, 1, 16, 16), torch.ones(1, 1, 16, 16)
    with torch.no_grad():
        gen = model.generator
        torch.testing.assert_close(gen(a, grid, zeros), gen(b, grid, zeros))
        assert not torch.allclose(gen(a, grid, ones), gen(b, grid, ones))
        torch.testing.assert_close(gen(a, grid, ones), gen(a, grid, None))
        det = model.detect(a)
        out = model.generate(a, det, det)
        assert out["occlusion"].shape == (1, 1, 16, 16)
        assert out["occlusion"].min() > 0 and out["occlusion"].max() < 1
        # the model uses its dense motion's map: pushed to 0 (occluded everywhere), two
        # sources give the same image; a model built without occlusion does not use it
        for m in (model, _small(occlusion=False)):
            m.dense_motion.occlusion_head.bias.fill_(-1e4)
            uses = not torch.allclose(m.generate(a, det, det)["reconstruction"],
                                      m.generate(b, det, det)["reconstruction"])
            assert uses == (not m.use_occlusion)


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


def test_vgg19_detector_has_a_frozen_pretrained_trunk_and_trains_its_heads() -> None:
    """``detector="vgg19"``: a frozen, loaded VGG-19 trunk to conv3_4 on the full frame (maps
    S / 4 wide), the context blocks and heads train; the hourglass default keeps FOMM's keys."""
    from landmarks.nets import VGG19Features

    model = _small(detector="vgg19", context_layers=2).train()
    assert model.needs_pretrained_weights and not _small().needs_pretrained_weights
    trunk = model.kp_detector.encoder.trunk
    reference = VGG19Features(["conv3_4"])
    torch.nn.init.constant_(reference.features[0].weight, 0.01)
    model.load_pretrained({k: v for k, v in reference.state_dict().items()
                           if k.startswith("features.")})
    assert torch.equal(trunk.features[0].weight, reference.features[0].weight)
    det = model.detect(torch.rand(2, 3, 32, 32))
    assert det["heatmaps"].shape == (2, 3, 8, 8)
    torch.testing.assert_close(det["heatmaps"].sum((-2, -1)), torch.ones(2, 3))
    (det["keypoints"].sum() + det["jacobians"].sum()).backward()
    assert all(p.grad is None for p in trunk.parameters())  # never trains
    assert all(p.grad is not None for p in model.kp_detector.context.parameters())
    assert model.kp_detector.heatmap_head.weight.grad is not None
    # the default builds FOMM's detector: the same keys as before, no trunk, no context
    keys = list(_small().state_dict())
    assert any(k.startswith("kp_detector.hourglass.") for k in keys)
    assert not any(k.startswith(("kp_detector.encoder.", "kp_detector.context.")) for k in keys)
    with pytest.raises(ValueError, match="'hourglass' or 'vgg19'"):
        _small(detector="resnet")
    with pytest.raises(ValueError, match="image_size / heatmap_size"):  # 34 px: no exact stride 4
        create_model("motion", num_keypoints=3, image_size=34, width=8, levels=2,
                     detector_scale=1.0, motion_scale=1.0, down_blocks=1, detector="vgg19")
