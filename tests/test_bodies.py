"""The Bodies benchmark: a tiny MuJoCo build, exact labels (a marker rendered at a joint lies
on its label), visibility on a known occlusion, the actor/motion split, the torso metric and
`landmarks eval --dataset bodies` end to end."""

import ctypes.util
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fixtures import write_model_checkpoint, write_tiny_checkpoint
from landmarks.cli import main
from landmarks.config import load_config
from landmarks.data.bodies import (
    NO_BACKGROUND_DIR,
    BodiesFrames,
    BuildSpec,
    Clip,
    actors_in_training_root,
    build_bodies,
    check_splits,
    load_manifest,
    make_benchmark,
    plan_clips,
    training_root_without_actors,
    validation_actors,
)
from landmarks.data.bodies_render import (
    BodiesRenderError,
    BodyRenderer,
    joint_trajectory,
    load_mujoco,
)
from landmarks.data.bodies_scene import DOFS, JOINT_NAMES, sample_actor, sample_scene
from landmarks.data.transforms import DatasetError
from landmarks.evaluation.formatting import format_results
from landmarks.evaluation.regression import LinearRegressor, fit_linear_regressor
from landmarks.evaluation.selection import benchmark_validation_error
from landmarks.evaluation.torso import TorsoMetric, torso_errors, torso_length
from landmarks.geometry.coords import normalized_to_pixels
from landmarks.inference import Detector
from landmarks.models.factory import build_model
from landmarks.registry import BENCHMARKS

TINY = BuildSpec(train_actors=2, test_actors=1, train_motions=2, test_motions=1,
                 train_clips_per_actor=1, labelled_clips_per_actor=1, frames=3, size=64)


def _mujoco_or_skip() -> None:
    try:
        load_mujoco()
    except BodiesRenderError as err:  # `make test` installs it; say why when it is missing
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _mujoco_or_skip()
    return build_bodies(tmp_path_factory.mktemp("bodies") / "b", TINY, log=None)


def test_tiny_build_layout_and_cache(tiny_root: Path) -> None:
    manifest = load_manifest(tiny_root)
    assert manifest["spec"] == TINY.to_dict() and manifest["joints"] == list(JOINT_NAMES)
    assert {c["split"] for c in manifest["clips"]} == {"train", "train_labelled", "test"}
    for clip in manifest["clips"]:
        frames = sorted((tiny_root / "frames" / clip["split"] / clip["id"]).glob("*.png"))
        assert len(frames) == TINY.frames
        with np.load(tiny_root / "labels" / clip["split"] / f"{clip['id']}.npz") as z:
            assert z["joints"].shape == (TINY.frames, 15, 2)
            assert z["visible"].dtype == bool and z["visible"].any()
    stamp = (tiny_root / "manifest.json").stat().st_mtime_ns
    assert build_bodies(tiny_root, TINY, log=None) == tiny_root  # cached: nothing rendered
    assert (tiny_root / "manifest.json").stat().st_mtime_ns == stamp
    with pytest.raises(DatasetError, match="another version/spec"):
        build_bodies(tiny_root, replace(TINY, frames=4), log=None)


def test_v2_frames_the_person(tiny_root: Path) -> None:
    """Version 2's person-centred framing: the joints span about two thirds of the image height
    on this build (measured: 0.67 on average, 0.55-0.72 per clip; v1's framing gave 0.52,
    0.42-0.56) and stay in the image."""
    spans, inside = [], []
    for clip in load_manifest(tiny_root)["clips"]:
        with np.load(tiny_root / "labels" / clip["split"] / f"{clip['id']}.npz") as z:
            y = z["joints"][..., 1]
            spans.append(float((y.max(1) - y.min(1)).mean()) / TINY.size)
            inside.append(float(((z["joints"] >= -0.5) & (z["joints"] <= TINY.size - 0.5))
                                .all(-1).mean()))
    assert 0.6 < np.mean(spans) < 0.85, spans
    assert np.mean(inside) > 0.95, inside


def test_benchmark_items_scale_labels(tiny_root: Path) -> None:
    bench = make_benchmark(tiny_root, 32)
    assert bench.metric == "torso" and bench.point_names == list(JOINT_NAMES)
    item = bench.split("test")[0]
    assert item["image"].shape == (3, 32, 32) and item["labels"].shape == (15, 2)
    native = BodiesFrames(tiny_root, "test", 64)[0]["labels"].numpy()
    np.testing.assert_allclose(item["labels"].numpy(), (native + 0.5) / 2 - 0.5, atol=1e-5)


