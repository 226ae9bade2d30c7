"""One self-contained HTML page about a training run: ``landmarks report RUN_DIR``.

The page holds everything inline (PNG figures as ``data:`` URIs, the detection video as a
``data:video/mp4`` URI when it is small enough), loads nothing from anywhere, and so opens
offline in any browser or can be mailed around. Sections, each present only when its inputs
exist in the run folder:

1. **Run** -- folder, config summary, steps reached, training speed, generation date;
2. **Loss curves** -- ``metrics.csv``: total loss, the per-layer terms, learning rate, gradient
   norm against the step;
3. **Quadruplets** -- the first and the newest ``quadruplets/step_*.png``;
4. **Score maps** -- the newest checkpoint run on three training images: the keypoints, each
   raw score map and each keypoint's x / y marginals (Jakab et al. 2018, Fig. 2 right);
5. **Style/geometry swap** -- the newest checkpoint renders four held-out images' geometry
   with four others' appearance (:func:`landmarks.swap.swap_grid`; Jakab et al. 2018, Fig. 7);
6. **Evaluation** -- the JSON files written by ``landmarks eval``: error table, PCK curve,
   sample efficiency, labelled vs regressed points on example images;
7. **Detection overlay** -- the newest ``detect/*.mp4`` and ``detect/*_frames.png`` sheets.

Figures are drawn with matplotlib's Agg renderer through :class:`matplotlib.figure.Figure`
(pyplot's global state is never touched).
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import datetime as _dt
import html
import io
import json
import math
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarks import __version__
from landmarks.config import from_dict
from landmarks.data import build_dataset
from landmarks.engine.checkpoint import latest_checkpoint, load_checkpoint
from landmarks.inference import Detector
from landmarks.losses import fitting_layers
from landmarks.swap import swap_grid
from landmarks.visualize.colors import keypoint_colors
from landmarks.visualize.overlay import tensor_to_uint8
from landmarks.visualize.quadruplet import normalized_to_pixel_np

__all__ = [
    "SECTION_TITLES",
    "VIDEO_INLINE_LIMIT",
    "ReportError",
    "build_report",
    "read_metrics",
    "write_report",
]

VIDEO_INLINE_LIMIT = 20 * 1024 * 1024
"""Videos up to this many bytes are embedded; larger ones are linked (relative path)."""

SECTION_TITLES = {
    "run": "Run",
    "loss": "Loss curves",
    "quadruplets": "Quadruplets",
    "scores": "Score maps",
    "swap": "Style/geometry swap",
    "eval": "Evaluation",
    "detect": "Detection overlay",
}

_NUM_SCORE_IMAGES = 3
_NUM_SWAP_IMAGES = 4  # style images; as many geometry images
_MAX_EXAMPLES = 12
_MAX_VIDEO_FRAMES = 300  # score maps of a video run use frames among the first 300 of each
_STEP_PNG = re.compile(r"step_(\d+)\.png$")
_KNOWN_COLUMNS = ("step", "loss", "grad_norm", "lr", "img_per_s", "skipped")
_DPI = 100


class ReportError(ValueError):
    """The folder is not a training run folder (or cannot be read); the message names it."""


@dataclass
class _Section:
    key: str
    body: str


# ----------------------------------------------------------------------------------------------
# small helpers


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _img(data: bytes, alt: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f'<img{cls} alt="{_esc(alt)}" src="{_png_uri(data)}">'


def _figure(data: bytes, alt: str, caption: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<figure{cls}>{_img(data, alt)}<figcaption>{caption}</figcaption></figure>"


def _caption(text: str) -> str:
    return f'<p class="caption">{text}</p>'


def _note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def _new_figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=_DPI)


def _fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _fmt(v: Any, digits: int = 2) -> str:
    if _is_num(v):
        return f"{v:.{digits}f}"
    if v is None:
        return "–"
    return _esc(v)


def _mean_of(v: Any) -> Any:
    """A metric that is either a number or a dict with "mean"."""
    if isinstance(v, dict):
        return v.get("mean")
    return v


def _per_point_of(v: Any) -> list[Any]:
    if isinstance(v, dict) and isinstance(v.get("per_point"), list):
        return v["per_point"]
    return []


def _rgb_css(color: Sequence[int]) -> str:
    return f"rgb({int(color[0])},{int(color[1])},{int(color[2])})"


def _swatch(color: Sequence[int]) -> str:
    return f'<span class="swatch" style="background:{_rgb_css(color)}"></span>'


def _step_of(path: Path) -> int:
    m = _STEP_PNG.search(path.name)
    return int(m.group(1)) if m else -1


# ----------------------------------------------------------------------------------------------
# run folder contents


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """``metrics.csv`` as ``{column: float64 array}``, sorted by step; for a step logged twice
    (a resumed run) the later row wins. Empty cells are NaN. ``{}`` when there are no rows."""
    path = Path(path)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2 or "step" not in rows[0]:
        return {}
    header = rows[0]
    by_step: dict[float, list[float]] = {}
    for row in rows[1:]:
        if len(row) != len(header):
            continue
        values = []
        for cell in row:
            try:
                values.append(float(cell) if cell != "" else math.nan)
            except ValueError:
                values.append(math.nan)
        step = values[header.index("step")]
        if math.isfinite(step):
            by_step[step] = values
    if not by_step:
        return {}
    table = np.asarray([by_step[s] for s in sorted(by_step)], dtype=np.float64)
    return {name: table[:, i] for i, name in enumerate(header)}


def _load_run_config(run_dir: Path, checkpoint: Path | None) -> tuple[Any, str]:
    """The run's :class:`~landmarks.config.Config` (config.yaml, else the checkpoint's) and a
    note when neither could be read."""
    import yaml

    problems = []
    path = run_dir / "config.yaml"
    if path.is_file():
        try:
            return from_dict(yaml.safe_load(path.read_text()) or {}, origin=str(path)), ""
        except Exception as err:  # noqa: BLE001 - shown in the report
            problems.append(f"{path}: {err}")
    if checkpoint is not None:
        try:
            state = load_checkpoint(checkpoint)
            return from_dict(state["config"], origin=str(checkpoint)), ""
        except Exception as err:  # noqa: BLE001
            problems.append(f"{checkpoint}: {err}")
    return None, "; ".join(problems) or f"{run_dir} holds no config.yaml"


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.exists():
        raise ReportError(f"run folder {run_dir} does not exist")
    if not run_dir.is_dir():
        raise ReportError(f"run folder {run_dir} is not a folder; expected the --out folder of "
                          f"`landmarks train`")
    if not (run_dir / "metrics.csv").is_file() and latest_checkpoint(run_dir) is None:
        raise ReportError(f"{run_dir} is not a training run folder: it holds neither metrics.csv "
                          f"nor checkpoints/step_*.pt (expected the --out folder of "
                          f"`landmarks train`, after at least one logged step)")


# ----------------------------------------------------------------------------------------------
# 1. header


def _run_section(run_dir: Path, cfg: Any, cfg_note: str, metrics: dict[str, np.ndarray],
                 checkpoint: Path | None, not_shown: list[str]) -> _Section:
    rows: list[tuple[str, str]] = [("Run folder", f"<code>{_esc(run_dir.resolve())}</code>")]
    if cfg is not None:
        m, d, t, lo, o = cfg.model, cfg.data, cfg.train, cfg.loss, cfg.optim
        rows.append(("Model", f"{_esc(m.name)}: K = <b>{m.num_keypoints}</b> keypoints, "
                              f"image size <b>{m.image_size}</b> px, score maps "
                              f"{m.heatmap_size}×{m.heatmap_size}, width {m.width}"))
        root_state = "" if not d.root or Path(d.root).expanduser().exists() else \
            ' <span class="bad">(no longer exists)</span>'
        rows.append(("Data", f"{_esc(d.kind)} from <code>{_esc(d.root)}</code>{root_state}"
                             + (f", crop {_esc(d.crop)}" if d.crop else "")
                             + (", TPS on video pairs" if d.kind == "video" and d.video_tps
                                else "")))
        layers = ""
        if lo.name == "perceptual":
            try:
                used = fitting_layers(lo.layers, cfg.model.image_size, lo.min_feature_size)
            except ValueError:
                used = lo.layers
            layers = f" ({_esc(', '.join(used))})"
        terms = "".join(f" + {w:g}·{_esc(t)}" for t, w in lo.terms.items()
                        if t != "reconstruction" and w > 0)
        rows.append(("Loss", f"{_esc(lo.name)}{layers}{terms}"))
        rows.append(("Training", f"batch {t.batch_size}, {_esc(o.name)} lr {o.lr:g} decay "
                                 f"{o.weight_decay:g} ({_esc(o.schedule)}), "
                                 f"{t.steps} steps configured"
                                 + (f", time limit {t.time_limit_minutes:g} min"
                                    if t.time_limit_minutes > 0 else "")))
    else:
        rows.append(("Config", f'<span class="bad">not readable: {_esc(cfg_note)}</span>'))
    reached = []
    if "step" in metrics:
        reached.append(f"<b>{int(metrics['step'][-1])}</b> (last row of metrics.csv)")
    if checkpoint is not None:
        reached.append(f"checkpoint <code>{_esc(checkpoint.name)}</code>")
    if reached:
        rows.append(("Steps reached", ", ".join(reached)))
    rate = metrics.get("img_per_s")
    if rate is not None and np.isfinite(rate).any():
        finite = rate[np.isfinite(rate)]
        typical = finite[1:] if len(finite) > 1 else finite  # the first window holds start-up
        rows.append(("Speed", f"<b>{np.median(typical):.1f}</b> images/s (median over "
                              f"{len(typical)} log windows; last {finite[-1]:.1f})"))
    if "loss" in metrics and np.isfinite(metrics["loss"]).any():
        loss = metrics["loss"][np.isfinite(metrics["loss"])]
        rows.append(("Loss", f"first {loss[0]:.4g} → last <b>{loss[-1]:.4g}</b> "
                             f"(min {loss.min():.4g})"))
    if "skipped" in metrics and np.isfinite(metrics["skipped"]).any():
        rows.append(("Skipped inputs", f"{int(np.nanmax(metrics['skipped']))}"))
    now = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    rows.append(("Generated", f"{_esc(now)} by unsupervised-landmarks {_esc(__version__)}"))
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    body = (_caption("What was trained, on what, for how long, and how fast.")
            + f'<table class="kv">{table}</table>')
    if not_shown:
        body += ('<p class="caption">Not in this report (their inputs are missing): '
                 + "; ".join(not_shown) + ".</p>")
    return _Section("run", body)


# ----------------------------------------------------------------------------------------------
# 2. loss curves


#: Unweighted prior terms of the objective (logged under their own names).
_PRIOR_COLUMNS = ("equivariance", "concentration", "separation")


def _loss_figure(metrics: dict[str, np.ndarray]) -> bytes:
    from matplotlib.ticker import MaxNLocator

    step = metrics["step"]
    raw = [c for c in metrics if c.startswith("perceptual_raw/")]
    health = [c for c in metrics if c.startswith("health/")]
    terms = [c for c in metrics if c.startswith(("perceptual/", "pixel/"))
             or ("/" in c and c not in _KNOWN_COLUMNS and c not in raw and c not in health)]
    priors = [c for c in metrics if c in _PRIOR_COLUMNS]
    panels: list[tuple[str, list[str]]] = []
    if "loss" in metrics:
        panels.append(("total loss", ["loss"]))
    if terms:
        panels.append(("loss terms", terms))
    if raw:
        panels.append(("raw layer errors (unnormalised)", raw))
    if priors:
        panels.append(("prior terms (unweighted)", priors))
    spread = [c for c in health if "spread" in c]
    if spread:
        panels.append(("keypoint spread (std over K)", spread))
    if "health/peak" in metrics:
        panels.append(("softmax peak (mean max prob.)", ["health/peak"]))
    if "lr" in metrics:
        panels.append(("learning rate", ["lr"]))
    if "grad_norm" in metrics:
        panels.append(("gradient norm (before clipping)", ["grad_norm"]))
    fig = _new_figure(2.9 * len(panels) + 0.4, 3.1)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, cols) in zip(axes, panels, strict=True):
        positive = True
        for c in cols:
            y = metrics[c]
            ok = np.isfinite(y)
            if not ok.any():
                continue
            positive &= bool((y[ok] > 0).all())
            label = c.split("/", 1)[1] if "/" in c else c
            ax.plot(step[ok], y[ok], lw=1.3, label=label, marker="." if ok.sum() < 30 else None)
        if positive and cols != ["lr"]:
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.set_xlabel("step", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, alpha=0.3)
        if len(cols) > 1:
            ax.legend(fontsize=7, ncol=2 if len(cols) > 4 else 1)
    width = fig.get_figwidth()
    fig.subplots_adjust(left=0.65 / width, right=1 - 0.15 / width, bottom=0.17, top=0.9,
                        wspace=0.38)
    return _fig_png(fig)


def _loss_section(metrics: dict[str, np.ndarray]) -> _Section:
    prefix = "perceptual" if any(c.startswith("perceptual/") for c in metrics) else "pixel"
    cap = ("Training curves from <code>metrics.csv</code>, one point per log window "
           "(averages over the window), against the training step. Left: the total "
           f"reconstruction loss; then each {prefix} term (one per "
           f"{'VGG-19 layer' if prefix == 'perceptual' else 'pixel loss'}); the learning rate; "
           "and the gradient norm. Logarithmic y where all values are positive.")
    if any(c in metrics for c in _PRIOR_COLUMNS):
        cap += (" The prior terms (equivariance, concentration, separation) are shown "
                "unweighted; the total loss adds them with the weights of "
                "<code>loss.terms</code>.")
    if any(c.startswith("health/") for c in metrics):
        cap += (" Training health: the standard deviation of the K points' x and y over the "
                "keypoints (normalised units; near 0 means the points collapsed onto one "
                "place or line) and the mean peak probability of the softmax marginals (1/16 "
                "for a flat 16-bin marginal).")
    if any(c.startswith("perceptual_raw/") for c in metrics):
        cap += (" Each perceptual term is its layer's error divided by a running mean of itself "
                "(×1000, as the official code), so it hovers near 1000 whether or not the "
                "reconstruction improves; the panel of raw layer errors (the masked mean squared "
                "VGG feature differences before that division) shows the progress.")
    return _Section("loss", _figure(_loss_figure(metrics), "loss curves", cap))


# ----------------------------------------------------------------------------------------------
# 3. quadruplets


def _quadruplet_section(files: list[Path]) -> _Section:
    shown = [files[0], files[-1]] if len(files) > 1 else files[:1]
    figs = []
    for p in shown:
        label = f"step {_step_of(p)}" + (" (first)" if p == files[0] and len(shown) > 1
                                         else " (newest)")
        figs.append(_figure(p.read_bytes(), f"quadruplets {label}",
                            f"<code>quadruplets/{_esc(p.name)}</code> – {_esc(label)}"))
    cap = ("Training batches as the model saw them (one row per example): <b>source</b> "
           "(appearance), <b>target</b>, the <b>reconstruction</b> of the target from the "
           "source's appearance and the target's keypoints, the <b>keypoints</b> on the target, "
           "and the rendered Gaussian <b>heatmaps</b>."
           + (f" The first picture of the run beside the newest of {len(files)}, to show "
              "progress." if len(shown) > 1 else ""))
    return _Section("quadruplets", _caption(cap) + f'<div class="row">{"".join(figs)}</div>')


# ----------------------------------------------------------------------------------------------
# 4. score maps


def _pick_indices(n: int, count: int) -> list[int]:
    """``count`` indices spread over ``range(n)`` (centres of equal parts), then the rest."""
    first = sorted({min(n - 1, int((i + 0.5) * n / count)) for i in range(count)})
    return first + [i for i in range(n) if i not in first]


def _score_map_figure(image: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                      prob_x: np.ndarray, prob_y: np.ndarray, title: str) -> bytes:
    """One image: the keypoints, K score-map tiles and K marginal plots."""
    from matplotlib import patheffects

    k, h, w = scores.shape
    s = image.shape[0]
    cols = keypoint_colors(k)
    ncols = min(k, 10)
    blocks = math.ceil(k / ncols)
    fig = _new_figure(3.0 + 0.95 * ncols, max(2.6, 2.1 * blocks + 0.5))
    gs = fig.add_gridspec(2 * blocks, ncols + 1, width_ratios=[3.0] + [1.0] * ncols,
                          height_ratios=[1.0, 0.7] * blocks, wspace=0.25, hspace=0.35)
    ax = fig.add_subplot(gs[:, 0])
    ax.imshow(image, interpolation="bilinear")
    px = normalized_to_pixel_np(keypoints, s, s)
    ax.scatter(px[:, 0], px[:, 1], s=46, c=cols / 255.0, edgecolors="black", linewidths=0.8,
               zorder=3)
    stroke = [patheffects.withStroke(linewidth=2.2, foreground="black")]
    for i in range(k):
        ax.text(px[i, 0] + s * 0.03, px[i, 1] - s * 0.03, str(i), color=cols[i] / 255.0,
                fontsize=8, fontweight="bold", path_effects=stroke, zorder=4)
    ax.set_xlim(-0.5, s - 0.5)
    ax.set_ylim(s - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)

    # each map softmax-normalised over all its h*w cells (for display only)
    flat = scores.reshape(k, -1).astype(np.float64)
    flat = np.exp(flat - flat.max(axis=1, keepdims=True))
    prob = (flat / flat.sum(axis=1, keepdims=True)).reshape(k, h, w)
    cx = -1.0 + (2.0 * np.arange(w) + 1.0) / w
    cy = -1.0 + (2.0 * np.arange(h) + 1.0) / h
    kx, ky = normalized_to_pixel_np(keypoints, h, w).T
    for i in range(k):
        r, c = divmod(i, ncols)
        color = cols[i] / 255.0
        tile = fig.add_subplot(gs[2 * r, c + 1])
        m = prob[i] / max(prob[i].max(), 1e-12)
        tile.imshow(m[..., None] * color[None, None, :], interpolation="nearest")
        tile.plot([kx[i]], [ky[i]], marker="+", color="white", ms=6, mew=1.2)
        tile.set_xlim(-0.5, w - 0.5)
        tile.set_ylim(h - 0.5, -0.5)
        tile.set_xticks([])
        tile.set_yticks([])
        tile.set_title(f"{i}  (peak {prob[i].max():.2g})", fontsize=7, pad=2)
        marg = fig.add_subplot(gs[2 * r + 1, c + 1])
        marg.plot(cx, prob_x[i], color=color, lw=1.3)
        marg.plot(cy, prob_y[i], color=color, lw=1.3, ls="--")
        marg.set_xlim(-1, 1)
        # a flat (uniform) marginal stays low: the axis reaches at least 3x the uniform level
        marg.set_ylim(0, max(float(prob_x[i].max()) * 1.1, float(prob_y[i].max()) * 1.1,
                             3.0 / min(h, w)))
        marg.set_xticks([-1, 0, 1])
        marg.set_yticks([])
        marg.tick_params(labelsize=6, length=2, pad=1)
        for side in ("top", "right"):
            marg.spines[side].set_visible(False)
    fig.subplots_adjust(left=0.01, right=0.99, top=1.0 - 0.3 / fig.get_figheight(),
                        bottom=0.25 / fig.get_figheight())
    return _fig_png(fig)


@dataclass
class _RunModel:
    """The newest checkpoint loaded for the report, with the dataset it was trained on."""

    checkpoint: Path
    detector: Any
    dataset: Any  # the training data (or None, with ``note`` saying why)
    note: str = ""
    held_out: Any = None  # the same data's "test" split when the reader has one


def _load_run_model(checkpoint: Path) -> _RunModel | str:
    """The run's detector and training data, or a note (HTML) saying why not."""
    try:
        det = Detector.from_checkpoint(checkpoint, device="cpu")
    except Exception as err:  # noqa: BLE001 - shown in the report
        return f"Could not load <code>{_esc(checkpoint)}</code>: {_esc(err)}"
    cfg = det.config
    data_cfg = cfg.data
    if data_cfg.kind == "video" and not 0 < data_cfg.max_frames <= _MAX_VIDEO_FRAMES:
        # only the first frames of each video: the dataset decodes whole videos
        data_cfg = dataclasses.replace(data_cfg, max_frames=_MAX_VIDEO_FRAMES)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = build_dataset(data_cfg, cfg.model.image_size)
    except Exception as err:  # noqa: BLE001 - the data root may be gone
        note = (f"the run's training data <code>{_esc(cfg.data.root)}</code> "
                f"({_esc(cfg.data.kind)}, as recorded in <code>{_esc(checkpoint.name)}</code>) "
                f"cannot be read any more: {_esc(err)}")
        return _RunModel(checkpoint, det, None, note)
    held_out = None
    if data_cfg.split == "train":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                held_out = build_dataset(dataclasses.replace(data_cfg, split="test"),
                                         cfg.model.image_size)
        except Exception:  # noqa: BLE001 - readers without a test split
            held_out = None
    return _RunModel(checkpoint, det, dataset, held_out=held_out)


