"""The training objective: a reconstruction loss plus weighted prior terms.

``loss = w_rec · reconstruction + Σ_t w_t · prior_t`` over the terms named in
``loss.terms`` (:data:`landmarks.config.LOSS_TERMS`). Every term is logged unweighted under its
own name, so curves of different runs compare even when their weights differ; ``"loss"`` is the
weighted sum that is optimised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from landmarks.config import LOSS_TERMS
from landmarks.geometry import TPSWarp
from landmarks.losses.priors import (
    SEPARATION_BANDWIDTH,
    concentration_loss,
    equivariance_loss,
    separation_loss,
)

__all__ = ["TERM_NEEDS", "Objective", "check_terms"]

#: the model outputs (:attr:`landmarks.models.LandmarkModel.outputs`) each term reads
TERM_NEEDS: dict[str, tuple[str, ...]] = {
    "reconstruction": ("reconstruction",),
    "equivariance": ("keypoints", "warped_keypoints"),
    "concentration": ("prob_x", "prob_y"),
    "separation": ("keypoints",),
}


def check_terms(loss_cfg: Any, model: Any, model_name: str) -> None:
    """Check, before training, that ``model`` returns what each weighted term of ``loss_cfg``
    reads (``loss_cfg.terms``; the reconstruction term has weight 1 unless set).

    Raises:
        ValueError: naming the term, the model and the missing outputs.
    """
    weights = {"reconstruction": 1.0, **dict(loss_cfg.terms)}
    outputs = set(getattr(model, "outputs", ()) or ())
    for term, weight in weights.items():
        if weight <= 0:
            continue
        missing = [name for name in TERM_NEEDS.get(term, ()) if name not in outputs]
        if missing:
            key = "loss.name" if term == "reconstruction" else f"loss.terms.{term}"
            raise ValueError(
                f"config key {key!r}: loss term {term!r} needs the model's "
                f"{', '.join(map(repr, missing))}, which model {model_name!r} does not return "
                f"(it returns: {', '.join(sorted(outputs)) or 'nothing declared'}); set "
                f"loss.terms.{term}=0 or choose a model that provides it")


class Objective(nn.Module):
    """Reconstruction loss + priors, weighted.

    Args:
        reconstruction: a loss called as ``(prediction, target, mask) -> {"loss", ...}``
            (:class:`~landmarks.losses.PerceptualLoss`, :class:`~landmarks.losses.PixelLoss`).
        weights: term → weight; ``reconstruction`` defaults to 1, the priors to 0 (off).
        separation_bandwidth: σ of the separation prior in normalised units.

    Its only state is the reconstruction loss's (running normalisers): checkpoints store
    ``objective.reconstruction``'s buffers, as they did before the priors existed.
    """

    def __init__(self, reconstruction: nn.Module, weights: Mapping[str, float] | None = None,
                 separation_bandwidth: float = SEPARATION_BANDWIDTH) -> None:
        super().__init__()
        weights = dict(weights or {})
        for term, weight in weights.items():
            if term not in LOSS_TERMS:
                raise ValueError(f"unknown loss term {term!r}; expected one of "
                                 f"{', '.join(LOSS_TERMS)}")
            if weight < 0:
                raise ValueError(f"loss term {term!r}: weight must be >= 0, got {weight}")
        self.reconstruction = reconstruction
        self.weights = {"reconstruction": 1.0, **{t: float(w) for t, w in weights.items()}}
        self.separation_bandwidth = float(separation_bandwidth)

    @property
    def needs_warped_target(self) -> bool:
        """Whether the model must also detect on a warped copy of the target."""
        return self.weights.get("equivariance", 0.0) > 0

    def forward(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                warp: TPSWarp | None = None) -> dict[str, Tensor]:
        """The loss dict of one batch.

        Args:
            out: the model's outputs: "reconstruction" (B,3,S,S), "keypoints" (B,K,2),
                "prob_x" (B,K,w), "prob_y" (B,K,h), and, for equivariance, "warped_keypoints"
                (B,K,2) detected on the target warped by ``warp``.
            target: (B,3,S,S) the image to reconstruct.
            mask: (B,1,S,S) validity mask of the reconstruction, or None.
            warp: the warps of the warped target (equivariance only).

        Returns:
            "loss" (the weighted sum), the reconstruction loss's own entries (e.g.
            "perceptual/<layer>"), and each term unweighted under its name.
        """
        rec = self.reconstruction(out["reconstruction"].float(), target, mask)
        w = self.weights
        losses = {k: v for k, v in rec.items() if k != "loss"}
        losses["reconstruction"] = rec["loss"]
        total = w["reconstruction"] * rec["loss"]
        if w.get("concentration", 0.0) > 0:
            losses["concentration"] = concentration_loss(out["prob_x"], out["prob_y"])
            total = total + w["concentration"] * losses["concentration"]
        if w.get("separation", 0.0) > 0:
            losses["separation"] = separation_loss(out["keypoints"], self.separation_bandwidth)
            total = total + w["separation"] * losses["separation"]
        if self.needs_warped_target:
            if warp is None or "warped_keypoints" not in out:
                raise ValueError("loss term 'equivariance' needs the model's 'warped_keypoints' "
                                 "and the warp that made them")
            losses["equivariance"] = equivariance_loss(out["warped_keypoints"],
                                                       out["keypoints"], warp)
            total = total + w["equivariance"] * losses["equivariance"]
        return {"loss": total, **losses}
