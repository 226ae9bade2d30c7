"""``landmarks eval CKPT --task reconstruction --videos DIR``: FOMM's video reconstruction
benchmark for a model that animates.

Each video under ``DIR`` (video files and frame folders, :func:`landmarks.data.video.
find_sources`) is read at ``size`` px (default: the model's ``image_size``; the geometry of the
other readers: centre square, antialiased resize), reconstructed from its first frame
(:func:`landmarks.animation.reconstruct_video`: source = frame 0, driving = every frame,
absolute motion) and scored against the real frames with :mod:`~landmarks.evaluation.
video_metrics` (L1, AKD, MKR, AED, FID; external models from :mod:`~landmarks.evaluation.
face_models`). When ``size`` differs from the model's ``image_size`` the model sees the frames
resized to its size and its output is resized back to ``size``.

Baseline rows, measured the same way:

* ``first frame repeated`` — no model: every frame replaced by frame 0;
* with ``baseline_imm``, a renderer checkpoint (IMM, zhang: any model that can render):
  ``render(frame 0, detect(frame)["keypoints"])`` (:func:`landmarks.animation.render_video`).

A video that cannot be decoded is skipped and counted (``skipped``), as is one with fewer than
two frames (``too_short``: a still photo's folder); neither stops the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from landmarks.animation import reconstruct_video, render_video
from landmarks.data.transforms import DatasetError, read_image_uint8, resize_frame
from landmarks.data.video import decode_video, find_sources
from landmarks.evaluation.face_models import DETECT_SIDE, MetricModels, load_metric_models
from landmarks.evaluation.video_metrics import (
    FaceObservation,
    MetricInfo,
    ReconstructionMetrics,
    VideoScores,
    face_stats,
    fid_from_features,
    format_table,
    l1_per_frame,
)
from landmarks.inference import Detector
from landmarks.models import require_animate, require_render

__all__ = ["ReconstructionReport", "VideoClip", "evaluate_reconstruction", "metric_infos",
           "read_videos", "score_rows"]

FIRST_FRAME = "first frame repeated"


@dataclass
class VideoClip:
    """One held-out video: its name (path relative to the root) and frames (N,S,S,3) uint8."""

    name: str
    frames: np.ndarray


def read_videos(root: Path, size: int, max_frames: int = 0
                ) -> tuple[list[VideoClip], list[str], list[str]]:
    """The videos under ``root`` at ``size`` px (first ``max_frames`` frames when positive).

    Returns ``(clips, skipped, too_short)``: ``skipped`` names each video that could not be
    decoded (with the reason), ``too_short`` each with fewer than 2 frames.
    Raises :class:`DatasetError` when ``root`` is missing or holds no videos at all.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"--videos {root}: not a folder (expected a folder of video files "
                           f"and/or frame folders)")
    sources = find_sources(root)
    if not sources:
        raise DatasetError(f"--videos {root} holds no video files or frame folders")
    clips: list[VideoClip] = []
    skipped: list[str] = []
    too_short: list[str] = []
    for path, frame_paths in sources:
        name = str(path.relative_to(root)) if path != root else path.name
        try:
            if frame_paths:
                paths = frame_paths[:max_frames] if max_frames > 0 else frame_paths
                frames = np.stack([read_image_uint8(p, size) for p in paths])
            else:
                frames = decode_video(path, size, None, max_frames, strict=True)
        except Exception as err:  # any decoder error: the video is skipped, never a crash
            skipped.append(f"{path}: {str(err).splitlines()[0] if str(err) else err!r}")
            continue
        if len(frames) < 2:
            too_short.append(f"{path}: {len(frames)} frame(s)")
            continue
        clips.append(VideoClip(name, frames))
    return clips, skipped, too_short


def _resize_all(frames: np.ndarray, size: int) -> np.ndarray:
    if frames.shape[1:3] == (size, size):
        return frames
    return np.stack([resize_frame(f, size) for f in frames])


def _model_frames(fn: Callable[[nn.Module, np.ndarray, int], np.ndarray], model: nn.Module,
                  frames: np.ndarray, batch_size: int) -> np.ndarray:
    """Run ``fn`` at the model's size and bring the result back to the frames' size."""
    s = int(model.image_size)
    out = fn(model, _resize_all(frames, s), batch_size)
    return _resize_all(out, frames.shape[1])


