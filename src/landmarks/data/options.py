"""Readers of ``data.options`` / benchmark options shared by the dataset modules.

Each reader takes the options mapping, a key and a default, checks the value's type and range,
and raises :class:`~landmarks.data.transforms.DatasetError` naming the option and the value it
got (``option 'stride': expected an integer >= 1, got 0``). :func:`check_options` rejects keys a
reader does not know, naming the reader (``what``) and its valid options.

Readers whose options need more than these (a reader-specific range, a hint in the message)
validate them in their own module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from landmarks.data.transforms import DatasetError

__all__ = [
    "check_options",
    "read_choice",
    "read_count",
    "read_flag",
    "read_names",
    "read_positive",
]


def check_options(options: Mapping[str, Any], valid: Sequence[str], what: str, *,
                  in_data_options: bool = False) -> None:
    """Raise :class:`DatasetError` naming the keys of ``options`` not in ``valid`` and the valid
    ones (``none`` when there are none).

    ``what`` names the reader. The message reads ``"<what>: unknown option(s) 'a'; valid
    options: b, c"`` (e.g. ``what = "data.kind 'h36m'"`` or ``"benchmark 'h36m'"``), or, with
    ``in_data_options``, ``"unknown <what> option(s) 'a' in data.options; valid options: b, c"``
    (e.g. ``what = "svhn"``).
    """
    unknown = sorted(set(options) - set(valid))
    if not unknown:
        return
    names, allowed = ", ".join(map(repr, unknown)), ", ".join(valid) or "none"
    if in_data_options:
        raise DatasetError(f"unknown {what} option(s) {names} in data.options; valid options: "
                           f"{allowed}")
    raise DatasetError(f"{what}: unknown option(s) {names}; valid options: {allowed}")


def read_names(options: Mapping[str, Any], key: str, default: Sequence[str]) -> tuple[str, ...]:
    """``options[key]`` (else ``default``) as a non-empty tuple of non-empty strings; a single
    string is a list of one."""
    value = options.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value or \
            not all(isinstance(v, str) and v for v in value):
        raise DatasetError(f"option {key!r}: expected a non-empty list of names, got {value!r}")
    return tuple(value)


def read_flag(options: Mapping[str, Any], key: str, default: bool) -> bool:
    """``options[key]`` (else ``default``), which must be ``true`` or ``false``."""
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise DatasetError(f"option {key!r}: expected true or false, got {value!r}")
    return value


def read_count(options: Mapping[str, Any], key: str, default: int) -> int:
    """``options[key]`` (else ``default``), an integer >= 1 (booleans are refused)."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DatasetError(f"option {key!r}: expected an integer >= 1, got {value!r}")
    return int(value)


def read_positive(options: Mapping[str, Any], key: str, default: float, meaning: str = ""
                  ) -> float:
    """``options[key]`` (else ``default``), a finite number > 0 (booleans are refused), as a
    float. ``meaning``, when given, says in the message what the number is."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
            or not math.isfinite(value):
        hint = f" ({meaning})" if meaning else ""
        raise DatasetError(f"option {key!r}: expected a positive number{hint}, got {value!r}")
    return float(value)


def read_choice(options: Mapping[str, Any], key: str, default: str, allowed: Sequence[str]
                ) -> str:
    """``options[key]`` (else ``default``), one of ``allowed``."""
    value = options.get(key, default)
    if value not in allowed:
        raise DatasetError(f"option {key!r}: expected one of {', '.join(allowed)}, got {value!r}")
    return str(value)
