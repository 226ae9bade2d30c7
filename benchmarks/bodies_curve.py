"""The learning curve of a Bodies run trained several budgets long: a script that prints figures.

A run of ``benchmarks/bodies_quality.py`` with the ``+keepall`` modifier keeps every
checkpoint, and its ``eval/validation.json`` holds every checkpoint's validation figure. For
each whole multiple m of ``--budget`` steps this script does what a run of m budgets would
have done: among the last five checkpoints at or before step m·budget (the trainer keeps five,
``train.keep_checkpoints``), it takes the one that validates best, and only then scores that
one on the test split (the regressed error, PCK, the seen-actor figure and the test figure
with the wider regressor fit, as ``bodies_quality.py``'s columns). The test split never
chooses anything. With a constant learning rate the first m budgets of a long run are the
steps an m-budget run makes (same seed and data order); with the cosine schedule they are not,
as its rate depends on the run's length. Example::

    python benchmarks/bodies_quality.py --steps imm-k16+keepall=4140 --threads 2 \\
        --recipes imm-k16+keepall --no-background --out runs/imm-long
    python benchmarks/bodies_curve.py runs/imm-long --budget 1380

It writes ``RUN/RECIPE/eval/curve.json`` beside the run's other results (replacing only that
file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bodies_quality import limbs_pck, pct, seen_error, wide_fit_error
from landmarks.config import TrainConfig
from landmarks.data.bodies import build_bodies, default_root
from landmarks.engine.checkpoint import checkpoint_step
from landmarks.evaluation.run import evaluate_checkpoint

#: Checkpoints a run keeps by default (``train.keep_checkpoints``), among which it chooses.
KEPT = TrainConfig().keep_checkpoints


def choose_at(ranked: list[dict[str, Any]], last_step: int, kept: int = KEPT
              ) -> dict[str, Any] | None:
    """The validation entry a run stopped at ``last_step`` would choose: the best validation
    error among the ``kept`` newest checkpoints at or before ``last_step``; None when there is
    none. ``ranked``: the entries of ``eval/validation.json`` ("checkpoint", "val_error")."""
    before = sorted((r for r in ranked if checkpoint_step(r["checkpoint"]) <= last_step),
                    key=lambda r: checkpoint_step(r["checkpoint"]))[-kept:]
    return min(before, key=lambda r: r["val_error"]) if before else None


def curve_rows(ranked: list[dict[str, Any]], budget: int, bodies: Path, benchmark: str
               ) -> list[dict[str, Any]]:
    """One row per whole multiple of ``budget`` that the run reached: the checkpoint chosen on
    validation, its validation and test figures. ``ranked``: the run's ``eval/validation.json``
    (every kept checkpoint's validation figure)."""
    last = max(checkpoint_step(r["checkpoint"]) for r in ranked)
    rows = []
    for m in range(1, last // budget + 1):
        pick = choose_at(ranked, m * budget)
        if pick is None:
            continue
        chosen = Path(pick["checkpoint"])
        results = evaluate_checkpoint(chosen, benchmark, bodies)
        seen = seen_error(chosen, results, bodies)
        wide = wide_fit_error(chosen, results, bodies)
        rows.append({
            "budgets": m, "steps": m * budget, "chosen": chosen.name,
            "val_torso_error": pick["val_error"], "val_by_actor": pick.get("val_by_group"),
            "torso_error": results["torso_error"]["mean"],
            "pck_at_0.2": results["pck"]["at_0.2"], "limbs_pck_at_0.2": limbs_pck(results),
            "mean_shape_torso_error": results["mean_shape"]["torso_error"]["mean"],
            "seen_torso_error": seen["torso_error"], "seen_pck_at_0.2": seen["pck_at_0.2"],
            "wide_fit_torso_error": wide["torso_error"], "wide_fit_pck_at_0.2": wide["pck_at_0.2"],
        })
    return rows


def format_curve(name: str, rows: list[dict[str, Any]], ranked: list[dict[str, Any]]) -> str:
    """The Markdown table of ``rows`` and one line of every checkpoint's validation figure."""
    lines = [f"| {name}: budgets | steps | chosen on validation | validation | test (% torso) "
             f"| PCK@0.2 | limbs PCK@0.2 | seen (PCK@0.2) | test, wider fit (PCK@0.2) |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['budgets']} | {r['steps']} | {r['chosen']} | "
                     f"{pct(r['val_torso_error'])} | {pct(r['torso_error'])} | "
                     f"{pct(r['pck_at_0.2'])} | {pct(r['limbs_pck_at_0.2'])} | "
                     f"{pct(r['seen_torso_error'])} ({pct(r['seen_pck_at_0.2'])}) | "
                     f"{pct(r['wide_fit_torso_error'])} ({pct(r['wide_fit_pck_at_0.2'])}) |")
    every = sorted(ranked, key=lambda r: checkpoint_step(r["checkpoint"]))
    lines.append("\nvalidation of every checkpoint: " + ", ".join(
        f"{checkpoint_step(r['checkpoint'])}: {pct(r['val_error'])}" for r in every))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+",
                        help="bodies_quality.py --out folders of runs trained with +keepall")
    parser.add_argument("--budget", type=int, required=True,
                        help="steps of one budget (e.g. imm's 20 CPU-minutes: 1380)")
    args = parser.parse_args(argv)
    if args.budget <= 0:
        parser.error(f"--budget must be a positive number of steps, got {args.budget}")
    bodies = build_bodies(default_root())
    for d in args.runs:
        path = d / "results.json"
        if not path.is_file():
            parser.error(f"{path} not found (a bodies_quality.py --out folder?)")
        for r in json.loads(path.read_text()):
            run = d / r["recipe"]
            if not (run / "eval" / "validation.json").is_file():
                parser.error(f"{run}/eval/validation.json not found: score the run first "
                             f"(bodies_quality.py --collect {d} --rescore)")
            ranked = json.loads((run / "eval" / "validation.json").read_text())
            rows = curve_rows(ranked, args.budget, bodies, r.get("benchmark", "bodies"))
            (run / "eval" / "curve.json").write_text(json.dumps(rows, indent=1))
            print(format_curve(r["recipe"], rows, ranked) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
