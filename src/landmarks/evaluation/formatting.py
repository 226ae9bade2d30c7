"""Plain-text rendering of evaluation results: :func:`format_results` turns the dict of
:func:`~landmarks.evaluation.run.evaluate_checkpoint` (or its JSON, reloaded) into the table that
``landmarks eval`` prints, with one layout per metric (IOD, PCK, size) and the attribute
benchmarks' own table."""

from __future__ import annotations

import textwrap
from typing import Any

from landmarks.evaluation.attributes import format_attribute_results
from landmarks.evaluation.protocol import metric_of_result
from landmarks.evaluation.run import LABELS_NOTE, MAFL_POINT_NAMES, PCK_AT
from landmarks.evaluation.sample_efficiency import format_table
from landmarks.evaluation.torso import format_torso_results

__all__ = ["format_results"]


def _num(value: Any, fmt: str = "6.2f") -> str:
    return "n/a" if value is None else format(float(value), fmt)


def _skipped_lines(sizes: dict[str, Any]) -> list[str]:
    """The line saying how many unreadable items were skipped per split; none when none was."""
    counts = [(split, sizes.get(f"skipped_{split}") or 0) for split in ("train", "test")]
    if not any(n for _, n in counts):
        return []
    return ["  skipped unreadable images: " + ", ".join(f"{n} {split}" for split, n in counts)
            + " (left out; the reader's warnings name the files)"]


def _head_lines(results: dict[str, Any], *, crops: bool = False, labels_note: str = "",
                paper: bool = True) -> list[str]:
    """The title, model and data lines that open every layout: the crop size when ``crops``,
    ``labels_note`` when the results have none, the paper's figure (when given) with ``paper``."""
    sizes = results.get("sizes", {})
    crop = f"crops {results.get('crop_size')} px; " if crops else ""
    lines = [
        f"{results.get('dataset', '?')} evaluation of {results.get('checkpoint', '?')}",
        f"  model: K={results.get('num_keypoints')} keypoints at {results.get('image_size')} px; "
        f"{crop}{sizes.get('train_labelled', '?')} labelled train frames, "
        f"{sizes.get('test', '?')} test frames",
        *_skipped_lines(sizes),
        f"  {results.get('labels_note', labels_note)}",
    ]
    if paper and results.get("paper_figure"):
        lines.append(f"  paper: {results['paper_figure']}")
    return lines


def _curve_pairs(p: dict[str, Any]) -> str:
    """A PCK curve as ``"threshold:pck"`` pairs (``""`` when the results hold none)."""
    if not (p.get("thresholds") and p.get("curve")):
        return ""
    return " ".join(f"{_num(t, 'g')}:{_num(c, '.0f')}" for t, c in zip(
        p["thresholds"], p["curve"], strict=False))


def _matching_line(match: dict[str, Any], assigned_from: str, unit: str) -> str:
    """The Hungarian-matching summary: skipped and why, or the assignment and its mean error in
    ``unit`` (``assigned_from``: the split named when the results do not say)."""
    if "skipped" in match:
        return f"Hungarian matching of raw keypoints: skipped ({match['skipped']})"
    return (f"Hungarian matching of raw keypoints (no regression; assignment from "
            f"{match.get('assignment_from', assigned_from)}): keypoints "
            f"{match.get('assignment')} -> mean error {_num(match.get('mean_error_px'), '.2f')} "
            f"{unit}")


def _efficiency_lines(results: dict[str, Any], title: str, **table: Any) -> list[str]:
    """A blank line, ``title`` and the sample-efficiency table (``table``: keywords of
    :func:`format_table`); none when the results hold no table."""
    rows = results.get("sample_efficiency") or []
    return ["", title, format_table(rows, **table)] if rows else []


def _notes_lines(results: dict[str, Any]) -> list[str]:
    """A blank line and the benchmark's notes; none when it has none."""
    notes = results.get("notes") or []
    return ["", "Notes:"] + [f"  - {n}" for n in notes] if notes else []


