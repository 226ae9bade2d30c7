"""On a CUDA device (marker ``gpu``, not in the default tier: run ``pytest -m gpu``): one
training step of the smoke config with bf16 autocast and channels_last, then detection.
Without a CUDA device every test here is skipped, with the reason."""

from pathlib import Path

import pytest
import torch

from fixtures import write_image_folder
from landmarks.config import load_config, to_dict
from landmarks.engine.checkpoint import latest_checkpoint, save_checkpoint
from landmarks.engine.trainer import build_model, train
from landmarks.models.imm import ImmModel

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA device (torch.cuda.is_available() is False)"),
]


def test_one_bf16_channels_last_step_then_detect(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from landmarks.inference import Detector

    images = tmp_path / "images"
    write_image_folder(images, 8, 40)
    cfg = load_config(SMOKE, [f"data.root={images}", "train.device=cuda", "train.amp=true",
                              "train.channels_last=true", "train.steps=1",
                              "train.checkpoint_every=1", "train.log_every=1"])
    # start from known weights (--init), so that "the step changed them" is checkable
    torch.manual_seed(0)
    start = {k: v.clone() for k, v in build_model(cfg).state_dict().items()}
    init = save_checkpoint(tmp_path / "init.pt", {"model": start, "step": 0,
                                                   "config": to_dict(cfg)})

    seen: list[dict] = []
    real_forward = ImmModel.forward

    def spy(self, source, target):  # noqa: ANN001, ANN202
        out = real_forward(self, source, target)
        seen.append({"autocast": torch.is_autocast_enabled("cuda"),
                     "source_channels_last": source.is_contiguous(
                         memory_format=torch.channels_last),
                     "weight_channels_last": (  # the 7×7 stem conv: (C, 3, 7, 7)
                         self.landmark_encoder.layers[0][0].weight.is_contiguous(
                             memory_format=torch.channels_last)),
                     "device": source.device.type,
                     "dtypes": {k: v.dtype for k, v in out.items()},
                     "shapes": {k: tuple(v.shape) for k, v in out.items()}})
        return out

    monkeypatch.setattr(ImmModel, "forward", spy)
    result = train(cfg, tmp_path / "run", init=init)

    assert result.step == 1 and len(seen) == 1
    step = seen[0]
    assert step["device"] == "cuda" and step["autocast"]
    assert step["source_channels_last"] and step["weight_channels_last"]
    b, k, s = cfg.train.batch_size, cfg.model.num_keypoints, cfg.model.image_size
    assert step["shapes"]["reconstruction"] == (b, 3, s, s)
    assert step["shapes"]["keypoints"] == (b, k, 2)
    assert step["shapes"]["heatmaps"] == (b, k, 16, 16)
    assert step["dtypes"]["reconstruction"] == torch.bfloat16  # the renderer ran in bf16
    assert step["dtypes"]["keypoints"] == torch.float32  # coordinates are upcast
    assert torch.isfinite(torch.tensor(result.final_loss))
    assert result.history and all(torch.isfinite(torch.tensor(v)).item()
                                  for v in result.history[-1].values())

    trained = result.model.state_dict()
    assert all(v.device.type == "cuda" for v in trained.values())
    assert all(v.dtype == start[n].dtype for n, v in trained.items())  # master weights fp32
    # Adam's first step moves every parameter that got a gradient
    params = {n for n, _ in result.model.named_parameters()}
    unchanged = sorted(n for n in params if torch.equal(trained[n].cpu(), start[n]))
    assert not unchanged, unchanged
    assert all(torch.isfinite(v).all() for v in trained.values() if v.is_floating_point())

    # detection from the written checkpoint, on the device
    monkeypatch.setattr(ImmModel, "forward", real_forward)
    detector = Detector.from_checkpoint(latest_checkpoint(tmp_path / "run"), device="cuda")
    batch = torch.rand(3, 3, s, s)
    kp = detector.detect_tensor(batch)
    assert kp.shape == (3, k, 2) and kp.dtype == torch.float32 and kp.device.type == "cpu"
    assert torch.isfinite(kp).all() and kp.abs().max() <= 1.0
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
        det = detector.model.detect(
            batch.cuda().contiguous(memory_format=torch.channels_last))
    assert det["scores"].shape == (3, k, 16, 16) and det["scores"].dtype == torch.bfloat16
    assert det["keypoints"].dtype == torch.float32
    torch.testing.assert_close(det["keypoints"].cpu(), kp, atol=0.05, rtol=0)
