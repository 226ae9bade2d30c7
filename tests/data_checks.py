"""Checks shared by the dataset readers' tests: what the video index opens, and how a reader
skips an unreadable item."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def count_video_probes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every video file the index probes (``landmarks.data.video.count_frames``); returns
    the list the paths are appended to."""
    import landmarks.data.video as video_mod

    calls: list[Path] = []
    real = video_mod.count_frames

    def counting(path, max_frames=0):
        calls.append(Path(path))
        return real(path, max_frames)

    monkeypatch.setattr(video_mod, "count_frames", counting)
    return calls


def forbid_video_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make opening or probing any video (``av.open``, ``count_frames``) an AssertionError."""
    import av

    import landmarks.data.video as video_mod

    def boom(*args, **kwargs):
        raise AssertionError(f"a video was opened: {args}")

    monkeypatch.setattr(av, "open", boom)
    monkeypatch.setattr(video_mod, "count_frames", boom)


def skipped_with_one_warning(dataset: Any, index: int, name: str) -> list[str]:
    """Read ``dataset[index]`` twice: both reads give ``None`` and, together, exactly one
    warning whose message contains ``name`` (warned once per file). Returns those messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert dataset[index] is None
        assert dataset[index] is None
    named = [str(w.message) for w in caught if name in str(w.message)]
    assert len(named) == 1
    return named


def check_corrupt_labelled_image(bad: Path, read_split: Callable[[], Any], index: int,
                                 points: int = 5) -> None:
    """Overwrite the image ``bad`` with garbage, then check the labelled split ``read_split()``
    (item ``index`` of which shows it): that item is ``None`` with one warning naming the file as
    unreadable, item 0 still reads (``points`` labels), and ``.skipped`` lists the file."""
    bad.write_bytes(b"this is not an image \x00\xff\x13" * 8)
    split = read_split()
    named = skipped_with_one_warning(split, index, str(bad))
    assert "unreadable" in named[0]
    assert split[0] is not None and split[0]["labels"].shape == (points, 2)
    assert split.skipped == [str(bad)]
