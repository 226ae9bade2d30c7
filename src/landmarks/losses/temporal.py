"""The temporal regulariser of seed 003: landmarks of a frame, carried by the optical flow to the
next frame, must land on that frame's landmarks (and the same for the heatmaps).

A training pair is a *source* frame ``t`` and a *target* frame ``t ± g`` of one video (``g``
from ``data.frame_gap``); the data workers compute the flows between them offline
(:mod:`landmarks.data.flow`, ``data.flow``): ``flow`` (B,2,S,S) from source to target, and
``flow_back`` from target to source, both in normalised units: source point ``p`` is at
``p + flow[:, :, p]`` in the target. Every function here is plain tensor code, differentiable
in the keypoints and heatmaps (the flows are data).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from landmarks.geometry.coords import coordinate_grid

__all__ = [
    "carry_keypoints",
    "flow_at",
    "resize_flow",
    "temporal_heatmap_loss",
    "temporal_keypoint_loss",
    "warp_by_flow",
]


def flow_at(flow: Tensor, points: Tensor) -> Tensor:
    """The flow at ``points``, bilinearly interpolated (``grid_sample``, ``align_corners=False``,
    the border value repeated outside the frame).

    Args:
        flow: (B,2,H,W) normalised ``(dx, dy)``.
        points: (B,K,2) normalised ``(x, y)``.

    Returns:
        (B,K,2) the flow vector at each point.

    Example: a constant flow of ``(0.1, 0)`` gives ``(0.1, 0)`` at every point.
    """
    grid = points.to(flow.dtype).unsqueeze(2)  # (B, K, 1, 2)
    sampled = F.grid_sample(flow, grid, mode="bilinear", padding_mode="border",
                            align_corners=False)  # (B, 2, K, 1)
    return sampled.squeeze(-1).transpose(1, 2)


def carry_keypoints(keypoints: Tensor, flow: Tensor) -> Tensor:
    """Keypoints of the source frame carried to the target frame: ``p + flow(p)``.

    Args:
        keypoints: (B,K,2) normalised, detected on the source frame.
        flow: (B,2,H,W) the flow from source to target.

    Returns:
        (B,K,2) where the flow puts them in the target frame.

    Example: ``p = (0.2, -0.5)`` under a constant flow ``(0.1, 0)`` → ``(0.3, -0.5)``.
    """
    return keypoints + flow_at(flow, keypoints)


def temporal_keypoint_loss(source_keypoints: Tensor, target_keypoints: Tensor,
                           flow: Tensor) -> Tensor:
    """The keypoint term: the mean over the batch and the K landmarks of the squared distance
    between the source's keypoints carried by the flow and the target's keypoints,

        ``L = 1/(B·K) Σ_b Σ_k |p_k^s + flow(p_k^s) − p_k^t|²``   (normalised units²).

    Args:
        source_keypoints: (B,K,2) detected on the source frame ``t``.
        target_keypoints: (B,K,2) detected on the target frame ``t ± g``.
        flow: (B,2,H,W) from source to target.

    Returns:
        A scalar (float32).

    Worked example: a constant flow ``(0.1, 0)``; target keypoints 0.1 to the right of the
    source's → 0; 0.2 to the right → ``|0.1 + 0 − 0.2|² = 0.01``; identical keypoints under a
    zero flow → 0.
    """
    carried = carry_keypoints(source_keypoints.float(), flow.float())
    return ((carried - target_keypoints.float()) ** 2).sum(-1).mean()


def resize_flow(flow: Tensor, size: tuple[int, int]) -> Tensor:
    """``flow`` (B,2,H,W) at ``size = (h, w)``: averaged over each output pixel's area when
    smaller, bilinear when larger. The values stay as they are (normalised units do not depend
    on the resolution)."""
    if tuple(flow.shape[-2:]) == tuple(size):
        return flow
    if size[0] <= flow.shape[-2] and size[1] <= flow.shape[-1]:
        return F.adaptive_avg_pool2d(flow, size)
    return F.interpolate(flow, size=size, mode="bilinear", align_corners=False)


def warp_by_flow(maps: Tensor, flow_back: Tensor) -> tuple[Tensor, Tensor]:
    """Backward-warp the source frame's ``maps`` to the target frame: target pixel ``q`` shows
    the source at ``q + flow_back(q)``.

    Args:
        maps: (B,C,h,w) on the source frame (any resolution).
        flow_back: (B,2,H,W) the flow from target to source (resized to ``h × w``,
            :func:`resize_flow`).

    Returns:
        ``(warped, valid)``: ``warped`` (B,C,h,w) the maps seen from the target frame (zero
        where the flow points outside the frame) and ``valid`` (B,1,h,w) 1 where it points
        inside.

    Example: a constant ``flow_back`` of ``(2/w, 0)`` (one map pixel to the right) shifts the
    maps one pixel to the left: ``warped[..., j] = maps[..., j + 1]``.
    """
    b, _, h, w = maps.shape
    f = resize_flow(flow_back.to(maps.dtype), (h, w))
    grid = coordinate_grid(h, w, device=maps.device, dtype=maps.dtype).unsqueeze(0)
    grid = grid + f.permute(0, 2, 3, 1)  # (B, h, w, 2)
    warped = F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
    valid = (grid.abs() <= 1).all(dim=-1).unsqueeze(1).to(maps.dtype)
    return warped, valid


def _as_distributions(maps: Tensor) -> Tensor:
    """Each map divided by its sum over the pixels, times ``h·w`` (a uniform map is 1)."""
    h, w = maps.shape[-2:]
    return maps / maps.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12) * (h * w)


def temporal_heatmap_loss(source_heatmaps: Tensor, target_heatmaps: Tensor,
                          flow_back: Tensor) -> Tensor:
    """The heatmap term: the target frame's heatmaps must equal the source frame's warped by
    the flow (:func:`warp_by_flow`), a mean squared difference over the pixels where the flow
    stays inside the frame,

        ``L = Σ_{b,k,q} v(q) (Ĥ_k^t(q) − Ĥ_k^s(q + flow_back(q)))² / (K · Σ_{b,q} v(q))``.

    So that one weight suits every model, each map is first made a distribution over its
    pixels scaled to mean 1 (``Ĥ = H / ΣH · h·w``; Zhang's per-pixel shares and a motion
    model's spatial softmax then compare alike).

    Args:
        source_heatmaps: (B,K,h,w) detected on the source frame.
        target_heatmaps: (B,K,h,w) detected on the target frame.
        flow_back: (B,2,H,W) the flow from target to source.

    Returns:
        A scalar (float32).

    Worked example: identical heatmaps under a zero flow → 0; a map that moved one pixel to
    the right between the frames, with ``flow_back`` saying so (``-2/w`` in x), → 0 away from
    the border.
    """
    src = _as_distributions(source_heatmaps.float())
    tgt = _as_distributions(target_heatmaps.float())
    warped, valid = warp_by_flow(src, flow_back.float())
    k = tgt.shape[1]
    return ((tgt - warped) ** 2 * valid).sum() / (valid.sum() * k).clamp_min(1.0)

