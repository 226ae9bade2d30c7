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
     "visible": Tensor (L,) bool}                       # False where a label is missing

Errors are measured in these pixels; ``pixel_scale`` converts them to the dataset's original
pixels (for thresholds such as BBC-Pose's PCK at d = 6 original pixels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from torch.utils.data import Dataset


@dataclass
class LabelledBenchmark:
    """A labelled benchmark: two splits and how to score them."""

    name: str
    splits: dict[str, Dataset]  # "train" (regressor fitting) and "test"
    point_names: list[str]
    metric: Literal["iod", "pck"]
    eye_indices: tuple[int, int] | None = None  # for metric "iod": the two points normalising
    pck_threshold: float = 6.0  # for metric "pck", in the dataset's original pixels
    pixel_scale: float = 1.0  # original pixels per pixel of the S×S network input
    paper_figure: str = ""  # e.g. "MAFL 2.58% IOD error at K=30 (Jakab et al. 2018, Table 1)"
    notes: list[str] = field(default_factory=list)

    def split(self, name: str) -> Dataset:
        if name not in self.splits:
            raise KeyError(f"benchmark {self.name!r} has no split {name!r}; "
                           f"it has {', '.join(self.splits)}")
        return self.splits[name]
