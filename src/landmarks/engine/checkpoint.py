"""Self-describing checkpoints: ``{"model", "optimizer", "step", "config", "version", ...}``.

Loading needs nothing but the file (``torch.load(weights_only=True)``): the config inside
rebuilds the model. Writes are atomic (temporary file + rename), so an interrupted save never
leaves a truncated checkpoint behind.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from landmarks import __version__

CHECKPOINT_DIR = "checkpoints"
_STEP_FILE = re.compile(r"step_(\d+)\.pt$")


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable or not one of ours; the message names it."""


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step_{step:07d}.pt"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (which must hold model, step and config) to ``path``."""
    missing = {"model", "step", "config"} - set(state)
    if missing:
        raise ValueError(f"checkpoint state lacks {sorted(missing)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        torch.save({**state, "version": __version__}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; clear errors for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"{path} is not a checkpoint: {_load_failure(path, err)}") from None
    if not isinstance(state, dict) or not {"model", "step", "config"} <= set(state):
        keys = sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path} is not a checkpoint: expected keys model, step, config "
                              f"(an unsupervised-landmarks checkpoint); found {keys}")
    return state


def _load_failure(path: Path, err: Exception) -> str:
    """Why ``torch.load`` failed, in one line, without PyTorch's advice text (which suggests
    ``weights_only=False``: never for a file of unknown origin)."""
    size = path.stat().st_size
    if size == 0:
        return "the file is empty"
    with open(path, "rb") as f:
        head = f.read(4)
    text = str(err)
    if "WeightsUnpickler error:" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().split("\n")[0].strip()
        reason = f"a weights-only load refuses it ({detail.split(' was not ')[0]})"
    else:
        first = text.strip().splitlines()[0] if text.strip() else ""
        reason = f"{type(err).__name__}{': ' + first if first else ''}"
    if head[:2] != b"PK" and head[:1] != b"\x80":
        return f"not a PyTorch file (neither a zip archive nor a pickle; {size} bytes)"
    return reason


def checkpoint_step(path: str | Path) -> int | None:
    """The step of a step checkpoint's file name (``.../step_0001200.pt`` → 1200); None for
    any other name (``last.pt``)."""
    m = _STEP_FILE.search(Path(path).name)
    return int(m.group(1)) if m else None


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's step checkpoints, oldest first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(step, p) for p in folder.iterdir() if (step := checkpoint_step(p)) is not None]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def prune_checkpoints(run_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` step checkpoints of this run (0 keeps all)."""
    found = list_checkpoints(run_dir)
    if keep <= 0 or len(found) <= keep:
        return []
    removed = found[:-keep]
    for p in removed:
        p.unlink(missing_ok=True)
    return removed
