"""Video reconstruction metrics (FOMM, Siarohin et al. 2019): L1, AKD, MKR, AED and FID.

Pure functions on arrays; the external models that turn frames into face landmarks, identity
embeddings and Inception features are passed in (:mod:`landmarks.evaluation.face_models` loads
the real ones: dlib's 68-point model and face recognition ResNet, the FID Inception), so every
function here runs on synthetic inputs in tests.

Real and generated videos are uint8 arrays ``(N, H, W, 3)`` of the same shape.

* **L1** — mean absolute pixel error, pixels in ``[0, 1]`` (:func:`l1_per_frame`).
* **AKD** — average keypoint distance: the mean Euclidean distance, in pixels of the frames as
  given, between the face landmarks found on the real frame and on the generated frame, over the
  frames where both are found (:func:`keypoint_stats`).
* **MKR** — missing keypoint rate: the fraction of the landmarks found on the real frame that
  are missing on the generated one. With dlib a face is found whole or not at all, so a frame
  whose real face is found and generated face is not counts all 68 points as missing.
* **AED** — average Euclidean distance between identity embeddings of the real and generated
  frame, over the frames where both faces are found (:func:`identity_stats`).
* **FID** — the Fréchet distance between Gaussians fitted to Inception features of all real and
  all generated frames (every frame of every video pooled; :func:`frechet_distance`). FID is
  biased upwards on small sets (a few hundred frames against 2048-d features: the covariances are
  rank-deficient and the estimate decreases as more frames are added), so compare FIDs only
  between rows computed on the same frames, never with published figures on other test sets.

Per-video figures are pooled into the mean row frame by frame (every frame weighs the same;
MKR point by point), which is how FOMM averages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg

__all__ = [
    "METRICS",
    "ExternalModel",
    "FaceObservation",
    "IdentityStats",
    "KeypointStats",
    "MetricInfo",
    "ReconstructionMetrics",
    "VideoScores",
    "check_videos",
    "face_stats",
    "feature_statistics",
    "fid_from_features",
    "format_table",
    "frechet_distance",
    "identity_stats",
    "keypoint_stats",
    "l1_error",
    "l1_per_frame",
]

#: The table's columns, in order.
METRICS: tuple[str, ...] = ("L1", "AKD", "MKR", "AED", "FID")


@dataclass(frozen=True)
class ExternalModel:
    """A model outside the library that computed a metric: its name, weight file, sha256."""

    name: str
    file: str
    sha256: str

    def short(self) -> str:
        """``name (file, sha256 0123456789ab…)``."""
        return f"{self.name} ({self.file}, sha256 {self.sha256[:12]}…)"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "file": self.file, "sha256": self.sha256}


@dataclass(frozen=True)
class MetricInfo:
    """How one metric was computed: the external model (``None`` for L1), the protocol in one
    line, or why it is unavailable (``unavailable``: one line; the value is then ``None``)."""

    model: ExternalModel | None = None
    protocol: str = ""
    unavailable: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model.to_dict() if self.model else None,
                "protocol": self.protocol, "unavailable": self.unavailable}


def check_videos(real: np.ndarray, fake: np.ndarray) -> None:
    """Raise :class:`ValueError` unless both are uint8 ``(N,H,W,3)`` of the same shape."""
    for name, v in (("real", real), ("generated", fake)):
        if not isinstance(v, np.ndarray) or v.dtype != np.uint8 or v.ndim != 4 or v.shape[3] != 3:
            got = f"{v.dtype} {v.shape}" if isinstance(v, np.ndarray) else type(v).__name__
            raise ValueError(f"{name} video: expected a uint8 array (N,H,W,3), got {got}")
    if real.shape != fake.shape:
        raise ValueError(f"real and generated videos differ in shape: {real.shape} vs "
                         f"{fake.shape}")
    if len(real) == 0:
        raise ValueError("the videos have no frames")


# ----------------------------------------------------------------------------------------------
# L1


def l1_per_frame(real: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Mean absolute pixel error of each frame, pixels scaled to ``[0, 1]``: (N,) float64."""
    check_videos(real, fake)
    diff = np.abs(real.astype(np.int16) - fake.astype(np.int16))
    return diff.reshape(len(real), -1).mean(axis=1) / 255.0


def l1_error(real: np.ndarray, fake: np.ndarray) -> float:
    """Mean absolute pixel error over every pixel of every frame, in ``[0, 1]``."""
    return float(l1_per_frame(real, fake).mean())


# ----------------------------------------------------------------------------------------------
# AKD / MKR / AED


@dataclass(frozen=True)
class FaceObservation:
    """What a face model found on one frame: ``points`` (P,2) pixel coordinates of the frame
    (``None``: no face found) and ``embedding`` (D,) identity embedding (``None``: no face, or no
    identity model)."""

    points: np.ndarray | None = None
    embedding: np.ndarray | None = None