def _dataset_images(dataset: Any, count: int, what: str = "training item",
                    shuffle: bool = False) -> tuple[list[Any], list[str]]:
    """Up to ``count`` readable images spread over ``dataset`` (a pair's target frame), with
    their names (``"<what> <index>"``, plus the frame number for frame pairs). ``shuffle``
    picks them in a fixed pseudo-random order instead (datasets ordered in a regular pattern,
    e.g. round robin over digit classes, then do not give the same kind of image each time)."""
    images, names = [], []
    order = (np.random.default_rng(0).permutation(len(dataset)).tolist() if shuffle
             else _pick_indices(len(dataset), count))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for idx in order:
            item = dataset[idx]
            if item is None:
                continue
            img = item.get("target", item.get("image"))
            if img is None:
                continue
            images.append(img)
            if "frames" in item:
                names.append(f"{what} {idx} (target frame {int(item['frames'][0])})")
            else:
                names.append(f"{what} {idx}")
            if len(images) == count:
                break
    return images, names


def _score_section(run: _RunModel | str) -> _Section:
    """The score-map figures, or a note saying why they cannot be made."""
    import torch

    title = SECTION_TITLES["scores"]
    if isinstance(run, str):
        return _Section("scores", _note(run))
    if run.dataset is None:
        return _Section("scores", _note(f"{title} skipped: {run.note}"))
    det, dataset, checkpoint = run.detector, run.dataset, run.checkpoint
    cfg = det.config
    images, names = _dataset_images(dataset, _NUM_SCORE_IMAGES)
    if not images:
        return _Section("scores", _note(f"{title} skipped: no readable item in "
                                        f"<code>{_esc(cfg.data.root)}</code>."))
    with torch.inference_mode():
        out = det.model.detect(torch.stack(images))
    missing = [k for k in ("scores", "prob_x", "prob_y") if k not in out]
    if missing:  # the contract's detect promises keypoints only
        return _Section("scores", _note(
            f"{title} skipped: model <code>{_esc(cfg.model.name)}</code>'s detect gives no "
            f"{_esc(', '.join(missing))}."))
    kp = out["keypoints"].float().numpy()
    sc = out["scores"].float().numpy()
    px_, py_ = out["prob_x"].float().numpy(), out["prob_y"].float().numpy()
    figs = []
    for i, name in enumerate(names):
        png = _score_map_figure(tensor_to_uint8(images[i]), kp[i], sc[i], px_[i], py_[i], name)
        figs.append(_img(png, f"score maps, {name}"))
    k, h, w = sc.shape[1:]
    frames = ", target frames" if cfg.data.kind == "video" else ""
    cap = (f"The newest checkpoint (<code>{_esc(checkpoint.name)}</code>) on "
           f"{len(figs)} images of its training data "
           f"(<code>{_esc(cfg.data.root)}</code>{frames}), as in Fig. 2 (right) of Jakab et al. "
           f"2018. Left: the image with the {k} detected keypoints. Top row of small tiles: each "
           f"keypoint's raw {h}×{w} score map, softmax-normalised over the map for display "
           f"(brightness ∝ probability, scaled to the tile's peak; the title gives the peak "
           f"probability, 1/{h * w} = {1 / (h * w):.2g} for a flat map), in the keypoint's "
           f"colour; + marks the keypoint. Below each tile: the "
           f"keypoint's marginal distributions along x (solid) and y (dashed) over the "
           f"normalised coordinate [−1, 1] (each is the softmax of the score map averaged over the "
           f"other axis; the keypoint is their expectation). A sharp, single-peaked marginal "
           f"means a confident keypoint; a flat one, none.")
    return _Section("scores", _caption(cap) + "".join(f"<figure>{f}</figure>" for f in figs))


