"""The first-order motion model's own networks, layer for layer (Siarohin et al., NeurIPS 2019;
reference code: first-order-model at commit c027484, ``modules/``), for the ``fomm`` model
(:mod:`landmarks.models.fomm`), whose checkpoints ``landmarks import fomm`` reads.

Everything here works in FOMM's units: keypoints and sampling grids in ``[-1, 1]`` on a grid
made with ``linspace`` (:func:`fomm_grid`, ``align_corners=True``: ``±1`` are the centres of the
border pixels). :class:`~landmarks.models.fomm.FommModel` converts to the package's convention
at its boundary. Module and parameter names follow FOMM's, so its state dicts load unchanged:

* :class:`FommHourglass`: ``num_blocks`` down blocks (3×3 conv with bias, BN, ReLU, 2×2 average
  pooling), as many up blocks (nearest ×2, 3×3 conv, BN, ReLU), each up block's output
  concatenated with the same-scale encoder output, the last with the input itself, so the
  output has ``block_expansion + in_channels`` channels.
* :class:`FommKeypointDetector`: Gaussian downscaling (:class:`GaussianDownscale`), the
  hourglass, 7×7 heads with padding 0 (the heatmaps are 6 pixels smaller than the features).
* :class:`FommDenseMotion`: the dense-motion hourglass reads, per motion ``k`` (background
  first), ``[H_k, R_k, G_k, B_k]`` interleaved; 7×7 heads with padding 3.
* :class:`FommGenerator`: the occlusion-aware generator, which owns the dense-motion network
  (``dense_motion_network``, as in FOMM), with nearest upsampling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from landmarks.models.motion import combine_motions, keypoint_difference_heatmaps, sparse_motions

__all__ = [
    "FommDenseMotion",
    "FommGenerator",
    "FommHourglass",
    "FommKeypointDetector",
    "GaussianDownscale",
    "fomm_grid",
    "gaussian_kernel",
]


def fomm_grid(h: int, w: int, device: torch.device | str | None = None) -> Tensor:
    """FOMM's coordinate grid (``make_coordinate_grid``): ``x_j = 2 j / (w - 1) - 1``,
    ``y_i = 2 i / (h - 1) - 1``, so ``±1`` are the centres of the border pixels
    (``align_corners=True``).

    Returns:
        ``(h, w, 2)`` of ``(x, y)``; e.g. ``w = 3`` gives x = -1, 0, 1.
    """
    x = 2 * (torch.arange(w, device=device, dtype=torch.float32) / (w - 1)) - 1
    y = 2 * (torch.arange(h, device=device, dtype=torch.float32) / (h - 1)) - 1
    return torch.stack((x.view(1, w).expand(h, w), y.view(h, 1).expand(h, w)), dim=-1)


def gaussian_kernel(scale: float) -> Tensor:
    """FOMM's anti-aliasing kernel for downscaling by ``scale``: a normalised 2-D Gaussian of
    ``σ = (1/scale − 1) / 2`` pixels on ``2·round(4σ) + 1`` taps (scale 0.25: σ 1.5, 13 taps).

    Returns:
        ``(k, k)``, summing to 1.
    """
    sigma = (1 / scale - 1) / 2
    size = 2 * round(sigma * 4) + 1
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    kernel = g[:, None] * g[None, :]
    return kernel / kernel.sum()


class GaussianDownscale(nn.Module):
    """FOMM's ``AntiAliasInterpolation2d``: blur with :func:`gaussian_kernel` (zero padding,
    kernel centred on each pixel) and keep every ``1/scale``-th pixel from the first, so output
    pixel ``i`` is input pixel ``i/scale``. ``scale`` must be 1 or ``1/n`` for an integer
    ``n``.

    ``forward((B,C,H,W)) -> (B,C,ceil(H·scale),ceil(W·scale))``; scale 1 returns the input.
    The kernel is the buffer ``weight`` (C,1,k,k), as in FOMM's state dicts.
    """

    def __init__(self, channels: int, scale: float) -> None:
        super().__init__()
        self.scale = float(scale)
        self.stride = round(1 / self.scale)
        if self.scale != 1.0 and abs(self.stride * self.scale - 1) > 1e-9:
            raise ValueError(f"scale must be 1 or 1/n for an integer n, got {scale}")
        self.channels = channels
        if self.scale != 1.0:
            kernel = gaussian_kernel(self.scale)
            self.pad = kernel.shape[-1] // 2
            self.register_buffer("weight", kernel.expand(channels, 1, *kernel.shape).clone())

    def forward(self, x: Tensor) -> Tensor:
        if self.scale == 1.0:
            return x
        p = self.pad
        return F.conv2d(F.pad(x, (p, p, p, p)), self.weight, stride=self.stride,
                        groups=self.channels)


class _SameBlock(nn.Module):
    """Conv (with bias) → BN → ReLU, size kept (FOMM's ``SameBlock2d``)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, padding=kernel_size // 2)
        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.norm(self.conv(x)))


