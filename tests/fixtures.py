"""Helpers that write small data fixtures in the real file formats (PNG, JPEG, mp4).

Every picture shows a red Gaussian blob on a dark blue/green textured background. In videos and
frame folders the blob moves left to right at a constant speed, so its position tells which
frame is shown: :func:`blob_position` gives the centre of frame ``t`` in input pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image


def _hw(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def blob_position(t: int, frames: int, size_hw: Sequence[int]) -> tuple[float, float]:
    """Centre ``(x, y)`` (pixel-centre coordinates) of the blob in frame ``t`` of ``frames``."""
    h, w = _hw(size_hw)
    frac = t / max(frames - 1, 1)
    return (0.2 + 0.6 * frac) * (w - 1), 0.5 * (h - 1)


def blob_image(size_hw: Sequence[int], center: tuple[float, float], radius: float | None = None,
               seed: int = 0) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 picture: textured background, red blob at ``center`` (x, y)."""
    h, w = _hw(size_hw)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=2)
    texture = 0.5 + 0.5 * np.sin(xx / 3.0 + phase[0]) * np.cos(yy / 4.0 + phase[1])
    img = np.zeros((h, w, 3), np.float32)
    img[..., 1] = 40 + 50 * texture
    img[..., 2] = 70 + 60 * (1 - texture)
    r = radius if radius is not None else 0.12 * min(h, w)
    blob = np.exp(-((xx - center[0]) ** 2 + (yy - center[1]) ** 2) / (2 * r * r))
    img = img * (1 - blob[..., None]) + np.array([240.0, 20.0, 20.0]) * blob[..., None]
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def write_image_folder(dir: str | Path, n: int, size: int | Sequence[int]) -> list[Path]:
    """Write ``n`` blob images into ``dir`` (created), alternately PNG and JPEG; ``size`` is
    ``S`` or ``(H, W)``. Returns the paths, sorted."""
    root = Path(dir)
    root.mkdir(parents=True, exist_ok=True)
    h, w = _hw(size)
    paths = []
    for i in range(n):
        rng = np.random.default_rng(i)
        center = (rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h)
        img = Image.fromarray(blob_image((h, w), center, seed=i))
        path = root / f"img_{i:04d}.{'png' if i % 2 == 0 else 'jpg'}"
        if path.suffix == ".jpg":
            img.save(path, quality=95)
        else:
            img.save(path)
        paths.append(path)
    return sorted(paths)


