"""Building registered models (timm ``_factory.create_model`` spirit).

The registry (:mod:`landmarks.registry`) only maps names to factories; this module lives in the
models package, so importing it registers the built-in models first (``landmarks/models/__init__``
imports each method's module before this one is used).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from landmarks.config import Config
from landmarks.registry import MODELS, create_model, resolve_model_args

__all__ = ["build_model", "create_model", "list_models", "model_kwargs", "resolve_model_args"]


def list_models() -> list[str]:
    """The names of the registered models, sorted."""
    return MODELS.names()


def model_kwargs(cfg: Config) -> dict[str, Any]:
    """The registered model's constructor arguments from ``cfg.model``, checked against its
    factory and completed with its defaults (:func:`landmarks.registry.resolve_model_args`)."""
    m = cfg.model
    return resolve_model_args(m.name, {"num_keypoints": m.num_keypoints,
                                       "image_size": m.image_size, **m.args})


def build_model(cfg: Config) -> nn.Module:
    """The model ``cfg.model`` describes (random weights)."""
    return create_model(cfg.model.name, **model_kwargs(cfg))
