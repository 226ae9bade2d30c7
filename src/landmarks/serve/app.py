"""``landmarks serve [CKPT …]``: a local web page to try models on (stdlib HTTP server, no web
framework). It listens on 127.0.0.1 unless told otherwise.

On the page a person uploads an image or a short video and sees the landmarks drawn (the JSON
as ``landmarks detect`` writes it, to download); drags a landmark and sees the image re-rendered
(models that render, :func:`landmarks.models.can_render`); animates an uploaded photo with an
uploaded video (models that animate), with the progress shown. Bad uploads (not an image or a
video, too large, an undecodable video) get a message, and nothing crashes: every error is
answered as JSON ``{"error": "…"}`` with a 4xx/5xx status.

API (JSON unless said): ``GET /api/models``; ``POST /api/upload?model=I&name=F`` (the raw file
as the body) → ``{"upload", "kind", "width", "height", "frames", "records", …}``;
``GET /api/uploads/U/frame/N`` (PNG); ``POST /api/render`` ``{"model", "upload",
"keypoints"}`` (input pixels) → PNG; ``POST /api/animate`` ``{"model", "source", "driving"}`` →
``{"job"}``; ``GET /api/jobs/J`` → ``{"state", "done", "total", "error"}``;
``GET /api/jobs/J/video`` (mp4).
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import torch
from PIL import Image

from landmarks.commands.animate import animate_frames
from landmarks.commands.manipulate import manipulate
from landmarks.data import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from landmarks.data.transforms import frame_to_tensor, resize_frame, square_crop_box
from landmarks.inference import Detector, InputError, batched, iter_video_frames, video_fps
from landmarks.models import can_animate, can_render
from landmarks.visualize import VideoOverlayWriter, tensor_to_uint8

__all__ = ["ServeState", "UploadError", "make_server"]


class UploadError(ValueError):
    """A bad upload or request; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """An uploaded file: its frames (RGB uint8, at most ``max_frames`` of a video), name, path."""

    name: str
    kind: str
    frames: list[np.ndarray]
    path: Path
    fps: float = 25.0


@dataclass
class Job:
    """An animation running in a thread."""

    total: int
    done: int = 0
    state: str = "running"
    error: str = ""
    video: Path | None = None


@dataclass
class ServeState:
    """The models the page offers and what was uploaded (kept in memory and in ``workdir``)."""

    detectors: list[tuple[str, Detector]]
    workdir: Path
    max_bytes: int = 50 << 20
    max_frames: int = 300
    max_uploads: int = 32
    uploads: dict[str, Upload] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def model(self, index: Any) -> tuple[str, Detector]:
        try:
            return self.detectors[int(index)]
        except (TypeError, ValueError, IndexError):
            raise UploadError(f"no model {index!r}; {len(self.detectors)} loaded") from None

    def upload(self, key: Any) -> Upload:
        if key not in self.uploads:
            raise UploadError(f"no upload {key!r} (upload the file again)", HTTPStatus.NOT_FOUND)
        return self.uploads[key]

    def models_json(self) -> list[dict[str, Any]]:
        return [{"id": i, "path": path, "name": d.config.model.name, "num_keypoints":
                 d.num_keypoints, "image_size": d.image_size, "renders": can_render(d.model),
                 "animates": can_animate(d.model)} for i, (path, d) in enumerate(self.detectors)]


def _decode(state: ServeState, name: str, data: bytes) -> Upload:
    """An upload's frames; :class:`UploadError` naming the file for anything unreadable."""
    suffix = Path(name).suffix.lower()
    key = uuid.uuid4().hex[:12]
    known = suffix in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
    path = state.workdir / f"{key}{suffix if known else '.bin'}"
    path.write_bytes(data)
    try:
        return _read(state, name, path, suffix, data)
    except UploadError:
        path.unlink(missing_ok=True)
        raise