#: A face model: one frame (H,W,3) uint8 → :class:`FaceObservation`.
FaceAnalyser = Callable[[np.ndarray], FaceObservation]


@dataclass
class KeypointStats:
    """Sums behind AKD and MKR, so that videos pool exactly: ``distance_sum`` (per-frame mean
    landmark distances, summed over the ``pairs`` frames where both faces are found),
    ``detected`` (landmarks found on real frames), ``missing`` (those missing on the generated
    frames), ``frames`` (frames looked at)."""

    distance_sum: float = 0.0
    pairs: int = 0
    detected: int = 0
    missing: int = 0
    frames: int = 0

    @property
    def akd(self) -> float | None:
        return self.distance_sum / self.pairs if self.pairs else None

    @property
    def mkr(self) -> float | None:
        return self.missing / self.detected if self.detected else None

    def __add__(self, other: KeypointStats) -> KeypointStats:
        return KeypointStats(self.distance_sum + other.distance_sum, self.pairs + other.pairs,
                             self.detected + other.detected, self.missing + other.missing,
                             self.frames + other.frames)


def keypoint_stats(real_points: Sequence[np.ndarray | None],
                   fake_points: Sequence[np.ndarray | None]) -> KeypointStats:
    """AKD/MKR sums from per-frame landmarks (each ``(P,2)`` pixels, or ``None``: no face).

    A frame counts for AKD when both are found (mean Euclidean distance of its P points); for
    MKR every point found on the real frame counts as detected, and as missing when the
    generated frame's face is not found (``None``) or that point is NaN.
    """
    if len(real_points) != len(fake_points):
        raise ValueError(f"{len(real_points)} real frames but {len(fake_points)} generated")
    st = KeypointStats(frames=len(real_points))
    for r, f in zip(real_points, fake_points, strict=True):
        if r is None:
            continue
        r = np.asarray(r, np.float64)
        ok_r = np.isfinite(r).all(axis=1)
        st.detected += int(ok_r.sum())
        if f is None:
            st.missing += int(ok_r.sum())
            continue
        f = np.asarray(f, np.float64)
        if f.shape != r.shape:
            raise ValueError(f"landmark shapes differ: real {r.shape}, generated {f.shape}")
        ok_f = np.isfinite(f).all(axis=1)
        st.missing += int((ok_r & ~ok_f).sum())
        both = ok_r & ok_f
        if both.any():
            st.distance_sum += float(np.linalg.norm(r[both] - f[both], axis=1).mean())
            st.pairs += 1
    return st


@dataclass
class IdentityStats:
    """Sums behind AED: ``distance_sum`` over the ``pairs`` frames where both embeddings
    exist."""

    distance_sum: float = 0.0
    pairs: int = 0

    @property
    def aed(self) -> float | None:
        return self.distance_sum / self.pairs if self.pairs else None

    def __add__(self, other: IdentityStats) -> IdentityStats:
        return IdentityStats(self.distance_sum + other.distance_sum, self.pairs + other.pairs)


def identity_stats(real_embeddings: Sequence[np.ndarray | None],
                   fake_embeddings: Sequence[np.ndarray | None]) -> IdentityStats:
    """AED sums: L2 distances between each frame's real and generated embeddings (D,),
    over frames where both exist."""
    if len(real_embeddings) != len(fake_embeddings):
        raise ValueError(f"{len(real_embeddings)} real frames but {len(fake_embeddings)} "
                         f"generated")
    st = IdentityStats()
    for r, f in zip(real_embeddings, fake_embeddings, strict=True):
        if r is None or f is None:
            continue
        st.distance_sum += float(np.linalg.norm(np.asarray(r, np.float64)
                                                - np.asarray(f, np.float64)))
        st.pairs += 1
    return st


def face_stats(real: Sequence[FaceObservation], fake: Sequence[FaceObservation]
               ) -> tuple[KeypointStats, IdentityStats]:
    """AKD/MKR and AED sums from per-frame observations of a face model."""
    return (keypoint_stats([o.points for o in real], [o.points for o in fake]),
            identity_stats([o.embedding for o in real], [o.embedding for o in fake]))


