"""FOMM checkpoints into ours: ``landmarks import fomm vox-cpk.pth.tar --config vox-256 --out
OUT.pt`` (:func:`import_fomm`).

first-order-model's checkpoints (e.g. vox-cpk.pth.tar, taichi-cpk.pth.tar) hold the state dicts
of its ``kp_detector`` and ``generator`` (and of its discriminator and optimisers, which are not
needed). Their weights load unchanged into the ``fomm`` model (:mod:`landmarks.models.fomm`,
FOMM's layers under FOMM's names), and the result is written as one of our self-describing
checkpoints (:mod:`landmarks.engine.checkpoint`), so that ``landmarks animate OUT.pt …``,
``detect``, ``export`` and ``serve`` take it like a trained one. The file is read with
``torch.load(weights_only=True)``: no code in it runs.

``--config`` is one of FOMM's published settings (:data:`~landmarks.models.fomm.FOMM_CONFIGS`:
vox-256, taichi-256) or one of our YAML files with ``model.name: fomm`` (other sizes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from landmarks.config import Config, load_config, to_dict
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.models import build_model
from landmarks.models.fomm import FOMM_CONFIGS, state_dict_from_fomm

__all__ = ["FommImportError", "ImportResult", "fomm_config", "import_fomm"]


class FommImportError(ValueError):
    """A FOMM checkpoint cannot be read or does not fit the settings; the message says why."""


@dataclass
class ImportResult:
    """The checkpoint written, the settings used, and what the FOMM file held."""

    path: Path
    config: str
    tensors: int
    epoch: int | None
    sha256: str


def fomm_config(config: str | Path, sample_align_corners: bool = False) -> Config:
    """Our config for FOMM's published settings ``config`` (vox-256, taichi-256), or read from
    our YAML file ``config`` (its model must be ``fomm``); ``sample_align_corners`` is the
    model's ``grid_sample`` convention (:class:`~landmarks.models.fomm.FommModel`)."""
    name = str(config)
    if name in FOMM_CONFIGS:
        cfg = load_config(None, ["data.kind=video"])
        cfg.model.name = "fomm"
        args = dict(FOMM_CONFIGS[name])
        cfg.model.num_keypoints = int(args.pop("num_keypoints"))  # type: ignore[arg-type]
        cfg.model.image_size = int(args.pop("image_size"))  # type: ignore[arg-type]
        cfg.model.args.update(args)
    elif Path(name).suffix in (".yaml", ".yml") and Path(name).is_file():
        cfg = load_config(name)
        if cfg.model.name != "fomm":
            raise FommImportError(f"--config {name}: its model is {cfg.model.name!r}; a FOMM "
                                  f"checkpoint needs model.name: fomm")
    else:
        raise FommImportError(f"--config {name!r}: expected one of FOMM's settings "
                              f"({', '.join(FOMM_CONFIGS)}) or a YAML file of ours with "
                              f"model.name: fomm")
    if sample_align_corners:
        cfg.model.sample_align_corners = True
    return cfg


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"FOMM checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        lines = str(err).strip().splitlines()
        raise FommImportError(f"{path} is not a FOMM checkpoint: {type(err).__name__}"
                              f"{': ' + lines[0] if lines else ''}") from None
    if not isinstance(state, dict) or not {"kp_detector", "generator"} <= set(state):
        found = sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__
        raise FommImportError(f"{path} is not a FOMM checkpoint: expected the keys kp_detector "
                              f"and generator (first-order-model's *-cpk.pth.tar); found "
                              f"{found}")
    return state


def _mismatch(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> str:
    """What differs between the model's state dict and ``state``, in one line ('' if none)."""
    want = model.state_dict()
    missing = [k for k in want if k not in state]
    unexpected = [k for k in state if k not in want]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in want.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    parts = []
    for what, keys in (("missing", missing), ("unexpected", unexpected),
                       ("shapes (file vs settings)", shapes)):
        if keys:
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            parts.append(f"{len(keys)} {what}: {', '.join(keys[:3])}{more}")
    return "; ".join(parts)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_fomm(checkpoint: str | Path, config: str | Path, out: str | Path,
                sample_align_corners: bool = False, force: bool = False) -> ImportResult:
    """Convert FOMM checkpoint ``checkpoint`` with settings ``config`` (:func:`fomm_config`)
    into our checkpoint ``out`` (step 0; ``"imported"`` records the source file, its SHA-256,
    the settings and FOMM's epoch).

    Raises:
        FileExistsError: ``out`` exists and not ``force``.
        FileNotFoundError: ``checkpoint`` does not exist.
        FommImportError: the file is not a FOMM checkpoint, or its weights do not fit the
            settings (missing, unexpected or differently shaped tensors, named).
    """
    src, dst = Path(checkpoint), Path(out)
    if dst.exists() and not force:
        raise FileExistsError(f"{dst} already exists; pass --force to overwrite it")
    cfg = fomm_config(config, sample_align_corners)
    fomm = _read(src)
    state = state_dict_from_fomm(fomm["kp_detector"], fomm["generator"])
    model = build_model(cfg)
    problem = _mismatch(model, state)
    if problem:
        raise FommImportError(f"{src} does not fit --config {config}: {problem}")
    model.load_state_dict(state)
    epoch = fomm.get("epoch")
    sha = _sha256(src)
    save_checkpoint(dst, {"model": model.state_dict(), "step": 0, "config": to_dict(cfg),
                          "imported": {"format": "fomm", "source": src.name, "sha256": sha,
                                       "config": str(config),
                                       "epoch": int(epoch) if epoch is not None else None}})
    return ImportResult(dst, str(config), len(state),
                        int(epoch) if epoch is not None else None, sha)
