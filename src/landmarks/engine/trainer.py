"""The training loop (detectron2 ``SimpleTrainer`` spirit). :class:`Trainer` holds the model,
objective, optimiser and schedule of a run; its :meth:`~Trainer.run_step` takes one batch
through the method contract (the model's training step returns a loss dict with "loss",
:meth:`landmarks.models.LandmarkModel.training_step`), backpropagates, clips and steps, and
nothing else. Everything beside the step is a hook (:mod:`landmarks.engine.hooks`): the time
limit, the schedule, health, the metrics log, the progress bar, checkpoints, and the pictures
(:class:`landmarks.visualize.CheckpointPictures`). :func:`train` builds the run (folder, data,
trainer, hooks) and runs it. Nothing here is method-specific.

The step never synchronises with the host: losses are summed on the device and read back
once per log row, which is also where a loss that stopped being finite is found (and before
any checkpoint is written).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from landmarks.config import Config, copy_config, save_config, to_dict
from landmarks.data import DatasetError, build_dataset, check_data_kind, collate_skipping
from landmarks.engine.allocator import keep_freed_memory
from landmarks.engine.checkpoint import latest_checkpoint, load_checkpoint
from landmarks.engine.distributed import DistInfo, barrier, setup_distributed
from landmarks.engine.health import keypoint_health
from landmarks.engine.hook_base import Hook, LastStep
from landmarks.engine.hooks import (
    Checkpointer,
    Health,
    MetricsWriter,
    ProgressBar,
    Schedule,
    TimeLimit,
)
from landmarks.engine.metrics import LossWindow, MetricsLog, truncate_metrics
from landmarks.engine.resume import (
    RunDirError,
    load_init_weights,
    prepare_run_dir,
    resume_config,
)
from landmarks.engine.sampler import ResumableSampler
from landmarks.engine.seeding import seed_everything, step_generator
from landmarks.geometry import TPSSpread, sample_tps_pair, sample_tps_warp
from landmarks.losses import Objective, build_objective, check_terms
from landmarks.models import StepOutput, TrainingPair, build_model, model_kwargs
from landmarks.weights import resolve_vgg19

__all__ = [
    "MetricsLog",
    "RunDirError",
    "StepRunner",
    "TrainResult",
    "Trainer",
    "TrainingPair",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "default_hooks",
    "load_init_weights",
    "make_pair",
    "model_kwargs",
    "resume_config",
    "train",
    "training_step",
    "truncate_metrics",
]


def _spreads(cfg: Config) -> tuple[TPSSpread, TPSSpread]:
    w = cfg.warp
    target = TPSSpread(w.target_rotation_deg, w.target_scale, w.target_translation,
                       tuple(w.target_tps))
    source = TPSSpread(w.source_rotation_deg, w.source_scale, w.source_translation,
                       tuple(w.source_tps))
    return target, source


def make_pair(batch: dict[str, torch.Tensor], cfg: Config, generator: torch.Generator,
              need_warp: bool = False) -> TrainingPair:
    """The :class:`~landmarks.models.TrainingPair` of one batch, warped on the batch's device.

    Image batches ("image"): two TPS warps of each image (official sampler). Video batches
    ("source", "target" frames): the frames as they are, or TPS-warped when data.video_tps.
    With ``need_warp`` (the objective's equivariance prior) a pair without a warp (plain video
    frames) gets one sampled with the source spread, after the pair's own random draws.
    The batch's optical flows ("flow", "flow_back": (B,2,S,S), read with ``data.flow``) go
    into the plain video pair as they are (``data.video_tps`` and ``data.flow`` exclude each
    other: the config check refuses both).
    """
    target_spread, source_spread = _spreads(cfg)
    kw = dict(grid_points=cfg.warp.grid_points, mask_margin=cfg.warp.mask_margin,
              mask_ramp=cfg.warp.mask_ramp, generator=generator)
    if "image" in batch:
        pair = sample_tps_pair(batch["image"], target_spread, source_spread, **kw)
    elif cfg.data.video_tps:
        pair = sample_tps_pair(batch["target"], target_spread, source_spread,
                               source_images=batch["source"], **kw)
    else:
        warp = None
        if need_warp:
            target = batch["target"]
            warp = sample_tps_warp(target.shape[0], source_spread, cfg.warp.grid_points,
                                   target.device, generator)
        return TrainingPair(batch["source"], batch["target"], None, warp,
                            flow=batch.get("flow"), flow_back=batch.get("flow_back"))
    return TrainingPair(pair.source, pair.target, pair.mask if cfg.loss.use_mask else None,
                        pair.source_warp)


class StepRunner(nn.Module):
    """``runner(pair) = model.training_step(pair, objective)`` as a module's forward, so that
    DistributedDataParallel (which synchronises gradients of what runs through its forward)
    can wrap the step. The objective is held as a plain attribute, not a submodule: DDP
    neither broadcasts nor synchronises its state (the reconstruction loss's running
    normalisers stay per rank, as they always were)."""

    def __init__(self, model: nn.Module, objective: Objective) -> None:
        super().__init__()
        self.model = model
        object.__setattr__(self, "objective", objective)

    def forward(self, pair: TrainingPair) -> StepOutput:
        return self.model.training_step(pair, self.objective)


def training_step(net: nn.Module, objective: Objective, batch: dict[str, torch.Tensor],
                  cfg: Config, generator: torch.Generator
                  ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], TrainingPair]:
    """Forward one batch through the method contract: pair → ``model.training_step`` (no
    backward). The trainer, the speed benchmark and the tests all run this one function.

    Args:
        net: a :class:`~landmarks.models.LandmarkModel`, or a :class:`StepRunner` (possibly
            wrapped in DistributedDataParallel) around one.
        objective: the loss; ``objective.needs_warped_target`` asks the pair for a warp.
        batch: the loader's batch on the device.
        generator: the step's random generator (:func:`~landmarks.engine.seeding.step_generator`).

    Returns:
        ``(losses, out, pair)``: the step's loss dict ("loss" plus each term) with the health
        figures (:func:`~landmarks.engine.health.keypoint_health`) added, the model's outputs,
        and the pair.
    """
    pair = make_pair(batch, cfg, generator, need_warp=objective.needs_warped_target)
    source, target = pair.source, pair.target
    if source.is_cuda and cfg.train.channels_last:
        source = source.contiguous(memory_format=torch.channels_last)
        target = target.contiguous(memory_format=torch.channels_last)
        pair = pair._replace(source=source, target=target)
    runner = net if isinstance(net, StepRunner | DistributedDataParallel) else StepRunner(
        net, objective)
    use_amp = source.is_cuda and cfg.train.amp
    with torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else nullcontext():
        losses, out = runner(pair)
    return {**losses, **keypoint_health(out)}, out, pair


def cosine_factor(step: int, steps: int, floor: float) -> float:
    """The ``cosine`` schedule's share of ``optim.lr`` at ``step`` of ``steps``: half a cosine
    from 1 down to ``floor``, then ``floor``."""
    progress = min(step, steps) / max(steps, 1)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: Config):
    """The schedule of ``optim.schedule`` (:class:`~landmarks.config.OptimConfig`)."""
    o = cfg.optim
    if o.schedule == "cosine":
        steps, floor = cfg.train.steps, o.cosine_floor
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: cosine_factor(step, steps, floor))
    if o.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, o.step_size, o.gamma)
    if o.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=o.plateau_factor, patience=o.plateau_patience)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def _loss_state(objective: Objective) -> dict[str, torch.Tensor]:
    """The reconstruction loss's running statistics (buffers), not its frozen VGG weights."""
    rec = objective.reconstruction
    return {k: v for k, v in rec.state_dict().items() if k in dict(rec.named_buffers())}


