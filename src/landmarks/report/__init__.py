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
   with four others' appearance (:func:`landmarks.commands.swap.swap_grid`; Jakab et al. 2018,
   Fig. 7);
6. **Animation** -- for a model that animates, a held-out person animated with another
   person's held-out clip (RealFaces test split; :mod:`landmarks.commands.animate`);
7. **Evaluation** -- the JSON files written by ``landmarks eval``: error table, PCK curve,
   sample efficiency, labelled vs regressed points on example images;
8. **Detection overlay** -- the newest ``detect/*.mp4`` and ``detect/*_frames.png`` sheets.

Figures are drawn with matplotlib's Agg renderer through :class:`matplotlib.figure.Figure`
(pyplot's global state is never touched).

The parts: :mod:`~landmarks.report.html` (the page's building blocks and CSS),
:mod:`~landmarks.report.figures` (drawing only: arrays and result dicts in, PNG bytes out; no
checkpoint is loaded there), :mod:`~landmarks.report.run_folder` (reading ``metrics.csv`` and
the config), :mod:`~landmarks.report.sections` (the sections that read the run and its newest
checkpoint), :mod:`~landmarks.report.evaluation` (the evaluation section), and this module (the
page: :func:`build_report`, :func:`write_report`).
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from landmarks.engine.checkpoint import latest_checkpoint
from landmarks.models import can_animate
from landmarks.report.evaluation import _eval_section
from landmarks.report.html import _CSP, _CSS, SECTION_TITLES, ReportError, _esc, _Section, _step_of
from landmarks.report.run_folder import _check_run_dir, _load_run_config, read_metrics
from landmarks.report.sections import (
    VIDEO_INLINE_LIMIT,
    _animation_section,
    _detect_section,
    _load_run_model,
    _loss_section,
    _quadruplet_section,
    _run_section,
    _score_section,
    _swap_section,
)

__all__ = [
    "SECTION_TITLES",
    "VIDEO_INLINE_LIMIT",
    "ReportError",
    "build_report",
    "read_metrics",
    "write_report",
]


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
            if can_animate(run.detector.model):
                sections.append(_animation_section(run))
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
