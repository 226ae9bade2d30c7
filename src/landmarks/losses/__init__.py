"""Reconstruction losses: the VGG-19 perceptual loss (official IMM normalisation) and pixel
L1 / L2. :func:`build_loss` makes one from a :class:`~landmarks.config.LossConfig`."""

from __future__ import annotations

from torch import nn

from landmarks.config import LossConfig
from landmarks.losses.perceptual import (
    PerceptualLoss,
    layer_error,
    normalised_layer_loss,
    update_running_mean,
)
from landmarks.losses.pixel import PixelLoss, masked_mean, pixel_error, resize_mask
from landmarks.losses.vgg import (
    VALID_LAYERS,
    VGG19_LAYERS,
    VGG19Features,
    check_layers,
    load_vgg19_weights,
)

__all__ = [
    "VALID_LAYERS",
    "VGG19_LAYERS",
    "PerceptualLoss",
    "PixelLoss",
    "VGG19Features",
    "build_loss",
    "check_layers",
    "layer_error",
    "load_vgg19_weights",
    "masked_mean",
    "normalised_layer_loss",
    "pixel_error",
    "resize_mask",
    "update_running_mean",
]


def build_loss(cfg: LossConfig) -> nn.Module:
    """The reconstruction loss named by ``cfg.name``.

    * ``"perceptual"``: :class:`PerceptualLoss` over ``cfg.layers`` of a VGG-19 whose weights come
      from :func:`landmarks.weights.resolve_vgg19` (``cfg.vgg_weights``), with ``cfg.momentum``.
      The result carries ``weights_description`` (where the weights came from, for the log).
    * ``"l1"`` / ``"l2"``: :class:`PixelLoss`.

    Every loss is called as ``loss(prediction, target, mask=None) -> dict`` with ``"loss"``.
    ``cfg.use_mask`` is for the caller (whether to pass the warp's mask).

    Raises:
        ValueError: unknown ``cfg.name`` or layer name (the message lists the valid names).
        landmarks.weights.WeightsNotFoundError: the requested VGG-19 weights are not available.
    """
    if cfg.name in ("l1", "l2"):
        return PixelLoss(cfg.name)
    if cfg.name != "perceptual":
        raise ValueError(f"unknown loss {cfg.name!r}; expected perceptual, l1 or l2")
    from landmarks.weights import resolve_vgg19

    layers = check_layers(cfg.layers)  # before looking for weights: a typo fails first
    state_dict, description = resolve_vgg19(cfg.vgg_weights)
    vgg = VGG19Features(layers)
    if state_dict is not None:
        load_vgg19_weights(vgg, state_dict)
    loss = PerceptualLoss(vgg, momentum=cfg.momentum)
    loss.weights_description = description
    return loss
