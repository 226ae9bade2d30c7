"""Losses of motion transfer (first-order motion model, Siarohin et al. 2019).

* :func:`jacobian_equivariance_loss`: the local affine transforms move with the image (FOMM
  Eq. 10);
* :class:`PyramidPerceptualLoss`: the perceptual loss of :mod:`landmarks.losses.perceptual` at
  several scales of an image pyramid (FOMM's multi-scale perceptual loss, with our per-layer
  running normalisation in place of FOMM's fixed weights).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from landmarks.config import LossConfig
from landmarks.geometry import TPSWarp, tps_jacobian
from landmarks.losses.perceptual import PerceptualLoss, fitting_layers
from landmarks.nets.vgg import VGG19Features, load_vgg19_weights
from landmarks.weights import resolve_vgg19

__all__ = ["PyramidPerceptualLoss", "jacobian_equivariance_loss", "pyramid_perceptual_loss"]


def jacobian_equivariance_loss(jacobians_warped: Tensor, jacobians: Tensor,
                               keypoints_warped: Tensor, warp: TPSWarp) -> Tensor:
    """Equivariance of the keypoints' local affine transforms (FOMM Eq. 10). With
    ``warped = warp_images(image, T)``, the frame ``A_w`` detected at ``p`` in the warped image
    is ``∇T(p) A_w`` in the image, which must equal the frame ``A`` detected there::

        L = mean_{b,k} ‖ I − A⁻¹ ∇T(p_k) A_w,k ‖₁     (sum of the 4 absolute entries)

    Args:
        jacobians_warped: ``(B, K, 2, 2)`` detected on the warped images.
        jacobians: ``(B, K, 2, 2)`` detected on the images.
        keypoints_warped: ``(B, K, 2)`` detected on the warped images (where ``∇T`` is taken).
        warp: the ``B`` warps.

    Returns:
        A scalar. Example: identity Jacobians and an identity warp give 0; a warp that scales
        by 2 with identity Jacobians everywhere gives ``|1-2| + |1-2| = 2``.
    """
    grad_t = tps_jacobian(warp, keypoints_warped.float())  # (B, K, 2, 2)
    mapped = grad_t @ jacobians_warped.float()
    rel = torch.linalg.inv(jacobians.float()) @ mapped
    eye = torch.eye(2, device=rel.device, dtype=rel.dtype)
    return (eye - rel).abs().sum((-2, -1)).mean()


class PyramidPerceptualLoss(nn.Module):
    """:class:`PerceptualLoss` on an image pyramid: prediction and target are downscaled
    (anti-aliased bilinear) by each of ``scales``, each scale has its own VGG-19 layers (those
    whose maps are at least ``min_feature_size`` px at that scale) and running normalisers, and
    the scales' losses are summed.

    ``forward(prediction, target, mask=None) -> {"loss", "pyramid/<scale>", ...}``; the mask is
    resized with the images.
    """

    def __init__(self, losses: dict[float, PerceptualLoss]) -> None:
        super().__init__()
        if not losses:
            raise ValueError("a pyramid perceptual loss needs at least one scale")
        self.scales = list(losses)
        self.losses = nn.ModuleList(losses.values())
        self.weights_description = next(iter(losses.values())).weights_description

    def forward(self, prediction: Tensor, target: Tensor,
                mask: Tensor | None = None) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        total: Tensor | None = None
        for scale, loss in zip(self.scales, self.losses, strict=True):
            p, t, m = prediction, target, mask
            if scale != 1.0:
                size = max(1, round(prediction.shape[-1] * scale))
                p, t = (F.interpolate(x, size=(size, size), mode="bilinear",
                                      align_corners=False, antialias=True) for x in (p, t))
                if m is not None:
                    m = F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False)
            res = loss(p, t, m)
            out[f"pyramid/{scale:g}"] = res["loss"].detach()
            total = res["loss"] if total is None else total + res["loss"]
        assert total is not None
        return {"loss": total, **out}


def pyramid_perceptual_loss(cfg: LossConfig, image_size: int | None = None
                            ) -> PyramidPerceptualLoss:
    """:class:`PyramidPerceptualLoss` over ``cfg.pyramid_scales`` with ``cfg.layers``
    (those that fit each scale), the VGG-19 weights of ``cfg.vgg_weights`` (loaded once) and
    ``cfg.momentum``.

    Raises:
        ValueError: no scale given, a scale outside (0, 1], or no layer fits a scale.
    """
    scales = [float(s) for s in cfg.pyramid_scales]
    if not scales or any(not 0 < s <= 1 for s in scales):
        raise ValueError(f"config key 'loss.pyramid_scales': expected scales in (0, 1], got "
                         f"{cfg.pyramid_scales}")
    size = image_size or 0
    layers = {s: fitting_layers(cfg.layers, round(size * s) if size else None,
                                cfg.min_feature_size) for s in scales}
    state_dict, description = resolve_vgg19(cfg.vgg_weights)
    losses = {}
    for s in scales:
        vgg = VGG19Features(layers[s])
        if state_dict is not None:
            load_vgg19_weights(vgg, state_dict)
        loss = PerceptualLoss(vgg, momentum=cfg.momentum)
        loss.weights_description = description
        losses[s] = loss
    return PyramidPerceptualLoss(losses)