# ----------------------------------------------------------------------------------------------
# FID


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D,D) (unbiased, ``N - 1``) of features (N,D), N >= 2."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features: expected (N,D) with N >= 2, got {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):
    ``|mu1 - mu2|² + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^½)`` (``scipy.linalg.sqrtm``; when
    the product is singular, ``eps`` is added to both diagonals, as in the reference FID code;
    the tiny imaginary part from rounding is dropped)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"frechet_distance: shapes disagree: mu {mu1.shape} / {mu2.shape}, "
                         f"sigma {s1.shape} / {s2.shape}")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(len(s1)) * eps
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def fid_from_features(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """FID between two feature sets (N,D) and (M,D) (:func:`frechet_distance` of their
    :func:`feature_statistics`). Biased on small sets: see the module docstring."""
    return frechet_distance(*feature_statistics(real_features),
                            *feature_statistics(fake_features))


# ----------------------------------------------------------------------------------------------
# Results


def _round(v: float | None, nd: int = 6) -> float | None:
    return None if v is None else round(float(v), nd)


@dataclass
class VideoScores:
    """One video's figures: ``l1_sum`` over its ``frames``, the face sums (``None`` when the
    face model is unavailable)."""

    video: str
    frames: int
    l1_sum: float
    keypoints: KeypointStats | None = None
    identity: IdentityStats | None = None

    @property
    def l1(self) -> float:
        return self.l1_sum / self.frames

    def to_dict(self) -> dict[str, Any]:
        kp, idn = self.keypoints, self.identity
        return {"video": self.video, "frames": self.frames, "L1": _round(self.l1),
                "AKD": _round(kp.akd) if kp else None, "MKR": _round(kp.mkr) if kp else None,
                "AED": _round(idn.aed) if idn else None,
                "frames_with_both_faces": kp.pairs if kp else None,
                "real_landmarks_found": kp.detected if kp else None,
                "identity_pairs": idn.pairs if idn else None}


@dataclass
class ReconstructionMetrics:
    """One row of the table: a method's reconstructions of every video, scored.

    ``info`` maps each of :data:`METRICS` to its :class:`MetricInfo` (external model, protocol,
    or the reason it is unavailable); ``fid`` is over all frames pooled; ``seconds`` the time
    each metric took on this row (for the per-frame cost)."""

    method: str
    videos: list[VideoScores]
    info: dict[str, MetricInfo]
    fid: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def frames(self) -> int:
        return sum(v.frames for v in self.videos)

    def means(self) -> dict[str, float | None]:
        """The mean row: every frame of every video pooled (MKR: every real landmark)."""
        n = self.frames
        l1 = sum(v.l1_sum for v in self.videos) / n if n else None
        kps = [v.keypoints for v in self.videos if v.keypoints is not None]
        ids = [v.identity for v in self.videos if v.identity is not None]
        kp = sum(kps, KeypointStats()) if kps else None
        idn = sum(ids, IdentityStats()) if ids else None
        return {"L1": l1, "AKD": kp.akd if kp else None, "MKR": kp.mkr if kp else None,
                "AED": idn.aed if idn else None, "FID": self.fid}

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "note": self.note, "frames": self.frames,
                "mean": {k: _round(v) for k, v in self.means().items()},
                "videos": [v.to_dict() for v in self.videos],
                "metrics": {k: v.to_dict() for k, v in self.info.items()},
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def _cell(v: float | None, metric: str) -> str:
    if v is None:
        return "n/a"
    return f"{v:.2f}" if metric == "FID" else f"{v:.4f}" if metric in ("L1", "MKR") else f"{v:.3f}"


def format_table(rows: Sequence[ReconstructionMetrics], per_video: bool = True) -> str:
    """A text table: one row per method (mean over every frame), optionally its videos below it,
    and footnotes naming the external model (or the reason for n/a) of each metric."""
    width = max([len("method")] + [len(r.method) + 2 for r in rows]
                + ([len(v.video) + 4 for r in rows for v in r.videos] if per_video else []))
    marks = {m: f"[{i + 1}]" for i, m in enumerate(METRICS)}
    head = f"{'method':<{width}} {'frames':>6} " + " ".join(
        f"{m + marks[m]:>10}" for m in METRICS)
    lines = [head, "-" * len(head)]
    for r in rows:
        mean = r.means()
        lines.append(f"{r.method:<{width}} {r.frames:>6} "
                     + " ".join(f"{_cell(mean[m], m):>10}" for m in METRICS))
        if per_video:
            for v in r.videos:
                d = v.to_dict()
                lines.append(f"{'  ' + v.video:<{width}} {v.frames:>6} "
                             + " ".join(f"{_cell(d.get(m), m):>10}" for m in METRICS[:4])
                             + f" {'':>10}")
    if rows:
        lines.append("")
        info = rows[0].info
        for m in METRICS:
            i = info.get(m, MetricInfo(unavailable="not computed"))
            what = (f"unavailable: {i.unavailable}" if i.unavailable
                    else (i.model.short() + "; " if i.model else "") + i.protocol)
            lines.append(f"{m + marks[m]}: {what}")
        notes = [f"{r.method}: {r.note}" for r in rows if r.note]
        lines += notes
    return "\n".join(lines)
