"""Every registered model: shapes, backward, finiteness; the paper's architecture sizes."""

import pytest
import torch

from landmarks.registry import MODELS, create_model, list_models


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("size", [32, 64])
def test_registered_model_shapes_backward_finite(name: str, size: int) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_keypoints=5, image_size=size, width=8, render_channels=32,
                         min_render_channels=8)
    src, tgt = torch.rand(2, 3, size, size), torch.rand(2, 3, size, size)
    out = model(src, tgt)
    assert out["reconstruction"].shape == (2, 3, size, size)
    assert out["keypoints"].shape == (2, 5, 2)
    assert out["heatmaps"].shape == (2, 5, 16, 16)
    assert out["keypoints"].abs().max() <= 1.0
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