def _swap_section(run: _RunModel) -> _Section:
    """Style/geometry swap grid (:func:`landmarks.swap.swap_grid`) on held-out images of the
    run's data (its "test" split when the reader has one, else training items)."""
    from PIL import Image

    title = SECTION_TITLES["swap"]
    if run.dataset is None:
        return _Section("swap", _note(f"{title} skipped: {run.note}"))
    dataset, what = ((run.held_out, "held-out item") if run.held_out is not None
                     and len(run.held_out) >= 2 * _NUM_SWAP_IMAGES
                     else (run.dataset, "training item"))
    images, names = _dataset_images(dataset, 2 * _NUM_SWAP_IMAGES, what, shuffle=True)
    if len(images) < 2:
        return _Section("swap", _note(f"{title} skipped: fewer than two readable images."))
    half = len(images) // 2
    try:
        import torch

        grid = swap_grid(run.detector, torch.stack(images[:half]), torch.stack(images[half:]))
    except Exception as err:  # noqa: BLE001 - e.g. a model that cannot render (swap.RendererError)
        return _Section("swap", _note(f"{title} skipped: {_esc(err)}"))
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG")
    split = ("the held-out (test) split" if what == "held-out item"
             else "the training data (the reader has no test split)")
    cap = (f"The newest checkpoint (<code>{_esc(run.checkpoint.name)}</code>) on {len(images)} "
           f"images of {split}. Top row: the style images ({_esc(', '.join(names[:half]))}); "
           f"left column: the geometry images ({_esc(', '.join(names[half:]))}), each with its "
           f"detected keypoints. Each other cell is the model's reconstruction from the style "
           f"image's appearance (the source) and the geometry image's keypoints (the target), as "
           f"in the disentangling figure of Jakab et al. 2018 (Fig. 7). When appearance and "
           f"geometry are disentangled, every row keeps its geometry image's shape and every "
           f"column its style image's appearance; <code>landmarks swap</code> makes the same grid "
           f"from any images.")
    return _Section("swap", _caption(cap) + "<figure>"
                    + _img(buf.getvalue(), "style/geometry swap grid") + "</figure>")


