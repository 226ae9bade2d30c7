"""Bodies (v2): rendered articulated humanoids with exact 2-D joint labels, split by actor and
by motion; the labelled benchmark ``bodies``.

``landmarks data fetch bodies --root DIR`` → :func:`build_bodies` renders (MuJoCo, offscreen on
the CPU; :mod:`landmarks.data.bodies_render`) our own MJCF humanoid
(:mod:`landmarks.data.bodies_scene`; no model file is downloaded) performing smooth joint-space
motions within the joint limits. Each *actor* has its own palette and textures of shirt,
trousers, skin, hair and shoes, sleeve and leg lengths, height and girth; each *clip* its own
floor texture, sky, light and camera (azimuth within ±45° of frontal, elevation, distance) with
a mild camera motion. Clips hold :attr:`BuildSpec.frames` frames (100 by default) at
:attr:`BuildSpec.size` px (128).

Version 2 frames the person as Human3.6M's and BBC-Pose's crops do: the camera stands 2.1-2.5 m
away (:data:`~landmarks.data.bodies_scene.CAMERA_DISTANCE`) and the body drifts at most 0.1 m
(:data:`~landmarks.data.bodies_render.ROOT_DRIFT`), so that the joints span about three
quarters of the image height. Version 1 (2.7-3.2 m, 0.25 m) gave them about half: a 35-px body
at the 64 px the methods train at, with 2-px limbs.

Each frame also comes without its background (``frames_nobg/``: the body's pixels, black
elsewhere, from a segmentation render), as the Human3.6M protocol of Zhang et al. (2018), which
Jakab et al. (2018) follow, removes the background with its masks for training and evaluation
(:mod:`landmarks.data.h36m`). The benchmark ``bodies-nobg`` reads those frames; train on
``training_root_without_actors(ROOT, background=False)``.

Labels are exact: the 15 joints (:data:`~landmarks.data.bodies_scene.JOINT_NAMES`) projected
with the camera MuJoCo rendered with, in the library's pixel convention (pixel ``i``'s centre at
``i``, y down; :mod:`landmarks`), plus a visibility flag per joint from the depth buffer
(self-occlusion and leaving the image).

Splits (:func:`check_splits` enforces them whenever a manifest is written or read):

* ``train``: unsupervised training clips, train actors × train motions;
* ``train_labelled``: other clips of the train actors × train motions (new scenes), for the
  regressor;
* ``test``: unseen actors × unseen motions.

Validation (:func:`validation_actors`): the last fifth of the train actors. Choosing a recipe or
a checkpoint on them is choosing on people the detector did not see, as the test asks, when the
detector trains on :func:`training_root_without_actors` (``benchmarks/bodies_quality.py`` does by
default): their labelled clips are the validation part of the benchmark's ``train`` split (items
carry ``"group": "aNN"``, the actor), and the ``torso`` metric fits its regressor without them.
Choosing a checkpoint also scores every :data:`VALIDATION_CLIP_STRIDE`-th frame of their
``train`` clips (the benchmark's ``validation_extra``) when the detector did not train on them.

Layout of the root::

    manifest.json                          written last (its presence means the build finished)
    README.txt
    frames/<split>/<clip>/<frame:05d>.png  one folder per clip: ``data.kind=video
                                           data.root=ROOT/frames/train`` trains on it
    frames_nobg/<split>/<clip>/...         the same frames, background black
    labels/<split>/<clip>.npz              joints (T, 15, 2) px, visible (T, 15), joints3d
                                           (T, 15, 3) m, depth (T, 15) m, foreground
                                           (T, S, S) bool (the body's pixels)
    views/train_without_a07_a08[_nobg]/    links to the training clips of all but the
                                           validation actors

The benchmark's items (:mod:`landmarks.data.labelled`) carry every joint's exact label;
``"visible"`` is the occlusion flag, and the ``torso`` metric scores visible joints only.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from landmarks import fetching
from landmarks.data.bodies_render import FPS, load_mujoco, render_clip
from landmarks.data.bodies_scene import JOINT_NAMES, sample_actor, sample_scene
from landmarks.data.labelled import LabelledBenchmark
from landmarks.data.transforms import DatasetError, read_image_uint8, uint8_to_tensor
from landmarks.registry import register_benchmark

__all__ = [
    "NO_BACKGROUND_DIR",
    "SPLITS",
    "VERSION",
    "BodiesFrames",
    "BuildSpec",
    "Clip",
    "actors_in_training_root",
    "build_bodies",
    "check_splits",
    "default_root",
    "frames_dir",
    "load_manifest",
    "make_benchmark",
    "plan_clips",
    "training_root_without_actors",
    "validation_actors",
]

VERSION = 2
SPLITS: tuple[str, ...] = ("train", "train_labelled", "test")
#: Shoulders and hips (indices into JOINT_NAMES) whose centres define the torso length.
TORSO_INDICES: tuple[tuple[int, int], tuple[int, int]] = (
    (JOINT_NAMES.index("r_shoulder"), JOINT_NAMES.index("l_shoulder")),
    (JOINT_NAMES.index("r_hip"), JOINT_NAMES.index("l_hip")),
)
#: Share of the train actors held out for validation (:func:`validation_actors`).
VALIDATION_SHARE = 0.2
#: Every n-th frame of the validation actors' unsupervised ``train`` clips that joins their
#: labelled clips in the validation figure (:func:`make_benchmark`'s ``validation_extra``).
VALIDATION_CLIP_STRIDE = 2
#: The folder of the frames without their background (as :data:`SPLITS` under ``frames/``).
NO_BACKGROUND_DIR = "frames_nobg"


@dataclass(frozen=True)
class BuildSpec:
    """What a build renders. Actors ``0 .. train_actors-1`` and motions ``0 ..
    train_motions-1`` are for training; the next ``test_actors`` / ``test_motions`` for the
    test split only."""

    train_actors: int = 9
    test_actors: int = 3
    train_motions: int = 12
    test_motions: int = 4
    train_clips_per_actor: int = 4
    labelled_clips_per_actor: int = 1
    frames: int = 100
    size: int = 128
    seed: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Clip:
    """One clip of the plan: its id, split, actor, motion and scene seeds."""

    id: str
    split: str
    actor: int
    motion: int
    scene: int


def default_root() -> Path:
    """``cache_dir()/data/bodies-v<VERSION>``."""
    return fetching.cache_dir() / "data" / f"bodies-v{VERSION}"


def plan_clips(spec: BuildSpec) -> list[Clip]:
    """The clips of a build: every train actor performs ``train_clips_per_actor`` train
    motions (in turn, so that every motion is used) for ``train`` and
    ``labelled_clips_per_actor`` others for ``train_labelled``; every test actor performs every
    test motion for ``test``. Scene seeds are distinct per clip."""
    clips: list[Clip] = []
    scene = spec.seed * 100_000

    def add(split: str, actor: int, motion: int) -> None:
        nonlocal scene
        clips.append(Clip(f"{split}_a{actor:02d}_m{motion:02d}_s{scene:06d}", split, actor,
                          motion, scene))
        scene += 1

    turn = 0
    for actor in range(spec.train_actors):
        for _ in range(spec.train_clips_per_actor):
            add("train", actor, turn % spec.train_motions)
            turn += 1
    for actor in range(spec.train_actors):
        for _ in range(spec.labelled_clips_per_actor):
            add("train_labelled", actor, turn % spec.train_motions)
            turn += 1
    for a in range(spec.test_actors):
        for m in range(spec.test_motions):
            add("test", spec.train_actors + a, spec.train_motions + m)
    return clips


def check_splits(clips: list[Clip]) -> None:
    """Raise :class:`DatasetError` when the split leaks: a test actor or test motion that
    also appears in ``train`` or ``train_labelled``, a clip id used twice, or an unknown split.
    """
    seen: set[str] = set()
    for c in clips:
        if c.split not in SPLITS:
            raise DatasetError(f"bodies clip {c.id}: unknown split {c.split!r}; expected one "
                               f"of {', '.join(SPLITS)}")
        if c.id in seen:
            raise DatasetError(f"bodies clip id {c.id} appears twice")
        seen.add(c.id)
    test = [c for c in clips if c.split == "test"]
    for c in clips:
        if c.split == "test":
            continue
        for t in test:
            if c.actor == t.actor:
                raise DatasetError(f"bodies split leak: actor {c.actor} is in test clip {t.id} "
                                   f"and in {c.split} clip {c.id}; test actors must be unseen")
            if c.motion == t.motion:
                raise DatasetError(f"bodies split leak: motion {c.motion} is in test clip "
                                   f"{t.id} and in {c.split} clip {c.id}; test motions must "
                                   f"be unseen")


def _clips_of(manifest: dict[str, Any]) -> list[Clip]:
    return [Clip(c["id"], c["split"], int(c["actor"]), int(c["motion"]), int(c["scene"]))
            for c in manifest["clips"]]


_README = """\
Bodies v{version}: rendered articulated humanoids with exact 2-D joint labels, built by
unsupervised-landmarks (landmarks.data.bodies.build_bodies) with MuJoCo {mujoco}.
The humanoid is the project's own MJCF (landmarks/data/bodies_scene.py); nothing was downloaded.
{n} clips of {frames} frames at {size} px, {fps:g} fps.
Splits: train (train actors x train motions), train_labelled (other clips of the same actors
and motions), test (unseen actors x unseen motions). Joints: {joints}.
Labels: labels/<split>/<clip>.npz, pixel (x, y) with pixel i's centre at i, y down;
visible = in the image and not occluded (depth buffer); foreground = the body's pixels.
frames_nobg/: the same frames with the background black (benchmark bodies-nobg).
"""


def build_bodies(root: Path | str | None = None, spec: BuildSpec | None = None,
                 force: bool = False, log: Any = print) -> Path:
    """Render the benchmark into ``root`` (default :func:`default_root`) once.

    Args:
        root: the target folder.
        spec: what to render (default :class:`BuildSpec`).
        force: rebuild even when a finished build with the same spec is there.
        log: called with a progress line per clip (``None``: quiet).

    Returns:
        ``root``. A finished build with the same version and spec is kept (cached).

    Raises:
        DatasetError: ``root`` holds a finished build of another spec (pass ``force``).
        BodiesRenderError: MuJoCo or its GL backend is missing (the message names the package).
    """
    root = Path(root).expanduser() if root is not None else default_root()
    spec = spec or BuildSpec()
    manifest_path = root / "manifest.json"
    if manifest_path.is_file() and not force:
        old = json.loads(manifest_path.read_text())
        if old.get("version") == VERSION and old.get("spec") == spec.to_dict():
            check_splits(_clips_of(old))
            return root
        raise DatasetError(f"{root} holds a bodies build of another version/spec "
                           f"({old.get('version')}, {old.get('spec')}); pass force=True "
                           f"(--force) to rebuild it, or choose another --root")
    mujoco = load_mujoco()
    manifest_path.unlink(missing_ok=True)
    for sub in ("frames", NO_BACKGROUND_DIR, "labels"):
        shutil.rmtree(root / sub, ignore_errors=True)
    clips = plan_clips(spec)
    check_splits(clips)
    start = time.time()
    records = []
    for i, clip in enumerate(clips):
        actor, scene = sample_actor(clip.actor), sample_scene(clip.scene)
        out = render_clip(actor, scene, clip.motion, spec.frames, spec.size)
        folder = root / "frames" / clip.split / clip.id
        bare = root / NO_BACKGROUND_DIR / clip.split / clip.id
        folder.mkdir(parents=True, exist_ok=True)
        bare.mkdir(parents=True, exist_ok=True)
        for t, (frame, body) in enumerate(zip(out["frames"], out["foreground"], strict=True)):
            Image.fromarray(frame).save(folder / f"{t:05d}.png", compress_level=1)
            Image.fromarray(frame * body[..., None]).save(bare / f"{t:05d}.png",
                                                          compress_level=1)
        labels = root / "labels" / clip.split / f"{clip.id}.npz"
        labels.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(labels, **{k: v for k, v in out.items() if k != "frames"})
        records.append({**asdict(clip), "frames": spec.frames, "actor_look": actor.to_dict(),
                        "scene_look": scene.to_dict(),
                        "visible_fraction": float(out["visible"].mean())})
        if log is not None:
            log(f"bodies: clip {i + 1}/{len(clips)} {clip.id} "
                f"({time.time() - start:.0f} s)")
    manifest = {
        "version": VERSION, "spec": spec.to_dict(), "joints": list(JOINT_NAMES),
        "torso_indices": [list(p) for p in TORSO_INDICES], "fps": FPS,
        "mujoco": mujoco.__version__, "build_seconds": round(time.time() - start, 1),
        "splits": {s: {"actors": sorted({c.actor for c in clips if c.split == s}),
                       "motions": sorted({c.motion for c in clips if c.split == s}),
                       "clips": sum(c.split == s for c in clips)} for s in SPLITS},
        "clips": records,
    }
    (root / "README.txt").write_text(_README.format(
        version=VERSION, mujoco=mujoco.__version__, n=len(clips), frames=spec.frames,
        size=spec.size, fps=FPS, joints=", ".join(JOINT_NAMES)))
    tmp = manifest_path.with_suffix(".json.part")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(manifest_path)
    return root


def load_manifest(root: Path | str) -> dict[str, Any]:
    """The manifest of a finished build, its version and split checked.

    Raises:
        DatasetError: no finished build in ``root`` (names the fetch command), another
            version, or a split that leaks (:func:`check_splits`).
    """
    path = Path(root) / "manifest.json"
    if not path.is_file():
        raise DatasetError(f"{root}: no bodies benchmark here (manifest.json missing); build "
                           f"it with `landmarks data fetch bodies --root {root}`")
    manifest = json.loads(path.read_text())
    if manifest.get("version") != VERSION:
        raise DatasetError(f"{root}: bodies version {manifest.get('version')}, this code "
                           f"reads version {VERSION}; rebuild with --force")
    check_splits(_clips_of(manifest))
    return manifest


def actor_group(actor: int) -> str:
    """The group name of an actor's items: ``"a07"``."""
    return f"a{int(actor):02d}"


