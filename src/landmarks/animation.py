"""STUB for the branch `animate` only: the real module is written on branch `vmetrics`
(``relative_motion``, ``reconstruct_video``); when that lands, this file is replaced by it.

FOMM's ``normalize_kp`` (Siarohin et al. 2019, relative mode): the driving motion made relative
to the first driving frame and applied to the source's own keypoints.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import ConvexHull
from torch import Tensor

__all__ = ["relative_motion"]


def _hull_area(points: Tensor) -> float:
    """Area of the convex hull of ``(K, 2)`` points (0 when they are degenerate)."""
    try:
        return float(ConvexHull(points.detach().double().cpu().numpy()).volume)
    except Exception:  # noqa: BLE001 - fewer than 3 points or collinear (scipy's QhullError)
        return 0.0


def relative_motion(source: dict[str, Tensor], driving: dict[str, Tensor],
                    driving_initial: dict[str, Tensor],
                    adapt_scale: bool = False) -> dict[str, Tensor]:
    """``keypoints = kp_source + (kp_driving − kp_driving_initial) · scale``;
    ``jacobians = J_driving · inv(J_driving_initial) · J_source``. Each dict holds "keypoints"
    (B,K,2) and "jacobians" (B,K,2,2); ``scale`` = sqrt(hull area of the source keypoints /
    hull area of the initial driving keypoints) with ``adapt_scale``, else 1."""
    scale = torch.ones(source["keypoints"].shape[0], 1, 1, dtype=source["keypoints"].dtype,
                       device=source["keypoints"].device)
    if adapt_scale:
        for b in range(scale.shape[0]):
            src, ini = _hull_area(source["keypoints"][b]), _hull_area(
                driving_initial["keypoints"][b])
            scale[b] = float(np.sqrt(src / ini)) if src > 0 and ini > 0 else 1.0
    out = {"keypoints": source["keypoints"]
           + (driving["keypoints"] - driving_initial["keypoints"]) * scale}
    if all("jacobians" in m for m in (source, driving, driving_initial)):
        diff = driving["jacobians"] @ torch.linalg.inv(driving_initial["jacobians"])
        out["jacobians"] = diff @ source["jacobians"]
    return out
