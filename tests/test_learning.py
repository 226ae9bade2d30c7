"""Does the method learn landmarks? A synthetic image family whose true landmark positions are
known: four coloured blobs on a template, moved by random affine + thin-plate-spline warps.
The real model, objective and trainer train for a few hundred steps on TPS pairs of these
images; the learned points, linearly regressed (the paper's protocol), must find the true blob
centres on held-out images far better than predicting their mean position.

The control test runs the same protocol on a detector that never trained (its initial weights)
and checks that it does *not* pass: the assertion can fail, and does for a detector that has
not learned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from landmarks.config import load_config, to_dict
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.engine.trainer import build_model, train
from landmarks.evaluation import fit_linear_regressor
from landmarks.geometry import TPSSpread, pixel_centers, sample_tps_warp, warp_images, warp_points
from landmarks.inference import Detector

SIZE = 32
#: blob centres of the template (normalised x, y) and their colours
CENTRES = torch.tensor([[-0.45, -0.35], [0.45, -0.35], [0.0, 0.15], [-0.1, 0.55]])
COLOURS = torch.tensor([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.3, 0.4, 1.0], [1.0, 1.0, 0.2]])
SPREAD = TPSSpread(rotation_deg=20.0, scale=0.12, translation=0.2, tps=(0.001, 0.005))
#: the learned detector must be at least this many times better than the mean position
MARGIN = 2.5


def template(size: int = 4 * SIZE) -> torch.Tensor:
    """(1,3,size,size): dark background, four Gaussian blobs of distinct colours."""
    c = pixel_centers(size)
    y, x = c.view(-1, 1), c.view(1, -1)
    img = torch.full((3, size, size), 0.1)
    for (cx, cy), col in zip(CENTRES, COLOURS, strict=True):
        blob = torch.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 0.09**2))
        img = img * (1 - blob) + col.view(3, 1, 1) * blob
    return img.unsqueeze(0)


def make_family(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` warped templates as uint8 (n,SIZE,SIZE,3) and their true centres (n,4,2)."""
    g = torch.Generator().manual_seed(seed)
    warp = sample_tps_warp(n, SPREAD, generator=g)
    big = warp_images(template().expand(n, -1, -1, -1), warp)
    small = torch.nn.functional.interpolate(big, size=(SIZE, SIZE), mode="area")
    points = warp_points(warp, CENTRES.expand(n, -1, -1).contiguous())
    images = (small.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    return images, points.numpy()


def regressed_error(detector: Detector, train: tuple, test: tuple) -> tuple[float, float]:
    """(mean point error of the linearly regressed keypoints, of the mean training position),
    on the test images, in normalised units."""
    kp_train = detector.detect_frames(list(train[0]))
    kp_test = detector.detect_frames(list(test[0]))
    reg = fit_linear_regressor(kp_train, train[1])
    pred = reg.predict(kp_test)
    err = np.linalg.norm(pred - test[1], axis=-1).mean()
    floor = np.linalg.norm(train[1].mean(axis=0) - test[1], axis=-1).mean()
    return float(err), float(floor)


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("blobs")
    train_set, test_set = make_family(192, seed=1), make_family(64, seed=2)
    for i, img in enumerate(train_set[0]):
        Image.fromarray(img).save(root / f"{i:04d}.png")
    return {"root": root, "train": train_set, "test": test_set}


def config(root: Path, *extra: str):
    return load_config(None, [
        f"data.root={root}", "data.kind=images", "data.num_workers=0",
        "model.num_keypoints=4", f"model.image_size={SIZE}", "model.width=8",
        "model.heatmap_size=8", "model.render_channels=32", "model.min_render_channels=8",
        "loss.name=l2", "loss.terms={equivariance: 1, separation: 0.1}",
        "model.softmax_scale=4", "optim.lr=3e-3", "optim.schedule=constant",
        "train.batch_size=16", "train.steps=150", "train.checkpoint_every=150",
        "train.log_every=50", "train.tensorboard=false", "train.progress=false",
        "train.threads=1", "train.device=cpu", *extra])


def test_learns_the_true_landmarks(family: dict, tmp_path: Path) -> None:
    result = train(config(family["root"]), tmp_path / "run")
    detector = Detector.from_checkpoint(result.last_checkpoint, device="cpu")
    err, floor = regressed_error(detector, family["train"], family["test"])
    assert err * MARGIN < floor, (f"learned points regress to {err:.3f} (normalised units), "
                                  f"the mean position to {floor:.3f}: nothing was learned")


def test_an_untrained_detector_fails_the_same_check(family: dict, tmp_path: Path) -> None:
    cfg = config(family["root"])
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "init.pt", {
        "model": build_model(cfg).state_dict(), "step": 0, "config": to_dict(cfg)})
    err, floor = regressed_error(Detector.from_checkpoint(ckpt, device="cpu"),
                                 family["train"], family["test"])
    assert not err * MARGIN < floor, f"an untrained detector passed ({err:.3f} vs {floor:.3f})"

