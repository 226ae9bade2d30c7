"""The HTML page's building blocks: escaping, inline images, captions, notes, number
formatting, the section record and the page's CSS. No drawing, no I/O."""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECTION_TITLES = {
    "run": "Run",
    "loss": "Loss curves",
    "quadruplets": "Quadruplets",
    "scores": "Score maps",
    "swap": "Style/geometry swap",
    "animation": "Animation",
    "eval": "Evaluation",
    "detect": "Detection overlay",
}


_NUM_SCORE_IMAGES = 3


_NUM_SWAP_IMAGES = 4  # style images; as many geometry images


_MAX_EXAMPLES = 12


_NUM_ANIMATION_FRAMES = 6  # driving frames shown in the animation section


_MAX_VIDEO_FRAMES = 300  # score maps of a video run use frames among the first 300 of each


_STEP_PNG = re.compile(r"step_(\d+)\.png$")


_KNOWN_COLUMNS = ("step", "loss", "grad_norm", "lr", "img_per_s", "skipped")


class ReportError(ValueError):
    """The folder is not a training run folder (or cannot be read); the message names it."""


@dataclass
class _Section:
    key: str
    body: str


# ----------------------------------------------------------------------------------------------
# small helpers


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _img(data: bytes, alt: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f'<img{cls} alt="{_esc(alt)}" src="{_png_uri(data)}">'


def _figure(data: bytes, alt: str, caption: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<figure{cls}>{_img(data, alt)}<figcaption>{caption}</figcaption></figure>"


def _caption(text: str) -> str:
    return f'<p class="caption">{text}</p>'


def _note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _fmt(v: Any, digits: int = 2) -> str:
    if _is_num(v):
        return f"{v:.{digits}f}"
    if v is None:
        return "–"
    return _esc(v)


def _mean_of(v: Any) -> Any:
    """A metric that is either a number or a dict with "mean"."""
    if isinstance(v, dict):
        return v.get("mean")
    return v


def _per_point_of(v: Any) -> list[Any]:
    if isinstance(v, dict) and isinstance(v.get("per_point"), list):
        return v["per_point"]
    return []


def _rgb_css(color: Sequence[int]) -> str:
    return f"rgb({int(color[0])},{int(color[1])},{int(color[2])})"


def _swatch(color: Sequence[int]) -> str:
    return f'<span class="swatch" style="background:{_rgb_css(color)}"></span>'


def _step_of(path: Path) -> int:
    m = _STEP_PNG.search(path.name)
    return int(m.group(1)) if m else -1


# ----------------------------------------------------------------------------------------------
# page


_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#eef0f3;color:#1c2128;
 font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 font-size:15px;line-height:1.45}
main{max-width:1160px;margin:0 auto;padding:20px 28px 40px;background:#fff;min-height:100vh}
h1{font-size:1.55em;margin:0.2em 0 0.3em}
h2{font-size:1.25em;margin:1.8em 0 0.4em;padding-bottom:3px;border-bottom:2px solid #d5d9df}
h3{font-size:1.05em;margin:1.2em 0 0.4em}
nav{font-size:0.92em;color:#555}
nav a{color:#2457a6;text-decoration:none;margin-right:1em}
table{border-collapse:collapse;margin:0.4em 0 1em;font-size:0.92em}
th,td{border:1px solid #c5cad1;padding:3px 8px;vertical-align:top}
th{background:#f4f5f7;text-align:left;font-weight:600}
table.num td{text-align:right;font-variant-numeric:tabular-nums}
table.num tr.ours th,table.num tr.ours td{background:#eef5ff}
table.num tr.baseline th,table.num tr.baseline td{background:#f6f6f6}
table.num tr.muted td{color:#777;text-align:left}
table.num tr.ref th,table.num tr.ref td{color:#666}
table.num tr.pck th,table.num tr.pck td{border-top:2px solid #9aa3ad}
img{max-width:100%;height:auto;display:block}
video{max-width:100%;width:512px;background:#000;display:block}
figure{margin:0.3em 0 1.2em}
figcaption,.caption{color:#454c55;font-size:0.9em;margin:0.3em 0 0.7em}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.row figure{flex:1 1 300px;min-width:0}
.note{background:#f3f4f6;border-left:4px solid #9aa3ad;padding:6px 10px}
.warn{background:#fff5d1;border-left:5px solid #e0a400;padding:8px 12px;font-size:1.02em}
.bad{color:#b3261e}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:0.9em;background:#f1f2f4;
 padding:0 3px;border-radius:3px;word-break:break-all}
.swatch{display:inline-block;width:0.8em;height:0.8em;border:1px solid #333;
 vertical-align:-0.1em}
"""


_CSP = ("default-src 'none'; img-src data:; media-src data: 'self'; "
        "style-src 'unsafe-inline'")
