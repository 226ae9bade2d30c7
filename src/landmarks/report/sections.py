"""The report's sections that read the run: header, loss curves, quadruplets, score maps, the
style/geometry swap and the animation (these load the newest checkpoint through
:class:`landmarks.inference.Detector`), and the detection overlay."""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarks import __version__
from landmarks.commands.animate import animate_frames
from landmarks.commands.swap import swap_grid
from landmarks.data import build_dataset
from landmarks.data.realfaces import RealFaces, load_manifest
from landmarks.data.transforms import read_image_uint8, uint8_to_tensor
from landmarks.inference import Detector
from landmarks.losses import fitting_layers
from landmarks.report.figures import (
    _PRIOR_COLUMNS,
    _animation_figure,
    _loss_figure,
    _score_map_figure,
)
from landmarks.report.html import (
    _MAX_VIDEO_FRAMES,
    _NUM_ANIMATION_FRAMES,
    _NUM_SCORE_IMAGES,
    _NUM_SWAP_IMAGES,
    SECTION_TITLES,
    _caption,
    _esc,
    _figure,
    _img,
    _note,
    _Section,
    _step_of,
)
from landmarks.visualize.overlay import tensor_to_uint8

VIDEO_INLINE_LIMIT = 20 * 1024 * 1024
"""Videos up to this many bytes are embedded; larger ones are linked (relative path)."""


# ----------------------------------------------------------------------------------------------
# 1. header


def _run_section(run_dir: Path, cfg: Any, cfg_note: str, metrics: dict[str, np.ndarray],
                 checkpoint: Path | None, not_shown: list[str]) -> _Section:
    rows: list[tuple[str, str]] = [("Run folder", f"<code>{_esc(run_dir.resolve())}</code>")]
    if cfg is not None:
        m, d, t, lo, o = cfg.model, cfg.data, cfg.train, cfg.loss, cfg.optim
        sizes = ((f", score maps {m.heatmap_size}×{m.heatmap_size}"
                  if "heatmap_size" in m.args else "")
                 + (f", width {_esc(m.width)}" if "width" in m.args else ""))
        rows.append(("Model", f"{_esc(m.name)}: K = <b>{m.num_keypoints}</b> keypoints, "
                              f"image size <b>{m.image_size}</b> px{sizes}"))
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
                "place or line), the mean peak probability of the softmax marginals (1/16 "
                "for a flat 16-bin marginal) and the landmark branch's weight rms relative to "
                "its start (a fall toward 0 means weight decay is crushing the detector).")
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
    """Style/geometry swap grid (:func:`landmarks.commands.swap.swap_grid`) on held-out images
    of the run's data (its "test" split when the reader has one, else training items)."""
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
# animation (models that animate)


@dataclass
class _AnimationInputs:
    """A source image and driving frames for the animation section, with their descriptions
    (HTML) for the caption."""

    source: np.ndarray  # (S, S, 3) uint8
    driving: np.ndarray  # (N, S, S, 3) uint8, the first the reference of relative motion
    frame_numbers: list[int]
    source_what: str
    driving_what: str


def _find_realfaces(root: str) -> RealFaces | None:
    """The RealFaces benchmark that ``root`` (a run's ``data.root``) lies in, if any: the
    nearest folder at or above it that holds a readable RealFaces ``manifest.json``."""
    if not root:
        return None
    path = Path(root).expanduser()
    for folder in (path, *path.parents):
        if (folder / "manifest.json").is_file():
            try:
                return load_manifest(folder)
            except Exception:  # noqa: BLE001 - another kind of manifest, or a broken one
                return None
    return None


def _spread(n: int, count: int) -> list[int]:
    """``count`` frame numbers from 0 to ``n - 1``, evenly spread (the first is 0)."""
    return sorted({int(round(v)) for v in np.linspace(0, n - 1, min(n, count))})


def _realfaces_animation_inputs(rf: RealFaces, size: int) -> _AnimationInputs | str:
    """Driving: the longest RealFaces test clip of a person not in training (else of anyone);
    source: a test photo (else a test-clip frame) of another person, unseen in training where
    there is one."""
    test = rf.split("test")
    clips: dict[str, list[Any]] = {}
    for f in test:
        if f.frame is not None:
            clips.setdefault(f.clip, []).append(f)
    clips = {c: sorted(fs, key=lambda f: f.frame) for c, fs in clips.items() if len(fs) >= 2}
    if not clips:
        return f"the RealFaces test split of <code>{_esc(rf.root)}</code> holds no clip"
    clip = max(clips, key=lambda c: (not clips[c][0].person_in_train, len(clips[c]), c))
    frames = clips[clip]
    person = frames[0].person
    others = [f for f in test if f.person != person]
    if not others:
        return (f"the RealFaces test split of <code>{_esc(rf.root)}</code> holds no person "
                f"other than the driving clip's")
    src = min(others, key=lambda f: (f.person_in_train, f.frame is not None, test.index(f)))
    picks = _spread(len(frames), _NUM_ANIMATION_FRAMES)
    driving = np.stack([read_image_uint8(frames[i].image, size) for i in picks])
    source = read_image_uint8(src.image, size)
    seen = "seen in training (later frames)" if frames[0].person_in_train else \
        "not in training"
    src_kind = "photo" if src.frame is None else f"clip frame {src.frame}"
    src_seen = "seen in training" if src.person_in_train else "not in training"
    return _AnimationInputs(
        source, driving, [int(frames[i].frame) for i in picks],
        f"RealFaces test {src_kind} <code>{_esc(src.id)}</code> (person "
        f"<code>{_esc(src.person)}</code>, {src_seen})",
        f"RealFaces held-out test clip <code>{_esc(clip)}</code> (person "
        f"<code>{_esc(person)}</code>, {seen}; {len(frames)} test frames)")


