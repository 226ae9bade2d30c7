"""The training loop (detectron2 ``SimpleTrainer`` spirit): the model's training step returns a
loss dict with "loss" (:meth:`landmarks.models.LandmarkModel.training_step`), the loop sums,
backpropagates, clips, steps and logs; checkpoint pictures and the like are hooks
(:class:`~landmarks.engine.hooks.Hook`) called every ``train.checkpoint_every`` steps on rank 0.
Nothing here is method-specific.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from landmarks.config import (
    Config,
    apply_overrides,
    from_dict,
    save_config,
    to_dict,
    validate,
)
from landmarks.data import DatasetError, build_dataset, check_data_kind, collate_skipping
from landmarks.engine.allocator import keep_freed_memory
from landmarks.engine.checkpoint import (
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from landmarks.engine.distributed import barrier, setup_distributed
from landmarks.engine.health import HealthMonitor, keypoint_health
from landmarks.engine.hooks import Hook, LastStep
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
    "TrainingPair",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "make_pair",
    "model_kwargs",
    "resume_config",
    "train",
    "training_step",
]


class RunDirError(RuntimeError):
    """The run folder would be overwritten, or there is nothing to resume."""


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


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: Config):
    o = cfg.optim
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


class MetricsLog:
    """CSV (always) and TensorBoard (optional) scalars, written by rank 0.

    ``resume_step``: the step of the checkpoint a resumed run starts from. A run killed after
    its last checkpoint logged rows past that step; the resumed run logs those steps again. So
    the CSV is rewritten (atomically) keeping only the rows with ``step <= resume_step``, and
    TensorBoard's writer purges its events from ``resume_step + 1`` on (``purge_step``).
    """

    def __init__(self, run_dir: Path, tensorboard: bool, resume_step: int | None = None) -> None:
        self.path = run_dir / "metrics.csv"
        self._fields: list[str] | None = None
        if self.path.exists():
            if resume_step is not None:
                truncate_metrics(self.path, resume_step)
            with self.path.open() as f:
                header = f.readline().strip()
            self._fields = header.split(",") if header else None
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                purge = None if resume_step is None else resume_step + 1
                self.tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)
            except ImportError:  # pragma: no cover - tensorboard is a dependency
                self.tb = None

    def write(self, row: dict[str, float]) -> None:
        if self._fields is None:
            self._fields = list(row)
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self._fields)
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([row.get(k, "") for k in self._fields])
        if self.tb is not None:
            step = int(row["step"])
            for k, v in row.items():
                if k != "step":
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def truncate_metrics(path: Path, last_step: int) -> int:
    """Rewrite the metrics CSV at ``path`` atomically (temporary file + rename), keeping its
    header and the rows whose step is at most ``last_step``, one per step (the last written)
    in step order; rows that cannot be read (a line cut short by a killed process) are dropped
    too. Returns the number of rows dropped."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return 0
    header, body = rows[0], rows[1:]
    try:
        col = header.index("step")
    except ValueError:
        return 0  # not a metrics file of ours: leave it alone

    def keep(row: list[str]) -> bool:
        if len(row) != len(header):
            return False
        try:
            return float(row[col]) <= last_step
        except ValueError:
            return False

    # one row per step, the last one written winning (a step logged twice came from a
    # resume), in step order
    by_step = {float(r[col]): r for r in body if keep(r)}
    kept = [by_step[k] for k in sorted(by_step)]
    if kept == body:
        return 0
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            csv.writer(f).writerows([header, *kept])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(body) - len(kept)


def _any_rank(flag: bool, info, device: torch.device) -> bool:
    """True when ``flag`` is true on any rank (a collective: all ranks must call it)."""
    if not info.distributed:
        return flag
    t = torch.tensor([int(flag)], dtype=torch.long, device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item())


def prepare_run_dir(run_dir: Path, resume: bool) -> Path | None:
    """Check the run folder: a new run never writes into a folder that already holds one;
    ``resume`` needs a checkpoint there. Returns the checkpoint to resume from."""
    if resume:
        last = latest_checkpoint(run_dir)
        if last is None:
            raise RunDirError(f"--resume: {run_dir} holds no checkpoint to resume from "
                              f"(looked for {run_dir}/checkpoints/step_*.pt)")
        return last
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunDirError(f"{run_dir} already exists and is not empty; nothing is overwritten. "
                          f"Pass --resume to continue that run, or choose another --out.")
    return None


def resume_config(run_dir: str | Path, overrides: list[str] | None = None) -> Config:
    """The config a run was trained with (from its last checkpoint), plus ``overrides``."""
    last = latest_checkpoint(run_dir)
    if last is None:
        raise RunDirError(f"--resume: {run_dir} holds no checkpoint to resume from "
                          f"(looked for {run_dir}/checkpoints/step_*.pt)")
    cfg = from_dict(load_checkpoint(last)["config"], origin=str(last))
    apply_overrides(cfg, overrides or [])
    validate(cfg)
    return cfg


