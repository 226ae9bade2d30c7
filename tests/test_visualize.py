"""Tests for landmarks.visualize: colours, keypoint overlays, images, videos, quadruplets."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from landmarks.visualize import (
    VideoOverlayWriter,
    colorize_heatmaps,
    draw_keypoints,
    keypoint_colors,
    normalized_to_pixel_np,
    quadruplet_grid,
    quadruplet_layout,
    save_image,
    save_quadruplets,
    tensor_to_uint8,
    write_overlay_video,
)


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


# --------------------------------------------------------------------------- colours


@pytest.mark.parametrize("k", [4, 10, 30, 50])
def test_keypoint_colors_shape_distinct_deterministic(k: int) -> None:
    c = keypoint_colors(k)
    assert c.shape == (k, 3) and c.dtype == np.uint8
    assert len(np.unique(c, axis=0)) == k
    np.testing.assert_array_equal(c, keypoint_colors(k))
    # Keypoint i has the same colour whatever k is.
    np.testing.assert_array_equal(keypoint_colors(60)[:k], c)


def test_keypoint_colors_well_separated_and_writable() -> None:
    c = keypoint_colors(50).astype(np.float64)
    d = np.linalg.norm(c[:, None] - c[None], axis=-1) + np.eye(50) * 1e9
    assert d.min() > 20.0
    out = keypoint_colors(3)
    out[0] = 0  # a copy: the cached palette is not changed
    assert keypoint_colors(3)[0].any()
    assert keypoint_colors(0).shape == (0, 3)


# --------------------------------------------------------------------------- overlays


def test_tensor_to_uint8_clamps_and_transposes() -> None:
    t = torch.zeros(3, 2, 4)
    t[0, 0, 0] = 2.0
    t[1, 1, 3] = -1.0
    t[2, 1, 2] = 0.5
    a = tensor_to_uint8(t)
    assert a.shape == (2, 4, 3) and a.dtype == np.uint8
    assert a[0, 0, 0] == 255 and a[1, 3, 1] == 0 and a[1, 2, 2] == 128


@pytest.mark.parametrize("size", [32, 640])
def test_draw_keypoints_colour_at_keypoint_far_pixel_unchanged(size: int) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    before = img.copy()
    kp = np.array([[5.0, 7.0], [size - 6.0, size / 2.0]])
    out = draw_keypoints(img, kp)
    np.testing.assert_array_equal(img, before)  # input untouched
    assert out is not img and out.shape == img.shape and out.dtype == np.uint8
    colors = keypoint_colors(2)
    np.testing.assert_array_equal(out[7, 5], colors[0])  # [row y, col x]
    np.testing.assert_array_equal(out[size // 2, size - 6], colors[1])
    np.testing.assert_array_equal(out[size - 1, 0], img[size - 1, 0])  # far corner


def test_draw_keypoints_custom_colors_radius_labels_nan() -> None:
    img = np.zeros((64, 64, 3), dtype=np.uint8)
    kp = np.array([[10.0, 10.0], [np.nan, 3.0], [63.0, 0.0]])
    out = draw_keypoints(img, kp, colors=np.array([[1.0, 0, 0]] * 3), radius=4, labels=True)
    np.testing.assert_array_equal(out[10, 10], [255, 0, 0])
    np.testing.assert_array_equal(out[10, 13], [255, 0, 0])  # within radius 4
    np.testing.assert_array_equal(out[10, 3], [0, 0, 0])  # left of the dot (labels go right)
    np.testing.assert_array_equal(out[22, 10], [0, 0, 0])  # below it
    assert out[:20, 16:30].max() > 0  # the label "0" up and right of the dot
    assert out[40:, :30].max() == 0  # nothing drawn far from the two finite points


def test_save_image_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    p = save_image(arr, tmp_path / "a" / "b" / "img.png")
    assert p.exists()
    np.testing.assert_array_equal(np.asarray(Image.open(p)), arr)
    smooth = np.repeat(np.linspace(0, 255, 23, dtype=np.uint8)[None, :, None], 17, 0)
    smooth = np.repeat(smooth, 3, 2)
    pj = save_image(smooth, tmp_path / "img.jpg")
    with Image.open(pj) as im:
        assert im.format == "JPEG"
        back = np.asarray(im.convert("RGB")).astype(int)
    assert back.shape == smooth.shape and np.abs(back - smooth).max() < 16


# --------------------------------------------------------------------------- video


@pytest.mark.parametrize("hw", [(32, 48), (33, 47)])
def test_video_writer_frames_and_size(tmp_path: Path, hw: tuple[int, int]) -> None:
    h, w = hw
    n = 5
    path = tmp_path / "sub" / "v.mp4"
    with VideoOverlayWriter(path, fps=10) as writer:
        for i in range(n):
            frame = np.full((h, w, 3), 40 * i, dtype=np.uint8)
            writer.write(frame)
    assert writer.encoded_size_hw == (h + h % 2, w + w % 2)
    frames = _decode(path)
    assert len(frames) == n
    assert frames[0].shape == (h + h % 2, w + w % 2, 3)
    # Flat grey frames survive h264/yuv420p closely.
    assert abs(int(frames[3][h // 2, w // 2].mean()) - 120) < 8


def test_video_writer_resizes_to_size_hw(tmp_path: Path) -> None:
    path = tmp_path / "r.mp4"
    with VideoOverlayWriter(path, fps=12.5, size_hw=(40, 60)) as writer:
        writer.write(np.zeros((20, 30, 3), dtype=np.uint8))
        writer.write(np.zeros((40, 60, 3), dtype=np.uint8))
    frames = _decode(path)
    assert len(frames) == 2 and frames[0].shape == (40, 60, 3)


def test_write_overlay_video(tmp_path: Path) -> None:
    frames = [np.full((48, 64, 3), 128, dtype=np.uint8) for _ in range(3)]
    kps = [np.array([[10.0 + 5 * i, 20.0], [40.0, 30.0]]) for i in range(3)]
    p = write_overlay_video(frames, kps, tmp_path / "o.mp4", fps=5)
    decoded = _decode(p)
    assert len(decoded) == 3
    # The first keypoint's colour (tab10 blue) is visible around its position.
    px = decoded[0][20, 10].astype(int)
    assert np.abs(px - keypoint_colors(2)[0].astype(int)).max() < 40


# --------------------------------------------------------------------------- quadruplets


def test_normalized_to_pixel_np() -> None:
    h, w = 32, 48
    kp = np.array([[0.0, 0.0], [-1 + 1 / w, -1 + 1 / h], [1 - 1 / w, 1 - 1 / h]])
    px = normalized_to_pixel_np(kp, h, w)
    np.testing.assert_allclose(px[0], [(w - 1) / 2, (h - 1) / 2])
    np.testing.assert_allclose(px[1], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(px[2], [w - 1, h - 1])
    np.testing.assert_allclose(normalized_to_pixel_np(torch.tensor(kp)[None], h, w)[0], px)


def _batch(b: int = 3, k: int = 4, s: int = 32):
    g = torch.Generator().manual_seed(0)
    src = torch.rand(b, 3, s, s, generator=g)
    tgt = torch.rand(b, 3, s, s, generator=g)
    rec = torch.randn(b, 3, s, s, generator=g)  # out of [0, 1]: must be clamped
    kp = torch.rand(b, k, 2, generator=g) * 1.6 - 0.8
    hm = torch.rand(b, k, 16, 16, generator=g)
    return src, tgt, rec, kp, hm


@pytest.mark.parametrize("with_heatmaps", [False, True])
def test_quadruplet_grid_shape(with_heatmaps: bool) -> None:
    src, tgt, rec, kp, hm = _batch()
    grid = quadruplet_grid(src, tgt, rec, kp, heatmaps=hm if with_heatmaps else None)
    layout = quadruplet_layout(32, 32, 3, with_heatmaps, upscale_to=128)
    assert layout.cols == (5 if with_heatmaps else 4)
    assert layout.cell_h == layout.cell_w == 128
    assert grid.shape == (layout.height, layout.width, 3) and grid.dtype == np.uint8
    assert grid.shape[1] == layout.cols * 128 + (layout.cols + 1) * layout.sep
    # Separators are white; the header has dark title text.
    assert (grid[:, : layout.sep] == 255).all()
    assert grid[: layout.header_h].min() < 100


def test_quadruplet_grid_max_rows_and_no_upscale() -> None:
    src, tgt, rec, kp, hm = _batch(b=5)
    grid = quadruplet_grid(src, tgt, rec, kp, heatmaps=hm, max_rows=2)
    assert grid.shape[0] == quadruplet_layout(32, 32, 2, True).height
    big = quadruplet_grid(src, tgt, rec, kp, max_rows=1, upscale_to=16)  # never shrinks
    assert quadruplet_layout(32, 32, 1, False, upscale_to=16).cell_h == 32
    assert big.shape[0] == quadruplet_layout(32, 32, 1, False, upscale_to=16).height


def test_quadruplet_cells_content() -> None:
    b, k, s = 2, 2, 32
    src = torch.zeros(b, 3, s, s)
    tgt = torch.zeros(b, 3, s, s)
    tgt[:, 1] = 0.5
    rec = torch.full((b, 3, s, s), 3.0)  # clamps to white
    kp = torch.tensor([[[0.0, 0.0], [-1 + 1 / s, -1 + 1 / s]]] * b)
    hm = torch.zeros(b, k, 8, 8)
    hm[:, 0, 3:5, 3:5] = 1.0
    grid = quadruplet_grid(src, tgt, rec, kp, heatmaps=hm)
    lay = quadruplet_layout(s, s, b, True)
    colors = keypoint_colors(k)

    def cell(row: int, col: int) -> np.ndarray:
        top, left = lay.cell_origin(row, col)
        return grid[top : top + lay.cell_h, left : left + lay.cell_w]

    assert (cell(1, 0) == 0).all()
    assert (cell(1, 1) == [0, 128, 0]).all()
    assert (cell(1, 2) == 255).all()
    kp_cell = cell(1, 3)
    c = lay.cell_h // 2
    # (0, 0) normalised is the centre of the cell: the four central pixels carry the colour,
    # and the dot is symmetric about the centre.
    for y, x in [(c - 1, c - 1), (c - 1, c), (c, c - 1), (c, c)]:
        np.testing.assert_array_equal(kp_cell[y, x], colors[0])
    mask = (kp_cell == colors[0]).all(-1)
    ys, xs = np.nonzero(mask)
    assert (ys.min() + ys.max()) / 2 == pytest.approx((lay.cell_h - 1) / 2)
    assert (xs.min() + xs.max()) / 2 == pytest.approx((lay.cell_w - 1) / 2)
    # (-1 + 1/W, -1 + 1/H) of the 32 px image is the centre of its top-left pixel, which
    # upscaled ×4 is the centre of the cell's top-left 4×4 block.
    np.testing.assert_array_equal(kp_cell[1, 1], colors[1])
    # Heatmap column: keypoint 0's colour in the middle, black in the corner.
    heat = cell(1, 4)
    np.testing.assert_allclose(heat[c, c].astype(int), colors[0].astype(int), atol=2)
    assert (heat[0, 0] == 0).all()


def test_colorize_heatmaps_blend() -> None:
    hm = torch.zeros(2, 4, 4)
    hm[0, 0, 0] = 5.0  # any scale: each map is normalised by its peak
    hm[1, 3, 3] = 0.01
    out = colorize_heatmaps(hm, (4, 4))
    c = keypoint_colors(2)
    np.testing.assert_array_equal(out[0, 0], c[0])
    np.testing.assert_array_equal(out[3, 3], c[1])
    assert (out[1:3, 1:3] == 0).all()


def test_save_quadruplets(tmp_path: Path) -> None:
    src, tgt, rec, kp, hm = _batch(b=2)
    p = save_quadruplets(tmp_path / "q" / "quad.png", src, tgt, rec, kp, heatmaps=hm)
    with Image.open(p) as im:
        assert im.size[::-1] == quadruplet_grid(src, tgt, rec, kp, heatmaps=hm).shape[:2]


def test_quadruplet_grid_rejects_bad_shapes() -> None:
    src, tgt, rec, kp, hm = _batch()
    with pytest.raises(ValueError):
        quadruplet_grid(src, tgt[:2], rec, kp)
    with pytest.raises(ValueError):
        quadruplet_grid(src, tgt, rec, kp[..., :1])
    with pytest.raises(ValueError):
        quadruplet_grid(src, tgt, rec, kp, heatmaps=hm[:, :2])
