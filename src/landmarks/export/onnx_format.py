"""ONNX export of a trained model's detector (every registered model) and, for models that
animate, of its generator, each verified against PyTorch before the file is kept.

``torch.onnx.export(dynamo=True)`` traces ``model.detect`` (and ``model.generate``) with a
dynamic batch dimension; onnxruntime then runs the file on random images and on real ones (the
training data's, or those given), at a batch size other than the traced one, and the largest
difference from PyTorch must be ≤ :data:`TOLERANCE` (normalised keypoint units; [0, 1] pixel
units for the generator), else :class:`ExportVerificationError` and nothing is written.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from PIL import Image
from torch import Tensor, nn

from landmarks.config import to_dict
from landmarks.data.transforms import IMAGE_EXTENSIONS, frame_to_tensor
from landmarks.export.onnx_runtime import (
    DETECTOR,
    GENERATOR,
    META_PREFIX,
    OnnxDetector,
    OnnxGenerator,
    onnx_session,
)
from landmarks.export.source import ModelSource
from landmarks.models import can_animate

__all__ = ["OPSET", "TOLERANCE", "ExportVerificationError", "OnnxExport", "OnnxExportError",
           "Verification",
           "export_onnx", "generator_path", "sample_images"]

#: largest accepted difference between onnxruntime and PyTorch
TOLERANCE = 1e-4
#: ONNX opset (grid_sample with 4-D inputs needs ≥ 16)
OPSET = 18
#: images of the training data (or given) used for verification
REAL_SAMPLES = 4
RANDOM_SAMPLES = 3
_TRACE_BATCH = 2


class OnnxExportError(ValueError):
    """torch.onnx could not trace or translate the model (one line says why)."""


class ExportVerificationError(ValueError):
    """The exported graph's outputs differ from PyTorch's by more than :data:`TOLERANCE`."""


@dataclass
class Verification:
    """Largest absolute differences between onnxruntime and PyTorch, per output and input set
    ("random": uniform noise images; "images": real images, or none when none was found)."""

    differences: dict[str, dict[str, float]] = field(default_factory=dict)
    real_inputs: str = ""

    @property
    def max_difference(self) -> float:
        return max((d for per in self.differences.values() for d in per.values()), default=0.0)

    def describe(self) -> str:
        parts = [f"{out} {', '.join(f'{d:.1e} ({inp})' for inp, d in per.items())}"
                 for out, per in self.differences.items()]
        return "; ".join(parts)


@dataclass
class OnnxExport:
    """What :func:`export_onnx` wrote and measured."""

    detector: Path
    detector_check: Verification
    generator: Path | None = None
    generator_check: Verification | None = None


class _DetectGraph(nn.Module):
    """``images (B,3,S,S) -> keypoints (B,K,2)[, jacobians (B,K,2,2)]`` (the traced graph)."""

    def __init__(self, model: nn.Module, jacobians: bool) -> None:
        super().__init__()
        self.model = model
        self.jacobians = jacobians

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        out = self.model.detect(images)
        if self.jacobians:
            return out["keypoints"], out["jacobians"]
        return (out["keypoints"],)


class _GenerateGraph(nn.Module):
    """``(source, source_keypoints, source_jacobians, driving_keypoints, driving_jacobians)
    -> reconstruction (B,3,S,S)`` (the traced graph)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, source: Tensor, source_keypoints: Tensor, source_jacobians: Tensor,
                driving_keypoints: Tensor, driving_jacobians: Tensor) -> Tensor:
        return self.model.generate(
            source, {"keypoints": source_keypoints, "jacobians": source_jacobians},
            {"keypoints": driving_keypoints, "jacobians": driving_jacobians})["reconstruction"]