# ----------------------------------------------------------------------------------------------
# 5. evaluation


def _resolve_image(path: str, json_path: Path, root: str | None) -> Path | None:
    p = Path(path).expanduser()
    candidates = [p] if p.is_absolute() else [json_path.parent / p,
                                              *([Path(root) / p] if root else []), Path.cwd() / p]
    for c in candidates:
        if c.is_file():
            return c
    return None


def _group_plural(ev: dict[str, Any]) -> tuple[str, str]:
    """What a metric-``size`` result's groups are called: ("activity", "activities")."""
    group = str(ev.get("group_label") or "group")
    return group, "activities" if group == "activity" else f"{group}s"


def _size_error_table(ev: dict[str, Any]) -> str:
    """The error table of a metric-``size`` result (error in % of the image side)."""
    names = list(ev.get("point_names") or [])
    err = ev.get("size_error") if isinstance(ev.get("size_error"), dict) else {}
    grouped = isinstance(err.get("per_group"), dict) and bool(err.get("per_group"))
    _, plural = _group_plural(ev)
    n_points = max(len(names), len(_per_point_of(err)))
    names += [f"point {i}" for i in range(len(names), n_points)]
    head = (f"<th>mean over {_esc(plural)}</th>" if grouped else "") + "<th>mean over frames</th>"
    head += "".join(f"<th>{_esc(n)}</th>" for n in names)
    rows: list[str] = []

    def row(label: str, block: Any, css: str = "") -> None:
        block = block if isinstance(block, dict) else {"mean": block}
        per = _per_point_of(block)
        # the headline (bold) is the mean over groups when there are groups
        if grouped:
            cells = (f"<td><b>{_fmt(block.get('mean_over_groups'))}</b></td>"
                     f"<td>{_fmt(block.get('mean'))}</td>")
        else:
            cells = f"<td><b>{_fmt(block.get('mean'))}</b></td>"
        cells += "".join(f"<td>{_fmt(per[i]) if i < len(per) else '–'}</td>"
                         for i in range(n_points))
        cls = f' class="{css}"' if css else ""
        rows.append(f"<tr{cls}><th>{label}</th>{cells}</tr>")

    width = n_points + (2 if grouped else 1)
    k = ev.get("num_keypoints", "K")
    if err:
        row(f"Linear regression from the {k} discovered keypoints (test)", err, "ours")
    if ev.get("val_size_error") is not None:
        row("  same, validation split (held out of the labelled training images; mean over "
            "frames)", {"mean": _mean_of(ev["val_size_error"])})
    match = ev.get("matching")
    if isinstance(match, dict):
        if "skipped" in match:
            rows.append(f'<tr class="muted"><th>Hungarian matching (no regression)</th>'
                        f'<td colspan="{width}">skipped: {_esc(match["skipped"])}</td></tr>')
        elif isinstance(match.get("size_error"), dict):
            row("Hungarian matching: each point ← one raw keypoint (no regression)",
                match["size_error"])
    shape = ev.get("mean_shape")
    if isinstance(shape, dict) and isinstance(shape.get("size_error"), dict):
        row("Mean shape: the mean training label for every image (no detector)",
            shape["size_error"], "ref")
    pck = ev.get("pck") if isinstance(ev.get("pck"), dict) else {}
    if pck.get("at_6") is not None or pck.get("per_part_at_6"):
        per = pck.get("per_part_at_6") or []
        lead = ('<td></td>' if grouped else "") + f"<td><b>{_fmt(pck.get('at_6'), 1)}</b></td>"
        cells = "".join(f"<td>{_fmt(per[i], 1) if i < len(per) else '–'}</td>"
                        for i in range(n_points))
        thr = f"{pck['threshold']:g}" if _is_num(pck.get("threshold")) else "?"
        rows.append(f'<tr class="pck"><th>PCK@{thr}% of the image side, linear regression '
                    f"(%, higher is better)</th>{lead}{cells}</tr>")
    if not rows:
        return ""
    return (f'<table class="num"><tr><th>Error, % of the image side (lower is better)</th>'
            f"{head}</tr>{''.join(rows)}</table>")


def _group_table(ev: dict[str, Any]) -> str:
    """Per-group (Human3.6M: per-activity) errors of a metric-``size`` result, and their mean
    (the paper's figure)."""
    err = ev.get("size_error") if isinstance(ev.get("size_error"), dict) else {}
    per_group = err.get("per_group")
    if not isinstance(per_group, dict) or not per_group:
        return ""
    group, plural = _group_plural(ev)
    frames = err.get("group_frames") if isinstance(err.get("group_frames"), dict) else {}
    match = ev.get("matching") if isinstance(ev.get("matching"), dict) else {}
    m_err = match.get("size_error") if isinstance(match.get("size_error"), dict) else {}
    shape = ev.get("mean_shape") if isinstance(ev.get("mean_shape"), dict) else {}
    s_err = shape.get("size_error") if isinstance(shape.get("size_error"), dict) else {}
    m_groups = m_err.get("per_group") if isinstance(m_err.get("per_group"), dict) else {}
    s_groups = s_err.get("per_group") if isinstance(s_err.get("per_group"), dict) else {}
    rows = "".join(f"<tr><th>{_esc(g)}</th><td>{_fmt(frames.get(g), 0)}</td>"
                   f'<td class="ours">{_fmt(v)}</td><td>{_fmt(m_groups.get(g))}</td>'
                   f"<td>{_fmt(s_groups.get(g))}</td></tr>" for g, v in per_group.items())
    rows += (f'<tr class="pck"><th>mean over {_esc(plural)}</th><td></td>'
             f"<td><b>{_fmt(err.get('mean_over_groups'))}</b></td>"
             f"<td>{_fmt(m_err.get('mean_over_groups'))}</td>"
             f"<td>{_fmt(s_err.get('mean_over_groups'))}</td></tr>")
    return (f'<table class="num"><tr><th>{_esc(group)}</th><th>test frames</th>'
            f"<th>linear regression</th><th>Hungarian matching</th><th>mean shape</th></tr>"
            f"{rows}</table>")