def validation_actors(manifest: dict[str, Any]) -> list[int]:
    """The train actors held out for validation: the last :data:`VALIDATION_SHARE` of them
    (rounded, at least one; actors 7 and 8 of the default build's 0–8).

    Raises:
        DatasetError: fewer than two train actors (none could be held out).
    """
    actors = sorted(int(a) for a in manifest["splits"]["train"]["actors"])
    if len(actors) < 2:
        raise DatasetError(f"bodies: {len(actors)} train actor(s); validation needs at least "
                           f"two, to hold one out")
    n = min(len(actors) - 1, max(1, round(VALIDATION_SHARE * len(actors))))
    return actors[-n:]


def training_root_without_actors(root: Path | str, actors: list[int] | None = None,
                                 dest: Path | str | None = None, background: bool = True
                                 ) -> Path:
    """A training root (``data.root``) of every ``train`` clip except those of ``actors``
    (default :func:`validation_actors`): ``dest/<clip>`` symbolic links to
    ``root/frames/train/<clip>`` (``background=False``: to ``root/frames_nobg/train/<clip>``).
    ``dest`` defaults to ``root/views/train_without_<aNN_…>`` (``…_nobg``); links in it that
    point elsewhere are removed, right ones kept, anything else in it is an error. Returns
    ``dest``."""
    root = Path(root)
    manifest = load_manifest(root)
    drop = sorted(validation_actors(manifest) if actors is None else {int(a) for a in actors})
    frames = frames_dir(root, background)
    if dest is None:
        dest = root / "views" / ("train_without_" + "_".join(actor_group(a) for a in drop)
                                 + ("" if background else "_nobg"))
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {clip.id: (frames / "train" / clip.id).resolve()
              for clip in _clips_of(manifest) if clip.split == "train" and clip.actor not in drop}
    if not wanted:
        raise DatasetError(f"bodies: leaving out actors {drop} leaves no training clip")
    for entry in dest.iterdir():
        if not entry.is_symlink():
            raise DatasetError(f"{dest} holds {entry.name}, which is not a link this function "
                               f"made; choose an empty folder")
        if entry.name not in wanted or entry.resolve() != wanted[entry.name]:
            entry.unlink()  # a stale link; links already right stay (a run may be reading)
    for name, target in wanted.items():
        if not (dest / name).is_symlink():
            (dest / name).symlink_to(target, target_is_directory=True)
    return dest