def generator_path(detector_path: str | Path) -> Path:
    """Where the generator goes beside a detector file: ``F.onnx`` → ``F.generator.onnx``."""
    p = Path(detector_path)
    return p.with_name(f"{p.stem}.generator.onnx")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's progress lines, warnings and logs (errors still raise)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _to_onnx(graph: nn.Module, args: tuple[Tensor, ...], input_names: list[str],
             output_names: list[str], what: str) -> onnx.ModelProto:
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    dynamic = {name: {0: batch} for name in input_names}
    try:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(graph.eval(), args, dynamo=True, opset_version=OPSET,
                                        input_names=input_names, output_names=output_names,
                                        dynamic_shapes=dynamic, verbose=False)
    except Exception as err:  # noqa: BLE001 - torch.onnx raises many kinds, with pages of advice
        raise OnnxExportError(f"torch.onnx could not export the {what}: "
                              f"{_summary(err)}") from err
    return program.model_proto


def _summary(err: Exception) -> str:
    """The line of a torch.onnx error that says what failed (its 'Exception summary', else its
    first line), without colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if "## Exception summary" in lines:
        rest = lines[lines.index("## Exception summary") + 1:]
        if rest:
            return rest[0]
    return lines[0] if lines else type(err).__name__


def _metadata(src: ModelSource, kind: str) -> dict[str, Any]:
    """The values stored in the file's ``metadata_props`` (see
    :func:`~landmarks.export.onnx_runtime.read_metadata`)."""
    cfg = src.config
    return {"kind": kind, "model": cfg.model.name, "num_keypoints": cfg.model.num_keypoints,
            "image_size": cfg.model.image_size, "crop": list(cfg.data.crop or []),
            "config": to_dict(cfg), "step": src.step, "version": src.version}


def _save(proto: onnx.ModelProto, meta: dict[str, Any], path: Path) -> Path:
    """Write ``proto`` with ``meta`` (JSON-encoded, keys prefixed) to a temporary file beside
    ``path`` (one self-contained file, weights inside); the caller renames it once verified."""
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=META_PREFIX + k, value=json.dumps(v))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from other users
    onnx.save_model(proto, tmp)
    return Path(tmp)


def sample_images(paths: Sequence[str | Path], size: int, crop: Sequence[float] | None,
                  limit: int = REAL_SAMPLES) -> tuple[Tensor | None, str]:
    """Up to ``limit`` images (files, or the first ones of folders, searched recursively) as the
    model reads them: ``(N,3,size,size)`` in [0, 1], and where they came from; ``(None, "")``
    when none is readable."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file():
                    found.append(f)
                    if len(found) >= limit:
                        break
        if len(found) >= limit:
            break
    frames, used = [], []
    for f in found[:limit]:
        try:
            with Image.open(f) as im:
                frames.append(frame_to_tensor(np.asarray(im.convert("RGB")), size, crop))
            used.append(f)
        except OSError:
            continue
    if not frames:
        return None, ""
    where = used[0].parent if len(used) > 1 else used[0]
    return torch.stack(frames), f"{len(used)} image(s) of {where}"


def _difference(got: np.ndarray, want: Tensor) -> float:
    return float(np.abs(got - want.detach().float().numpy()).max())


def _check_detector(model: nn.Module, path: Path, meta: dict[str, Any],
                    inputs: dict[str, Tensor], names: list[str]) -> Verification:
    runtime = OnnxDetector(onnx_session(path, threads=1), meta)
    check = Verification()
    for label, images in inputs.items():
        with torch.no_grad():
            want = model.detect(images)
        got = runtime.detect(images)
        for name in names:
            check.differences.setdefault(name, {})[label] = _difference(
                got[name].numpy(), want[name])
    return check


def _check_generator(model: nn.Module, path: Path, meta: dict[str, Any],
                     inputs: dict[str, Tensor]) -> Verification:
    runtime = OnnxGenerator(onnx_session(path, threads=1), meta)
    check = Verification()
    for label, images in inputs.items():
        with torch.no_grad():
            src = model.detect(images)
            # drive each image with the motion of the next one
            drv = {k: v.roll(1, dims=0) for k, v in src.items()}
            want = model.generate(images, src, drv)["reconstruction"]
        got = runtime.generate(images, src, drv)["reconstruction"]
        check.differences.setdefault("reconstruction", {})[label] = _difference(got.numpy(), want)
    return check


