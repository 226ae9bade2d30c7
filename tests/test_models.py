"""The IMM model: shapes, backward, finiteness; the paper's architecture sizes; the
IMM keypoint bottleneck: known score maps give known keypoints and heatmaps, and the target
reaches the renderer only through its keypoints."""

import pytest
import torch
from torch import nn

from landmarks.geometry.coords import pixel_centers
from landmarks.models import create_model
from landmarks.registry import MODELS


@pytest.mark.parametrize("size", [32, 64])
def test_imm_shapes_backward_finite(size: int) -> None:
    """(The contract every registered model keeps is tested in test_contract.py.)"""
    torch.manual_seed(0)
    model = create_model("imm", num_keypoints=5, image_size=size, width=8, render_channels=32,
                         min_render_channels=8)
    src, tgt = torch.rand(2, 3, size, size), torch.rand(2, 3, size, size)
    out = model(src, tgt)
    assert out["reconstruction"].shape == (2, 3, size, size)
    assert out["keypoints"].shape == (2, 5, 2)
    assert out["heatmaps"].shape == (2, 5, 16, 16)
    loss = (out["reconstruction"] - tgt).pow(2).mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # the keypoint bottleneck carries gradient back into the landmark encoder
    assert model.landmark_encoder.layers[0][0].weight.grad.abs().sum() > 0


def test_paper_sizes_at_128() -> None:
    model = create_model("imm")
    assert model.num_keypoints == 10 and model.image_size == 128
    # 128 → 16: three [stride-2, 3×3] blocks after the 7×7 and 3×3 stem, channels 32 → 256
    assert model.landmark_encoder.out_channels == 256
    assert len(model.landmark_encoder.layers) == 2 + 2 * 3
    convs = [m for m in model.renderer.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [256, 256, 128, 128, 64, 64, 32, 3]
    with torch.no_grad():
        out = model.eval().detect(torch.rand(1, 3, 128, 128))
    assert out["scores"].shape == (1, 10, 16, 16)


@pytest.mark.parametrize("size", [16, 48, 512])
def test_bad_image_size_is_rejected(size: int) -> None:
    with pytest.raises(ValueError, match="image_size"):
        create_model("imm", image_size=size)


def test_unknown_model_names_the_registered_ones() -> None:
    with pytest.raises(KeyError, match="imm"):
        MODELS.create("no-such-model")


class _SpikeScores(nn.Module):
    """A score head whose maps ignore the features: keypoint k of every image has one spike at
    ``spikes[k] = (row, col)`` of the 16×16 score map."""

    def __init__(self, spikes: list[tuple[int, int]], size: int = 16, value: float = 640.0
                 ) -> None:
        super().__init__()
        maps = torch.zeros(len(spikes), size, size)
        for k, (row, col) in enumerate(spikes):
            maps[k, row, col] = value  # a mean over 16 cells: logit margin 40
        self.register_buffer("maps", maps)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.maps.expand(features.shape[0], -1, -1, -1)


def _imm(spikes: list[tuple[int, int]]) -> nn.Module:
    torch.manual_seed(0)
    model = create_model("imm", num_keypoints=len(spikes), image_size=32, width=8,
                         render_channels=32, min_render_channels=8).eval()
    model.score_head = _SpikeScores(spikes)
    return model


def test_imm_spike_score_maps_give_their_keypoints_and_heatmap_peaks() -> None:
    # (row, col) with row != col: a (y, x) swap or an off-by-one pixel centre is caught
    spikes = [(2, 11), (13, 5), (0, 15), (7, 7)]
    model = _imm(spikes)
    centres = pixel_centers(16)
    expected = torch.tensor([[centres[c], centres[r]] for r, c in spikes])
    with torch.no_grad():
        out = model(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    assert torch.allclose(out["keypoints"], expected.expand(2, -1, -1), atol=1e-5)
    # each rendered Gaussian peaks (value 1) on its spike's cell
    flat = out["heatmaps"].flatten(2)
    peaks = flat.argmax(dim=-1)
    assert peaks.tolist() == [[r * 16 + c for r, c in spikes]] * 2
    assert torch.allclose(flat.max(dim=-1).values, torch.ones(2, 4), atol=1e-5)


def test_imm_target_reaches_the_renderer_only_through_its_keypoints() -> None:
    model = _imm([(3, 12), (10, 4)])
    moved = _imm([(3, 12), (10, 9)])  # same weights, keypoint 1 moved 5 cells to the right
    source = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    t1 = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    t2 = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a = model(source, t1)["reconstruction"]
        b = model(source, t2)["reconstruction"]  # another target, the same keypoints
        c = moved(source, t1)["reconstruction"]  # the same target, a moved keypoint
        d = model(source.flip(-1), t1)["reconstruction"]  # another source (appearance)
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3
    assert (a - d).abs().max() > 1e-3


def test_detector_context_layers_reach_across_the_score_map() -> None:
    from landmarks.models.imm import ImmModel
    from landmarks.models.layers import DilatedContext

    torch.manual_seed(0)
    x = torch.randn(1, 8, 16, 16)
    moved = x.clone()
    moved[0, :, 0, 0] += 3.0  # a change in one corner
    for layers, reaches in ((0, False), (1, False), (3, True)):
        context = DilatedContext(8, layers).eval()
        with torch.no_grad():
            changed = (context(moved) - context(x)).abs()
        # dilations 2, 4, 8 reach 14 cells: from one corner to the other of a 16-cell map
        assert bool(changed[0, :, 14, 14].max() > 0) is reaches, layers
    assert not list(DilatedContext(4, 0).parameters())
    with pytest.raises(ValueError, match="context layers"):
        DilatedContext(4, -1)
    sizes = dict(num_keypoints=3, image_size=32, width=8, heatmap_size=8, render_channels=16,
                 min_render_channels=8)
    # the default adds no parameter: checkpoints of the paper's head load as before
    assert not any("landmark_context" in k for k in ImmModel(**sizes).state_dict())
    model = ImmModel(**sizes, context_layers=2)
    out = model(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    out["reconstruction"].sum().backward()
    assert all(p.grad is not None for p in model.landmark_context.parameters())
    assert model.landmark_context in model.detector_modules()


def test_vgg19_detector_has_a_frozen_pretrained_trunk() -> None:
    from landmarks.models.imm import ImmModel
    from landmarks.nets import VGG19Features

    model = ImmModel(num_keypoints=3, image_size=32, width=8, heatmap_size=8,
                     render_channels=16, min_render_channels=8, detector="vgg19")
    assert model.needs_pretrained_weights
    trunk = model.landmark_encoder.trunk
    assert trunk.layers == ["conv3_4"]  # 32 / 8 = stride 4
    reference = VGG19Features(["conv3_4"])
    torch.nn.init.constant_(reference.features[0].weight, 0.01)
    # torchvision's layout: features.N.weight / bias
    model.load_pretrained({k: v for k, v in reference.state_dict().items()
                           if k.startswith("features.")})
    assert torch.equal(trunk.features[0].weight, reference.features[0].weight)
    out = model(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    out["reconstruction"].sum().backward()
    assert all(p.grad is None for p in trunk.parameters())  # never trains
    assert model.score_head.weight.grad is not None
    assert not ImmModel(image_size=32, width=8, heatmap_size=8,
                        render_channels=16, min_render_channels=8).needs_pretrained_weights
    with pytest.raises(ValueError, match="'paper' or 'vgg19'"):
        ImmModel(image_size=32, heatmap_size=8, detector="resnet")
