"""Pretrained networks shared by the models and the losses (below both in the layering):
VGG-19 (the perceptual loss's feature extractor and the optional frozen detector trunk)."""

from landmarks.nets.vgg import (
    VALID_LAYERS,
    VGG19_LAYERS,
    VGG19Features,
    check_layers,
    layer_stride,
    load_vgg19_weights,
)

__all__ = [
    "VALID_LAYERS",
    "VGG19_LAYERS",
    "VGG19Features",
    "check_layers",
    "layer_stride",
    "load_vgg19_weights",
]
