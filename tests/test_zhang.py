"""The ``zhang`` model (Zhang et al. 2018): shapes, the channel softmax and its landmark means,
landmark-pooled features, the loss with the priors, backward, detection, and a training run
whose checkpoint detects and evaluates after a reload."""

from pathlib import Path

import pytest
import torch

from fixtures import write_image_folder
from landmarks.config import load_config
from landmarks.engine.trainer import build_model, train
from landmarks.geometry import TPSSpread, sample_tps_warp
from landmarks.geometry.coords import pixel_centers
from landmarks.losses import Objective, PixelLoss
from landmarks.models.hourglass import Hourglass
from landmarks.models.zhang import landmark_distributions, partition_maps
from landmarks.registry import ModelArgumentError, create_model

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
SMALL = dict(num_keypoints=4, image_size=32, width=8, render_channels=32,
             min_render_channels=8, decoder_feature_channels=8)


def _model(**kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("zhang", **{**SMALL, **kw})


def test_hourglass_keeps_size_and_rejects_odd_inputs() -> None:
    hg = Hourglass(5, [6, 7, 8])
    assert hg(torch.rand(2, 5, 16, 12)).shape == (2, 6, 16, 12)
    with pytest.raises(ValueError, match="divisible"):
        hg(torch.rand(1, 5, 10, 10))


def test_channel_softmax_and_means() -> None:
    """A logit spike per landmark channel over a background that owns the other pixels: the
    shares sum to 1 over channels, each distribution sums to 1 over pixels and its mean is the
    spike's pixel centre."""
    logits = torch.zeros(1, 3, 8, 8)
    logits[0, 0, 2, 5] = 50.0
    logits[0, 1, 6, 1] = 50.0
    logits[0, 2] = 25.0  # the background owns every other pixel
    shares, dist = landmark_distributions(logits)
    assert torch.allclose(shares.sum(1), torch.ones(1, 8, 8))
    assert torch.allclose(dist.sum((-2, -1)), torch.ones(1, 3))
    c = pixel_centers(8)
    x = (dist[0, 0].sum(0) * c).sum()
    y = (dist[0, 0].sum(1) * c).sum()
    assert torch.allclose(torch.stack([x, y]), torch.stack([c[5], c[2]]), atol=1e-4)


def test_partition_maps_peak_at_keypoints_and_sum_to_one() -> None:
    kp = torch.tensor([[[pixel_centers(16)[3], pixel_centers(16)[12]],
                        [pixel_centers(16)[10], pixel_centers(16)[4]]]])
    maps = partition_maps(kp, 16, 0.25)
    assert maps.shape == (1, 3, 16, 16)
    assert torch.allclose(maps.sum(1), torch.ones(1, 16, 16))
    assert divmod(int(maps[0, 0].argmax()), 16) == (12, 3)  # (row, col) = (y, x)
    assert divmod(int(maps[0, 1].argmax()), 16) == (4, 10)
    # a sharp Gaussian density owns its pixel (~91% at σ = 0.25, see the docstring)
    assert maps[0, 0, 12, 3] > 0.85


@pytest.mark.parametrize("appearance", ["source", "target"])
def test_shapes_loss_backward(appearance: str) -> None:
    model = _model(appearance=appearance)
    src, tgt, warped = torch.rand(3, 2, 3, 32, 32).unbind(0)
    out = model(src, tgt, warped)
    assert out["reconstruction"].shape == (2, 3, 32, 32)
    assert out["keypoints"].shape == out["warped_keypoints"].shape == (2, 4, 2)
    assert out["prob_x"].shape == out["prob_y"].shape == (2, 4, 16)
    assert out["heatmaps"].shape == out["rendered_maps"].shape == (2, 4, 16, 16)
    assert out["features"].shape == (2, 5, 8)
    assert torch.allclose(out["prob_x"].sum(-1), torch.ones(2, 4), atol=1e-5)
    assert out["keypoints"].abs().max() < 1
    warp = sample_tps_warp(2, TPSSpread(5.0, 0.1, 0.1, (0.001, 0.01)), 10, "cpu",
                           torch.Generator().manual_seed(0))
    objective = Objective(PixelLoss("l2"), {"equivariance": 1.0, "separation": 1.0,
                                            "concentration": 1.0})
    losses = objective(out, tgt, None, warp)
    assert all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    # the detector gets gradient (through the rendered maps and the pooled features)
    assert grads["score_head.weight"].abs().sum() > 0
    assert grads["landmark_encoder.layers.0.0.weight"].abs().sum() > 0
    assert grads["feature_head.weight"].abs().sum() > 0


def test_appearance_comes_from_the_source() -> None:
    """appearance=source: the latent vectors are the source's (same source, other target:
    same features); the keypoints are the target's."""
    model = _model().eval()
    src, tgt1, tgt2 = torch.rand(3, 1, 3, 32, 32).unbind(0)
    with torch.no_grad():
        a, b = model(src, tgt1), model(src, tgt2)
        det = model.detect(tgt2)
    assert torch.allclose(a["features"], b["features"], atol=1e-6)
    assert torch.allclose(b["keypoints"], det["keypoints"], atol=1e-6)
    assert torch.allclose(a["source_keypoints"], model.detect(src)["keypoints"], atol=1e-6)


def test_detect_matches_forward_and_ignores_batch() -> None:
    model = _model().eval()
    images = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        all3 = model.detect(images)["keypoints"]
        one = model.detect(images[1:2])["keypoints"]
    assert torch.allclose(all3[1:2], one, atol=1e-5)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ModelArgumentError, match="appearance"):
        create_model("zhang", appearance="both")
    with pytest.raises(ModelArgumentError, match="hourglass_levels"):
        create_model("zhang", image_size=32, heatmap_size=16, hourglass_levels=6)
    with pytest.raises(ModelArgumentError, match="takes no argument 'render_size'"):
        create_model("zhang", render_size=3)


