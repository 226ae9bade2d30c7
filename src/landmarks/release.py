"""Weights-only releases with a model card: ``landmarks export CKPT --format safetensors --out
DIR`` writes ``DIR/model.safetensors``, ``DIR/config.json`` (:mod:`landmarks.export.release_io`)
and ``DIR/README.md``, the model card: the method, K, image size, crop, training data and steps,
the evaluation figures of the run (``eval/*.json`` beside the checkpoint's ``checkpoints/``
folder, each as ``landmarks eval`` prints it, protocol lines included), the package versions and
the weights' SHA-256. ``Detector.from_pretrained(DIR)`` and ``landmarks detect DIR …`` load it
without pickle.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landmarks import __version__
from landmarks.config import to_dict
from landmarks.engine.checkpoint import CHECKPOINT_DIR
from landmarks.evaluation.formatting import format_results
from landmarks.export.release_io import WEIGHTS_FILE, save_release_weights
from landmarks.export.source import ModelSource

__all__ = ["METHODS", "ReleaseResult", "eval_files", "model_card", "write_release"]

#: what each registered method is, for the model card
METHODS: dict[str, str] = {
    "imm": "Jakab, Gupta, Bilen, Vedaldi, NeurIPS 2018, \"Unsupervised Learning of Object "
           "Landmarks through Conditional Image Generation\" (keypoint bottleneck + "
           "conditional image generator)",
    "zhang": "Zhang, Guo, Jin, Luo, He, Lee, CVPR 2018, \"Unsupervised Discovery of Object "
             "Landmarks as Structural Representations\" (hourglass detector with concentration "
             "/ separation / equivariance priors, landmark-based features)",
    "motion": "Siarohin, Lathuilière, Tulyakov, Ricci, Sebe, NeurIPS 2019, \"First Order "
              "Motion Model for Image Animation\" (keypoints with local affine Jacobians, "
              "dense motion, occlusion-aware generator)",
    "fomm": "Siarohin, Lathuilière, Tulyakov, Ricci, Sebe, NeurIPS 2019, \"First Order "
            "Motion Model for Image Animation\", with first-order-model's own network "
            "(commit c027484; its checkpoints convert with `landmarks import fomm`)",
}


@dataclass
class ReleaseResult:
    """The folder written, its weights' SHA-256 and the evaluation files the card quotes."""

    folder: Path
    sha256: str
    evaluations: list[Path]


def eval_files(checkpoint: Path) -> list[Path]:
    """The ``eval/*.json`` of the run a checkpoint belongs to (``RUN/checkpoints/step_N.pt`` →
    ``RUN/eval/*.json``; a checkpoint outside a run folder: its own folder's ``eval/``)."""
    run = checkpoint.parent.parent if checkpoint.parent.name == CHECKPOINT_DIR \
        else checkpoint.parent
    folder = run / "eval"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _eval_section(files: list[Path], checkpoint: Path) -> list[str]:
    if not files:
        return ["No evaluation results were found beside the checkpoint (`landmarks eval CKPT "
                "--dataset … --root … --out RUN/eval/NAME.json` writes them), so this card "
                "quotes none.", ""]
    lines = ["Each block is what `landmarks eval` printed, read from the run's `eval/` folder. "
             "Landmark benchmarks (`--task landmarks`): a linear regressor without bias from the "
             "K discovered points to the annotated points, fitted on the benchmark's training "
             "split, errors on its test split. Video reconstruction (`--task reconstruction`): "
             "each video redrawn from its first frame, the protocol stated in the block.", ""]
    for f in files:
        lines.append(f"### {f.stem}")
        lines.append("")
        try:
            results: dict[str, Any] = json.loads(f.read_text())
            text = (_reconstruction_text(results) if results.get("task") == "reconstruction"
                    else format_results(results))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            lines += [f"`{f.name}` could not be read ({type(err).__name__}: {err}).", ""]
            continue
        scored = str(results.get("checkpoint", ""))
        if scored and Path(scored).name != checkpoint.name:
            lines += [f"Note: these figures are of `{Path(scored).name}`, another checkpoint "
                      f"of the same run, not of the exported `{checkpoint.name}`.", ""]
        lines += ["```", text.rstrip(), "```", ""]
    return lines


def _reconstruction_text(results: dict[str, Any]) -> str:
    """A ``landmarks eval --task reconstruction`` JSON as text: the setting, the protocol and
    one line per row of figures."""
    lines = [f"video reconstruction of {results.get('checkpoint')} on "
             f"{len(results.get('videos') or [])} videos of {results.get('videos_root')} at "
             f"{results.get('size')} px", f"  protocol: {results.get('protocol')}"]
    for row in results.get("rows") or []:
        figures = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in row.items() if isinstance(v, str | int | float))
        lines.append(f"  {figures}")
    return "\n".join(lines)


