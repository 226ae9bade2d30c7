"""Reading a run folder: ``metrics.csv``, the run's config, the folder check."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from landmarks.config import from_dict
from landmarks.engine.checkpoint import latest_checkpoint, load_checkpoint
from landmarks.report.html import (
    ReportError,
)

# ----------------------------------------------------------------------------------------------
# run folder contents


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """``metrics.csv`` as ``{column: float64 array}``, sorted by step; for a step logged twice
    (a resumed run) the later row wins. Empty cells are NaN. ``{}`` when there are no rows."""
    path = Path(path)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2 or "step" not in rows[0]:
        return {}
    header = rows[0]
    by_step: dict[float, list[float]] = {}
    for row in rows[1:]:
        if len(row) != len(header):
            continue
        values = []
        for cell in row:
            try:
                values.append(float(cell) if cell != "" else math.nan)
            except ValueError:
                values.append(math.nan)
        step = values[header.index("step")]
        if math.isfinite(step):
            by_step[step] = values
    if not by_step:
        return {}
    table = np.asarray([by_step[s] for s in sorted(by_step)], dtype=np.float64)
    return {name: table[:, i] for i, name in enumerate(header)}


def _load_run_config(run_dir: Path, checkpoint: Path | None) -> tuple[Any, str]:
    """The run's :class:`~landmarks.config.Config` (config.yaml, else the checkpoint's) and a
    note when neither could be read."""
    import yaml

    problems = []
    path = run_dir / "config.yaml"
    if path.is_file():
        try:
            return from_dict(yaml.safe_load(path.read_text()) or {}, origin=str(path)), ""
        except Exception as err:  # noqa: BLE001 - shown in the report
            problems.append(f"{path}: {err}")
    if checkpoint is not None:
        try:
            state = load_checkpoint(checkpoint)
            return from_dict(state["config"], origin=str(checkpoint)), ""
        except Exception as err:  # noqa: BLE001
            problems.append(f"{checkpoint}: {err}")
    return None, "; ".join(problems) or f"{run_dir} holds no config.yaml"


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.exists():
        raise ReportError(f"run folder {run_dir} does not exist")
    if not run_dir.is_dir():
        raise ReportError(f"run folder {run_dir} is not a folder; expected the --out folder of "
                          f"`landmarks train`")
    if not (run_dir / "metrics.csv").is_file() and latest_checkpoint(run_dir) is None:
        raise ReportError(f"{run_dir} is not a training run folder: it holds neither metrics.csv "
                          f"nor checkpoints/step_*.pt (expected the --out folder of "
                          f"`landmarks train`, after at least one logged step)")


# ----------------------------------------------------------------------------------------------
# 5. evaluation