def frames_dir(root: Path | str, background: bool = True) -> Path:
    """``root/frames``, or with ``background=False`` ``root/frames_nobg`` (the body alone).

    Raises:
        DatasetError: the folder is missing (a build older than this code: rebuild).
    """
    folder = Path(root) / ("frames" if background else NO_BACKGROUND_DIR)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is missing: this bodies build has no frames "
                           f"{'' if background else 'without background '}(`landmarks data "
                           f"fetch bodies --root {root} --force` rebuilds it)")
    return folder


def actors_in_training_root(data_root: Path | str) -> set[int]:
    """The actors whose clips a training root (``data.root``) holds, from the clip folder names
    (``<split>_a<NN>_m<MM>_s<SSSSSS>``, symbolic links resolved); names of another form are
    ignored. A root with the clips directly in it or one level down (e.g. ``frames/``) counts."""
    found: set[int] = set()
    data_root = Path(data_root)
    if not data_root.is_dir():
        return found
    for entry in [data_root, *data_root.iterdir(), *(
            e for d in data_root.iterdir() if d.is_dir() for e in d.iterdir())]:
        parts = entry.resolve().name.split("_")
        if len(parts) == 4 and parts[1][:1] == "a" and parts[1][1:].isdigit():
            found.add(int(parts[1][1:]))
    return found


