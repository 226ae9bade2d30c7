"""Reconstruction losses: the VGG-19 perceptual loss (official IMM normalisation) and pixel
L1 / L2. :func:`build_loss` makes one from a :class:`~landmarks.config.LossConfig`."""

from __future__ import annotations

from torch import nn

from landmarks.config import LossConfig
from landmarks.losses.objective import TERM_NEEDS, Objective, check_terms
from landmarks.losses.perceptual import (
    PerceptualLoss,
    layer_error,
    normalised_layer_loss,
    update_running_mean,
)
from landmarks.losses.pixel import PixelLoss, masked_mean, pixel_error, resize_mask
from landmarks.losses.priors import (
    SEPARATION_BANDWIDTH,
    concentration_loss,
    equivariance_loss,
    separation_loss,
)
from landmarks.losses.vgg import (
    VALID_LAYERS,
    VGG19_LAYERS,
    VGG19Features,
    check_layers,
    layer_stride,
    load_vgg19_weights,
)
from landmarks.losses.weights import resolve_vgg19

__all__ = [
    "SEPARATION_BANDWIDTH",
    "TERM_NEEDS",
    "VALID_LAYERS",
    "VGG19_LAYERS",
    "Objective",
    "PerceptualLoss",
    "PixelLoss",
    "VGG19Features",
    "build_loss",
    "build_objective",
    "check_layers",
    "check_terms",
    "concentration_loss",
    "equivariance_loss",
    "fitting_layers",
    "layer_error",
    "layer_stride",
    "load_vgg19_weights",
    "masked_mean",
    "normalised_layer_loss",
    "pixel_error",
    "resize_mask",
    "separation_loss",
    "update_running_mean",
]


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


def build_objective(cfg: LossConfig, image_size: int | None = None) -> Objective:
    """The training objective of ``cfg``: :func:`build_loss` plus the weighted priors of
    ``cfg.terms`` (:class:`Objective`)."""
    return Objective(build_loss(cfg, image_size), cfg.terms, cfg.separation_bandwidth)


def build_loss(cfg: LossConfig, image_size: int | None = None) -> nn.Module:
    """The reconstruction loss named by ``cfg.name``.

    * ``"perceptual"``: :class:`PerceptualLoss` over ``cfg.layers`` (those that fit
      ``image_size``, :func:`fitting_layers`) of a VGG-19 whose weights come
      from :func:`~landmarks.losses.weights.resolve_vgg19` (``cfg.vgg_weights``), with
      ``cfg.momentum``.
      The result carries ``weights_description`` (where the weights came from, for the log).
    * ``"l1"`` / ``"l2"``: :class:`PixelLoss`.

    Every loss is called as ``loss(prediction, target, mask=None) -> dict`` with ``"loss"``.
    ``cfg.use_mask`` is for the caller (whether to pass the warp's mask).

    Raises:
        ValueError: unknown ``cfg.name`` or layer name (the message lists the valid names).
        WeightsNotFoundError: the requested VGG-19 weights are not available
            (:mod:`landmarks.losses.weights`).
    """
    if cfg.name in ("l1", "l2"):
        return PixelLoss(cfg.name)
    if cfg.name != "perceptual":
        raise ValueError(f"unknown loss {cfg.name!r}; expected perceptual, l1 or l2")
    # before looking for weights: a typo fails first
    layers = fitting_layers(cfg.layers, image_size, cfg.min_feature_size)
    state_dict, description = resolve_vgg19(cfg.vgg_weights)
    vgg = VGG19Features(layers)
    if state_dict is not None:
        load_vgg19_weights(vgg, state_dict)
    loss = PerceptualLoss(vgg, momentum=cfg.momentum)
    loss.weights_description = description
    return loss
