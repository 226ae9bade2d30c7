"""Tests for landmarks.report: the self-contained HTML report of a run folder."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures import write_image_folder, write_video
from landmarks import report as report_mod
from landmarks.cli import main
from landmarks.report import (
    SECTION_TITLES,
    ReportError,
    build_report,
    evaluation,
    figures,
    read_metrics,
    sections,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "configs" / "smoke.yaml")
POINT_NAMES = ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"]
LABELS_NOTE = "labels are from dlib's supervised 68-point model, not from people"
_PNG_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _eval_json(images: list[Path]) -> dict:
    rng = np.random.default_rng(0)
    labels = [[10.0, 14.0], [30.0, 14.0], [20.0, 24.0], [13.0, 34.0], [27.0, 34.0]]
    examples = []
    for p in images[:5]:
        reg = (np.asarray(labels) + rng.normal(0, 2, (5, 2))).tolist()
        examples.append({"image": str(p), "labels": labels, "regressed": reg,
                         "keypoints": rng.uniform(0, 47, (4, 2)).tolist()})
    examples.append({"image": "no/such/image.png", "labels": labels, "regressed": labels,
                     "keypoints": []})
    return {
        "checkpoint": "run/checkpoints/step_0000006.pt", "dataset": "realfaces",
        "root": str(images[0].parent), "num_keypoints": 4, "image_size": 32, "crop_size": 48,
        "labels_note": LABELS_NOTE, "point_names": POINT_NAMES,
        "sizes": {"train_labelled": 40, "test": 12},
        "iod_error": {"mean": 9.5, "per_point": [8.0, 9.0, 10.0, 10.5, 10.0]},
        "val_iod_error": 9.9,
        "pck": {"thresholds": [1, 2, 4, 6, 8, 10], "curve": [5, 15, 40, 61, 75, 84],
                "at_6": 61.0, "per_part_at_6": [70.0, 65.0, 55.0, 58.0, 57.0]},
        "matching": {"assignment": [0, 1, 3, 2, 2], "mean_error_px": 4.2, "iod_error": 17.3},
        "sample_efficiency": [{"n": n, "mean": 20.0 / np.log2(n + 1), "std": 1.0, "draws": 5}
                              for n in (1, 5, 10, 40)],
        "baseline": {"name": "dlib 68-point", "iod_error": {"mean": 0.0,
                                                            "per_point": [0.0] * 5},
                     "missing": 0},
        "examples": examples,
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) run folder: smoke training (2 steps, a checkpoint and a quadruplet picture
    after each), an eval JSON, a detect video and a contact sheet."""
    base = tmp_path_factory.mktemp("report")
    images = write_image_folder(base / "images", 12, 48)
    run = base / "run"
    assert main(["train", "--config", SMOKE, f"data.root={base / 'images'}", "train.device=cpu",
                 "train.steps=2", "train.checkpoint_every=1", "train.log_every=1",
                 "--out", str(run)]) == 0
    (run / "eval").mkdir()
    (run / "eval" / "fake.json").write_text(json.dumps(_eval_json(images)))
    write_video(run / "detect" / "clip.mp4", 8, (32, 32))
    Image.new("RGB", (96, 32), (200, 60, 30)).save(run / "detect" / "clip_frames.png")
    return run


@pytest.fixture(scope="module")
def report(run: Path) -> Path:
    """The run's report at the default place (RUN_DIR/report.html), written once."""
    out = write_report(run, None, None)
    assert out == run / "report.html"
    return out


def _clone_run(run: Path, dst: Path, **data: object) -> Path:
    """A run folder holding only config.yaml and the newest checkpoint of ``run``, with
    ``data.*`` changed in both."""
    from landmarks.config import from_dict, save_config
    from landmarks.engine.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

    ckpt = latest_checkpoint(run)
    state = load_checkpoint(ckpt)
    state["config"]["data"].update(data)
    save_checkpoint(dst / "checkpoints" / ckpt.name, state)
    save_config(from_dict(state["config"]), dst / "config.yaml")
    return dst


def _png_uris(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in _PNG_URI.findall(text)]


