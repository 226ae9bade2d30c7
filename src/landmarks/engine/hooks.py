"""The engine's trainer hooks (detectron2's ``engine/hooks.py`` spirit): what runs beside the
step, never inside it. :meth:`landmarks.engine.trainer.Trainer.run_step` only steps; these
hooks do the rest, in the order :func:`landmarks.engine.trainer.default_hooks` registers them:

- :class:`TimeLimit` (every rank): past ``train.time_limit_minutes``, stop at this step (all
  ranks together).
- :class:`Schedule` (every rank): the learning-rate schedule (``plateau``: on each log row).
- :class:`Health` (rank 0): at log steps, the detector's health figures into the row, and
  warnings.
- :class:`MetricsWriter` (rank 0): at log steps, the row into metrics.csv (and TensorBoard).
- :class:`ProgressBar` (rank 0, ``train.progress``): the bar, its postfix and ETA.
- :class:`Checkpointer` (rank 0): at checkpoint steps, the checkpoint, then every hook's
  ``after_checkpoint`` (e.g. :class:`landmarks.visualize.CheckpointPictures`).

The interface (:class:`~landmarks.engine.hook_base.Hook`, and
:class:`~landmarks.engine.hook_base.TrainerView`, what ``self.trainer`` offers a hook) is in
:mod:`landmarks.engine.hook_base`. Hooks that draw or evaluate live where their dependencies
do (the engine does not draw).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from tqdm.auto import tqdm

from landmarks.engine.checkpoint import checkpoint_path, prune_checkpoints, save_checkpoint
from landmarks.engine.distributed import any_rank
from landmarks.engine.health import HealthMonitor
from landmarks.engine.hook_base import Hook, LastStep, TrainerView
from landmarks.engine.metrics import MetricsLog

__all__ = ["Checkpointer", "Health", "Hook", "LastStep", "MetricsWriter", "ProgressBar",
           "Schedule", "TimeLimit", "TrainerView"]


class TimeLimit(Hook):
    """``train.time_limit_minutes`` (0 = none): past the deadline the run stops at this step
    (which is then logged and checkpointed). With several ranks, every rank checks at the same
    steps (the log steps, one all-reduce each) and all stop together."""

    def __init__(self, minutes: float) -> None:
        self.minutes = minutes
        self.deadline = math.inf

    def before_train(self) -> None:
        if self.minutes > 0:
            self.deadline = time.monotonic() + 60 * self.minutes

    def after_step(self) -> None:
        t = self.trainer
        check = not t.info.distributed or t.step % t.cfg.train.log_every == 0
        if (self.deadline < math.inf and check
                and any_rank(time.monotonic() > self.deadline, t.info, t.device)):
            t.stop_at = t.step


class Schedule(Hook):
    """The learning-rate schedule: ``step``, ``constant`` and ``cosine`` advance every step;
    ``plateau`` reads the loss of each log row."""

    def after_step(self) -> None:
        t = self.trainer
        if t.cfg.optim.schedule != "plateau":
            t.scheduler.step()
        elif t.is_log_step():
            t.scheduler.step(t.log_row()["loss"])


class Health(Hook):
    """At log steps, the landmark detector's health (:class:`~landmarks.engine.health.
    HealthMonitor`: its weights' rms against their start) into the row, and a warning when the
    keypoints collapse or the detector's weights shrink."""

    def before_train(self) -> None:
        model = self.trainer.model
        detector = model.detector_modules() if hasattr(model, "detector_modules") else None
        self.monitor = HealthMonitor(detector)

    def after_step(self) -> None:
        t = self.trainer
        if not t.is_log_step():
            return
        row = t.log_row()
        figures, warnings = self.monitor.check(t.step, row)
        row.update(figures)
        for text in warnings:
            tqdm.write(f"warning: {text}", file=sys.stderr)


class MetricsWriter(Hook):
    """Each log row into ``run_dir/metrics.csv`` (and TensorBoard with ``train.tensorboard``);
    a resumed run first drops the rows past its checkpoint
    (:class:`~landmarks.engine.metrics.MetricsLog`)."""

    def __init__(self, resume: bool) -> None:
        self.resume = resume
        self.log: MetricsLog | None = None

    def before_train(self) -> None:
        t = self.trainer
        self.log = MetricsLog(t.run_dir, t.cfg.train.tensorboard,
                              resume_step=t.step if self.resume else None)

    def after_step(self) -> None:
        if self.log is not None and self.trainer.is_log_step():
            self.log.write(self.trainer.log_row())

    def after_train(self) -> None:
        if self.log is not None:
            self.log.close()


class ProgressBar(Hook):
    """A tqdm bar on stderr: loss, images per second, keypoint spread and peak at each log
    row; with a time limit, its total (and so its ETA) is the step the clock allows."""

    def __init__(self, time_limit: TimeLimit | None = None) -> None:
        self.time_limit = time_limit
        self.bar: Any = None

    def before_train(self) -> None:
        t = self.trainer
        self.bar = tqdm(total=t.cfg.train.steps, initial=t.step, desc="train", unit="step",
                        dynamic_ncols=True, file=sys.stderr)

    def after_step(self) -> None:
        t, bar = self.trainer, self.bar
        if t.is_log_step():
            row = t.log_row()
            deadline = self.time_limit.deadline if self.time_limit is not None else math.inf
            if deadline < math.inf:
                left = max(deadline - time.monotonic(), 0.0)
                per_step = t.cfg.train.batch_size * t.info.world_size
                reach = t.step + int(left * row["img_per_s"] / per_step)
                bar.total = min(t.cfg.train.steps, max(reach, t.step + 1))
            bar.set_postfix(loss=f"{row['loss']:.3f}", img_s=f"{row['img_per_s']:.1f}",
                            spread=f"{row['health/spread_x']:.2f}/"
                                   f"{row['health/spread_y']:.2f}",
                            peak=f"{row.get('health/peak', math.nan):.2f}",
                            skipped=int(row["skipped"]))
        bar.update(1)

    def after_train(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Checkpointer(Hook):
    """At checkpoint steps, ``run_dir/checkpoints/step_NNNNNNN.pt`` (atomic; the newest
    ``train.keep_checkpoints`` kept), then :meth:`Hook.after_checkpoint` of every hook. A loss
    that is no longer finite is an error here, not a checkpoint."""

    def after_step(self) -> None:
        t = self.trainer
        if not t.is_checkpoint_step():
            return
        t.check_finite()
        t.last_checkpoint = save_checkpoint(checkpoint_path(t.run_dir, t.step), t.state_dict())
        prune_checkpoints(t.run_dir, t.cfg.train.keep_checkpoints)
        if t.last is not None:
            for hook in t.hooks:
                hook.after_checkpoint(t.run_dir, t.step, t.last)
