"""The first-order motion model with FOMM's own network (model ``fomm``): the equations of
:mod:`landmarks.models.motion` on the layers of first-order-model (commit c027484;
:mod:`landmarks.models.fomm_nets`), so that FOMM's published checkpoints run here
(``landmarks import fomm``, :mod:`landmarks.export.fomm_import`).

Conventions are converted at this model's boundary, exactly and in both directions: FOMM's
keypoints are ``[-1, 1]`` on a grid made with ``linspace`` over the frame (``align_corners=True``:
``±1`` are the centres of the border pixels; its equivariance loss warps the full frame on that
grid), the package's are ``align_corners=False`` (``±1`` the outer edges). A point at pixel
``x_px`` of a frame ``W`` wide is ``2 x_px / (W-1) − 1`` for FOMM and ``(2 x_px + 1)/W − 1``
here, so ``x_ours = x_fomm (W−1)/W`` (:func:`keypoints_from_fomm`), and a Jacobian, which maps
driving displacements to source displacements, becomes ``A J A⁻¹`` with ``A = diag((W−1)/W,
(H−1)/H)`` (:func:`jacobians_from_fomm`; unchanged for square frames). :meth:`FommModel.detect`
returns the package's units; :meth:`FommModel.generate` takes them, converts them back and runs
FOMM's networks in FOMM's units, so its outputs are FOMM's to rounding.

Inside FOMM the keypoints also meet grids made at the detector's and the dense-motion network's
resolution (e.g. 64 px of a 256-px frame, whose pixel ``i`` is frame pixel ``4 i``); those
small offsets are part of what the published weights learnt, and are reproduced as they are.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from landmarks.models.fomm_nets import FommGenerator, FommKeypointDetector
from landmarks.models.motion import MotionTransfer
from landmarks.registry import register_model

__all__ = [
    "FOMM_CONFIGS",
    "FommModel",
    "fomm",
    "jacobians_from_fomm",
    "jacobians_to_fomm",
    "keypoints_from_fomm",
    "keypoints_to_fomm",
    "state_dict_from_fomm",
]

#: FOMM's published model settings (first-order-model ``config/<name>.yaml``,
#: ``model_params``), as arguments of :func:`fomm`; vox-256 and taichi-256 are equal.
FOMM_CONFIGS: dict[str, dict[str, object]] = {
    name: {"num_keypoints": 10, "image_size": 256, "block_expansion": 32,
           "max_features": 1024, "num_blocks": 5, "scale_factor": 0.25, "temperature": 0.1,
           "estimate_jacobian": True, "generator_block_expansion": 64,
           "generator_max_features": 512, "num_down_blocks": 2, "num_bottleneck_blocks": 6,
           "estimate_occlusion_map": True, "motion_block_expansion": 64,
           "motion_max_features": 1024, "motion_num_blocks": 5, "motion_scale_factor": 0.25}
    for name in ("vox-256", "taichi-256")
}


def _axis_scales(size_hw: tuple[int, int], like: Tensor) -> Tensor:
    """``(2,)`` ``((W−1)/W, (H−1)/H)`` in the ``(x, y)`` layout of ``like``."""
    h, w = size_hw
    return torch.tensor([(w - 1) / w, (h - 1) / h], dtype=like.dtype, device=like.device)


def keypoints_from_fomm(points: Tensor, size_hw: tuple[int, int]) -> Tensor:
    """FOMM's ``(x, y)`` (``align_corners=True`` over the frame) → the package's
    (``align_corners=False``): ``x (W−1)/W``, ``y (H−1)/H``.

    Args:
        points: ``(..., 2)``.
        size_hw: ``(H, W)`` of the frame.

    Returns:
        ``(..., 2)``; e.g. at W = 4 FOMM's -1 (pixel 0's centre) → -0.75.
    """
    return points * _axis_scales(size_hw, points)


def keypoints_to_fomm(points: Tensor, size_hw: tuple[int, int]) -> Tensor:
    """The inverse of :func:`keypoints_from_fomm`: ``(..., 2)`` → ``(..., 2)``."""
    return points / _axis_scales(size_hw, points)


def jacobians_from_fomm(jacobians: Tensor, size_hw: tuple[int, int]) -> Tensor:
    """A Jacobian in FOMM's units → the package's: ``A J A⁻¹``, ``A = diag((W−1)/W, (H−1)/H)``
    (the map of :func:`keypoints_from_fomm`), i.e. ``J_ij a_i / a_j``.

    Args:
        jacobians: ``(..., 2, 2)``.
        size_hw: ``(H, W)`` of the frame.

    Returns:
        ``(..., 2, 2)``; equal to the input for square frames.
    """
    a = _axis_scales(size_hw, jacobians)
    return jacobians * a[:, None] / a[None, :]


def jacobians_to_fomm(jacobians: Tensor, size_hw: tuple[int, int]) -> Tensor:
    """The inverse of :func:`jacobians_from_fomm`: ``(..., 2, 2)`` → ``(..., 2, 2)``."""
    a = _axis_scales(size_hw, jacobians)
    return jacobians * a[None, :] / a[:, None]


def state_dict_from_fomm(kp_detector: Mapping[str, Tensor],
                         generator: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A :class:`FommModel` state dict from FOMM's two (the ``kp_detector`` and ``generator``
    entries of its checkpoints, e.g. vox-cpk.pth.tar): the same parameter names under
    ``kp_detector.`` and ``generator.`` (the dense-motion network is the generator's
    ``dense_motion_network``, as in FOMM). ``module.`` prefixes (DataParallel) are dropped."""
    out: dict[str, Tensor] = {}
    for prefix, state in (("kp_detector", kp_detector), ("generator", generator)):
        for key, value in state.items():
            out[f"{prefix}.{key.removeprefix('module.')}"] = value
    return out


