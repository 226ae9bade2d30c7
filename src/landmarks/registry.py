"""Name → factory registries for models, datasets, benchmarks and loss terms (timm-style
``@register_model``).

This module imports nothing of the library (the bottom layer, see ``.importlinter``): the
packages that define factories register them when they are imported. So look names up through
the package that owns them: :func:`landmarks.models.create_model` /
:func:`landmarks.models.list_models` (importing :mod:`landmarks.models` registers the built-in
models), :mod:`landmarks.data` (datasets and benchmarks), :mod:`landmarks.losses` (loss terms).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Registry:
    """A named collection of factories; ``create(name, **kwargs)`` builds one."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., Any]] = {}

    def register(self, name: str | None = None) -> Callable[[F], F]:
        def wrap(fn: F) -> F:
            key = name or fn.__name__
            if key in self._factories:
                raise ValueError(f"{self.kind} {key!r} is already registered")
            self._factories[key] = fn
            return fn

        return wrap

    def names(self) -> list[str]:
        return sorted(self._factories)

    def names_in_order(self) -> list[str]:
        """The registered names in registration order."""
        return list(self._factories)

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._factories:
            raise KeyError(
                f"unknown {self.kind} {name!r}; registered: {', '.join(self.names()) or 'none'}"
            )
        return self._factories[name]

    def create(self, name: str, **kwargs: Any) -> Any:
        return self.get(name)(**kwargs)


MODELS = Registry("model")
DATASETS = Registry("dataset")
BENCHMARKS = Registry("benchmark")
LOSS_TERMS = Registry("loss term")


def register_model(name: str | None = None) -> Callable[[F], F]:
    """Decorator: register a model factory under ``name`` (default: the function name)."""
    return MODELS.register(name)


def register_dataset(name: str | None = None) -> Callable[[F], F]:
    """Decorator: register a dataset factory under ``name``."""
    return DATASETS.register(name)


def register_benchmark(name: str | None = None) -> Callable[[F], F]:
    """Decorator: register a labelled benchmark factory ``(root, image_size, **options)``."""
    return BENCHMARKS.register(name)


class ModelArgumentError(ValueError):
    """A model argument that the chosen model does not take, or of the wrong type."""


def model_arguments(factory: Callable[..., Any]) -> dict[str, Any]:
    """The keyword arguments of a model factory and their defaults (``inspect.Parameter.empty``
    where there is none)."""
    params = inspect.signature(factory).parameters.values()
    return {p.name: p.default for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _type_ok(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty or default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, tuple | list):
        return isinstance(value, tuple | list)
    return True


def resolve_model_args(name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` checked against the registered factory ``name``'s signature, completed with its
    defaults (what the resolved config records). Ints are accepted for float arguments.

    Only the models registered so far are known: call it through :mod:`landmarks.models`, whose
    import registers the built-in ones.

    Raises:
        KeyError: ``name`` is not registered (the message lists the registered models).
        ModelArgumentError: an argument the model does not take (named, with the ones it does)
            or of the wrong type (named, with the expected type).
    """
    accepted = model_arguments(MODELS.get(name))
    for key, value in args.items():
        if key not in accepted:
            raise ModelArgumentError(
                f"config key 'model.{key}': model {name!r} takes no argument {key!r}; its "
                f"arguments: {', '.join(sorted(accepted))}")
        if not _type_ok(value, accepted[key]):
            raise ModelArgumentError(
                f"config key 'model.{key}': model {name!r} expects "
                f"{type(accepted[key]).__name__} (default {accepted[key]!r}), got {value!r}")
    resolved = {k: v for k, v in accepted.items() if v is not inspect.Parameter.empty}
    resolved.update(args)
    return {k: float(v) if isinstance(accepted.get(k), float) and isinstance(v, int) else v
            for k, v in resolved.items()}


def create_model(name: str, **overrides: Any) -> Any:
    """Build the registered model ``name`` with keyword ``overrides`` of its defaults, checked
    by :func:`resolve_model_args`; a constructor's own ValueError (an invalid value) is raised
    as :class:`ModelArgumentError` naming the model."""
    kwargs = resolve_model_args(name, overrides)
    try:
        return MODELS.create(name, **kwargs)
    except ValueError as err:
        raise ModelArgumentError(f"model {name!r}: {err}") from err


def register_loss_term(name: str | None = None) -> Callable[[F], F]:
    """Decorator: register a loss term class under ``name`` (see :mod:`landmarks.losses.terms`)."""
    return LOSS_TERMS.register(name)