def _video_codec() -> str:
    for name in ("libx264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:
            continue
    raise RuntimeError("PyAV has neither a libx264 nor an mpeg4 encoder")


def write_video(path: str | Path, frames: int, size_hw: Sequence[int], fps: int = 25) -> Path:
    """Write a real video (h264 if PyAV has libx264, else MPEG-4 part 2) of ``frames`` frames of
    ``size_hw = (H, W)`` (even numbers) showing the moving blob; the container follows the suffix
    (``.mp4``, ``.mkv``, ``.avi``, ``.mov``). Returns ``path``."""
    h, w = _hw(size_hw)
    images = [blob_image((h, w), blob_position(t, frames, (h, w))) for t in range(frames)]
    return write_video_frames(path, images, fps)


def write_video_frames(path: str | Path, images: Sequence[np.ndarray], fps: int = 25, *,
                       crf: int = 12, bit_rate: int = 4_000_000, gop: int | None = None) -> Path:
    """Write ``images`` (``(H, W, 3)`` uint8, even sizes) as a real video at ``fps``: h264 at
    quality ``crf`` if PyAV has libx264, else MPEG-4 part 2 at ``bit_rate``; with ``gop``, a
    keyframe every ``gop`` frames (and no scene-cut keyframes). The container follows the
    suffix. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = images[0].shape[:2]
    codec = _video_codec()
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if gop is not None:
            stream.codec_context.gop_size = gop
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast"} | (
                {} if gop is None else {"keyint": str(gop), "min-keyint": str(gop),
                                        "scenecut": "0"})
        else:
            stream.bit_rate = bit_rate
        for rgb in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frame_folder(dir: str | Path, frames: int, size_hw: Sequence[int]) -> list[Path]:
    """Write ``frames`` PNG frames ``frame_0000.png …`` of the moving blob into ``dir``."""
    root = Path(dir)
    root.mkdir(parents=True, exist_ok=True)
    h, w = _hw(size_hw)
    paths = []
    for t in range(frames):
        path = root / f"frame_{t:04d}.png"
        Image.fromarray(blob_image((h, w), blob_position(t, frames, (h, w)))).save(path)
        paths.append(path)
    return paths


def write_corrupt_image(path: str | Path) -> Path:
    """Write a JPEG cut off half way (the header parses, decoding fails). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".full.jpg")
    Image.fromarray(blob_image((64, 64), (32.0, 32.0))).save(tmp, quality=95)
    data = tmp.read_bytes()
    tmp.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_corrupt_video(path: str | Path) -> Path:
    """Write a file with a video suffix whose contents are no decodable video (an mp4 with its
    index cut off, followed by junk). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".full.mp4")
    write_video(tmp, 12, (32, 32))
    data = tmp.read_bytes()
    tmp.unlink()
    junk = np.random.default_rng(0).integers(0, 256, 2048, dtype=np.uint8).tobytes()
    path.write_bytes(data[: len(data) // 3] + junk)
    return path


# ----------------------------------------------------------------------------------------------
# RealFaces (landmarks.data.realfaces): a tiny root in the real layout, with made-up labels


def face_template_68(crop_size: int, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A plausible 68-point iBUG face (``(68, 2)`` float64, pixel coordinates of a
    ``crop_size`` crop): jaw 0–16, brows 17–26, nose 27–35, eyes 36–47, mouth 48–67."""
    s = crop_size / 128.0
    jaw = [(34 + 60 * k / 16, 60 + 40 * np.sin(np.pi * k / 16)) for k in range(17)]
    brows = [(40 + 8 * k, 44.0) for k in range(5)] + [(72 + 8 * k, 44.0) for k in range(5)]
    nose = [(64.0, 52 + 6 * k) for k in range(4)] + [(56 + 4 * k, 76.0) for k in range(5)]

    def eye(cx: float) -> list[tuple[float, float]]:
        return [(cx - 8, 56.0), (cx - 3, 53.0), (cx + 3, 53.0), (cx + 8, 56.0), (cx + 3, 59.0),
                (cx - 3, 59.0)]

    mouth = [(48 + 32 * k / 11, 90 - 4 * np.sin(np.pi * k / 11)) for k in range(12)]
    inner = [(54 + 20 * k / 7, 90 - 2 * np.sin(np.pi * k / 7)) for k in range(8)]
    pts = np.array(jaw + brows + nose + eye(48) + eye(80) + mouth + inner, dtype=np.float64)
    assert pts.shape == (68, 2)
    return pts * s + np.asarray(shift, dtype=np.float64)


def _mafl5_reference(p68: np.ndarray) -> np.ndarray:
    return np.stack([p68[36:42].mean(0), p68[42:48].mean(0), p68[30], p68[48], p68[54]])


