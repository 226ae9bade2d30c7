"""Models; importing this package registers them (see :mod:`landmarks.registry`)."""

from landmarks.models.imm import ImmModel, imm

__all__ = ["ImmModel", "imm"]
