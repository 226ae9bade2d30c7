"""Motion transfer: animate a source image with the motion of a driving video.

``landmarks animate CKPT --source IMAGE --driving VIDEO --out OUT.mp4`` (:func:`animate_file`).
Any model that animates (:func:`landmarks.models.can_animate`: it has
``generate(source, source_motion, driving_motion)``, e.g. ``motion``) can do this; a checkpoint
of one that cannot (an IMM or zhang detector) is an :class:`~landmarks.models.AnimationError`
naming the model and the checkpoint.

The source image and every driving frame are prepared as in training (optional crop box, centre
square, antialiased resize to the model's ``image_size``;
:mod:`landmarks.data.transforms`), the motion of each is ``model.detect`` (keypoints and
Jacobians), and each output frame is ``model.generate(source, motion(source), motion(t))``
where, in FOMM's **relative** mode (the default), ``motion(t)`` is the driving frame's motion
taken relative to the first driving frame and applied to the source's own keypoints
(:func:`landmarks.animation.relative_motion`; the source keeps its own shape, and the first
output frame is the source itself), and in **absolute** mode the driving frame's keypoints as
they are (the source takes the driving face's shape and place).

With ``side_by_side`` every output frame is three panels, source | driving | result, each
``size`` pixels square, the source's keypoints drawn on the source, the driving frame's on the
driving frame and the motion's (the keypoints the result was generated for) on the result, in
the colours of :func:`landmarks.visualize.keypoint_colors`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from tqdm import tqdm

from landmarks.animation import (
    expand_motion,
    model_device,
    motion_of,
    relative_motion,
    to_uint8,
)
from landmarks.data.transforms import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    check_crop,
    is_image_file,
    read_image_uint8,
    resize_frame,
    uint8_to_tensor,
)
from landmarks.data.video_io import iter_rgb_frames, video_fps, video_info
from landmarks.inference import Detector, InputError, batched
from landmarks.models import AnimationError, require_animate
from landmarks.visualize import (
    VideoOverlayWriter,
    draw_keypoints,
    keypoint_colors,
    normalized_to_pixel_np,
)

__all__ = ["AnimatedBatch", "AnimationError", "AnimationResult", "DrivingVideo",
           "animate_file", "animate_frames", "open_driving", "parse_crop", "read_source",
           "side_by_side"]

#: Frame rate of a driving *folder of frames* when none is given (a video keeps its own).
DEFAULT_FPS = 25.0
#: What ``--out`` may be (the writer encodes h264, else mpeg4).
OUT_SUFFIXES = (".mp4", ".mov", ".mkv")


def parse_crop(text: str | None) -> tuple[float, float, float, float] | None:
    """``"x0,y0,x1,y1"`` (fractions of the width / height) → a checked crop box; ``None`` or
    ``""`` → ``None``. Raises ValueError naming the text and what was expected."""
    if text is None or not text.strip():
        return None
    try:
        values = [float(v) for v in text.split(",")]
        return check_crop(values)
    except ValueError as err:
        raise ValueError(f"--crop {text!r}: expected x0,y0,x1,y1 as fractions of the width and "
                         f"height with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, e.g. "
                         f"0.2,0,0.8,1 ({err})") from None


# ----------------------------------------------------------------------------------------------
# inputs


def read_source(path: str | Path, size: int,
                crop: Sequence[float] | None = None) -> np.ndarray:
    """The source image as the network sees it: ``(size, size, 3)`` uint8.

    Raises:
        InputError: ``path`` is missing, a folder, or not a decodable image (named, with the
            image types expected).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"source image {path} does not exist")
    if path.is_dir():
        raise InputError(f"source {path} is a folder; expected an image file "
                         f"({', '.join(IMAGE_EXTENSIONS)})")
    try:
        return read_image_uint8(path, size, crop)
    except Exception as err:  # PIL raises several types for files that are not images
        raise InputError(f"source {path} is not an image that can be decoded "
                         f"({type(err).__name__}: {err}); expected an image file "
                         f"({', '.join(IMAGE_EXTENSIONS)})") from err