def write_realfaces_root(root: str | Path, n_unlabelled: int = 4, n_labelled: int = 3,
                         n_test: int = 3, crop_size: int = 32, n_stills: int = 1) -> Path:
    """Write a tiny RealFaces root (``frames/train/<clip>/<frame:05d>.png``,
    ``frames/test/...``, ``frames/test/stills_<i>/00000.png``, ``manifest.json``, ``README.txt``)
    in the format ``landmarks.data.realfaces.build_realfaces`` writes, with blob pictures and a
    template face as labels (shifted per frame). Clip "clipA" holds the training frames
    (unlabelled first, then labelled) and the first test frames; stills come last. Returns
    ``root``."""
    import json

    root = Path(root)
    frames: dict[str, dict] = {}
    splits: dict[str, list[str]] = {"train_unlabelled": [], "train_labelled": [], "test": []}
    plan = ([("train_unlabelled", "clipA", t) for t in range(n_unlabelled)]
            + [("train_labelled", "clipA", n_unlabelled + t) for t in range(n_labelled)]
            + [("test", "clipA", n_unlabelled + n_labelled + t) for t in range(n_test)]
            + [("test", f"stills_{i}", None) for i in range(n_stills)])
    for k, (split, clip, t) in enumerate(plan):
        folder = "train" if split.startswith("train") else "test"
        rel = f"frames/{folder}/{clip}/{(t or 0):05d}.png"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shift = (0.1 * k, -0.05 * k)
        Image.fromarray(blob_image((crop_size, crop_size),
                                   (crop_size / 2 + shift[0], crop_size / 2 + shift[1]),
                                   seed=k)).save(path)
        p68 = face_template_68(crop_size, shift)
        fid = f"{clip}/{(t or 0):05d}"
        frames[fid] = {"image": rel, "split": split, "clip": clip, "frame": t,
                       "person": "stillperson" if t is None else "personA",
                       "person_in_train": t is not None, "box": [10.0, 10.0, 60.0, 60.0],
                       "crop_box": [-10.0, -5.0, 80.0, 85.0],
                       "landmarks68": p68.tolist(), "mafl5": _mafl5_reference(p68).tolist()}
        splits[split].append(fid)
    from landmarks.data.realfaces import MANIFEST_VERSION

    manifest = {
        "name": "realfaces", "version": MANIFEST_VERSION, "crop_size": crop_size,
        "labels": "dlib shape_predictor_68_face_landmarks (supervised, iBUG 300-W); "
                  "NOT human annotations",
        "point_names_5": ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth"],
        "eye_indices_5": [0, 1], "eye_indices_68": [36, 45],
        "splits": splits, "frames": frames,
        "skipped": {"no_face": 1, "by_clip": {"clipA": 1}}, "sources": {},
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    (root / "README.txt").write_text("a test fixture; labels are made up\n")
    return root


def write_tiny_checkpoint(path: str | Path) -> Path:
    """Write a training checkpoint (the real format of :mod:`landmarks.engine.checkpoint`) of an
    untrained IMM model with K=6 keypoints at 32 px, width 8, and the config that built it.
    Returns ``path``."""
    from landmarks.config import load_config, to_dict
    from landmarks.engine.checkpoint import save_checkpoint
    from landmarks.models import create_model

    over = ["model.num_keypoints=6", "model.image_size=32", "model.width=8",
            "model.render_channels=32", "model.min_render_channels=8"]
    cfg = load_config(None, over)
    model = create_model("imm", **{k: v for k, v in to_dict(cfg.model).items() if k != "name"})
    return save_checkpoint(Path(path), {"model": model.state_dict(), "step": 0,
                                        "config": to_dict(cfg)})


def write_model_checkpoint(path: str | Path, name: str, images: str | Path | None = None,
                           k: int = 4, size: int = 32) -> Path:
    """Write a checkpoint (the real format) of an untrained registered model ``name`` with K
    keypoints at ``size`` px and small widths, whose config records ``images`` as its training
    data; BatchNorm running statistics are random too (so eval mode matters). Returns ``path``."""
    import torch

    from landmarks.config import load_config, to_dict
    from landmarks.engine.checkpoint import save_checkpoint
    from landmarks.models import build_model
    from landmarks.registry import MODELS, model_arguments

    small = {"width": 8, "render_channels": 32, "min_render_channels": 8}
    accepted = model_arguments(MODELS.get(name))
    over = [f"model.name={name}", f"model.num_keypoints={k}", f"model.image_size={size}",
            *(f"model.{a}={v}" for a, v in small.items() if a in accepted)]
    if images is not None:
        over.append(f"data.root={images}")
    cfg = load_config(None, over)
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return save_checkpoint(Path(path), {"model": model.state_dict(), "step": 7,
                                        "config": to_dict(cfg)})