def _metric_of(ev: dict[str, Any]) -> str:
    """The benchmark metric a ``landmarks eval`` result was scored with, told by its keys (as
    :func:`landmarks.evaluation.run.format_results` tells them): ``"size"`` (``size_error``,
    Human3.6M), ``"pck"`` (``pck`` without ``iod_error``, BBC-Pose) or ``"iod"`` (realfaces,
    MAFL, AFLW)."""
    if "size_error" in ev:
        return "size"
    if "iod_error" not in ev and isinstance(ev.get("pck"), dict):
        return "pck"
    return "iod"


def _pck_threshold(pck: dict[str, Any]) -> str:
    """The PCK threshold as written in labels ("6"); 6 when the result does not say."""
    return f"{pck['threshold']:g}" if _is_num(pck.get("threshold")) else "6"


def _matched_pck(ev: dict[str, Any]) -> dict[str, Any] | None:
    """The Hungarian-matching entry of a metric-``pck`` result when it holds PCK figures."""
    match = ev.get("matching")
    if isinstance(match, dict) and "skipped" not in match and (
            match.get("pck") is not None or isinstance(match.get("per_part_pck"), list)):
        return match
    return None


def _pct(v: Any) -> str:
    return f"{v:.1f}%" if _is_num(v) else "–"


def _pck_headline(ev: dict[str, Any]) -> str:
    """The headline of a metric-``pck`` result: PCK at the benchmark's threshold, in the
    dataset's original pixels, for the regressor and the matched raw keypoints."""
    pck = ev["pck"]
    thr = _pck_threshold(pck)
    size = ev.get("image_size")
    n_test = (ev.get("sizes") or {}).get("test") if isinstance(ev.get("sizes"), dict) else None
    k = ev.get("num_keypoints", "K")
    where = "on the test split" + (f" ({_fmt(n_test, 0)} images)" if _is_num(n_test) else "")
    inputs = f"the {_esc(size)}-px network input" if _is_num(size) else "the network input"
    bits = [f"<b>{_pct(pck.get('at_6'))}</b> with the linear regressor from the {_esc(k)} "
            f"discovered keypoints"]
    match = _matched_pck(ev)
    raw = ev.get("matching") if isinstance(ev.get("matching"), dict) else {}
    if match is not None:
        bits.append(f"<b>{_pct(match.get('pck'))}</b> with the Hungarian-matched raw "
                    f"keypoints (no regression)")
    elif "skipped" in raw:
        bits.append(f"Hungarian matching of the raw keypoints skipped ({_esc(raw['skipped'])})")
    return (f"<p><b>PCK@{thr} px</b> {where}; {thr} px in the dataset's original pixels, not "
            f"pixels of {inputs}: " + "; ".join(bits) + ".</p>")


def _pck_table(ev: dict[str, Any]) -> str:
    """The per-part table of a metric-``pck`` result (BBC-Pose): one row per labelled part,
    a column for the linear regressor and one for the Hungarian-matched raw keypoints."""
    pck = ev.get("pck") if isinstance(ev.get("pck"), dict) else {}
    thr = _pck_threshold(pck)
    per = pck.get("per_part_at_6") if isinstance(pck.get("per_part_at_6"), list) else []
    match = _matched_pck(ev)
    m_per = (match.get("per_part_pck") if match is not None
             and isinstance(match.get("per_part_pck"), list) else [])
    names = list(ev.get("point_names") or [])
    n_parts = max(len(names), len(per), len(m_per))
    if not n_parts and pck.get("at_6") is None:
        return ""
    names += [f"point {i}" for i in range(len(names), n_parts)]

    def cells(values: list[Any], i: int) -> str:
        return f"<td>{_fmt(values[i], 1) if i < len(values) else '–'}</td>"

    head = "<th>linear regression</th>"
    if match is not None:
        head += "<th>Hungarian-matched raw keypoints (no regression)</th>"
    rows = [f"<tr><th>{_esc(n)}</th>{cells(per, i)}"
            + (cells(m_per, i) if match is not None else "") + "</tr>"
            for i, n in enumerate(names)]
    total = f"<td><b>{_fmt(pck.get('at_6'), 1)}</b></td>"
    if match is not None:
        total += f"<td><b>{_fmt(match.get('pck'), 1)}</b></td>"
    label = f"all {n_parts} parts" if n_parts else "all parts"
    rows.append(f'<tr class="pck"><th>{label}</th>{total}</tr>')
    return (f'<table class="num"><tr><th>PCK@{thr} px per part: % of test points within {thr} '
            f"original px of the label (higher is better)</th>{head}</tr>{''.join(rows)}"
            f"</table>")


