"""Small building blocks shared by the models."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from landmarks.nets.vgg import VGG19Features


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """``kernel_size`` conv ('same' padding, optionally dilated) → BatchNorm → ReLU;
    (B,Cin,H,W) → (B,Cout,H/s,W/s)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                  padding=dilation * (kernel_size // 2), dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DilatedContext(nn.Module):
    """``layers`` residual blocks ``x + conv_bn_relu(x)`` of 3×3 convs dilated 2, 4, 8, …: three
    reach 2 + 4 + 8 = 14 cells, corner to corner of a 16×16 map, so that a score map can weigh
    where the rest of the object is (which side a hand is on) beyond a local texture. Zero
    layers is the identity, with no parameters. (B,C,H,W) → (B,C,H,W).
    """

    def __init__(self, channels: int, layers: int) -> None:
        super().__init__()
        if layers < 0:
            raise ValueError(f"context layers must be >= 0, got {layers}")
        self.blocks = nn.ModuleList(conv_bn_relu(channels, channels, dilation=2 ** (i + 1))
                                    for i in range(layers))

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = x + block(x)
        return x


class Encoder(nn.Module):
    """The paper's encoder: 7×7@w, 3×3@w, then blocks of [3×3 stride 2, 3×3] doubling the
    channels until the feature map is ``out_size`` wide.

    (B, Cin, S, S) → (B, w·2^n, out_size, out_size) with n = log2(S / out_size).
    """

    def __init__(self, in_channels: int, width: int, image_size: int, out_size: int) -> None:
        super().__init__()
        if image_size % out_size or (image_size // out_size) & (image_size // out_size - 1):
            raise ValueError(f"image_size {image_size} must be out_size {out_size} times a "
                             f"power of two")
        layers: list[nn.Module] = [conv_bn_relu(in_channels, width, 7), conv_bn_relu(width, width)]
        channels, size = width, image_size
        while size > out_size:
            layers += [conv_bn_relu(channels, channels * 2, stride=2),
                       conv_bn_relu(channels * 2, channels * 2)]
            channels, size = channels * 2, size // 2
        self.layers = nn.Sequential(*layers)
        self.out_channels = channels

    def forward(self, x):
        return self.layers(x)


class Renderer(nn.Module):
    """The official 'simple renderer': at each scale from ``in_size`` up to ``image_size`` two
    3×3 conv+BN+ReLU then bilinear ×2; at the final scale one conv+BN+ReLU and a last 3×3 conv
    to RGB with no activation. Channels start at ``channels`` and halve per scale down to
    ``min_channels``.

    (B, Cin, in_size, in_size) → (B, 3, image_size, image_size).
    """

    def __init__(self, in_channels: int, in_size: int, image_size: int, channels: int = 256,
                 min_channels: int = 32, out_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size, c_in, c = in_size, in_channels, channels
        while True:
            layers.append(conv_bn_relu(c_in, c))
            if size >= image_size:
                layers.append(nn.Conv2d(c, out_channels, 3, padding=1))
                break
            layers += [conv_bn_relu(c, c),
                       nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)]
            size *= 2
            c_in, c = c, max(c // 2, min_channels)
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class PretrainedVGGEncoder(nn.Module):
    """A landmark encoder on a frozen ImageNet VGG-19 trunk (an option beyond the paper): the
    trunk's activations at the stride that gives ``out_size`` (conv3_4 at stride 4, conv4_4 at
    8, conv5_4 at 16), then one trainable 3×3 conv+BN+ReLU to ``channels``.

    (B,3,S,S) in [0,1] → (B, channels, out_size, out_size). The trunk's weights come from
    the model's ``load_pretrained``; they never train (and are saved in checkpoints, so a
    checkpoint still needs nothing but itself).
    """

    _LAYER_AT_STRIDE = {4: "conv3_4", 8: "conv4_4", 16: "conv5_4"}

    def __init__(self, image_size: int, out_size: int, channels: int) -> None:
        super().__init__()
        stride = image_size // out_size
        if image_size % out_size or stride not in self._LAYER_AT_STRIDE:
            raise ValueError(f"the vgg19 detector needs image_size / heatmap_size in (4, 8, 16), "
                             f"got {image_size} / {out_size}")
        layer = self._LAYER_AT_STRIDE[stride]
        self.trunk = VGG19Features([layer])
        in_channels = 256 if layer == "conv3_4" else 512
        self.head = conv_bn_relu(in_channels, channels)
        self.out_channels = channels

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            feats = self.trunk(x)[0]
        return self.head(feats)
