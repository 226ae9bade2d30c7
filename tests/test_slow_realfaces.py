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
from landmarks.data.realfaces import default_root, fetch_realfaces, load_manifest
from landmarks.demo import CONFIG as DEMO_CONFIG
from landmarks.engine.trainer import train
from landmarks.evaluation.run import evaluate_checkpoint
from landmarks.evaluation.selection import select_on_validation
from landmarks.weights import fetch_vgg19

pytestmark = pytest.mark.slow

#: IOD error (%) on the people never seen in training that the 20-minute demo recipe must stay
#: under, for the checkpoint chosen on validation people as `make demo` chooses it: 7.15% (step
#: 800 of 961) measured by a quiet `make demo` on 2026-12-06, whose checkpoints ranged from
#: 7.2% to 13.2% (README); the margin covers that spread. Half the mean-face floor is 11.6%.
MAX_UNSEEN_IOD_ERROR = 12.0


def test_demo_recipe_learns_landmarks_on_realfaces(tmp_path: Path) -> None:
    pytest.importorskip("dlib", reason="needs the annotate extra: pip install -e '.[annotate]'")
    minutes = float(os.environ.get("LANDMARKS_SLOW_MINUTES", "20"))
    faces = fetch_realfaces(default_root())
    cfg = load_config(DEMO_CONFIG, [
        f"data.root={faces / 'frames' / 'train'}", f"loss.vgg_weights={fetch_vgg19()}",
        f"train.time_limit_minutes={minutes}", "train.progress=false"])
    train(cfg, tmp_path / "run")
    kept = sorted((tmp_path / "run" / "checkpoints").glob("step_*.pt"))
    chosen = select_on_validation(kept, load_manifest(faces))[0]["checkpoint"]
    results = evaluate_checkpoint(Path(chosen), "realfaces", faces)
    error = results["iod_error_unseen"]["mean"]
    floor = results["iod_error_unseen"]["mean_shape"]
    assert error < MAX_UNSEEN_IOD_ERROR, f"unseen-people IOD error {error:.2f}% ({chosen})"
    assert error < floor, f"IOD error {error:.2f}% is not below the mean face's {floor:.2f}%"
