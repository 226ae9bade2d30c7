"""Landmark quality of the three methods on the rendered Bodies benchmark: a script that prints
figures (the Bodies counterpart of benchmarks/quality.py, kept apart so that the two evolve
independently).

Each recipe is ``configs/<method>_bodies.yaml`` plus dotted overrides (:data:`RECIPES`),
trained for the same budget and seed on the unsupervised training clips less those of the
validation actors (:func:`~landmarks.data.bodies.training_root_without_actors`; ``--all-train``
keeps them). Each kept checkpoint is scored on the validation actors alone
(:func:`~landmarks.evaluation.selection.benchmark_validation_error`: people neither the
detector nor the regressor saw); the best is chosen, and only then scored on the test split by
``landmarks eval --dataset bodies``: a bias-free linear map from the K points to the 15 exact
joints, error in % of the torso length over visible joints, PCK@0.1/0.2 of the torso,
Hungarian-matched raw points (K >= 15) and the mean-pose floor; beside them the seen-actor
figure (:func:`seen_error`: the same regressor on the frames the detector trained on) and the
test figure with a regressor fitted on the training actors' train clips too
(:func:`wide_fit_error`; the standard fit sees one clip, one motion, per actor). The
table is sorted by validation error, and each recipe gets contact sheets of held-out test clips
(unseen actors, unseen motions): row 1 the raw keypoints, row 2 the regressed skeleton (white)
over the exact one (black; grey on frames without background). Example::

    python benchmarks/bodies_quality.py --steps 150 --threads 1 --recipes imm,zhang,motion
    python benchmarks/bodies_quality.py --minutes 20 --recipes imm,zhang,motion   # quiet machine
    # the steps a quiet 2-core machine makes in 20 minutes, on a machine that is not quiet:
    python benchmarks/bodies_quality.py --steps zhang=1050,imm=1380,motion=1280 --threads 1
    python benchmarks/bodies_quality.py --collect runs/a runs/b     # one table of earlier runs
    python benchmarks/bodies_quality.py --collect runs/a --rescore  # the protocol as it is now
    # the frames without their background (benchmark bodies-nobg; Human3.6M's protocol):
    python benchmarks/bodies_quality.py --steps zhang=1050 --threads 1 --recipes zhang \
        --no-background
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
from landmarks.data.bodies import (
    TORSO_INDICES,
    BodiesFrames,
    actor_group,
    actors_in_training_root,
    build_bodies,
    default_root,
    frames_dir,
    load_manifest,
    training_root_without_actors,
    validation_actors,
)
from landmarks.data.bodies_scene import SKELETON
from landmarks.engine.trainer import train
from landmarks.evaluation.benchmark_eval import detect_split
from landmarks.evaluation.regression import LinearRegressor, fit_linear_regressor
from landmarks.evaluation.run import evaluate_checkpoint
from landmarks.evaluation.selection import select_on_benchmark_validation
from landmarks.evaluation.torso import torso_errors
from landmarks.geometry.coords import normalized_to_pixels
from landmarks.inference import Detector
from landmarks.visualize import CheckpointPictures
from landmarks.visualize.overlay import draw_keypoints
from landmarks.weights import fetch_vgg19

ROOT = Path(__file__).resolve().parents[1]
_K16 = ["model.num_keypoints=16"]
_VIDEO = ["data.video_tps=false"]
#: name → (config file, overrides).
RECIPES: dict[str, tuple[Path, list[str]]] = {
    "imm": (ROOT / "configs" / "imm_bodies.yaml", []),
    "zhang": (ROOT / "configs" / "zhang_bodies.yaml", []),
    "motion": (ROOT / "configs" / "motion_bodies.yaml", []),
    "imm-k16": (ROOT / "configs" / "imm_bodies.yaml", _K16),
    "zhang-k16": (ROOT / "configs" / "zhang_bodies.yaml", _K16),
    "motion-k16": (ROOT / "configs" / "motion_bodies.yaml", _K16),
    # plain frame pairs: no TPS warp on top of the video pair, so that the only geometric change
    # from source to target is the body's motion (and a mild camera sway), not a warp of the
    # whole frame, most of which is floor and sky (the equivariance prior draws its own warp)
    "imm-video": (ROOT / "configs" / "imm_bodies.yaml", _VIDEO),
    "zhang-video": (ROOT / "configs" / "zhang_bodies.yaml", _VIDEO),
    # FOMM's objective plus IMM's separation prior, which keeps motion's points from collapsing
    # onto a line (tests/test_learning.py; the trainer's spread figures on Bodies)
    "motion-sep": (ROOT / "configs" / "motion_bodies.yaml",
                   ["loss.terms={equivariance: 1000, jacobian_equivariance: 1000, "
                    "separation: 100}"]),
}
#: Suffixes that add overrides to any recipe: ``imm+cosine``, ``zhang-k16+cosine``.
MODIFIERS: dict[str, list[str]] = {
    # half a cosine down to 1% of the rate over the run's steps (--steps: the run's real length)
    "cosine": ["optim.schedule=cosine"],
    "k16": _K16,
    "k32": ["model.num_keypoints=32"],
    # half the batch at the same images per second: twice the updates in the same budget
    # (give the doubled step count with --steps)
    "b8": ["train.batch_size=8"],
    # three residual dilated 3x3 blocks between the detector and its score head (imm, motion;
    # reach across the 16x16 score map: which side of the body a hand is on)
    "ctx3": ["model.context_layers=3"],
    # the motion model's detector on a frozen ImageNet VGG-19 trunk, as imm's and zhang's are
    # (with +ctx3, imm's chosen detector; for motion it validates worse at 20 CPU-minutes: README)
    "vgg": ["model.detector=vgg19"],
    # plain frame pairs, no TPS warp on top (as the -video recipes)
    "video": _VIDEO,
    # every checkpoint kept (the last five otherwise): a run several budgets long, scored at
    # each budget by benchmarks/bodies_curve.py
    "keepall": ["train.keep_checkpoints=0"],
}
SHEET_FRAMES = 8
#: The joints of the arms and legs (the limbs' PCK column): what a rigid cloud on the torso misses.
LIMBS = ("r_elbow", "r_wrist", "l_elbow", "l_wrist", "r_knee", "r_ankle", "l_knee", "l_ankle")
#: Test clips drawn in contact sheets: the first clip of the first and of the second test actor.
SHEET_CLIPS = (0, 4)
#: Every n-th frame of the training clips scored for the seen-actor figure (:func:`seen_error`).
SEEN_STRIDE = 5
#: Every n-th frame of the training clips added to the regressor's fit (:func:`wide_fit_error`).
WIDE_FIT_STRIDE = 2


def contact_sheet(checkpoint: Path, results: dict[str, Any], bodies: Path, out: Path,
                  clip_index: int = 0, scale: int = 2) -> Path:
    """A PNG of ``SHEET_FRAMES`` frames of the ``clip_index``-th test clip at the model's
    size × ``scale``: raw keypoints (row 1); regressed skeleton, white, over the exact one,
    black, or grey on frames without background (row 2)."""
    detector = Detector.from_checkpoint(checkpoint, device="cpu")
    size = detector.image_size
    background = results.get("dataset", "bodies") == "bodies"
    frames = BodiesFrames(bodies, "test", size, background=background)
    exact = (0, 0, 0) if background else (128, 128, 128)
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
        for pts, colour in ((gt, exact), ((j + 0.5) * scale - 0.5, (255, 255, 255))):
            for a, b in SKELETON:
                draw.line([tuple(pts[a]), tuple(pts[b])], fill=colour, width=2)
        rows[1].append(np.asarray(pil))
    sheet = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(out)
    return out


def _detect(detector: Detector, frames: BodiesFrames
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(keypoints (N, K, 2) in pixels, labels (N, 15, 2), visible (N, 15))`` of every frame
    of ``frames`` (:func:`~landmarks.evaluation.benchmark_eval.detect_split`)."""
    kp, labels, visible, _, _ = detect_split(detector, frames, detector.image_size,
                                             f"bodies {frames.split} frames")
    return kp, labels, visible


