"""Losses: the registry of weighted terms (:mod:`landmarks.losses.terms`: the VGG-19 perceptual
loss with the official IMM normalisation, pixel L1 / L2, the structural priors, and the
temporal terms on optical flow) and the objective that sums them (:class:`Objective`).
:func:`build_objective` makes it from a :class:`~landmarks.config.LossConfig`;
:func:`check_terms` checks, before training, that the model returns what each term reads."""

from __future__ import annotations

from torch import nn

from landmarks.config import LossConfig
from landmarks.losses.objective import Objective, check_terms, term_needs
from landmarks.losses.perceptual import (
    PerceptualLoss,
    fitting_layers,
    layer_error,
    normalised_layer_loss,
    perceptual_loss,
    update_running_mean,
)
from landmarks.losses.pixel import PixelLoss, masked_mean, pixel_error, resize_mask
from landmarks.losses.priors import (
    SEPARATION_BANDWIDTH,
    concentration_loss,
    equivariance_loss,
    separation_loss,
)
from landmarks.losses.temporal import (
    carry_keypoints,
    temporal_heatmap_loss,
    temporal_keypoint_loss,
    warp_by_flow,
)
from landmarks.losses.terms import (
    RECONSTRUCTION,
    LossTerm,
    build_term,
    term_class,
    term_names,
)
from landmarks.nets.vgg import (
    VALID_LAYERS,
    VGG19_LAYERS,
    VGG19Features,
    check_layers,
    layer_stride,
    load_vgg19_weights,
)

__all__ = [
    "SEPARATION_BANDWIDTH",
    "VALID_LAYERS",
    "VGG19_LAYERS",
    "LossTerm",
    "Objective",
    "PerceptualLoss",
    "PixelLoss",
    "VGG19Features",
    "build_loss",
    "build_objective",
    "build_term",
    "carry_keypoints",
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
    "perceptual_loss",
    "pixel_error",
    "resize_mask",
    "separation_loss",
    "temporal_heatmap_loss",
    "temporal_keypoint_loss",
    "term_names",
    "term_needs",
    "update_running_mean",
    "warp_by_flow",
]


def build_objective(cfg: LossConfig, image_size: int | None = None) -> Objective:
    """The training objective of ``cfg`` (:class:`Objective`): the reconstruction loss
    ``cfg.name`` (:func:`build_loss`) plus the weighted terms of ``cfg.terms``, each built from
    the registry (:mod:`landmarks.losses.terms`) with ``cfg``'s options."""
    extra = {name: build_term(name, cfg, image_size) for name, weight in cfg.terms.items()
             if name != RECONSTRUCTION and weight > 0}
    return Objective(build_loss(cfg, image_size), cfg.terms, cfg.separation_bandwidth,
                     terms=extra)


def build_loss(cfg: LossConfig, image_size: int | None = None) -> nn.Module:
    """The reconstruction loss named by ``cfg.name``, a registered reconstruction term
    (:mod:`landmarks.losses.terms`).

    * ``"perceptual"``: :class:`PerceptualLoss` (:func:`perceptual_loss`: ``cfg.layers`` that
      fit ``image_size``, VGG-19 weights ``cfg.vgg_weights``, ``cfg.momentum``); it carries
      ``weights_description`` (where the weights came from, for the log).
    * ``"l1"`` / ``"l2"``: :class:`PixelLoss`.

    Every loss is called as ``loss(prediction, target, mask=None) -> dict`` with ``"loss"``.
    ``cfg.use_mask`` is for the caller (whether to pass the warp's mask).

    Raises:
        ValueError: unknown ``cfg.name`` or layer name (the message lists the valid names).
        WeightsNotFoundError: the requested VGG-19 weights are not available
            (:mod:`landmarks.weights`).
    """
    if cfg.name not in term_names() or not term_class(cfg.name).reconstructs:
        names = [n for n in term_names() if term_class(n).reconstructs]
        raise ValueError(f"unknown loss {cfg.name!r}; expected {', '.join(names)}")
    return build_term(cfg.name, cfg, image_size).loss