@pytest.mark.parametrize("size", [64, 97])
def test_marker_centroid_is_the_label(size: int) -> None:
    """A red sphere rendered at a joint: the joint's label lies on the centroid of the
    sphere's pixels within 0.5 px (the label follows the rendering camera and the pixel-centre
    convention)."""
    _mujoco_or_skip()
    hinges, root = joint_trajectory(3, 10)
    for joint, (azimuth, elevation) in [("l_wrist", (200, -10)), ("head", (160, -20)),
                                        ("r_knee", (180, -5)), ("l_ankle", (215, -15))]:
        body = BodyRenderer(sample_actor(1), sample_scene(1), size, marker=joint,
                            marker_radius=0.07)
        try:
            world = body.pose(hinges[5], root[5])
            body.look(azimuth, elevation, 2.6, np.array([0.0, 0.0, 0.9]))
            body.render()
            px, _ = body.project(world)
            ys, xs = np.nonzero(body.segmentation(marker_only=True) == body.marker)
        finally:
            body.close()
        assert xs.size > 10, joint
        centroid = np.array([xs.mean(), ys.mean()])
        assert np.abs(px[JOINT_NAMES.index(joint)] - centroid).max() < 0.5, joint


def test_visibility_profile_hides_the_far_side() -> None:
    """In profile (arms held forward, so that they do not cover the hips) with the right side
    to the camera, the right shoulder, hip and knee are visible and the left ones hidden
    behind the body; from the front, arms hanging, every joint is visible."""
    _mujoco_or_skip()
    body = BodyRenderer(sample_actor(2), sample_scene(2), 96)
    forward = np.array([np.radians(90) if d.name.endswith("shoulder_flex") else 0.0
                        for d in DOFS])
    seen = {}
    try:
        for view, azimuth, hinges in (("profile", 90.0, forward),
                                      ("front", 180.0, np.zeros(len(DOFS)))):
            world = body.pose(hinges, np.zeros(3))
            body.look(azimuth, -5.0, 3.0, np.array([0.0, 0.0, 0.9]))
            _, depth = body.render()
            px, de = body.project(world)
            seen[view] = dict(zip(JOINT_NAMES, body.visibility(px, de, depth), strict=True))
    finally:
        body.close()
    for part in ("shoulder", "hip", "knee"):
        assert seen["profile"][f"r_{part}"] and not seen["profile"][f"l_{part}"], part
    assert all(seen["front"].values()), seen["front"]


def test_split_check_fails_on_a_leak() -> None:
    clips = plan_clips(BuildSpec())
    check_splits(clips)
    test = next(c for c in clips if c.split == "test")
    train = next(c for c in clips if c.split == "train")
    with pytest.raises(DatasetError, match="actor"):
        check_splits(clips + [Clip("leak_a", "train_labelled", test.actor, train.motion, 9)])
    with pytest.raises(DatasetError, match="motion"):
        check_splits(clips + [Clip("leak_m", "train", train.actor, test.motion, 9)])
    with pytest.raises(DatasetError, match="twice"):
        check_splits(clips + [clips[0]])


def test_split_check_runs_when_reading(tiny_root: Path, tmp_path: Path) -> None:
    manifest = json.loads((tiny_root / "manifest.json").read_text())
    test = next(c for c in manifest["clips"] if c["split"] == "test")
    leak = next(c for c in manifest["clips"] if c["split"] == "train")
    leak["actor"] = test["actor"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="leak"):
        load_manifest(tmp_path)


def test_motion_stays_within_limits() -> None:
    q, root = joint_trajectory(7, 400)
    lo = np.radians([d.lo for d in DOFS])
    hi = np.radians([d.hi for d in DOFS])
    assert ((q > lo) & (q < hi)).all() and root.shape == (400, 3)
    assert np.abs(np.diff(q, axis=0)).max() < 0.25  # smooth: < 15 degrees per frame