def test_loss_curves_show_raw_layer_errors_in_their_own_panel(run: Path) -> None:
    metrics = report_mod.read_metrics(run / "metrics.csv")
    raw = [c for c in metrics if c.startswith("perceptual_raw/")]
    assert raw and all(np.isfinite(metrics[c]).all() and (metrics[c] >= 0).all() for c in raw)
    body = sections._loss_section(metrics).body
    assert "raw layer errors" in body and "hovers near 1000" in body
    without = {c: v for c, v in metrics.items() if c not in raw}
    assert "raw layer errors" not in sections._loss_section(without).body


def test_report_has_all_sections_inline_and_offline(report: Path) -> None:
    assert sorted(p.name for p in report.parent.glob("*report.html*")) == ["report.html"]
    text = report.read_text()
    for key, title in SECTION_TITLES.items():
        # the animation section is only for models that animate (tests/test_animate.py)
        assert (f"<h2>{title}</h2>" in text) == (key != "animation"), title
    # loss 1 + quadruplets (first, newest) 2 + score maps 3 + swap grid 1 + PCK 1
    # + sample efficiency 1 + examples 1 + detect contact sheet 1
    pngs = _png_uris(text)
    assert len(pngs) == 11
    for data in pngs:
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "PNG" and im.width > 20 and im.height > 20
    assert text.count("data:video/mp4;base64,") == 1 and "<video controls loop muted" in text
    assert "http://" not in text and "https://" not in text
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)""", text)
    assert len(refs) > 10 and all(r.startswith(("data:", "#")) for r in refs), refs
    assert html.escape(LABELS_NOTE) in text
    assert "dlib 68-point" in text and "61.0" in text and "left_eye" in text
    assert "1 of 6 images could not be found" in text
    assert "step_0000002.pt" in text  # the newest checkpoint, in the header and score maps
    assert "step 1 (first)" in text and "step 2 (newest)" in text


def test_existing_report_needs_force(run: Path, report: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    before = report.read_bytes()
    with pytest.raises(FileExistsError, match=re.escape(str(report))):
        write_report(run)
    assert main(["report", str(run)]) == 2
    assert report.read_bytes() == before
    try:  # --force overwrites (the page itself is built by the real code in other tests)
        monkeypatch.setattr(report_mod, "build_report", lambda *a, **k: "<p>new</p>")
        assert write_report(run, force=True) == report
        assert report.read_text() == "<p>new</p>"
    finally:
        report.write_bytes(before)


def test_not_a_run_folder_names_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.yaml").write_text("model: {}\n")
    with pytest.raises(ReportError, match=re.escape(str(empty))) as err:
        write_report(empty)
    assert "metrics.csv" in str(err.value) and "checkpoints" in str(err.value)
    assert not (empty / "report.html").exists()
    missing = tmp_path / "nope"
    with pytest.raises(ReportError, match=re.escape(str(missing))):
        write_report(missing)
    assert main(["report", str(empty)]) == 2
    assert str(empty) in capsys.readouterr().err


def test_missing_training_data_skips_score_maps_with_note(run: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    clone = _clone_run(run, tmp_path / "run", root=str(gone))
    text = write_report(clone).read_text()
    assert "<h2>Score maps</h2>" in text and "cannot be read any more" in text
    assert str(gone) in text and "(no longer exists)" in text
    assert "<h2>Loss curves</h2>" not in text and "no rows in metrics.csv" in text
    assert not _png_uris(text)


def test_score_maps_of_a_video_run_use_target_frames(run: Path, tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", 12, (32, 32))
    clone = _clone_run(run, tmp_path / "run", kind="video", root=str(video),
                       frame_gap=[1, 3])
    from landmarks.engine.checkpoint import latest_checkpoint

    body = sections._score_section(sections._load_run_model(latest_checkpoint(clone))).body
    assert len(_png_uris(body)) == 3
    assert body.count("target frame") == 3 + 1  # each figure's alt text, and the caption


def test_swap_grid_uses_held_out_items_when_the_reader_has_a_test_split(
        run: Path, tmp_path: Path) -> None:
    from fixtures_digits import write_digits_fixture
    from landmarks.commands.swap import swap_grid
    from landmarks.engine.checkpoint import latest_checkpoint

    mnist = write_digits_fixture(tmp_path / "mnist")
    clone = _clone_run(run, tmp_path / "run", kind="mnist_colour", root=str(mnist),
                       options={"pairing": "shared_colours"})
    loaded = sections._load_run_model(latest_checkpoint(clone))
    assert loaded.held_out is not None and loaded.held_out.split == "test"
    body = sections._swap_section(loaded).body
    assert "the held-out (test) split" in body and "held-out item" in body
    (png,) = _png_uris(body)
    with Image.open(io.BytesIO(png)) as im:
        grid = np.asarray(im.convert("RGB"))
    images, _ = sections._dataset_images(loaded.held_out, 8, shuffle=True)
    import torch

    expected = swap_grid(loaded.detector, torch.stack(images[:4]), torch.stack(images[4:]))
    assert np.array_equal(grid, expected)  # 4 style × 4 geometry cells, as swap_grid draws them
    # the smoke run's image folder has no test split: training items, and the caption says so
    own = sections._swap_section(sections._load_run_model(latest_checkpoint(run))).body
    assert "the training data (the reader has no test split)" in own


def test_sparse_eval_json_and_explicit_files(run: Path, tmp_path: Path) -> None:
    small = tmp_path / "run"
    small.mkdir()
    shutil.copy(run / "metrics.csv", small / "metrics.csv")
    sparse = tmp_path / "sparse.json"
    sparse.write_text(json.dumps({
        "iod_error": {"mean": 12.5}, "matching": {"skipped": "K < 5"},
        "baseline": {"skipped": "dlib not installed"}}))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    odd = tmp_path / "odd.json"
    Image.new("RGB", (16, 16)).save(tmp_path / "im.png")
    odd.write_text(json.dumps({"examples": [{"image": "im.png", "labels": "x"}],
                               "sample_efficiency": "n/a", "pck": {"curve": [1]}}))
    text = build_report(small, [sparse, broken, odd])
    assert "odd.json</code> could not be shown" in text
    assert "12.50" in text and "skipped: K &lt; 5" in text and "dlib not installed" in text
    assert "does not say where its labels come from" in text
    assert "broken.json" in text and "could not be read" in text
    assert "<h2>Evaluation</h2>" in text and "<h2>Score maps</h2>" not in text
    with pytest.raises(FileNotFoundError, match="nothere.json"):
        write_report(small, tmp_path / "x.html", [tmp_path / "nothere.json"])
    assert not (tmp_path / "x.html").exists()
    # the CLI passes --eval files through
    out = tmp_path / "cli.html"
    assert main(["report", str(small), "--out", str(out), "--eval", str(sparse)]) == 0
    assert "sparse.json" in out.read_text() and "broken.json" not in out.read_text()


def test_large_video_is_linked_relative(run: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sections, "VIDEO_INLINE_LIMIT", 10)
    out_dir = tmp_path / "sub"
    body = sections._detect_section([run / "detect" / "clip.mp4"], [], out_dir).body
    assert "data:video/mp4" not in body and "linked, not embedded" in body
    href = re.search(r'<a href="([^"]+clip\.mp4)"', body).group(1)
    assert not href.startswith(("/", "file:", "http"))
    assert (out_dir / href).resolve() == (run / "detect" / "clip.mp4").resolve()


def test_read_metrics_resumed_rows(tmp_path: Path) -> None:
    p = tmp_path / "metrics.csv"
    p.write_text("step,loss,perceptual/input,lr\n2,5.0,1.0,0.1\n4,4.0,,0.1\n"
                 "2,4.5,0.9,0.1\n6,3.0,0.5,0.1\n")
    m = read_metrics(p)
    assert m["step"].tolist() == [2, 4, 6]
    assert m["loss"].tolist() == [4.5, 4.0, 3.0]
    assert np.isnan(m["perceptual/input"][1])
    (tmp_path / "empty.csv").write_text("step,loss\n")
    assert read_metrics(tmp_path / "empty.csv") == {}


def test_headless_chromium_renders_report(report: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed: apt-get install chromium to run the headless "
                    "render check")
    shot = tmp_path / "shot.png"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={shot}", "--window-size=1200,3000", report.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert shot.is_file(), f"no screenshot (rc {proc.returncode}): {proc.stderr[-2000:]}"
    with Image.open(shot) as im:
        arr = np.asarray(im.convert("RGB"))
    assert arr.shape[:2] == (3000, 1200)
    assert arr.std() > 20
    colours = np.unique((arr[::4, ::4] // 32).reshape(-1, 3), axis=0)
    assert len(colours) > 50
    # the page is not one flat colour band anywhere near the top: text and figures render
    top = arr[:1000]
    assert (top.std(axis=(1, 2)) > 5).mean() > 0.3


def test_eval_block_of_a_size_metric_result(tmp_path: Path) -> None:
    """A metric-"size" result (Human3.6M): error in % of the image side, a per-activity table
    with the mean over activities as the headline, and no IOD wording."""
    names = ["head", "left_wrist"]
    ev = {
        "dataset": "h36m", "num_keypoints": 16, "image_size": 64, "crop_size": 64,
        "labels_note": "human annotations of the dataset", "point_names": names,
        "group_label": "activity", "paper_figure": "Human3.6M 2.73% (as remembered)",
        "notes": ["check the paper figure"],
        "sizes": {"train_labelled": 40, "test": 12},
        "size_error": {"mean": 4.0, "per_point": [3.0, 5.0],
                       "per_group": {"Directions": 3.25, "Walking": 5.5},
                       "mean_over_groups": 4.375, "group_frames": {"Directions": 8, "Walking": 4}},
        "val_size_error": 4.25,
        "matching": {"skipped": "K=1 < 2 labels"},
        "mean_shape": {"size_error": {"mean": 9.0, "per_point": [8.0, 10.0],
                                      "per_group": {"Directions": 8.5, "Walking": 9.75},
                                      "mean_over_groups": 9.125}},
        "pck": {"thresholds": [1, 2, 5, 10], "curve": [5.0, 20.0, 60.0, 90.0], "at_6": 60.0,
                "threshold": 5.0, "per_part_at_6": [70.0, 50.0]},
        "sample_efficiency": [{"n": n, "mean": 10.0 / n, "std": 0.5, "draws": 2}
                              for n in (1, 10, 40)],
        "examples": [],
    }
    text = evaluation._eval_block(ev, tmp_path / "h36m.json")
    assert "Error, % of the image side" in text and "mean over activities" in text
    assert "<th>Directions</th><td>8</td><td class=\"ours\">3.25</td>" in text
    assert "<b>4.38</b>" in text  # the headline: mean over activities (4.375)
    assert "<b>9.12</b>" in text or "<b>9.13</b>" in text  # mean shape, same averaging
    assert "PCK@5% of the image side" in text and "skipped: K=1 &lt; 2 labels" in text
    assert "mean error, % of image side" in text and "2.73%" in text
    assert "check the paper figure" in text
    assert len(_png_uris(text)) == 2  # PCK curve and sample efficiency
    words = _PNG_URI.sub("", text)  # base64 may spell anything
    assert "IOD" not in words and "inter-ocular" not in words


# ------------------------------------------------------------------------------------------------
# reports of real `landmarks eval` results on the benchmark fixtures (tests/fixtures_faces.py,
# tests/fixtures_pose.py): metric "pck" (BBC-Pose), "iod" (MAFL) and "size" (Human3.6M)

BBC_PARTS = ("head", "right_wrist", "left_wrist", "right_elbow", "left_elbow", "right_shoulder",
             "left_shoulder")


def _bench_checkpoint(path: Path, num_keypoints: int) -> Path:
    """An untrained tiny checkpoint (as in tests/test_eval_benchmarks.py) with K keypoints."""
    from landmarks.config import load_config, to_dict
    from landmarks.engine.checkpoint import save_checkpoint
    from landmarks.models import create_model

    over = [f"model.num_keypoints={num_keypoints}", "model.image_size=32", "model.width=8",
            "model.render_channels=32", "model.min_render_channels=8"]
    cfg = load_config(None, over)
    model = create_model("imm", **{k: v for k, v in to_dict(cfg.model).items() if k != "name"})
    return save_checkpoint(path, {"model": model.state_dict(), "step": 0, "config": to_dict(cfg)})


@pytest.fixture(scope="module")
def bench_evals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`landmarks eval` JSON files written by the CLI on the benchmark fixtures: "bbcpose" and
    "mafl" and "h36m" with K=8 (BBC-Pose's 7 joints can be matched one-to-one), "bbcpose_k6"
    with K=6 (matching skipped)."""
    from fixtures_faces import write_celeba_fixture
    from fixtures_pose import write_bbcpose_fixture, write_h36m_fixture

    base = tmp_path_factory.mktemp("bench")
    k8 = _bench_checkpoint(base / "k8.pt", 8)
    k6 = _bench_checkpoint(base / "k6.pt", 6)
    write_bbcpose_fixture(base / "bbc")
    write_celeba_fixture(base / "celeba")
    h36m = write_h36m_fixture(base / "h36m")["root"]
    out = {}
    for key, ckpt, dataset, root in (("bbcpose", k8, "bbcpose", base / "bbc"),
                                     ("bbcpose_k6", k6, "bbcpose", base / "bbc"),
                                     ("mafl", k8, "mafl", base / "celeba"),
                                     ("h36m", k8, "h36m", h36m)):
        out[key] = base / "eval" / f"{key}.json"
        assert main(["eval", str(ckpt), "--dataset", dataset, "--root", str(root),
                     "--out", str(out[key]), "--device", "cpu", "--draws", "2"]) == 0
    run = base / "run"  # a run folder holding only metrics.csv: no model to load
    run.mkdir()
    (run / "metrics.csv").write_text("step,loss\n1,2.0\n2,1.5\n")
    out["run"] = run
    return out


