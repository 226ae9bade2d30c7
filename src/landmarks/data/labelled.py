"""The contract of a labelled benchmark, used by ``landmarks eval`` (the regression protocol).

A benchmark factory is registered with :func:`landmarks.registry.register_benchmark` and called
as ``factory(root: str | Path, image_size: int, **options) -> LabelledBenchmark``.
``benchmark.split("train")`` holds the labelled images that fit the regressor (10% of them are
held out for model selection by the protocol), ``benchmark.split("test")`` those it is judged
on. Each item is a dict::

    {"image": Tensor (3, S, S) float32 in [0, 1],      # exactly what the detector sees
     "labels": Tensor (L, 2) float32,                   # pixel coordinates of that S×S image:
                                                        # x right, y down, pixel centres at
                                                        # integers (0 = centre of pixel 0)
     "visible": Tensor (L,) bool,                       # False where a label is missing
     "group": str}                                      # optional, test items: the subset the
                                                        # metric is averaged over first (e.g. a
                                                        # Human3.6M activity, "Walking")

``"group"`` is optional, but all-or-nothing: either every item of a split carries a non-empty
string there or none does. When the test items carry groups, metric ``"size"`` also reports the
error per group and the mean of the per-group errors (each group counts once, however many
images it has); the other metrics ignore groups. :attr:`LabelledBenchmark.group_label` says what
a group is (``"activity"``), for tables.

Errors are measured in these pixels; ``pixel_scale`` converts them to the dataset's original
pixels (for thresholds such as BBC-Pose's PCK at d = 6 original pixels). The metrics
(:attr:`LabelledBenchmark.metric`):

* ``"iod"``: mean point error in % of the inter-ocular distance of the labels (``eye_indices``);
  MAFL, AFLW (Zhang et al. 2018; Jakab et al. 2018);
* ``"pck"``: % of points within ``pck_threshold`` original pixels of the label (``pixel_scale``);
  BBC-Pose;
* ``"size"``: mean L2 distance between regressed and labelled points divided by the image side
  S, in %: ``100 * mean_{i,l} ||pred[i,l] - gt[i,l]|| / S`` (S is the side of the S×S image the
  labels refer to, so the figure does not depend on S); with groups, also per group and averaged
  over groups (Human3.6M: per activity, then over activities; Zhang et al. 2018, Jakab et al.
  2018). ``pck_threshold`` is then in % of the side; ``pixel_scale`` is not used;
* ``"torso"``: mean L2 error in % of each frame's torso length (the distance between the centre
  of the two shoulders and the centre of the two hips, ``torso_indices``), over *visible* labels
  only (``"visible"`` is then an occlusion flag: every label is still an exact position, and the
  regressor is fitted on all of them), with PCK at 0.1 and 0.2 of the torso length (Bodies;
  :class:`landmarks.evaluation.torso.TorsoMetric`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from landmarks.data.transforms import uint8_to_tensor

#: The metrics a benchmark can name (module docstring).
METRICS: tuple[str, ...] = ("iod", "pck", "size", "torso")


@dataclass
class LabelledBenchmark:
    """A labelled benchmark: two splits and how to score them."""

    name: str
    splits: dict[str, Dataset]  # "train" (regressor fitting) and "test"
    point_names: list[str]
    metric: Literal["iod", "pck", "size", "torso"]  # see the module docstring
    eye_indices: tuple[int, int] | None = None  # for metric "iod": the two points normalising
    pck_threshold: float = 6.0  # "pck": in the dataset's original pixels; "size": in % of S
    pixel_scale: float = 1.0  # original pixels per pixel of the S×S network input
    paper_figure: str = ""  # e.g. "MAFL 2.58% IOD error at K=30 (Jakab et al. 2018, Table 1)"
    notes: list[str] = field(default_factory=list)
    group_label: str = "group"  # what the items' "group" names are, e.g. "activity"
    # metric "torso": ((right shoulder, left shoulder), (right hip, left hip)) label indices
    torso_indices: tuple[tuple[int, int], tuple[int, int]] | None = None
    labels_note: str = "human annotations of the dataset"  # where the labels come from
    # groups of the "train" split held out of the regressor's fit and scored as validation
    # (people the detector should not have seen either); None: 10% of the images at random
    validation_groups: list[str] | None = None
    # more frames of the validation groups outside the "train" split (Bodies: the validation
    # actors' unsupervised clips, other motions and scenes), scored with the held-out part of
    # "train" when choosing a checkpoint on a detector that did not train on those groups
    # (:func:`landmarks.evaluation.selection.benchmark_validation_error`); items carry "group"
    validation_extra: Dataset | None = None
    # the groups whose images a detector's training root (its config's data.root) holds, to
    # say whether validation was held out of the detector's training too; None: not known
    training_groups: Callable[[Path], set[str]] | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"benchmark {self.name!r}: metric {self.metric!r} is unknown; "
                             f"expected one of {', '.join(METRICS)}")
        if self.metric == "torso" and self.torso_indices is None:
            raise ValueError(f"benchmark {self.name!r}: metric 'torso' needs torso_indices "
                             f"(shoulder and hip label indices)")

    def split(self, name: str) -> Dataset:
        if name not in self.splits:
            raise KeyError(f"benchmark {self.name!r} has no split {name!r}; "
                           f"it has {', '.join(self.splits)}")
        return self.splits[name]


def labelled_item(image: np.ndarray, labels: np.ndarray, group: str | None = None
                  ) -> dict[str, Any]:
    """The item of a labelled split (module docstring) from an ``(S, S, 3)`` uint8 image and
    its ``(L, 2)`` labels in pixels of that image: a label with a non-finite coordinate is not
    visible and set to 0; ``"group"`` only when ``group`` is given."""
    visible = np.isfinite(labels).all(axis=1)
    labels = np.where(visible[:, None], labels, 0.0)
    item = {"image": uint8_to_tensor(image),
            "labels": torch.from_numpy(labels.astype(np.float32)),
            "visible": torch.from_numpy(visible)}
    if group is not None:
        item["group"] = group
    return item

