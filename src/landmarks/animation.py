"""Motion transfer with a model that animates (``generate``; :func:`landmarks.models.can_animate`).

* :func:`reconstruct_video` — FOMM's video-reconstruction protocol: every frame of a video is
  redrawn from its *first* frame with that frame's own motion (absolute motion, no relative
  normalisation): ``model.generate(source, detect(source), detect(frame))``.
* :func:`relative_motion` — FOMM's ``normalize_kp`` (relative mode of ``landmarks animate``):
  the driving video's motion relative to its first frame, carried onto the source's keypoints.
* :func:`render_video` — the same protocol for a model that re-renders from keypoints
  (``render``; :func:`landmarks.models.can_render`, e.g. IMM): a baseline for the metrics.

Frames are ``(N, S, S, 3)`` uint8 RGB at the model's ``image_size``; motions are dicts
``{"keypoints": (B,K,2), "jacobians": (B,K,2,2)}`` as :meth:`LandmarkModel.detect` returns them
(keypoints ``(x, y)`` normalised to ``[-1, 1]``, see :mod:`landmarks.geometry.coords`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.spatial import ConvexHull, QhullError
from torch import Tensor, nn

from landmarks.data.transforms import uint8_to_tensor
from landmarks.models import require_animate, require_render

__all__ = ["expand_motion", "model_device", "motion_of", "reconstruct_video", "relative_motion",
           "render_video", "to_uint8"]


def _hull_area(points: np.ndarray) -> float:
    """Area of the convex hull of ``points`` (K,2); a :class:`ValueError` when degenerate."""
    if len(points) < 3:
        raise ValueError(f"adapt_scale needs at least 3 keypoints for a convex hull, got "
                         f"{len(points)}")
    try:
        area = float(ConvexHull(points).volume)  # in 2-D, "volume" is the area
    except QhullError as err:
        raise ValueError(f"adapt_scale: the keypoints span no area (collinear or coincident): "
                         f"{str(err).splitlines()[0]}") from err
    if area <= 0:
        raise ValueError("adapt_scale: the keypoints' convex hull has zero area")
    return area


def relative_motion(source: dict[str, Tensor], driving: dict[str, Tensor],
                    driving_initial: dict[str, Tensor], adapt_scale: bool = False
                    ) -> dict[str, Tensor]:
    """The driving motion made relative to the first driving frame and applied to the source
    (FOMM's ``normalize_kp`` with relative movement and relative Jacobians).

    ``kp = kp_source + (kp_driving - kp_driving_initial) * scale`` and
    ``jac = J_driving @ inv(J_driving_initial) @ J_source``, where
    ``scale = sqrt(area(hull(kp_source)) / area(hull(kp_driving_initial)))`` per batch item when
    ``adapt_scale`` (so a small face in the driving video moves a large source face as much,
    relatively), else 1.

    Args:
        source: motion of the source image, ``"keypoints"`` (B,K,2), ``"jacobians"`` (B,K,2,2).
        driving: motion of the current driving frame(s), same keys (B,K,2) / (B,K,2,2).
        driving_initial: motion of the first driving frame, same keys.
        adapt_scale: scale displacements by the ratio of the keypoints' convex hull sizes.
    Returns:
        ``{"keypoints": (B,K,2), "jacobians": (B,K,2,2)}`` (no ``"jacobians"`` unless all three
        motions have them); batch dimensions of size 1 broadcast.
    Raises:
        ValueError: a motion lacks ``"keypoints"``, the shapes disagree, or ``adapt_scale`` with
            keypoints that span no area.
    """
    for name, m in (("source", source), ("driving", driving),
                    ("driving_initial", driving_initial)):
        if "keypoints" not in m:
            raise ValueError(f"relative_motion: the {name} motion has no 'keypoints' "
                             f"(keys: {sorted(m)})")
        kp = m["keypoints"]
        if kp.ndim != 3 or kp.shape[-1] != 2:
            raise ValueError(f"relative_motion: {name} keypoints must be (B,K,2), got "
                             f"{tuple(kp.shape)}")
    kp_s, kp_d, kp_i = source["keypoints"], driving["keypoints"], driving_initial["keypoints"]
    if not kp_s.shape[1] == kp_d.shape[1] == kp_i.shape[1]:
        raise ValueError(f"relative_motion: keypoint counts differ (source {kp_s.shape[1]}, "
                         f"driving {kp_d.shape[1]}, driving_initial {kp_i.shape[1]})")
    diff = kp_d - kp_i
    if adapt_scale:
        s_np = kp_s.detach().float().cpu().numpy()
        i_np = kp_i.detach().float().cpu().numpy()
        b = max(len(s_np), len(i_np))
        scale = [np.sqrt(_hull_area(s_np[j % len(s_np)]) / _hull_area(i_np[j % len(i_np)]))
                 for j in range(b)]
        diff = diff * torch.tensor(scale, dtype=diff.dtype, device=diff.device).view(-1, 1, 1)
    out = {"keypoints": kp_s + diff}
    if all("jacobians" in m for m in (source, driving, driving_initial)):
        j_rel = torch.matmul(driving["jacobians"], torch.inverse(driving_initial["jacobians"]))
        out["jacobians"] = torch.matmul(j_rel, source["jacobians"])
    return out


def _check_frames(frames: np.ndarray, size: int) -> None:
    if (not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4
            or frames.shape[3] != 3):
        got = (f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray)
               else type(frames).__name__)
        raise ValueError(f"frames must be a uint8 array (N,H,W,3), got {got}")
    if len(frames) == 0:
        raise ValueError("frames: the video has no frames")
    if frames.shape[1:3] != (size, size):
        raise ValueError(f"frames must be {size}x{size} (the model's image_size), got "
                         f"{frames.shape[2]}x{frames.shape[1]}")


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s parameters (CPU for a model without any)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def to_uint8(images: Tensor) -> np.ndarray:
    """(B,3,S,S) float in [0,1] (clamped; NaN → 0) → (B,S,S,3) uint8, rounded."""
    x = torch.nan_to_num(images.detach().float(), nan=0.0).clamp(0, 1)
    return x.mul(255).round().to(torch.uint8).movedim(1, -1).cpu().numpy()


def motion_of(detection: dict[str, Tensor]) -> dict[str, Tensor]:
    """The motion of a detection (:meth:`~landmarks.models.LandmarkModel.detect`): its
    "keypoints" (B,K,2) and, where present, "jacobians" (B,K,2,2), float32."""
    return {k: detection[k].float() for k in ("keypoints", "jacobians") if k in detection}


def expand_motion(motion: dict[str, Tensor], b: int) -> dict[str, Tensor]:
    """A motion of batch 1 broadcast to batch ``b`` (its keypoints and Jacobians only)."""
    return {k: v.expand(b, *v.shape[1:]) for k, v in motion_of(motion).items()}


@torch.inference_mode()
def reconstruct_video(model: nn.Module, frames_uint8: np.ndarray, batch_size: int = 16
                      ) -> np.ndarray:
    """Redraw every frame of a video from its first frame (FOMM's reconstruction protocol).

    ``out[t] = model.generate(frames[0], detect(frames[0]), detect(frames[t]))["reconstruction"]``
    with absolute motion (no :func:`relative_motion`).

    Args:
        model: a model that animates (in eval mode; its device is used).
        frames_uint8: (N,S,S,3) uint8 RGB, S the model's ``image_size``.
        batch_size: frames per forward pass.
    Returns:
        (N,S,S,3) uint8, the reconstructed frames (frame 0 included, redrawn too).
    Raises:
        AnimationError: the model cannot animate.
        ValueError: frames of the wrong dtype, shape or size.
    """
    require_animate(model, type(model).__name__, "video reconstruction")

    def draw(source: Tensor, driving: Tensor) -> Tensor:
        b = len(driving)
        return model.generate(source.expand(b, -1, -1, -1),
                              expand_motion(model.detect(source), b),
                              model.detect(driving))["reconstruction"]

    return _redraw_from_first(model, frames_uint8, batch_size, draw)


@torch.inference_mode()
def render_video(model: nn.Module, frames_uint8: np.ndarray, batch_size: int = 16
                 ) -> np.ndarray:
    """Redraw every frame from the first one with a renderer model (IMM, zhang): ``out[t] =
    model.render(frames[0], detect(frames[t])["keypoints"])["reconstruction"]``.

    Args / returns / raises as :func:`reconstruct_video` (``RendererError`` when the model
    cannot render).
    """
    require_render(model, type(model).__name__, "video reconstruction by rendering")

    def draw(source: Tensor, driving: Tensor) -> Tensor:
        keypoints = model.detect(driving)["keypoints"]
        return model.render(source.expand(len(driving), -1, -1, -1), keypoints)["reconstruction"]

    return _redraw_from_first(model, frames_uint8, batch_size, draw)


def _redraw_from_first(model: nn.Module, frames_uint8: np.ndarray, batch_size: int,
                       draw: Callable[[Tensor, Tensor], Tensor]) -> np.ndarray:
    """``draw(first frame (1,3,S,S), driving batch (B,3,S,S)) -> (B,3,S,S)`` over the frames
    in batches of ``batch_size``; the uint8 results concatenated. (Detecting on the one source
    frame again per batch costs 1/B of the batch's detection.)"""
    _check_frames(frames_uint8, int(model.image_size))
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dev = model_device(model)
    source = uint8_to_tensor(frames_uint8[:1]).to(dev)
    out = []
    for i in range(0, len(frames_uint8), batch_size):
        driving = uint8_to_tensor(frames_uint8[i:i + batch_size]).to(dev)
        out.append(to_uint8(draw(source, driving)))
    return np.concatenate(out)