def _verified(proto: onnx.ModelProto, src: ModelSource, kind: str, out: Path,
              check_fn: Callable[[Path, dict[str, Any]], Verification],
              what: str) -> tuple[Path, Verification]:
    """Save to a temporary file beside ``out`` and verify it. Returns the temporary file (the
    measured difference in its metadata), which the caller renames once every part passed;
    deleted, and :class:`ExportVerificationError` raised, when it fails."""
    meta = _metadata(src, kind)
    tmp = _save(proto, meta, out)
    try:
        check = check_fn(tmp, meta)
        if not check.max_difference <= TOLERANCE:  # NaN fails too
            raise ExportVerificationError(
                f"the ONNX {what} of {src.path} does not match PyTorch: max difference "
                f"{check.max_difference:.2e} > {TOLERANCE:g} ({check.describe()}); "
                f"nothing written")
    finally:
        tmp.unlink(missing_ok=True)
    return _save(proto, {**meta, "max_difference": check.max_difference}, out), check


def export_onnx(src: ModelSource, out: str | Path, images: Sequence[str | Path] = (),
                force: bool = False, seed: int = 0) -> OnnxExport:
    """Export ``src``'s detector to ``out`` (and, for models that animate, its generator to
    :func:`generator_path`), each verified against PyTorch.

    Args:
        src: the model (:func:`~landmarks.export.source.load_model_source`).
        out: the ``.onnx`` file to write.
        images: real images (files or folders) for the verification; default: the training
            data root the config records, when it exists here.
        force: overwrite existing files.
        seed: of the random verification images.

    Returns:
        :class:`OnnxExport`: the paths and the measured differences.

    Raises:
        FileExistsError: ``out`` (or the generator's file) exists and not ``force``.
        ExportVerificationError: onnxruntime and PyTorch differ by more than
            :data:`TOLERANCE`; nothing is written.
    """
    out = Path(out)
    model, cfg = src.model.eval(), src.config
    animates = can_animate(model)
    gen_out = generator_path(out) if animates else None
    for p in (out, gen_out):
        if p is not None and p.exists() and not force:
            raise FileExistsError(f"{p} already exists; pass --force to overwrite it")
    size, crop = cfg.model.image_size, cfg.data.crop or None
    gen = torch.Generator().manual_seed(seed)
    inputs = {"random": torch.rand(RANDOM_SAMPLES, 3, size, size, generator=gen)}
    candidates = list(images) or ([cfg.data.root] if cfg.data.root else [])
    real, where = sample_images(candidates, size, crop)
    if real is not None:
        inputs["images"] = real
    trace = torch.rand(_TRACE_BATCH, 3, size, size, generator=gen)
    with torch.no_grad():
        names = [n for n in ("keypoints", "jacobians") if n in model.detect(trace)]
    proto = _to_onnx(_DetectGraph(model, "jacobians" in names), (trace,), ["images"], names,
                     "detector")
    done: list[tuple[Path, Path]] = []  # (temporary file, destination), renamed at the end
    try:
        tmp, det_check = _verified(
            proto, src, DETECTOR, out,
            lambda p, m: _check_detector(model, p, m, inputs, names), "detector")
        done.append((tmp, out))
        det_check.real_inputs = where
        result = OnnxExport(out, det_check)
        if gen_out is not None:
            with torch.no_grad():
                det = model.detect(trace)
            motion = (det["keypoints"], det["jacobians"])
            args = (trace, *motion, motion[0].roll(1, dims=0), motion[1].roll(1, dims=0))
            proto = _to_onnx(_GenerateGraph(model), args,
                             ["source", "source_keypoints", "source_jacobians",
                              "driving_keypoints", "driving_jacobians"], ["reconstruction"],
                             "generator")
            tmp, gen_check = _verified(proto, src, GENERATOR, gen_out,
                                       lambda p, m: _check_generator(model, p, m, inputs),
                                       "generator")
            done.append((tmp, gen_out))
            gen_check.real_inputs = where
            result.generator, result.generator_check = gen_out, gen_check
        for tmp, dest in done:
            os.replace(tmp, dest)
    finally:
        for tmp, _ in done:
            tmp.unlink(missing_ok=True)
    return result