def _paper_and_notes(ev: dict[str, Any]) -> list[str]:
    """Captions quoting the paper's figure and the benchmark's notes, when the result has
    them."""
    parts = []
    if ev.get("paper_figure"):
        parts.append(_caption(f"Paper: {_esc(ev['paper_figure'])}."))
    notes = [n for n in ev.get("notes") or [] if isinstance(n, str) and n]
    if notes:  # one item each: the notes hold semicolons of their own
        parts.append('<div class="caption">Notes:<ul>'
                     + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul></div>")
    return parts


def _error_table(ev: dict[str, Any]) -> str:
    metric = _metric_of(ev)
    if metric == "size":
        return _size_error_table(ev)
    if metric == "pck":
        return _pck_table(ev)
    names = ev.get("point_names") or []
    iod = ev.get("iod_error")
    per_point = _per_point_of(iod)
    n_points = max(len(names), len(per_point),
                   len(_per_point_of((ev.get("baseline") or {}).get("iod_error"))))
    names = list(names) + [f"point {i}" for i in range(len(names), n_points)]
    head = "".join(f"<th>{_esc(n)}</th>" for n in names)
    rows: list[str] = []

    def row(label: str, mean: Any, per: list[Any], css: str = "") -> None:
        cells = "".join(f"<td>{_fmt(per[i]) if i < len(per) else '–'}</td>"
                        for i in range(n_points))
        cls = f' class="{css}"' if css else ""
        rows.append(f"<tr{cls}><th>{label}</th><td><b>{_fmt(mean)}</b></td>{cells}</tr>")

    def skipped(label: str, reason: Any) -> None:
        rows.append(f'<tr class="muted"><th>{label}</th><td colspan="{n_points + 1}">skipped: '
                    f"{_esc(reason)}</td></tr>")

    k = ev.get("num_keypoints", "K")
    if iod is not None:
        row(f"Linear regression from the {k} discovered keypoints (test)", _mean_of(iod),
            per_point, "ours")
    if ev.get("val_iod_error") is not None:
        val = ev["val_iod_error"]
        row("  same, validation split (held out of the labelled training images)",
            _mean_of(val), _per_point_of(val))
    match = ev.get("matching")
    if isinstance(match, dict):
        if "skipped" in match:
            skipped("Hungarian matching (no regression)", match["skipped"])
        elif match.get("iod_error") is not None:
            row("Hungarian matching: each point ← one raw keypoint (no regression)",
                _mean_of(match["iod_error"]), _per_point_of(match["iod_error"]))
    base = ev.get("baseline")
    if isinstance(base, dict):
        if "skipped" in base:
            skipped("Supervised baseline", base["skipped"])
        elif base.get("iod_error") is not None:
            row(f"Supervised baseline: {_esc(base.get('name', '?'))}",
                _mean_of(base["iod_error"]), _per_point_of(base["iod_error"]), "baseline")
    shape = ev.get("mean_shape")
    if isinstance(shape, dict) and shape.get("iod_error") is not None:
        row("Mean shape: the mean training label for every image (no detector)",
            _mean_of(shape["iod_error"]), _per_point_of(shape["iod_error"]), "ref")
    groups = ev.get("iod_error_by_group")
    for name, block in (groups.items() if isinstance(groups, dict) else ()):
        if isinstance(block, dict):  # realfaces: the regressor's error per test source
            seen = {True: ", people seen in training", False: ", unseen people"}.get(
                block.get("person_in_train"), "")
            row(_esc(f"  linear regression, test source {name} ({block.get('frames', '?')} "
                     f"images{seen})"), block.get("mean"), list(block.get("per_point") or []))
    pck = ev.get("pck") if isinstance(ev.get("pck"), dict) else {}
    pck_rows = []
    if pck.get("at_6") is not None or pck.get("per_part_at_6"):
        per = pck.get("per_part_at_6") or []
        cells = "".join(f"<td>{_fmt(per[i], 1) if i < len(per) else '–'}</td>"
                        for i in range(n_points))
        pck_rows.append(f'<tr class="pck"><th>PCK@6 px, linear regression (%, higher is '
                        f"better)</th><td><b>{_fmt(pck.get('at_6'), 1)}</b></td>{cells}</tr>")
    if isinstance(base, dict) and _is_num(base.get("pck_at_6")):
        pck_rows.append(f"<tr><th>PCK@6 px, supervised baseline (%)</th>"
                        f"<td><b>{_fmt(base['pck_at_6'], 1)}</b></td>"
                        f'<td colspan="{n_points}"></td></tr>')
    if not rows and not pck_rows:
        return ""
    return (f'<table class="num"><tr><th>IOD error, % of the inter-ocular distance '
            f"(lower is better)</th><th>mean</th>{head}</tr>{''.join(rows)}"
            f"{''.join(pck_rows)}</table>")


def _pck_figure(pck: dict[str, Any], unit: str = "pixels", suffix: str | None = None,
                matched: Any = None) -> bytes | None:
    """The PCK curve of the regressed points against the threshold (x axis in ``unit``), its
    value at the result's threshold marked (``PCK@<threshold><suffix>``; ``suffix`` defaults to
    "%" for a unit other than pixels), and ``matched``, the Hungarian-matched raw keypoints' PCK
    at that threshold, marked too when it is a number."""
    t, c = pck.get("thresholds"), pck.get("curve")
    if not isinstance(t, list) or not isinstance(c, list) or not t or len(t) != len(c):
        return None
    t = np.asarray([v if _is_num(v) else np.nan for v in t], dtype=float)
    c = np.asarray([v if _is_num(v) else np.nan for v in c], dtype=float)
    fig = _new_figure(4.6, 3.3)
    ax = fig.add_subplot()
    ax.plot(t, c, lw=1.6, marker="." if len(t) < 30 else None)
    at = pck.get("threshold") if _is_num(pck.get("threshold")) else 6
    if suffix is None:
        suffix = "%" if unit != "pixels" else ""
    if _is_num(pck.get("at_6")):
        ax.plot([at], [pck["at_6"]], "o", color="C3",
                label=f"PCK@{at:g}{suffix} = {pck['at_6']:.1f}%")
    if _is_num(matched):
        ax.plot([at], [matched], "s", color="C2", mfc="none", mew=1.4,
                label=f"Hungarian-matched: {matched:.1f}%")
    if _is_num(pck.get("at_6")) or _is_num(matched):
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel(f"threshold ({unit})", fontsize=9)
    ax.set_ylabel("points within threshold (%)", fontsize=9)
    ax.set_ylim(-2 if _is_num(matched) else 0, 101)  # a matched PCK of 0 stays visible
    ax.set_title("PCK curve (linear regression, test)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=8)
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.15, top=0.9)
    return _fig_png(fig)


def _sample_efficiency_figure(ev: dict[str, Any]) -> bytes | None:
    se = [r for r in ev.get("sample_efficiency") or []
          if isinstance(r, dict) and _is_num(r.get("n")) and _is_num(r.get("mean"))]
    if not se:
        return None
    n = np.array([r["n"] for r in se], dtype=float)
    mean = np.array([r["mean"] for r in se], dtype=float)
    std = np.array([r.get("std") if _is_num(r.get("std")) else 0.0 for r in se], dtype=float)
    fig = _new_figure(4.6, 3.3)
    ax = fig.add_subplot()
    ax.errorbar(n, mean, yerr=std, fmt="o-", capsize=3, lw=1.4, ms=4,
                label="regression on n labelled images")
    size = "size_error" in ev
    full = _mean_of(ev.get("size_error" if size else "iod_error"))
    if _is_num(full):
        ntr = (ev.get("sizes") or {}).get("train_labelled")
        ax.axhline(full, color="C2", ls=":", lw=1.2,
                   label=f"all {ntr} labelled" if ntr else "all labelled images")
    base = ev.get("baseline")
    if isinstance(base, dict) and _is_num(_mean_of(base.get("iod_error"))):
        ax.axhline(_mean_of(base["iod_error"]), color="C3", ls="--", lw=1.2,
                   label=f"supervised: {base.get('name', 'baseline')}")
    if (n > 0).all():
        ax.set_xscale("log")
    ax.set_xlabel("labelled training images n (log scale)", fontsize=9)
    ax.set_ylabel("error (% of image side)" if size else "IOD error (%)", fontsize=9)
    ax.set_title("Sample efficiency (mean ± std over draws)", fontsize=10)
    ax.grid(True, alpha=0.3, which="both")
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.15, top=0.9)
    return _fig_png(fig)


def _examples_figure(ev: dict[str, Any], json_path: Path) -> tuple[bytes | None, int]:
    from matplotlib.lines import Line2D
    from PIL import Image

    examples = [e for e in ev.get("examples") or [] if isinstance(e, dict) and "image" in e]
    examples = examples[:_MAX_EXAMPLES]
    if not examples:
        return None, 0
    ncols = min(len(examples), 4)
    nrows = math.ceil(len(examples) / ncols)
    fig = _new_figure(2.75 * ncols, 2.75 * nrows + 0.45)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    found = 0
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, ex in zip(axes.flat, examples, strict=False):
        path = _resolve_image(str(ex["image"]), json_path, ev.get("root"))
        name = str(ex.get("id") or Path(str(ex["image"])).name)
        if path is None:
            ax.text(0.5, 0.5, f"image not found:\n{name}", ha="center", va="center",
                    fontsize=8, transform=ax.transAxes, wrap=True)
            continue
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"))
        except OSError:
            ax.text(0.5, 0.5, f"image not readable:\n{name}", ha="center", va="center",
                    fontsize=8, transform=ax.transAxes)
            continue
        found += 1
        ax.imshow(arr)
        labels = np.asarray(ex.get("labels") or np.zeros((0, 2)), dtype=float).reshape(-1, 2)
        reg = np.asarray(ex.get("regressed") or np.zeros((0, 2)), dtype=float).reshape(-1, 2)
        cols = keypoint_colors(max(len(labels), len(reg))) / 255.0
        for (lx, ly), (rx, ry) in zip(labels, reg, strict=False):
            ax.plot([lx, rx], [ly, ry], color="white", lw=0.9, alpha=0.85)
        if len(labels):
            ax.scatter(labels[:, 0], labels[:, 1], s=70, facecolors="none", edgecolors="black",
                       linewidths=2.8, zorder=3)
            ax.scatter(labels[:, 0], labels[:, 1], s=70, facecolors="none", edgecolors="white",
                       linewidths=1.4, zorder=4)
        if len(reg):
            ax.scatter(reg[:, 0], reg[:, 1], s=26, c=cols[: len(reg)], edgecolors="black",
                       linewidths=0.7, zorder=5)
        title = name if len(name) <= 28 else "…" + name[-27:]
        h, w = arr.shape[:2]
        if len(labels) and len(labels) == len(reg):
            title += f"\nmean {np.linalg.norm(labels - reg, axis=1).mean():.1f} px off"
        outside = int(((reg < -0.5) | (reg > np.array([w, h]) - 0.5)).any(axis=1).sum())
        if outside:
            title += f", {outside} outside the image"
        ax.set_title(title, fontsize=7)
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
    handles = [
        Line2D([], [], ls="none", marker="o", ms=8, mfc="none", mec="black", mew=1.4,
               label="label (from a supervised model)"),
        Line2D([], [], ls="none", marker="o", ms=6, mfc="C0", mec="black",
               label="regressed from discovered keypoints (point colour)"),
    ]
    fig.legend(handles=handles, loc="upper center", ncol=2, fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, wspace=0.05, hspace=0.25,
                        top=1.0 - 0.45 / (2.75 * nrows + 0.45) - 0.02)
    return _fig_png(fig), found


