"""The evaluation section: the ``landmarks eval`` JSON results rendered as tables and figures
(the metric is read from the result, :func:`_metric_of`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from landmarks.evaluation.protocol import metric_of_result
from landmarks.report.figures import (
    _examples_figure,
    _pck_figure,
    _sample_efficiency_figure,
)
from landmarks.report.html import (
    _MAX_EXAMPLES,
    _caption,
    _esc,
    _figure,
    _fmt,
    _is_num,
    _mean_of,
    _note,
    _per_point_of,
    _Section,
    _swatch,
)
from landmarks.visualize.colors import keypoint_colors


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
    """The benchmark metric a ``landmarks eval`` result was scored with (its ``"metric"``;
    :func:`landmarks.evaluation.protocol.metric_of_result`, the same rule as the text table):
    ``"size"`` (Human3.6M), ``"pck"`` (BBC-Pose) or ``"iod"`` (realfaces, MAFL, AFLW)."""
    return metric_of_result(ev)


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
    unseen, seen = ev.get("iod_error_unseen"), ev.get("iod_error_seen")
    if isinstance(unseen, dict) and unseen.get("frames"):  # the figure that counts, first
        row(_esc(f"People never seen in training: linear regression from the {k} keypoints "
                 f"({unseen['frames']} test faces; mean-face floor "
                 f"{_fmt(unseen.get('mean_shape'))})"), unseen.get("mean"), [], "ours")
    if isinstance(seen, dict) and seen.get("frames"):
        row(_esc(f"  the person also seen in training, later frames ({seen['frames']} faces)"),
            seen.get("mean"), [])
    if iod is not None:
        row(f"Linear regression from the {k} discovered keypoints (all test faces)",
            _mean_of(iod), per_point, "" if isinstance(unseen, dict) else "ours")
    if ev.get("val_iod_error") is not None:
        val = ev["val_iod_error"]
        split = ev.get("val_split") if isinstance(ev.get("val_split"), dict) else {}
        how = (f"{len(split.get('groups') or [])} people held out of the regressor's fit"
               if split.get("by") == "identity" else "held out of the labelled training images")
        row(_esc(f"  same, validation split ({how})"), _mean_of(val), _per_point_of(val))
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