def build_optimizer(model: nn.Module, cfg: Config) -> torch.optim.Optimizer:
    """``optim.name``: AdamW (decoupled decay; the default) or Adam (L2 decay in the gradient,
    the setting that crushed the landmark branch; kept for comparison). See OptimConfig.
    The model's own parameter groups (:meth:`~landmarks.models.LandmarkModel.parameter_groups`)
    when it has them; ``optim.lr`` and ``optim.weight_decay`` are the defaults of each group."""
    cls = torch.optim.AdamW if cfg.optim.name == "adamw" else torch.optim.Adam
    groups = (model.parameter_groups() if hasattr(model, "parameter_groups")
              else model.parameters())
    return cls(groups, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    last_checkpoint: Path | None
    final_loss: float
    images_per_second: float
    skipped: int
    history: list[dict[str, float]] = field(default_factory=list)
    model: nn.Module | None = None


class Trainer:
    """The model, objective, optimiser and schedule of one run, and its step.

    Args:
        cfg: the run's config (used as it is: :func:`train` gives it a checked copy).
        device: where the model and the step run.
        info: this process's rank (:func:`~landmarks.engine.distributed.setup_distributed`);
            with several ranks the step runs through DistributedDataParallel, which also
            accepts parameters that get no gradient (e.g. ``motion`` with ``occlusion:
            false``).
        state: a checkpoint to resume from (weights, optimiser, schedule, loss statistics,
            step), or None.
        init_weights: model weights to start from (``--init``) when not resuming; otherwise a
            model that needs ImageNet VGG-19 weights loads them (``loss.vgg_weights``).
        run_dir: the run folder (checkpoints and logs; hooks write there).

    The loop, :meth:`fit`, calls :meth:`run_step` and then each hook's ``after_step``
    (:mod:`landmarks.engine.hooks`, :func:`default_hooks`). The speed benchmark times
    :meth:`run_step` itself.
    """

    def __init__(self, cfg: Config, device: torch.device | str = "cpu",
                 info: DistInfo | None = None, *, state: dict[str, Any] | None = None,
                 init_weights: dict[str, torch.Tensor] | None = None,
                 run_dir: str | Path = ".") -> None:
        self.cfg, self.device = cfg, torch.device(device)
        self.info = info or DistInfo()
        self.run_dir = Path(run_dir)
        model = build_model(cfg).to(self.device)
        if self.device.type == "cuda" and cfg.train.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.objective = build_objective(cfg.loss, cfg.model.image_size).to(self.device)
        self.optimizer = build_optimizer(model, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg)
        self.step = 0
        if state is not None:
            self.load_state_dict(state)
        elif init_weights is not None:
            model.load_state_dict(init_weights)
        elif getattr(model, "needs_pretrained_weights", False):
            model.load_pretrained(resolve_vgg19(cfg.loss.vgg_weights)[0])
        if cfg.train.compile:  # the model's forward, in place (state-dict keys unchanged)
            model.compile()
        self.net: nn.Module = StepRunner(model, self.objective)
        if self.info.distributed:  # find_unused_parameters: parameters that get no gradient
            self.net = DistributedDataParallel(
                self.net, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True)
        model.train()
        self.objective.train()
        self.stop_at = cfg.train.steps
        self.window = LossWindow()
        self.hooks: list[Hook] = []
        self.last: LastStep | None = None
        self.last_checkpoint: Path | None = None
        self.history: list[dict[str, float]] = []
        self.final_loss = math.nan
        self.skipped = 0
        self._row: dict[str, float] | None = None

    def register_hooks(self, hooks: Iterable[Hook]) -> None:
        """Append ``hooks`` (run in this order after each step) and give them the trainer."""
        for hook in hooks:
            hook.trainer = self
            self.hooks.append(hook)

    def run_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimisation step: ``batch`` (the loader's, e.g. "image" (B,3,S,S), or
        "source"/"target" frames) to the device, the pair and the model's training step
        (:func:`training_step`), backward, gradient clipping (``optim.grad_clip``), the
        optimiser's step. The losses join the log window on the device (no host sync).

        Returns:
            The step's losses: "loss", each term, the health figures and, when clipping,
            "grad_norm" (scalars on the device).
        """
        cfg, info = self.cfg, self.info
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()
                 if torch.is_tensor(v)}
        gen = step_generator(cfg.train.seed, self.step, info.rank, self.device)
        losses, out, pair = training_step(self.net, self.objective, batch, cfg, gen)
        self.optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        if cfg.optim.grad_clip > 0:
            losses["grad_norm"] = nn.utils.clip_grad_norm_(self.model.parameters(),
                                                           cfg.optim.grad_clip)
        self.optimizer.step()
        self.step += 1
        self.window.add(losses, pair.source.shape[0] * info.world_size)
        self.last = LastStep(pair.source.detach(), pair.target.detach(),
                             {k: v.detach() for k, v in out.items()})
        return losses

    def fit(self, loader: Iterable[dict[str, Any]],
            sampler: ResumableSampler | None = None) -> None:
        """Steps over ``loader`` (epoch after epoch; ``sampler.next_epoch()`` between them)
        until ``stop_at``, each followed by the hooks. Batches whose items were all unreadable
        are counted ("skipped") and passed over."""
        self.window.reset()
        for hook in self.hooks:
            hook.before_train()
        try:
            while self.step < self.stop_at:
                for batch in loader:
                    if self.step >= self.stop_at:
                        break
                    self.skipped += int(batch.pop("skipped", 0))
                    if batch:
                        self.run_step(batch)
                        self.after_step()
                if sampler is not None:
                    sampler.next_epoch()
        finally:
            for hook in self.hooks:
                hook.after_train()

    def after_step(self) -> None:
        """Every hook's ``after_step``; at log steps the row joins the history and a new
        log window starts."""
        self._row = None
        for hook in self.hooks:
            hook.after_step()
        if self.is_log_step():
            row = self.log_row()
            self.history.append(row)
            self.final_loss = row["loss"]
            self.window.reset()

    def is_log_step(self) -> bool:
        return self.step % self.cfg.train.log_every == 0 or self.step == self.stop_at

    def is_checkpoint_step(self) -> bool:
        return self.step % self.cfg.train.checkpoint_every == 0 or self.step == self.stop_at

    def log_row(self) -> dict[str, float]:
        """This log step's row: "step", the window's mean of each loss, "lr", "img_per_s",
        "skipped" (built once; hooks add to it). FloatingPointError for a non-finite loss."""
        if self._row is None:
            row: dict[str, float] = {"step": self.step, **self.window.means(),
                                     "lr": self.optimizer.param_groups[0]["lr"],
                                     "img_per_s": self.window.rate(), "skipped": self.skipped}
            if not math.isfinite(row["loss"]):
                raise FloatingPointError(self._not_finite(row["loss"]))
            self._row = row
        return self._row

    def check_finite(self) -> None:
        """FloatingPointError if a loss of the current log window was not finite."""
        if not self.window.loss_is_finite():
            raise FloatingPointError(self._not_finite(math.nan))

    def _not_finite(self, value: float) -> str:
        first = self.step - self.window.steps + 1
        return (f"loss became {value} (mean of steps {first}–{self.step}); no checkpoint was "
                f"written for it")

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint of this step: model, optimizer, scheduler, loss (the reconstruction
        loss's running statistics), step, config."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "loss": _loss_state(self.objective),
                "step": self.step, "config": to_dict(self.cfg)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from a checkpoint written from :meth:`state_dict`."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        rec = self.objective.reconstruction
        rec.load_state_dict({**rec.state_dict(), **state.get("loss", {})})
        self.step = int(state["step"])


def default_hooks(cfg: Config, info: DistInfo, resume: bool) -> list[Hook]:
    """The engine's hooks in their order (:mod:`landmarks.engine.hooks`): time limit and
    schedule on every rank; health, metrics log, progress bar (``train.progress``) and
    checkpoints on rank 0."""
    limit = TimeLimit(cfg.train.time_limit_minutes)
    hooks: list[Hook] = [limit, Schedule()]
    if info.is_main:
        hooks += [Health(), MetricsWriter(resume)]
        if cfg.train.progress:
            hooks.append(ProgressBar(limit))
        hooks.append(Checkpointer())
    return hooks


def train(cfg: Config, run_dir: str | Path, *, resume: bool = False,
          init: str | Path | None = None, hooks: Sequence[Hook] = ()) -> TrainResult:
    """Train ``cfg`` into ``run_dir`` (see the module docstring). ``cfg`` is checked as a
    loaded file is (:func:`~landmarks.config.copy_config`) and never changed: the run uses a
    copy, completed with the model's defaults. With ``resume``, the config, weights,
    optimiser, schedule, loss statistics and step come from the run's last checkpoint; build
    ``cfg`` with :func:`resume_config` (the saved config plus explicit changes such as a
    longer ``train.steps``). ``init`` loads model weights (only) from a checkpoint, for
    fine-tuning. ``train.threads`` sets PyTorch's CPU thread count for the run (restored
    afterwards). ``hooks`` (:class:`~landmarks.engine.hooks.Hook`) run on rank 0 after the
    engine's own, e.g. :class:`landmarks.visualize.CheckpointPictures` (the quadruplets)."""
    cfg = copy_config(cfg)
    threads = torch.get_num_threads()
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    try:
        return _train(cfg, Path(run_dir), resume, init, list(hooks))
    finally:
        torch.set_num_threads(threads)