def _clip_frames(dataset: Any, index: int, size: int, crop: Any) -> np.ndarray | None:
    """All frames of video ``index`` of a :class:`~landmarks.data.VideoFramePairs`-like dataset
    as ``(N, S, S, 3)`` uint8 (``None`` when they cannot be read)."""
    video = dataset.videos[index]
    try:
        if video.frame_paths:
            return np.stack([read_image_uint8(p, size, crop) for p in video.frame_paths])
        got = dataset.decoded(index)
        return None if got is None else got[0]
    except Exception:  # noqa: BLE001 - an unreadable clip: try another
        return None


def _video_animation_inputs(run: _RunModel, size: int) -> _AnimationInputs | str:
    """Source: the middle frame of one video of the run's data (its test split where the reader
    has one); driving: the longest other video."""
    for dataset, what in ((run.held_out, "held-out (test split)"), (run.dataset, "training")):
        videos = getattr(dataset, "videos", None)
        if not videos or len(videos) < 2:
            continue
        order = sorted(range(len(videos)), key=lambda i: (-videos[i].num_frames, i))
        crop = getattr(dataset, "crop", None)
        clips = [(i, c) for i in order[:4]
                 if (c := _clip_frames(dataset, i, size, crop)) is not None and len(c) >= 2]
        if len(clips) < 2:
            continue
        (d_idx, driving), (s_idx, source) = clips[0], clips[1]
        picks = _spread(len(driving), _NUM_ANIMATION_FRAMES)
        note = "" if what.startswith("held") else " (the reader has no test split)"
        return _AnimationInputs(
            source[len(source) // 2], driving[picks], picks,
            f"frame {len(source) // 2} of the {what} video "
            f"<code>{_esc(videos[s_idx].path.name)}</code>{note}",
            f"the {what} video <code>{_esc(videos[d_idx].path.name)}</code>{note}")
    return ("no RealFaces test split and fewer than two readable videos in the run's data "
            "to take a source and a driving clip from")


def _animation_section(run: _RunModel) -> _Section:
    """A few frames of a held-out person animated by another's clip
    (:func:`landmarks.commands.animate.animate_frames`, relative motion): RealFaces' test split
    when the run's data lies in a RealFaces folder, else two videos of the run's data."""
    title = SECTION_TITLES["animation"]
    det = run.detector
    size = det.image_size
    rf = _find_realfaces(det.config.data.root)
    try:
        picked = (_realfaces_animation_inputs(rf, size) if rf is not None
                  else _video_animation_inputs(run, size))
    except Exception as err:  # noqa: BLE001 - unreadable frames: shown in the report
        picked = f"the held-out frames could not be read: {_esc(err)}"
    if isinstance(picked, str):
        return _Section("animation", _note(f"{title} skipped: {picked}."))
    try:
        batches = list(animate_frames(det.model, uint8_to_tensor(picked.source),
                                      list(picked.driving), relative=True,
                                      batch_size=len(picked.driving)))
    except Exception as err:  # noqa: BLE001 - shown in the report
        return _Section("animation", _note(f"{title} skipped: {_esc(err)}"))
    b = batches[0]
    png = _animation_figure(picked.source, b.driving, b.result, b.source_keypoints,
                            b.driving_keypoints, b.motion_keypoints)
    frames = ", ".join(str(t) for t in picked.frame_numbers)
    cap = (f"The newest checkpoint (<code>{_esc(run.checkpoint.name)}</code>) animates a "
           f"person it has not been trained on. Top left: the source, "
           f"{picked.source_what}. Top row: the driving frames ({frames}) of "
           f"{picked.driving_what}. Bottom row: the source animated with each driving frame's "
           f"motion in FOMM's relative mode (<code>landmarks animate</code>'s default): the "
           f"motion of the keypoints (and their local affine Jacobians) relative to the first "
           f"driving frame, applied to the source's own keypoints, so the first result should "
           f"be the source itself and the source should keep its own face shape. Dots: the "
           f"keypoints detected on the source and on each driving frame, and on each result "
           f"the keypoints it was generated for; colour k is keypoint k. All at the model's "
           f"{size}×{size} px, upscaled for display.")
    return _Section("animation", _caption(cap) + "<figure>" + _img(png, "animation") +
                    "</figure>")


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
