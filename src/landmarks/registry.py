"""Name → factory registries for models and datasets (timm-style ``@register_model``)."""

from __future__ import annotations

from collections.abc import Callable
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


def register_model(name: str | None = None) -> Callable[[F], F]:
    """Decorator: register a model factory under ``name`` (default: the function name)."""
    return MODELS.register(name)


def register_dataset(name: str | None = None) -> Callable[[F], F]:
    """Decorator: register a dataset factory under ``name``."""
    return DATASETS.register(name)


def register_benchmark(name: str | None = None) -> Callable[[F], F]:
    """Decorator: register a labelled benchmark factory ``(root, image_size, **options)``."""
    return BENCHMARKS.register(name)


def create_model(name: str, **overrides: Any) -> Any:
    """Build the registered model ``name`` with keyword ``overrides`` of its defaults."""
    import landmarks.models  # noqa: F401  (registers the built-in models)

    return MODELS.create(name, **overrides)


def load_builtin_datasets() -> None:
    """Import the dataset readers so that they register themselves."""
    import landmarks.data  # noqa: F401


def list_models() -> list[str]:
    import landmarks.models  # noqa: F401

    return MODELS.names()