def _blocks(text: str) -> dict[str, str]:
    """The evaluation section's blocks by JSON file name, without the base64 PNG payloads
    (base64 may spell anything)."""
    words = _PNG_URI.sub("data:image/png;base64,", text)
    section = words.split('<section id="eval">')[1].split("</section>")[0]
    return {m.group(1): m.group(2) for m in re.finditer(
        r"<h3>([^<]+)\.json</h3>(.*?)(?=<h3>|$)", section, re.S)}


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _figure_labels(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Record (title, x label, y label) of the first axes of every figure the report draws."""
    seen: list[tuple[str, str, str]] = []
    real = figures._fig_png

    def spy(fig):  # noqa: ANN001, ANN202
        ax = fig.axes[0]
        seen.append((ax.get_title(), ax.get_xlabel(), ax.get_ylabel()))
        return real(fig)

    monkeypatch.setattr(figures, "_fig_png", spy)
    return seen


def test_report_of_a_real_bbcpose_eval(bench_evals: dict[str, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A metric-"pck" result renders PCK@6 px in original pixels: a headline, a per-part
    table with a regression and a matched-raw-keypoints column, the PCK curve, the paper's
    figure and the notes; no IOD wording, no empty cells."""
    res = json.loads(bench_evals["bbcpose"].read_text())
    p, match = res["pck"], res["matching"]
    assert "iod_error" not in res and "size_error" not in res and "skipped" not in match
    labels = _figure_labels(monkeypatch)
    text = build_report(bench_evals["run"], [bench_evals["bbcpose"]])
    block = _blocks(text)["bbcpose"]
    plain = _plain(block)
    # the headline: threshold, unit and both figures
    assert (f"PCK@6 px on the test split ({res['sizes']['test']} images); 6 px in the "
            f"dataset's original pixels, not pixels of the 32-px network input: "
            f"{p['at_6']:.1f}% with the linear regressor from the 8 discovered keypoints; "
            f"{match['pck']:.1f}% with the Hungarian-matched raw keypoints (no regression)."
            ) in plain
    # the per-part table: one row per joint, both columns, the overall figures last
    table = re.search(r'<table class="num">(.*?)</table>', block, re.S).group(1)
    assert "<th>linear regression</th>" in table
    assert "<th>Hungarian-matched raw keypoints (no regression)</th>" in table
    assert "PCK@6 px per part: % of test points within 6 original px" in table
    for i, name in enumerate(BBC_PARTS):
        assert (f"<tr><th>{name}</th><td>{p['per_part_at_6'][i]:.1f}</td>"
                f"<td>{match['per_part_pck'][i]:.1f}</td></tr>") in table
    assert (f'<tr class="pck"><th>all 7 parts</th><td><b>{p["at_6"]:.1f}</b></td>'
            f'<td><b>{match["pck"]:.1f}</b></td></tr>') in table
    assert "–" not in table and "n/a" not in plain
    # the protocol, the matching, the paper and the notes
    assert "distances measured in the dataset's original pixels" in plain
    assert f"mean error {match['mean_error_px']:.2f} original px" in plain
    assert "Paper: BBC-Pose 68.44% PCK@6 px averaged over the 7 joints" in plain
    assert "<li>PCK@6 px at 0.5x the frame resolution" in block
    assert "Supervised baseline: skipped" in plain
    assert "Crop size" not in plain  # 32 = the network input; the notes give the 300 px crop
    # one figure, the PCK curve, against original pixels
    assert block.count("<img") == 1
    assert [lab for lab in labels if lab[0] != "total loss"] == [
        ("PCK curve (linear regression, test)", "threshold (original pixels)",
         "points within threshold (%)")]
    assert "IOD" not in block and "inter-ocular" not in block


def test_report_of_a_bbcpose_eval_without_matching(bench_evals: dict[str, Path]) -> None:
    """K=6 < 7 joints: the matched column is left out and the headline says why."""
    res = json.loads(bench_evals["bbcpose_k6"].read_text())
    why = res["matching"]["skipped"]
    assert why.startswith("K=6")
    block = _blocks(build_report(bench_evals["run"], [bench_evals["bbcpose_k6"]]))["bbcpose_k6"]
    plain = _plain(block)
    assert (f"{res['pck']['at_6']:.1f}% with the linear regressor from the 6 discovered "
            f"keypoints; Hungarian matching of the raw keypoints skipped ({why}).") in plain
    assert "<th>linear regression</th></tr>" in block
    assert "<th>Hungarian-matched" not in block and "Hungarian-matched column" not in block
    for i, name in enumerate(BBC_PARTS):
        assert f"<tr><th>{name}</th><td>{res['pck']['per_part_at_6'][i]:.1f}</td></tr>" in block
    assert "IOD" not in block and "–" not in block and "n/a" not in plain


def test_report_of_real_mafl_and_h36m_evals(bench_evals: dict[str, Path],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Metric "iod" (MAFL) and "size" (Human3.6M) results next to a "pck" one on one page:
    each keeps its own table, wording and PCK unit."""
    mafl = json.loads(bench_evals["mafl"].read_text())
    h36m = json.loads(bench_evals["h36m"].read_text())
    labels = _figure_labels(monkeypatch)
    text = build_report(bench_evals["run"], [bench_evals[k] for k in ("bbcpose", "mafl", "h36m")])
    blocks = _blocks(text)
    assert list(blocks) == ["bbcpose", "mafl", "h36m"]
    # MAFL: the IOD table with the regression row per point, the paper's figure, PCK in pixels
    m = blocks["mafl"]
    assert "IOD error, % of the inter-ocular distance" in m
    row = "".join(f"<td>{v:.2f}</td>" for v in mafl["iod_error"]["per_point"])
    assert f"<td><b>{mafl['iod_error']['mean']:.2f}</b></td>{row}</tr>" in m
    for name in ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth"):
        assert f"<th>{name}</th>" in m
    assert f"<b>{mafl['pck']['at_6']:.1f}</b>" in m and "Hungarian matching: assignment" in m
    assert "Paper: MAFL: 3.19% (K=10) / 2.58% (K=30) IOD error" in _plain(m)
    assert f"mean error {mafl['matching']['mean_error_px']:.2f} px" in _plain(m)
    # Human3.6M: error in % of the image side per activity, no IOD wording
    h = blocks["h36m"]
    err = h36m["size_error"]
    assert "Error, % of the image side" in h and "mean over activities" in h
    for g, v in err["per_group"].items():
        assert f'<th>{g}</th><td>{err["group_frames"][g]}</td><td class="ours">{v:.2f}</td>' in h
    assert f"<b>{err['mean_over_groups']:.2f}</b>" in h
    assert "IOD" not in h and "inter-ocular" not in h and "original pixels" not in h
    # x axes: original pixels (BBC-Pose), pixels (MAFL), % of the side (Human3.6M)
    pck_axes = [x for title, x, _ in labels if title.startswith("PCK curve")]
    assert pck_axes == ["threshold (original pixels)", "threshold (pixels)",
                        "threshold (% of image side)"]
    assert [y for title, _, y in labels if title.startswith("Sample efficiency")] == [
        "IOD error (%)", "error (% of image side)"]