def _format_size_results(results: dict[str, Any]) -> str:
    """:func:`format_results` for metric ``size`` (results holding ``size_error``)."""
    names = list(results.get("point_names") or [])
    err = results.get("size_error") or {}
    match = results.get("matching") or {}
    shape = (results.get("mean_shape") or {}).get("size_error") or {}
    per_group = err.get("per_group") or {}
    group = str(results.get("group_label") or "group")
    plural = "activities" if group == "activity" else f"{group}s"
    lines = _head_lines(results)
    lines += ["", "Error in % of image side (mean L2 distance to the labels / image side; lower "
              "is better)"]
    label_w = 44
    cols = ([f"mean over {plural}"] if per_group else []) + ["mean over frames"]
    width = max(len(c) for c in cols)
    lines.append(f"  {'':<{label_w}} " + " ".join(f"{c:>{width}}" for c in cols))

    def row(label: str, block: dict[str, Any]) -> str:
        values = ([block.get("mean_over_groups")] if per_group else []) + [block.get("mean")]
        return f"  {label:<{label_w}} " + " ".join(f"{_num(v, '.2f'):>{width}}" for v in values)

    lines.append(row(f"unsupervised K={results.get('num_keypoints')} + linear regressor", err))
    if "skipped" in match:
        lines.append(f"  {'Hungarian matching (no regression)':<{label_w}} skipped: "
                     f"{match['skipped']}")
    elif match:
        lines.append(row("Hungarian matching (no regression)", match.get("size_error") or {}))
    if shape:
        lines.append(row("mean train shape (no detector)", shape))
    lines.append(f"  validation error (10% of the train split held out, mean over frames): "
                 f"{_num(results.get('val_size_error'), '.2f')} %")

    if per_group:
        frames = err.get("group_frames") or {}
        m_groups = (match.get("size_error") or {}).get("per_group") or {}
        s_groups = shape.get("per_group") or {}
        name_w = max(len(f"mean over {plural}"), *(len(g) for g in per_group))
        lines += ["", f"Per {group} (error in % of image side; the paper's figure is the mean "
                  f"over {plural})",
                  f"  {group:<{name_w}} {'frames':>7} {'regression':>11} {'matching':>9} "
                  f"{'mean shape':>11}"]
        for g, v in per_group.items():
            lines.append(f"  {g:<{name_w}} {frames.get(g, '?'):>7} {_num(v, '.2f'):>11} "
                         f"{_num(m_groups.get(g), '.2f'):>9} {_num(s_groups.get(g), '.2f'):>11}")
        lines.append(f"  {'mean over ' + plural:<{name_w}} {'':>7} "
                     f"{_num(err.get('mean_over_groups'), '.2f'):>11} "
                     f"{_num((match.get('size_error') or {}).get('mean_over_groups'), '.2f'):>9} "
                     f"{_num(shape.get('mean_over_groups'), '.2f'):>11}")

    per_point = err.get("per_point") or []
    if per_point:
        # "name value" pairs never split across lines (non-breaking space while wrapping)
        pairs = ", ".join(f"{n}\u00a0{_num(v, '.2f')}" for n, v in zip(
            names + [f"point {i}" for i in range(len(names), len(per_point))], per_point,
            strict=False))
        lines += ["", "Per point (linear regressor, % of image side, mean over frames):"]
        lines += [line.replace("\u00a0", " ") for line in textwrap.wrap(
            pairs, width=100, initial_indent="  ", subsequent_indent="  ")]

    p = results.get("pck") or {}
    lines += ["", f"PCK@{_num(p.get('threshold'), 'g')}% of image side (regressed points): "
              f"{_num(p.get('at_6'), '.1f')} %"]
    curve = _curve_pairs(p)
    if curve:
        lines.append("  PCK curve (d in % of side: %): " + curve)

    lines.append("")
    if match:
        lines.append(_matching_line(match, "train", "px"))
    lines += _efficiency_lines(results, "Sample efficiency (linear regressor on n labelled "
                               "train frames; test error in % of image side, mean over frames)",
                               error_label="error (% side)")
    lines += _notes_lines(results)
    return "\n".join(lines)


