"""Prior weights for the ``zhang`` recipe: lmdis-rep's weights, scaled to our loss by gradient
magnitudes. A script that prints figures.

lmdis-rep (exp-ae-celeba-mafl-10.py, K = 10, 80×80 crops of a 96×96 padded input) optimises
per sample ``0.1 · Σ_pixels ½(x − x̂)²`` (pixels in [0, 1]) plus the priors
``100 · Σ_k 2πe σ_x σ_y / s²``, ``20 · Σ_{k≠k'} exp(−d²/2h²)`` and ``1e4 · Σ_k |Δ|² / s``
(``s = 80/96``, coordinates in [0, 1] of the padded input; STN units for Δ). In this package's
units (:mod:`landmarks.losses.priors`: means over landmarks and pairs, [-1, 1] of the image)
those are, per sample at S×S::

    reconstruction   0.05 · 3 S² · MSE          (614 · MSE at 64 px)
    concentration    100 · 24.6 K / 11.52 = 213.5 K · ours
    separation       20 · K (K − 1) · ours
    equivariance     1e4 · K / 1.2 · ours

Our reconstruction term is the normalised perceptual loss, not a pixel MSE, so the weights
cannot be copied: what must carry over is the *balance* the detector feels. The script measures
on real pairs (the recipe's data, pairs and model at initialisation) the gradient norm on the
detector's parameters of our reconstruction loss ``P`` and of the pixel MSE, and suggests
``w_t = lmdis_t · |∇P| / (lmdis_rec · |∇MSE|)``: the prior's pull relative to the
reconstruction's is then lmdis-rep's.

    python benchmarks/zhang_weights.py \\
        data.root=$HOME/.cache/unsupervised-landmarks/data/realfaces/frames/train \\
        loss.vgg_weights=PATH
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from landmarks.config import load_config
from landmarks.data import build_dataset, collate_skipping
from landmarks.engine.seeding import seed_everything, step_generator
from landmarks.engine.trainer import build_model, training_step
from landmarks.losses import build_objective
from landmarks.weights import resolve_vgg19

ROOT = Path(__file__).resolve().parents[1]
TERMS = ("concentration", "separation", "equivariance")


def lmdis_weights(k: int, size: int) -> dict[str, float]:
    """lmdis-rep's per-sample weights in this package's units (module docstring)."""
    return {"reconstruction_mse": 0.05 * 3 * size * size,
            "concentration": 100 * 2 * math.pi * math.e / (80 / 96) ** 2 * k / 11.52,
            "separation": 20.0 * k * (k - 1),
            "equivariance": 1e4 * k / 1.2}


def _grad_norm(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> float:
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return math.sqrt(sum(float(g.float().square().sum()) for g in grads if g is not None))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=ROOT / "configs" / "zhang_faces.yaml")
    p.add_argument("--batches", type=int, default=4)
    p.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    cfg = load_config(args.config, [*args.overrides, "data.num_workers=0",
                                    "loss.terms={equivariance: 1, separation: 1, "
                                    "concentration: 1}"])
    seed_everything(0)
    model = build_model(cfg).train()
    if model.needs_pretrained_weights:  # as the trainer does (the method contract)
        model.load_pretrained(resolve_vgg19(cfg.loss.vgg_weights)[0])
    objective = build_objective(cfg.loss, cfg.model.image_size).train()
    detector = [q for m in model.detector_modules() for q in m.parameters() if q.requires_grad]
    loader = DataLoader(build_dataset(cfg.data, cfg.model.image_size),
                        batch_size=cfg.train.batch_size, shuffle=True, collate_fn=collate_skipping,
                        generator=torch.Generator().manual_seed(0))
    norms: dict[str, list[float]] = {}
    for i, batch in enumerate(loader):
        if i >= args.batches:
            break
        batch = {k: v for k, v in batch.items() if torch.is_tensor(v)}
        gen = step_generator(0, i, 0, torch.device("cpu"))
        losses, out, pair = training_step(model, objective, batch, cfg, gen)
        mse = (out["reconstruction"].float() - pair.target).square().mean()
        for name, value in (("reconstruction", losses["reconstruction"]), ("mse", mse),
                            *((t, losses[t]) for t in TERMS)):
            norms.setdefault(name, []).append(_grad_norm(value, detector))
        values = {t: f"{float(losses[t].detach()):.4g}" for t in ("reconstruction", *TERMS)}
        print(f"batch {i}: values {values}, mse {float(mse):.4g}")
    g = {k: statistics.median(v) for k, v in norms.items()}
    ref = lmdis_weights(cfg.model.num_keypoints, cfg.model.image_size)
    print("\nmedian gradient norm on the detector's parameters, per unit weight:")
    for k, v in g.items():
        print(f"  {k:<15} {v:.4g}")
    scale = g["reconstruction"] / (ref["reconstruction_mse"] * g["mse"])
    print(f"\nlmdis-rep per-sample weights in our units (K={cfg.model.num_keypoints}, "
          f"S={cfg.model.image_size}): " + ", ".join(f"{k} {v:.4g}" for k, v in ref.items()))
    print(f"|∇P| / (lmdis_rec · |∇MSE|) = {scale:.4g}")
    print("suggested loss.terms (lmdis-rep's balance against our reconstruction loss):")
    for t in TERMS:
        w = ref[t] * scale
        print(f"  {t:<15} {w:.4g}   (its gradient / the reconstruction's: "
              f"{w * g[t] / g['reconstruction']:.3g}; lmdis-rep: "
              f"{ref[t] * g[t] / (ref['reconstruction_mse'] * g['mse']):.3g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
