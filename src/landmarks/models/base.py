"""The method contract: what every registered model offers the rest of the library.

The trainer, the speed benchmark, inference, ``landmarks swap``, evaluation and the report call
only these methods, never a model's internals, so a new method (Jakab et al.'s conditional
generator, Zhang et al.'s hourglass with priors, a motion model, ...) plugs in by registering a
factory (:func:`landmarks.registry.register_model`) whose model subclasses
:class:`LandmarkModel`:

* :meth:`LandmarkModel.training_step` ``(pair, objective) -> StepOutput(losses, outputs)``:
  one forward pass on a :class:`TrainingPair` and the objective's loss dict ("loss", the scalar
  optimised, plus each term for logging), with the outputs that pictures, health checks and the
  loss terms read ("keypoints" (B,K,2); where the method has them "reconstruction" (B,3,S,S),
  "heatmaps" (B,K,h,w), "prob_x" (B,K,w), "prob_y" (B,K,h), "warped_keypoints" (B,K,2)). No
  backward: the trainer owns the loop (sum, backward, clip, step, log) and runs the step under
  its autocast/DDP wrappers.
* :meth:`LandmarkModel.detect` ``(images (B,3,S,S) in [0,1]) -> {"keypoints": (B,K,2), ...}``
  with optional "heatmaps" (B,K,h,w) and "jacobians" (B,K,2,2).
* ``render(source (B,3,S,S), keypoints (B,K,2)) -> {"reconstruction": (B,3,S,S), ...}``:
  defined only by models that can re-draw an image from given keypoints (:func:`can_render`:
  the method exists); swaps and manipulation use it.
* ``generate(source (B,3,S,S), source_motion, driving_motion) -> {"reconstruction", ...}``:
  defined only by models that animate (motion transfer; :func:`can_animate`): each motion a
  dict with "keypoints" (B,K,2) and "jacobians" (B,K,2,2) as :meth:`LandmarkModel.detect`
  returns them; the source image is redrawn with the driving motion.
* :meth:`LandmarkModel.parameter_groups`: optional optimiser parameter groups.
* :attr:`LandmarkModel.outputs`: the names the training step returns, so that a loss term that
  needs one the model lacks fails before training starts, naming the term, the model and what
  is missing (:func:`landmarks.losses.check_terms`).

Shapes follow the package convention: keypoints ``(x, y)`` normalised to ``[-1, 1]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from torch import Tensor, nn

from landmarks.geometry import TPSWarp, warp_images

__all__ = ["AnimationError", "LandmarkModel", "ObjectiveLike", "RendererError", "StepOutput",
           "TrainingPair", "can_animate", "can_render", "require_animate", "require_render",
           "with_flows"]


class TrainingPair(NamedTuple):
    """One batch's (source, target) pair, on the batch's device (made by
    :func:`landmarks.engine.trainer.make_pair`).

    Attributes:
        source: (B,3,S,S) the image whose appearance is used.
        target: (B,3,S,S) the image to reconstruct (its keypoints form the bottleneck).
        mask: (B,1,S,S) the reconstruction's validity mask, or None.
        warp: the B warps for the equivariance prior (``warped = warp_images(target, warp)``):
            the pair's source warp for TPS pairs; for video pairs one sampled when the
            objective needs it, else None.
        flow: (B,2,S,S) the optical flow from source to target in normalised units (source
            point ``p`` is at ``p + flow[:, :, p]`` in the target), for video pairs read with
            ``data.flow`` (:mod:`landmarks.data.flow`); else None.
        flow_back: (B,2,S,S) the flow from target to source, alongside ``flow``; else None.

    Read the fields by name (``pair.source``): more optional fields may follow.
    """

    source: Tensor
    target: Tensor
    mask: Tensor | None
    warp: TPSWarp | None
    flow: Tensor | None = None
    flow_back: Tensor | None = None


class StepOutput(NamedTuple):
    """What :meth:`LandmarkModel.training_step` returns.

    Attributes:
        losses: "loss" (the scalar optimised) and each term (scalars, for logging).
        outputs: the model's outputs of this step, by name (see the module docstring).
    """

    losses: dict[str, Tensor]
    outputs: dict[str, Tensor]


class ObjectiveLike(Protocol):
    """What a training step needs of the objective (:class:`landmarks.losses.Objective`)."""

    needs_warped_target: bool

    def __call__(self, out: Mapping[str, Tensor], target: Tensor, mask: Tensor | None = None,
                 warp: TPSWarp | None = None) -> dict[str, Tensor]: ...


class LandmarkModel(nn.Module):
    """Base class of every registered model (see the module docstring for the contract).

    Subclasses set ``num_keypoints`` and ``image_size``, implement :meth:`detect` and either
    ``forward(source, target, warped_target=None) -> outputs`` (the default
    :meth:`training_step` runs it, then the objective) or their own :meth:`training_step`, and
    declare :attr:`outputs`. Optional: ``render(source, keypoints) -> {"reconstruction", ...}``
    (models that can re-render from given keypoints define it), :meth:`parameter_groups`,
    :meth:`load_pretrained`.
    """

    num_keypoints: int
    image_size: int
    #: names of the outputs :meth:`training_step` returns (``warped_keypoints`` only when the
    #: objective asks for the warped target)
    outputs: frozenset[str] = frozenset({"keypoints"})

    def training_step(self, pair: TrainingPair, objective: ObjectiveLike) -> StepOutput:
        """One forward pass on ``pair`` and its losses (no backward).

        Args:
            pair: the batch's :class:`TrainingPair`.
            objective: the loss (``objective(outputs, target, mask, warp) -> dict`` with
                "loss"); when ``objective.needs_warped_target`` the model also detects on
                ``warp_images(pair.target, pair.warp)`` and returns "warped_keypoints".
        Returns:
            :class:`StepOutput` ``(losses, outputs)``.

        The default: ``outputs = self(pair.source, pair.target[, warped])`` plus the pair's
        flows (:func:`with_flows`), then ``objective(outputs, pair.target, pair.mask,
        pair.warp)``.
        """
        warped = None
        if objective.needs_warped_target:
            if pair.warp is None:
                raise ValueError("the equivariance prior needs the pair's warp (pair.warp)")
            warped = warp_images(pair.target, pair.warp)
        out = self(pair.source, pair.target) if warped is None else self(
            pair.source, pair.target, warped)
        out = with_flows(out, pair)
        return StepOutput(objective(out, pair.target, pair.mask, pair.warp), out)

    def detect(self, images: Tensor) -> dict[str, Tensor]:
        """Landmarks of ``images`` (B,3,S,S) in [0,1]: ``{"keypoints": (B,K,2)}`` plus, where
        the method has them, "heatmaps" (B,K,h,w) and "jacobians" (B,K,2,2)."""
        raise NotImplementedError

    #: whether a fresh model wants :meth:`load_pretrained` before training (the trainer passes
    #: the VGG-19 weights of ``loss.vgg_weights``)
    needs_pretrained_weights: bool = False

    def load_pretrained(self, vgg_state_dict: Mapping[str, Tensor] | None) -> None:
        """Load pretrained weights into a fresh model (optional; nothing here)."""

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The optimiser's parameter groups (``torch.optim`` format; a group may set its own
        ``lr`` or ``weight_decay``). Default: one group of every parameter."""
        return [{"params": list(self.parameters())}]

    def detector_modules(self) -> list[nn.Module]:
        """The modules of the landmark detector (watched by the trainer's health checks)."""
        return [self]


