"""A supervised reference row for face benchmarks: MediaPipe face mesh reduced to MAFL's 5 points.

MediaPipe's face mesh (Apache-2.0; ``mediapipe==0.10.21`` bundles the models in its wheel, later
versions do not) predicts 478 points (468 mesh points + 10 iris points with
``refine_landmarks=True``). They are reduced to the 5 MAFL points in the order the benchmark uses
(image-left before image-right, i.e. the *subject's* right eye / mouth corner first):

* eye centres = mean of the 16 eye-contour points of MediaPipe's ``FACEMESH_RIGHT_EYE``
  (the subject's right eye, on the image left) and ``FACEMESH_LEFT_EYE`` (image right) -- the
  analogue of dlib's eye centres (mean of the 6 contour points 36-41 / 42-47);
* nose tip = mesh point 4 (the tip's upper slope). Mesh point 1 (the lowest point of the tip) is
  the textbook "nose tip", but dlib's point 30, which the RealFaces labels use, sits higher: on
  RealFaces ``train_labelled`` (124 frames; the test split was not used for this choice) the
  nose error was 3.0% of the inter-ocular distance with point 4 and 10.6% with point 1;
* mouth corners = mesh points 61 (image left) and 291 (image right).

The crops are upscaled before MediaPipe runs (default longer side 512, i.e. 4× a 128-px crop):
on ``train_labelled`` the mean error was 2.90% as is (128 px), 2.21% at 256 and 2.03% at 512,
with no frame missed at any size (the test split was not used for this choice).

MediaPipe reports points normalised to ``[0, 1]`` of the processed image's width and height
(0 = the outer edge of the first pixel). Images can be upscaled (and padded) before processing;
points are mapped back to the *input* image's pixel coordinates under the package convention
(pixel ``i``'s centre is at ``i``): ``x_px = x_edge - 0.5``.

Install (what ``make demo`` does; wheels exist for CPython 3.9-3.12 on Linux x86_64, macOS and
Windows x64 only)::

    pip install absl-py attrs flatbuffers 'protobuf>=6.31.1,<7' opencv-python-headless
    pip install --no-deps mediapipe==0.10.21

The wheel declares ``numpy<2``, ``protobuf<5``, ``jax``, ``jaxlib``, ``sentencepiece``,
``sounddevice`` and ``opencv-contrib-python``; the face mesh needs none of the last five, runs
beside numpy 2, and protobuf 6 suits it and tensorboard (>= 2.21 needs protobuf >= 6.31.1; protobuf
7 breaks MediaPipe's face mesh graph setup). Installing it last, with ``--no-deps``, leaves pip no
conflict to report; ``pip check`` still lists those declared requirements.

MediaPipe's native code logs to the process's stderr (file descriptor 2) with no switch that reaches
it from Python (``GLOG_minloglevel`` / ``TF_CPP_MIN_LOG_LEVEL`` are not read by this wheel), so
while it is imported and while a face mesh runs, descriptor 2 is captured and passed on afterwards
without the start-up chatter (see :func:`_filtered_native_stderr`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

__all__ = [
    "MEDIAPIPE_INSTALL",
    "MP_LEFT_EYE_CONTOUR",
    "MP_MOUTH_LEFT",
    "MP_MOUTH_RIGHT",
    "MP_NOSE_TIP",
    "MP_RIGHT_EYE_CONTOUR",
    "mafl5_from_mesh",
    "mediapipe_available",
    "mediapipe_mafl5",
]

#: How to install the one MediaPipe release that bundles its models, beside numpy 2.
MEDIAPIPE_INSTALL = ("pip install absl-py attrs flatbuffers 'protobuf>=6.31.1,<7' "
                     "opencv-python-headless && pip install --no-deps mediapipe==0.10.21")

#: Contour of the eye on the image *left* (MediaPipe ``FACEMESH_RIGHT_EYE``: the subject's right).
MP_RIGHT_EYE_CONTOUR: tuple[int, ...] = (
    7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246)
#: Contour of the eye on the image *right* (MediaPipe ``FACEMESH_LEFT_EYE``: the subject's left).
MP_LEFT_EYE_CONTOUR: tuple[int, ...] = (
    249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466)
#: Nose tip (see the module docstring for why 4 rather than 1).
MP_NOSE_TIP = 4
#: Mouth corner on the image left (the subject's right).
MP_MOUTH_LEFT = 61
#: Mouth corner on the image right (the subject's left).
MP_MOUTH_RIGHT = 291

_MESH_POINTS = 478
_MODEL_FILE = Path("modules") / "face_landmark" / "face_landmark_with_attention.tflite"

#: Lines MediaPipe 0.10.21's native code writes to stderr that are not errors: TensorFlow Lite's
#: INFO lines ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU."), absl's note that it
#: logs to stderr, absl/glog INFO and WARNING lines ("W0000 00:00:1796094417.110328 8738
#: inference_feedback_manager.cc:114] Feedback manager requires a model with a single signature
#: ..."), and pybind11_protobuf's start-up message under protobuf >= 6.30, which dropped
#: ``MessageFactory.GetPrototype``: it then converts each proto through its ``_pb2`` module, which
#: works for every MediaPipe message. absl/glog ERROR and FATAL lines and anything else pass.
_NATIVE_CHATTER = re.compile(
    r"INFO: .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:.]+\s+\d+ [\w./+-]+:\d+\] .*"
    r"|AttributeError: 'MessageFactory' object has no attribute 'GetPrototype'")
#: Where the mediapipe 0.10.21 wheel exists (PyPI): CPython 3.9-3.12 on these platforms.
_WHEEL_PYTHONS = ((3, 9), (3, 12))
_WHEEL_PLATFORMS = ("linux-x86_64", "darwin-x86_64", "darwin-arm64", "win32-amd64")


@contextlib.contextmanager
def _filtered_native_stderr() -> Iterator[None]:
    """Capture file descriptor 2 for the block, then write what was captured to stderr without
    MediaPipe's start-up chatter (:data:`_NATIVE_CHATTER`).

    The native code writes straight to descriptor 2, so ``sys.stderr`` alone cannot catch it.
    Everything else written in the block (a Python warning, an absl ERROR line) is passed on
    when the block ends; an exception leaving the block is raised after descriptor 2 is restored,
    so its traceback shows as usual. (Were the native code to abort the process inside the
    block, what it wrote there would be lost.) Where descriptor 2 cannot be duplicated nothing
    is captured.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        saved = -1
    if saved < 0:
        yield
        return
    try:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                captured.seek(0)
                text = captured.read().decode("utf-8", errors="replace")
                kept = [ln for ln in text.splitlines() if not _NATIVE_CHATTER.fullmatch(ln)]
                if kept:
                    sys.stderr.write("\n".join(kept) + "\n")
                    sys.stderr.flush()
    finally:
        os.close(saved)


