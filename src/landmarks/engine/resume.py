"""Where a run starts from: the run folder's checks (never overwritten; ``--resume`` needs a
checkpoint), the config of a resumed run, and ``--init`` weights checked against the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from landmarks.config import Config, apply_overrides, from_dict, to_dict, validate
from landmarks.engine.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint
from landmarks.models import build_model

__all__ = ["RunDirError", "load_init_weights", "prepare_run_dir", "resume_config"]


class RunDirError(RuntimeError):
    """The run folder would be overwritten, or there is nothing to resume."""


def prepare_run_dir(run_dir: Path, resume: bool) -> Path | None:
    """Check the run folder: a new run never writes into a folder that already holds one;
    ``resume`` needs a checkpoint there. Returns the checkpoint to resume from."""
    if resume:
        last = latest_checkpoint(run_dir)
        if last is None:
            raise RunDirError(f"--resume: {run_dir} holds no checkpoint to resume from "
                              f"(looked for {run_dir}/checkpoints/step_*.pt)")
        return last
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunDirError(f"{run_dir} already exists and is not empty; nothing is overwritten. "
                          f"Pass --resume to continue that run, or choose another --out.")
    return None


def resume_config(run_dir: str | Path, overrides: list[str] | None = None) -> Config:
    """The config a run was trained with (from its last checkpoint), plus ``overrides``."""
    last = latest_checkpoint(run_dir)
    if last is None:
        raise RunDirError(f"--resume: {run_dir} holds no checkpoint to resume from "
                          f"(looked for {run_dir}/checkpoints/step_*.pt)")
    cfg = from_dict(load_checkpoint(last)["config"], origin=str(last))
    apply_overrides(cfg, overrides or [])
    validate(cfg)
    return cfg


def load_init_weights(init: str | Path, cfg: Config) -> dict[str, torch.Tensor]:
    """The model weights of checkpoint ``init`` (``--init``), checked against the model ``cfg``
    builds: a CheckpointError naming the file for a missing or unreadable file, a different K
    (``model.num_keypoints`` of both configs) or any other parameter whose name or shape differs
    (named with both shapes). Called before the run folder is made, so a bad ``--init`` leaves
    nothing behind."""
    path = Path(init)
    try:
        state = load_checkpoint(path)
    except CheckpointError as err:
        raise CheckpointError(f"--init: {err}") from err
    weights = state["model"]
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        expected = {k: tuple(v.shape) for k, v in build_model(cfg).state_dict().items()}
    if not isinstance(weights, dict):
        raise CheckpointError(f"--init: checkpoint {path} holds no model weights")
    found = {k: tuple(v.shape) for k, v in weights.items() if torch.is_tensor(v)}
    theirs = state["config"].get("model", {}) if isinstance(state["config"], dict) else {}
    k_old, k_new = theirs.get("num_keypoints"), cfg.model.num_keypoints
    if k_old is not None and k_old != k_new:
        raise CheckpointError(
            f"--init: checkpoint {path} was trained with model.num_keypoints={k_old} (K), this "
            f"config has model.num_keypoints={k_new}; the score head and renderer weights "
            f"depend on K. Train with model.num_keypoints={k_old}, or use a checkpoint with "
            f"K={k_new}.")
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"--init: checkpoint {path} (model.name={theirs.get('name', '?')!r}) does not fit "
            f"model {cfg.model.name!r}: {_some(missing)} missing from the checkpoint, "
            f"{_some(extra)} not in this model")
    wrong = [(k, found[k], expected[k]) for k in expected if found[k] != expected[k]]
    if wrong:
        listed = "; ".join(f"{k}: {list(a)} in the checkpoint, {list(b)} in this model"
                           for k, a, b in wrong[:3])
        more = f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""
        raise CheckpointError(
            f"--init: checkpoint {path} does not fit this config's model: {listed}{more}. "
            f"Its model config differs from this one in: "
            f"{_model_differences(theirs, to_dict(cfg.model)) or 'nothing recorded'}")
    return weights


def _some(names: list[str]) -> str:
    """``3 parameter(s) (a, b, c, …)``, or ``no parameter``."""
    if not names:
        return "no parameter"
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return f"{len(names)} parameter(s) ({shown})"


def _model_differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"model.{k} {old.get(k)!r} vs {new.get(k)!r}" for k in keys)