def with_flows(outputs: dict[str, Tensor], pair: TrainingPair) -> dict[str, Tensor]:
    """``outputs`` plus the pair's optical flows where it has them ("flow", "flow_back":
    (B,2,S,S)), so that loss terms (called as ``term(out, target, mask, warp)``) can read them
    (the temporal terms, :mod:`landmarks.losses.temporal`). A model with its own
    :meth:`LandmarkModel.training_step` calls this before its objective."""
    if pair.flow is not None:
        outputs = {**outputs, "flow": pair.flow}
    if pair.flow_back is not None:
        outputs = {**outputs, "flow_back": pair.flow_back}
    return outputs


def can_render(model: nn.Module) -> bool:
    """Whether ``model`` can render from given keypoints (it has a ``render`` method)."""
    return callable(getattr(model, "render", None))


class RendererError(ValueError):
    """A command needs a model that can render from given keypoints (swap, manipulate) and the
    checkpoint's model cannot (:func:`can_render`)."""


def require_render(model: nn.Module, name: str, what: str = "this command") -> None:
    """Raise :class:`RendererError` naming model ``name`` when ``model`` cannot render."""
    if not can_render(model):
        raise RendererError(f"model {name!r} cannot render images from keypoints (it has no "
                            f"render(source, keypoints)); {what} needs a model that can, "
                            f"e.g. 'imm'")


def can_animate(model: nn.Module) -> bool:
    """Whether ``model`` can animate a source image with another image's motion (it has a
    ``generate(source, source_motion, driving_motion)`` method)."""
    return callable(getattr(model, "generate", None))


class AnimationError(ValueError):
    """A command needs a model that animates (``landmarks animate``, video reconstruction) and
    the checkpoint's model cannot (:func:`can_animate`)."""


def require_animate(model: nn.Module, name: str, what: str = "this command") -> None:
    """Raise :class:`AnimationError` naming model ``name`` when ``model`` cannot animate."""
    if not can_animate(model):
        raise AnimationError(f"model {name!r} cannot animate (it has no generate(source, "
                             f"source_motion, driving_motion)); {what} needs a motion-transfer "
                             f"model, e.g. 'motion'")
