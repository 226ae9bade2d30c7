"""Detection speed of PyTorch and of the exported ONNX file (onnxruntime, CPU), per model, image
size and thread count.

A script, not a test. For each registered model at its default architecture (random weights:
the speed does not depend on them) and each size, it exports the detector with
:func:`landmarks.export.onnx_format.export_onnx` (so the export is verified as
``landmarks export`` verifies it, and the measured difference is printed), then times
``model.detect`` under ``torch.inference_mode`` and the onnxruntime session on the same batch,
with ``torch.set_num_threads(t)`` and ``intra_op_num_threads = t``. Rates are images per second
of the fastest of ``--repeats`` timed runs (after one warm-up run): on a shared machine the
fastest run is the least disturbed one.

Example::

    nice -n 15 .venv/bin/python benchmarks/export_speed.py               # 64, 128 px; 1, 2 threads
    .venv/bin/python benchmarks/export_speed.py --models imm --sizes 128 --threads 4
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from landmarks import __version__
from landmarks.config import load_config
from landmarks.export.onnx_format import export_onnx
from landmarks.export.onnx_runtime import onnx_session
from landmarks.export.source import ModelSource
from landmarks.models import build_model, list_models


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` timed calls of ``fn`` (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(name: str, size: int, threads: list[int], batch: int, repeats: int,
            folder: Path) -> list[dict[str, object]]:
    """Rows of ``{model, size, threads, torch, onnx, difference}`` for one model and size."""
    cfg = load_config(None, [f"model.name={name}", f"model.image_size={size}"])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    src = ModelSource(model, cfg, 0, __version__, Path(f"random {name} {size}px"))
    out = folder / f"{name}_{size}.onnx"
    torch.set_num_threads(max(threads))
    result = export_onnx(src, out, force=True)
    images = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(1))
    feed = {"images": np.ascontiguousarray(images.numpy())}
    rows = []
    for t in threads:
        torch.set_num_threads(t)
        with torch.inference_mode():
            pt = best_time(lambda: model.detect(images), repeats)
        session = onnx_session(out, threads=t)
        ox = best_time(lambda s=session: s.run(None, feed), repeats)
        gen = result.generator_check.max_difference if result.generator_check else None
        rows.append({"model": name, "size": size, "threads": t, "torch": batch / pt,
                     "onnx": batch / ox, "difference": result.detector_check.max_difference,
                     "generator": gen})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--models", nargs="+", default=list_models())
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            for size in args.sizes:
                rows += measure(name, size, args.threads, args.batch, args.repeats, Path(tmp))
    print(f"detection, batch {args.batch}, best of {args.repeats}; {platform.processor() or ''}"
          f" {os.cpu_count()} logical CPUs; torch {torch.__version__}, onnxruntime "
          f"{onnxruntime.__version__}")
    print("| model | px | threads | PyTorch img/s | onnxruntime img/s | ORT / PyTorch | "
          "max keypoint diff | generator diff |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        gen = "" if r["generator"] is None else f"{r['generator']:.1e}"
        print(f"| {r['model']} | {r['size']} | {r['threads']} | {r['torch']:.0f} | "
              f"{r['onnx']:.0f} | {r['onnx'] / r['torch']:.2f}× | {r['difference']:.1e} | "
              f"{gen} |")


if __name__ == "__main__":
    main()
