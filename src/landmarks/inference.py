"""Checkpoint → keypoints for images, folders and videos (rebuilds the model from the file).

The model may come from a training checkpoint (``.pt``), a weights-only release folder
(safetensors, no pickle) or an exported ONNX file run by onnxruntime (:meth:`Detector.load`).

Keypoints are returned in the *input's* pixel coordinates (x right, y down, pixel centres at
integers): the inverse of the preprocessing (optional ``data.crop`` box, centre square crop,
resize) used in training, see :func:`landmarks.data.transforms.square_crop_box`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from PIL import Image

from landmarks.config import Config, from_dict
from landmarks.data import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from landmarks.data.transforms import frame_to_tensor, to_input_pixels
from landmarks.data.video_io import iter_rgb_frames
from landmarks.data.video_io import video_fps as _video_fps
from landmarks.engine.allocator import keep_freed_memory
from landmarks.engine.checkpoint import load_checkpoint
from landmarks.engine.distributed import resolve_device
from landmarks.export import OnnxDetector, is_release, load_release
from landmarks.models import build_model
from landmarks.visualize import VideoOverlayWriter, draw_keypoints, keypoint_colors, save_image


class InputError(ValueError):
    """An input path is missing or of a kind detect cannot read; the message names it."""


@dataclass
class Detector:
    """A frozen landmark detector rebuilt from a checkpoint file alone."""

    model: torch.nn.Module
    config: Config
    device: torch.device

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto") -> Detector:
        keep_freed_memory()
        state = load_checkpoint(path)
        return cls._build(state["model"], state["config"], path, device)

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "auto") -> Detector:
        """A release folder (``landmarks export CKPT --format safetensors``): safetensors
        weights and a JSON config, read with no pickle."""
        release = load_release(folder)
        return cls._build(release.state_dict, release.config, folder, device)

    @classmethod
    def from_onnx(cls, path: str | Path, threads: int = 0) -> Detector:
        """An ONNX file of ``landmarks export CKPT --format onnx``, run by onnxruntime on the
        CPU (``threads``: 0 = its default); its metadata holds the config."""
        model = OnnxDetector.from_file(path, threads=threads)
        cfg = from_dict(model.meta["config"], origin=str(path))
        return cls(model, cfg, torch.device("cpu"))

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> Detector:
        """Any portable form: a release folder, an ``.onnx`` file, or a checkpoint."""
        p = Path(path)
        if p.is_dir() or is_release(p):
            return cls.from_pretrained(p, device)
        if p.suffix.lower() == ".onnx":
            return cls.from_onnx(p)
        return cls.from_checkpoint(p, device)

    @classmethod
    def _build(cls, state_dict: dict[str, torch.Tensor], config: dict[str, Any],
               origin: str | Path, device: str) -> Detector:
        keep_freed_memory()
        cfg = from_dict(config, origin=str(origin))
        dev = resolve_device(device)
        model = build_model(cfg)
        model.load_state_dict(state_dict)
        model.to(dev).eval()
        return cls(model, cfg, dev)

    @property
    def image_size(self) -> int:
        return self.config.model.image_size

    @property
    def num_keypoints(self) -> int:
        return self.config.model.num_keypoints

    @property
    def training_root(self) -> str:
        """The ``data.root`` the model was trained on, as its checkpoint records it."""
        return self.config.data.root

    @torch.inference_mode()
    def detect_tensor(self, images: torch.Tensor) -> torch.Tensor:
        """(B,3,S,S) in [0,1] → keypoints (B,K,2), normalised (x, y)."""
        return self.model.detect(images.to(self.device))["keypoints"].float().cpu()

    @property
    def crop(self) -> list[float] | None:
        """The checkpoint's ``data.crop`` box (fractions ``[x0, y0, x1, y1]``), or None."""
        return list(self.config.data.crop) or None

    def preprocess(self, images: Sequence[np.ndarray] | torch.Tensor) -> torch.Tensor:
        """Images as a file or a benchmark gives them → the network input, with the training
        preprocessing: the checkpoint's ``data.crop`` box, the centred square, the resize to
        S (:func:`landmarks.data.transforms.frame_to_tensor`).

        Args:
            images: RGB uint8 frames (H,W,3) of any size, or a tensor (N,3,H,W) in [0, 1]
                (a benchmark reader's images: taken as they are when they already are the
                network input, i.e. S×S and no crop; otherwise read as uint8 pixels).

        Returns:
            (N,3,S,S) float32 in [0, 1].
        """
        crop, size = self.crop, self.image_size
        if torch.is_tensor(images):
            if crop is None and tuple(images.shape[-2:]) == (size, size):
                return images.float()
            images = list((images.clamp(0, 1) * 255).round().to(torch.uint8)
                          .permute(0, 2, 3, 1).numpy())
        if not len(images):
            return torch.zeros(0, 3, size, size)
        return torch.stack([frame_to_tensor(np.ascontiguousarray(f), size, crop)
                            for f in images])

    def to_image_pixels(self, keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
        """Keypoints (…,K,2) of the network input (normalised) → pixels of the ``width`` ×
        ``height`` image they were detected in (the inverse of :meth:`preprocess`)."""
        return to_input_pixels(keypoints, width, height, self.crop)

    def detect_images(self, images: Sequence[np.ndarray] | torch.Tensor,
                      batch_size: int = 64) -> np.ndarray:
        """The one detection on images, used by ``landmarks detect``, ``landmarks eval``, the
        attribute protocol and the jitter benchmark: :meth:`preprocess`, the model, and the
        keypoints mapped back into each image's pixels, in batches of ``batch_size``.

        Args:
            images: as :meth:`preprocess` (uint8 frames (H,W,3) of any sizes, or (N,3,H,W)).

        Returns:
            (N,K,2) float64 ``(x, y)`` in pixels of each image (pixel centres at integers).
        """
        out = []
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            kp = self.detect_tensor(self.preprocess(chunk)).double().numpy()
            sizes = ([tuple(chunk.shape[-2:])] * len(chunk) if torch.is_tensor(chunk)
                     else [f.shape[:2] for f in chunk])
            out.append(np.stack([self.to_image_pixels(k, w, h)
                                 for k, (h, w) in zip(kp, sizes, strict=True)]))
        return np.concatenate(out) if out else np.zeros((0, self.num_keypoints, 2))

    def detect_frames(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 frames (H,W,3) of any size → keypoints (N,K,2) in each frame's pixels
        (:meth:`detect_images`)."""
        return self.detect_images(frames, batch_size=max(len(frames), 1))


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given; folders expanded (recursively, sorted) to their images and videos."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file()
                           and f.suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
            if not files:
                raise InputError(f"input folder {p} holds no images or videos "
                                 f"({', '.join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)})")
            found += files
        elif p.is_file():
            if p.suffix.lower() not in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS:
                raise InputError(f"input {p}: unknown file type {p.suffix!r}; expected an image "
                                 f"({', '.join(IMAGE_EXTENSIONS)}) or a video "
                                 f"({', '.join(VIDEO_EXTENSIONS)})")
            found.append(p)
        else:
            raise InputError(f"input {p} does not exist")
    return found


def iter_video_frames(path: Path) -> Iterator[np.ndarray]:
    """Decode a video's frames as RGB uint8 arrays (H,W,3)
    (:func:`landmarks.data.video_io.iter_rgb_frames`); an :class:`InputError` naming the file
    when it cannot be decoded."""
    try:
        yield from iter_rgb_frames(path)
    except av.error.FFmpegError as err:
        raise InputError(f"video {path} could not be decoded: {err}") from err


def video_fps(path: Path) -> float:
    """The video's frame rate (25 when the container does not say)."""
    return _video_fps(path)


def batched(it: Iterable[np.ndarray], n: int) -> Iterator[list[np.ndarray]]:
    """Lists of ``n`` consecutive items of ``it`` (the last one shorter)."""
    batch: list[np.ndarray] = []
    for item in it:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def detect_paths(detector: Detector, paths: Sequence[Path], overlay_dir: Path | None = None,
                 batch_size: int = 32) -> tuple[list[dict[str, Any]], list[str]]:
    """Run ``detector`` on image and video files. Returns the JSON records and the list of
    files that could not be read (skipped, each named)."""
    colors = keypoint_colors(detector.num_keypoints)
    records: list[dict[str, Any]] = []
    skipped: list[str] = []
    images = [p for p in paths if p.suffix.lower() in IMAGE_EXTENSIONS]
    videos = [p for p in paths if p.suffix.lower() in VIDEO_EXTENSIONS]
    for chunk in (images[i:i + batch_size] for i in range(0, len(images), batch_size)):
        frames, ok = [], []
        for p in chunk:
            try:
                with Image.open(p) as im:
                    frames.append(np.asarray(im.convert("RGB")))
                ok.append(p)
            except OSError as err:
                skipped.append(f"{p}: {err}")
        if not frames:
            continue
        for p, frame, kp in zip(ok, frames, detector.detect_frames(frames), strict=True):
            records.append({"source": str(p), "frame": None, "keypoints": kp.tolist()})
            if overlay_dir is not None:
                save_image(draw_keypoints(frame, kp, colors), overlay_dir / f"{p.stem}.png")
    for p in videos:
        writer = None
        try:
            if overlay_dir is not None:
                writer = VideoOverlayWriter(overlay_dir / f"{p.stem}.mp4", fps=video_fps(p))
                writer.__enter__()
            index = 0
            for frames in batched(iter_video_frames(p), batch_size):
                for frame, kp in zip(frames, detector.detect_frames(frames), strict=True):
                    records.append({"source": str(p), "frame": index, "keypoints": kp.tolist()})
                    if writer is not None:
                        writer.write(draw_keypoints(frame, kp, colors))
                    index += 1
            if index == 0:
                skipped.append(f"{p}: no frames decoded")
        except (InputError, av.error.FFmpegError) as err:
            skipped.append(f"{p}: {err}")
        finally:
            if writer is not None:
                writer.__exit__(None, None, None)
    return records, skipped


def write_json(records: list[dict[str, Any]] | dict[str, Any], path: Path,
               force: bool = False) -> Path:
    """Write records atomically; an existing file is kept unless ``force``."""
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(fd, "w") as f:
        json.dump(records, f)
    os.replace(tmp, path)
    return path