def _not_installed_reason() -> str:
    """Why mediapipe is missing, in one line: no wheel for this Python/platform, or not
    installed."""
    here = f"{sys.platform}-{platform.machine().lower()}"
    version = sys.version_info[:2]
    if not (_WHEEL_PYTHONS[0] <= version <= _WHEEL_PYTHONS[1]) or here not in _WHEEL_PLATFORMS:
        return (f"mediapipe 0.10.21 has no wheel for Python {version[0]}.{version[1]} on {here} "
                f"(only CPython 3.9-3.12 on Linux x86_64, macOS, Windows x64)")
    return "mediapipe is not installed (make demo installs mediapipe==0.10.21)"


@functools.lru_cache(maxsize=1)
def mediapipe_available() -> tuple[bool, str]:
    """Whether MediaPipe's face mesh can run here, and why not.

    Imports ``mediapipe``, checks that the wheel bundles the face-mesh model (0.10.21 does,
    later versions do not) and builds one ``FaceMesh`` (this catches an incompatible protobuf).
    The answer is cached for the process.

    Returns:
        ``(True, "mediapipe <version>")`` or ``(False, reason)``, the reason naming the fix.
    """
    try:
        with _filtered_native_stderr():
            import mediapipe as mp
    except ModuleNotFoundError as err:
        if err.name != "mediapipe":
            return False, f"mediapipe is not importable ({err}; {MEDIAPIPE_INSTALL})"
        return False, _not_installed_reason()
    except Exception as err:  # noqa: BLE001 - a broken install of it
        return False, f"mediapipe is not importable ({err}; {MEDIAPIPE_INSTALL})"
    version = getattr(mp, "__version__", "?")
    package = Path(mp.__file__).resolve().parent
    if not (package / _MODEL_FILE).is_file():
        return False, (f"mediapipe {version} ships no face-mesh model ({_MODEL_FILE} is missing); "
                       f"install mediapipe==0.10.21 ({MEDIAPIPE_INSTALL})")
    try:
        with _filtered_native_stderr(), _face_mesh():
            pass
    except Exception as err:  # noqa: BLE001 - any failure means the row cannot be computed
        return False, (f"mediapipe {version} is installed but its face mesh failed to start "
                       f"({type(err).__name__}: {err}); it needs protobuf 4.25.x or 6.x "
                       f"({MEDIAPIPE_INSTALL})")
    return True, f"mediapipe {version}"