def load_init_weights(init: str | Path, cfg: Config) -> dict[str, torch.Tensor]:
    """The model weights of checkpoint ``init`` (``--init``), checked against the model ``cfg``
    builds: a CheckpointError naming the file for a missing or unreadable file, a different K
    (``model.num_keypoints`` of both configs) or any other parameter whose name or shape differs
    (named with both shapes). Called before the run folder is made, so a bad ``--init`` leaves
    nothing behind."""
    path = Path(init)
    try:
        state = load_checkpoint(path)
    except CheckpointError as err:
        raise CheckpointError(f"--init: {err}") from err
    weights = state["model"]
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        expected = {k: tuple(v.shape) for k, v in build_model(cfg).state_dict().items()}
    if not isinstance(weights, dict):
        raise CheckpointError(f"--init: checkpoint {path} holds no model weights")
    found = {k: tuple(v.shape) for k, v in weights.items() if torch.is_tensor(v)}
    theirs = state["config"].get("model", {}) if isinstance(state["config"], dict) else {}
    k_old, k_new = theirs.get("num_keypoints"), cfg.model.num_keypoints
    if k_old is not None and k_old != k_new:
        raise CheckpointError(
            f"--init: checkpoint {path} was trained with model.num_keypoints={k_old} (K), this "
            f"config has model.num_keypoints={k_new}; the score head and renderer weights "
            f"depend on K. Train with model.num_keypoints={k_old}, or use a checkpoint with "
            f"K={k_new}.")
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"--init: checkpoint {path} (model.name={theirs.get('name', '?')!r}) does not fit "
            f"model {cfg.model.name!r}: {_some(missing)} missing from the checkpoint, "
            f"{_some(extra)} not in this model")
    wrong = [(k, found[k], expected[k]) for k in expected if found[k] != expected[k]]
    if wrong:
        listed = "; ".join(f"{k}: {list(a)} in the checkpoint, {list(b)} in this model"
                           for k, a, b in wrong[:3])
        more = f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""
        raise CheckpointError(
            f"--init: checkpoint {path} does not fit this config's model: {listed}{more}. "
            f"Its model config differs from this one in: "
            f"{_model_differences(theirs, to_dict(cfg.model)) or 'nothing recorded'}")
    return weights


def _some(names: list[str]) -> str:
    """``3 parameter(s) (a, b, c, …)``, or ``no parameter``."""
    if not names:
        return "no parameter"
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return f"{len(names)} parameter(s) ({shown})"


def _model_differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"model.{k} {old.get(k)!r} vs {new.get(k)!r}" for k in keys)


