"""Running exported ONNX files with onnxruntime (CPU), behind the model contract.

An exported detector reads ``images`` (B,3,S,S) float32 in [0, 1] and returns ``keypoints``
(B,K,2) normalised (x, y) and, for models that have them, ``jacobians`` (B,K,2,2). An exported
generator (models that animate) reads ``source`` (B,3,S,S), ``source_keypoints``,
``source_jacobians``, ``driving_keypoints``, ``driving_jacobians`` and returns
``reconstruction`` (B,3,S,S). Both carry what inference needs in the ONNX file's
``metadata_props`` (:data:`META_PREFIX` keys; see :func:`read_metadata`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import Tensor, nn

__all__ = ["DETECTOR", "GENERATOR", "META_PREFIX", "OnnxDetector", "OnnxFileError",
           "OnnxGenerator", "onnx_session", "read_metadata"]

META_PREFIX = "landmarks."
DETECTOR = "detector"
GENERATOR = "generator"


class OnnxFileError(ValueError):
    """An ONNX file is unreadable or lacks the metadata that inference needs."""


def onnx_session(path: str | Path, threads: int = 0) -> ort.InferenceSession:
    """A CPU inference session of ``path`` (``threads`` intra-op threads; 0 = onnxruntime's
    default)."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise OnnxFileError(f"{path} is not a readable ONNX file: {first}") from err


def read_metadata(session: ort.InferenceSession, path: str | Path = "") -> dict[str, Any]:
    """The ``landmarks.*`` metadata of an exported file, JSON-decoded, keys without the prefix:
    "kind" (detector | generator), "model", "num_keypoints", "image_size", "crop", "config"
    (the resolved training config), "step", "version", "max_difference"."""
    props = session.get_modelmeta().custom_metadata_map
    meta = {k[len(META_PREFIX):]: json.loads(v) for k, v in props.items()
            if k.startswith(META_PREFIX)}
    missing = {"kind", "model", "config"} - set(meta)
    if missing:
        raise OnnxFileError(f"{path} was not exported by `landmarks export` (its metadata lacks "
                            f"{', '.join(sorted(META_PREFIX + m for m in missing))})")
    return meta


class OnnxDetector(nn.Module):
    """An exported detector behind :meth:`~landmarks.models.LandmarkModel.detect` (CPU).

    ``detect(images (B,3,S,S) in [0,1]) -> {"keypoints": (B,K,2)[, "jacobians": (B,K,2,2)]}``.
    """

    def __init__(self, session: ort.InferenceSession, meta: dict[str, Any]) -> None:
        super().__init__()
        self.session = session
        self.meta = meta
        self.num_keypoints = int(meta["num_keypoints"])
        self.image_size = int(meta["image_size"])
        self._outputs = [o.name for o in session.get_outputs()]

    @classmethod
    def from_file(cls, path: str | Path, threads: int = 0) -> OnnxDetector:
        session = onnx_session(path, threads)
        meta = read_metadata(session, path)
        if meta["kind"] != DETECTOR:
            raise OnnxFileError(f"{path} holds a {meta['kind']}, not a detector")
        return cls(session, meta)

    def detect(self, images: Tensor) -> dict[str, Tensor]:
        x = np.ascontiguousarray(images.detach().float().cpu().numpy())
        out = self.session.run(None, {"images": x})
        return {name: torch.from_numpy(v) for name, v in zip(self._outputs, out, strict=True)}


class OnnxGenerator(nn.Module):
    """An exported generator behind ``generate(source, source_motion, driving_motion)``:
    (B,3,S,S) and two dicts of "keypoints" (B,K,2), "jacobians" (B,K,2,2) →
    ``{"reconstruction": (B,3,S,S)}`` (CPU)."""

    def __init__(self, session: ort.InferenceSession, meta: dict[str, Any]) -> None:
        super().__init__()
        self.session = session
        self.meta = meta

    @classmethod
    def from_file(cls, path: str | Path, threads: int = 0) -> OnnxGenerator:
        session = onnx_session(path, threads)
        meta = read_metadata(session, path)
        if meta["kind"] != GENERATOR:
            raise OnnxFileError(f"{path} holds a {meta['kind']}, not a generator")
        return cls(session, meta)

    def generate(self, source: Tensor, source_motion: dict[str, Tensor],
                 driving_motion: dict[str, Tensor]) -> dict[str, Tensor]:
        def arr(t: Tensor) -> np.ndarray:
            return np.ascontiguousarray(t.detach().float().cpu().numpy())

        feeds = {"source": arr(source),
                 "source_keypoints": arr(source_motion["keypoints"]),
                 "source_jacobians": arr(source_motion["jacobians"]),
                 "driving_keypoints": arr(driving_motion["keypoints"]),
                 "driving_jacobians": arr(driving_motion["jacobians"])}
        (out,) = self.session.run(["reconstruction"], feeds)
        return {"reconstruction": torch.from_numpy(out)}
