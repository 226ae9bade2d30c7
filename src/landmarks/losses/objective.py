"""The training objective: a reconstruction loss plus weighted terms from the registry.

``loss = w_rec · reconstruction + Σ_t w_t · term_t`` over the terms named in ``loss.terms``
(:mod:`landmarks.losses.terms`: ``perceptual``, ``l1``, ``l2``, ``concentration``,
``separation``, ``equivariance``, ...; ``reconstruction`` is the loss ``loss.name`` chooses).
Every term is logged unweighted under its own name, so curves of different runs compare even
when their weights differ; ``"loss"`` is the weighted sum that is optimised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from landmarks.config import ConfigError
from landmarks.geometry import TPSWarp
from landmarks.losses.priors import SEPARATION_BANDWIDTH
from landmarks.losses.terms import (
    RECONSTRUCTION,
    LossTerm,
    Reconstruction,
    Separation,
    build_term,
    term_class,
    term_names,
)

__all__ = ["Objective", "check_terms", "term_needs"]


def term_needs(name: str) -> tuple[str, ...]:
    """The model outputs term ``name`` reads (``reconstruction``: the reconstruction)."""
    return ("reconstruction",) if name == RECONSTRUCTION else term_class(name).needs


def check_terms(loss_cfg: Any, model: Any, model_name: str, flow: str | None = None) -> None:
    """Check, before training, that every term of ``loss_cfg`` exists and that ``model``
    returns what each weighted term reads (:attr:`landmarks.models.LandmarkModel.outputs`;
    the reconstruction term has weight 1 unless ``loss.terms.reconstruction`` says otherwise),
    and, when ``flow`` (``data.flow``) is given, that a weighted term that reads the pairs'
    optical flows (:attr:`~landmarks.losses.LossTerm.needs_flow`) gets them.

    Raises:
        ConfigError: an unknown term or reconstruction loss (naming the key and the registered
            terms), a term that repeats ``loss.name``, a term whose inputs the model does not
            return (naming the term, the model and what is missing), or a term that needs the
            flow with ``data.flow`` none (naming the term and ``data.flow``).
    """
    names = term_names()
    recs = [n for n in names if term_class(n).reconstructs]
    if loss_cfg.name not in recs:
        raise ConfigError(f"config key 'loss.name': unknown reconstruction loss "
                          f"{loss_cfg.name!r}; registered: {', '.join(recs)}")
    for term in loss_cfg.terms:
        if term != RECONSTRUCTION and term not in names:
            raise ConfigError(f"config key 'loss.terms.{term}': unknown loss term; registered: "
                              f"{', '.join([RECONSTRUCTION, *names])}")
        if term == loss_cfg.name:
            raise ConfigError(f"config key 'loss.terms.{term}': {term!r} is already the "
                              f"reconstruction loss (loss.name); weight it with "
                              f"loss.terms.reconstruction")
    weights = {RECONSTRUCTION: 1.0, **dict(loss_cfg.terms)}
    outputs = set(getattr(model, "outputs", ()) or ())
    for term, weight in weights.items():
        if weight <= 0:
            continue
        missing = [name for name in term_needs(term) if name not in outputs]
        if missing:
            key = "loss.terms.reconstruction" if term == RECONSTRUCTION else f"loss.terms.{term}"
            raise ConfigError(
                f"config key {key!r}: loss term {term!r} needs the model's "
                f"{', '.join(map(repr, missing))}, which model {model_name!r} does not return "
                f"(it returns: {', '.join(sorted(outputs)) or 'nothing declared'}); set "
                f"{key}=0 or choose a model that provides it")
        if term != RECONSTRUCTION and term_class(term).needs_flow and flow == "none":
            raise ConfigError(
                f"config key 'loss.terms.{term}': loss term {term!r} needs the optical flow "
                f"of each training pair, and config key 'data.flow' is 'none'; set data.flow "
                f"to dis or farneback (on video pairs), or loss.terms.{term}=0")


class Objective(nn.Module):
    """Reconstruction loss + registered terms, weighted.

    Args:
        reconstruction: a loss called as ``(prediction, target, mask) -> {"loss", ...}``
            (:class:`~landmarks.losses.PerceptualLoss`, :class:`~landmarks.losses.PixelLoss`),
            applied to the model's "reconstruction".
        weights: term → weight; ``reconstruction`` defaults to 1, every other term to 0 (off).
            Names are ``reconstruction`` or registered terms (:mod:`landmarks.losses.terms`).
        separation_bandwidth: σ of the separation prior in normalised units (for a separation
            term built here).
        terms: already built terms by name (:func:`landmarks.losses.build_objective` builds
            those that read the config); the other weighted terms are built with their defaults.

    Its only state is the reconstruction loss's (running normalisers): checkpoints store
    ``objective.reconstruction``'s buffers, as they did before the registry existed.
    """

    def __init__(self, reconstruction: nn.Module, weights: Mapping[str, float] | None = None,
                 separation_bandwidth: float = SEPARATION_BANDWIDTH,
                 terms: Mapping[str, LossTerm] | None = None) -> None:
        super().__init__()
        weights = dict(weights or {})
        names = term_names()
        for term, weight in weights.items():
            if term != RECONSTRUCTION and term not in names:
                raise ValueError(f"unknown loss term {term!r}; expected one of "
                                 f"{', '.join([RECONSTRUCTION, *names])}")
            if weight < 0:
                raise ValueError(f"loss term {term!r}: weight must be >= 0, got {weight}")
        self.reconstruction = reconstruction
        self.weights = {RECONSTRUCTION: 1.0, **{t: float(w) for t, w in weights.items()}}
        self.separation_bandwidth = float(separation_bandwidth)
        given = dict(terms or {})
        built: dict[str, nn.Module] = {}
        for name in names:  # registration order: the order of the sum (results reproduce)
            if self.weights.get(name, 0.0) <= 0:
                continue
            if name in given:
                built[name] = given[name]
            elif name == "separation":
                built[name] = Separation(self.separation_bandwidth)
            else:
                built[name] = build_term(name)
        self._reconstruction_term = Reconstruction(reconstruction)
        self.terms = nn.ModuleDict(built)

    @property
    def needs_warped_target(self) -> bool:
        """Whether the model must also detect on a warped copy of the target."""
        return any(term.needs_warp for term in self.terms.values())

    def forward(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                warp: TPSWarp | None = None) -> dict[str, Tensor]:
        """The loss dict of one batch.

        Args:
            out: the model's training-step outputs: "reconstruction" (B,3,S,S), "keypoints"
                (B,K,2), "prob_x" (B,K,w), "prob_y" (B,K,h), and, for equivariance,
                "warped_keypoints" (B,K,2) detected on the target warped by ``warp``; each term
                reads only what it needs.
            target: (B,3,S,S) the image to reconstruct.
            mask: (B,1,S,S) validity mask of the reconstruction, or None.
            warp: the warps of the warped target (equivariance only).

        Returns:
            "loss" (the weighted sum), the terms' own entries (e.g. "perceptual/<layer>"), and
            each term unweighted under its name ("reconstruction" for the reconstruction).
        """
        w = self.weights
        losses: dict[str, Tensor] = {}
        total: Tensor | None = None
        if w[RECONSTRUCTION] > 0 or "reconstruction" in out:
            rec = self._reconstruction_term(out, target, mask, warp)
            losses.update({k: v for k, v in rec.items() if k != "loss"})
            losses[RECONSTRUCTION] = rec["loss"]
            total = w[RECONSTRUCTION] * rec["loss"]
        for name, term in self.terms.items():
            res = term(out, target, mask, warp)
            losses.update({k: v for k, v in res.items() if k != "loss"})
            losses[name] = res["loss"]
            total = w[name] * res["loss"] if total is None else total + w[name] * res["loss"]
        if total is None:
            raise ValueError("the objective has no term with a weight > 0")
        return {"loss": total, **losses}
