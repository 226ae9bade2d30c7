"""Metric ``torso`` (the Bodies benchmark): error normalised by the torso length, over visible
joints only, with PCK at fractions of the torso length.

For test frame i and joint l with label ``g[i, l]`` and visibility ``v[i, l]``:

* torso length ``T_i = || (g[i, rs] + g[i, ls]) / 2 - (g[i, rh] + g[i, lh]) / 2 ||`` (shoulder
  centre to hip centre, from the exact labels, which exist for occluded joints too);
* error ``e_il = || p[i, l] - g[i, l] || / T_i``; ``torso_error.mean`` = ``100 * mean e_il`` over
  the visible ``(i, l)``; ``per_point`` = the same per joint (over the frames where it is
  visible);
* PCK@a = % of visible ``(i, l)`` with ``e_il <= a``, at a = 0.1 and 0.2, overall and per joint;
  a curve over a = 0.05 .. 0.5.

The regressor (bias-free, :func:`~landmarks.evaluation.regression.fit_linear_regressor`) is
fitted on the train frames with every joint (positions are exact even when hidden), less the
validation part: the frames of the benchmark's validation groups when it names them (Bodies:
whole actors, :func:`~landmarks.data.bodies.validation_actors`), else 10% of the frames at
random; ``val_torso_error`` scores the validation part, ``val_split`` says which it was.
Hungarian matching (:func:`~landmarks.evaluation.matching.match_keypoints`) assigns raw
keypoints on the train frames; the floor ``mean_shape`` predicts the mean pose of the
regressor's fit frames for every test frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from landmarks.evaluation.matching import match_keypoints
from landmarks.evaluation.metrics import point_distances
from landmarks.evaluation.protocol import Metric, Scored
from landmarks.evaluation.regression import fit_linear_regressor, split_train_val

__all__ = ["PCK_FRACTIONS", "TorsoMetric", "format_torso_results", "torso_errors",
           "torso_length"]

#: PCK curve thresholds, as fractions of the torso length.
PCK_FRACTIONS: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


def torso_length(labels: np.ndarray, torso: tuple[tuple[int, int], tuple[int, int]]
                 ) -> np.ndarray:
    """``(N,)`` torso lengths of ``(N, L, 2)`` labels: shoulder centre to hip centre."""
    (rs, ls), (rh, lh) = torso
    shoulders = (labels[:, rs] + labels[:, ls]) / 2
    hips = (labels[:, rh] + labels[:, lh]) / 2
    return np.linalg.norm(shoulders - hips, axis=-1)


def torso_errors(pred: np.ndarray, labels: np.ndarray,
                 torso: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """``(N, L)`` point errors ``|| pred - labels || / torso length`` (fractions)."""
    length = torso_length(labels, torso)
    if not (length > 0).all():
        raise ValueError("torso length is zero in some frame (shoulders and hips coincide)")
    return point_distances(pred, labels) / length[:, None]


def _summary(err: np.ndarray, visible: np.ndarray) -> dict[str, Any]:
    """Mean (%) over visible entries, per point, and PCK at 0.1 / 0.2 and the curve."""
    v = visible.astype(bool)
    counts = v.sum(axis=0)
    per_point = np.where(counts > 0, (err * v).sum(axis=0) / np.maximum(counts, 1), np.nan)
    e = err[v]

    def at(a: float) -> tuple[float, list[float]]:
        hit = (err <= a) & v
        per = np.where(counts > 0, 100.0 * hit.sum(axis=0) / np.maximum(counts, 1), np.nan)
        return float(100.0 * (e <= a).mean()) if e.size else float("nan"), per.tolist()

    at1, per1 = at(0.1)
    at2, per2 = at(0.2)
    return {"mean": float(100.0 * e.mean()) if e.size else float("nan"),
            "per_point": (100.0 * per_point).tolist(),
            "pck": {"thresholds": list(PCK_FRACTIONS),
                    "curve": [at(a)[0] for a in PCK_FRACTIONS],
                    "at_0.1": at1, "at_0.2": at2,
                    "per_part_at_0.1": per1, "per_part_at_0.2": per2,
                    "threshold_unit": "fraction of the torso length"}}


@dataclass(frozen=True)
class TorsoMetric(Metric):
    """Error in % of the torso length over visible joints (module docstring).

    Entries: ``torso_error`` {mean, per_point}, ``pck`` (PCK@0.1/0.2 of the torso, per part,
    curve), ``val_torso_error``, ``matching``, ``mean_shape`` (the floor, with its PCK),
    ``visible_fraction``, ``regressor``."""

    torso: tuple[tuple[int, int], tuple[int, int]] = ((0, 1), (2, 3))
    name = "torso"
    #: :meth:`score` takes ``visible``; the caller passes it instead of dropping frames.
    per_point_visibility = True
    #: :meth:`score` takes ``train_groups`` and ``val_groups`` (validation by group).
    holds_out_groups = True

    def score(self, train_kp: np.ndarray, train_labels: np.ndarray, test_kp: np.ndarray,
              test_labels: np.ndarray, *, groups: Sequence[str] | None = None,
              draws: int = 10,
              visible: tuple[np.ndarray, np.ndarray] | None = None,
              train_groups: Sequence[str] | None = None,
              val_groups: Sequence[str] | None = None) -> Scored:
        """Fit on the train split less its validation part, score visible test joints.

        Args:
            train_kp, test_kp: ``(N, K, 2)`` keypoints in the labels' pixels.
            train_labels, test_labels: ``(N, L, 2)`` exact labels.
            groups, draws: unused (the signature of :meth:`Metric.score`).
            visible: ``((N_train, L), (N_test, L))`` bool visibility; all visible if ``None``.
            train_groups: ``(N_train,)`` the group (Bodies: actor) of each train frame.
            val_groups: the groups held out of the fit and scored as validation (with
                ``train_groups``); else 10% of the frames at random.

        Raises:
            ValueError: ``train_groups`` of the wrong length, or ``val_groups`` that would
                leave no frame to fit.
        """
        test_vis = (np.ones(test_labels.shape[:2], bool) if visible is None
                    else np.asarray(visible[1], bool))
        fit_idx, val_idx, val_split = self._validation(train_kp.shape[0], train_groups,
                                                       val_groups)
        regressor = fit_linear_regressor(train_kp[fit_idx], train_labels[fit_idx])
        regressed = regressor.predict(test_kp)
        ours = _summary(torso_errors(regressed, test_labels, self.torso), test_vis)
        val = None
        if val_idx.size:
            train_vis = (np.ones(train_labels.shape[:2], bool) if visible is None
                         else np.asarray(visible[0], bool))
            val_err = torso_errors(regressor.predict(train_kp[val_idx]), train_labels[val_idx],
                                   self.torso)
            val = _summary(val_err, train_vis[val_idx])["mean"]
        shape = np.broadcast_to(train_labels[fit_idx].mean(axis=0), test_labels.shape)
        floor = _summary(torso_errors(shape, test_labels, self.torso), test_vis)
        k, n_labels = train_kp.shape[1], train_labels.shape[1]
        if k >= n_labels:
            assignment = match_keypoints(train_kp, train_labels).assignment
            matched = _summary(torso_errors(test_kp[:, assignment], test_labels, self.torso),
                               test_vis)
            matching: dict[str, Any] = {
                "assignment": [int(a) for a in assignment],
                "torso_error": {"mean": matched["mean"], "per_point": matched["per_point"]},
                "pck_at_0.2": matched["pck"]["at_0.2"], "assignment_from": "train"}
        else:
            matching = {"skipped": f"K={k} keypoints < {n_labels} joints: Hungarian matching "
                                   f"needs one distinct keypoint per joint"}
        entries = {
            "torso_error": {"mean": ours["mean"], "per_point": ours["per_point"]},
            "val_torso_error": val,
            "val_split": val_split,
            "pck": ours["pck"],
            "matching": matching,
            "mean_shape": {"torso_error": {"mean": floor["mean"],
                                           "per_point": floor["per_point"]},
                           "pck_at_0.2": floor["pck"]["at_0.2"],
                           "note": "no detector: the mean train pose predicted for every test "
                                   "frame"},
            "visible_fraction": float(test_vis.mean()),
            "regressor": regressor.to_dict(),
        }
        return Scored(entries, regressed, {"regression_fit": int(fit_idx.size),
                                           "regression_val": int(val_idx.size)})

    @staticmethod
    def _validation(n: int, train_groups: Sequence[str] | None,
                    val_groups: Sequence[str] | None
                    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """``(fit_idx, val_idx, val_split)``: the frames of ``val_groups`` held out (by
        group), or 10% of the ``n`` frames at random without groups."""
        if train_groups is None or not val_groups:
            fit_idx, val_idx = split_train_val(n, 0.1)
            return fit_idx, val_idx, {"by": "frame", "fraction": 0.1,
                                      "frames": int(val_idx.size)}
        names = np.asarray([str(g) for g in train_groups])
        if names.shape[0] != n:
            raise ValueError(f"train_groups: expected one group per train frame ({n}), got "
                             f"{names.shape[0]}")
        held = np.isin(names, [str(g) for g in val_groups])
        if held.all():
            raise ValueError(f"val_groups {sorted(val_groups)}: every train frame is in them; "
                             f"none is left to fit the regressor")
        present = sorted({str(g) for g in val_groups} & set(names.tolist()))
        return (np.flatnonzero(~held), np.flatnonzero(held),
                {"by": "group", "groups": present, "frames": int(held.sum())})


def _num(value: Any, fmt: str = ".2f") -> str:
    return "n/a" if value is None else format(float(value), fmt)


def format_torso_results(results: dict[str, Any]) -> str:
    """Plain-text table of a ``torso`` result (:class:`TorsoMetric`'s entries)."""
    names = list(results.get("point_names") or [])
    err = results.get("torso_error") or {}
    p = results.get("pck") or {}
    match = results.get("matching") or {}
    floor = results.get("mean_shape") or {}
    sizes = results.get("sizes") or {}
    ours = f"unsupervised K={results.get('num_keypoints')} + linear regressor"
    lines = [f"{results.get('dataset', '?')} evaluation of {results.get('checkpoint', '?')}",
             f"  model: K={results.get('num_keypoints')} keypoints at "
             f"{results.get('image_size')} px; {sizes.get('train_labelled', '?')} labelled "
             f"train frames, {sizes.get('test', '?')} test frames; "
             f"{100 * float(results.get('visible_fraction') or 0):.0f}% of test joints visible",
             f"  {results.get('labels_note', '')}", "",
             "Error in % of the torso length (visible joints; lower is better), PCK in %",
             f"  {'':<44} {'error':>7} {'PCK@0.1':>8} {'PCK@0.2':>8}",
             f"  {ours:<44} {_num(err.get('mean')):>7} {_num(p.get('at_0.1'), '.1f'):>8} "
             f"{_num(p.get('at_0.2'), '.1f'):>8}"]
    if "skipped" in match:
        lines.append(f"  {'Hungarian matching (no regression)':<44} skipped: {match['skipped']}")
    elif match:
        lines.append(f"  {'Hungarian matching (no regression)':<44} "
                     f"{_num((match.get('torso_error') or {}).get('mean')):>7} {'':>8} "
                     f"{_num(match.get('pck_at_0.2'), '.1f'):>8}")
    lines.append(f"  {'mean train pose (no detector)':<44} "
                 f"{_num((floor.get('torso_error') or {}).get('mean')):>7} {'':>8} "
                 f"{_num(floor.get('pck_at_0.2'), '.1f'):>8}")
    split = results.get("val_split") or {}
    if split.get("by") == "group":
        held = (f"actors {', '.join(split.get('groups') or [])} held out of the regressor"
                + {True: "; the DETECTOR SAW THEM in training",
                   False: " and the detector's training"}.get(split.get("detector_saw_them"),
                                                              ""))
    else:
        held = "10% of train held out"
    lines.append(f"  validation error ({held}): {_num(results.get('val_torso_error'))} %")
    per = err.get("per_point") or []
    per2 = p.get("per_part_at_0.2") or []
    if per:
        lines += ["", f"  {'joint':<12} {'error':>7} {'PCK@0.2':>8}"]
        for n, e, a in zip(names, per, per2, strict=False):
            lines.append(f"  {n:<12} {_num(e):>7} {_num(a, '.1f'):>8}")
    notes = results.get("notes") or []
    if notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in notes]
    return "\n".join(lines)