def _scored(joints: np.ndarray, labels: np.ndarray, visible: np.ndarray) -> dict[str, float]:
    """% of the torso over visible joints and PCK@0.2 of ``joints`` against ``labels``."""
    err = torso_errors(joints, labels, TORSO_INDICES)[visible]
    return {"torso_error": float(100 * err.mean()), "pck_at_0.2": float(100 * (err <= 0.2).mean())}


def _seen_actors(detector: Detector) -> set[int]:
    """The Bodies actors of the detector's training root."""
    seen = actors_in_training_root(detector.training_root)
    if not seen:
        raise SystemExit(f"its training root {detector.training_root} names no Bodies actor; "
                         f"the seen-actor figures need the run's training clips")
    return seen


def seen_error(checkpoint: Path, results: dict[str, Any], bodies: Path,
               stride: int = SEEN_STRIDE) -> dict[str, Any]:
    """The seen-actor figure beside the test's unseen one: ``results``' regressor (fitted on
    train_labelled) applied to the frames the detector trained on, every ``stride``-th frame of
    the ``train`` clips of the actors in its training root (seen actors, seen motions). Returns
    ``{"torso_error": % of the torso over visible joints, "pck_at_0.2": %, "frames": N,
    "actors": [...]}``."""
    detector = Detector.from_checkpoint(checkpoint, device="cpu")
    seen = _seen_actors(detector)
    frames = BodiesFrames(bodies, "train", detector.image_size, stride,
                          background=results.get("dataset", "bodies") == "bodies", actors=seen)
    kp, labels, visible = _detect(detector, frames)
    joints = LinearRegressor.from_dict(results["regressor"]).predict(kp)
    return {**_scored(joints, labels, visible), "frames": len(frames),
            "actors": [actor_group(a) for a in sorted(seen)]}