def train(cfg: Config, run_dir: str | Path, *, resume: bool = False,
          init: str | Path | None = None, hooks: Sequence[Hook] = ()) -> TrainResult:
    """Train ``cfg`` into ``run_dir`` (see the module docstring). With ``resume``, the config,
    weights, optimiser, schedule, loss statistics and step come from the run's last checkpoint;
    build ``cfg`` with :func:`resume_config` (the saved config plus explicit changes such as a
    longer ``train.steps``). ``init`` loads model weights (only) from a checkpoint, for
    fine-tuning. ``train.threads`` sets PyTorch's CPU thread count for the run (restored
    afterwards). ``hooks`` (:class:`~landmarks.engine.hooks.Hook`) run on rank 0 after each
    checkpoint, e.g. :class:`landmarks.visualize.CheckpointPictures` (the quadruplets)."""
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
    use_cuda = device.type == "cuda"
    workers = cfg.data.num_workers
    loader_kw: dict[str, Any] = dict(
        batch_size=cfg.train.batch_size, sampler=sampler, num_workers=workers,
        collate_fn=collate_skipping, drop_last=True, pin_memory=use_cuda,
        persistent_workers=workers > 0)
    if workers > 0:
        loader_kw["prefetch_factor"] = 4

    model = build_model(cfg).to(device)
    if use_cuda and cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    objective = build_objective(cfg.loss, cfg.model.image_size).to(device)
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg)
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rec = objective.reconstruction
        rec.load_state_dict({**rec.state_dict(), **state.get("loss", {})})
        step = int(state["step"])
    elif init_weights is None and getattr(model, "needs_pretrained_weights", False):
        model.load_pretrained(resolve_vgg19(cfg.loss.vgg_weights)[0])
    if state is None and init_weights is not None:
        model.load_state_dict(init_weights)
        del init_weights
    del state

    if cfg.train.compile:  # the model's forward, in place (state-dict keys unchanged)
        model.compile()
    net: nn.Module = StepRunner(model, objective)
    if info.distributed:
        net = DistributedDataParallel(net, device_ids=[device.index] if use_cuda else None)
    detector = model.detector_modules() if hasattr(model, "detector_modules") else None
    health = HealthMonitor(detector) if info.is_main else None

    log = (MetricsLog(run_dir, cfg.train.tensorboard, resume_step=step if resume else None)
           if info.is_main else None)
    bar = None
    if info.is_main and cfg.train.progress:
        bar = tqdm(total=cfg.train.steps, initial=step, desc="train", unit="step",
                   dynamic_ncols=True, file=sys.stderr)
    skipped_total = len(getattr(dataset, "skipped", []))
    window: dict[str, Any] = {}  # per-key sums (device tensors) over the log window
    window_n = 0
    window_t0 = time.perf_counter()
    seen_images = 0
    result_history: list[dict[str, float]] = []
    last_ckpt: Path | None = None
    final_loss = math.nan
    rate = 0.0
    last = None

    def checkpoint(at_step: int) -> None:
        nonlocal last_ckpt
        if not info.is_main:
            return
        last_ckpt = save_checkpoint(checkpoint_path(run_dir, at_step), {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "loss": _loss_state(objective),
            "step": at_step, "config": to_dict(cfg)})
        prune_checkpoints(run_dir, cfg.train.keep_checkpoints)
        if last is not None:
            for hook in hooks:
                hook.after_checkpoint(run_dir, at_step, last)

    sampler.set_position(step)
    start_step, run_t0 = step, time.perf_counter()
    model.train()
    objective.train()
    loader = DataLoader(dataset, generator=torch.Generator().manual_seed(
        cfg.train.seed * 7919 + sampler.epoch), **loader_kw)
    deadline = (time.monotonic() + 60 * cfg.train.time_limit_minutes
                if cfg.train.time_limit_minutes > 0 else math.inf)
    stop_at = cfg.train.steps
    try:
        while step < stop_at:
            for batch in loader:
                if step >= stop_at:
                    break
                skipped_total += int(batch.pop("skipped", 0))
                if not batch:
                    continue
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()
                         if torch.is_tensor(v)}
                gen = step_generator(cfg.train.seed, step, info.rank, device)
                losses, out, pair = training_step(net, objective, batch, cfg, gen)
                source, target = pair.source, pair.target
                loss = losses["loss"]
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss.item()} at step {step}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.optim.grad_clip > 0:
                    gnorm = nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                    losses = {**losses, "grad_norm": gnorm}
                optimizer.step()
                if cfg.optim.schedule != "plateau":
                    scheduler.step()
                step += 1
                seen_images += source.shape[0] * info.world_size
                for k, v in losses.items():  # summed on the device: read back once per log row
                    window[k] = window.get(k, 0.0) + v.detach().float()
                window_n += 1
                last = LastStep(source.detach(), target.detach(),
                                {k: v.detach() for k, v in out.items()})

                # with a time limit, every rank checks at the same steps and all stop together
                check = not info.distributed or step % cfg.train.log_every == 0
                if (deadline < math.inf and check
                        and _any_rank(time.monotonic() > deadline, info, device)):
                    stop_at = step
                if step % cfg.train.log_every == 0 or step == stop_at:
                    elapsed = time.perf_counter() - window_t0
                    rate = seen_images / max(elapsed, 1e-9)
                    row = {"step": step, **{k: float(v) / window_n for k, v in window.items()},
                           "lr": optimizer.param_groups[0]["lr"], "img_per_s": rate,
                           "skipped": skipped_total}
                    final_loss = row["loss"]
                    if health is not None:
                        figures, warnings = health.check(step, row)
                        row.update(figures)
                        for text in warnings:
                            (bar.write if bar is not None else print)(f"warning: {text}",
                                                                      file=sys.stderr)
                    if cfg.optim.schedule == "plateau":
                        scheduler.step(row["loss"])
                    if log is not None:
                        log.write(row)
                    result_history.append(row)
                    window, window_n, seen_images = {}, 0, 0
                    window_t0 = time.perf_counter()
                    if bar is not None:
                        if deadline < math.inf:  # the bar's ETA: the step the clock allows
                            left = max(deadline - time.monotonic(), 0.0)
                            reach = step + int(left * rate / (source.shape[0] * info.world_size))
                            bar.total = min(cfg.train.steps, max(reach, step + 1))
                        bar.set_postfix(loss=f"{row['loss']:.3f}", img_s=f"{rate:.1f}",
                                        spread=f"{row['health/spread_x']:.2f}/"
                                               f"{row['health/spread_y']:.2f}",
                                        peak=f"{row.get('health/peak', math.nan):.2f}",
                                        skipped=skipped_total)
                if bar is not None:
                    bar.update(1)
                if step % cfg.train.checkpoint_every == 0 or step == stop_at:
                    checkpoint(step)
            sampler.next_epoch()
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    if info.distributed:
        # DDP keeps parameters in step; BatchNorm running statistics are per rank. Take rank
        # 0's so every rank ends with the weights in the checkpoint.
        for buf in model.buffers():
            torch.distributed.broadcast(buf, 0)
    barrier(info)
    # the run's average training rate (images per second over all ranks)
    rate = ((step - start_step) * cfg.train.batch_size * info.world_size
            / max(time.perf_counter() - run_t0, 1e-9))
    return TrainResult(run_dir, step, last_ckpt, final_loss, rate, skipped_total,
                       result_history, model)