def metric_infos(mm: MetricModels) -> dict[str, MetricInfo]:
    """The footnote of each metric from the loaded external models."""
    detect = (f"dlib HOG detector + 68-point predictor run independently on the real and the "
              f"generated frame, each upsampled (bicubic) to {DETECT_SIDE} px on its shorter "
              f"side; points mapped back to the frame's pixels")
    lm, idn, inc = (mm.models.get(k) for k in ("landmarks", "identity", "inception"))
    why = {k: mm.unavailable.get(k, "not loaded") for k in ("landmarks", "identity", "inception")}
    return {
        "L1": MetricInfo(None, "mean |real - generated|, pixels in [0, 1], all frames pooled"),
        "AKD": MetricInfo(lm, f"mean landmark distance in frame pixels over frames where both "
                              f"faces are found; {detect}",
                          None if lm else why["landmarks"]),
        "MKR": MetricInfo(lm, "fraction of the real frame's 68 landmarks missing on the "
                              "generated frame (a face not found = 68 missing)",
                          None if lm else why["landmarks"]),
        "AED": MetricInfo(idn, "mean L2 distance of 128-d dlib embeddings (aligned chip from "
                               "each frame's own 68 points) over frames where both faces are "
                               "found", None if idn else why["identity"]),
        "FID": MetricInfo(inc, "Frechet distance of 2048-d Inception features, all real vs all "
                               "generated frames pooled (299 px bilinear, pixel/128 - 1); "
                               "biased on a few hundred frames: compare rows, not papers",
                          None if inc else why["inception"]),
    }


@dataclass
class _RealSide:
    """Per-video analyses of the real frames, computed once and shared by every row."""

    faces: dict[str, list[FaceObservation]] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)


def _observe(faces: Callable[[np.ndarray], FaceObservation], frames: np.ndarray
             ) -> list[FaceObservation]:
    """Observations of each frame; identical frames (e.g. a repeated first frame) are
    analysed once."""
    out: list[FaceObservation] = []
    for i, f in enumerate(frames):
        if i and np.array_equal(f, frames[i - 1]):
            out.append(out[-1])
        else:
            out.append(faces(f))
    return out


def _face_seconds(faces: Any) -> float:
    s = getattr(faces, "seconds", None)
    return float(sum(s.values())) if isinstance(s, dict) else 0.0


def score_rows(clips: list[VideoClip], generated: dict[str, list[np.ndarray]],
               mm: MetricModels, notes: dict[str, str] | None = None
               ) -> list[ReconstructionMetrics]:
    """Score each method's reconstructions (``generated[method][i]`` for ``clips[i]``)."""
    infos = metric_infos(mm)
    real = _RealSide()
    rows = []
    for method, fakes in generated.items():
        seconds = {"L1": 0.0, "faces": 0.0, "FID": 0.0}
        videos: list[VideoScores] = []
        fake_feats, real_feats = [], []
        for clip, fake in zip(clips, fakes, strict=True):
            t0 = time.perf_counter()
            l1 = l1_per_frame(clip.frames, fake)
            seconds["L1"] += time.perf_counter() - t0
            vs = VideoScores(clip.name, len(fake), float(l1.sum()))
            if mm.faces is not None:
                t0 = time.perf_counter()
                if clip.name not in real.faces:
                    real.faces[clip.name] = _observe(mm.faces, clip.frames)
                obs = _observe(mm.faces, fake)
                seconds["faces"] += time.perf_counter() - t0
                kp, idn = face_stats(real.faces[clip.name], obs)
                vs.keypoints = kp
                vs.identity = idn if "identity" in mm.models else None
            if mm.inception is not None:
                t0 = time.perf_counter()
                if clip.name not in real.features:
                    real.features[clip.name] = mm.inception(clip.frames)
                fake_feats.append(mm.inception(fake))
                real_feats.append(real.features[clip.name])
                seconds["FID"] += time.perf_counter() - t0
            videos.append(vs)
        fid = None
        if mm.inception is not None and videos:
            t0 = time.perf_counter()
            fid = fid_from_features(np.concatenate(real_feats), np.concatenate(fake_feats))
            seconds["FID"] += time.perf_counter() - t0
        rows.append(ReconstructionMetrics(method, videos, infos, fid, seconds,
                                          (notes or {}).get(method, "")))
    return rows


@dataclass
class ReconstructionReport:
    """Everything ``landmarks eval --task reconstruction`` prints and writes."""

    checkpoint: str
    model: str
    videos_root: str
    size: int
    max_frames: int
    rows: list[ReconstructionMetrics]
    videos: list[str]
    skipped: list[str]
    too_short: list[str]
    timing: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"task": "reconstruction", "checkpoint": self.checkpoint, "model": self.model,
                "videos_root": self.videos_root, "size": self.size,
                "max_frames": self.max_frames, "videos": self.videos,
                "skipped": {"count": len(self.skipped), "files": self.skipped},
                "too_short": {"count": len(self.too_short), "files": self.too_short},
                "protocol": ("source = first frame, driving = every frame, absolute motion: "
                             "generate(source, detect(source), detect(frame))"),
                "rows": [r.to_dict() for r in self.rows],
                "seconds_per_frame": self.timing}

    def format(self, per_video: bool = True) -> str:
        head = (f"video reconstruction: {self.checkpoint} (model {self.model!r}) on "
                f"{len(self.videos)} videos of {self.videos_root} at {self.size} px; "
                f"{len(self.skipped)} skipped (cannot be decoded), {len(self.too_short)} too "
                f"short (< 2 frames)")
        return head + "\n" + format_table(self.rows, per_video=per_video)


