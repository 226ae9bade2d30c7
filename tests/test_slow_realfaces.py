"""Slow tier (``pytest -m slow``; not in the default run): the demo recipe trained on the real
RealFaces training faces for the demo's budget must reach the landmark quality measured for it
(see the README's quality table). Needs the package registries (VGG-19, the face sources) and
the ``annotate`` extra (dlib); about 25 minutes on 2 CPU cores.

``LANDMARKS_SLOW_MINUTES`` changes the budget (the threshold is for the default 20 minutes).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from landmarks.config import load_config
from landmarks.data.realfaces import default_root, fetch_realfaces
from landmarks.demo import CONFIG as DEMO_CONFIG
from landmarks.engine.trainer import train
from landmarks.evaluation.run import evaluate_checkpoint
from landmarks.weights import fetch_vgg19

pytestmark = pytest.mark.slow

#: RealFaces test IOD error (%) the 20-minute demo recipe (zhang) must stay under: 8.97% measured
#: by `make demo` on 2026-12-01 (499 steps on a shared machine; README), plus a margin for a
#: slower machine; half the mean-shape floor (23.8%) is 11.9%. (The IMM recipe reached 18.7%.)
MAX_IOD_ERROR = 11.0


def test_demo_recipe_learns_landmarks_on_realfaces(tmp_path: Path) -> None:
    pytest.importorskip("dlib", reason="needs the annotate extra: pip install -e '.[annotate]'")
    minutes = float(os.environ.get("LANDMARKS_SLOW_MINUTES", "20"))
    faces = fetch_realfaces(default_root())
    cfg = load_config(DEMO_CONFIG, [
        f"data.root={faces / 'frames' / 'train'}", f"loss.vgg_weights={fetch_vgg19()}",
        f"train.time_limit_minutes={minutes}", "train.progress=false"])
    result = train(cfg, tmp_path / "run")
    results = evaluate_checkpoint(result.last_checkpoint, "realfaces", faces)
    error = results["iod_error"]["mean"]
    floor = results["mean_shape"]["iod_error"]["mean"]
    assert error < MAX_IOD_ERROR, f"IOD error {error:.2f}% after {result.step} steps"
    assert error < floor, f"IOD error {error:.2f}% is not below the mean-shape {floor:.2f}%"