def wide_fit_error(checkpoint: Path, results: dict[str, Any], bodies: Path,
                   stride: int = WIDE_FIT_STRIDE) -> dict[str, Any]:
    """The test figure with a regressor fitted on more labelled frames: the train_labelled
    clips of the actors in the detector's training root less the validation actors (the
    standard fit; :func:`rigid_oracle`'s wide fit too) plus every
    ``stride``-th frame of their ``train`` clips, as Jakab et al. fit theirs on the training
    subjects of Human3.6M (the frames the detector learnt from, its labels used by the
    regressor alone). The standard fit has one clip, so one motion, per actor; this one all
    the train motions. Same bias-free least squares (:func:`fit_linear_regressor`), scored on
    the whole test split. Returns ``{"torso_error", "pck_at_0.2", "fit_frames"}``."""
    detector = Detector.from_checkpoint(checkpoint, device="cpu")
    held = set(validation_actors(load_manifest(bodies)))
    seen = _seen_actors(detector) - held  # as the standard fit, never the validation actors
    background = results.get("dataset", "bodies") == "bodies"
    size = detector.image_size
    parts = [_detect(detector, BodiesFrames(bodies, split, size, step, background, seen))
             for split, step in (("train_labelled", 1), ("train", stride))]
    regressor = fit_linear_regressor(np.concatenate([p[0] for p in parts]),
                                     np.concatenate([p[1] for p in parts]))
    kp, labels, visible = _detect(detector, BodiesFrames(bodies, "test", size,
                                                         background=background))
    return {**_scored(regressor.predict(kp), labels, visible),
            "fit_frames": sum(len(p[0]) for p in parts)}


def recipe(name: str) -> tuple[Path, list[str]]:
    """The config file and overrides of ``name``: a :data:`RECIPES` name, then optionally
    ``+``-joined :data:`MODIFIERS` (``"imm-k16+cosine"``). KeyError names what is unknown."""
    base, *mods = name.split("+")
    if base not in RECIPES or any(m not in MODIFIERS for m in mods):
        raise KeyError(f"unknown recipe {name!r}: expected one of {', '.join(RECIPES)}, "
                       f"optionally with +{', +'.join(MODIFIERS)}")
    config, overrides = RECIPES[base]
    return config, [*overrides, *(o for m in mods for o in MODIFIERS[m])]


