"""Pictures of what the model learned: keypoint overlays, videos, quadruplet figures, and the
trainer hook that draws quadruplets at each checkpoint (:class:`CheckpointPictures`). Drawing
only: nothing here loads checkpoints or runs models (the HTML run report that does is
:mod:`landmarks.report`).

Drawing functions take **pixel** keypoints; :func:`normalized_to_pixel_np` converts the library's
normalised ``[-1, 1]`` keypoints (``x_px = (x + 1) * W / 2 - 0.5``).
"""

from landmarks.visualize.colors import keypoint_colors
from landmarks.visualize.hooks import CheckpointPictures
from landmarks.visualize.overlay import (
    VideoOverlayWriter,
    default_radius,
    draw_keypoints,
    save_image,
    tensor_to_uint8,
    write_overlay_video,
)
from landmarks.visualize.quadruplet import (
    QuadrupletLayout,
    colorize_heatmaps,
    normalized_to_pixel_np,
    quadruplet_grid,
    quadruplet_layout,
    save_quadruplets,
)

__all__ = [
    "CheckpointPictures",
    "QuadrupletLayout",
    "VideoOverlayWriter",
    "colorize_heatmaps",
    "default_radius",
    "draw_keypoints",
    "keypoint_colors",
    "normalized_to_pixel_np",
    "quadruplet_grid",
    "quadruplet_layout",
    "save_image",
    "save_quadruplets",
    "tensor_to_uint8",
    "write_overlay_video",
]