def _train(cfg: Config, run_dir: Path, resume: bool, init: str | Path | None,
           hooks: list[Hook]) -> TrainResult:
    # the model's arguments, checked against its factory before anything is written, and
    # recorded in full (the factory's defaults included) in the run's resolved config
    resolved = model_kwargs(cfg)
    cfg.model.args = {k: v for k, v in resolved.items() if k not in ("num_keypoints",
                                                                        "image_size")}
    with torch.device("meta"):  # the constructor's own checks, without allocating anything
        probe = build_model(cfg)
    # a loss term that needs an output the model does not give, or an unknown data.kind:
    # errors before anything is written
    check_terms(cfg.loss, probe, cfg.model.name, cfg.data.flow)
    check_data_kind(cfg.data)
    del probe
    keep_freed_memory()
    info, device = setup_distributed(cfg.train.device)
    resume_from = prepare_run_dir(run_dir, resume) if info.is_main else None
    if info.distributed:
        barrier(info)
        if not info.is_main and resume:
            resume_from = latest_checkpoint(run_dir)
    state = load_checkpoint(resume_from) if resume_from is not None else None
    init_weights = load_init_weights(init, cfg) if init is not None and state is None else None
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
    seed_everything(cfg.train.seed, info.rank)

    dataset = build_dataset(cfg.data, cfg.model.image_size)
    per_rank = len(dataset) // info.world_size
    if per_rank < cfg.train.batch_size:
        raise DatasetError(f"data.root={cfg.data.root!r} gives {len(dataset)} training items, "
                           f"fewer than train.batch_size={cfg.train.batch_size} per process")
    sampler = ResumableSampler(len(dataset), cfg.train.batch_size, cfg.train.seed,
                               info.rank, info.world_size)
    trainer = Trainer(cfg, device, info, state=state, init_weights=init_weights,
                      run_dir=run_dir)
    del state, init_weights
    trainer.register_hooks(default_hooks(cfg, info, resume) + (hooks if info.is_main else []))
    trainer.skipped = len(getattr(dataset, "skipped", []))

    workers = cfg.data.num_workers
    sampler.set_position(trainer.step)
    loader = DataLoader(
        dataset, batch_size=cfg.train.batch_size, sampler=sampler, num_workers=workers,
        collate_fn=collate_skipping, drop_last=True, pin_memory=device.type == "cuda",
        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None,
        generator=torch.Generator().manual_seed(cfg.train.seed * 7919 + sampler.epoch))
    start_step, run_t0 = trainer.step, time.perf_counter()
    trainer.fit(loader, sampler)
    if info.distributed:
        # DDP keeps parameters in step; BatchNorm running statistics are per rank. Take rank
        # 0's so every rank ends with the weights in the checkpoint.
        for buf in trainer.model.buffers():
            torch.distributed.broadcast(buf, 0)
    barrier(info)
    # the run's average training rate (images per second over all ranks)
    rate = ((trainer.step - start_step) * cfg.train.batch_size * info.world_size
            / max(time.perf_counter() - run_t0, 1e-9))
    return TrainResult(run_dir, trainer.step, trainer.last_checkpoint, trainer.final_loss,
                       rate, trainer.skipped, trainer.history, trainer.model)
