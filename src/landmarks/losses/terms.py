"""The registry of loss terms: what ``loss.name`` and ``loss.terms`` may name.

A term is a small module called as ``term(out, target, mask, warp) -> {"loss": scalar, ...}``
on a model's training-step outputs (:class:`landmarks.models.LandmarkModel`); it declares the
outputs it reads (:attr:`LossTerm.needs`) so that a term the chosen model cannot feed is an
error before training (:func:`landmarks.losses.check_terms`), and whether it needs the pair's
warp (:attr:`LossTerm.needs_warp`: the model then also detects on the warped target).

Registered (in this order, which is also the order of the weighted sum):

* ``perceptual``: VGG-19 feature differences, normalised by their running means (IMM);
* ``l1``, ``l2``: pixel differences;
* ``concentration``, ``separation``, ``equivariance``: the structural priors of Zhang et al.
  2018 (:mod:`landmarks.losses.priors`);
* ``pyramid_perceptual``, ``jacobian_equivariance``: the first-order motion model's
  multi-scale perceptual loss and the equivariance of the keypoints' local affine transforms
  (:mod:`landmarks.losses.motion`);
* ``temporal``, ``temporal_heatmaps``: the temporal regulariser of seed 003 on video pairs
  (:mod:`landmarks.losses.temporal`): the source frame's keypoints (heatmaps) carried by the
  optical flow must match the target frame's; they read the pair's flows, so they need
  ``data.flow`` (:attr:`LossTerm.needs_flow`).

A new term: subclass :class:`LossTerm`, decorate with
``@register_loss_term("name")`` (:mod:`landmarks.registry`), import it from
:mod:`landmarks.losses`; give it a ``from_config(cfg, image_size)`` classmethod when it reads
options of :class:`~landmarks.config.LossConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from landmarks.config import LossConfig
from landmarks.geometry import TPSWarp
from landmarks.losses.motion import jacobian_equivariance_loss, pyramid_perceptual_loss
from landmarks.losses.perceptual import perceptual_loss
from landmarks.losses.pixel import PixelLoss
from landmarks.losses.priors import (
    SEPARATION_BANDWIDTH,
    concentration_loss,
    equivariance_loss,
    separation_loss,
)
from landmarks.losses.temporal import temporal_heatmap_loss, temporal_keypoint_loss
from landmarks.registry import LOSS_TERMS, register_loss_term

__all__ = [
    "RECONSTRUCTION",
    "Concentration",
    "Equivariance",
    "JacobianEquivariance",
    "LossTerm",
    "Reconstruction",
    "Separation",
    "Temporal",
    "TemporalHeatmaps",
    "build_term",
    "term_names",
]

#: the name of the term that stands for the reconstruction loss chosen by ``loss.name``
RECONSTRUCTION = "reconstruction"


class LossTerm(nn.Module):
    """Base class of loss terms (see the module docstring)."""

    #: model outputs the term reads
    needs: tuple[str, ...] = ()
    #: whether the term needs the pair's warp and the model's detection on the warped target
    needs_warp: bool = False
    #: whether the term is a reconstruction loss (may be chosen by ``loss.name``)
    reconstructs: bool = False
    #: whether the term reads the pair's optical flows ("flow", "flow_back" in the outputs,
    #: :func:`landmarks.models.base.with_flows`), which ``data.flow`` must provide
    needs_flow: bool = False

    @classmethod
    def from_config(cls, cfg: LossConfig, image_size: int | None = None) -> LossTerm:
        return cls()

    def forward(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                warp: TPSWarp | None = None) -> dict[str, Tensor]:
        raise NotImplementedError


class Reconstruction(LossTerm):
    """A reconstruction loss ``loss(prediction, target, mask) -> {"loss", ...}`` on the model's
    "reconstruction" (B,3,S,S) and the pair's target; its own entries (e.g.
    "perceptual/<layer>") are logged beside it."""

    needs = ("reconstruction",)
    reconstructs = True

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                warp: TPSWarp | None = None) -> dict[str, Tensor]:
        return self.loss(out["reconstruction"].float(), target, mask)


@register_loss_term("perceptual")
class Perceptual(Reconstruction):
    """The VGG-19 perceptual loss (:class:`~landmarks.losses.PerceptualLoss`; its layers,
    weights and momentum from the config)."""

    @classmethod
    def from_config(cls, cfg: LossConfig, image_size: int | None = None) -> LossTerm:
        return cls(perceptual_loss(cfg, image_size))


@register_loss_term("l1")
class L1(Reconstruction):
    """Mean absolute pixel difference (masked)."""

    def __init__(self, loss: nn.Module | None = None) -> None:
        super().__init__(loss if loss is not None else PixelLoss("l1"))


@register_loss_term("l2")
class L2(Reconstruction):
    """Mean squared pixel difference (masked)."""

    def __init__(self, loss: nn.Module | None = None) -> None:
        super().__init__(loss if loss is not None else PixelLoss("l2"))


@register_loss_term("concentration")
class Concentration(LossTerm):
    """Concentration prior on the detection marginals (:func:`concentration_loss`)."""

    needs = ("prob_x", "prob_y")

    def forward(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                warp: TPSWarp | None = None) -> dict[str, Tensor]:
        return {"loss": concentration_loss(out["prob_x"], out["prob_y"])}


@register_loss_term("separation")
class Separation(LossTerm):
    """Separation prior on the keypoints (:func:`separation_loss`), bandwidth
    ``loss.separation_bandwidth``."""

    needs = ("keypoints",)

    def __init__(self, bandwidth: float = SEPARATION_BANDWIDTH) -> None:
        super().__init__()
        self.bandwidth = float(bandwidth)

    @classmethod
    def from_config(cls, cfg: LossConfig, image_size: int | None = None) -> LossTerm:
        return cls(cfg.separation_bandwidth)

    def forward(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                warp: TPSWarp | None = None) -> dict[str, Tensor]:
        return {"loss": separation_loss(out["keypoints"], self.bandwidth)}


@register_loss_term("equivariance")
class Equivariance(LossTerm):
    """Equivariance prior (:func:`equivariance_loss`): keypoints of the warped target mapped back
    by the warp must be the target's."""

    needs = ("keypoints", "warped_keypoints")
    needs_warp = True

    def forward(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                warp: TPSWarp | None = None) -> dict[str, Tensor]:
        if warp is None or "warped_keypoints" not in out:
            raise ValueError("loss term 'equivariance' needs the model's 'warped_keypoints' "
                             "and the warp that made them")
        return {"loss": equivariance_loss(out["warped_keypoints"], out["keypoints"], warp)}