def run_recipe(name: str, budget: list[str], bodies: Path, weights: Path, out: Path,
               seed: int, train_root: Path, benchmark: str = "bodies") -> dict[str, Any]:
    """Train one recipe within ``budget`` on ``train_root``, then :func:`score_run` on
    ``benchmark`` (``bodies``, or ``bodies-nobg`` for frames without background); one table
    row."""
    config, overrides = recipe(name)
    cfg = load_config(config, [*overrides, f"data.root={train_root}",
                               f"loss.vgg_weights={weights}", f"train.seed={seed}", *budget,
                               "train.progress=false"])
    result = train(cfg, out / name, hooks=[CheckpointPictures()])
    return score_run(name, out / name, bodies, result.step, result.images_per_second,
                     benchmark)


def score_run(name: str, run: Path, bodies: Path, steps: int, img_per_s: float,
              benchmark: str = "bodies") -> dict[str, Any]:
    """Choose the run's checkpoint on the validation actors, evaluate that one on the test
    split of ``benchmark`` (``bodies`` or ``bodies-nobg``), draw its contact sheets
    (``run/eval``, replaced); one table row."""
    config, overrides = recipe(name)
    kept = sorted((run / "checkpoints").glob("step_*.pt"))
    if not kept:
        raise SystemExit(f"{run}/checkpoints holds no step_*.pt")
    ranked = select_on_benchmark_validation(kept, benchmark, bodies)
    chosen = Path(ranked[0]["checkpoint"])
    results = evaluate_checkpoint(chosen, benchmark, bodies)
    (run / "eval").mkdir(exist_ok=True)
    (run / "eval" / "validation.json").write_text(json.dumps(ranked, indent=1))
    (run / "eval" / "bodies.json").write_text(json.dumps(results, indent=1))
    seen = seen_error(chosen, results, bodies)
    (run / "eval" / "seen.json").write_text(json.dumps(seen, indent=1))
    wide = wide_fit_error(chosen, results, bodies)
    (run / "eval" / "wide_fit.json").write_text(json.dumps(wide, indent=1))
    sheets = [str(contact_sheet(chosen, results, bodies,
                                run / "eval" / f"contact_sheet_test{i}.png", i))
              for i in SHEET_CLIPS]
    match = results.get("matching", {})
    return {
        "recipe": name, "benchmark": benchmark, "config": str(config.relative_to(ROOT)),
        "overrides": overrides,
        "steps": steps, "img_per_s": img_per_s,
        "chosen": chosen.name, "validation": [
            {"checkpoint": Path(r["checkpoint"]).name, "val_error": r["val_error"],
             "val_by_actor": r.get("val_by_group")} for r in ranked],
        "val_torso_error": ranked[0]["val_error"], "val_floor": ranked[0].get("val_floor"),
        "val_actors": ranked[0]["val_groups"], "val_by_actor": ranked[0].get("val_by_group"),
        "val_frames": ranked[0].get("frames"),
        "detector_saw_validation": results["val_split"].get("detector_saw_them"),
        "torso_error": results["torso_error"]["mean"],
        "pck_at_0.1": results["pck"]["at_0.1"], "pck_at_0.2": results["pck"]["at_0.2"],
        "limbs_pck_at_0.2": limbs_pck(results),
        "hungarian_torso_error": (match.get("torso_error") or {}).get("mean"),
        "mean_shape_torso_error": results["mean_shape"]["torso_error"]["mean"],
        "mean_shape_pck_at_0.2": results["mean_shape"]["pck_at_0.2"],
        "seen_torso_error": seen["torso_error"], "seen_pck_at_0.2": seen["pck_at_0.2"],
        "wide_fit_torso_error": wide["torso_error"], "wide_fit_pck_at_0.2": wide["pck_at_0.2"],
        "contact_sheets": sheets,
    }