@dataclass(frozen=True)
class DrivingVideo:
    """A driving video: a video file or a folder of frames (its images in sorted name order).

    Iterating yields the frames prepared as in training, ``(size, size, 3)`` uint8; a frame
    that cannot be decoded raises :class:`InputError` naming the file. ``frames`` is the number
    of frames when known (0 when the container does not say).
    """

    path: Path
    size: int
    crop: tuple[float, float, float, float] | None
    fps: float
    frames: int
    frame_paths: tuple[Path, ...] = ()

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.frame_paths:
            for p in self.frame_paths:
                try:
                    yield read_image_uint8(p, self.size, self.crop)
                except Exception as err:  # noqa: BLE001 - PIL's several error types
                    raise InputError(f"driving frame {p} cannot be decoded "
                                     f"({type(err).__name__}: {err}); expected an image "
                                     f"file") from err
            return
        count = 0
        try:
            for rgb in iter_rgb_frames(self.path):
                count += 1
                yield resize_frame(rgb, self.size, self.crop)
        except Exception as err:  # PyAV's av.error.* (and OSError) subclasses
            raise InputError(f"driving video {self.path} cannot be decoded after {count} "
                             f"frame(s) ({type(err).__name__}: {err})") from err
        if count == 0:
            raise InputError(f"driving video {self.path} holds no decodable frame")


def open_driving(path: str | Path, size: int, crop: Sequence[float] | None = None,
                 fps: float | None = None) -> DrivingVideo:
    """Check a driving video (file or frame folder) and read its frame rate and length
    (no frame is decoded). ``fps`` replaces a folder's default frame rate
    (:data:`DEFAULT_FPS`) and a video's own.

    Raises:
        InputError: the path is missing, a folder without images, or a file that cannot be
            opened as a video (named, with what was expected).
    """
    path = Path(path)
    box = check_crop(crop)
    if fps is not None and not fps > 0:
        raise ValueError(f"--fps {fps}: expected a positive frame rate")
    if not path.exists():
        raise InputError(f"driving video {path} does not exist")
    if path.is_dir():
        frames = tuple(sorted(p for p in path.iterdir() if p.is_file() and is_image_file(p)))
        if not frames:
            raise InputError(f"driving folder {path} holds no frames; expected a video file "
                             f"({', '.join(VIDEO_EXTENSIONS)}) or a folder of images "
                             f"({', '.join(IMAGE_EXTENSIONS)}), one per frame, in name order")
        return DrivingVideo(path, size, box, float(fps or DEFAULT_FPS), len(frames), frames)
    try:
        info = video_info(path)
        rate = fps or video_fps(path, DEFAULT_FPS)
    except Exception as err:  # DatasetError from video_info, av errors from video_fps
        raise InputError(f"driving video {path} cannot be decoded ({err}); expected a video "
                         f"file ({', '.join(VIDEO_EXTENSIONS)}) or a folder of frames") from err
    return DrivingVideo(path, size, box, float(rate), info.frames)


# ----------------------------------------------------------------------------------------------
# the model work


class AnimatedBatch(NamedTuple):
    """One batch of animated frames (NumPy, on the CPU).

    Attributes:
        driving: ``(B, S, S, 3)`` uint8, the driving frames as the model saw them.
        result: ``(B, S, S, 3)`` uint8, the generated frames.
        source_keypoints: ``(K, 2)`` normalised, detected on the source.
        driving_keypoints: ``(B, K, 2)`` normalised, detected on the driving frames.
        motion_keypoints: ``(B, K, 2)`` normalised, the keypoints each result was generated
            for (relative mode: the source's moved by the driving motion; absolute: the
            driving frame's).
    """

    driving: np.ndarray
    result: np.ndarray
    source_keypoints: np.ndarray
    driving_keypoints: np.ndarray
    motion_keypoints: np.ndarray