@register_loss_term("pyramid_perceptual")
class PyramidPerceptual(Reconstruction):
    """The perceptual loss on an image pyramid (:class:`~landmarks.losses.motion.
    PyramidPerceptualLoss`; scales ``loss.pyramid_scales``, layers, weights and momentum from
    the config)."""

    @classmethod
    def from_config(cls, cfg: LossConfig, image_size: int | None = None) -> LossTerm:
        return cls(pyramid_perceptual_loss(cfg, image_size))


@register_loss_term("jacobian_equivariance")
class JacobianEquivariance(LossTerm):
    """Equivariance of the keypoints' Jacobians under the pair's warp
    (:func:`~landmarks.losses.motion.jacobian_equivariance_loss`)."""

    needs = ("jacobians", "warped_jacobians", "warped_keypoints")
    needs_warp = True

    def forward(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                warp: TPSWarp | None = None) -> dict[str, Tensor]:
        if warp is None or "warped_jacobians" not in out:
            raise ValueError("loss term 'jacobian_equivariance' needs the model's "
                             "'warped_jacobians' and the warp that made them")
        return {"loss": jacobian_equivariance_loss(out["warped_jacobians"], out["jacobians"],
                                                   out["warped_keypoints"], warp)}
def _flow(out: Mapping[str, Tensor], key: str, term: str) -> Tensor:
    if key not in out:
        raise ValueError(f"loss term {term!r} needs the pair's optical flow ({key!r}); train "
                         f"on video pairs with data.flow=dis or data.flow=farneback")
    return out[key]


@register_loss_term("temporal")
class Temporal(LossTerm):
    """Temporal keypoint term (:func:`temporal_keypoint_loss`): the source frame's keypoints
    carried by the flow from source to target must land on the target frame's keypoints."""

    needs = ("keypoints", "source_keypoints")
    needs_flow = True

    def forward(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                warp: TPSWarp | None = None) -> dict[str, Tensor]:
        flow = _flow(out, "flow", "temporal")
        return {"loss": temporal_keypoint_loss(out["source_keypoints"], out["keypoints"], flow)}


@register_loss_term("temporal_heatmaps")
class TemporalHeatmaps(LossTerm):
    """Temporal heatmap term (:func:`temporal_heatmap_loss`): the source frame's heatmaps
    warped by the flow (backward, with the flow from target to source) must match the target
    frame's heatmaps."""

    needs = ("heatmaps", "source_heatmaps")
    needs_flow = True

    def forward(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                warp: TPSWarp | None = None) -> dict[str, Tensor]:
        back = _flow(out, "flow_back", "temporal_heatmaps")
        return {"loss": temporal_heatmap_loss(out["source_heatmaps"], out["heatmaps"], back)}


def term_names() -> list[str]:
    """The registered terms, in registration order (the order of the weighted sum)."""
    return list(LOSS_TERMS.names_in_order())


def term_class(name: str) -> type[LossTerm]:
    """The registered term ``name``; a ValueError listing the registered ones otherwise."""
    try:
        return LOSS_TERMS.get(name)
    except KeyError:
        raise ValueError(f"unknown loss term {name!r}; registered: "
                         f"{', '.join([RECONSTRUCTION, *term_names()])}") from None


def build_term(name: str, cfg: LossConfig | None = None, image_size: int | None = None,
               **kwargs: Any) -> LossTerm:
    """The registered term ``name`` built from ``cfg`` (default :class:`LossConfig`)."""
    cls = term_class(name)
    if kwargs:
        return cls(**kwargs)
    return cls.from_config(cfg if cfg is not None else LossConfig(), image_size)
