"""The trainer's hook interface (detectron2's ``HookBase``): :class:`Hook`, what a hook sees
of the trainer (:class:`TrainerView`) and the last step's tensors (:class:`LastStep`). The
engine's own hooks are in :mod:`landmarks.engine.hooks`; hooks that draw or evaluate live
where their dependencies do (:class:`landmarks.visualize.CheckpointPictures`). This module
imports nothing that loads checkpoints or runs models, so drawing code may subclass it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor, nn

from landmarks.config import Config
from landmarks.engine.distributed import DistInfo

__all__ = ["Hook", "LastStep", "TrainerView"]


class LastStep(NamedTuple):
    """The last training step's tensors (detached, on the device).

    Attributes:
        source: (B,3,S,S) the pair's source.
        target: (B,3,S,S) the pair's target.
        outputs: the model's outputs (:meth:`landmarks.models.LandmarkModel.training_step`).
    """

    source: Tensor
    target: Tensor
    outputs: dict[str, Tensor]


class TrainerView(Protocol):
    """What a hook may read (and, where said, set) of the trainer."""

    cfg: Config
    run_dir: Path
    info: DistInfo
    device: torch.device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    step: int  #: steps done (the step just finished, in ``after_step``)
    stop_at: int  #: the loop stops after this step; :class:`TimeLimit` lowers it
    last: LastStep | None  #: the last step's tensors
    last_checkpoint: Path | None  #: set by :class:`Checkpointer`
    hooks: list[Hook]

    def is_log_step(self) -> bool:
        """Whether the step just finished ends a log window (every ``train.log_every`` and
        the last step)."""
        ...

    def is_checkpoint_step(self) -> bool:
        """Whether the step just finished is checkpointed (every ``train.checkpoint_every``
        and the last step)."""
        ...

    def log_row(self) -> dict[str, float]:
        """The log row of this step (built once per log step, shared by the hooks that add to
        it and those that write it); raises FloatingPointError for a non-finite loss."""
        ...

    def check_finite(self) -> None:
        """Raise FloatingPointError if a loss since the last log row was not finite."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint of the current step (model, optimiser, schedule, loss state, step,
        config)."""
        ...


class Hook:
    """Base class of trainer hooks; every method is optional (does nothing here)."""

    trainer: TrainerView

    def before_train(self) -> None:
        """Called once before the first step (after the model and state are loaded)."""

    def after_step(self) -> None:
        """Called after every step (``trainer.step`` is the number of steps done)."""

    def after_train(self) -> None:
        """Called once after the last step, also when training raised."""

    def after_checkpoint(self, run_dir: Path, step: int, last: LastStep) -> None:
        """Called after the checkpoint of ``step`` was written into ``run_dir``."""