def animate_frames(model: nn.Module, source: Tensor, frames: Iterable[np.ndarray], *,
                   relative: bool = True, adapt_scale: bool = False,
                   batch_size: int = 16) -> Iterator[AnimatedBatch]:
    """Animate ``source`` with the motion of ``frames``, batch by batch.

    Args:
        model: a model that animates (``detect`` with "keypoints" and "jacobians", and
            ``generate``); it runs in eval mode and its mode is restored afterwards.
        source: ``(3, S, S)`` in [0, 1], the image to animate.
        frames: driving frames ``(S, S, 3)`` uint8 (the model's size), in order; relative
            mode takes the motion relative to the first.
        relative: FOMM's relative mode (module docstring); else absolute.
        adapt_scale: relative mode only: scale the motion by the ratio of the source's and the
            first driving frame's keypoint spreads (sqrt of their convex hulls' areas).
        batch_size: driving frames per forward pass.

    Yields:
        :class:`AnimatedBatch` per ``batch_size`` driving frames.

    Raises:
        AnimationError: ``model`` cannot animate (named by its class), checked at the call.
        ValueError: a bad ``batch_size`` or ``source`` shape, ``adapt_scale`` without
            ``relative``.
    """
    require_animate(model, type(model).__name__, "animation")
    if batch_size < 1:
        raise ValueError(f"--batch-size {batch_size}: expected a positive number of frames")
    if adapt_scale and not relative:
        raise ValueError("--adapt-scale scales the relative motion; it has no meaning with "
                         "--absolute (drop one of them)")
    if source.ndim != 3 or source.shape[0] != 3:
        raise ValueError(f"source: expected a (3, S, S) image tensor, got {tuple(source.shape)}")
    return _animate(model, source, frames, relative, adapt_scale, batch_size)


def _animate(model: nn.Module, source: Tensor, frames: Iterable[np.ndarray], relative: bool,
             adapt_scale: bool, batch_size: int) -> Iterator[AnimatedBatch]:
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            src = source[None].to(device, torch.float32)
            src_motion = motion_of(model.detect(src))
            src_kp = src_motion["keypoints"][0].cpu().numpy()
            initial: dict[str, Tensor] | None = None
            for batch in batched(frames, batch_size):
                drv_u8 = np.stack(batch)
                x = uint8_to_tensor(drv_u8).to(device)
                b = x.shape[0]
                drv = motion_of(model.detect(x))
                if initial is None:
                    initial = {k: v[:1] for k, v in drv.items()}
                src_b = expand_motion(src_motion, b)
                motion = (relative_motion(src_b, drv, expand_motion(initial, b), adapt_scale)
                          if relative else drv)
                out = model.generate(src.expand(b, -1, -1, -1), src_b, motion)
                yield AnimatedBatch(drv_u8, to_uint8(out["reconstruction"]), src_kp,
                                    drv["keypoints"].cpu().numpy(),
                                    motion["keypoints"].float().cpu().numpy())
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------------------------
# pictures


