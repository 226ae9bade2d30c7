"""Landmark quality of the three methods on the rendered Bodies benchmark: a script that prints
figures (the Bodies counterpart of benchmarks/quality.py, kept apart so that the two evolve
independently).

Each recipe is ``configs/<method>_bodies.yaml`` plus dotted overrides (:data:`RECIPES`),
trained for the same budget and seed on the unsupervised training clips
(``BODIES/frames/train``), then scored by ``landmarks eval --dataset bodies``: a bias-free
linear map from the K points to the 15 exact joints, error in % of the torso length over
visible joints, PCK@0.1/0.2 of the torso, Hungarian-matched raw points (K >= 15) and the
mean-pose floor. One table, and a contact sheet per recipe of a held-out test clip (unseen
actor, unseen motion): row 1 the raw keypoints, row 2 the regressed skeleton (white) over the
exact one (black). Example::

    python benchmarks/bodies_quality.py --steps 150 --threads 1 --recipes imm,zhang,motion
    python benchmarks/bodies_quality.py --minutes 20 --recipes imm,zhang,motion   # quiet machine
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from landmarks.config import load_config
from landmarks.data.bodies import BodiesFrames, build_bodies, default_root, load_manifest
from landmarks.data.bodies_scene import SKELETON
from landmarks.engine.trainer import train
from landmarks.evaluation.regression import LinearRegressor
from landmarks.evaluation.run import evaluate_checkpoint
from landmarks.geometry.coords import normalized_to_pixels
from landmarks.inference import Detector
from landmarks.visualize import CheckpointPictures
from landmarks.visualize.overlay import draw_keypoints
from landmarks.weights import fetch_vgg19

ROOT = Path(__file__).resolve().parents[1]
_K16 = ["model.num_keypoints=16"]
#: name → (config file, overrides).
RECIPES: dict[str, tuple[Path, list[str]]] = {
    "imm": (ROOT / "configs" / "imm_bodies.yaml", []),
    "zhang": (ROOT / "configs" / "zhang_bodies.yaml", []),
    "motion": (ROOT / "configs" / "motion_bodies.yaml", []),
    "imm-k16": (ROOT / "configs" / "imm_bodies.yaml", _K16),
    "zhang-k16": (ROOT / "configs" / "zhang_bodies.yaml", _K16),
    "motion-k16": (ROOT / "configs" / "motion_bodies.yaml", _K16),
}
SHEET_FRAMES = 8


def contact_sheet(checkpoint: Path, results: dict[str, Any], bodies: Path, out: Path,
                  clip_index: int = 0, scale: int = 2) -> Path:
    """A PNG of ``SHEET_FRAMES`` frames of the ``clip_index``-th test clip at the model's
    size × ``scale``: raw keypoints (row 1); regressed skeleton, white, over the exact one,
    black (row 2)."""
    detector = Detector.from_checkpoint(checkpoint, device="cpu")
    size = detector.image_size
    frames = BodiesFrames(bodies, "test", size)
    clips = [c for c in load_manifest(bodies)["clips"] if c["split"] == "test"]
    per_clip = len(frames) // len(clips)
    picks = [clip_index * per_clip + int(t)
             for t in np.linspace(0, per_clip - 1, SHEET_FRAMES)]
    items = [frames[i] for i in picks]
    with torch.inference_mode():
        kp = detector.detect_tensor(torch.stack([it["image"] for it in items])).double().numpy()
    kp_px = normalized_to_pixels(kp, (size, size))
    regressor = LinearRegressor.from_dict(results["regressor"])
    joints = regressor.predict(kp_px)
    big = size * scale
    rows: list[list[np.ndarray]] = [[], []]
    for it, k, j in zip(items, kp_px, joints, strict=True):
        img = (it["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        img = np.asarray(Image.fromarray(img).resize((big, big), Image.Resampling.NEAREST))
        rows[0].append(draw_keypoints(img, (k + 0.5) * scale - 0.5))
        pil = Image.fromarray(img.copy())
        draw = ImageDraw.Draw(pil)
        gt = (it["labels"].numpy() + 0.5) * scale - 0.5
        for pts, colour in ((gt, (0, 0, 0)), ((j + 0.5) * scale - 0.5, (255, 255, 255))):
            for a, b in SKELETON:
                draw.line([tuple(pts[a]), tuple(pts[b])], fill=colour, width=2)
        rows[1].append(np.asarray(pil))
    sheet = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(out)
    return out


def run_recipe(name: str, budget: list[str], bodies: Path, weights: Path, out: Path,
               seed: int) -> dict[str, Any]:
    """Train one recipe within ``budget``, evaluate it on Bodies, draw its contact sheet;
    one table row."""
    config, overrides = RECIPES[name]
    cfg = load_config(config, [*overrides, f"data.root={bodies / 'frames' / 'train'}",
                               f"loss.vgg_weights={weights}", f"train.seed={seed}", *budget,
                               "train.progress=false"])
    result = train(cfg, out / name, hooks=[CheckpointPictures()])
    results = evaluate_checkpoint(result.last_checkpoint, "bodies", bodies)
    (out / name / "eval").mkdir(exist_ok=True)
    (out / name / "eval" / "bodies.json").write_text(json.dumps(results, indent=1))
    sheet = contact_sheet(result.last_checkpoint, results, bodies,
                          out / name / "eval" / "contact_sheet.png")
    match = results.get("matching", {})
    return {
        "recipe": name, "config": str(config.relative_to(ROOT)), "overrides": overrides,
        "steps": result.step, "img_per_s": result.images_per_second,
        "torso_error": results["torso_error"]["mean"],
        "pck_at_0.1": results["pck"]["at_0.1"], "pck_at_0.2": results["pck"]["at_0.2"],
        "hungarian_torso_error": (match.get("torso_error") or {}).get("mean"),
        "mean_shape_torso_error": results["mean_shape"]["torso_error"]["mean"],
        "mean_shape_pck_at_0.2": results["mean_shape"]["pck_at_0.2"],
        "contact_sheet": str(sheet),
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def format_table(rows: list[dict[str, Any]], budget: str) -> str:
    """The Markdown table of the rows."""
    lines = [f"| recipe ({budget}) | steps | img/s | error (% torso) | PCK@0.1 | PCK@0.2 | "
             f"Hungarian raw | mean-pose floor (PCK@0.2) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['recipe']} | {r['steps']} | {r['img_per_s']:.1f} | "
                     f"{_pct(r['torso_error'])} | {_pct(r['pck_at_0.1'])} | "
                     f"{_pct(r['pck_at_0.2'])} | {_pct(r['hungarian_torso_error'])} | "
                     f"{_pct(r['mean_shape_torso_error'])} "
                     f"({_pct(r['mean_shape_pck_at_0.2'])}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default="imm,zhang,motion",
                        help=f"comma-separated names from: {', '.join(RECIPES)}")
    parser.add_argument("--minutes", type=float, default=20.0, help="training budget per recipe")
    parser.add_argument("--steps", type=int, default=0,
                        help="train a fixed number of steps instead of --minutes")
    parser.add_argument("--threads", type=int, default=0,
                        help="train.threads (0: PyTorch's default, one per core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, default=None,
                        help="Bodies folder (built when missing; default: the cache's)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.recipes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    out = args.out or ROOT / "runs" / time.strftime("bodies-quality-%Y%m%d-%H%M%S")
    if out.exists() and any(out.iterdir()):
        parser.error(f"--out {out} exists and is not empty; nothing is overwritten")
    out.mkdir(parents=True, exist_ok=True)
    weights = fetch_vgg19()
    bodies = build_bodies(args.root or default_root())
    if args.steps:
        budget, what = [f"train.steps={args.steps}", "train.time_limit_minutes=0"], \
            f"{args.steps} steps each"
    else:
        budget, what = [f"train.time_limit_minutes={args.minutes}"], f"{args.minutes:g} min each"
    budget.append(f"train.threads={args.threads}")
    rows = []
    for name in names:
        print(f"[{name}] training {what}", flush=True)
        rows.append(run_recipe(name, budget, bodies, weights, out, args.seed))
        print(f"[{name}] {rows[-1]['steps']} steps, error {rows[-1]['torso_error']:.2f}% of "
              f"the torso, PCK@0.2 {rows[-1]['pck_at_0.2']:.1f}%", flush=True)
        (out / "results.json").write_text(json.dumps(rows, indent=1))
    table = format_table(rows, what)
    (out / "table.md").write_text(table + "\n")
    print(table)
    print(f"\n(exact joint labels from the renderer; runs, JSON and contact sheets in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