def _read(state: ServeState, name: str, path: Path, suffix: str, data: bytes) -> Upload:
    if suffix in VIDEO_EXTENSIONS:
        frames: list[np.ndarray] = []
        try:
            for frame in iter_video_frames(path):
                frames.append(frame)
                if len(frames) >= state.max_frames:
                    break
            fps = video_fps(path)
        except (InputError, OSError, ValueError) as err:
            why = str(err).replace(f"video {path} could not be decoded: ", "")
            raise UploadError(f"{name}: the video could not be decoded "
                              f"({why.replace(str(path), name)})") from None
        if not frames:
            raise UploadError(f"{name}: the video could not be decoded (no frames)")
        return Upload(name, "video", frames, path, fps)
    try:
        with Image.open(io.BytesIO(data)) as im:
            frame = np.asarray(im.convert("RGB"))
    except Image.DecompressionBombError as err:
        raise UploadError(f"{name}: {err}") from None
    except (OSError, ValueError):
        kinds = ", ".join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
        raise UploadError(f"{name} is not an image (no picture format that PIL reads) nor a "
                          f"video; expected one of {kinds}") from None
    return Upload(name, "image", [frame], path)


def detect_upload(state: ServeState, model: Any, name: str, data: bytes) -> dict[str, Any]:
    """Decode an upload, detect its landmarks, keep it for rendering and animating."""
    path, det = state.model(model)
    up = _decode(state, name, data)
    with state.lock:
        state.uploads[up.path.stem] = up
        while len(state.uploads) > state.max_uploads:  # the oldest go (memory, disk)
            old = state.uploads.pop(next(iter(state.uploads)))
            old.path.unlink(missing_ok=True)
    records = []
    index = 0
    for frames in batched(up.frames, 32):
        for kp in det.detect_frames(frames):
            records.append({"source": name, "frame": None if up.kind == "image" else index,
                            "keypoints": kp.tolist()})
            index += 1
    h, w = up.frames[0].shape[:2]
    return {"upload": up.path.stem, "kind": up.kind, "name": name, "width": w, "height": h,
            "frames": len(up.frames), "fps": up.fps, "records": records, "model": path,
            "truncated": up.kind == "video" and len(up.frames) >= state.max_frames}


def render_png(state: ServeState, request: dict[str, Any]) -> bytes:
    """The uploaded image re-rendered with its landmarks at ``request["keypoints"]`` (input
    pixels, as detected and then dragged): a PNG of the model's input size."""
    path, det = state.model(request.get("model"))
    if not can_render(det.model):
        raise UploadError(f"model {det.config.model.name!r} ({path}) cannot render images "
                          f"from landmarks")
    up = state.upload(request.get("upload"))
    frame = up.frames[int(request.get("frame") or 0)]
    crop = det.config.data.crop or None
    try:
        wanted = np.asarray(request["keypoints"], dtype=np.float64).reshape(det.num_keypoints, 2)
    except (KeyError, ValueError, TypeError):
        raise UploadError(f"keypoints: expected {det.num_keypoints} (x, y) pairs") from None
    detected = det.detect_frames([frame])[0]
    moves = {k: (float(dx), float(dy)) for k, (dx, dy) in enumerate(wanted - detected)
             if abs(dx) > 1e-6 or abs(dy) > 1e-6}
    side = square_crop_box(frame.shape[1], frame.shape[0], crop)[2]
    x = frame_to_tensor(frame, det.image_size, crop).to(det.device)
    with torch.inference_mode():
        out = manipulate(det.model, x, moves, side=side)
    buf = io.BytesIO()
    Image.fromarray(tensor_to_uint8(out["manipulated"])).save(buf, format="PNG")
    return buf.getvalue()


def start_animation(state: ServeState, request: dict[str, Any]) -> str:
    """Start animating an uploaded image with an uploaded video; returns the job id."""
    path, det = state.model(request.get("model"))
    if not can_animate(det.model):
        raise UploadError(f"model {det.config.model.name!r} ({path}) cannot animate")
    source, driving = state.upload(request.get("source")), state.upload(request.get("driving"))
    if source.kind != "image" or driving.kind != "video":
        raise UploadError("animate needs an uploaded image (source) and an uploaded video "
                          "(driving)")
    key = uuid.uuid4().hex[:12]
    job = Job(total=len(driving.frames))
    with state.lock:
        state.jobs[key] = job
    threading.Thread(target=_animate_job, args=(state, det, source, driving, job, key),
                     daemon=True).start()
    return key