def _face_mesh(min_detection_confidence: float = 0.5) -> Any:
    """A static-image ``FaceMesh`` (one face, refined: 478 points); MediaPipe's protobuf
    DeprecationWarnings (protobuf 6 deprecates ``FieldDescriptor.label``) are silenced."""
    from mediapipe.python.solutions import face_mesh

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                  min_detection_confidence=min_detection_confidence)


def mafl5_from_mesh(mesh: np.ndarray) -> np.ndarray:
    """Reduce MediaPipe face-mesh points to MAFL's 5 points (see the module docstring).

    Args:
        mesh: ``(..., 478, 2)`` (or ``(..., 468, 2)``) face-mesh points ``(x, y)``, any unit.

    Returns:
        ``(..., 5, 2)``: image-left eye centre, image-right eye centre, nose tip, image-left
        mouth corner, image-right mouth corner, in the unit of ``mesh``.
    """
    mesh = np.asarray(mesh, dtype=np.float64)
    if mesh.ndim < 2 or mesh.shape[-1] != 2 or mesh.shape[-2] < 468:
        raise ValueError(f"mesh: expected face-mesh points of shape (..., 478, 2), got "
                         f"{mesh.shape}")
    return np.stack([
        mesh[..., list(MP_RIGHT_EYE_CONTOUR), :].mean(axis=-2),
        mesh[..., list(MP_LEFT_EYE_CONTOUR), :].mean(axis=-2),
        mesh[..., MP_NOSE_TIP, :],
        mesh[..., MP_MOUTH_LEFT, :],
        mesh[..., MP_MOUTH_RIGHT, :],
    ], axis=-2)


def _prepare(image: np.ndarray, size: int | None, pad: float) -> tuple[np.ndarray, float, float,
                                                                        int]:
    """Upscale (so the longer side is ``size``) and pad ``image``; return it with the x and y
    scale factors and the pad in processed pixels."""
    h, w = image.shape[:2]
    scale = 1.0 if not size else size / max(h, w)
    if scale != 1.0:
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        image = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BICUBIC))
    else:
        nw, nh = w, h
    border = round(pad * max(nw, nh))
    if border:
        image = np.pad(image, ((border, border), (border, border), (0, 0)), mode="edge")
    return np.ascontiguousarray(image), nw / w, nh / h, border


def mediapipe_mafl5(images_uint8: Sequence[np.ndarray], *, size: int | None = 512,
                    pad: float = 0.0, min_detection_confidence: float = 0.5) -> np.ndarray:
    """MAFL's 5 points from MediaPipe's face mesh, in each input image's pixel coordinates.

    Args:
        images_uint8: RGB images, each ``(H, W, 3)`` uint8.
        size: upscale each image so its longer side is ``size`` before running MediaPipe
            (``None``: as is); points are mapped back to the input's pixels.
        pad: border added on every side (edge replication) as a fraction of the upscaled side.
        min_detection_confidence: MediaPipe's face-detector threshold.

    Returns:
        ``(N, 5, 2)`` float64 ``(x, y)`` pixel coordinates (pixel ``i``'s centre at ``i``), with
        NaN rows for images in which MediaPipe found no face.

    Raises:
        RuntimeError: if MediaPipe cannot run here (the message names the install command).
        ValueError: if an image is not ``(H, W, 3)`` uint8 (names its index).
    """
    ok, reason = mediapipe_available()
    if not ok:
        raise RuntimeError(reason)
    images = list(images_uint8)
    for i, img in enumerate(images):
        arr = np.asarray(img)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
            raise ValueError(f"images_uint8[{i}]: expected an RGB uint8 array (H, W, 3), got "
                             f"dtype {arr.dtype} and shape {arr.shape}")
    out = np.full((len(images), 5, 2), np.nan)
    with _filtered_native_stderr(), _face_mesh(min_detection_confidence) as mesh:
        for i, img in enumerate(images):
            proc, sx, sy, border = _prepare(np.asarray(img), size, pad)
            found = mesh.process(proc).multi_face_landmarks
            if not found:
                continue
            ph, pw = proc.shape[:2]
            pts = np.array([[p.x, p.y] for p in found[0].landmark], dtype=np.float64)
            pts[:, 0] = (pts[:, 0] * pw - border) / sx - 0.5
            pts[:, 1] = (pts[:, 1] * ph - border) / sy - 0.5
            out[i] = mafl5_from_mesh(pts)
    return out