def test_torso_metric_hand_values() -> None:
    rng = np.random.default_rng(0)
    labels = rng.uniform(0, 64, (40, 15, 2))
    torso = ((2, 5), (9, 12))
    vis = np.ones((40, 15), bool)
    vis[:, 0] = False
    test = labels.copy()
    test[:, 0] += 1000.0  # a hidden joint far off: not counted
    # keypoints = the labels themselves (K = L = 15): regression and matching are exact
    scored = TorsoMetric(torso).score(labels, labels, labels, test,
                                      visible=(np.ones_like(vis), vis))
    e = scored.entries
    assert e["torso_error"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert e["pck"]["at_0.2"] == 100.0 and e["matching"]["assignment"] == list(range(15))
    shift = labels + np.array([3.0, 4.0])  # every point 5 px off
    scored = TorsoMetric(torso).score(labels, labels, shift, labels)
    length = torso_length(labels, torso)
    expected = 100.0 * np.mean(5.0 / length)
    assert scored.entries["matching"]["torso_error"]["mean"] == pytest.approx(expected)


def test_eval_cli_on_the_tiny_build(tiny_root: Path, tmp_path: Path) -> None:
    ckpt = write_tiny_checkpoint(tmp_path / "m.pt")
    out = tmp_path / "bodies.json"
    assert main(["eval", str(ckpt), "--dataset", "bodies", "--root", str(tiny_root),
                 "--device", "cpu", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["metric"] == "torso" and res["dataset"] == "bodies"
    assert res["torso_error"]["mean"] is not None
    assert res["mean_shape"]["torso_error"]["mean"] is not None
    assert {"at_0.1", "at_0.2", "per_part_at_0.2"} <= set(res["pck"])
    assert "skipped" in res["matching"]  # K=6 < 15 joints
    assert "torso length" in format_results(res)


def test_missing_gl_library_names_the_debian_package() -> None:
    """A GL backend whose library is missing: the error names the Debian package (here OSMesa,
    which the project does not install; skipped where libOSMesa is present)."""
    if ctypes.util.find_library("OSMesa"):
        pytest.skip("libOSMesa is installed here: the missing-library path cannot be shown")
    code = ("from landmarks.data.bodies_render import load_mujoco\n"
            "try:\n    load_mujoco()\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}  # set by MuJoCo
    env.update(MUJOCO_GL="osmesa", PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120).stdout
    if not out:
        pytest.skip("MuJoCo loaded its OSMesa backend")
    assert "BodiesRenderError" in out and "libosmesa6" in out


def _manifest_of(spec: BuildSpec) -> dict:
    clips = plan_clips(spec)
    return {"splits": {s: {"actors": sorted({c.actor for c in clips if c.split == s})}
                       for s in ("train", "train_labelled", "test")}}


def test_validation_actors_are_the_last_fifth_of_the_train_actors() -> None:
    assert validation_actors(_manifest_of(BuildSpec())) == [7, 8]
    assert validation_actors(_manifest_of(TINY)) == [1]
    with pytest.raises(DatasetError, match="at least two"):
        validation_actors(_manifest_of(replace(TINY, train_actors=1)))


def test_training_root_without_the_validation_actors(tiny_root: Path, tmp_path: Path) -> None:
    view = training_root_without_actors(tiny_root)
    assert view.parent == tiny_root / "views" and view.name == "train_without_a01"
    names = sorted(p.name for p in view.iterdir())
    assert names and all("_a00_" in n for n in names) and all(p.is_symlink()
                                                              for p in view.iterdir())
    assert actors_in_training_root(view) == {0}
    assert actors_in_training_root(tiny_root / "frames" / "train") == {0, 1}
    assert actors_in_training_root(tmp_path / "nowhere") == set()
    (view / "stale_a01_m00_s000009").symlink_to(tiny_root / "frames" / "test")
    first = view / names[0]
    stamp = first.lstat().st_mtime_ns
    again = training_root_without_actors(tiny_root)  # stale links go, right ones stay
    assert sorted(p.name for p in again.iterdir()) == names
    assert first.lstat().st_mtime_ns == stamp
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("a user's file")
    with pytest.raises(DatasetError, match="notes.txt"):
        training_root_without_actors(tiny_root, [1], tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "a user's file"


def test_torso_validation_holds_whole_groups_out_of_the_fit() -> None:
    rng = np.random.default_rng(1)
    labels = rng.uniform(0, 64, (60, 15, 2))
    groups = ["a00"] * 20 + ["a01"] * 20 + ["a02"] * 20
    kp = labels.copy()
    kp[40:] += rng.normal(0, 30, (20, 15, 2))  # group a02: keypoints off the labels
    scored = TorsoMetric(((2, 5), (9, 12))).score(kp, labels, labels, labels,
                                                  train_groups=groups, val_groups=["a02"])
    e = scored.entries
    assert e["val_split"] == {"by": "group", "groups": ["a02"], "frames": 20}
    assert scored.fit_sizes == {"regression_fit": 40, "regression_val": 20}
    # fitted on a00 and a01 alone, where keypoints = labels: the test is exact, a02 is not
    assert e["torso_error"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert e["val_torso_error"] > 20.0
    plain = TorsoMetric(((2, 5), (9, 12))).score(kp, labels, labels, labels)
    assert plain.entries["val_split"]["by"] == "frame"
    assert plain.entries["torso_error"]["mean"] > 1.0  # the noisy frames were in its fit
    with pytest.raises(ValueError, match="none is left"):
        TorsoMetric(((2, 5), (9, 12))).score(kp, labels, labels, labels, train_groups=groups,
                                             val_groups=["a00", "a01", "a02"])


def test_eval_says_whether_the_detector_saw_the_validation_actors(tiny_root: Path,
                                                                   tmp_path: Path) -> None:
    view = training_root_without_actors(tiny_root)
    for root, saw in ((view, False), (tiny_root / "frames" / "train", True)):
        ckpt = write_model_checkpoint(tmp_path / f"{saw}.pt", "imm", images=root, k=4, size=32)
        out = tmp_path / f"{saw}.json"
        assert main(["eval", str(ckpt), "--dataset", "bodies", "--root", str(tiny_root),
                     "--device", "cpu", "--out", str(out)]) == 0
        res = json.loads(out.read_text())
        assert res["val_split"] == {"by": "group", "groups": ["a01"], "frames": 3,
                                    "detector_saw_them": saw}
        assert ("DETECTOR SAW THEM" in format_results(res)) is saw
        assert any("not held out" in n for n in res["notes"]) is saw
        val = benchmark_validation_error(ckpt, "bodies", tiny_root, device="cpu")
        assert val["val_groups"] == ["a01"] and val["val_floor"] > 0
        assert val["val_by_group"] == {"a01": pytest.approx(val["val_error"])}
        if saw:  # its train clips were trained on: the labelled clip alone, as eval scores it
            assert val["frames"] == 3 and val["extra_frames"] == 0
            assert val["val_error"] == pytest.approx(res["val_torso_error"])
            continue
        # held out: actor 1's train clip joins (every 2nd frame), the fit is actor 0's alone
        assert val["extra_frames"] == 2 and val["frames"] == 3 + 2
        fit = _detected_by_hand(ckpt, tiny_root, "train_labelled", "a00")
        scored = [_detected_by_hand(ckpt, tiny_root, "train_labelled", "a01"),
                  [a[::2] for a in _detected_by_hand(ckpt, tiny_root, "train", "a01")]]
        kp, labels, visible = (np.concatenate(a) for a in zip(*scored, strict=True))
        err = torso_errors(fit_linear_regressor(fit[0], fit[1]).predict(kp), labels,
                           load_manifest(tiny_root)["torso_indices"])[visible]
        assert val["val_error"] == pytest.approx(100 * err.mean())


def test_frames_without_background(tiny_root: Path, tmp_path: Path) -> None:
    """frames_nobg: the build's frames with every pixel but the body's black, the body's pixels
    untouched; the benchmark bodies-nobg and the _nobg training view read them."""
    clip = next(c for c in load_manifest(tiny_root)["clips"] if c["split"] == "test")
    with np.load(tiny_root / "labels" / "test" / f"{clip['id']}.npz") as z:
        body = z["foreground"]
    assert body.shape == (TINY.frames, TINY.size, TINY.size) and body.dtype == bool
    assert 0.03 < body.mean() < 0.5  # a person, not the frame
    for t in range(TINY.frames):
        full = np.asarray(Image.open(tiny_root / "frames" / "test" / clip["id"]
                                     / f"{t:05d}.png"))
        bare = np.asarray(Image.open(tiny_root / NO_BACKGROUND_DIR / "test" / clip["id"]
                                     / f"{t:05d}.png"))
        on = body[t]
        assert (bare[~on] == 0).all() and (bare[on] == full[on]).all()
        assert (full[~on] != 0).any()  # there was a background to remove
    plain, nobg = make_benchmark(tiny_root, 32), BENCHMARKS.create("bodies-nobg",
                                                                   root=tiny_root, image_size=32)
    assert nobg.name == "bodies-nobg" and plain.name == "bodies"
    a, b = plain.split("test")[0], nobg.split("test")[0]
    assert torch.equal(a["labels"], b["labels"]) and not torch.equal(a["image"], b["image"])
    assert float(b["image"][:, 0, 0].abs().sum()) == 0.0  # a corner is background
    view = training_root_without_actors(tiny_root, background=False)
    assert view.name == "train_without_a01_nobg"
    assert all(p.resolve().parent == (tiny_root / NO_BACKGROUND_DIR / "train").resolve()
               for p in view.iterdir())
    assert actors_in_training_root(view) == {0}
    ckpt = write_model_checkpoint(tmp_path / "m.pt", "imm", images=view, k=4, size=32)
    out = tmp_path / "nobg.json"
    assert main(["eval", str(ckpt), "--dataset", "bodies-nobg", "--root", str(tiny_root),
                 "--device", "cpu", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["dataset"] == "bodies-nobg" and res["val_split"]["detector_saw_them"] is False


def test_a_build_without_background_frames_says_rebuild(tiny_root: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    for name in ("manifest.json", "labels", "frames"):
        (old / name).symlink_to(tiny_root / name)
    assert len(make_benchmark(old, 32).split("test")) > 0  # with its background: fine
    with pytest.raises(DatasetError, match=r"frames_nobg is missing.*--force"):
        make_benchmark(old, 32, background=False)


def _bodies_quality():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bodies_quality.py"
    spec = importlib.util.spec_from_file_location("bodies_quality", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _evaluated_tiny_checkpoint(tiny_root: Path, tmp_path: Path) -> tuple[Path, dict]:
    """A K=4 imm checkpoint trained on actor 0's clips (actor 1 is validation) and its
    ``landmarks eval --dataset bodies`` results on the tiny build."""
    view = training_root_without_actors(tiny_root)  # actor 0 only (actor 1 is validation)
    ckpt = write_model_checkpoint(tmp_path / "m.pt", "imm", images=view, k=4, size=32)
    out = tmp_path / "bodies.json"
    assert main(["eval", str(ckpt), "--dataset", "bodies", "--root", str(tiny_root),
                 "--device", "cpu", "--out", str(out)]) == 0
    return ckpt, json.loads(out.read_text())


def _detected_by_hand(ckpt: Path, root: Path, split: str, actor: str | None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 32-px tiny build's ``split`` frames (of ``actor`` alone, unless None), detected in one
    batch: keypoints in pixels, labels and visibility."""
    detector = Detector.from_checkpoint(ckpt, device="cpu")
    frames = BodiesFrames(root, split, 32)
    items = [frames[i] for i in range(len(frames)) if actor in (None, frames.items[i][3])]
    kp = detector.detect_tensor(torch.stack([it["image"] for it in items])).double().numpy()
    return (normalized_to_pixels(kp, (32, 32)),
            np.stack([it["labels"].numpy() for it in items]).astype(np.float64),
            np.stack([it["visible"].numpy() for it in items]))


def test_seen_actor_figure_scores_the_detectors_own_training_actors(tiny_root: Path,
                                                                     tmp_path: Path) -> None:
    quality = _bodies_quality()
    ckpt, results = _evaluated_tiny_checkpoint(tiny_root, tmp_path)
    seen = quality.seen_error(ckpt, results, tiny_root, stride=1)
    assert seen["actors"] == ["a00"] and seen["frames"] == TINY.frames
    assert seen["torso_error"] > 0 and 0 <= seen["pck_at_0.2"] <= 100
    # by hand: actor 0's train clip (not its labelled clip, not actor 1), visible joints only
    kp, labels, visible = _detected_by_hand(ckpt, tiny_root, "train", "a00")
    joints = LinearRegressor.from_dict(results["regressor"]).predict(kp)
    err = torso_errors(joints, labels, load_manifest(tiny_root)["torso_indices"])[visible]
    assert seen["torso_error"] == pytest.approx(100 * err.mean())


def test_wide_fit_figure_fits_on_the_training_actors_labelled_and_train_clips(
        tiny_root: Path, tmp_path: Path) -> None:
    quality = _bodies_quality()
    ckpt, results = _evaluated_tiny_checkpoint(tiny_root, tmp_path)
    wide = quality.wide_fit_error(ckpt, results, tiny_root, stride=1)
    # by hand: fit on actor 0's labelled and train clips (not actor 1's), score every test frame
    fit = [_detected_by_hand(ckpt, tiny_root, "train_labelled", "a00"),
           _detected_by_hand(ckpt, tiny_root, "train", "a00")]
    assert wide["fit_frames"] == sum(len(f[0]) for f in fit) == 2 * TINY.frames
    regressor = fit_linear_regressor(np.concatenate([f[0] for f in fit]),
                                     np.concatenate([f[1] for f in fit]))
    kp, labels, visible = _detected_by_hand(ckpt, tiny_root, "test", None)
    err = torso_errors(regressor.predict(kp), labels,
                       load_manifest(tiny_root)["torso_indices"])[visible]
    assert wide["torso_error"] == pytest.approx(100 * err.mean())
    assert wide["pck_at_0.2"] == pytest.approx(100 * (err <= 0.2).mean())


def test_quality_recipes_take_modifiers() -> None:
    quality = _bodies_quality()
    config, overrides = quality.recipe("zhang-k16+cosine")
    assert config.name == "zhang_bodies.yaml"
    assert overrides == ["model.num_keypoints=16", "optim.schedule=cosine"]
    _, overrides = quality.recipe("motion-sep+cosine+b8")
    assert overrides[-2:] == ["optim.schedule=cosine", "train.batch_size=8"]
    with pytest.raises(KeyError, match="imm\\+warm"):
        quality.recipe("imm+warm")


def test_quality_table_has_a_cell_per_column_old_rows_too() -> None:
    quality = _bodies_quality()
    row = {"recipe": "imm", "benchmark": "bodies-nobg", "steps": 10, "chosen": "step_10.pt",
           "val_torso_error": 30.0, "val_floor": 40.0, "val_by_actor": {"a08": 40.0, "a07": 20.0},
           "torso_error": 25.0, "pck_at_0.1": 30.0, "pck_at_0.2": 60.0,
           "hungarian_torso_error": None, "mean_shape_torso_error": 44.0,
           "mean_shape_pck_at_0.2": 20.0}
    old = {k: v for k, v in row.items() if k != "val_by_actor"} | {"val_torso_error": 31.0}
    lines = quality.format_table([old, row], "10 steps").splitlines()
    assert len({line.count("|") for line in lines}) == 1
    assert "| a07 20.0%, a08 40.0% |" in lines[2]  # best validation first, actors in order


def test_learning_curve_chooses_as_a_run_of_that_length_would(monkeypatch) -> None:
    import importlib

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    curve = importlib.import_module("bodies_curve")
    val = {200: 10.0, 400: 30.0, 600: 25.0, 800: 28.0, 1000: 27.0, 1200: 26.0, 1400: 24.0}
    ranked = [{"checkpoint": f"run/checkpoints/step_{s:07d}.pt", "val_error": e}
              for s, e in sorted(val.items(), key=lambda kv: kv[1])]
    assert curve.checkpoint_step(ranked[0]["checkpoint"]) == 200
    # a run of 1000 steps keeps 200..1000 and chooses step 200, the best of them
    assert curve.choose_at(ranked, 1000)["val_error"] == 10.0
    # one of 1300 steps keeps 400..1200 (step 200 pruned): the best of them is step 600 (25%)
    assert curve.checkpoint_step(curve.choose_at(ranked, 1300)["checkpoint"]) == 600
    assert curve.checkpoint_step(curve.choose_at(ranked, 1400)["checkpoint"]) == 1400
    assert curve.choose_at(ranked, 100) is None
    assert curve.checkpoint_step("run/checkpoints/last.pt") is None
    assert "train.keep_checkpoints=0" in _bodies_quality().recipe("imm-k16+keepall")[1]


def test_chosen_imm_recipe_builds_the_detector_with_context_layers() -> None:
    path, overrides = _bodies_quality().recipe("imm-k16+ctx3")
    model = build_model(load_config(path, overrides))
    assert model.num_keypoints == 16
    assert len(model.landmark_context.blocks) == 3
    assert not load_config(*_bodies_quality().recipe("imm+video")).data.video_tps


def test_motion_vgg_recipe_builds_the_vgg19_detector_with_context_layers() -> None:
    path, overrides = _bodies_quality().recipe("motion-sep+vgg+ctx3")
    cfg = load_config(path, [*overrides, "loss.vgg_weights=random"])
    model = build_model(cfg)
    assert model.needs_pretrained_weights
    assert len(model.kp_detector.context.blocks) == 3
    assert cfg.loss.terms["separation"] == 100
