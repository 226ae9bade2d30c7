"""Keypoints learned through motion transfer: the first-order motion model (Siarohin, Lathuilière,
Tulyakov, Ricci, Sebe, NeurIPS 2019, "First Order Motion Model for Image Animation"; reference
code: first-order-model), the method of seed 003.

Three parts, each its own module below, as in the paper's Fig. 2:

* :class:`KeypointDetector`: an hourglass on a downscaled frame, K heatmaps (a softmax over the
  pixels at temperature ``temperature``), the keypoints as their expectations, and a 2×2
  Jacobian per keypoint, the heatmap-weighted mean of a 4K-channel map regressed by a second
  head (initialised to the identity, so the first steps are pure translation).
* :class:`DenseMotion`: the first-order approximation of the backward motion near each keypoint
  (:func:`sparse_motions`, the paper's Eq. 4), plus the identity for the background; an
  hourglass over the K+1 sources deformed by each of them and the difference-of-Gaussians
  heatmaps (:func:`keypoint_difference_heatmaps`, Eq. 6) predicts soft masks that combine them
  into one dense motion (:func:`combine_motions`, Eq. 5), and an occlusion map.
* :class:`Generator`: encodes the source, warps its features with the dense motion
  (``grid_sample``), multiplies them by the occlusion map (Eq. 8), and decodes.

Training: a pair (source frame, driving frame) of one video; the source is redrawn with the
driving frame's motion and the reconstruction is compared with the driving frame (the loss terms
``perceptual`` or ``pyramid_perceptual``), with the equivariance of keypoints
(``equivariance``) and of Jacobians (``jacobian_equivariance``) under the pair's random TPS warp.

Conventions: the package's (keypoints ``(x, y)`` normalised to ``[-1, 1]``, pixel centres with
``align_corners=False``; a motion ``T`` maps a point of the driving frame to the point of the
source frame it shows). FOMM's Gaussian variance 0.01 and temperature 0.1 were set in its
``[-1, 1]`` coordinates (``align_corners=True``), which differ from ours by less than a pixel.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from landmarks.geometry import warp_images
from landmarks.geometry.coords import coordinate_grid, inverse_2x2
from landmarks.models.base import (
    LandmarkModel,
    ObjectiveLike,
    StepOutput,
    TrainingPair,
    with_flows,
)
from landmarks.models.hourglass import Hourglass
from landmarks.models.layers import DilatedContext, PretrainedVGGEncoder, conv_bn_relu
from landmarks.nets.vgg import load_vgg19_weights
from landmarks.registry import register_model

__all__ = [
    "DenseMotion",
    "Generator",
    "KeypointDetector",
    "MotionModel",
    "combine_motions",
    "keypoint_difference_heatmaps",
    "motion",
    "motion_training_step",
    "sparse_motions",
]


def _downscale(images: Tensor, scale: float) -> Tensor:
    """Anti-aliased bilinear downscaling by ``scale`` (1 = unchanged)."""
    if scale == 1.0:
        return images
    return F.interpolate(images, scale_factor=scale, mode="bilinear", align_corners=False,
                         antialias=True)


def _hourglass_widths(width: int, levels: int, max_width: int) -> list[int]:
    return [min(width * 2**i, max_width) for i in range(levels)]


class KeypointDetector(nn.Module):
    """Frame → K keypoints with local affine transforms.

    Args:
        num_keypoints: K.
        width: channels of the hourglass's finest level (doubling per level up to ``max_width``).
        levels: hourglass levels (the downscaled frame's side must be divisible by
            ``2^(levels-1)``).
        scale: the frame is downscaled by this factor first (FOMM: 0.25 at 256 px).
        temperature: softmax temperature of the heatmaps (FOMM: 0.1).
        max_width: channel cap.
        backbone: ``"hourglass"`` (FOMM's, trained from scratch on the downscaled frame) or
            ``"vgg19"`` (beyond FOMM: :class:`~landmarks.models.layers.PretrainedVGGEncoder`,
            a frozen ImageNet VGG-19 trunk to conv3_4 on the full frame and one trainable conv
            of ``8 · width`` channels, as imm's and zhang's vgg19 detectors; ``levels`` and
            ``scale`` are then unused and the maps are ``S / 4`` wide).
        image_size: the frame's side S (only the vgg19 backbone needs it).
        context_layers: residual dilated 3×3 blocks between the backbone and the heads
            (:class:`~landmarks.models.layers.DilatedContext`; 0 = none, FOMM's).

    ``forward(images (B,3,S,S)) -> {"keypoints": (B,K,2), "jacobians": (B,K,2,2),
    "heatmaps": (B,K,h,w)}`` with ``h = w = S·scale`` (``S / 4`` with the vgg19 backbone);
    heatmaps sum to 1 over the pixels.
    """

    def __init__(self, num_keypoints: int, width: int = 16, levels: int = 4, scale: float = 0.5,
                 temperature: float = 0.1, max_width: int = 256, backbone: str = "hourglass",
                 image_size: int = 64, context_layers: int = 0) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.scale = float(scale)
        self.temperature = float(temperature)
        self.backbone = backbone
        # the hourglass keeps its name (FOMM's and older checkpoints' keys)
        if backbone == "hourglass":
            self.hourglass = Hourglass(3, _hourglass_widths(width, levels, max_width))
            c = self.hourglass.out_channels
        elif backbone == "vgg19":
            self.encoder = PretrainedVGGEncoder(image_size, image_size // 4, 8 * width)
            c = self.encoder.out_channels
        else:
            raise ValueError(f"detector must be 'hourglass' or 'vgg19', got {backbone!r}")
        self.context = DilatedContext(c, context_layers)
        self.heatmap_head = nn.Conv2d(c, num_keypoints, 7, padding=3)
        self.jacobian_head = nn.Conv2d(c, 4 * num_keypoints, 7, padding=3)
        # identity Jacobians at the start (FOMM)
        nn.init.zeros_(self.jacobian_head.weight)
        with torch.no_grad():
            self.jacobian_head.bias.copy_(
                torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(num_keypoints))

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        if self.backbone == "vgg19":
            feats = self.encoder(images)
        else:
            feats = self.hourglass(_downscale(images, self.scale))
        feats = self.context(feats)
        logits = self.heatmap_head(feats).float()
        b, k, h, w = logits.shape
        heatmaps = torch.softmax(logits.flatten(2) / self.temperature, dim=-1).view(b, k, h, w)
        grid = coordinate_grid(h, w, device=logits.device)  # (h, w, 2)
        keypoints = torch.einsum("bkhw,hwc->bkc", heatmaps, grid)
        jac_maps = self.jacobian_head(feats).float().view(b, k, 4, h, w)
        jacobians = torch.einsum("bkhw,bkjhw->bkj", heatmaps, jac_maps).view(b, k, 2, 2)
        return {"keypoints": keypoints, "jacobians": jacobians, "heatmaps": heatmaps}


def keypoint_difference_heatmaps(driving: Tensor, source: Tensor, size: tuple[int, int],
                                 variance: float = 0.01, grid: Tensor | None = None) -> Tensor:
    """The dense-motion network's keypoint input (FOMM Eq. 6): for each keypoint the Gaussian at
    the driving keypoint minus the Gaussian at the source keypoint, and a zero map for the
    background, ``H_k(z) = exp(-|z - p_D,k|² / 2v) - exp(-|z - p_S,k|² / 2v)``.

    Args:
        driving: ``(B, K, 2)`` driving keypoints.
        source: ``(B, K, 2)`` source keypoints.
        size: ``(h, w)`` of the maps.
        variance: ``v``, normalised units² (FOMM: 0.01, i.e. σ = 0.1 = 5% of the image side).
        grid: ``(h, w, 2)`` the coordinates ``z`` of the maps' pixels; default
            :func:`~landmarks.geometry.coords.coordinate_grid` (the package's convention;
            FOMM's own network, :mod:`landmarks.models.fomm_nets`, passes its
            ``align_corners=True`` grid).

    Returns:
        ``(B, K+1, h, w)``, the background (zeros) first.

    Example: with ``p_D = p_S`` every map is 0; at ``z = p_D`` with ``p_S`` far away the map is 1.
    """
    if grid is None:
        grid = coordinate_grid(*size, device=driving.device)  # (h, w, 2)

    def gauss(kp: Tensor) -> Tensor:
        d2 = (grid - kp.float()[:, :, None, None, :]).square().sum(-1)
        return torch.exp(-0.5 * d2 / variance)

    maps = gauss(driving) - gauss(source)
    return torch.cat([torch.zeros_like(maps[:, :1]), maps], dim=1)


def sparse_motions(source: Mapping[str, Tensor], driving: Mapping[str, Tensor],
                   size: tuple[int, int], grid: Tensor | None = None) -> Tensor:
    """The first-order approximation of the backward motion near each keypoint (FOMM Eq. 4),
    ``T_k(z) = p_S,k + J_S,k J_D,k⁻¹ (z − p_D,k)``, and the identity ``T_0(z) = z`` for the
    background, on a grid of the driving frame.

    Args:
        source: "keypoints" (B,K,2) and "jacobians" (B,K,2,2) of the source frame.
        driving: the same for the driving frame.
        size: ``(h, w)`` of the grid.
        grid: ``(h, w, 2)`` the points ``z``; default
            :func:`~landmarks.geometry.coords.coordinate_grid` (as in
            :func:`keypoint_difference_heatmaps`).

    Returns:
        ``(B, K+1, h, w, 2)``: sampling grids (``grid_sample`` convention) into the source, the
        background's first.

    Example: identity Jacobians and ``p_S = p_D + d`` give ``T_k(z) = z + d``, a translation.
    """
    if grid is None:
        grid = coordinate_grid(*size, device=source["keypoints"].device)  # (h, w, 2)
    p_s = source["keypoints"].float()[:, :, None, None, :]
    p_d = driving["keypoints"].float()[:, :, None, None, :]
    # closed-form inverse: ONNX has no matrix inverse (the generator exports, landmarks export)
    jac = source["jacobians"].float() @ inverse_2x2(driving["jacobians"].float())
    rel = grid - p_d  # (B, K, h, w, 2)
    moved = torch.einsum("bkij,bkhwj->bkhwi", jac, rel) + p_s
    b = moved.shape[0]
    identity = grid.expand(b, 1, *grid.shape)
    return torch.cat([identity, moved], dim=1)


def combine_motions(masks: Tensor, motions: Tensor) -> Tensor:
    """The dense motion (FOMM Eq. 5): ``T(z) = Σ_k M_k(z) T_k(z)`` with soft masks that sum to
    1 over the K+1 motions at each pixel.

    Args:
        masks: ``(B, K+1, h, w)``.
        motions: ``(B, K+1, h, w, 2)`` (:func:`sparse_motions`).

    Returns:
        ``(B, h, w, 2)``, a sampling grid into the source.
    """
    return torch.einsum("bkhw,bkhwc->bhwc", masks.float(), motions)


def _sample(images: Tensor, grid: Tensor) -> Tensor:
    """``grid_sample`` with the package's convention, float32; images (N,C,H,W), grid (N,h,w,2)."""
    return F.grid_sample(images.float(), grid.float(), mode="bilinear", padding_mode="zeros",
                         align_corners=False)


class DenseMotion(nn.Module):
    """Sparse keypoint motions → one dense motion and an occlusion map.

    Args:
        num_keypoints: K.
        width, levels, max_width: the hourglass's size.
        scale: the source is downscaled by this factor (FOMM: 0.25 at 256 px); the motion is
            predicted at that resolution.
        variance: of the keypoint Gaussians (:func:`keypoint_difference_heatmaps`).

    ``forward(source, source_motion, driving_motion) -> {"deformation": (B,h,w,2), "masks":
    (B,K+1,h,w), "occlusion": (B,1,h,w)}``.
    """

    def __init__(self, num_keypoints: int, width: int = 16, levels: int = 4, scale: float = 0.5,
                 variance: float = 0.01, max_width: int = 256) -> None:
        super().__init__()
        self.scale = float(scale)
        self.variance = float(variance)
        k1 = num_keypoints + 1
        self.hourglass = Hourglass(4 * k1, _hourglass_widths(width, levels, max_width))
        c = self.hourglass.out_channels
        self.mask_head = nn.Conv2d(c, k1, 7, padding=3)
        self.occlusion_head = nn.Conv2d(c, 1, 7, padding=3)

    def forward(self, source: Tensor, source_motion: Mapping[str, Tensor],
                driving_motion: Mapping[str, Tensor]) -> dict[str, Tensor]:
        small = _downscale(source, self.scale)
        b, _, h, w = small.shape
        heat = keypoint_difference_heatmaps(driving_motion["keypoints"],
                                            source_motion["keypoints"], (h, w), self.variance)
        motions = sparse_motions(source_motion, driving_motion, (h, w))  # (B, K+1, h, w, 2)
        k1 = motions.shape[1]
        deformed = _sample(small.repeat_interleave(k1, dim=0), motions.flatten(0, 1))
        deformed = deformed.view(b, k1 * 3, h, w)
        feats = self.hourglass(torch.cat([heat, deformed], dim=1).to(small.dtype))
        masks = torch.softmax(self.mask_head(feats).float(), dim=1)
        occlusion = torch.sigmoid(self.occlusion_head(feats).float())
        return {"deformation": combine_motions(masks, motions), "masks": masks,
                "occlusion": occlusion}


class _ResBlock(nn.Module):
    """BN-ReLU-conv twice plus the input (FOMM's ResBlock2d)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """Source + dense motion + occlusion → the driving frame (FOMM's occlusion-aware generator).

    Args:
        width: channels of the first layer (doubling per down block up to ``max_width``).
        down_blocks: stride-2 blocks (features at ``S / 2^down_blocks``).
        res_blocks: residual blocks at the bottleneck.
        max_width: channel cap.

    ``forward(source (B,3,S,S), deformation (B,h,w,2), occlusion (B,1,h,w) | None) ->
    (B,3,S,S)`` in [0, 1].
    """

    def __init__(self, width: int = 32, down_blocks: int = 2, res_blocks: int = 4,
                 max_width: int = 256) -> None:
        super().__init__()
        self.first = conv_bn_relu(3, width, 7)
        down, c = [], width
        for _ in range(down_blocks):
            nxt = min(c * 2, max_width)
            down.append(nn.Sequential(conv_bn_relu(c, nxt), nn.AvgPool2d(2)))
            c = nxt
        self.down = nn.Sequential(*down)
        self.bottleneck = nn.Sequential(*[_ResBlock(c) for _ in range(res_blocks)])
        up = []
        for _ in range(down_blocks):
            nxt = max(c // 2, width)
            up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear",
                                                align_corners=False), conv_bn_relu(c, nxt)))
            c = nxt
        self.up = nn.Sequential(*up)
        self.final = nn.Conv2d(c, 3, 7, padding=3)

    def forward(self, source: Tensor, deformation: Tensor, occlusion: Tensor | None) -> Tensor:
        feats = self.down(self.first(source))
        h, w = feats.shape[-2:]
        grid = _resize_grid(deformation, (h, w))
        feats = _sample(feats, grid).to(feats.dtype)
        if occlusion is not None:
            feats = feats * F.interpolate(occlusion, size=(h, w), mode="bilinear",
                                          align_corners=False).to(feats.dtype)
        return torch.sigmoid(self.final(self.up(self.bottleneck(feats))).float())


def _resize_grid(grid: Tensor, size: tuple[int, int]) -> Tensor:
    """A sampling grid (B,h,w,2) resized to ``size`` (bilinear; the values are positions, so
    they are kept)."""
    if tuple(grid.shape[1:3]) == tuple(size):
        return grid
    g = F.interpolate(grid.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=False)
    return g.permute(0, 2, 3, 1)


def motion_training_step(model: LandmarkModel, pair: TrainingPair,
                         objective: ObjectiveLike) -> StepOutput:
    """One step of motion transfer for a model with ``detect`` and ``generate`` (``motion``,
    ``fomm``): detect on the source, the driving frame (the pair's target) and, for the
    equivariance terms, the driving frame under the pair's warp (one batched pass); redraw the
    source with the driving motion; the objective compares the reconstruction with the driving
    frame.

    Outputs: "reconstruction"; the driving frame's "keypoints", "jacobians", "heatmaps";
    the source's "source_keypoints", "source_jacobians", "source_heatmaps"; with a warp
    "warped_keypoints", "warped_jacobians"; "deformation", "occlusion"; and the pair's
    optical flows ("flow", "flow_back", :func:`~landmarks.models.base.with_flows`) when it
    has them, for the temporal terms.
    """
    b = pair.target.shape[0]
    images = [pair.source, pair.target]
    if objective.needs_warped_target:
        if pair.warp is None:
            raise ValueError("the equivariance terms need the pair's warp (pair.warp)")
        images.append(warp_images(pair.target, pair.warp))
    det = model.detect(torch.cat(images))
    src = {k: v[:b] for k, v in det.items()}
    drv = {k: v[b:2 * b] for k, v in det.items()}
    gen = model.generate(pair.source, src, drv)  # type: ignore[attr-defined]
    out = {"reconstruction": gen["reconstruction"], "keypoints": drv["keypoints"],
           "jacobians": drv["jacobians"], "heatmaps": drv["heatmaps"],
           "source_keypoints": src["keypoints"], "source_jacobians": src["jacobians"],
           "source_heatmaps": src["heatmaps"], "deformation": gen["deformation"],
           "occlusion": gen["occlusion"]}
    if len(images) == 3:
        out["warped_keypoints"] = det["keypoints"][2 * b:]
        out["warped_jacobians"] = det["jacobians"][2 * b:]
    out = with_flows(out, pair)
    return StepOutput(objective(out, pair.target, pair.mask, pair.warp), out)


class MotionTransfer(LandmarkModel):
    """What every motion-transfer model (``motion``, ``fomm``) shares on top of its own
    ``detect`` and ``generate``: the outputs its training step returns, :meth:`render` (redraw
    a frame with moved keypoints) and :meth:`training_step` (:func:`motion_training_step`)."""

    outputs = frozenset({"reconstruction", "keypoints", "jacobians", "heatmaps",
                         "source_keypoints", "source_jacobians", "source_heatmaps",
                         "warped_keypoints", "warped_jacobians", "deformation", "occlusion"})

    def render(self, source: Tensor, keypoints: Tensor) -> dict[str, Tensor]:
        """Redraw ``source`` with its keypoints moved to ``keypoints`` (B,K,2), the source's own
        Jacobians kept: "reconstruction" (B,3,S,S), "source_keypoints"."""
        det = self.detect(source)
        out = self.generate(source, det, {"keypoints": keypoints, "jacobians": det["jacobians"]})
        return {**out, "source_keypoints": det["keypoints"]}

    def training_step(self, pair: TrainingPair, objective: ObjectiveLike) -> StepOutput:
        """One step of motion transfer (:func:`motion_training_step`)."""
        return motion_training_step(self, pair, objective)


class MotionModel(MotionTransfer):
    """The first-order motion model (see the module docstring).

    Args:
        num_keypoints: K.
        image_size: square input/output side (divisible by ``1 / detector_scale``,
            ``1 / motion_scale`` and ``2^down_blocks``, with the hourglasses' divisibility).
        width: channels of the detector hourglass's finest level.
        levels: hourglass levels.
        detector_scale: the detector reads the frame downscaled by this factor.
        motion_scale: the dense motion is predicted at this scale.
        temperature: the detector's softmax temperature.
        variance: of the dense-motion keypoint Gaussians.
        generator_width: channels of the generator's first layer.
        down_blocks: the generator's stride-2 blocks.
        res_blocks: the generator's bottleneck blocks.
        max_width: channel cap of the hourglasses.
        motion_width: channels of the dense-motion hourglass's finest level (default ``width``;
            FOMM: twice the detector's).
        generator_max_width: channel cap of the generator (default ``max_width``).
        occlusion: whether the generator uses the occlusion map.
        estimate_jacobian: False keeps the Jacobians at the identity (zero-order motion, as
            Monkey-Net): the Jacobian head is frozen.
        detector: the keypoint detector's backbone, ``"hourglass"`` (FOMM's) or ``"vgg19"``
            (a frozen ImageNet VGG-19 trunk, beyond FOMM; :class:`KeypointDetector`).
        context_layers: residual dilated 3×3 blocks in the detector before its heads
            (:class:`~landmarks.models.layers.DilatedContext`; 0 = FOMM's detector).
    """


    def __init__(self, num_keypoints: int = 10, image_size: int = 64, width: int = 16,
                 levels: int = 4, detector_scale: float = 0.5, motion_scale: float = 0.5,
                 temperature: float = 0.1, variance: float = 0.01, generator_width: int = 32,
                 down_blocks: int = 2, res_blocks: int = 4, max_width: int = 256,
                 occlusion: bool = True, estimate_jacobian: bool = True,
                 motion_width: int | None = None, generator_max_width: int | None = None,
                 detector: str = "hourglass", context_layers: int = 0) -> None:
        super().__init__()
        for name, s in (("detector_scale", detector_scale), ("motion_scale", motion_scale)):
            if not 0 < s <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {s}")
            side = image_size * s
            if side != int(side) or int(side) % 2 ** (levels - 1):
                raise ValueError(f"image_size {image_size} × {name} {s} = {side} must be an "
                                 f"integer divisible by 2^(levels - 1) = {2 ** (levels - 1)}")
        if image_size % 2**down_blocks:
            raise ValueError(f"image_size {image_size} must be divisible by 2^down_blocks "
                             f"= {2**down_blocks}")
        if num_keypoints < 1:
            raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
        if temperature <= 0 or variance <= 0:
            raise ValueError(f"temperature and variance must be > 0, got {temperature}, "
                             f"{variance}")
        self.num_keypoints = num_keypoints
        self.image_size = image_size
        self.use_occlusion = occlusion
        self.detector = detector
        self.kp_detector = KeypointDetector(num_keypoints, width, levels, detector_scale,
                                            temperature, max_width, detector, image_size,
                                            context_layers)
        if not estimate_jacobian:
            self.kp_detector.jacobian_head.requires_grad_(False)
        self.dense_motion = DenseMotion(num_keypoints, motion_width or width, levels,
                                        motion_scale, variance, max_width)
        self.generator = Generator(generator_width, down_blocks, res_blocks,
                                   generator_max_width or max_width)

    @property
    def needs_pretrained_weights(self) -> bool:
        """Whether a fresh model wants :meth:`load_pretrained` (the vgg19 detector does)."""
        return self.detector == "vgg19"

    def load_pretrained(self, vgg_state_dict: dict[str, Tensor] | None) -> None:
        """ImageNet VGG-19 weights (either format of
        :func:`~landmarks.nets.vgg.load_vgg19_weights`) into the vgg19 detector's frozen trunk;
        ``None`` keeps it random (tests)."""
        if self.detector == "vgg19" and vgg_state_dict is not None:
            load_vgg19_weights(self.kp_detector.encoder.trunk, vgg_state_dict)

    def detector_modules(self) -> list[nn.Module]:
        """The keypoint detector (watched by the trainer's health checks)."""
        return [self.kp_detector]

    def detect(self, images: Tensor) -> dict[str, Tensor]:
        """Keypoints of ``images`` (B,3,S,S) in [0,1]: "keypoints" (B,K,2), "jacobians"
        (B,K,2,2) (local affine transforms), "heatmaps" (B,K,h,w) (sum to 1 over pixels)."""
        return self.kp_detector(images)

    def generate(self, source: Tensor, source_motion: Mapping[str, Tensor],
                 driving_motion: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Redraw ``source`` (B,3,S,S) with the driving motion.

        Args:
            source: the frame whose appearance is kept.
            source_motion: "keypoints" (B,K,2), "jacobians" (B,K,2,2) of ``source``
                (:meth:`detect`).
            driving_motion: the same for the motion to show (a driving frame's detection, or
                :func:`landmarks.animation.relative_motion`).

        Returns:
            "reconstruction" (B,3,S,S); "deformation" (B,h,w,2) the dense motion (a sampling
            grid into the source); "masks" (B,K+1,h,w); "occlusion" (B,1,h,w); "deformed"
            (B,3,S,S) the source warped by the dense motion alone.
        """
        motion = self.dense_motion(source, source_motion, driving_motion)
        occlusion = motion["occlusion"] if self.use_occlusion else None
        reconstruction = self.generator(source, motion["deformation"], occlusion)
        grid = _resize_grid(motion["deformation"], tuple(source.shape[-2:]))
        return {"reconstruction": reconstruction, "deformed": _sample(source, grid), **motion}


@register_model("motion")
def motion(num_keypoints: int = 10, image_size: int = 64, width: int = 16, levels: int = 4,
           detector_scale: float = 0.5, motion_scale: float = 0.5, temperature: float = 0.1,
           variance: float = 0.01, generator_width: int = 32, down_blocks: int = 2,
           res_blocks: int = 4, max_width: int = 256, occlusion: bool = True,
           estimate_jacobian: bool = True, motion_width: int | None = None,
           generator_max_width: int | None = None, detector: str = "hourglass",
           context_layers: int = 0) -> MotionModel:
    """The first-order motion model (:class:`MotionModel`); defaults are CPU-sized for 64 px
    (FOMM at 256 px, configs/motion_vox256.yaml: width 32, motion_width 64, levels 5, scales
    0.25, generator_width 64, 6 res blocks, max_width 1024, generator_max_width 512)."""
    return MotionModel(num_keypoints, image_size, width, levels, detector_scale, motion_scale,
                       temperature, variance, generator_width, down_blocks, res_blocks,
                       max_width, occlusion, estimate_jacobian, motion_width,
                       generator_max_width, detector, context_layers)
