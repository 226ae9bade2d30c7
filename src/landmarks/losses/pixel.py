"""Pixel reconstruction losses (L1 / L2) and the masked mean shared by every reconstruction loss."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def resize_mask(mask: Tensor, size: tuple[int, int]) -> Tensor:
    """``mask`` ``(B, 1, H, W)`` bilinearly resized to ``size`` = ``(h, w)`` → ``(B, 1, h, w)``,
    float32.

    Plain bilinear interpolation with ``align_corners=False`` and no antialiasing, as the official
    code's ``tf.image.resize_bilinear``; the mask is returned unchanged (as float32) when its size
    already matches.
    """
    mask = mask.float()
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask, size=size, mode="bilinear", align_corners=False)


def masked_mean(values: Tensor, mask: Tensor | None = None) -> Tensor:
    """``mean(mask * values)`` over every element, in float32 → scalar.

    ``values`` is ``(B, C, h, w)``; ``mask`` is ``(B, 1, H, W)`` or ``(1, 1, H, W)`` (resized to
    ``(h, w)`` with :func:`resize_mask` and broadcast over batch and channels) or ``None`` for all
    ones. The mean divides by the number of elements of ``values``, not by the mask's sum (as the
    official code).
    """
    values = values.float()
    if mask is None:
        return values.mean()
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] not in (1, values.shape[0]):
        raise ValueError(f"mask must be (B, 1, H, W) with B = {values.shape[0]} (or 1), "
                         f"got {tuple(mask.shape)}")
    return (resize_mask(mask, (values.shape[-2], values.shape[-1])) * values).mean()


def pixel_error(prediction: Tensor, target: Tensor, kind: str,
                mask: Tensor | None = None) -> Tensor:
    """``mean(mask * |target - prediction|^p)`` with p = 1 (``"l1"``) or 2 (``"l2"``) → scalar.

    ``prediction`` and ``target`` are ``(B, C, H, W)``; ``mask`` is ``(B, 1, H, W)`` or ``None``.
    """
    diff = target.float() - prediction.float()
    if kind == "l1":
        err = diff.abs()
    elif kind == "l2":
        err = diff.square()
    else:
        raise ValueError(f"unknown pixel loss {kind!r}; expected 'l1' or 'l2'")
    return masked_mean(err, mask)


class PixelLoss(nn.Module):
    """L1 or L2 reconstruction loss on pixels, optionally masked (see :func:`pixel_error`)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind not in ("l1", "l2"):
            raise ValueError(f"unknown pixel loss {kind!r}; expected 'l1' or 'l2'")
        self.kind = kind

    def forward(self, prediction: Tensor, target: Tensor,
                mask: Tensor | None = None) -> dict[str, Tensor]:
        """``prediction``, ``target`` ``(B, C, H, W)``, ``mask`` ``(B, 1, H, W)`` or ``None``.

        Returns ``{"loss": scalar, "pixel/<kind>": the same value, detached}``.
        """
        if prediction.shape != target.shape:
            raise ValueError(f"prediction {tuple(prediction.shape)} and target "
                             f"{tuple(target.shape)} differ in shape")
        loss = pixel_error(prediction, target, self.kind, mask)
        return {"loss": loss, f"pixel/{self.kind}": loss.detach()}
