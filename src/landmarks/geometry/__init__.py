"""Geometry core: coordinates, spatial softmax / Gaussian heatmaps, TPS warps and pairs.

Every function is batched and runs on the device of its inputs. Coordinates follow the package
convention stated in :mod:`landmarks`: ``(x, y)`` normalised to ``[-1, 1]``, pixel centres at
``-1 + (2 i + 1) / n`` (``align_corners=False``).
"""

from .coords import (
    coordinate_grid,
    inverse_2x2,
    normalized_to_pixels,
    pixel_centers,
    pixels_to_normalized,
)
from .heatmaps import SoftArgmax, render_gaussian_heatmaps, spatial_softmax_keypoints
from .warps import (
    SOURCE_SPREAD,
    TARGET_SPREAD,
    TPSPair,
    TPSSpread,
    TPSWarp,
    border_mask,
    control_point_grid,
    identity_tps_warp,
    sample_tps_pair,
    sample_tps_warp,
    scaled_mask_size,
    tps_jacobian,
    tps_kernel,
    tps_sampling_grid,
    tps_transform_points,
    warp_images,
    warp_points,
)

__all__ = [
    "SOURCE_SPREAD",
    "TARGET_SPREAD",
    "SoftArgmax",
    "TPSPair",
    "TPSSpread",
    "TPSWarp",
    "border_mask",
    "control_point_grid",
    "coordinate_grid",
    "identity_tps_warp",
    "inverse_2x2",
    "normalized_to_pixels",
    "pixel_centers",
    "pixels_to_normalized",
    "render_gaussian_heatmaps",
    "sample_tps_pair",
    "sample_tps_warp",
    "scaled_mask_size",
    "spatial_softmax_keypoints",
    "tps_jacobian",
    "tps_kernel",
    "tps_sampling_grid",
    "tps_transform_points",
    "warp_images",
    "warp_points",
]