class BodiesFrames(Dataset):
    """The labelled frames of one split, at ``image_size`` px.

    Items (:mod:`landmarks.data.labelled`): ``{"image": (3, S, S) float32, "labels": (15, 2)
    float32 pixels of the S×S image, "visible": (15,) bool (not occluded, in the image),
    "group": the actor, "a07"}``;
    the 128-px labels map to S px as ``x_S = (x + 0.5) * S / 128 - 0.5``.

    Args:
        root: the benchmark folder.
        split: one of :data:`SPLITS`.
        image_size: S.
        stride: keep every ``stride``-th frame of each clip.
        background: ``False``: the frames without their background (``frames_nobg``).
        actors: keep the clips of these actors only (``None``: every actor of the split).
    """

    def __init__(self, root: Path | str, split: str, image_size: int, stride: int = 1,
                 background: bool = True, actors: Collection[int] | None = None) -> None:
        if split not in SPLITS:
            raise DatasetError(f"bodies has no split {split!r}; expected one of "
                               f"{', '.join(SPLITS)}")
        self.root, self.split = Path(root), split
        manifest = load_manifest(root)
        native = int(manifest["spec"]["size"])
        self.image_size = int(image_size) if image_size else native
        self.scale = self.image_size / native
        frames = frames_dir(root, background)
        self.items: list[tuple[Path, np.ndarray, np.ndarray, str]] = []
        for clip in manifest["clips"]:
            if clip["split"] != split or (actors is not None and clip["actor"] not in actors):
                continue
            with np.load(self.root / "labels" / split / f"{clip['id']}.npz") as z:
                joints, visible = z["joints"], z["visible"]
            folder = frames / split / clip["id"]
            for t in range(0, len(joints), max(1, int(stride))):
                self.items.append((folder / f"{t:05d}.png", joints[t], visible[t],
                                   actor_group(clip["actor"])))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        path, joints, visible, group = self.items[i]
        image = read_image_uint8(path, self.image_size)
        labels = (joints.astype(np.float64) + 0.5) * self.scale - 0.5
        return {"image": uint8_to_tensor(image),
                "labels": torch.from_numpy(labels.astype(np.float32)),
                "visible": torch.from_numpy(visible.astype(bool)), "group": group}