def _panel(image: np.ndarray, keypoints: np.ndarray | None, colors: np.ndarray,
           size: int) -> np.ndarray:
    img = image if image.shape[:2] == (size, size) else np.asarray(
        Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
    if keypoints is None:
        return np.ascontiguousarray(img)
    return draw_keypoints(img, normalized_to_pixel_np(keypoints, size, size), colors)


def side_by_side(source: np.ndarray, driving: np.ndarray, result: np.ndarray,
                 source_keypoints: np.ndarray, driving_keypoints: np.ndarray,
                 motion_keypoints: np.ndarray, size: int,
                 colors: np.ndarray | None = None) -> np.ndarray:
    """One side-by-side frame: source | driving | result, each resized to ``size`` and with its
    keypoints drawn (normalised ``(K, 2)`` each: the source's, the driving frame's, the
    motion's).

    Returns:
        ``(size, 3 * size, 3)`` uint8.
    """
    cols = keypoint_colors(len(source_keypoints)) if colors is None else colors
    return np.concatenate([_panel(source, source_keypoints, cols, size),
                           _panel(driving, driving_keypoints, cols, size),
                           _panel(result, motion_keypoints, cols, size)], axis=1)


# ----------------------------------------------------------------------------------------------
# the command


@dataclass(frozen=True)
class AnimationResult:
    """What :func:`animate_file` wrote: the video, its frame count, rate and frame size."""

    path: Path
    frames: int
    fps: float
    size_hw: tuple[int, int]
    relative: bool


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; pass --force to overwrite it")
    if out.is_dir():
        raise IsADirectoryError(f"--out {out} is a folder; expected a video file name "
                                f"(.mp4)")
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise ValueError(f"--out {out}: expected a video file name ending in "
                         f"{', '.join(OUT_SUFFIXES)}")


def animate_file(checkpoint: str | Path, source: str | Path, driving: str | Path,
                 out: str | Path, *, relative: bool = True, adapt_scale: bool = False,
                 show_side_by_side: bool = False, batch_size: int = 16,
                 crop: Sequence[float] | None = None,
                 source_crop: Sequence[float] | None = None, out_size: int | None = None,
                 fps: float | None = None, device: str = "auto", force: bool = False,
                 progress: bool = True) -> AnimationResult:
    """The CLI's work (module docstring): animate the image ``source`` with the video
    ``driving`` and write the video ``out``.

    Args:
        checkpoint: a checkpoint of a model that animates.
        source: an image file.
        driving: a video file or a folder of frames.
        out: the video to write (``.mp4``); written to a temporary file beside it and moved
            into place at the end, so a failure leaves no partial ``out``.
        relative, adapt_scale, batch_size: see :func:`animate_frames`.
        show_side_by_side: write source | driving | result (:func:`side_by_side`).
        crop: crop box of the driving frames (fractions ``x0, y0, x1, y1``); default the
            checkpoint's ``data.crop`` (as in training).
        source_crop: crop box of the source image; default the checkpoint's ``data.crop``.
        out_size: side of each written panel in pixels (upscaled for viewing); default the
            model's ``image_size``.
        fps: frame rate of the output; default the driving video's (25 for a frame folder).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        force: overwrite an existing ``out``.
        progress: show a tqdm progress bar (on stderr).

    Raises:
        FileExistsError: ``out`` exists and not ``force`` (checked before anything is read).
        InputError: the source is not a decodable image, the driving video cannot be
            decoded (each named, with what was expected).
        AnimationError: the checkpoint's model cannot animate (named, with the checkpoint).
        ValueError: bad options (named).
    """
    out, source, driving = Path(out), Path(source), Path(driving)
    _check_out(out, force)
    if out_size is not None and out_size < 1:
        raise ValueError(f"--out-size {out_size}: expected a positive number of pixels")
    if batch_size < 1:
        raise ValueError(f"--batch-size {batch_size}: expected a positive number of frames")
    if adapt_scale and not relative:
        raise ValueError("--adapt-scale scales the relative motion; it has no meaning with "
                         "--absolute (drop one of them)")
    check_crop(crop)
    check_crop(source_crop)
    for what, p in (("source image", source), ("driving video", driving)):
        if not p.exists():
            raise InputError(f"{what} {p} does not exist")
    det = Detector.from_checkpoint(checkpoint, device=device)
    try:
        require_animate(det.model, det.config.model.name, "landmarks animate")
    except AnimationError as err:
        raise AnimationError(f"checkpoint {checkpoint}: {err}") from None
    size = det.image_size
    default_crop = det.config.data.crop or None
    src = read_source(source, size, default_crop if source_crop is None else source_crop)
    video = open_driving(driving, size, default_crop if crop is None else crop, fps)
    side = int(out_size or size)
    colors = keypoint_colors(det.num_keypoints)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.part{out.suffix}")
    written = 0
    try:
        with VideoOverlayWriter(tmp, fps=video.fps) as writer, tqdm(
                total=video.frames or None, unit="frame", desc="animate",
                disable=not progress) as bar:
            for batch in animate_frames(det.model, uint8_to_tensor(src), video,
                                        relative=relative, adapt_scale=adapt_scale,
                                        batch_size=batch_size):
                for i in range(len(batch.result)):
                    if show_side_by_side:
                        frame = side_by_side(src, batch.driving[i], batch.result[i],
                                             batch.source_keypoints, batch.driving_keypoints[i],
                                             batch.motion_keypoints[i], side, colors)
                    else:
                        frame = _panel(batch.result[i], None, colors, side)
                    writer.write(frame)
                    written += 1
                bar.update(len(batch.result))
            size_hw = writer.encoded_size_hw or (side, side)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return AnimationResult(out, written, video.fps, size_hw, relative)
