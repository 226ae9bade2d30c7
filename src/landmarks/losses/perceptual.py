"""The perceptual reconstruction loss of Jakab et al. (2018), as in the official code.

For each VGG-19 layer k with features f_k:

* squared error          l_k = (f_k(target) − f_k(prediction))²                 (per element)
* masked mean            m_k = mean(mask_k · l_k)         (:func:`layer_error`)
* running normaliser     r_k ← ρ r_k + (1 − ρ) m_k        (:func:`update_running_mean`, ρ = 0.99,
                                                           training mode only, no gradient)
* layer loss             m_k / r_k                        (:func:`normalised_layer_loss`)
* total                  1000 · Σ_k m_k / r_k             (the official scale)

``mask_k`` is the warp's validity mask bilinearly resized to layer k's spatial size (all ones
without a mask). Dividing each layer by a running mean of its own error balances layers whose
features live on very different scales, so no per-layer weights are needed.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from landmarks.config import LossConfig
from landmarks.losses.pixel import masked_mean
from landmarks.nets.vgg import VGG19Features, check_layers, layer_stride, load_vgg19_weights
from landmarks.weights import resolve_vgg19


def layer_error(feat_pred: Tensor, feat_target: Tensor, mask: Tensor | None = None) -> Tensor:
    """m_k = mean(mask_k · (f_k(target) − f_k(prediction))²) over every element, in float32.

    Args:
        feat_pred: ``(B, C, h, w)`` features of the prediction (may carry grad).
        feat_target: ``(B, C, h, w)`` features of the target.
        mask: ``(B, 1, H, W)`` in [0, 1], bilinearly resized to ``(h, w)``; ``None`` = ones.

    Returns:
        A float32 scalar.
    """
    diff = feat_target.float() - feat_pred.float()
    return masked_mean(diff.square(), mask)


def update_running_mean(running_mean: Tensor, error: Tensor, momentum: float) -> Tensor:
    """r ← ρ r + (1 − ρ) m: the exponential moving average of a layer's error.

    ``running_mean`` and ``error`` have the same shape (a scalar or ``(L,)``); ``error`` should be
    detached. Returns the new value (float32); the caller stores it.
    """
    return momentum * running_mean.float() + (1.0 - momentum) * error.float()


def normalised_layer_loss(feat_pred: Tensor, feat_target: Tensor, running_mean: Tensor,
                          mask: Tensor | None = None) -> Tensor:
    """One layer's loss m_k / r_k: the masked mean squared feature error divided by its running
    mean (the normaliser, not differentiated).

    Args:
        feat_pred: ``(B, C, h, w)`` features of the prediction.
        feat_target: ``(B, C, h, w)`` features of the target.
        running_mean: scalar r_k (already updated with this batch's error in training).
        mask: ``(B, 1, H, W)`` or ``None``.

    Returns:
        A float32 scalar (without the ×1000 scale of :class:`PerceptualLoss`).
    """
    return layer_error(feat_pred, feat_target, mask) / _safe(running_mean.detach().float())


def _safe(normaliser: Tensor) -> Tensor:
    """Guard the division against a zero normaliser (0 / 0 → 0 rather than NaN)."""
    return normaliser.clamp_min(torch.finfo(torch.float32).tiny)


def _average_across_ranks(values: Tensor) -> Tensor:
    """The mean of ``values`` over all ranks when torch.distributed is initialised, else itself."""
    if not (dist.is_available() and dist.is_initialized()):
        return values
    world = dist.get_world_size()
    if world == 1:
        return values
    values = values.detach().clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values / world


class PerceptualLoss(nn.Module):
    """VGG-19 perceptual loss with per-layer running-mean normalisation (official IMM code).

    Each layer's masked mean squared feature error m_k is divided by a running mean r_k of itself
    (ρ = ``momentum``), and the sum is multiplied by ``scale`` (1000, the official value); see the
    module docstring. The official code started each r_k from a hand-set constant tuned to its
    Caffe-scale input (pixels in [0, 255] minus the mean); here r_k starts from the first observed
    m_k, so the first training step's loss is ``scale × number of layers`` whatever the weights or
    input scale. A layer whose first error is exactly 0 stays uninitialised until it is positive.

    r_k is updated only in training mode. In eval mode the stored r_k are used (or, before any
    training step, the batch's own m_k). Under torch.distributed every rank averages the m_k over
    all ranks (one all-reduce) before the update, so the normalisers stay identical; the
    numerators stay local. All normaliser math is float32, also under bf16 autocast.

    Buffers (saved in ``state_dict`` for exact resume): ``running_means`` ``(L,)`` float32 and
    ``initialized`` ``(L,)`` bool, in the order of ``vgg.layers``. The frozen VGG weights are
    *not* part of the state dict (they come from ``loss.vgg_weights`` and would add ~60–80 MB to
    every checkpoint); loading a state dict without them keeps the module's current weights, and
    one with them (``vgg.*`` keys) still loads.
    """

    running_means: Tensor
    initialized: Tensor

    def __init__(self, vgg: VGG19Features, momentum: float = 0.99, scale: float = 1000.0) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.vgg = vgg
        self.layers = list(vgg.layers)
        self.momentum = float(momentum)
        self.scale = float(scale)
        self.weights_description = vgg.weights_format  # build_loss sets where they came from
        n = len(self.layers)
        self.register_buffer("running_means", torch.zeros(n, dtype=torch.float32))
        self.register_buffer("initialized", torch.zeros(n, dtype=torch.bool))
        self.register_state_dict_post_hook(_drop_vgg_keys)
        self.register_load_state_dict_pre_hook(_keep_vgg_keys)

    def _normalisers(self, errors: Tensor) -> Tensor:
        """The r_k to divide by, ``(L,)`` float32, after updating them in training mode."""
        errors = errors.detach().float()
        if not self.training:
            return torch.where(self.initialized, self.running_means.float(), errors)
        errors = _average_across_ranks(errors)
        with torch.no_grad():
            updated = update_running_mean(self.running_means, errors, self.momentum)
            updated = torch.where(self.initialized, updated, errors)
            now_initialized = self.initialized | (errors > 0)
            updated = torch.where(now_initialized, updated, torch.zeros_like(updated))
            self.running_means.copy_(updated)
            self.initialized.copy_(now_initialized)
        return self.running_means.float()

    def forward(self, prediction: Tensor, target: Tensor,
                mask: Tensor | None = None) -> dict[str, Tensor]:
        """Perceptual loss between images in [0, 1].

        Args:
            prediction: ``(B, 3, H, W)`` reconstruction (gradients flow into it).
            target: ``(B, 3, H, W)`` image to reconstruct (its features are computed without
                grad).
            mask: ``(B, 1, H, W)`` weights in [0, 1] (the warp's validity mask) or ``None``.

        Returns:
            ``"loss"``: the float32 scalar to optimise; ``"perceptual/<layer>"``: each layer's
            detached, scaled contribution (they sum to ``"loss"``); ``"perceptual_raw/<layer>"``:
            each layer's detached error before the running-mean normalisation (the masked mean
            squared feature difference, :func:`layer_error`). The normalised terms hover around
            ``scale`` by construction, even while the reconstruction improves; the raw errors are
            the ones that fall as it does.
        """
        if prediction.shape != target.shape:
            raise ValueError(f"prediction {tuple(prediction.shape)} and target "
                             f"{tuple(target.shape)} differ in shape")
        with torch.no_grad():
            feats_target = self.vgg(target)
        feats_pred = self.vgg(prediction)
        with torch.autocast(device_type=prediction.device.type, enabled=False):
            errors = torch.stack([
                layer_error(fp, ft, mask) for fp, ft in zip(feats_pred, feats_target, strict=True)
            ])
            per_layer = self.scale * errors / _safe(self._normalisers(errors))
            loss = per_layer.sum()
        out = {"loss": loss}
        for name, value in zip(self.layers, per_layer.detach(), strict=True):
            out[f"perceptual/{name}"] = value
        for name, value in zip(self.layers, errors.detach(), strict=True):
            out[f"perceptual_raw/{name}"] = value
        return out

    def extra_repr(self) -> str:
        return f"layers={self.layers}, momentum={self.momentum}, scale={self.scale}"


def _drop_vgg_keys(module: nn.Module, state_dict: dict[str, Any], prefix: str,
                   local_metadata: Any) -> None:
    """State-dict post-hook: remove the frozen VGG weights (``<prefix>vgg.*``)."""
    for key in [k for k in state_dict if k.startswith(prefix + "vgg.")]:
        del state_dict[key]


def _keep_vgg_keys(module: nn.Module, state_dict: dict[str, Any], prefix: str,
                   local_metadata: Any, strict: bool, missing_keys: list[str],
                   unexpected_keys: list[str], error_msgs: list[str]) -> None:
    """Load-state-dict pre-hook: fill absent ``<prefix>vgg.*`` entries with the current weights,
    so state dicts saved without them load strictly."""
    assert isinstance(module, PerceptualLoss)
    for name, value in module.vgg.state_dict().items():
        state_dict.setdefault(prefix + "vgg." + name, value)


def fitting_layers(layers: list[str], image_size: int | None, min_feature_size: int) -> list[str]:
    """``layers`` without those whose feature maps are smaller than ``min_feature_size`` pixels
    at ``image_size`` (``layer_stride``); all of them when either is 0/None. E.g. at 64 px with
    8: conv5_2 (4×4) is dropped, conv4_2 (8×8) kept; at 128 px all the paper's layers stay.

    Raises:
        ValueError: no layer is left (the message names the sizes).
    """
    layers = check_layers(layers)
    if not image_size or min_feature_size <= 0:
        return layers
    kept = [n for n in layers if image_size // layer_stride(n) >= min_feature_size]
    if not kept:
        raise ValueError(f"no VGG-19 layer of {layers} has feature maps of at least "
                         f"{min_feature_size} px at image size {image_size}")
    return kept


def perceptual_loss(cfg: LossConfig, image_size: int | None = None) -> PerceptualLoss:
    """:class:`PerceptualLoss` over ``cfg.layers`` (those that fit ``image_size``,
    :func:`fitting_layers`) of a VGG-19 whose weights come from
    :func:`~landmarks.weights.resolve_vgg19` (``cfg.vgg_weights``), with
    ``cfg.momentum``. The result carries ``weights_description`` (where the weights came from,
    for the log).

    Raises:
        ValueError: an unknown layer name (the message lists the valid names).
        WeightsNotFoundError: the requested VGG-19 weights are not available.
    """
    # before looking for weights: a typo fails first
    layers = fitting_layers(cfg.layers, image_size, cfg.min_feature_size)
    state_dict, description = resolve_vgg19(cfg.vgg_weights)
    vgg = VGG19Features(layers)
    if state_dict is not None:
        load_vgg19_weights(vgg, state_dict)
    loss = PerceptualLoss(vgg, momentum=cfg.momentum)
    loss.weights_description = description
    return loss
