"""Structural priors on landmarks (Zhang, Guo, Jin, Luo, He, Lee, CVPR 2018, "Unsupervised
Discovery of Object Landmarks as Structural Representations"; reference code lmdis-rep).

Each prior is one small pure function of a detector's outputs, in this package's convention:
points ``(x, y)`` normalised to ``[-1, 1]`` (``align_corners=False``), marginals as returned by
:func:`landmarks.geometry.spatial_softmax_keypoints`. Distances are therefore twice as large as
in lmdis-rep's ``[0, 1]`` units, and variances four times as large; the bandwidths below are
converted once, where they are defined (:data:`SEPARATION_BANDWIDTH`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from landmarks.geometry import TPSWarp, pixel_centers, tps_transform_points

__all__ = [
    "SEPARATION_BANDWIDTH",
    "concentration_loss",
    "equivariance_loss",
    "separation_loss",
]

# lmdis-rep's separation bandwidth is 0.08 in [0, 1] image units: 0.16 in [-1, 1] units.
SEPARATION_BANDWIDTH = 0.16


def _marginal_variance(prob: Tensor) -> Tensor:
    """Variance of the coordinate under a marginal ``prob`` ``(B, K, n)`` → ``(B, K)``."""
    c = pixel_centers(prob.shape[-1], device=prob.device, dtype=prob.dtype)
    mean = (prob * c).sum(-1, keepdim=True)
    return (prob * (c - mean).square()).sum(-1)


def concentration_loss(prob_x: Tensor, prob_y: Tensor) -> Tensor:
    """Concentration prior (Zhang et al. 2018, Eq. 3): each landmark's detection distribution
    should be peaked, ``L_conc = mean_k (σ²_x,k + σ²_y,k)``.

    The paper writes ``2πe (σ²_u + σ²_v)`` (the entropy of an isotropic Gaussian of that
    variance, up to the log); the constant only rescales the weight, so it is left to
    ``loss.terms.concentration``. Here the variances are those of the separable softmax's
    marginals, in normalised units (a uniform 16-bin marginal over ``[-1, 1]`` has σ² ≈ 0.33; a
    one-hot one 0).

    Args:
        prob_x: ``(B, K, w)`` column marginals (each sums to 1).
        prob_y: ``(B, K, h)`` row marginals.

    Returns:
        A scalar, the mean over batch and landmarks.
    """
    return (_marginal_variance(prob_x.float()) + _marginal_variance(prob_y.float())).mean()


def separation_loss(keypoints: Tensor, bandwidth: float = SEPARATION_BANDWIDTH) -> Tensor:
    """Separation prior (Zhang et al. 2018, Eq. 4): landmarks should not sit on top of each
    other, ``L_sep = mean_b  1/(K(K-1)) Σ_{k≠k'} exp(-|u_k - u_k'|² / (2 σ²))``.

    Two coincident points cost 1, points ``3σ`` apart ≈ 0.011. ``σ`` = ``bandwidth`` in
    normalised units (lmdis-rep: 0.08 of the image = 0.16 here).

    Args:
        keypoints: ``(B, K, 2)``.
        bandwidth: ``σ`` (> 0).

    Returns:
        A scalar; 0 when ``K == 1``.
    """
    if bandwidth <= 0:
        raise ValueError(f"separation bandwidth must be positive, got {bandwidth}")
    k = keypoints.shape[1]
    if k < 2:
        return keypoints.sum() * 0.0
    kp = keypoints.float()
    d2 = (kp.unsqueeze(2) - kp.unsqueeze(1)).square().sum(-1)  # (B, K, K)
    off = ~torch.eye(k, dtype=torch.bool, device=kp.device)
    return torch.exp(-d2 / (2.0 * bandwidth**2))[:, off].mean()


def equivariance_loss(keypoints_warped: Tensor, keypoints: Tensor, warp: TPSWarp) -> Tensor:
    """Equivariance prior (Thewlis et al. 2017; Zhang et al. 2018, Eq. 5): landmarks move with
    the image. With ``warped = warp_images(image, T)`` (``T`` the sampling map: the warped image
    at ``p`` shows the image at ``T(p)``), a landmark detected at ``p`` in the warped image must
    be the one detected at ``T(p)`` in the image::

        L_eqv = mean_{b,k} |T(Φ(warped)_k) − Φ(image)_k|²

    (squared distance in normalised units of the image). Written with the closed-form forward
    map ``T`` rather than its Newton inverse, so the gradient is exact and cheap. Gradients flow
    into both detections; the warp is fixed.

    Args:
        keypoints_warped: ``(B, K, 2)`` detected on the warped images.
        keypoints: ``(B, K, 2)`` detected on the images.
        warp: the ``B`` warps that made the warped images.

    Returns:
        A scalar.
    """
    mapped = tps_transform_points(warp, keypoints_warped.float())
    return (mapped - keypoints.float()).square().sum(-1).mean()
