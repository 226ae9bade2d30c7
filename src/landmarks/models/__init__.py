"""Models; importing this package registers them (see :mod:`landmarks.registry`).

Every registered model follows one contract, :class:`~landmarks.models.base.LandmarkModel`
(training step, ``detect``, optional ``render`` and parameter groups).
"""

from landmarks.models.base import (
    AnimationError,
    LandmarkModel,
    RendererError,
    StepOutput,
    TrainingPair,
    can_animate,
    can_render,
    require_animate,
    require_render,
    with_flows,
)
from landmarks.models.factory import (
    build_model,
    create_model,
    list_models,
    model_kwargs,
    resolve_model_args,
)
from landmarks.models.fomm import FommModel, fomm
from landmarks.models.imm import ImmModel, imm
from landmarks.models.motion import MotionModel, motion
from landmarks.models.zhang import ZhangModel, zhang

__all__ = [
    "AnimationError",
    "FommModel",
    "ImmModel",
    "LandmarkModel",
    "MotionModel",
    "RendererError",
    "StepOutput",
    "TrainingPair",
    "ZhangModel",
    "build_model",
    "can_animate",
    "can_render",
    "create_model",
    "fomm",
    "imm",
    "list_models",
    "model_kwargs",
    "motion",
    "require_animate",
    "require_render",
    "resolve_model_args",
    "with_flows",
    "zhang",
]