def test_train_checkpoint_detect_round_trip(tmp_path: Path) -> None:
    """Three trainer steps with the priors on; the checkpoint rebuilds the same model from its
    config alone and detects the same points."""
    images = tmp_path / "images"
    write_image_folder(images, 8, 40)
    cfg = load_config(SMOKE, [f"data.root={images}", "train.device=cpu", "model.name=zhang",
                              "model.decoder_feature_channels=8", "train.steps=3",
                              "loss.terms={equivariance: 100, separation: 10, "
                              "concentration: 10}"])
    result = train(cfg, tmp_path / "run")
    assert result.step == 3 and result.last_checkpoint is not None
    row = result.history[-1]
    for term in ("equivariance", "separation", "concentration", "reconstruction"):
        assert term in row and row[term] == row[term]  # logged and not NaN
    from landmarks.inference import Detector

    det = Detector.from_checkpoint(result.last_checkpoint, device="cpu")
    assert det.config.model.name == "zhang" and det.config.model.feature_dim == 8
    x = torch.rand(2, 3, 32, 32)
    kp = det.detect_tensor(x)
    assert kp.shape == (2, 4, 2)
    trained = result.model.eval()
    with torch.no_grad():
        assert torch.allclose(trained.detect(x)["keypoints"], kp, atol=1e-5)
    assert type(build_model(det.config)).__name__ == "ZhangModel"


def test_vgg19_detector_trunk_is_frozen_and_loaded() -> None:
    from landmarks.nets import VGG19Features

    model = _model(heatmap_size=8, hourglass_levels=2, detector="vgg19")
    assert model.needs_pretrained_weights and not _model().needs_pretrained_weights
    trunk = model.landmark_encoder.trunk
    reference = VGG19Features(["conv3_4"])
    torch.nn.init.constant_(reference.features[0].weight, 0.01)
    model.load_pretrained({k: v for k, v in reference.state_dict().items()
                           if k.startswith("features.")})
    assert torch.equal(trunk.features[0].weight, reference.features[0].weight)
    out = model(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    assert out["heatmaps"].shape == (2, 4, 8, 8)
    out["reconstruction"].sum().backward()
    assert all(p.grad is None for p in trunk.parameters())
    assert model.score_head.weight.grad is not None
    with pytest.raises(ModelArgumentError, match="'paper' or 'vgg19'"):
        create_model("zhang", detector="resnet")