def _format_pck_results(results: dict[str, Any]) -> str:
    """:func:`format_results` for metric ``pck`` (BBC-Pose: results with ``pck`` but neither
    ``iod_error`` nor ``size_error``): PCK at the benchmark's threshold, in the dataset's original
    (evaluation) pixels, per part, for the linear regressor and the Hungarian-matched raw
    keypoints; the PCK curve."""
    p = results.get("pck") or {}
    match = results.get("matching") or {}
    per_part = list(p.get("per_part_at_6") or [])
    names = list(results.get("point_names") or [])
    names += [f"point {i}" for i in range(len(names), len(per_part))]
    thr = _num(p.get("threshold", PCK_AT), "g")
    lines = _head_lines(results)
    lines += ["", f"PCK@{thr} px on the test split (% of points within {thr} px of the label, "
              f"in the dataset's original pixels; higher is better)",
              f"  PCK@{thr} px, linear regressor (fitted on all labelled train frames): "
              f"{_num(p.get('at_6'), '.2f')} %"]
    matched = "skipped" not in match and bool(match)
    if matched:
        lines.append(f"  PCK@{thr} px, Hungarian-matched raw keypoints (no regression): "
                     f"{_num(match.get('pck'), '.2f')} %")
    if per_part:
        name_w = max(len("mean"), len("part"), *(len(n) for n in names))
        cols = ["regression"] + (["matching"] if matched else [])
        lines += ["", f"Per part (PCK@{thr} px, %)",
                  f"  {'part':<{name_w}} " + " ".join(f"{c:>10}" for c in cols)]
        m_per = list(match.get("per_part_pck") or []) if matched else []
        for i, (n, v) in enumerate(zip(names, per_part, strict=False)):
            vals = [v] + ([m_per[i] if i < len(m_per) else None] if matched else [])
            lines.append(f"  {n:<{name_w}} " + " ".join(f"{_num(x, '.1f'):>10}" for x in vals))
        means = [p.get("at_6")] + ([match.get("pck")] if matched else [])
        lines.append(f"  {'mean':<{name_w}} " + " ".join(f"{_num(x, '.1f'):>10}" for x in means))
    curve = _curve_pairs(p)
    if curve:
        lines += ["", "PCK curve (linear regressor; d in original px: %): " + curve]

    lines.append("")
    if match:
        lines.append(_matching_line(match, "train", "original px"))
    lines += _notes_lines(results)
    return "\n".join(lines)


def _group_lines(results: dict[str, Any]) -> list[str]:
    """The per-source table (``iod_error_by_group``): a blank line, a title and one row per group
    (parts indented under their broad group); none when the results hold no groups."""
    groups = results.get("iod_error_by_group") or {}
    if not groups:
        return []
    names = [("  " + n.split("/", 1)[1]) if "/" in n else n for n in groups]
    name_w = max(len("all test frames"), *(len(n) for n in names))
    lines = ["", "IOD error by test source (%; regressor as above; seen = people also in training)",
             f"  {'group':<{name_w}} {'frames':>7} {'regression':>11} {'mean shape':>11}  people"]
    sizes = results.get("sizes") or {}
    overall = (results.get("iod_error") or {}).get("mean")
    floor = ((results.get("mean_shape") or {}).get("iod_error") or {}).get("mean")
    lines.append(f"  {'all test frames':<{name_w}} {sizes.get('test', '?'):>7} "
                 f"{_num(overall, '.2f'):>11} {_num(floor, '.2f'):>11}")
    for label, block in zip(names, groups.values(), strict=True):
        seen = block.get("person_in_train")
        people = {True: "seen", False: "unseen"}.get(seen, str(seen)) if seen is not None else ""
        lines.append(f"  {label:<{name_w}} {block.get('frames', '?'):>7} "
                     f"{_num(block.get('mean'), '.2f'):>11} "
                     f"{_num(block.get('mean_shape'), '.2f'):>11}  {people}")
    return lines


def _headline_lines(results: dict[str, Any]) -> list[str]:
    """The figures that count first: the people never seen in training, then the seen person
    (RealFaces results; nothing for results without them)."""
    unseen, seen = results.get("iod_error_unseen"), results.get("iod_error_seen")
    if not unseen:
        return []
    lines = ["", f"PEOPLE NEVER SEEN IN TRAINING: IOD error {_num(unseen.get('mean'), '.2f')} % "
                 f"({unseen.get('frames')} test faces; mean-shape floor "
                 f"{_num(unseen.get('mean_shape'), '.2f')} %)"]
    if seen and seen.get("frames"):
        lines.append(f"  the person also seen in training (later frames): "
                     f"{_num(seen.get('mean'), '.2f')} % ({seen.get('frames')} faces; floor "
                     f"{_num(seen.get('mean_shape'), '.2f')} %)")
    check = results.get("identity_check") or {}
    if check.get("test_frames_in_training"):
        lines.append(f"  WARNING: training held {check['test_frames_in_training']} test frames "
                     f"of {', '.join(check.get('test_groups', []))} (--allow-test-identities): "
                     f"the 'never seen' figure is not one")
    elif check and not check.get("checked"):
        lines.append(f"  (not checked that training never saw the test people: "
                     f"{check.get('reason')})")
    return lines