class FommModel(MotionTransfer):
    """FOMM's detector and generator behind the package's contract (module docstring).

    Args (FOMM's names, ``config/vox-256.yaml`` → :data:`FOMM_CONFIGS`):
        num_keypoints: K (``num_kp``).
        image_size: square frame side.
        block_expansion, max_features, num_blocks, scale_factor, temperature,
            estimate_jacobian, pad, single_jacobian_map: the keypoint detector
            (``kp_detector_params``).
        generator_block_expansion, generator_max_features, num_down_blocks,
            num_bottleneck_blocks, estimate_occlusion_map: the generator
            (``generator_params``).
        motion_block_expansion, motion_max_features, motion_num_blocks, motion_scale_factor,
            kp_variance: the dense-motion network (``dense_motion_params``).
        sample_align_corners: ``grid_sample``'s convention inside FOMM: False is FOMM's code
            as it runs on torch >= 1.3 (its requirements pin 1.12.1); True is torch 1.0's,
            under which the 2019 checkpoints were trained.
    """

    def __init__(self, num_keypoints: int = 10, image_size: int = 32, block_expansion: int = 8,
                 max_features: int = 64, num_blocks: int = 3, scale_factor: float = 0.5,
                 temperature: float = 0.1, estimate_jacobian: bool = True, pad: int = 0,
                 single_jacobian_map: bool = False, generator_block_expansion: int = 8,
                 generator_max_features: int = 64, num_down_blocks: int = 2,
                 num_bottleneck_blocks: int = 2, estimate_occlusion_map: bool = True,
                 motion_block_expansion: int = 8, motion_max_features: int = 64,
                 motion_num_blocks: int = 3, motion_scale_factor: float = 0.5,
                 kp_variance: float = 0.01, sample_align_corners: bool = False) -> None:
        super().__init__()
        for what, scale, blocks in (("scale_factor", scale_factor, num_blocks),
                                    ("motion_scale_factor", motion_scale_factor,
                                     motion_num_blocks)):
            side = image_size * scale
            if not 0 < scale <= 1 or side != int(side) or int(side) % 2**blocks:
                raise ValueError(f"image_size {image_size} × {what} {scale} = {side} must be "
                                 f"an integer divisible by 2^{blocks}")
        if image_size % 2**num_down_blocks:
            raise ValueError(f"image_size {image_size} must be divisible by 2^num_down_blocks "
                             f"= {2**num_down_blocks}")
        if image_size * scale_factor + 2 * pad <= 6:
            raise ValueError(f"the detector's 7×7 heads with pad {pad} need more than "
                             f"{6 - 2 * pad} pixels; image_size × scale_factor = "
                             f"{image_size * scale_factor}")
        self.num_keypoints = num_keypoints
        self.image_size = image_size
        self.kp_detector = FommKeypointDetector(
            num_keypoints, block_expansion, max_features, num_blocks, temperature,
            estimate_jacobian, scale_factor, pad, single_jacobian_map)
        self.generator = FommGenerator(
            num_keypoints, generator_block_expansion, generator_max_features, num_down_blocks,
            num_bottleneck_blocks, estimate_occlusion_map,
            {"block_expansion": motion_block_expansion, "max_features": motion_max_features,
             "num_blocks": motion_num_blocks, "scale_factor": motion_scale_factor,
             "kp_variance": kp_variance}, align_corners=sample_align_corners)

    def detector_modules(self) -> list[torch.nn.Module]:
        """The keypoint detector (watched by the trainer's health checks)."""
        return [self.kp_detector]

    def detect(self, images: Tensor) -> dict[str, Tensor]:
        """Keypoints of ``images`` (B,3,S,S) in [0,1], in the package's units: "keypoints"
        (B,K,2), "jacobians" (B,K,2,2), and "heatmaps" (B,K,h,w) (sum to 1 over the pixels;
        with FOMM's padding 0 they cover the frame less 3 detector pixels at each border)."""
        out = self.kp_detector(images)
        size = tuple(images.shape[-2:])
        return {"keypoints": keypoints_from_fomm(out["value"], size),
                "jacobians": jacobians_from_fomm(out["jacobian"], size),
                "heatmaps": out["heatmap"]}

    def generate(self, source: Tensor, source_motion: Mapping[str, Tensor],
                 driving_motion: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Redraw ``source`` (B,3,S,S) with the driving motion (FOMM's generator).

        Args:
            source: the frame whose appearance is kept.
            source_motion, driving_motion: "keypoints" (B,K,2) and "jacobians" (B,K,2,2) in
                the package's units (:meth:`detect`, or
                :func:`landmarks.animation.relative_motion`).

        Returns:
            "reconstruction" (B,3,S,S) (FOMM's "prediction"); "deformation" (B,h,w,2) the dense
            motion in the package's units (FOMM's values mapped as keypoints); "masks"
            (B,K+1,h,w); "occlusion" (B,1,h,w) (ones without the occlusion head); "deformed"
            (B,3,S,S) the source warped by the dense motion alone, as FOMM samples it.
        """
        size = tuple(source.shape[-2:])

        def to_fomm(m: Mapping[str, Tensor]) -> dict[str, Tensor]:
            return {"value": keypoints_to_fomm(m["keypoints"].float(), size),
                    "jacobian": jacobians_to_fomm(m["jacobians"].float(), size)}

        out = self.generator(source, to_fomm(source_motion), to_fomm(driving_motion))
        deformation = out["deformation"]
        occlusion = out.get("occlusion_map")
        if occlusion is None:
            occlusion = deformation.new_ones(deformation.shape[0], 1, *deformation.shape[1:3])
        return {"reconstruction": out["prediction"],
                "deformation": keypoints_from_fomm(deformation, size),
                "masks": out["mask"], "occlusion": occlusion, "deformed": out["deformed"]}


@register_model("fomm")
def fomm(num_keypoints: int = 10, image_size: int = 32, block_expansion: int = 8,
         max_features: int = 64, num_blocks: int = 3, scale_factor: float = 0.5,
         temperature: float = 0.1, estimate_jacobian: bool = True, pad: int = 0,
         single_jacobian_map: bool = False, generator_block_expansion: int = 8,
         generator_max_features: int = 64, num_down_blocks: int = 2,
         num_bottleneck_blocks: int = 2, estimate_occlusion_map: bool = True,
         motion_block_expansion: int = 8, motion_max_features: int = 64,
         motion_num_blocks: int = 3, motion_scale_factor: float = 0.5,
         kp_variance: float = 0.01, sample_align_corners: bool = False) -> FommModel:
    """FOMM's network (:class:`FommModel`); defaults are CPU-sized for 32 px (FOMM's published
    settings: :data:`FOMM_CONFIGS`, configs/fomm_vox256.yaml)."""
    return FommModel(num_keypoints, image_size, block_expansion, max_features, num_blocks,
                     scale_factor, temperature, estimate_jacobian, pad, single_jacobian_map,
                     generator_block_expansion, generator_max_features, num_down_blocks,
                     num_bottleneck_blocks, estimate_occlusion_map, motion_block_expansion,
                     motion_max_features, motion_num_blocks, motion_scale_factor, kp_variance,
                     sample_align_corners)