def _eval_block(ev: dict[str, Any], json_path: Path) -> str:
    parts = [f"<h3>{_esc(json_path.name)}</h3>"]
    note = ev.get("labels_note")
    if note:
        parts.append(f'<p class="warn"><b>About the labels:</b> {_esc(note)}</p>')
    else:
        parts.append('<p class="warn"><b>About the labels:</b> this evaluation file does not say '
                     "where its labels come from (no <code>labels_note</code>).</p>")
    meta = []
    for key, label in (("checkpoint", "Checkpoint"), ("dataset", "Dataset"), ("root", "Root"),
                       ("num_keypoints", "Discovered keypoints K"),
                       ("image_size", "Model input size"), ("crop_size", "Crop size")):
        if ev.get(key) is not None:
            v = ev[key]
            if key == "crop_size" and v == ev.get("image_size"):
                continue  # registered benchmarks: the network input; their notes give the crop
            val = f"<code>{_esc(v)}</code>" if key in ("checkpoint", "root") else _esc(v)
            meta.append((label, val))
    sizes = ev.get("sizes")
    if isinstance(sizes, dict) and sizes:
        meta.append(("Images", ", ".join(f"{_esc(k).replace('_', ' ')}: {_esc(v)}"
                                         for k, v in sizes.items())))
    base = ev.get("baseline")
    if isinstance(base, dict) and base.get("missing") not in (None, 0, [], ""):
        meta.append(("Baseline missing", _esc(base["missing"])))
    if meta:
        parts.append('<table class="kv">' + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>"
                                                    for k, v in meta) + "</table>")
    table = _error_table(ev)
    metric = _metric_of(ev)
    size = metric == "size"
    if table and size:
        group, plural = _group_plural(ev)
        parts.append(_caption(
            "The linear-regression protocol of Jakab et al. 2018: the detector is frozen, a "
            "bias-free linear map from the discovered keypoints to the labelled points is fitted "
            "on 90% of the labelled training images, and the test error is the mean distance to "
            "the labels in % of the image side (the Human3.6M metric of Zhang et al. 2018), "
            "overall and per point"
            + (f"; the paper's figure is the error averaged per {_esc(group)}, then over the "
               f"{_esc(plural)} (<b>mean over {_esc(plural)}</b>); the mean over frames weights "
               f"{_esc(plural)} by their frame counts" if _group_table(ev) else "")
            + ". PCK: % of points within the threshold (in % of the image side) of the label."))
        parts.append(table)
        groups = _group_table(ev)
        if groups:
            parts.append(_caption(f"Error per {_esc(group)} (% of the image side, test split)."))
            parts.append(groups)
        parts += _paper_and_notes(ev)
    elif metric == "pck":
        thr = _pck_threshold(ev["pck"])
        parts.append(_pck_headline(ev))
        parts.append(_caption(
            "The linear-regression protocol of Jakab et al. 2018: the detector is frozen, a "
            "bias-free linear map from the discovered keypoints to the labelled points is fitted "
            f"on all labelled training images, and the test score is PCK@{thr} px, the % of test "
            f"points within {thr} px of their label, with distances measured in the dataset's "
            "original pixels (higher is better), overall and per part."
            + (" The Hungarian-matched column needs no regression: each labelled part takes one "
               "raw keypoint, the one-to-one assignment being chosen on the labelled training "
               "images." if _matched_pck(ev) is not None else "")))
        if table:
            parts.append(table)
        parts += _paper_and_notes(ev)
        if isinstance(base, dict) and "skipped" in base:
            parts.append(_caption(f"Supervised baseline: skipped ({_esc(base['skipped'])})."))
    elif table:
        parts.append(_caption(
            "The linear-regression protocol of Jakab et al. 2018: the detector is frozen, a "
            "bias-free linear map from the discovered keypoints to the labelled points is fitted "
            "on the labelled training images, and the test error is the mean distance to the "
            "labels in % of the inter-ocular distance, overall and per point. PCK@6: % of points "
            "within 6 pixels of the label" + (
                f" (pixels of the {_esc(ev.get('crop_size'))}-px crop)"
                if ev.get("dataset") == "realfaces" else
                " (pixels of the dataset's original images where the benchmark has one scale "
                "to them, see its notes)") + "." + (
                " The supervised baseline row is a model trained with labels, for scale."
                if isinstance(base, dict) and "skipped" not in base else "")))
        parts.append(table)
        parts += _paper_and_notes(ev)
    match = ev.get("matching")
    if isinstance(match, dict) and "skipped" not in match:
        bits = []
        if match.get("assignment") is not None:
            bits.append(f"assignment (point ← keypoint): <code>{_esc(match['assignment'])}</code>")
        if match.get("assignment_from"):
            bits.append(f"assignment chosen on the {_esc(match['assignment_from'])} images")
        if _is_num(match.get("mean_error_px")):
            per = [_fmt(v, 1) for v in match.get("per_point_error_px") or []]
            unit = "original px" if metric == "pck" else "px"
            bits.append(f"mean error {match['mean_error_px']:.2f} {unit}"
                        + (f" (per point: {', '.join(per)})" if per else ""))
        if bits:
            parts.append(_caption("Hungarian matching: " + "; ".join(bits) + "."))
    if isinstance(base, dict) and "skipped" not in base:
        bits = [_esc(base[k]) for k in ("version", "note") if base.get(k)]
        if _is_num(base.get("frames")):
            bits.append(f"{int(base['frames'])} frames")
        if bits:
            parts.append(_caption(f"Baseline {_esc(base.get('name', ''))}: "
                                  + "; ".join(bits) + "."))
    shape = ev.get("mean_shape")
    if isinstance(shape, dict) and shape.get("note"):
        parts.append(_caption(f"Mean shape: {_esc(shape['note'])}."))
    plots = []
    pck = ev.get("pck")
    if isinstance(pck, dict):
        if metric == "pck":
            match = _matched_pck(ev)
            png = _pck_figure(pck, "original pixels", " px",
                              match.get("pck") if match is not None else None)
            cap = ("Share of test points (linear regression) within a distance of their label, "
                   "for each threshold in the dataset's original pixels"
                   + ("; the square marks the Hungarian-matched raw keypoints at "
                      f"{_pck_threshold(pck)} px" if match is not None
                      and _is_num(match.get("pck")) else "") + ".")
        else:
            png = _pck_figure(pck, "% of image side" if size else "pixels")
            cap = ("Share of test points (linear regression) within a distance of their label, "
                   "for each threshold.")
        if png:
            plots.append(_figure(png, "PCK curve", cap))
    png = _sample_efficiency_figure(ev)
    if png:
        plots.append(_figure(png, "sample efficiency",
                             "Test error of the regressor fitted on only n labelled images, "
                             "mean ± standard deviation over random draws of the n images."))
    if plots:
        parts.append(f'<div class="row">{"".join(plots)}</div>')
    se = [r for r in ev.get("sample_efficiency") or [] if isinstance(r, dict)]
    if se:
        cells = "".join(f"<tr><td>{_fmt(r.get('n'), 0)}</td><td>{_fmt(r.get('mean'))}</td>"
                        f"<td>{_fmt(r.get('std'))}</td><td>{_fmt(r.get('draws'), 0)}</td></tr>"
                        for r in se)
        what = "mean error, % of image side" if size else "mean IOD error %"
        parts.append(f'<table class="num"><tr><th>n labelled</th><th>{what}</th>'
                     f"<th>std</th><th>draws</th></tr>{cells}</table>")
    png, found = _examples_figure(ev, json_path)
    if png:
        names = ev.get("point_names") or []
        cols = keypoint_colors(len(names)) if names else np.zeros((0, 3), np.uint8)
        legend = ", ".join(f"{_swatch(c)} {_esc(n)}" for n, c in zip(names, cols, strict=True))
        n_ex = min(len(ev.get("examples") or []), _MAX_EXAMPLES)
        cap = ("Regressed vs labelled points on test images: white rings are the labels, "
               "filled dots the points regressed from the discovered keypoints, a white line "
               "joins each pair" + (f" ({legend})" if legend else "") + ". "
               + (f"{n_ex - found} of {n_ex} images could not be found. " if found < n_ex
                  else "")
               + (f"<b>Labels: {_esc(note)}</b>" if note else ""))
        parts.append(_figure(png, "regressed vs labelled points", cap))
    return "".join(parts)


def _eval_section(files: list[Path]) -> _Section:
    blocks = []
    for path in files:
        try:
            ev = json.loads(path.read_text())
            if not isinstance(ev, dict):
                raise ValueError(f"expected a JSON object, found {type(ev).__name__}")
        except (OSError, ValueError) as err:
            blocks.append(f"<h3>{_esc(path.name)}</h3>" + _note(
                f"<code>{_esc(path)}</code> could not be read: {_esc(err)}"))
            continue
        try:
            blocks.append(_eval_block(ev, path))
        except Exception as err:  # noqa: BLE001 - an odd file must not sink the report
            blocks.append(f"<h3>{_esc(path.name)}</h3>" + _note(
                f"<code>{_esc(path)}</code> could not be shown: {type(err).__name__}: "
                f"{_esc(err)}"))
    cap = ("Landmark accuracy from " + ", ".join(f"<code>{_esc(p)}</code>" for p in files)
           + " (written by <code>landmarks eval</code>).")
    return _Section("eval", _caption(cap) + "".join(blocks))


