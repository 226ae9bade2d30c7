"""A trained model from any of its portable forms: a training checkpoint (``.pt``, read with
``torch.load(weights_only=True)``) or a weights-only release folder (safetensors + JSON, no
pickle at all; :mod:`landmarks.export.release_io`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from landmarks.config import Config, from_dict
from landmarks.engine.checkpoint import load_checkpoint
from landmarks.export.release_io import is_release, load_release
from landmarks.models import build_model

__all__ = ["ModelSource", "load_model_source"]


@dataclass
class ModelSource:
    """A model rebuilt from its file, in eval mode on the CPU.

    Attributes:
        model: the registered model (:class:`~landmarks.models.LandmarkModel`).
        config: the resolved training config the file records.
        step: the training step of the weights.
        version: the package version that wrote the file.
        path: the file or folder it came from.
        imported: for weights converted from another project (``landmarks import``), where
            they came from ("format", "source", "sha256", "config", "epoch"); else None.
    """

    model: nn.Module
    config: Config
    step: int
    version: str
    path: Path
    imported: dict[str, Any] | None = None


def load_model_source(path: str | Path) -> ModelSource:
    """Rebuild the model of a checkpoint file or a release folder (``model.safetensors`` +
    ``config.json``).

    Raises:
        CheckpointError: a file that is not a checkpoint (one line naming it and why).
        ReleaseError: a folder that is not a complete release.
    """
    path = Path(path)
    if path.is_dir() or is_release(path):
        rel = load_release(path)
        state, cfg_dict, step, version = rel.state_dict, rel.config, rel.step, rel.version
        imported = rel.meta.get("imported")
    else:
        ckpt = load_checkpoint(path)
        state, cfg_dict = ckpt["model"], ckpt["config"]
        step, version = int(ckpt["step"]), str(ckpt.get("version", "?"))
        imported = ckpt.get("imported")
    cfg = from_dict(cfg_dict, origin=str(path))
    model = build_model(cfg)
    model.load_state_dict(state)
    return ModelSource(model.eval(), cfg, step, version, path,
                       dict(imported) if isinstance(imported, dict) else None)
