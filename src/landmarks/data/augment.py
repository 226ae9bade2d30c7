"""Appearance augmentation of training pairs (``data.augment``), beyond the papers.

A landmark detector trained on a few people can key on what those people look like (skin tone,
lighting, the camera's colour and sharpness) instead of where their facial parts are. Drawing a
new photometric look for every pair — colour jitter, greyscale, blur, JPEG compression — makes
appearance a poor stand-in for identity. The *same* draw is applied to both images of a pair
(source and target, or the one image that TPS warps turn into a pair): the methods render the
target from the source's appearance, so the two must keep sharing it; only the geometry differs
between them, as before.

Options (each off at 0; :data:`AUGMENT_KEYS`):

- ``brightness``, ``contrast``, ``saturation``: factors drawn uniformly from ``[1-s, 1+s]``;
- ``hue``: a hue shift drawn uniformly from ``[-h, h]`` turns (0.5 = half the colour circle);
- ``greyscale``: probability of turning the pair grey (kept as 3 channels);
- ``blur``: probability of a Gaussian blur, σ drawn from ``[0.3, blur_sigma]`` pixels;
- ``jpeg``: probability of a JPEG round trip at a quality drawn from ``[jpeg_quality, 95]``.

Randomness comes from torch's RNG in the data workers (their per-worker seeding applies), as
for the partner frames of :mod:`landmarks.data.pairs`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import kornia
import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from landmarks.data.transforms import DatasetError

__all__ = ["AUGMENT_KEYS", "AppearanceAugmented", "PairAugmentation", "check_augment"]

#: option → (default, low, high): the range each value must lie in.
AUGMENT_KEYS: dict[str, tuple[float, float, float]] = {
    "brightness": (0.0, 0.0, 1.0),
    "contrast": (0.0, 0.0, 1.0),
    "saturation": (0.0, 0.0, 1.0),
    "hue": (0.0, 0.0, 0.5),
    "greyscale": (0.0, 0.0, 1.0),
    "blur": (0.0, 0.0, 1.0),
    "blur_sigma": (1.5, 0.3, 10.0),
    "jpeg": (0.0, 0.0, 1.0),
    "jpeg_quality": (30.0, 5.0, 95.0),
}

#: the keys of an item whose images get augmented (pair datasets, or an image folder's one image)
IMAGE_KEYS = ("source", "target", "image")


def check_augment(options: Mapping[str, Any]) -> dict[str, float]:
    """``data.augment`` with every option filled in, checked: unknown keys and values out of
    range raise :class:`DatasetError` naming ``data.augment.<key>`` and the expected range."""
    unknown = sorted(set(options) - set(AUGMENT_KEYS))
    if unknown:
        raise DatasetError(f"config key 'data.augment': unknown option(s) "
                           f"{', '.join(map(repr, unknown))}; valid options: "
                           f"{', '.join(AUGMENT_KEYS)}")
    out: dict[str, float] = {}
    for key, (default, lo, hi) in AUGMENT_KEYS.items():
        value = options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not lo <= float(value) <= hi:
            raise DatasetError(f"config key 'data.augment.{key}': expected a number in "
                               f"[{lo:g}, {hi:g}], got {value!r}")
        out[key] = float(value)
    return out


def _uniform(lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand(()))


def _chance(p: float) -> bool:
    return p > 0 and float(torch.rand(())) < p


def _jpeg(images: Tensor, quality: int) -> Tensor:
    """A JPEG round trip (Pillow, 4:2:0) of each image of ``images`` (N,3,H,W) in [0,1]."""
    out = []
    for image in images:
        array = (image.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as im:
            decoded = np.asarray(im.convert("RGB"))
        out.append(torch.from_numpy(decoded.copy()).permute(2, 0, 1).float() / 255)
    return torch.stack(out)


class PairAugmentation:
    """One photometric draw per call, applied alike to every image given.

    ``PairAugmentation(options)(images)``: ``images`` (N,3,H,W) float in [0,1] (the images of one
    pair) → the same shape, all with the same brightness/contrast/saturation/hue factors, the
    same greyscale/blur/JPEG decisions and parameters. ``options`` as :func:`check_augment`.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = check_augment(options)

    @property
    def active(self) -> bool:
        """Whether any option changes the images."""
        o = self.options
        return any(o[k] > 0 for k in ("brightness", "contrast", "saturation", "hue",
                                       "greyscale", "blur", "jpeg"))

    def __call__(self, images: Tensor) -> Tensor:
        o = self.options
        x = images.float()
        # colour jitter, in a random order of the four adjustments (as torchvision's ColorJitter)
        for i in torch.randperm(4).tolist():
            if i == 0 and o["brightness"] > 0:
                x = x * _uniform(1 - o["brightness"], 1 + o["brightness"])
            elif i == 1 and o["contrast"] > 0:
                x = kornia.enhance.adjust_contrast(
                    x, _uniform(1 - o["contrast"], 1 + o["contrast"]), clip_output=False)
            elif i == 2 and o["saturation"] > 0:
                x = kornia.enhance.adjust_saturation(
                    x.clamp(0, 1), _uniform(1 - o["saturation"], 1 + o["saturation"]))
            elif i == 3 and o["hue"] > 0:
                shift = _uniform(-o["hue"], o["hue"]) * 2 * math.pi
                x = kornia.enhance.adjust_hue(x.clamp(0, 1), shift)
            x = x.clamp(0, 1)
        if _chance(o["greyscale"]):
            x = kornia.color.rgb_to_grayscale(x).expand_as(x).contiguous()
        if _chance(o["blur"]):
            sigma = _uniform(0.3, o["blur_sigma"])
            k = 2 * math.ceil(2 * sigma) + 1
            x = kornia.filters.gaussian_blur2d(x, (k, k), (sigma, sigma), border_type="replicate")
        if _chance(o["jpeg"]):
            x = _jpeg(x, round(_uniform(o["jpeg_quality"], 95)))
        return x.clamp(0, 1).to(images.dtype)


class AppearanceAugmented(Dataset):
    """A training dataset whose items' images ("source"/"target", or "image") get one
    :class:`PairAugmentation` draw per item; other keys (frame numbers, flows) pass through, and
    ``None`` items (unreadable files) stay ``None``."""

    def __init__(self, dataset: Dataset, options: Mapping[str, Any]) -> None:
        self.dataset = dataset
        self.augment = PairAugmentation(options)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:  # the reader's own attributes (skipped, videos)
        if name in ("dataset", "augment"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        item = self.dataset[index]
        if item is None:
            return None
        keys = [k for k in IMAGE_KEYS if k in item]
        done = self.augment(torch.stack([item[k] for k in keys]))
        return {**item, **dict(zip(keys, done, strict=True))}

    def __repr__(self) -> str:
        on = {k: v for k, v in self.augment.options.items() if v}
        return f"AppearanceAugmented({self.dataset!r}, {on})"