def make_benchmark(root: Path | str, image_size: int, stride: int = 1, background: bool = True,
                   **options: Any) -> LabelledBenchmark:
    """The labelled benchmark ``bodies`` (``background=False``: ``bodies-nobg``, the frames
    without their background): ``train`` = the ``train_labelled`` clips, ``test`` = unseen
    actors × unseen motions; metric ``torso`` (error in % of the torso length, PCK at 0.1 and
    0.2 of it, visible joints only). ``stride`` keeps every n-th frame."""
    if options:
        raise DatasetError(f"bodies benchmark: unknown options {', '.join(sorted(options))}; "
                           f"it takes 'stride' and 'background'")
    manifest = load_manifest(root)
    held = validation_actors(manifest)
    splits = {"train": BodiesFrames(root, "train_labelled", image_size, stride, background),
              "test": BodiesFrames(root, "test", image_size, stride, background)}
    s = manifest["splits"]
    return LabelledBenchmark(
        name="bodies" if background else "bodies-nobg", splits=splits,
        point_names=list(JOINT_NAMES), metric="torso",
        torso_indices=TORSO_INDICES,
        labels_note="exact labels: joints projected with the rendering camera (MuJoCo)",
        validation_groups=[actor_group(a) for a in held],
        validation_extra=BodiesFrames(root, "train", image_size,
                                      max(1, int(stride)) * VALIDATION_CLIP_STRIDE, background,
                                      actors=held),
        training_groups=lambda data_root: {actor_group(a)
                                           for a in actors_in_training_root(data_root)},
        notes=[
            "error in % of the torso length (shoulder centre to hip centre, per frame), over "
            "visible joints only (depth-buffer occlusion test); the regressor is fitted on "
            "every joint of train_labelled (occluded joints' positions are exact too)",
            f"regressor: train_labelled = actors {s['train_labelled']['actors']} x motions "
            f"{s['train_labelled']['motions']}, less the validation actors {held} (their "
            f"labelled clips are the validation figure); test = unseen actors "
            f"{s['test']['actors']} x unseen motions {s['test']['motions']}",
            f"bodies v{manifest['version']}, MuJoCo {manifest.get('mujoco')}"
            + ("" if background else "; frames without their background (frames_nobg)"),
        ])


@register_benchmark("bodies")
def _bodies_benchmark(root: str | Path, image_size: int, **options: Any) -> LabelledBenchmark:
    return make_benchmark(root, image_size, **options)


@register_benchmark("bodies-nobg")
def _bodies_nobg_benchmark(root: str | Path, image_size: int, **options: Any
                           ) -> LabelledBenchmark:
    return make_benchmark(root, image_size, background=False, **options)
