"""Style/geometry swap grids (landmarks.commands.swap) with a tiny random model. Fast; no data
needed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from landmarks.commands.swap import swap_from_files, swap_grid, swap_reconstructions
from landmarks.config import Config, to_dict
from landmarks.engine.checkpoint import CheckpointError, save_checkpoint
from landmarks.inference import Detector, InputError
from landmarks.models.imm import ImmModel

S = 32
TINY = dict(num_keypoints=4, image_size=S, width=8, render_channels=16, min_render_channels=8)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny convolutions: one thread is fastest, and far faster on a busy shared CPU (two
    OpenMP threads on two contended cores ran these forward passes ~50x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model() -> ImmModel:
    torch.manual_seed(0)
    m = ImmModel(**TINY)
    m.train()
    return m


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 3, S, S, generator=torch.Generator().manual_seed(seed))


def test_reconstructions_pair_each_geometry_with_each_style(model):
    style, geometry = _images(3, 1), _images(2, 2)
    out = swap_reconstructions(model, style, geometry, batch_size=4)  # batches across pairs
    assert out["reconstruction"].shape == (2, 3, 3, S, S)
    assert out["style_keypoints"].shape == (3, 4, 2)
    assert out["geometry_keypoints"].shape == (2, 4, 2)
    assert model.training  # the caller's mode is restored
    model.eval()
    try:
        with torch.no_grad():
            for g in range(2):
                for a in range(3):
                    want = model(style[a:a + 1], geometry[g:g + 1])["reconstruction"][0]
                    assert torch.allclose(out["reconstruction"][g, a], want, atol=1e-5)
            kp = model.detect(geometry)["keypoints"]
    finally:
        model.train()
    assert torch.allclose(out["geometry_keypoints"], kp, atol=1e-6)


def test_grid_layout(model):
    style, geometry = _images(3, 3), _images(2, 4)
    grid = swap_grid(model, style, geometry, upscale_to=64, show_keypoints=False)
    cell = 64
    assert grid.shape == ((2 + 1) * cell + 2 * 2 + 10, (3 + 1) * cell + 2 * 3 + 10, 3)
    assert grid.dtype == np.uint8
    # first row: the style images (column 1 + a), first column: the geometry images
    big = torch.nn.functional.interpolate(style, size=(cell, cell), mode="bilinear",
                                          align_corners=False)
    top, left = 2, 2 + cell + 8 + 1 * (cell + 2)  # style image 1
    want = (big[1].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(grid[top:top + cell, left:left + cell], want)
    # the white gap between the header row and the reconstructions
    assert (grid[2 + cell:2 + cell + 8] == 255).all()
    with_kp = swap_grid(model, style, geometry, upscale_to=64)
    assert with_kp.shape == grid.shape and not np.array_equal(with_kp, grid)


def test_shape_errors(model):
    with pytest.raises(ValueError, match="style images: expected a \\(N, 3, S, S\\)"):
        swap_grid(model, torch.rand(3, S, S), _images(1, 0))
    with pytest.raises(ValueError, match="geometry images: expected 32×32"):
        swap_grid(model, _images(1, 0), torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="style images: none given"):
        swap_grid(model, torch.rand(0, 3, S, S), _images(1, 0))


@pytest.fixture()
def files(tmp_path, model) -> dict[str, object]:
    cfg = Config()
    for k, v in TINY.items():
        setattr(cfg.model, k, v)
    ckpt = save_checkpoint(tmp_path / "run" / "step.pt",
                           {"model": model.state_dict(), "step": 1, "config": to_dict(cfg)})
    rng = np.random.default_rng(0)
    paths = []
    for i in range(4):  # larger than S and not square: loaded as in training
        p = tmp_path / "img" / f"{i}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return {"ckpt": ckpt, "paths": paths, "tmp": tmp_path}


def test_swap_from_files_writes_and_refuses_to_overwrite(files):
    ckpt, paths, tmp = files["ckpt"], files["paths"], files["tmp"]
    out = tmp / "out" / "grid.png"
    assert swap_from_files(ckpt, paths[:3], paths[3:], out) == out
    with Image.open(out) as im:
        assert im.size == (4 * 96 + 2 * 3 + 10, 2 * 96 + 2 * 1 + 10)
    before = out.read_bytes()
    with pytest.raises(FileExistsError, match=rf"{out} already exists.*--force"):
        swap_from_files(ckpt, paths[:1], paths[1:2], out)
    assert out.read_bytes() == before
    swap_from_files(ckpt, paths[:1], paths[1:2], out, force=True)
    assert out.read_bytes() != before
    assert sorted(p.name for p in out.parent.iterdir()) == ["grid.png"]  # no temporary left
    # a folder of images works too (sorted); Detector input is accepted by swap_grid
    detector = Detector.from_checkpoint(ckpt)
    assert swap_grid(detector, _images(2, 5), _images(1, 6), upscale_to=S).shape == (
        2 * S + 2 + 10, 3 * S + 4 + 10, 3)
    swap_from_files(ckpt, [paths[0].parent], paths[:1], tmp / "folder.png")


def test_bad_paths_are_named(files):
    ckpt, paths, tmp = files["ckpt"], files["paths"], files["tmp"]
    missing = tmp / "nope.png"
    with pytest.raises(InputError, match=rf"{missing} does not exist"):
        swap_from_files(ckpt, [missing], paths[:1], tmp / "a.png")
    text = tmp / "notes.txt"
    text.write_text("hi")
    with pytest.raises(InputError, match=rf"{text}: unknown file type"):
        swap_from_files(ckpt, paths[:1], [text], tmp / "a.png")
    broken = tmp / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(InputError, match=rf"geometry image {broken} cannot be read"):
        swap_from_files(ckpt, paths[:1], [broken], tmp / "a.png")
    with pytest.raises(CheckpointError, match=rf"{tmp / 'none.pt'} does not exist"):
        swap_from_files(tmp / "none.pt", paths[:1], paths[:1], tmp / "a.png")
    with pytest.raises(InputError, match="no style images given"):
        swap_from_files(ckpt, [], paths[:1], tmp / "a.png")
    with pytest.raises(ValueError, match="image file name"):
        swap_from_files(ckpt, paths[:1], paths[:1], tmp / "a.txt")
    assert not (tmp / "a.png").exists()

