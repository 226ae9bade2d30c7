"""Trainer hooks that draw (:class:`landmarks.engine.hooks.Hook`)."""

from __future__ import annotations

from pathlib import Path

from landmarks.engine.hook_base import Hook, LastStep
from landmarks.visualize.quadruplet import save_quadruplets

__all__ = ["CheckpointPictures"]


class CheckpointPictures(Hook):
    """After each checkpoint, ``run_dir/quadruplets/step_NNNNNNN.png``: the last batch's
    source, target (keypoints drawn), reconstruction and score maps
    (:func:`~landmarks.visualize.save_quadruplets`). Models whose step gives no
    "reconstruction" show the target in its place; no "heatmaps", no heatmap column."""

    def after_checkpoint(self, run_dir: Path, step: int, last: LastStep) -> None:
        out = last.outputs
        save_quadruplets(Path(run_dir) / "quadruplets" / f"step_{step:07d}.png",
                         source=last.source, target=last.target,
                         reconstruction=out.get("reconstruction", last.target),
                         keypoints=out["keypoints"], heatmaps=out.get("heatmaps"))
