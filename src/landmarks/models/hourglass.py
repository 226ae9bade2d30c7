"""An hourglass (encoder–decoder with skip connections at every scale; Newell et al. 2016, as
used by Zhang et al. 2018's lmdis-rep for their landmark detector).

(B, Cin, H, W) → (B, widths[0], H, W), H and W divisible by 2^(len(widths) - 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from landmarks.models.layers import conv_bn_relu


class Hourglass(nn.Module):
    """Down: at level ``i`` (after a 2×2 max-pool for ``i > 0``) two 3×3 conv+BN+ReLU to
    ``widths[i]`` channels. Up: from the coarsest level, nearest ×2 upsampling, concatenation
    with the same-scale down features, and one 3×3 conv+BN+ReLU to ``widths[i]`` channels.

    Args:
        in_channels: channels of the input.
        widths: channels per level, finest first; ``len(widths) - 1`` poolings.
    """

    def __init__(self, in_channels: int, widths: Sequence[int]) -> None:
        super().__init__()
        if not widths:
            raise ValueError("an hourglass needs at least one level")
        self.widths = list(widths)
        down: list[nn.Module] = []
        c = in_channels
        for w in self.widths:
            down.append(nn.Sequential(conv_bn_relu(c, w), conv_bn_relu(w, w)))
            c = w
        self.down = nn.ModuleList(down)
        self.up = nn.ModuleList(conv_bn_relu(self.widths[i + 1] + self.widths[i], self.widths[i])
                                for i in range(len(self.widths) - 1))
        self.out_channels = self.widths[0]

    def forward(self, x: Tensor) -> Tensor:
        n = len(self.widths)
        if x.shape[-1] % 2 ** (n - 1) or x.shape[-2] % 2 ** (n - 1):
            raise ValueError(f"hourglass input {tuple(x.shape[-2:])} is not divisible by "
                             f"2^{n - 1}")
        skips = []
        for i, block in enumerate(self.down):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for i in reversed(range(n - 1)):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = self.up[i](torch.cat([x, skips[i]], dim=1))
        return x