def rigid_oracle(bodies: Path, wide: bool = False) -> dict[str, float]:
    """A reference without a detector: the exact head, neck, shoulder, pelvis and hip labels
    as the "keypoints", regressed (bias-free, fitted on the train_labelled frames less the
    validation actors) to all 15 joints of the test split. This is the best a detector can do
    when its points follow the torso rigidly and see nothing of the arms and legs. Returns the
    test error and PCK@0.2 (%), overall and over :data:`LIMBS`."""
    manifest = load_manifest(bodies)
    names = list(manifest["joints"])
    held = set(validation_actors(manifest))
    rigid = [names.index(n) for n in ("head", "neck", "r_shoulder", "l_shoulder", "pelvis",
                                      "r_hip", "l_hip")]

    def labels(split: str) -> tuple[np.ndarray, np.ndarray]:
        joints, visible = [], []
        for c in manifest["clips"]:
            if c["split"] == split and not (split != "test" and c["actor"] in held):
                step = WIDE_FIT_STRIDE if split == "train" else 1
                with np.load(bodies / "labels" / split / f"{c['id']}.npz") as z:
                    joints.append(z["joints"][::step].astype(np.float64))
                    visible.append(z["visible"][::step].astype(bool))
        return np.concatenate(joints), np.concatenate(visible)

    (fit, _), (test, vis) = labels("train_labelled"), labels("test")
    if wide:
        fit = np.concatenate([fit, labels("train")[0]])
    regressor = fit_linear_regressor(fit[:, rigid], fit)
    err = torso_errors(regressor.predict(test[:, rigid]), test, TORSO_INDICES)
    limbs = [names.index(j) for j in LIMBS]
    floor = torso_errors(np.broadcast_to(fit.mean(0), test.shape), test, TORSO_INDICES)
    return {"torso_error": float(100 * err[vis].mean()),
            "pck_at_0.2": float(100 * (err[vis] <= 0.2).mean()),
            "mean_pose_error": float(100 * floor[vis].mean()),
            "limbs_pck_at_0.2": float(100 * (err[:, limbs][vis[:, limbs]] <= 0.2).mean())}


def limbs_pck(results: dict[str, Any]) -> float | None:
    """Mean PCK@0.2 (%) over the :data:`LIMBS` joints of a ``torso`` result."""
    names = list(results.get("point_names") or [])
    per = (results.get("pck") or {}).get("per_part_at_0.2") or []
    vals = [per[names.index(j)] for j in LIMBS if j in names and names.index(j) < len(per)
            and per[names.index(j)] is not None]
    return float(np.mean(vals)) if vals else None


def pct(value: float | None) -> str:
    """A table cell: ``21.74`` → ``"21.7%"``, None → ``"—"``."""
    return "—" if value is None else f"{value:.1f}%"


