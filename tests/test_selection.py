"""Choosing a checkpoint on RealFaces' validation people (what `make demo` does)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fixtures import write_realfaces_root
from landmarks.config import load_config, to_dict
from landmarks.data.realfaces import load_manifest
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.evaluation.identity import realfaces_validation_groups
from landmarks.evaluation.run import evaluate_checkpoint
from landmarks.evaluation.selection import realfaces_validation_error, select_on_validation
from landmarks.models import create_model

TINY = {"num_keypoints": 5, "image_size": 32, "width": 8, "render_channels": 32,
        "min_render_channels": 8}


def _checkpoint(path: Path, seed: int) -> Path:
    cfg = load_config(None, [f"model.{k}={v}" for k, v in TINY.items()])
    model = create_model("imm", **TINY)
    gen = np.random.default_rng(seed)
    state = {k: (v + 0.05 * float(gen.normal()) if v.is_floating_point() else v)
             for k, v in model.state_dict().items()}
    return save_checkpoint(path, {"model": state, "step": seed, "config": to_dict(cfg)})


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    root = write_realfaces_root(tmp_path / "rf", n_labelled=16, n_test=3, n_stills=1,
                                crop_size=32)
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    for i, fid in enumerate(data["splits"]["train_labelled"][2:]):
        data["frames"][fid]["group"] = f"p{i % 4}"  # four people beside personA
    path.write_text(json.dumps(data))
    return root


def test_validation_error_is_the_evaluations(root: Path, tmp_path: Path) -> None:
    manifest = load_manifest(root)
    ckpt = _checkpoint(tmp_path / "a.pt", 1)
    row = realfaces_validation_error(ckpt, manifest, device="cpu")
    full = evaluate_checkpoint(ckpt, "realfaces", root, device="cpu", draws=1)
    assert row["val_iod_error"] == pytest.approx(full["val_iod_error"], rel=1e-9)
    assert row["val_groups"] == realfaces_validation_groups(manifest)[1] == \
        full["val_split"]["groups"]


def test_checkpoints_ranked_best_first(root: Path, tmp_path: Path) -> None:
    manifest = load_manifest(root)
    ckpts = [_checkpoint(tmp_path / f"c{i}.pt", i) for i in range(3)]
    ranked = select_on_validation(ckpts, manifest, device="cpu")
    errors = [r["val_iod_error"] for r in ranked]
    assert errors == sorted(errors) and len(set(errors)) == 3
    assert {r["checkpoint"] for r in ranked} == {str(c) for c in ckpts}
