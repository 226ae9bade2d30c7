"""Weights-only release folders: ``model.safetensors`` + ``config.json`` (+ the model card
``README.md`` that :mod:`landmarks.release` writes). Reading one runs no pickle: safetensors holds
only tensors, the JSON only the config, so a release from anyone is safe to open.

``config.json``::

    {"format": "unsupervised-landmarks-release", "format_version": 1,
     "model": "imm", "num_keypoints": 10, "image_size": 128, "crop": [],
     "step": 100000, "trained_with": "0.1.0", "exported_with": "0.1.0",
     "weights": {"file": "model.safetensors", "sha256": "…"},
     "config": {…the resolved training config…}}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from landmarks import __version__

__all__ = ["CONFIG_FILE", "RELEASE_FORMAT", "WEIGHTS_FILE", "Release", "ReleaseError",
           "is_release", "load_release", "release_config", "save_release_weights",
           "sha256_of"]

RELEASE_FORMAT = "unsupervised-landmarks-release"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class ReleaseError(ValueError):
    """A release folder is missing a file, or its files do not match; the message names it."""


@dataclass
class Release:
    """A loaded release: the weights, the training config and what the folder says of them."""

    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any]
    step: int
    version: str
    meta: dict[str, Any]


def sha256_of(path: str | Path) -> str:
    """The file's SHA-256, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_release(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a release's ``config.json``."""
    return (Path(path) / CONFIG_FILE).is_file()


def release_config(config: Mapping[str, Any], step: int, trained_with: str,
                   sha256: str) -> dict[str, Any]:
    """The ``config.json`` of a release of a model trained with ``config`` (the checkpoint's
    resolved config dict) to ``step`` by package version ``trained_with``."""
    model = config["model"]
    return {"format": RELEASE_FORMAT, "format_version": 1, "model": model["name"],
            "num_keypoints": model["num_keypoints"], "image_size": model["image_size"],
            "crop": list(config.get("data", {}).get("crop") or []), "step": step,
            "trained_with": trained_with, "exported_with": __version__,
            "weights": {"file": WEIGHTS_FILE, "sha256": sha256}, "config": dict(config)}


def save_release_weights(folder: str | Path, state_dict: Mapping[str, torch.Tensor],
                         config: Mapping[str, Any], step: int, trained_with: str,
                         imported: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write ``model.safetensors`` and ``config.json`` into ``folder`` (which must exist);
    ``imported``: where weights converted from another project came from (``landmarks import``),
    kept in config.json. Returns the config.json written."""
    folder = Path(folder)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": RELEASE_FORMAT})
    meta = release_config(config, step, trained_with, sha256_of(folder / WEIGHTS_FILE))
    if imported:
        meta["imported"] = dict(imported)
    (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def load_release(folder: str | Path) -> Release:
    """Read a release folder (no pickle): its weights, checked against the SHA-256 that
    ``config.json`` records, and its config.

    Raises:
        ReleaseError: a missing or unreadable file, another format, or a SHA-256 mismatch.
    """
    folder = Path(folder)
    cfg_path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise ReleaseError(f"release folder {folder} does not exist")
    if not cfg_path.is_file():
        raise ReleaseError(f"{folder} is not a release folder: no {CONFIG_FILE} (write one "
                           f"with `landmarks export CKPT --format safetensors --out DIR`)")
    try:
        meta = json.loads(cfg_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ReleaseError(f"{cfg_path} could not be read: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != RELEASE_FORMAT:
        raise ReleaseError(f"{cfg_path} is not an unsupervised-landmarks release "
                           f"(format {RELEASE_FORMAT!r} expected)")
    weights = folder / str(meta.get("weights", {}).get("file", WEIGHTS_FILE))
    if not weights.is_file():
        raise ReleaseError(f"release {folder} lacks its weights {weights.name}")
    expected = meta.get("weights", {}).get("sha256")
    if expected and sha256_of(weights) != expected:
        raise ReleaseError(f"{weights} does not match the sha256 in {cfg_path} "
                           f"(changed or truncated)")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as err:
        raise ReleaseError(f"{weights} is not a safetensors file: {err}") from err
    return Release(state, meta["config"], int(meta.get("step", 0)),
                   str(meta.get("trained_with", "?")), meta)
