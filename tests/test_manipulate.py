"""Moving landmarks and re-rendering (``render`` of the IMM and zhang models, ``landmarks
manipulate``): the moved landmark's rendered Gaussian peaks at its new place, the others stay,
a zero move reproduces the reconstruction; bad moves, a model that cannot render and an
existing output are clear errors."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from landmarks.cli import main
from landmarks.commands.manipulate import ManipulateError, manipulate, move_keypoints, parse_moves
from landmarks.config import load_config, to_dict
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.engine.trainer import build_model
from landmarks.geometry.coords import normalized_to_pixels
from landmarks.models import RendererError
from landmarks.models.zhang import ZhangModel
from landmarks.registry import create_model

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(num_keypoints=4, image_size=32, width=8, render_channels=32, min_render_channels=8)


def _model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, **SMALL).eval()


def test_parse_moves() -> None:
    assert parse_moves(["3=10,-4", "0=-2.5,1e1"]) == {3: (10.0, -4.0), 0: (-2.5, 10.0)}
    for bad, match in (("3:10,4", "expected K=DX,DY"), ("a=1,2", "expected K=DX,DY"),
                       ("3=1", "expected K=DX,DY"), ("1=nan,2", "finite")):
        with pytest.raises(ManipulateError, match=match):
            parse_moves([bad])
    with pytest.raises(ManipulateError, match="moved twice"):
        parse_moves(["1=1,1", "1=2,2"])
    with pytest.raises(ManipulateError, match="K=4 landmarks, numbered 0..3"):
        parse_moves(["4=1,1"], num_keypoints=4)
    with pytest.raises(ManipulateError, match="no --move"):
        parse_moves([])


def test_move_keypoints_in_pixels() -> None:
    kp = torch.zeros(1, 3, 2)
    moved = move_keypoints(kp, {1: (8.0, -4.0)}, side=64)
    assert torch.allclose(moved[0, 1], torch.tensor([0.25, -0.125]))
    assert torch.equal(moved[0, [0, 2]], kp[0, [0, 2]])


@pytest.mark.parametrize("name", ["imm", "zhang"])
def test_moved_landmark_gaussian_peaks_at_new_place(name: str) -> None:
    model = _model(name)
    image = torch.rand(3, 32, 32)
    moves = {1: (8.0, -6.0)}  # pixels of the 32-px input
    out = manipulate(model, image, moves)
    kp, moved = out["keypoints"], out["moved_keypoints"]
    assert torch.allclose(moved[1] - kp[1], torch.tensor([0.5, -0.375]))
    assert torch.equal(moved[[0, 2, 3]], kp[[0, 2, 3]])
    maps = out["rendered_maps"]  # (K, 16, 16)
    h = maps.shape[-1]
    row, col = divmod(int(maps[1].argmax()), h)
    want = normalized_to_pixels(moved[1].double(), (h, h)).round().long().tolist()
    assert [col, row] == want
    # the other landmarks' maps are where they were
    with torch.no_grad():
        still = model.render(image[None], kp[None])["rendered_maps"][0]
    assert torch.allclose(maps[[0, 2, 3]], still[[0, 2, 3]], atol=1e-6)
    assert not torch.allclose(maps[1], still[1])
    # the manipulated image differs from the reconstruction, and a zero move reproduces it
    assert (out["manipulated"] - out["reconstruction"]).abs().max() > 1e-4
    zero = manipulate(model, image, {1: (0.0, 0.0)})
    assert torch.allclose(zero["manipulated"], zero["reconstruction"], atol=1e-5)


def test_a_model_that_cannot_render_is_named() -> None:
    class Detector(torch.nn.Module):
        def detect(self, x):
            return {"keypoints": torch.zeros(x.shape[0], 2, 2)}

    with pytest.raises(RendererError, match=r"'Detector' cannot render.*manipulate"):
        manipulate(Detector(), torch.rand(3, 32, 32), {0: (1.0, 1.0)})
    with pytest.raises(ManipulateError, match=r"landmark\(s\) \[5\] do not exist"):
        manipulate(_model("zhang"), torch.rand(3, 32, 32), {5: (1.0, 1.0)})


def _checkpoint(tmp_path: Path, name: str) -> Path:
    cfg = load_config(ROOT / "configs" / "smoke.yaml", [f"model.name={name}"])
    torch.manual_seed(0)
    model = build_model(cfg)
    return save_checkpoint(tmp_path / f"{name}.pt", {"model": model.state_dict(), "step": 0,
                                                     "config": to_dict(cfg)})


def test_cli_writes_three_panels_and_never_overwrites(tmp_path: Path, capsys) -> None:
    ckpt = _checkpoint(tmp_path, "zhang")
    image = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)).save(image)
    out = tmp_path / "moved.png"
    args = ["manipulate", str(ckpt), str(image), "--move", "1=4,-3", "2=0,5", "--out", str(out),
            "--device", "cpu"]
    assert main(args) == 0
    with Image.open(out) as im:
        assert im.size == (3 * 256 + 8, 256)
    before = out.read_bytes()
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main([*args, "--force"]) == 0
    assert main(["manipulate", str(ckpt), str(image), "--move", "7=1,1", "--out",
                 str(tmp_path / "x.png"), "--device", "cpu"]) == 2
    assert "landmark 7 does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cli_names_a_model_that_cannot_render(tmp_path: Path, capsys,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt = _checkpoint(tmp_path, "zhang")
    image = tmp_path / "face.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(image)
    monkeypatch.delattr(ZhangModel, "render")
    out = tmp_path / "m.png"
    assert main(["manipulate", str(ckpt), str(image), "--move", "0=1,1", "--out", str(out),
                 "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "model 'zhang' cannot render" in err and str(ckpt) in err
    assert not out.exists()
