"""Reconstruction losses: VGG-19 layout and weight loading, the normalised perceptual loss on
hand-computed values, pixel losses, build_loss. Random-initialised VGG, tiny images."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from landmarks.config import LossConfig
from landmarks.losses import (
    VGG19_LAYERS,
    PerceptualLoss,
    PixelLoss,
    VGG19Features,
    build_loss,
    layer_error,
    load_vgg19_weights,
    normalised_layer_loss,
    update_running_mean,
)

STD = torch.tensor([0.229, 0.224, 0.225])
MEAN = torch.tensor([0.485, 0.456, 0.406])


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ---------------------------------------------------------------------------- VGG-19 layout


def test_layer_indices_follow_torchvision_layout() -> None:
    convs = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    assert list(VGG19_LAYERS.values()) == [c + 1 for c in convs]
    assert [VGG19_LAYERS[n] for n in ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")] \
        == [3, 8, 13, 22, 31]
    vgg = VGG19Features(["conv5_4"])
    kinds = {i: type(m) for i, m in enumerate(vgg.features)}
    assert len(vgg.features) == 36
    assert [i for i, k in kinds.items() if k is nn.Conv2d] == convs
    assert [i for i, k in kinds.items() if k is nn.MaxPool2d] == [4, 9, 18, 27]
    assert all(kinds[c + 1] is nn.ReLU and not vgg.features[c + 1].inplace for c in convs)
    assert all(vgg.features[c].padding == (1, 1) and vgg.features[c].padding_mode == "zeros"
               for c in convs)


def test_features_truncated_to_deepest_layer() -> None:
    assert len(VGG19Features(["conv2_2", "conv1_1"]).features) == 9
    assert len(VGG19Features(["input"]).features) == 0


def test_output_shapes_and_strides() -> None:
    layers = ["input", "conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2", "conv1_1"]
    vgg = VGG19Features(layers)
    out = vgg(torch.rand(2, 3, 32, 32))
    assert [tuple(o.shape) for o in out] == [
        (2, 3, 32, 32), (2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8), (2, 512, 4, 4),
        (2, 512, 2, 2), (2, 64, 32, 32),
    ]
    assert all(bool((o >= 0).all()) for o in out[1:])  # after a ReLU


def test_input_layer_is_imagenet_normalised_input() -> None:
    x = torch.rand(1, 3, 8, 8)
    (out,) = VGG19Features(["input"])(x)
    expected = (x - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected)


def test_frozen_and_always_eval() -> None:
    vgg = VGG19Features(["conv2_2"])
    assert all(not p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training and not any(m.training for m in vgg.modules())
    wrapper = nn.Sequential(vgg).train()
    assert wrapper.training and not vgg.training
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    vgg(x)[0].sum().backward()
    assert x.grad is not None and all(p.grad is None for p in vgg.parameters())


def test_unknown_or_repeated_layer_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"conv6_1.*valid names: input, conv1_1"):
        VGG19Features(["conv6_1"])
    with pytest.raises(ValueError, match="conv1_2"):
        VGG19Features(["conv1_2", "conv1_2"])


# ---------------------------------------------------------------------------- weight loading


def _torchvision_dict(vgg: VGG19Features) -> dict[str, torch.Tensor]:
    state = {f"features.{k}": torch.randn_like(v) for k, v in vgg.features.state_dict().items()}
    state["features.10.weight"] = torch.randn(2, 2)  # deeper than the module: ignored
    state["classifier.0.weight"] = torch.randn(4, 3)  # ignored
    return state


def test_load_torchvision_format() -> None:
    vgg = VGG19Features(["input", "conv2_2"])
    state = _torchvision_dict(vgg)
    assert load_vgg19_weights(vgg, state) == "torchvision"
    assert vgg.weights_format == "torchvision"
    for idx in (0, 2, 5, 7):
        torch.testing.assert_close(vgg.features[idx].weight, state[f"features.{idx}.weight"])
        torch.testing.assert_close(vgg.features[idx].bias, state[f"features.{idx}.bias"])
    assert all(not p.requires_grad for p in vgg.parameters())
    x = torch.rand(1, 3, 4, 4)
    torch.testing.assert_close(vgg(x)[0], (x - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1))


def test_load_normalised_format_sets_convs_and_input_transform() -> None:
    vgg = VGG19Features(["input", "conv2_1"])
    shapes = {0: (3, 3, 1, 1), 2: (64, 3, 3, 3), 5: (64, 64, 3, 3), 9: (128, 64, 3, 3)}
    state = {}
    for key, shape in shapes.items():
        state[f"{key}.weight"] = torch.randn(shape)
        state[f"{key}.bias"] = torch.randn(shape[0])
    state["12.weight"] = torch.randn(1)  # deeper than the module: ignored
    assert load_vgg19_weights(vgg, state) == "normalised"
    for key, idx in ((2, 0), (5, 2), (9, 5)):
        torch.testing.assert_close(vgg.features[idx].weight, state[f"{key}.weight"])
        torch.testing.assert_close(vgg.features[idx].bias, state[f"{key}.bias"])
    x = torch.rand(2, 3, 8, 8)
    expected = torch.einsum("oc,bchw->bohw", state["0.weight"][:, :, 0, 0], x)
    torch.testing.assert_close(vgg(x)[0], expected + state["0.bias"].view(1, 3, 1, 1))
    # torchvision weights afterwards restore the ImageNet normalisation
    tv = {f"features.{k}": v for k, v in vgg.features.state_dict().items()}
    load_vgg19_weights(vgg, tv)
    torch.testing.assert_close(vgg(x)[0], (x - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1))


def test_load_rejects_wrong_dicts_naming_keys() -> None:
    vgg = VGG19Features(["conv1_2"])
    with pytest.raises(ValueError, match=r"unexpected keys: foo\.weight.*features\.0\.weight"):
        load_vgg19_weights(vgg, {"foo.weight": torch.zeros(1)})
    state = _torchvision_dict(vgg)
    del state["features.2.bias"]
    with pytest.raises(ValueError, match=r"lacks keys.*features\.2\.bias"):
        load_vgg19_weights(vgg, state)
    state = _torchvision_dict(vgg)
    state["features.3.weight"] = torch.zeros(1)  # a ReLU has no weight
    with pytest.raises(ValueError, match=r"unexpected keys: features\.3\.weight"):
        load_vgg19_weights(vgg, state)
    state = _torchvision_dict(vgg)
    state["features.2.weight"] = torch.zeros(64, 64, 1, 1)
    with pytest.raises(ValueError, match=r"features\.2\.weight.*\(64, 64, 1, 1\)"):
        load_vgg19_weights(vgg, state)
    assert vgg.weights_format == "random"


# ---------------------------------------------------------------------------- perceptual loss


def _input_loss(**kw: float) -> PerceptualLoss:
    return PerceptualLoss(VGG19Features(["input"]), **kw)


def _pair(offset: float) -> tuple[torch.Tensor, torch.Tensor]:
    target = torch.rand(2, 3, 8, 8) * 0.5
    return target + offset, target


def _m(offset: float) -> float:
    """Hand value of m for the 'input' layer when prediction = target + offset."""
    return float(((offset / STD) ** 2).mean())


def test_running_mean_starts_at_first_error_then_updates() -> None:
    loss_fn = _input_loss()
    pred, target = _pair(0.1)
    out = loss_fn(pred, target)
    m1 = _m(0.1)
    assert loss_fn.running_means.item() == pytest.approx(m1, rel=1e-5)
    assert bool(loss_fn.initialized.all())
    assert out["loss"].item() == pytest.approx(1000.0, rel=1e-6)
    assert out["perceptual/input"].item() == pytest.approx(1000.0, rel=1e-6)

    pred, target = _pair(0.2)
    out = loss_fn(pred, target)
    m2 = _m(0.2)
    r = 0.99 * m1 + 0.01 * m2
    assert loss_fn.running_means.item() == pytest.approx(r, rel=1e-5)
    assert out["loss"].item() == pytest.approx(1000.0 * m2 / r, rel=1e-5)


def test_eval_mode_does_not_update_running_mean() -> None:
    loss_fn = _input_loss()
    loss_fn(*_pair(0.1))
    before = loss_fn.running_means.clone()
    loss_fn.eval()
    out = loss_fn(*_pair(0.3))
    assert torch.equal(loss_fn.running_means, before)
    assert out["loss"].item() == pytest.approx(1000.0 * _m(0.3) / _m(0.1), rel=1e-5)
    assert not loss_fn.vgg.training


def test_eval_before_training_uses_batch_error() -> None:
    loss_fn = _input_loss().eval()
    out = loss_fn(*_pair(0.1))
    assert out["loss"].item() == pytest.approx(1000.0, rel=1e-6)
    assert not bool(loss_fn.initialized.any())


def test_mask_excludes_errors_outside_it() -> None:
    loss_fn = _input_loss()
    loss_fn(*_pair(0.1))  # initialise r
    target = torch.rand(2, 3, 8, 8)
    pred = target.clone()
    pred[:, :, :4] += 0.5  # error only in the top half
    mask = torch.ones(2, 1, 8, 8)
    mask[:, :, :4] = 0.0
    assert loss_fn(pred, target, mask)["loss"].item() == 0.0
    assert loss_fn(pred, target)["loss"].item() > 0.0
    # error in both halves: the masked loss sees only the bottom half's error, divided by all pixels
    pred[:, :, 4:] += 0.2
    masked = layer_error(*loss_fn.vgg(pred), *loss_fn.vgg(target), mask)
    diff = ((pred - target)[:, :, 4:] / STD.view(1, 3, 1, 1)) ** 2
    assert masked.item() == pytest.approx(diff.sum().item() / pred.numel(), rel=1e-5)


def test_mask_is_resized_to_each_layer() -> None:
    loss_fn = PerceptualLoss(VGG19Features(["conv1_2", "conv2_2", "conv3_2"])).eval()
    target, pred = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    unmasked = loss_fn(pred, target)
    ones = loss_fn(pred, target, torch.ones(1, 1, 32, 32))
    zeros = loss_fn(pred, target, torch.zeros(1, 1, 32, 32))
    for name in ("conv1_2", "conv2_2", "conv3_2"):
        key = f"perceptual/{name}"
        assert ones[key].item() == pytest.approx(unmasked[key].item(), rel=1e-5)
        assert zeros[key].item() == 0.0


def test_several_layers_first_step_and_gradients() -> None:
    loss_fn = PerceptualLoss(VGG19Features(["input", "conv1_2", "conv2_2"]))
    target = torch.rand(2, 3, 16, 16)
    pred = torch.rand(2, 3, 16, 16, requires_grad=True)
    out = loss_fn(pred, target)
    names = ("input", "conv1_2", "conv2_2")
    assert set(out) == {"loss", *(f"perceptual/{n}" for n in names),
                        *(f"perceptual_raw/{n}" for n in names)}
    assert out["loss"].item() == pytest.approx(3000.0, rel=1e-5)
    assert out["loss"].dtype == torch.float32 and out["loss"].requires_grad
    assert not out["perceptual/conv1_2"].requires_grad
    out["loss"].backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss_fn.vgg.parameters())


def test_normalised_layer_loss_hand_values() -> None:
    fp = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    ft = torch.tensor([[[[1.0, 0.0], [3.0, 1.0]]]])
    r = torch.tensor(2.0)
    assert normalised_layer_loss(fp, ft, r).item() == pytest.approx((4 + 9) / 4 / 2)
    mask = torch.tensor([[[[1.0, 0.0], [1.0, 0.5]]]])
    assert normalised_layer_loss(fp, ft, r, mask).item() == pytest.approx(4.5 / 4 / 2)
    assert update_running_mean(torch.tensor(2.0), torch.tensor(4.0), 0.99).item() \
        == pytest.approx(2.02)


def test_state_dict_round_trip_without_vgg_weights() -> None:
    loss_fn = PerceptualLoss(VGG19Features(["input", "conv1_2"]))
    loss_fn(*_pair(0.1))
    loss_fn(*_pair(0.2))
    state = loss_fn.state_dict()
    assert set(state) == {"running_means", "initialized"}
    restored = PerceptualLoss(VGG19Features(["input", "conv1_2"]))
    restored.vgg.load_state_dict(loss_fn.vgg.state_dict())
    restored.load_state_dict(state)  # strict, without vgg.* keys
    assert torch.equal(restored.running_means, loss_fn.running_means)
    assert torch.equal(restored.initialized, loss_fn.initialized)
    pred, target = _pair(0.05)
    a, b = loss_fn(pred, target), restored(pred, target)
    assert torch.equal(a["loss"], b["loss"])
    assert torch.equal(restored.running_means, loss_fn.running_means)
    # nested inside a model, and a dict that does carry vgg weights still loads
    model = nn.ModuleDict({"loss": restored})
    assert set(model.state_dict()) == {"loss.running_means", "loss.initialized"}
    full = {**{f"loss.vgg.{k}": v for k, v in loss_fn.vgg.state_dict().items()},
            **model.state_dict()}
    model.load_state_dict(full)


def test_zero_first_error_leaves_layer_uninitialised() -> None:
    loss_fn = _input_loss()
    target = torch.rand(1, 3, 4, 4)
    out = loss_fn(target.clone(), target)
    assert out["loss"].item() == 0.0 and not bool(loss_fn.initialized.any())
    out = loss_fn(target + 0.1, target)
    assert out["loss"].item() == pytest.approx(1000.0, rel=1e-6)


def test_distributed_average_before_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """With torch.distributed initialised, each m_k is averaged over ranks before the update."""
    import torch.distributed as dist

    other_rank = torch.tensor([0.7])
    calls = []

    def fake_all_reduce(tensor: torch.Tensor, op: object = None) -> None:
        calls.append(op)
        tensor.add_(other_rank)

    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist, "all_reduce", fake_all_reduce)
    loss_fn = _input_loss()
    out = loss_fn(*_pair(0.1))
    r = (_m(0.1) + 0.7) / 2
    assert calls == [dist.ReduceOp.SUM]
    assert loss_fn.running_means.item() == pytest.approx(r, rel=1e-5)
    assert out["loss"].item() == pytest.approx(1000.0 * _m(0.1) / r, rel=1e-5)
    loss_fn.eval()
    loss_fn(*_pair(0.1))
    assert len(calls) == 1  # eval mode does not communicate


def test_bf16_autocast_keeps_float32_statistics() -> None:
    loss_fn = PerceptualLoss(VGG19Features(["input", "conv1_2"]))
    target = torch.rand(1, 3, 16, 16)
    pred = torch.rand(1, 3, 16, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss_fn(pred, target)
    assert out["loss"].dtype == torch.float32 and torch.isfinite(out["loss"])
    assert loss_fn.running_means.dtype == torch.float32
    assert out["loss"].item() == pytest.approx(2000.0, rel=1e-5)
    out["loss"].backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


# ---------------------------------------------------------------------------- pixel losses


def test_pixel_losses_hand_values() -> None:
    target = torch.zeros(1, 1, 2, 2)
    pred = torch.tensor([[[[1.0, -2.0], [0.0, 3.0]]]])
    l1, l2 = PixelLoss("l1")(pred, target), PixelLoss("l2")(pred, target)
    assert l1["loss"].item() == pytest.approx(6 / 4) and l1["pixel/l1"].item() == pytest.approx(1.5)
    assert l2["loss"].item() == pytest.approx(14 / 4) and set(l2) == {"loss", "pixel/l2"}
    mask = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    assert PixelLoss("l1")(pred, target, mask)["loss"].item() == pytest.approx(3 / 4)
    assert PixelLoss("l2")(pred, target, mask)["loss"].item() == pytest.approx(5 / 4)
    with pytest.raises(ValueError, match="l3"):
        PixelLoss("l3")


# ---------------------------------------------------------------------------- build_loss


def test_build_loss() -> None:
    loss_fn = build_loss(LossConfig(vgg_weights="random", layers=["input", "conv1_2"],
                                    momentum=0.9))
    assert isinstance(loss_fn, PerceptualLoss)
    assert loss_fn.layers == ["input", "conv1_2"] and loss_fn.momentum == 0.9
    assert loss_fn.weights_description == "random (tests only)"
    assert isinstance(build_loss(LossConfig(name="l2")), PixelLoss)
    assert build_loss(LossConfig(name="l1")).kind == "l1"
    with pytest.raises(ValueError, match=r"'conv9_9'.*conv5_4"):
        # the layer check comes before the weights are looked for (auto would fail here)
        build_loss(LossConfig(vgg_weights="auto", layers=["input", "conv9_9"]))
    with pytest.raises(ValueError, match="ssim"):
        build_loss(LossConfig(name="ssim"))


def test_mask_shape_is_checked() -> None:
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        PixelLoss("l1")(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4))