# ----------------------------------------------------------------------------------------------
# 6. detection overlay


def _detect_section(videos: list[Path], sheets: list[Path], out_dir: Path) -> _Section:
    parts = []
    if videos:
        video = max(videos, key=lambda p: (p.stat().st_mtime, p.name))
        size = video.stat().st_size
        more = f" (the newest of {len(videos)} videos there)" if len(videos) > 1 else ""
        if size <= VIDEO_INLINE_LIMIT:
            uri = "data:video/mp4;base64," + base64.b64encode(video.read_bytes()).decode("ascii")
            parts.append(f'<video controls loop muted autoplay playsinline src="{uri}">'
                         f"Your browser cannot play this mp4.</video>")
            where = "embedded in this page"
        else:
            try:
                href = Path(os.path.relpath(video.resolve(), out_dir.resolve())).as_posix()
            except ValueError:  # another drive (Windows)
                href = video.resolve().as_uri()
            parts.append(f'<p><a href="{_esc(href)}">{_esc(video.name)}</a> '
                         f"({size / 2**20:.1f} MB)</p>")
            where = (f"linked, not embedded: {size / 2**20:.0f} MB is over the "
                     f"{VIDEO_INLINE_LIMIT // 2**20} MB limit; the link is relative to this page")
        parts.append(_caption(f"<code>detect/{_esc(video.name)}</code>{more}, {where}: "
                              "<code>landmarks detect --overlay</code> output, the detected "
                              "keypoints drawn on every frame in their colours."))
    for sheet in sheets:
        parts.append(_figure(sheet.read_bytes(), sheet.name,
                             f"<code>detect/{_esc(sheet.name)}</code>: a contact sheet of "
                             "frames with the detected keypoints."))
    return _Section("detect", "".join(parts))


# ----------------------------------------------------------------------------------------------
# page


_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#eef0f3;color:#1c2128;
 font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 font-size:15px;line-height:1.45}
main{max-width:1160px;margin:0 auto;padding:20px 28px 40px;background:#fff;min-height:100vh}
h1{font-size:1.55em;margin:0.2em 0 0.3em}
h2{font-size:1.25em;margin:1.8em 0 0.4em;padding-bottom:3px;border-bottom:2px solid #d5d9df}
h3{font-size:1.05em;margin:1.2em 0 0.4em}
nav{font-size:0.92em;color:#555}
nav a{color:#2457a6;text-decoration:none;margin-right:1em}
table{border-collapse:collapse;margin:0.4em 0 1em;font-size:0.92em}
th,td{border:1px solid #c5cad1;padding:3px 8px;vertical-align:top}
th{background:#f4f5f7;text-align:left;font-weight:600}
table.num td{text-align:right;font-variant-numeric:tabular-nums}
table.num tr.ours th,table.num tr.ours td{background:#eef5ff}
table.num tr.baseline th,table.num tr.baseline td{background:#f6f6f6}
table.num tr.muted td{color:#777;text-align:left}
table.num tr.ref th,table.num tr.ref td{color:#666}
table.num tr.pck th,table.num tr.pck td{border-top:2px solid #9aa3ad}
img{max-width:100%;height:auto;display:block}
video{max-width:100%;width:512px;background:#000;display:block}
figure{margin:0.3em 0 1.2em}
figcaption,.caption{color:#454c55;font-size:0.9em;margin:0.3em 0 0.7em}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.row figure{flex:1 1 300px;min-width:0}
.note{background:#f3f4f6;border-left:4px solid #9aa3ad;padding:6px 10px}
.warn{background:#fff5d1;border-left:5px solid #e0a400;padding:8px 12px;font-size:1.02em}
.bad{color:#b3261e}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:0.9em;background:#f1f2f4;
 padding:0 3px;border-radius:3px;word-break:break-all}
.swatch{display:inline-block;width:0.8em;height:0.8em;border:1px solid #333;
 vertical-align:-0.1em}
"""

_CSP = ("default-src 'none'; img-src data:; media-src data: 'self'; "
        "style-src 'unsafe-inline'")


def build_report(run_dir: str | Path, eval_files: list[Path] | None = None,
                 out_dir: str | Path | None = None) -> str:
    """The report's HTML text (see :func:`write_report`); ``out_dir`` is where the page will
    live (links to files too large to embed are relative to it; default ``run_dir``)."""
    run_dir = Path(run_dir)
    _check_run_dir(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir
    checkpoint = latest_checkpoint(run_dir)
    cfg, cfg_note = _load_run_config(run_dir, checkpoint)
    metrics_path = run_dir / "metrics.csv"
    try:
        metrics = read_metrics(metrics_path) if metrics_path.is_file() else {}
    except (OSError, csv.Error) as err:
        raise ReportError(f"{metrics_path} could not be read: {err}") from err

    sections: list[_Section] = []
    not_shown: list[str] = []
    if "step" in metrics and len(metrics["step"]):
        sections.append(_loss_section(metrics))
    else:
        not_shown.append(f"{SECTION_TITLES['loss'].lower()} (no rows in metrics.csv)")
    quads = sorted((p for p in (run_dir / "quadruplets").glob("step_*.png")), key=_step_of)
    if quads:
        sections.append(_quadruplet_section(quads))
    else:
        not_shown.append("quadruplets (no quadruplets/step_*.png)")
    if checkpoint is not None:
        run = _load_run_model(checkpoint)
        sections.append(_score_section(run))
        if not isinstance(run, str):
            sections.append(_swap_section(run))
    else:
        not_shown.append("score maps and style/geometry swap (no checkpoint)")
    if eval_files is None:
        eval_files = sorted((run_dir / "eval").glob("*.json"))
    if eval_files:
        sections.append(_eval_section(list(eval_files)))
    else:
        not_shown.append("evaluation (no eval/*.json; run <code>landmarks eval</code>)")
    videos = sorted((run_dir / "detect").glob("*.mp4"))
    sheets = sorted((run_dir / "detect").glob("*_frames.png"))
    if videos or sheets:
        sections.append(_detect_section(videos, sheets, out_dir))
    else:
        not_shown.append("detection overlay (no detect/*.mp4)")
    sections.insert(0, _run_section(run_dir, cfg, cfg_note, metrics, checkpoint, not_shown))

    name = run_dir.resolve().name
    nav = "".join(f'<a href="#{s.key}">{_esc(SECTION_TITLES[s.key])}</a>' for s in sections)
    body = "".join(f'<section id="{s.key}"><h2>{_esc(SECTION_TITLES[s.key])}</h2>{s.body}'
                   f"</section>" for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Landmarks run report: {_esc(name)}</title><style>{_CSS}</style></head>\n"
        f"<body><main><h1>Landmarks run report: {_esc(name)}</h1><nav>{nav}</nav>\n"
        f"{body}\n</main></body></html>\n"
    )


def write_report(run_dir: Path, out: Path | None = None, eval_files: list[Path] | None = None,
                 force: bool = False) -> Path:
    """Write the run's self-contained HTML report and return its path.

    Args:
        run_dir: a ``landmarks train`` run folder (it must hold ``metrics.csv`` or a
            checkpoint; otherwise :class:`ReportError` names it).
        out: the HTML file; default ``run_dir/report.html``.
        eval_files: ``landmarks eval`` JSON files; default ``run_dir/eval/*.json``. A named
            file that does not exist is a :class:`FileNotFoundError`.
        force: overwrite an existing ``out`` (otherwise :class:`FileExistsError`, and the
            existing file is left as it is).
    """
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "report.html"
    _check_run_dir(run_dir)
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; pass --force to overwrite it")
    if out.exists() and out.is_dir():
        raise IsADirectoryError(f"--out {out} is a folder; expected an .html file path")
    if eval_files is not None:
        eval_files = [Path(p) for p in eval_files]
        for p in eval_files:
            if not p.is_file():
                raise FileNotFoundError(f"eval file {p} does not exist")
    text = build_report(run_dir, eval_files, out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