def _training_rows(src: ModelSource) -> list[str]:
    """The card's rows on where the weights come from: the training run, or for imported
    weights (``landmarks import``) the file they were converted from."""
    cfg, d, imp = src.config, src.config.data, src.imported
    if imp:
        epoch = f", its epoch {imp['epoch']}" if imp.get("epoch") is not None else ""
        return [f"| weights | imported with `landmarks import {imp.get('format', '?')}` from "
                f"`{imp.get('source', '?')}` (sha256 `{imp.get('sha256', '?')}`{epoch}; "
                f"settings {imp.get('config', '?')}); not trained here |"]
    return [f"| training data | `{d.kind}` at `{d.root or '?'}` (split `{d.split}`) |",
            f"| training steps | {src.step} of {cfg.train.steps} planned (batch "
            f"{cfg.train.batch_size}) |"]


def model_card(src: ModelSource, sha256: str, evaluations: list[Path]) -> str:
    """The README.md of a release of ``src`` (see the module docstring)."""
    cfg = src.config
    m, d = cfg.model, cfg.data
    method = METHODS.get(m.name, f"the registered model {m.name!r}")
    args = ", ".join(f"{k}={v}" for k, v in sorted(m.args.items())) or "defaults"
    region = (f"the crop box {list(d.crop)} (fractions of width, height)" if d.crop
              else "the image")
    lines = [
        f"# {m.name}: {m.num_keypoints} unsupervised landmarks at {m.image_size} px", "",
        ("A landmark detector learned without labels by another project, converted for "
         "unsupervised-landmarks." if src.imported else
         "A landmark detector learned without labels with unsupervised-landmarks."), "",
        "| | |", "| --- | --- |",
        f"| method | `{m.name}`: {method} |",
        f"| keypoints (K) | {m.num_keypoints} |",
        f"| input | {m.image_size}×{m.image_size} RGB in [0, 1]; the centre square of {region}, "
        f"resized |",
        f"| model arguments | {args} |",
        *_training_rows(src),
        f"| trained with | unsupervised-landmarks {src.version} |",
        f"| exported with | unsupervised-landmarks {__version__} |",
        f"| weights | `{WEIGHTS_FILE}`, sha256 `{sha256}` |", "",
        "Keypoints are (x, y), x right, y down, normalised to [-1, 1] (pixel centres at "
        "-1 + (2i+1)/S, `align_corners=False`); `landmarks detect` writes them in the input "
        "image's pixels.", "",
        "## Use", "",
        "```", "landmarks detect THIS_FOLDER image.jpg video.mp4 --out keypoints.json", "```",
        "", "```python", "from landmarks.inference import Detector",
        "detector = Detector.from_pretrained(\"THIS_FOLDER\")  # safetensors + JSON: no pickle",
        "keypoints = detector.detect_frames([rgb_uint8_array])  # (N, K, 2) input pixels",
        "```", "",
        "## Evaluation", "", *_eval_section(evaluations, Path(src.path)),
        "## Files", "",
        f"- `{WEIGHTS_FILE}`: the weights (safetensors).",
        "- `config.json`: the resolved training config and what loading needs.",
        "- `README.md`: this card.", "",
    ]
    return "\n".join(lines)


def write_release(src: ModelSource, out: str | Path, force: bool = False) -> ReleaseResult:
    """Write the release folder ``out`` of ``src`` (built in a temporary folder beside it,
    then renamed: an interrupted export leaves no half folder).

    Raises:
        FileExistsError: ``out`` exists (a non-empty folder or a file) and not ``force``.
    """
    out = Path(out)
    if out.exists() and not force and (out.is_file() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists; pass --force to overwrite it")
    if out.is_file():
        raise FileExistsError(f"{out} is a file; a release is a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part"))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would hide the release from other users
    try:
        meta = save_release_weights(tmp, src.model.state_dict(), to_dict(src.config), src.step,
                                    src.version, src.imported)
        sha = meta["weights"]["sha256"]
        evaluations = eval_files(Path(src.path)) if Path(src.path).is_file() else []
        (tmp / "README.md").write_text(model_card(src, sha, evaluations))
        for f in tmp.iterdir():
            os.chmod(f, 0o666 & ~umask)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return ReleaseResult(out, sha, evaluations)
