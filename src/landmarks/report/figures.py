"""The report's figures, drawn with matplotlib's Agg renderer through
:class:`matplotlib.figure.Figure` (pyplot's global state is never touched): loss curves, score
maps, PCK and sample-efficiency curves, labelled vs regressed points. Drawing only: the
functions take arrays and result dicts, and load no checkpoint."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from landmarks.report.html import (
    _KNOWN_COLUMNS,
    _MAX_EXAMPLES,
    _is_num,
    _mean_of,
)
from landmarks.visualize.colors import keypoint_colors
from landmarks.visualize.overlay import draw_keypoints
from landmarks.visualize.quadruplet import normalized_to_pixel_np

_DPI = 100


def _new_figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=_DPI)


def _fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


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
    if "health/detector_rms" in metrics:
        panels.append(("detector weights (rms / initial)", ["health/detector_rms"]))
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



def _resolve_image(path: str, json_path: Path, root: str | None) -> Path | None:
    p = Path(path).expanduser()
    candidates = [p] if p.is_absolute() else [json_path.parent / p,
                                              *([Path(root) / p] if root else []), Path.cwd() / p]
    for c in candidates:
        if c.is_file():
            return c
    return None


def _animation_figure(source: np.ndarray, driving: np.ndarray, results: np.ndarray,
                      source_keypoints: np.ndarray, driving_keypoints: np.ndarray,
                      motion_keypoints: np.ndarray, cell: int = 96) -> bytes:
    """The animation strip as PNG bytes: top row the source (its keypoints drawn) then the
    driving frames (theirs); bottom row, under each driving frame, the generated frame (the
    motion's keypoints). ``source`` ``(S, S, 3)``, ``driving`` / ``results`` ``(N, S, S, 3)``
    uint8; keypoints normalised, ``(K, 2)`` and ``(N, K, 2)``. Cells of ``max(S, cell)`` px,
    2-pixel white separators, an 8-pixel gap after the source column."""
    n, s = len(driving), max(int(source.shape[0]), int(cell))
    colors = keypoint_colors(len(source_keypoints))
    sep, gap = 2, 8

    def tile(img: np.ndarray, kp: np.ndarray) -> np.ndarray:
        arr = np.asarray(Image.fromarray(img).resize((s, s), Image.Resampling.BILINEAR))
        return draw_keypoints(arr, normalized_to_pixel_np(kp, s, s), colors)

    width = sep + s + gap + n * (s + sep)
    canvas = np.full((sep + 2 * (s + sep), width, 3), 255, np.uint8)
    canvas[sep:sep + s, sep:sep + s] = tile(source, source_keypoints)
    for i in range(n):
        left = sep + s + gap + i * (s + sep)
        canvas[sep:sep + s, left:left + s] = tile(driving[i], driving_keypoints[i])
        top = 2 * sep + s
        canvas[top:top + s, left:left + s] = tile(results[i], motion_keypoints[i])
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format="PNG")
    return buf.getvalue()
