"""Portable forms of a trained model: ONNX files run by onnxruntime (checked against PyTorch)
and weights-only release folders (safetensors + JSON, loaded with no pickle).

Runtime pieces (:mod:`.onnx_runtime`, :mod:`.release_io`, :mod:`.source`) are imported here;
the exporter (:mod:`landmarks.export.onnx_format`, which pulls in ``torch.onnx``) is imported
by whoever exports.
"""

from landmarks.export.onnx_runtime import (
    OnnxDetector,
    OnnxFileError,
    OnnxGenerator,
    read_metadata,
)
from landmarks.export.release_io import (
    Release,
    ReleaseError,
    is_release,
    load_release,
    save_release_weights,
)
from landmarks.export.source import ModelSource, load_model_source

__all__ = [
    "ModelSource",
    "OnnxDetector",
    "OnnxFileError",
    "OnnxGenerator",
    "Release",
    "ReleaseError",
    "is_release",
    "load_model_source",
    "load_release",
    "read_metadata",
    "save_release_weights",
]