class _DownBlock(_SameBlock):
    """3×3 conv → BN → ReLU → 2×2 average pooling (FOMM's ``DownBlock2d``)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(super().forward(x), 2)


class _UpBlock(_SameBlock):
    """Nearest ×2 → 3×3 conv → BN → ReLU (FOMM's ``UpBlock2d``)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _ResBlock(nn.Module):
    """BN → ReLU → 3×3 conv, twice, plus the input (FOMM's ``ResBlock2d``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = nn.BatchNorm2d(channels)
        self.norm2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        return x + self.conv2(F.relu(self.norm2(out)))


def _width(block_expansion: int, level: int, max_features: int) -> int:
    return min(max_features, block_expansion * 2**level)


class _Encoder(nn.Module):
    def __init__(self, block_expansion: int, in_channels: int, num_blocks: int,
                 max_features: int) -> None:
        super().__init__()
        self.down_blocks = nn.ModuleList(
            _DownBlock(in_channels if i == 0 else _width(block_expansion, i, max_features),
                       _width(block_expansion, i + 1, max_features))
            for i in range(num_blocks))


class _Decoder(nn.Module):
    def __init__(self, block_expansion: int, num_blocks: int, max_features: int) -> None:
        super().__init__()
        self.up_blocks = nn.ModuleList(
            _UpBlock((1 if i == num_blocks - 1 else 2)
                     * _width(block_expansion, i + 1, max_features),
                     _width(block_expansion, i, max_features))
            for i in reversed(range(num_blocks)))


class FommHourglass(nn.Module):
    """FOMM's hourglass (see the module docstring).

    Args:
        block_expansion: level ``i`` (after ``i`` poolings) has
            ``min(max_features, block_expansion · 2^i)`` channels.
        in_channels: channels of the input.
        num_blocks: down blocks (poolings); H and W must be divisible by ``2^num_blocks``.
        max_features: channel cap.

    ``forward((B,in_channels,H,W)) -> (B, block_expansion + in_channels, H, W)``.
    """

    def __init__(self, block_expansion: int, in_channels: int, num_blocks: int,
                 max_features: int) -> None:
        super().__init__()
        self.num_blocks = num_blocks
        self.encoder = _Encoder(block_expansion, in_channels, num_blocks, max_features)
        self.decoder = _Decoder(block_expansion, num_blocks, max_features)
        self.out_channels = block_expansion + in_channels

    def forward(self, x: Tensor) -> Tensor:
        n = 2**self.num_blocks
        if x.shape[-1] % n or x.shape[-2] % n:
            raise ValueError(f"hourglass input {tuple(x.shape[-2:])} is not divisible by {n}")
        skips = [x]
        for block in self.encoder.down_blocks:
            skips.append(block(skips[-1]))
        out = skips.pop()
        for block in self.decoder.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return out


class FommKeypointDetector(nn.Module):
    """FOMM's ``KPDetector``, in FOMM's units.

    Args:
        num_kp: K.
        block_expansion, max_features, num_blocks: the hourglass.
        temperature: of the heatmaps' softmax.
        estimate_jacobian: a Jacobian head (else the Jacobians are the identity).
        scale_factor: the frame is downscaled by this (:class:`GaussianDownscale`).
        pad: padding of the 7×7 heads (FOMM: 0).
        single_jacobian_map: one Jacobian map shared by all keypoints.

    ``forward(images (B,3,S,S)) -> {"value": (B,K,2), "jacobian": (B,K,2,2), "heatmap":
    (B,K,h,w)}`` with ``h = S·scale_factor − 6 + 2·pad``; "value" is the heatmaps' expectation
    on :func:`fomm_grid` ``(h, w)``.
    """

    def __init__(self, num_kp: int, block_expansion: int, max_features: int, num_blocks: int,
                 temperature: float, estimate_jacobian: bool = True, scale_factor: float = 1.0,
                 pad: int = 0, single_jacobian_map: bool = False, num_channels: int = 3) -> None:
        super().__init__()
        self.predictor = FommHourglass(block_expansion, num_channels, num_blocks, max_features)
        c = self.predictor.out_channels
        self.kp = nn.Conv2d(c, num_kp, 7, padding=pad)
        self.num_jacobian_maps = 1 if single_jacobian_map else num_kp
        self.jacobian: nn.Conv2d | None = None
        if estimate_jacobian:
            self.jacobian = nn.Conv2d(c, 4 * self.num_jacobian_maps, 7, padding=pad)
            nn.init.zeros_(self.jacobian.weight)
            with torch.no_grad():
                self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0])
                                         .repeat(self.num_jacobian_maps))
        self.temperature = float(temperature)
        self.scale_factor = float(scale_factor)
        if self.scale_factor != 1.0:
            self.down = GaussianDownscale(num_channels, self.scale_factor)

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        x = self.down(images) if self.scale_factor != 1.0 else images
        features = self.predictor(x)
        logits = self.kp(features)
        b, k, h, w = logits.shape
        heatmap = F.softmax(logits.view(b, k, -1) / self.temperature, dim=2).view(b, k, h, w)
        grid = fomm_grid(h, w, device=heatmap.device)
        value = (heatmap.unsqueeze(-1) * grid).sum(dim=(2, 3))
        if self.jacobian is None:
            jacobian = torch.eye(2, device=value.device).expand(b, k, 2, 2)
        else:
            maps = self.jacobian(features).reshape(b, self.num_jacobian_maps, 4, h, w)
            jacobian = (heatmap.unsqueeze(2) * maps).view(b, k, 4, -1).sum(-1).view(b, k, 2, 2)
        return {"value": value, "jacobian": jacobian, "heatmap": heatmap}


def _grid_sample(images: Tensor, grid: Tensor, align_corners: bool) -> Tensor:
    """``grid_sample`` (bilinear, zero padding) with FOMM's grid convention as run: FOMM calls it
    without ``align_corners``, which means False on torch >= 1.3 and True on the torch 1.0 its
    checkpoints were trained with. images (N,C,H,W), grid (N,h,w,2) → (N,C,h,w)."""
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=align_corners)


class FommDenseMotion(nn.Module):
    """FOMM's ``DenseMotionNetwork``, in FOMM's units.

    Args:
        num_kp: K.
        block_expansion, max_features, num_blocks: the hourglass, which reads ``4 (K+1)``
            channels: per motion (background first) the keypoint heatmap difference
            (:func:`~landmarks.models.motion.keypoint_difference_heatmaps`) then the RGB of the
            source deformed by that motion (:func:`~landmarks.models.motion.sparse_motions`).
        estimate_occlusion_map: an occlusion head.
        scale_factor: the source is downscaled by this (:class:`GaussianDownscale`).
        kp_variance: of the keypoint Gaussians.
        align_corners: of ``grid_sample`` (see :func:`_grid_sample`).

    ``forward(source (B,3,S,S), kp_source, kp_driving) -> {"deformation": (B,h,w,2), "mask":
    (B,K+1,h,w), "sparse_deformed": (B,K+1,3,h,w), "occlusion_map": (B,1,h,w) (with the
    occlusion head)}``, ``h = S·scale_factor``; each motion a dict of "value" (B,K,2) and
    "jacobian" (B,K,2,2).
    """

    def __init__(self, num_kp: int, block_expansion: int, max_features: int, num_blocks: int,
                 estimate_occlusion_map: bool = True, scale_factor: float = 1.0,
                 kp_variance: float = 0.01, align_corners: bool = False,
                 num_channels: int = 3) -> None:
        super().__init__()
        self.hourglass = FommHourglass(block_expansion, (num_kp + 1) * (num_channels + 1),
                                       num_blocks, max_features)
        c = self.hourglass.out_channels
        self.mask = nn.Conv2d(c, num_kp + 1, 7, padding=3)
        self.occlusion = nn.Conv2d(c, 1, 7, padding=3) if estimate_occlusion_map else None
        self.num_kp = num_kp
        self.scale_factor = float(scale_factor)
        self.kp_variance = float(kp_variance)
        self.align_corners = align_corners
        if self.scale_factor != 1.0:
            self.down = GaussianDownscale(num_channels, self.scale_factor)

    def forward(self, source: Tensor, kp_source: dict[str, Tensor],
                kp_driving: dict[str, Tensor]) -> dict[str, Tensor]:
        small = self.down(source) if self.scale_factor != 1.0 else source
        b, c, h, w = small.shape
        k1 = self.num_kp + 1
        grid = fomm_grid(h, w, device=small.device)
        heat = keypoint_difference_heatmaps(kp_driving["value"], kp_source["value"], (h, w),
                                            self.kp_variance, grid=grid)
        motions = sparse_motions({"keypoints": kp_source["value"],
                                  "jacobians": kp_source["jacobian"]},
                                 {"keypoints": kp_driving["value"],
                                  "jacobians": kp_driving["jacobian"]}, (h, w), grid=grid)
        repeated = small.unsqueeze(1).expand(b, k1, c, h, w).reshape(b * k1, c, h, w)
        deformed = _grid_sample(repeated, motions.reshape(b * k1, h, w, 2), self.align_corners)
        deformed = deformed.view(b, k1, c, h, w)
        x = torch.cat([heat.unsqueeze(2), deformed], dim=2).view(b, k1 * (c + 1), h, w)
        features = self.hourglass(x)
        mask = F.softmax(self.mask(features), dim=1)
        out = {"deformation": combine_motions(mask, motions), "mask": mask,
               "sparse_deformed": deformed}
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(features))
        return out


def deform(images: Tensor, deformation: Tensor, align_corners: bool) -> Tensor:
    """FOMM's ``deform_input``: the deformation (B,h,w,2) resized bilinearly to the images'
    (B,C,H,W) size when it differs, then ``grid_sample`` (:func:`_grid_sample`) → (B,C,H,W)."""
    h, w = images.shape[-2:]
    if tuple(deformation.shape[1:3]) != (h, w):
        deformation = F.interpolate(deformation.permute(0, 3, 1, 2), size=(h, w),
                                    mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
    return _grid_sample(images, deformation, align_corners)


class FommGenerator(nn.Module):
    """FOMM's ``OcclusionAwareGenerator`` (with its dense-motion network), in FOMM's units.

    Args:
        num_kp: K.
        block_expansion: channels of the first 7×7 block; level ``i`` has
            ``min(max_features, block_expansion · 2^i)``.
        max_features: channel cap.
        num_down_blocks: down blocks (average pooling) before the deformation, as many up
            blocks (nearest ×2) after it.
        num_bottleneck_blocks: residual blocks after the deformation.
        estimate_occlusion_map: the features are multiplied by the occlusion map.
        dense_motion: keyword arguments of :class:`FommDenseMotion` (block_expansion,
            max_features, num_blocks, scale_factor, kp_variance).
        align_corners: of ``grid_sample`` (see :func:`_grid_sample`).

    ``forward(source (B,3,S,S), kp_source, kp_driving) -> {"prediction": (B,3,S,S) in [0,1],
    "deformed": (B,3,S,S), "deformation", "mask", "sparse_deformed", "occlusion_map"}`` (the
    last four from :class:`FommDenseMotion`).
    """

    def __init__(self, num_kp: int, block_expansion: int, max_features: int,
                 num_down_blocks: int, num_bottleneck_blocks: int,
                 estimate_occlusion_map: bool, dense_motion: dict[str, float],
                 align_corners: bool = False, num_channels: int = 3) -> None:
        super().__init__()
        self.dense_motion_network = FommDenseMotion(
            num_kp, estimate_occlusion_map=estimate_occlusion_map, align_corners=align_corners,
            num_channels=num_channels, **dense_motion)  # type: ignore[arg-type]
        self.first = _SameBlock(num_channels, block_expansion, kernel_size=7)
        n = num_down_blocks
        self.down_blocks = nn.ModuleList(
            _DownBlock(_width(block_expansion, i, max_features),
                       _width(block_expansion, i + 1, max_features)) for i in range(n))
        self.up_blocks = nn.ModuleList(
            _UpBlock(_width(block_expansion, n - i, max_features),
                     _width(block_expansion, n - i - 1, max_features)) for i in range(n))
        c = _width(block_expansion, n, max_features)
        self.bottleneck = nn.Sequential()
        for i in range(num_bottleneck_blocks):
            self.bottleneck.add_module(f"r{i}", _ResBlock(c))
        self.final = nn.Conv2d(block_expansion, num_channels, 7, padding=3)
        self.align_corners = align_corners

    def forward(self, source: Tensor, kp_source: dict[str, Tensor],
                kp_driving: dict[str, Tensor]) -> dict[str, Tensor]:
        out = self.first(source)
        for block in self.down_blocks:
            out = block(out)
        motion = self.dense_motion_network(source, kp_source, kp_driving)
        out = deform(out, motion["deformation"], self.align_corners)
        occlusion = motion.get("occlusion_map")
        if occlusion is not None:
            if occlusion.shape[-2:] != out.shape[-2:]:
                occlusion = F.interpolate(occlusion, size=out.shape[-2:], mode="bilinear",
                                          align_corners=False)
            out = out * occlusion
        deformed = deform(source, motion["deformation"], self.align_corners)
        out = self.bottleneck(out)
        for block in self.up_blocks:
            out = block(out)
        prediction = torch.sigmoid(self.final(out))
        return {**motion, "prediction": prediction, "deformed": deformed}
