"""Speed benchmark: training throughput, FLOPs, conv floor, detection, TPS pairs and memory.

A script, not a test. It prints one markdown table of measured figures (and optionally writes
them as JSON). Everything goes through the trainer's own code paths:

* the config comes from :func:`landmarks.config.load_config` plus overrides
  (``model.image_size``, ``train.batch_size``, ``loss.vgg_weights=random``: same FLOPs as real
  VGG-19 weights, nothing to fetch); a recipe (``--config``) keeps its loss terms, priors
  included, so its step is measured as it trains;
* the step is the trainer's own, :meth:`landmarks.engine.trainer.Trainer.run_step` (pairs,
  the method contract's ``model.training_step``, backward, clipping, the optimiser; bf16
  autocast and channels_last on CUDA, as the trainer does them). Like the trainer's, the step
  reads nothing back to the host.

The only difference from a real run is the data: a fixed synthetic batch already on the device
(no loader, no host-to-device copy), so the figures are the compute side of a training step.
The batch is a batch of images (two TPS warps each) or, for a recipe that trains on video
(``data.kind: video``), of frame pairs, as the recipe's loader gives them.

Rates are the fastest of the timed runs (as is the conv floor, so that their ratio compares like
with like); medians and per-step times are in the notes. On a shared machine the fastest run is
the least disturbed one; the notes also give how many cores the process actually got.

Each training size runs in a fresh subprocess so that its peak memory (CPU: the process's peak
RSS, ``ru_maxrss``; CUDA: ``torch.cuda.max_memory_allocated``) is not inflated by earlier
measurements.

Examples::

    .venv/bin/python benchmarks/speed.py                       # CPU, all cores, 64 and 128
    .venv/bin/python benchmarks/speed.py --device cuda --compile --json speed.json
    .venv/bin/python benchmarks/speed.py --sizes 128 --profile 128   # + top ops of one step
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from landmarks.config import Config, load_config
from landmarks.engine.seeding import step_generator
from landmarks.engine.trainer import Trainer, make_pair, training_step
from landmarks.models import build_model

_RESULT_MARKER = "SPEED_RESULT "
_ENV_OF_INTEREST = ("LD_PRELOAD", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "KMP_AFFINITY",
                    "OMP_PROC_BIND", "DNNL_DEFAULT_FPMATH_MODE", "TORCHINDUCTOR_FREEZING",
                    "CUDA_VISIBLE_DEVICES", "LANDMARKS_KEEP_MALLOC")
GB = 1e9


# --------------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """Where and how the benchmark runs (resolved from the command line)."""

    device: torch.device
    threads: int
    amp: bool
    channels_last: bool
    compile: bool
    config: Path | None = None  # a recipe (e.g. configs/zhang_faces.yaml): its model and loss

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def inner(self) -> int:
        """Calls per timed run of the short measurements (conv, detection, pairs): one on CPU,
        where each call takes long enough; 20 on CUDA, to average out launch jitter."""
        return 20 if self.cuda else 1

    def autocast(self) -> AbstractContextManager:
        """bf16 autocast on CUDA when ``amp`` (the trainer's choice; nothing on CPU)."""
        if self.cuda and self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


def all_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(setup: Setup) -> str:
    if setup.cuda:
        return f"{torch.cuda.get_device_name(setup.device)} (CUDA {torch.version.cuda})"
    return f"{cpu_name()}, {all_cores()} cores available"


def make_config(size: int, batch: int, setup: Setup) -> Config:
    """The defaults (or ``--config``'s recipe: its model, loss terms and optimiser) at ``size``
    and ``batch``, with random VGG weights and the setup's device options. ``train.compile`` is
    left off: :class:`TrainingStep` compiles the model as the trainer does, after counting the
    eager model's FLOPs."""
    return load_config(setup.config, [
        f"model.image_size={size}",
        f"train.batch_size={batch}",
        "loss.vgg_weights=random",
        f"train.device={setup.device.type}",
        f"train.amp={str(setup.amp).lower()}",
        f"train.channels_last={str(setup.channels_last).lower()}",
        "train.compile=false",
    ])


def synthetic_images(batch: int, size: int, setup: Setup, seed: int = 0) -> torch.Tensor:
    """A fixed batch of images in [0, 1] on the device (stands in for the data loader)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=g).to(setup.device)


def timed(fn, setup: Setup, repeats: int, inner: int = 1) -> list[float]:
    """Wall-clock seconds per call of ``fn``, for each of ``repeats`` runs of ``inner`` calls
    (synchronised on CUDA before and after each run)."""
    times = []
    for _ in range(repeats):
        setup.sync()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        setup.sync()
        times.append((time.perf_counter() - t0) / inner)
    return times


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def count_flops(fn) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


# --------------------------------------------------------------------------------------------
# The training step: the trainer's own (landmarks.engine.trainer.Trainer.run_step)
# --------------------------------------------------------------------------------------------


class TrainingStep:
    """One step of the trainer (:meth:`~landmarks.engine.trainer.Trainer.run_step`) on a fixed
    synthetic batch: make_pair (TPS warps on the device), the model's training step with the
    recipe's loss terms, backward, gradient clipping, the optimiser."""

    def __init__(self, size: int, batch: int, setup: Setup) -> None:
        self.setup = setup
        self.cfg = cfg = make_config(size, batch, setup)
        self.trainer = Trainer(cfg, setup.device)
        images = synthetic_images(batch, size, setup)
        if cfg.data.kind == "video":  # frame pairs, as the recipe's loader gives them
            self.batch = {"source": images, "target": images.roll(1, dims=-1)}
        else:
            self.batch = {"image": images}

    def __call__(self) -> None:
        if self.setup.compile and getattr(self.trainer.model, "_compiled_call_impl",
                                          None) is None:
            self.trainer.model.compile()  # as the trainer, after counted_step (eager FLOPs)
        self.trainer.run_step(self.batch)

    def counted_step(self) -> dict[str, int]:
        """One trainer step (eager model) under FlopCounterMode ("total"), and, counted apart
        with the same random draws, its forward alone (:func:`~landmarks.engine.trainer.
        training_step` without autograd: the pair, the model, the loss terms), and the TPS
        pair alone ("warp"). "backward" is the rest: backward, clipping and the optimiser."""
        t = self.trainer

        def gen() -> torch.Generator:
            return step_generator(self.cfg.train.seed, t.step, 0, self.setup.device)

        warp = count_flops(lambda: make_pair(self.batch, self.cfg, gen(),
                                             need_warp=t.objective.needs_warped_target))
        with torch.no_grad():
            forward = count_flops(lambda: training_step(t.net, t.objective, self.batch,
                                                        self.cfg, gen()))
        total = count_flops(lambda: t.run_step(self.batch))
        return {"warp": warp, "forward": forward - warp, "backward": total - forward}


def train_worker(size: int, args: argparse.Namespace, setup: Setup) -> dict[str, Any]:
    """Everything measured about training at one size (run in a fresh process)."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if setup.cuda:
        torch.cuda.reset_peak_memory_stats(setup.device)
    step = TrainingStep(size, args.batch, setup)
    t0 = time.perf_counter()
    flops = step.counted_step()  # also the first warm-up step
    first_s = time.perf_counter() - t0
    warm = timed(step, setup, args.warmup)
    r0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    times = timed(step, setup, args.steps)
    r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall0
    user, system = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    result: dict[str, Any] = {
        "size": size,
        "batch": args.batch,
        "flops": flops,
        "flops_per_image": sum(flops.values()) / args.batch,
        "first_step_s": first_s,
        "warmup_s": warm,
        "step_s": times,
        "img_per_s": args.batch / min(times),
        "img_per_s_median": args.batch / statistics.median(times),
        "img_per_s_mean": args.batch * len(times) / sum(times),
        "cores_used": (user + system) / wall,
        "system_fraction": system / max(user + system, 1e-9),
        "minor_faults_per_step": (r1.ru_minflt - r0.ru_minflt) / len(times),
    }
    if setup.cuda:
        result["peak_bytes"] = torch.cuda.max_memory_allocated(setup.device)
        result["peak_reserved_bytes"] = torch.cuda.max_memory_reserved(setup.device)
    else:
        result["peak_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result["baseline_rss_bytes"] = rss_before
    return result


def run_train_subprocess(size: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_train-worker", str(size),
           *forwarded_options(args)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_RESULT_MARKER):
            return json.loads(line[len(_RESULT_MARKER):])
    raise RuntimeError(f"training worker for size {size} failed (exit {proc.returncode}):\n"
                       f"{proc.stdout[-2000:]}")


def forwarded_options(args: argparse.Namespace) -> list[str]:
    opts = ["--device", args.device, "--threads", str(args.threads), "--batch", str(args.batch),
            "--steps", str(args.steps), "--warmup", str(args.warmup)]
    opts.append("--amp" if args.amp else "--no-amp")
    opts.append("--channels-last" if args.channels_last else "--no-channels-last")
    opts.append("--compile" if args.compile else "--no-compile")
    if args.config is not None:
        opts += ["--config", str(args.config)]
    return opts


# --------------------------------------------------------------------------------------------
# The other measurements
# --------------------------------------------------------------------------------------------


def conv_floor(setup: Setup, batch: int, channels: int, size: int,
               repeats: int) -> dict[str, Any]:
    """Dense 3×3 conv forward+backward (input and weight gradients), best of ``repeats``."""
    conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False).to(setup.device)
    x = torch.randn(batch, channels, size, size, device=setup.device)
    if setup.cuda and setup.amp:
        x = x.to(torch.bfloat16)  # what autocast would feed the conv; no cast in the timing
    if setup.channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = setup.layout(x)
    x.requires_grad_(True)
    grad: list[torch.Tensor] = []

    def once() -> None:
        x.grad = None
        conv.weight.grad = None
        with setup.autocast():
            y = conv(x)
        if not grad:
            grad.append(torch.randn_like(y))
        y.backward(grad[0])

    once()  # warm-up
    flops = count_flops(once)
    times = timed(once, setup, repeats, setup.inner)
    best = min(times)
    return {"flops": flops, "best_s": best, "times_s": times, "gflops": flops / best / 1e9,
            "shape": [batch, channels, size, size], "inner": setup.inner}


def detection_rate(size: int, batch: int, setup: Setup, repeats: int) -> dict[str, Any]:
    """model.detect on batches in eval mode under inference_mode."""
    cfg = make_config(size, batch, setup)
    model = build_model(cfg).to(setup.device)
    if setup.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.eval()
    detect = torch.compile(model.detect) if setup.compile else model.detect
    images = setup.layout(synthetic_images(batch, size, setup, seed=1))

    def once() -> None:
        with torch.inference_mode(), setup.autocast():
            detect(images)

    with torch.inference_mode(), setup.autocast():
        flops = count_flops(lambda: model.detect(images))
    for _ in range(2 if setup.compile else 1):
        once()
    times = timed(once, setup, repeats, setup.inner)
    return {"size": size, "batch": batch, "times_s": times, "flops_per_image": flops / batch,
            "img_per_s": batch / min(times), "img_per_s_median": batch / statistics.median(times),
            "inner": setup.inner}


def pair_rate(size: int, batch: int, setup: Setup, repeats: int) -> dict[str, Any]:
    """make_pair alone (both TPS warps and the warped mask) on the device."""
    cfg = make_config(size, batch, setup)
    images = synthetic_images(batch, size, setup, seed=2)
    step = [0]

    def once() -> None:
        gen = step_generator(cfg.train.seed, step[0], 0, setup.device)
        make_pair({"image": images}, cfg, gen)
        step[0] += 1

    once()
    times = timed(once, setup, repeats, setup.inner)
    return {"size": size, "batch": batch, "times_s": times,
            "img_per_s": batch / min(times), "img_per_s_median": batch / statistics.median(times),
            "inner": setup.inner}


def profile_step(size: int, args: argparse.Namespace, setup: Setup) -> str:
    """Top ops by self CPU time of one training step (after two warm-up steps)."""
    from torch.profiler import ProfilerActivity, profile

    step = TrainingStep(size, args.batch, setup)
    for _ in range(2):
        step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if setup.cuda else [])
    with profile(activities=activities, record_shapes=False) as prof:
        step()
        setup.sync()
    sort = "self_device_time_total" if setup.cuda else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort, row_limit=args.profile_rows)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def runs(r: dict[str, Any]) -> str:
    n, inner = len(r["times_s"]), r.get("inner", 1)
    return f"{n} runs of {inner} calls" if inner > 1 else f"{n} runs"


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| figure | value | unit | notes |", "|---|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['figure']} | {r['text']} | {r['unit']} | {r['notes']} |")
    return "\n".join(lines)


def build_rows(setup: Setup, args: argparse.Namespace, train: dict[int, dict[str, Any]],
               conv: dict[str, Any], detect: dict[str, Any] | None,
               pairs: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(figure: str, value: float, unit: str, notes: str, text: str | None = None) -> None:
        rows.append({"figure": figure, "value": value, "unit": unit, "notes": notes,
                     "text": text if text is not None else fmt(value)})

    for size, r in train.items():
        spread = ", ".join(f"{t:.2f}" for t in r["step_s"])
        add(f"training throughput {size}×{size}, batch {r['batch']}", r["img_per_s"], "img/s",
            f"Trainer.run_step (make_pair + fwd + loss terms + bwd + clip + AdamW); batch / "
            f"fastest of "
            f"{len(r['step_s'])} timed steps [{spread}] s after {1 + args.warmup} warm-up; "
            f"median {fmt(r['img_per_s_median'])}, mean {fmt(r['img_per_s_mean'])} img/s; "
            f"while timed the process used "
            f"{r['cores_used']:.2f} cores, {r['system_fraction']:.0%} of it system time "
            f"({r['minor_faults_per_step'] / 1e6:.2f} M page faults/step)")
    for size, r in train.items():
        f = {k: v / r["batch"] / GB for k, v in r["flops"].items()}
        add(f"FLOPs per training image {size}×{size}", r["flops_per_image"] / GB, "GFLOP",
            f"one full trainer step / batch, FlopCounterMode: forward {f['forward']:.2f} "
            f"(model and loss terms), backward + update {f['backward']:.2f}, TPS warps "
            f"{f['warp']:.3f}")
    b, c, s, _ = conv["shape"]
    add("dense conv throughput (FLOP floor)", conv["gflops"], "GFLOP/s",
        f"3×3 conv {c}→{c}, {s}×{s}, batch {b}, fwd + bwd (input and weight grads), "
        f"{conv['flops'] / GB:.1f} GFLOP by FlopCounterMode, best of {runs(conv)}: "
        f"{conv['best_s']:.3f} s")
    for size, r in train.items():
        achieved = r["flops_per_image"] * r["img_per_s"] / GB
        ratio = achieved / conv["gflops"]
        add(f"achieved training GFLOP/s {size}×{size}", achieved, "GFLOP/s",
            f"{ratio:.0%} of the conv floor (target ≥ 70%)")
    if detect is not None:
        add(f"detection throughput {detect['size']}×{detect['size']}", detect["img_per_s"],
            "img/s", f"model.detect, eval + inference_mode, batch {detect['batch']}, best of "
            f"{runs(detect)} (median {fmt(detect['img_per_s_median'])}); "
            f"{detect['flops_per_image'] / GB:.2f} GFLOP/img")
    for size, r in pairs.items():
        note = (f"make_pair only (2 TPS warps + mask), batch {r['batch']}, best of {runs(r)} "
                f"(median {fmt(r['img_per_s_median'])})")
        if size in train:
            ratio = r["img_per_s"] / train[size]["img_per_s"]
            note += f"; {ratio:.0f}× the training rate (target ≥ 10×)"
        add(f"TPS pair generation {size}×{size}", r["img_per_s"], "img/s", note)
    for size, r in train.items():
        if setup.cuda:
            note = (f"torch.cuda.max_memory_allocated in a fresh process (reserved "
                    f"{r['peak_reserved_bytes'] / GB:.2f} GB); target < 8 GB")
        else:
            note = (f"peak RSS (ru_maxrss) of a fresh process running only this training "
                    f"measurement; includes {r['baseline_rss_bytes'] / GB:.2f} GB of Python + "
                    f"torch before the model was built; target < 8 GB")
        add(f"peak memory, training {size}×{size} batch {r['batch']}", r["peak_bytes"] / GB,
            "GB", note)
    return rows


def header(setup: Setup) -> str:
    try:
        from importlib.metadata import version

        pkg = version("unsupervised-landmarks")
    except Exception:  # noqa: BLE001 - only for the header
        pkg = "?"
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    cmd = shlex.join([sys.executable, *sys.argv])
    env = [f"{k}={v}" for k, v in sorted(os.environ.items())
           if k in _ENV_OF_INTEREST or k.startswith("MALLOC_")]
    if env:
        cmd = " ".join(env) + " " + cmd
    return (f"torch {torch.__version__}, landmarks {pkg} | device {setup.device.type}: "
            f"{device_name(setup)} | threads {setup.threads} | amp (bf16) "
            f"{'on' if setup.amp else 'off'} | channels_last "
            f"{'on' if setup.channels_last else 'off'} | compile "
            f"{'on' if setup.compile else 'off'} | load average at start {load_average()} | {now}\n"
            f"command: `{cmd}`")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads (default: all available cores)")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128],
                   help="training image sizes")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=None,
                   help="timed training steps after warm-up (default 3 on CPU, 20 on CUDA)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed steps after the FLOP-counted first step (default 1 on CPU, "
                        "5 on CUDA)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast on CUDA (default on for CUDA; the trainer ignores it on "
                        "CPU, and so does this script)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels_last model and inputs (default on for CUDA, off for CPU). The "
                        "training step is the trainer's, which uses it on CUDA only; on CPU "
                        "it is an experiment for the conv floor and detection")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                   help="torch.compile the model (FLOPs are still counted on the eager model)")
    p.add_argument("--detect-size", type=int, default=128)
    p.add_argument("--pair-sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--repeats", type=int, default=5,
                   help="repeats of the conv, detection and pair measurements")
    p.add_argument("--conv-size", type=int, default=64,
                   help="spatial size of the conv-floor layer (batch --batch, 128→128 ch)")
    p.add_argument("--conv-channels", type=int, default=128)
    p.add_argument("--profile", type=int, default=None, metavar="SIZE",
                   help="also profile one training step at SIZE and print the top ops")
    p.add_argument("--profile-rows", type=int, default=10)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--config", type=Path, default=None,
                   help="a training recipe whose model, loss and optimiser are measured (e.g. "
                        "configs/zhang_faces.yaml for model zhang); default: the defaults (imm)")
    p.add_argument("--_train-worker", type=int, default=None, dest="train_worker",
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    cuda = args.device == "cuda"
    if args.threads is None:
        args.threads = all_cores()
    if args.steps is None:
        args.steps = 20 if cuda else 3
    if args.warmup is None:
        args.warmup = 5 if cuda else 1
    if args.amp is None:
        args.amp = cuda
    if args.channels_last is None:
        args.channels_last = cuda
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.threads < 1:
        p.error("--steps and --batch and --threads must be >= 1, --warmup >= 0")
    if cuda and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is available to this torch build")
    return args


def make_setup(args: argparse.Namespace) -> Setup:
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    # As in the trainer, autocast is used on CUDA only.
    return Setup(device, args.threads, args.amp and device.type == "cuda", args.channels_last,
                 args.compile, args.config)


def log(msg: str) -> None:
    print(f"[speed] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # the same allocator setting as `landmarks train` / `detect` (LANDMARKS_KEEP_MALLOC=0: off)
    from landmarks.engine.allocator import keep_freed_memory

    keep_freed_memory()
    setup = make_setup(args)
    if args.train_worker is not None:
        result = train_worker(args.train_worker, args, setup)
        print(_RESULT_MARKER + json.dumps(result), flush=True)
        return 0

    t_start = time.perf_counter()
    head = header(setup)
    log(head.splitlines()[0])
    if args.amp and not setup.amp:
        log("--amp is ignored on CPU (the trainer uses autocast on CUDA only)")
    train: dict[int, dict[str, Any]] = {}
    for size in args.sizes:
        log(f"training {size}×{size}, batch {args.batch}: 1 counted + {args.warmup} warm-up + "
            f"{args.steps} timed steps (fresh process)")
        train[size] = run_train_subprocess(size, args)
        log(f"  {train[size]['img_per_s']:.2f} img/s, steps {train[size]['step_s']}")
    log("conv floor")
    conv = conv_floor(setup, args.batch, args.conv_channels, args.conv_size, args.repeats)
    log(f"  {conv['gflops']:.1f} GFLOP/s")
    log(f"detection {args.detect_size}×{args.detect_size}")
    detect = detection_rate(args.detect_size, args.batch, setup, args.repeats)
    pairs: dict[int, dict[str, Any]] = {}
    for size in args.pair_sizes:
        log(f"TPS pairs {size}×{size}")
        pairs[size] = pair_rate(size, args.batch, setup, args.repeats)
    total_s = time.perf_counter() - t_start

    rows = build_rows(setup, args, train, conv, detect, pairs)
    print(head)
    print()
    print(markdown_table(rows))
    print()
    print(f"total benchmark time {total_s:.0f} s; load average at the end {load_average()}")

    profile_text = None
    if args.profile is not None:
        log(f"profiling one training step at {args.profile}×{args.profile}")
        profile_text = profile_step(args.profile, args, setup)
        print()
        print(f"top {args.profile_rows} ops of one training step at "
              f"{args.profile}×{args.profile}, batch {args.batch}:")
        print(profile_text)

    if args.json is not None:
        payload = {
            "header": head,
            "torch": torch.__version__,
            "device": device_name(setup),
            "threads": setup.threads,
            "amp": setup.amp,
            "channels_last": setup.channels_last,
            "compile": setup.compile,
            "command": [sys.executable, *sys.argv],
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "total_s": total_s,
            "rows": [{k: r[k] for k in ("figure", "value", "unit", "notes")} for r in rows],
            "raw": {"train": train, "conv": conv, "detect": detect, "pairs": pairs},
            "profile": profile_text,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