def _timing(mm: MetricModels, rows: list[ReconstructionMetrics]) -> dict[str, float | None]:
    frames = sum(r.frames for r in rows)
    faces, inc = mm.faces, mm.inception
    calls = getattr(faces, "calls", 0)
    fs = getattr(faces, "seconds", {}) if faces is not None else {}
    return {
        "L1": sum(r.seconds.get("L1", 0.0) for r in rows) / frames if frames else None,
        "dlib_landmarks": fs.get("landmarks", 0.0) / calls if calls else None,
        "dlib_identity": fs.get("identity", 0.0) / calls if calls else None,
        "inception": inc.seconds / inc.frames if getattr(inc, "frames", 0) else None,
    }


def evaluate_reconstruction(checkpoint: str | Path, videos: str | Path, *, size: int = 0,
                            max_frames: int = 0, baseline_imm: str | Path | None = None,
                            device: str = "auto", batch_size: int = 16,
                            metric_models: MetricModels | None = None,
                            progress: Callable[[str], None] | None = None
                            ) -> ReconstructionReport:
    """Reconstruct every video under ``videos`` with the checkpoint's model and score it, with
    the baseline rows (module docstring).

    Args:
        checkpoint: a training checkpoint of a model that animates.
        videos: a folder of video files and/or frame folders.
        size: side (px) at which frames are read and scored; 0 = the model's ``image_size``.
        max_frames: use the first ``max_frames`` frames of each video (0 = all).
        baseline_imm: optional checkpoint of a renderer model (IMM, zhang) for a baseline row.
        device: where the models run ("auto", "cpu", "cuda", ...).
        batch_size: frames per forward pass.
        metric_models: the external models (default :func:`load_metric_models`: from the
            cache; whatever is missing makes its metric unavailable, with the reason).
        progress: called with a line per video / row (e.g. ``print``).
    Raises:
        AnimationError: the checkpoint's model cannot animate (named).
        RendererError: ``baseline_imm``'s model cannot render.
        DatasetError: ``videos`` is not a folder of videos, or none could be read.
    """
    say = progress or (lambda _line: None)
    det = Detector.from_checkpoint(checkpoint, device=device)
    name = det.config.model.name
    require_animate(det.model, name, "landmarks eval --task reconstruction")
    base = None
    if baseline_imm is not None:
        base = Detector.from_checkpoint(baseline_imm, device=device)
        require_render(base.model, base.config.model.name, "--baseline-imm")
    size = int(size) or det.image_size
    if max_frames < 0:
        raise ValueError(f"--max-frames: expected >= 0 (0 = all), got {max_frames}")
    clips, skipped, too_short = read_videos(Path(videos), size, max_frames)
    for s in skipped:
        say(f"skipped (cannot be decoded): {s}")
    if not clips:
        raise DatasetError(f"--videos {videos}: no video could be used ({len(skipped)} cannot "
                           f"be decoded, {len(too_short)} have fewer than 2 frames)")
    generated: dict[str, list[np.ndarray]] = {name: [], FIRST_FRAME: []}
    notes = {FIRST_FRAME: "baseline: no model, every frame replaced by the first",
             name: "source = first frame, driving = each frame, absolute motion"}
    base_row = ""
    if base is not None:
        base_row = f"{base.config.model.name} render (baseline)"
        generated[base_row] = []
        notes[base_row] = (f"baseline: {baseline_imm}: render(first frame, "
                           f"detect(frame)['keypoints'])")
    for clip in clips:
        say(f"reconstructing {clip.name} ({len(clip.frames)} frames)")
        generated[name].append(_model_frames(reconstruct_video, det.model, clip.frames,
                                             batch_size))
        generated[FIRST_FRAME].append(np.repeat(clip.frames[:1], len(clip.frames), axis=0))
        if base is not None:
            generated[base_row].append(_model_frames(render_video, base.model, clip.frames,
                                                     batch_size))
    mm = metric_models if metric_models is not None else load_metric_models()
    say("scoring")
    rows = score_rows(clips, generated, mm, notes)
    return ReconstructionReport(str(checkpoint), name, str(videos), size, max_frames, rows,
                                [c.name for c in clips], skipped, too_short, _timing(mm, rows))