def format_table(rows: list[dict[str, Any]], budget: str) -> str:
    """The Markdown table of the rows, best validation error first."""
    lines = [f"| recipe ({budget}) | steps | chosen on validation | validation: unseen actors "
             f"| per validation actor "
             f"| test error: unseen actors, unseen motions (% torso) | PCK@0.1 | PCK@0.2 "
             f"| limbs PCK@0.2 | Hungarian raw | mean-pose floor (PCK@0.2) "
             f"| seen actors' training frames (PCK@0.2) "
             f"| test, regressor fit on the train clips too (PCK@0.2) |",
             "|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: r["val_torso_error"]):
        saw = " (seen)" if r.get("detector_saw_validation") else ""
        floor = f" (floor {r['val_floor']:.1f}%)" if r.get("val_floor") is not None else ""
        bare = " (no background)" if r.get("benchmark") == "bodies-nobg" else ""
        lines.append(f"| {r['recipe']}{bare} | {r['steps']} | {r['chosen']} | "
                     f"{pct(r['val_torso_error'])}{saw}{floor} | "
                     f"{_by_actor(r.get('val_by_actor'))} | "
                     f"{pct(r['torso_error'])} | {pct(r['pck_at_0.1'])} | "
                     f"{pct(r['pck_at_0.2'])} | {pct(r.get('limbs_pck_at_0.2'))} | "
                     f"{pct(r['hungarian_torso_error'])} | "
                     f"{pct(r['mean_shape_torso_error'])} "
                     f"({pct(r['mean_shape_pck_at_0.2'])}) | "
                     f"{pct(r.get('seen_torso_error'))} ({pct(r.get('seen_pck_at_0.2'))}) | "
                     f"{pct(r.get('wide_fit_torso_error'))} "
                     f"({pct(r.get('wide_fit_pck_at_0.2'))}) |")
    return "\n".join(lines)


def _by_actor(errors: dict[str, float] | None) -> str:
    """``{"a07": 27.0, "a08": 47.4}`` → ``"a07 27.0%, a08 47.4%"`` (rows of older runs: "")."""
    return ", ".join(f"{a} {pct(e)}" for a, e in sorted((errors or {}).items()))


def parse_steps(text: str, names: list[str], parser: argparse.ArgumentParser
                ) -> dict[str, int]:
    """``--steps``: ``""`` → ``{}`` (time budget); ``"N"`` → N for every recipe;
    ``"a=N,b=M"`` → each named recipe's steps (every recipe of the run must be named)."""
    if not text:
        return {}
    try:
        if "=" not in text:
            return dict.fromkeys(names, int(text))
        steps = {k.strip(): int(v) for k, v in (p.split("=") for p in text.split(","))}
    except ValueError:
        parser.error(f"--steps {text!r}: expected N or RECIPE=N,… with whole numbers")
    missing = [n for n in names if n not in steps]
    if missing:
        parser.error(f"--steps names no step count for {', '.join(missing)}")
    return steps


def _backfill(row: dict[str, Any], run: Path) -> None:
    """Columns a row of an older script lacks, from the run's ``eval/bodies.json``: the limbs'
    PCK, the seen-actor figure (:func:`seen_error`, on the chosen checkpoint) and the test
    figure with the wider regressor fit (:func:`wide_fit_error`)."""
    res = run / "eval" / "bodies.json"
    if not res.is_file():
        return
    results = json.loads(res.read_text())
    if row.get("limbs_pck_at_0.2") is None:
        row["limbs_pck_at_0.2"] = limbs_pck(results)
    if row.get("seen_torso_error") is None:
        seen = seen_error(run / "checkpoints" / row["chosen"], results,
                          Path(results["root"]))
        (run / "eval" / "seen.json").write_text(json.dumps(seen, indent=1))
        row["seen_torso_error"], row["seen_pck_at_0.2"] = seen["torso_error"], seen["pck_at_0.2"]
    if row.get("wide_fit_torso_error") is None:
        wide = wide_fit_error(run / "checkpoints" / row["chosen"], results,
                              Path(results["root"]))
        (run / "eval" / "wide_fit.json").write_text(json.dumps(wide, indent=1))
        row["wide_fit_torso_error"] = wide["torso_error"]
        row["wide_fit_pck_at_0.2"] = wide["pck_at_0.2"]


def collect(dirs: list[Path], rescore: bool = False) -> int:
    """Print one table of the rows in ``DIR/results.json`` of earlier runs (columns an older
    script did not write are filled in, :func:`_backfill`); with ``rescore`` each row's run is
    scored again by :func:`score_run` (the protocol as it is now). The rows are written back."""
    rows = []
    bodies = build_bodies(default_root()) if rescore else None
    for d in dirs:
        path = d / "results.json"
        if not path.is_file():
            raise SystemExit(f"--collect: {path} not found (a bodies_quality.py --out folder?)")
        found = json.loads(path.read_text())
        for i, r in enumerate(found):
            if bodies is not None:
                found[i] = r = score_run(r["recipe"], d / r["recipe"], bodies, r["steps"],
                                         r["img_per_s"], r.get("benchmark", "bodies"))
            else:
                _backfill(r, d / r["recipe"])
            rows.append(r)
        path.write_text(json.dumps(found, indent=1))
    steps = {r["steps"] for r in rows}
    print(format_table(rows, f"{steps.pop()} steps each" if len(steps) == 1 else "fixed steps"))
    print(oracle_line(default_root()))
    return 0


def oracle_line(bodies: Path) -> str:
    """The :func:`rigid_oracle` reference as one line, and with the wider fit."""
    o, w = rigid_oracle(bodies), rigid_oracle(bodies, wide=True)
    return (f"\nreference, no detector: exact head/neck/shoulders/pelvis/hips regressed to all "
            f"joints (a detector that follows the torso rigidly, at best): test error "
            f"{o['torso_error']:.1f}%, PCK@0.2 {o['pck_at_0.2']:.1f}%, limbs PCK@0.2 "
            f"{o['limbs_pck_at_0.2']:.1f}%; fitted on the train clips too (the last column's "
            f"fit): {w['torso_error']:.1f}%, PCK@0.2 {w['pck_at_0.2']:.1f}%, limbs PCK@0.2 "
            f"{w['limbs_pck_at_0.2']:.1f}%, mean pose {w['mean_pose_error']:.1f}%")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default="imm,zhang,motion",
                        help=f"comma-separated names from: {', '.join(RECIPES)}; each "
                             f"optionally +{', +'.join(MODIFIERS)} (e.g. imm-k16+cosine)")
    parser.add_argument("--minutes", type=float, default=20.0, help="training budget per recipe")
    parser.add_argument("--steps", default="",
                        help="train a fixed number of steps instead of --minutes: N for every "
                             "recipe, or RECIPE=N,… for each")
    parser.add_argument("--threads", type=int, default=0,
                        help="train.threads (0: PyTorch's default, one per core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all-train", action="store_true",
                        help="train on every training clip, the validation actors' too (the "
                             "validation figure is then not held out of training)")
    parser.add_argument("--no-background", action="store_true",
                        help="train and score on the frames without their background "
                             "(benchmark bodies-nobg, the Human3.6M protocol's masks)")
    parser.add_argument("--root", type=Path, default=None,
                        help="Bodies folder (built when missing; default: the cache's)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--collect", type=Path, nargs="+", default=None, metavar="DIR",
                        help="train nothing: one table of the results.json of earlier runs")
    parser.add_argument("--rescore", action="store_true",
                        help="with --collect: choose, evaluate and draw each run again with "
                             "the protocol as it is now (its eval/ and results.json replaced)")
    args = parser.parse_args(argv)
    if args.collect:
        return collect(args.collect, args.rescore)
    names = [n.strip() for n in args.recipes.split(",") if n.strip()]
    for n in names:
        try:
            recipe(n)
        except KeyError as err:
            parser.error(str(err.args[0]))
        if "+cosine" in n and not args.steps:
            parser.error(f"recipe {n}: the cosine schedule runs over train.steps; give the "
                         f"run's length with --steps (a time limit would leave it undecayed)")
    out = args.out or ROOT / "runs" / time.strftime("bodies-quality-%Y%m%d-%H%M%S")
    if out.exists() and any(out.iterdir()):
        parser.error(f"--out {out} exists and is not empty; nothing is overwritten")
    out.mkdir(parents=True, exist_ok=True)
    weights = fetch_vgg19()
    bodies = build_bodies(args.root or default_root())
    background = not args.no_background
    benchmark = "bodies" if background else "bodies-nobg"
    train_root = (frames_dir(bodies, background) / "train" if args.all_train
                  else training_root_without_actors(bodies, background=background))
    steps = parse_steps(args.steps, names, parser)
    what = (f"{args.minutes:g} min each" if not steps else
            f"{next(iter(steps.values()))} steps each" if len(set(steps.values())) == 1
            else "fixed steps")
    rows = []
    for name in names:
        budget = ([f"train.steps={steps[name]}", "train.time_limit_minutes=0"] if steps
                  else [f"train.time_limit_minutes={args.minutes}"])
        budget.append(f"train.threads={args.threads}")
        print(f"[{name}] training {budget[0].split('.')[1]}", flush=True)
        rows.append(run_recipe(name, budget, bodies, weights, out, args.seed, train_root,
                               benchmark))
        r = rows[-1]
        print(f"[{name}] {r['steps']} steps; chose {r['chosen']} on validation "
              f"({r['val_torso_error']:.2f}% of the torso); test error {r['torso_error']:.2f}%, "
              f"PCK@0.2 {r['pck_at_0.2']:.1f}%", flush=True)
        (out / "results.json").write_text(json.dumps(rows, indent=1))
    table = format_table(rows, what)
    (out / "table.md").write_text(table + "\n" + oracle_line(bodies) + "\n")
    print(table)
    print(oracle_line(bodies))
    print(f"\n(exact joint labels from the renderer; trained on {train_root}; runs, JSON and "
          f"contact sheets in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
