"""Unit tests of the geometry core: coordinates, spatial softmax / rendering, TPS warps, pairs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from landmarks.geometry import (
    SOURCE_SPREAD,
    TARGET_SPREAD,
    TPSSpread,
    TPSWarp,
    border_mask,
    control_point_grid,
    coordinate_grid,
    identity_tps_warp,
    normalized_to_pixels,
    pixel_centers,
    pixels_to_normalized,
    render_gaussian_heatmaps,
    sample_tps_pair,
    sample_tps_warp,
    scaled_mask_size,
    spatial_softmax_keypoints,
    tps_kernel,
    tps_sampling_grid,
    tps_transform_points,
    warp_images,
    warp_points,
)
from landmarks.geometry.warps import _tps_value_and_jacobian

SPREADS = {"target": TARGET_SPREAD, "source": SOURCE_SPREAD}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------
# Coordinates
# ------------------------------------------------------------------------------------------


def test_pixel_centers_convention() -> None:
    torch.testing.assert_close(pixel_centers(4), torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    for n in (1, 7, 128):
        c = pixel_centers(n, dtype=torch.float64)
        assert c[0].item() == pytest.approx(-1 + 1 / n)
        assert c[-1].item() == pytest.approx(1 - 1 / n)
        torch.testing.assert_close(c, -c.flip(0))  # symmetric about 0


def test_pixels_normalized_round_trip_and_axes() -> None:
    h, w = 10, 20  # non-square: x uses W, y uses H
    corner = torch.tensor([[-1 + 1 / w, -1 + 1 / h], [1.0, 1.0], [-1.0, -1.0]])
    expected = torch.tensor([[0.0, 0.0], [w - 0.5, h - 0.5], [-0.5, -0.5]])
    torch.testing.assert_close(normalized_to_pixels(corner, (h, w)), expected)
    pts = torch.rand(3, 5, 2, dtype=torch.float64) * 2 - 1
    back = pixels_to_normalized(normalized_to_pixels(pts, (h, w)), (h, w))
    torch.testing.assert_close(back, pts, atol=1e-12, rtol=0)
    px = torch.tensor([[3.0, 7.0]])
    torch.testing.assert_close(
        pixels_to_normalized(px, (h, w)), torch.tensor([[pixel_centers(w)[3], pixel_centers(h)[7]]])
    )
    with pytest.raises(TypeError):
        normalized_to_pixels([[0.0, 0.0]], (h, w))  # type: ignore[arg-type]


def test_coordinate_grid_is_identity_sampling_grid() -> None:
    h, w = 5, 8
    grid = coordinate_grid(h, w)
    assert grid.shape == (h, w, 2)
    torch.testing.assert_close(grid[2, :, 0], pixel_centers(w))
    torch.testing.assert_close(grid[:, 3, 1], pixel_centers(h))
    img = torch.rand(2, 3, h, w)
    out = F.grid_sample(img, grid.expand(2, h, w, 2), align_corners=False)
    torch.testing.assert_close(out, img, atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------------
# Heatmaps
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("h", "w", "i", "j"),
    [(16, 16, 0, 0), (16, 16, 15, 15), (16, 16, 0, 15), (12, 20, 5, 13), (12, 20, 11, 0)],
)
def test_softmax_of_one_hot_is_pixel_centre(h: int, w: int, i: int, j: int) -> None:
    scores = torch.zeros(2, 3, h, w)
    scores[:, :, i, j] = 1e4
    out = spatial_softmax_keypoints(scores)
    assert out.keypoints.shape == (2, 3, 2)
    assert out.prob_x.shape == (2, 3, w) and out.prob_y.shape == (2, 3, h)
    expected = torch.tensor([-1 + (2 * j + 1) / w, -1 + (2 * i + 1) / h])
    torch.testing.assert_close(out.keypoints, expected.expand(2, 3, 2), atol=1e-6, rtol=0)
    torch.testing.assert_close(out.prob_x.sum(-1), torch.ones(2, 3))


def test_softmax_is_separable_marginal() -> None:
    """Logits of the x marginal are the mean of the scores over rows (official code)."""
    scores = torch.randn(2, 4, 6, 9)
    out = spatial_softmax_keypoints(scores)
    px = torch.softmax(scores.mean(dim=2), dim=-1)
    torch.testing.assert_close(out.prob_x, px)
    torch.testing.assert_close(out.keypoints[..., 0], (px * pixel_centers(9)).sum(-1))


def test_render_values() -> None:
    h, w, sigma = 8, 10, 0.3
    kp = torch.tensor([[[pixel_centers(w)[4], pixel_centers(h)[2]]]])
    hm = render_gaussian_heatmaps(kp, (h, w), sigma)
    assert hm.shape == (1, 1, h, w)
    assert hm[0, 0, 2, 4].item() == pytest.approx(1.0)
    assert hm.argmax().item() == 2 * w + 4
    # one pixel to the right: distance 2 / w, no factor 2 in the exponent
    assert hm[0, 0, 2, 5].item() == pytest.approx(math.exp(-((2 / w) ** 2) / sigma**2))


def test_render_softmax_round_trip() -> None:
    g = _gen(0)
    kp = torch.rand(3, 5, 2, generator=g, dtype=torch.float64) - 0.5  # interior points
    hm = render_gaussian_heatmaps(kp, (64, 48), sigma=0.1)
    assert hm.dtype == torch.float64
    rec = spatial_softmax_keypoints(hm.log()).keypoints
    torch.testing.assert_close(rec, kp, atol=1e-3, rtol=0)


# ------------------------------------------------------------------------------------------
# TPS warps
# ------------------------------------------------------------------------------------------


def test_control_points_and_kernel() -> None:
    cp = control_point_grid(3)
    assert cp.shape == (9, 2)
    torch.testing.assert_close(cp[0], torch.tensor([-1.0, -1.0]))
    torch.testing.assert_close(cp[1], torch.tensor([0.0, -1.0]))  # x varies fastest
    pts = torch.tensor([[[-1.0, -1.0], [0.0, -1.0], [0.0, 0.0]]])
    k = tps_kernel(pts, cp)
    assert k.shape == (1, 3, 9)
    assert k[0, 0, 0].abs().item() < 1e-6  # U(0) = 0
    assert k[0, 0, 1].item() == pytest.approx(0.0, abs=1e-7)  # d2 = 1: 1 * log 1
    assert k[0, 2, 0].item() == pytest.approx(2 * math.log(2))  # d2 = 2


def test_identity_warp_leaves_image_unchanged() -> None:
    img = torch.rand(3, 2, 16, 24)
    warp = identity_tps_warp(3)
    assert warp.batch_size == 3 and warp.weights.shape == (3, 103, 2)
    torch.testing.assert_close(warp_images(img, warp), img, atol=1e-5, rtol=0)
    pts = torch.rand(3, 7, 2) * 2 - 1
    torch.testing.assert_close(warp_points(warp, pts), pts, atol=1e-6, rtol=0)


def test_zero_spread_is_identity() -> None:
    warp = sample_tps_warp(4, TPSSpread(), generator=_gen(1))
    torch.testing.assert_close(warp.weights, identity_tps_warp(4).weights)
    img = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(warp_images(img, warp), img, atol=1e-5, rtol=0)


def test_translation_semantics() -> None:
    """T maps output to input: a +2 px x-translation shifts content 2 px to the left."""
    h, w = 8, 16
    warp = identity_tps_warp(1)
    warp.weights[0, 100] = torch.tensor([2 * 2 / w, 0.0])  # 2 pixels in normalised units
    img = torch.rand(1, 1, h, w)
    out = warp_images(img, warp)
    torch.testing.assert_close(out[..., : w - 2], img[..., 2:], atol=1e-5, rtol=0)
    assert out[..., w - 2 :].abs().max().item() == 0.0  # zeros padding
    q = torch.tensor([[[0.3, -0.2]]])
    torch.testing.assert_close(warp_points(warp, q), q - torch.tensor([4 / w, 0.0]))


def test_sampling_grid_matches_point_transform() -> None:
    warp = sample_tps_warp(2, SOURCE_SPREAD, generator=_gen(2))
    grid = tps_sampling_grid(warp, 6, 9)
    pts = coordinate_grid(6, 9).reshape(1, -1, 2).expand(2, -1, -1)
    torch.testing.assert_close(grid.reshape(2, -1, 2), tps_transform_points(warp, pts))


def test_analytic_jacobian_matches_autograd() -> None:
    warp = sample_tps_warp(2, SOURCE_SPREAD, grid_points=5, generator=_gen(3))
    p = (torch.rand(2, 6, 2, generator=_gen(13)) * 2 - 1).requires_grad_(True)
    _, jac = _tps_value_and_jacobian(warp, p.detach())
    value = tps_transform_points(warp, p)
    for j in range(2):  # points are independent: the gradient of the sum gives dT_j / dp
        (row,) = torch.autograd.grad(value[..., j].sum(), p, retain_graph=True)
        torch.testing.assert_close(jac[..., j, :], row, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", list(SPREADS))
def test_warp_points_inverts_transform(name: str) -> None:
    b = 24
    warp = sample_tps_warp(b, SPREADS[name], generator=_gen(4))
    p0 = torch.rand(b, 32, 2, generator=_gen(5)) * 1.8 - 0.9
    q = tps_transform_points(warp, p0)
    p = warp_points(warp, q)
    # T(warp_points(q)) = q whenever q has a preimage
    assert (tps_transform_points(warp, p) - q).norm(dim=-1).max().item() < 1e-5
    # warp_points(T(p)) = p where T does not fold (the source spread folds for ~10% of warps)
    grid = coordinate_grid(24, 24).reshape(1, -1, 2).expand(b, -1, -1)
    _, jac = _tps_value_and_jacobian(warp, grid)
    injective = torch.linalg.det(jac).amin(dim=1) > 0
    assert injective.sum().item() >= b // 2
    assert (p - p0)[injective].norm(dim=-1).max().item() < 1e-4


def test_warped_point_lands_on_warped_blob() -> None:
    size, b = 64, 6
    ys, xs = torch.meshgrid(torch.arange(size * 1.0), torch.arange(size * 1.0), indexing="ij")
    q_px = torch.tensor(
        [[30.3, 25.7], [20.0, 41.5], [35.2, 33.9], [28.0, 28.0], [40.6, 22.1], [24.4, 36.8]]
    )
    d2 = (xs - q_px[:, 0, None, None]) ** 2 + (ys - q_px[:, 1, None, None]) ** 2
    blob = torch.exp(-d2 / (2 * 1.5**2))
    images = blob[:, None]
    warp = sample_tps_warp(b, SOURCE_SPREAD, generator=_gen(6))
    warped = warp_images(images, warp)[:, 0]
    q = pixels_to_normalized(q_px[:, None], (size, size))
    p = warp_points(warp, q)
    expected_px = normalized_to_pixels(p, (size, size))[:, 0]
    # content with no preimage (possible where a source warp folds) is not visible: skip it
    solved = (tps_transform_points(warp, p) - q).norm(dim=-1)[:, 0] < 1e-5
    assert solved.sum().item() >= b - 2
    # local centroid around the peak of the warped image
    peak = warped.flatten(1).argmax(dim=1)
    pr, pc = peak // size, peak % size
    for k in solved.nonzero()[:, 0].tolist():
        r0, c0 = int(pr[k]), int(pc[k])
        win = warped[k, r0 - 3 : r0 + 4, c0 - 3 : c0 + 4]
        cx = (win * xs[r0 - 3 : r0 + 4, c0 - 3 : c0 + 4]).sum() / win.sum()
        cy = (win * ys[r0 - 3 : r0 + 4, c0 - 3 : c0 + 4]).sum() / win.sum()
        err = torch.hypot(cx - expected_px[k, 0], cy - expected_px[k, 1]).item()
        assert err < 1.0, (k, err)


def test_warp_images_autocast_and_channels_last() -> None:
    warp = sample_tps_warp(2, SOURCE_SPREAD, generator=_gen(7))
    img = torch.rand(2, 3, 20, 20)
    ref = warp_images(img, warp)
    cl = warp_images(img.to(memory_format=torch.channels_last), warp)
    torch.testing.assert_close(cl, ref)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        grid = tps_sampling_grid(warp, 20, 20)
        out = warp_images(img, warp)
    assert grid.dtype == torch.float32
    torch.testing.assert_close(grid, tps_sampling_grid(warp, 20, 20))
    torch.testing.assert_close(out.float(), ref)
    bf = warp_images(img.bfloat16(), warp)
    assert bf.dtype == torch.bfloat16
    torch.testing.assert_close(bf.float(), ref, atol=2e-2, rtol=0)


def test_sampling_statistics() -> None:
    n = 4000
    warp = sample_tps_warp(n, SOURCE_SPREAD, generator=_gen(8))
    m = warp.num_control_points
    trans = warp.weights[:, m]
    a = warp.weights[:, m + 1 :]
    angle = torch.rad2deg(torch.atan2(a[:, 1, 0], a[:, 0, 0]))
    scale = torch.hypot(a[:, 0, 0], a[:, 1, 0])
    torch.testing.assert_close(a[:, 1, 1], a[:, 0, 0])  # rotation-scale block
    torch.testing.assert_close(a[:, 0, 1], -a[:, 1, 0])
    assert trans.std().item() == pytest.approx(SOURCE_SPREAD.translation, rel=0.1)
    assert angle.std().item() == pytest.approx(SOURCE_SPREAD.rotation_deg, rel=0.1)
    assert (scale - 1).std().item() == pytest.approx(SOURCE_SPREAD.scale, rel=0.1)
    assert trans.mean().abs().item() < 0.01
    sd0, sd1 = SOURCE_SPREAD.tps
    expected_sd = math.sqrt(sd0**2 + 0.5 * sd1**2)
    assert warp.weights[:, :m].std().item() == pytest.approx(expected_sd, rel=0.1)
    target = sample_tps_warp(n, TARGET_SPREAD, generator=_gen(9))
    torch.testing.assert_close(target.affine, torch.eye(2).expand(n, 2, 2))
    assert target.translation.std().item() == pytest.approx(0.1, rel=0.1)


# ------------------------------------------------------------------------------------------
# Border mask and pairs
# ------------------------------------------------------------------------------------------


def test_border_mask() -> None:
    h, w, margin, ramp = 32, 40, 2, 5
    mask = border_mask(h, w, margin, ramp)
    assert mask.shape == (h, w)
    assert mask[:margin].abs().max().item() == 0.0
    assert mask[:, -margin:].abs().max().item() == 0.0
    assert mask[margin + ramp : h - margin - ramp, margin + ramp : w - margin - ramp].min() == 1.0
    torch.testing.assert_close(mask, mask.flip(0))
    torch.testing.assert_close(mask, mask.flip(1))
    col = mask[h // 2]
    rise = col[margin : margin + ramp]
    assert (rise.diff() > 0).all() and rise.min() > 0 and rise.max() < 1
    expected = 0.5 + 0.5 * torch.tanh(torch.linspace(-1, 1, ramp) / 0.4)
    torch.testing.assert_close(rise, expected)
    torch.testing.assert_close(mask, mask[:, w // 2, None] * mask[None, h // 2])  # outer product
    with pytest.raises(ValueError):
        border_mask(16, 16, 4, 5)


def test_scaled_mask_size() -> None:
    assert scaled_mask_size(32, 10, 20) == (2, 5)
    assert scaled_mask_size(64, 10, 20) == (5, 10)
    assert scaled_mask_size(128, 10, 20) == (10, 20)


def test_sample_tps_pair_shapes_and_definition() -> None:
    b, h, w = 4, 32, 32
    img = torch.rand(1, 3, h, w).expand(b, -1, -1, -1).contiguous()
    pair = sample_tps_pair(img, generator=_gen(10))
    for t in (pair.source, pair.target):
        assert t.shape == (b, 3, h, w) and t.dtype == torch.float32
    assert pair.mask.shape == (b, 1, h, w) and pair.mask.dtype == torch.float32
    assert pair.mask.min().item() >= 0 and pair.mask.max().item() <= 1
    assert pair.target_warp.batch_size == b and pair.source_warp.batch_size == b
    # definition: target = warp(image, T_t), source = warp(target, T_s), mask = warped border
    torch.testing.assert_close(pair.target, warp_images(img, pair.target_warp))
    torch.testing.assert_close(pair.source, warp_images(pair.target, pair.source_warp))
    border = border_mask(h, w, 2, 5).expand(b, 1, h, w)
    torch.testing.assert_close(pair.mask, warp_images(border, pair.target_warp))
    # batch elements get different warps, hence different targets from the same image
    assert (pair.target[0] - pair.target[1]).abs().max().item() > 1e-2
    assert not torch.allclose(pair.source_warp.weights[0], pair.source_warp.weights[1])


def test_sample_tps_pair_identity_spreads() -> None:
    img = torch.rand(2, 3, 32, 32)
    pair = sample_tps_pair(img, TPSSpread(), TPSSpread())
    torch.testing.assert_close(pair.target, img, atol=1e-5, rtol=0)
    torch.testing.assert_close(pair.source, img, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        pair.mask[:, 0], border_mask(32, 32, 2, 5).expand(2, -1, -1), atol=1e-5, rtol=0
    )


def test_sample_tps_pair_deterministic_and_source_images() -> None:
    img = torch.rand(3, 3, 32, 32)
    a = sample_tps_pair(img, generator=_gen(11))
    b = sample_tps_pair(img, generator=_gen(11))
    c = sample_tps_pair(img, generator=_gen(12))
    torch.testing.assert_close(a.source, b.source, atol=0, rtol=0)
    torch.testing.assert_close(a.mask, b.mask, atol=0, rtol=0)
    assert not torch.allclose(a.source, c.source)
    other = torch.rand(3, 3, 32, 32)
    v = sample_tps_pair(img, source_images=other, generator=_gen(11))
    torch.testing.assert_close(v.target, a.target)  # same draws, same target
    expected = warp_images(warp_images(other, v.target_warp), v.source_warp)
    torch.testing.assert_close(v.source, expected)
    with pytest.raises(ValueError):
        sample_tps_pair(img, source_images=other[:2])


def test_tps_warp_validates_shapes() -> None:
    with pytest.raises(ValueError):
        TPSWarp(torch.zeros(2, 10, 2), control_point_grid(10))
