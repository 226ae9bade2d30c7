"""Models; importing this package registers them (see :mod:`landmarks.registry`)."""

from landmarks.models.imm import ImmModel, imm
from landmarks.models.zhang import ZhangModel, zhang

__all__ = ["ImmModel", "ZhangModel", "imm", "zhang"]
