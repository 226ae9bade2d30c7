"""Building RealFaces: fetch the sources and dlib's models, detect, smooth, crop and label every
kept frame and photo face, check the identity split with face descriptors, and write the
benchmark folder (``frames/``, ``README.txt``, ``manifest.json``). See
:mod:`landmarks.data.realfaces`."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from landmarks.data.fetch import FACE_VIDEO_SOURCES, fetch_face_videos
from landmarks.data.realfaces.annotator import (
    Annotator,
    DlibAnnotator,
    _import_dlib,
    descriptor_path,
    fetch_dlib_predictor,
)
from landmarks.data.realfaces.crops import (
    _iou,
    crop_square,
    fit_inside,
    loose_square,
    mafl5_from_68,
    smooth_boxes,
    to_crop_coords,
)
from landmarks.data.realfaces.definition import (
    CROP_SIZE,
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
    SMOOTH_RADIUS,
    SPLIT_FOLDER,
    SPLIT_NAMES,
    STILLS,
    VIDEO_CLIPS,
    ClipSpec,
    StillSpec,
    check_identity_split,
)
from landmarks.data.realfaces.sources import fetch_more_faces, package_of
from landmarks.data.transforms import DatasetError
from landmarks.data.video_io import iter_rgb_frames

__all__ = ["build_realfaces", "fetch_realfaces", "identity_check"]

#: The text of the built folder's ``README.txt`` (a :meth:`str.format` template), shipped as
#: package data next to this module.
README_TEMPLATE = "README.template.txt"


def _readme_template() -> str:
    """The ``README.txt`` template (:data:`README_TEMPLATE`, package data of
    :mod:`landmarks.data.realfaces`)."""
    return resources.files(__package__).joinpath(README_TEMPLATE).read_text(encoding="utf-8")


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
        readme = _readme_template().format(
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
    :func:`~landmarks.data.realfaces.sources.fetch_more_faces`) and dlib's predictor and face
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
