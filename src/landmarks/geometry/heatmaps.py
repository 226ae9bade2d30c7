"""Score maps ↔ points: the separable spatial softmax and Gaussian rendering (Jakab et al. 2018).

All points follow the package convention: ``(x, y)`` normalised to ``[-1, 1]`` with pixel
centres at ``-1 + (2 i + 1) / n`` (see :mod:`landmarks.geometry.coords`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .coords import pixel_centers

__all__ = ["SoftArgmax", "render_gaussian_heatmaps", "spatial_softmax_keypoints"]


class SoftArgmax(NamedTuple):
    """Output of :func:`spatial_softmax_keypoints`.

    Attributes:
        keypoints: ``(B, K, 2)`` expected ``(x, y)`` in normalised units.
        prob_x: ``(B, K, w)`` marginal distribution over columns (sums to 1).
        prob_y: ``(B, K, h)`` marginal distribution over rows (sums to 1).
    """

    keypoints: Tensor
    prob_x: Tensor
    prob_y: Tensor


def _compute_dtype(t: Tensor) -> Tensor:
    """Half-precision inputs are upcast to float32: coordinates need more than 8 mantissa bits."""
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.float()
    return t


def spatial_softmax_keypoints(scores: Tensor, scale: float = 1.0) -> SoftArgmax:
    """Separable spatial softmax: the keypoint equation of Jakab et al. 2018 (heatmap bottleneck).

    The paper writes ``u_k = sum_u u * softmax(S_k)(u)``; the official code factorises it over
    the two axes, which is what is implemented here::

        p_x(j) = softmax_j( s · mean_i S_k(i, j) ),   x_k = sum_j p_x(j) * c_w(j)
        p_y(i) = softmax_i( s · mean_j S_k(i, j) ),   y_k = sum_i p_y(i) * c_h(i)

    where ``c_n = pixel_centers(n)`` and ``s = scale``. With ``s = 1`` (the official code) the
    logits of each axis are the mean of the scores over the other axis, which makes them ``h``
    (or ``w``) times flatter than a sum: at initialisation the marginals are nearly uniform.
    ``s = h`` gives the summed logits. For a one-hot (or separable) score map it agrees with
    the 2-D soft-argmax.

    Args:
        scores: ``(B, K, h, w)`` unnormalised score maps.
        scale: the logits' multiplier (an inverse temperature, > 0).

    Returns:
        :class:`SoftArgmax` with keypoints ``(B, K, 2)``, ``prob_x (B, K, w)``,
        ``prob_y (B, K, h)``. Half-precision inputs are computed (and returned) in float32.
    """
    if scores.dim() != 4:
        raise ValueError(f"scores must be (B, K, h, w), got shape {tuple(scores.shape)}")
    s = _compute_dtype(scores)
    h, w = s.shape[-2:]
    prob_x = torch.softmax(scale * s.mean(dim=-2), dim=-1)  # (B, K, w)
    prob_y = torch.softmax(scale * s.mean(dim=-1), dim=-1)  # (B, K, h)
    x = (prob_x * pixel_centers(w, device=s.device, dtype=s.dtype)).sum(dim=-1)
    y = (prob_y * pixel_centers(h, device=s.device, dtype=s.dtype)).sum(dim=-1)
    return SoftArgmax(torch.stack((x, y), dim=-1), prob_x, prob_y)


def render_gaussian_heatmaps(keypoints: Tensor, size_hw: tuple[int, int], sigma: float) -> Tensor:
    """Render each point as a Gaussian map: the rendering equation of Jakab et al. 2018.

    ``H_k(u) = exp(-|u - u_k|^2 / sigma^2)`` evaluated at the pixel centres ``u``; ``sigma`` is
    in normalised units and there is no factor 2 (the paper writes ``2 sigma^2``; the official
    code, followed here, uses ``sigma^2`` with σ = 0.1). The peak value is 1; the maps are not
    normalised to sum to 1.

    Args:
        keypoints: ``(B, K, 2)`` ``(x, y)`` in normalised units.
        size_hw: ``(h, w)`` of the rendered maps.
        sigma: standard width in normalised units (> 0).

    Returns:
        ``(B, K, h, w)`` in ``(0, 1]``, in the keypoints' dtype (float32 for half inputs).
    """
    if keypoints.dim() != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must be (B, K, 2), got shape {tuple(keypoints.shape)}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    kp = _compute_dtype(keypoints)
    h, w = size_hw
    xs = pixel_centers(w, device=kp.device, dtype=kp.dtype)
    ys = pixel_centers(h, device=kp.device, dtype=kp.dtype)
    inv_var = 1.0 / (sigma * sigma)
    gx = torch.exp(-((xs - kp[..., 0:1]) ** 2) * inv_var)  # (B, K, w)
    gy = torch.exp(-((ys - kp[..., 1:2]) ** 2) * inv_var)  # (B, K, h)
    return gy.unsqueeze(-1) * gx.unsqueeze(-2)
