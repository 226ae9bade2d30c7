"""What the trainer logs: the loss window (sums kept on the device, read back once per log
row), the metrics CSV and TensorBoard scalars, and the CSV's truncation on resume."""

from __future__ import annotations

import csv
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["LossWindow", "MetricsLog", "truncate_metrics"]


class LossWindow:
    """Per-key sums of the step losses over one log window, kept on the device: adding a
    step never synchronises with the host; :meth:`means` reads them back (once per row)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a new window (now)."""
        self.sums: dict[str, Tensor] = {}
        self.steps = 0
        self.images = 0
        self.t0 = time.perf_counter()

    def add(self, losses: Mapping[str, Tensor], images: int) -> None:
        """Add one step's scalar losses (device tensors) and the images it consumed."""
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v.detach().float()
        self.steps += 1
        self.images += images

    def means(self) -> dict[str, float]:
        """Each key's mean over the window's steps (reads the sums back to the host)."""
        return {k: float(v) / self.steps for k, v in self.sums.items()}

    def rate(self) -> float:
        """Images per second since the window started."""
        return self.images / max(time.perf_counter() - self.t0, 1e-9)

    def loss_is_finite(self) -> bool:
        """Whether every step's "loss" in the window was finite (an empty window is): the sum
        of the window's losses is not finite as soon as one of them is not. One read-back."""
        total = self.sums.get("loss")
        return total is None or bool(torch.isfinite(total))


class MetricsLog:
    """CSV (always) and TensorBoard (optional) scalars, written by rank 0.

    ``resume_step``: the step of the checkpoint a resumed run starts from. A run killed after
    its last checkpoint logged rows past that step; the resumed run logs those steps again. So
    the CSV is rewritten (atomically) keeping only the rows with ``step <= resume_step``, and
    TensorBoard's writer purges its events from ``resume_step + 1`` on (``purge_step``).
    """

    def __init__(self, run_dir: Path, tensorboard: bool, resume_step: int | None = None) -> None:
        self.path = run_dir / "metrics.csv"
        self._fields: list[str] | None = None
        if self.path.exists():
            if resume_step is not None:
                truncate_metrics(self.path, resume_step)
            with self.path.open() as f:
                header = f.readline().strip()
            self._fields = header.split(",") if header else None
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                purge = None if resume_step is None else resume_step + 1
                self.tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)
            except ImportError:  # pragma: no cover - tensorboard is a dependency
                self.tb = None

    def write(self, row: dict[str, float]) -> None:
        if self._fields is None:
            self._fields = list(row)
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self._fields)
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([row.get(k, "") for k in self._fields])
        if self.tb is not None:
            step = int(row["step"])
            for k, v in row.items():
                if k != "step":
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def truncate_metrics(path: Path, last_step: int) -> int:
    """Rewrite the metrics CSV at ``path`` atomically (temporary file + rename), keeping its
    header and the rows whose step is at most ``last_step``, one per step (the last written)
    in step order; rows that cannot be read (a line cut short by a killed process) are dropped
    too. Returns the number of rows dropped."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return 0
    header, body = rows[0], rows[1:]
    try:
        col = header.index("step")
    except ValueError:
        return 0  # not a metrics file of ours: leave it alone

    def keep(row: list[str]) -> bool:
        if len(row) != len(header):
            return False
        try:
            return float(row[col]) <= last_step
        except ValueError:
            return False

    # one row per step, the last one written winning (a step logged twice came from a
    # resume), in step order
    by_step = {float(r[col]): r for r in body if keep(r)}
    kept = [by_step[k] for k in sorted(by_step)]
    if kept == body:
        return 0
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            csv.writer(f).writerows([header, *kept])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(body) - len(kept)