def _validation_line(results: dict[str, Any]) -> str:
    """How validation was held out, and its error."""
    split = results.get("val_split") or {}
    value = _num(results.get("val_iod_error"), ".2f")
    if split.get("by") == "identity":
        saw = split.get("detector_saw_them")
        detector = ("; the detector trained on them, unsupervised" if saw else
                    "; the detector never saw them either" if saw is False else "")
        return (f"  validation IOD error (people held out of the regressor's fit: "
                f"{len(split.get('groups', []))} identity groups, {split.get('frames')} faces"
                f"{detector}): {value} %")
    return f"  validation IOD error (10% of train_labelled held out): {value} %"


def format_results(results: dict[str, Any]) -> str:
    """A plain-text summary of :func:`evaluate_checkpoint`'s dict (also of its JSON, reloaded).

    Results of a metric-``size`` benchmark (``size_error``, Human3.6M) get their own layout:
    the error in % of the image side, per group (activity) and averaged over the groups. So do
    results of a metric-``pck`` benchmark (``pck`` without ``iod_error``, BBC-Pose): PCK at the
    benchmark's threshold per part, for the regressor and the Hungarian-matched raw keypoints,
    and the PCK curve. Everything else (realfaces, MAFL, AFLW) gets the IOD layout."""
    if "attribute_accuracy" in results:
        return format_attribute_results(results)
    metric = metric_of_result(results)
    if metric == "size":
        return _format_size_results(results)
    if metric == "pck":
        return _format_pck_results(results)
    if metric == "torso":
        return format_torso_results(results)
    names = list(results.get("point_names") or MAFL_POINT_NAMES)
    lines = _head_lines(results, crops=True, labels_note=LABELS_NOTE, paper=False)
    lines += _headline_lines(results)
    lines += ["", "IOD error on the test split (%; lower is better)"]
    ours = f"unsupervised K={results.get('num_keypoints')} + linear regressor"
    label_w = max(len(ours), 32)
    header = f"  {'':<{label_w}} {'mean':>7} " + " ".join(f"{n:>11}" for n in names)
    lines += [header, "  " + "-" * (len(header) - 2)]

    def row(label: str, block: dict[str, Any] | None) -> str:
        block = block or {}
        per = list(block.get("per_point") or [None] * len(names))
        return (f"  {label:<{label_w}} {_num(block.get('mean'), '7.2f'):>7} "
                + " ".join(f"{_num(v, '11.2f'):>11}" for v in per))

    lines.append(row(ours, results.get("iod_error")))
    base = results.get("baseline") or {}
    if "skipped" in base:
        lines.append(f"  {'MediaPipe face mesh (supervised)':<{label_w}} skipped: "
                     f"{base['skipped']}")
    else:
        frames = base.get("frames")
        missing = base.get("missing", 0)
        found = f"{frames - missing}/{frames}" if frames is not None else "?"
        lines.append(row("MediaPipe face mesh (supervised)", base.get("iod_error")))
        lines.append(f"    (MediaPipe found a face in {found} test frames; its error is over "
                     f"those; {missing} missing = failures, not counted)")
    if results.get("mean_shape"):
        lines.append(row("mean train shape (no detector)", results["mean_shape"].get("iod_error")))
    lines.append(_validation_line(results))
    lines += _group_lines(results)

    p = results.get("pck") or {}
    per_part = p.get("per_part_at_6") or []
    lines += ["", f"PCK@6 px (regressed points, {results.get('crop_size')}-px crop): "
              f"{_num(p.get('at_6'), '.1f')} %  "
              "(per point: " + ", ".join(f"{n} {_num(v, '.1f')}" for n, v in zip(names, per_part,
                                                                              strict=False))
              + ")"]
    if p.get("thresholds") and p.get("curve"):
        pairs = [f"{int(t)}:{_num(c, '.0f')}" for t, c in zip(p["thresholds"], p["curve"],
                                                            strict=False)]
        lines.append("  PCK curve (d px: %): " + " ".join(pairs))

    m = results.get("matching") or {}
    lines += ["", _matching_line(m, "train_labelled", "px")
              + ("" if "skipped" in m else f", IOD error {_num(m.get('iod_error'), '.2f')} %")]
    lines += _efficiency_lines(results, "Sample efficiency (linear regressor on n labelled "
                               "train frames; test IOD error)")
    return "\n".join(lines)
