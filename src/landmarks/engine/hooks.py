"""Trainer hooks: what runs beside the loop (pictures, evaluation, ...), never inside it.

A hook is any object with the methods of :class:`Hook` it needs; the trainer calls them on
rank 0. Hooks live where their dependencies do: the checkpoint pictures are
:class:`landmarks.visualize.CheckpointPictures` (the engine does not draw).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from torch import Tensor


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


class Hook:
    """Base class of trainer hooks; every method is optional (does nothing here)."""

    def after_checkpoint(self, run_dir: Path, step: int, last: LastStep) -> None:
        """Called after the checkpoint of ``step`` was written into ``run_dir``."""