def _animate_job(state: ServeState, det: Detector, source: Upload, driving: Upload, job: Job,
                 key: str) -> None:
    try:
        size, crop = det.image_size, det.config.data.crop or None
        src = frame_to_tensor(source.frames[0], size, crop)
        frames = [resize_frame(f, size, crop) for f in driving.frames]
        out = state.workdir / f"{key}.mp4"
        with VideoOverlayWriter(out, fps=driving.fps) as writer:
            for batch in animate_frames(det.model, src, frames, batch_size=8):
                for result in batch.result:
                    writer.write(result)
                job.done += len(batch.result)
        job.video = out
        job.state = "done"
    except Exception as err:  # noqa: BLE001 - reported on the page, the server goes on
        job.state, job.error = "error", f"{type(err).__name__}: {err}"


def _job(state: ServeState, key: str) -> Job:
    if key not in state.jobs:
        raise UploadError(f"no job {key!r}", HTTPStatus.NOT_FOUND)
    return state.jobs[key]


class _Handler(BaseHTTPRequestHandler):
    state: ServeState
    server_version = "landmarks-serve"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        """Quiet: no line per request."""

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: Any, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.state.max_bytes:
            remaining = length
            while remaining > 0:  # drain, so that the browser reads the answer
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            raise UploadError(f"the file is too large: {length / 2**20:.1f} MB; the limit is "
                              f"{self.state.max_bytes / 2**20:g} MB (landmarks serve "
                              f"--max-upload-mb)", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return self.rfile.read(length)

    def _run(self, fn: Any) -> None:
        try:
            fn()
        except UploadError as err:
            self._json({"error": str(err)}, err.status)
        except Exception as err:  # noqa: BLE001 - a bug must not stop the server
            self._json({"error": f"{type(err).__name__}: {err}"},
                       HTTPStatus.INTERNAL_SERVER_ERROR)

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        self._run(self._get)

    def do_POST(self) -> None:  # noqa: N802 - stdlib's name
        self._run(self._post)

    def _get(self) -> None:
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        if not parts:
            page = resources.files("landmarks.serve").joinpath("page.html").read_bytes()
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
        elif parts == ["api", "models"]:
            self._json(self.state.models_json())
        elif len(parts) == 5 and parts[:2] == ["api", "uploads"] and parts[3] == "frame":
            up = self.state.upload(parts[2])
            n = int(parts[4]) if parts[4].isdigit() else -1
            if not 0 <= n < len(up.frames):
                raise UploadError(f"no frame {parts[4]}", HTTPStatus.NOT_FOUND)
            buf = io.BytesIO()
            Image.fromarray(up.frames[n]).save(buf, format="PNG")
            self._send(HTTPStatus.OK, buf.getvalue(), "image/png")
        elif len(parts) == 3 and parts[:2] == ["api", "jobs"]:
            job = _job(self.state, parts[2])
            self._json({"state": job.state, "done": job.done, "total": job.total,
                        "error": job.error})
        elif len(parts) == 4 and parts[:2] == ["api", "jobs"] and parts[3] == "video":
            job = _job(self.state, parts[2])
            if job.video is None:
                raise UploadError("the animation is not finished", HTTPStatus.CONFLICT)
            self._send(HTTPStatus.OK, job.video.read_bytes(), "video/mp4")
        else:
            raise UploadError(f"no page {url.path}", HTTPStatus.NOT_FOUND)

    def _post(self) -> None:
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = self._body()
        if url.path == "/api/upload":
            if not body:
                raise UploadError("the upload is empty")
            self._json(detect_upload(self.state, query.get("model", 0),
                                     query.get("name", "upload"), body))
            return
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            raise UploadError("expected a JSON body") from None
        if url.path == "/api/render":
            self._send(HTTPStatus.OK, render_png(self.state, request), "image/png")
        elif url.path == "/api/animate":
            self._json({"job": start_animation(self.state, request)})
        else:
            raise UploadError(f"no page {url.path}", HTTPStatus.NOT_FOUND)


def make_server(state: ServeState, host: str = "127.0.0.1", port: int = 8000
                ) -> ThreadingHTTPServer:
    """An HTTP server of the page for ``state`` (call ``serve_forever``; port 0 picks one)."""
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server

