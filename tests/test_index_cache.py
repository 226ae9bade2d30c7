"""The frame-count index cache (landmarks.data.index_cache) on plain files with a fake counter.

The counter stands in for ``count_frames`` (the file's size is its "frame count"), so these tests
open no video; tests/test_data.py and tests/test_data_voxceleb.py check it with real videos.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

import landmarks.data.index_cache as ic
from landmarks.data.transforms import DatasetError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch) -> Path:
    """Every test writes its index cache under its own tmp folder, never the real home cache."""
    cache = tmp_path / "landmarks-cache"
    monkeypatch.setenv("LANDMARKS_CACHE", str(cache))
    return cache


class FakeCounter:
    """``count(path, max_frames)``: the file's size (capped), recording each call; files whose
    name starts with ``bad`` raise :class:`DatasetError` as an unreadable video would."""

    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, path: Path, max_frames: int = 0) -> int:
        self.calls.append(path)
        if path.name.startswith("bad"):
            raise DatasetError(f"video {path} cannot be opened: broken")
        n = path.stat().st_size
        return min(n, max_frames) if max_frames else n


def _write(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


@pytest.fixture()
def tree(tmp_path: Path) -> tuple[Path, list[Path]]:
    root = tmp_path / "data"
    files = [_write(root / "a" / "x.mp4", 7), _write(root / "a" / "y.mp4", 9),
             _write(root / "b" / "z.mp4", 4)]
    return root, files


def _expect(paths: list[Path], counts: list[int]) -> dict[Path, int]:
    return dict(zip(paths, counts, strict=True))


def _probe(root: Path, paths: list[Path], count: FakeCounter, **kwargs) -> dict:
    return ic.probe_frame_counts(root, paths, count=count, **kwargs)


def test_second_call_opens_nothing_and_changes_are_probed_alone(tree, _private_cache) -> None:
    root, (x, y, z) = tree
    count = FakeCounter()
    assert _probe(root, [x, y, z], count) == {x: 7, y: 9, z: 4} and count.calls == [x, y, z]
    path = ic.index_cache_path(root)
    assert path.parent == _private_cache / "index" and path.name.startswith("frames-")
    data = json.loads(path.read_text())
    assert data["format"] == "landmarks-frame-count-index" and data["version"] == ic.INDEX_VERSION
    assert data["root"] == str(root.resolve()) and data["max_frames"] == 0
    st = x.stat()
    assert data["entries"]["a/x.mp4"] == [st.st_size, st.st_mtime_ns, 7]
    written = path.stat().st_mtime_ns
    count.calls.clear()
    assert _probe(root, [x, y, z], count) == {x: 7, y: 9, z: 4} and count.calls == []
    assert path.stat().st_mtime_ns == written  # nothing changed: not rewritten
    _write(x, 3)  # new size
    st = y.stat()
    os.utime(y, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same size, new mtime
    assert _probe(root, [x, y, z], count) == {x: 3, y: 9, z: 4} and count.calls == [x, y]
    assert not [p for p in path.parent.iterdir() if p != path]  # no temporary file left


def test_unlisted_entries_are_dropped_unless_their_folder_is_kept(tree) -> None:
    root, (x, y, z) = tree
    count = FakeCounter()
    _probe(root, [x, y, z], count)
    _probe(root, [x], count, keep={"b"})  # a/y.mp4 dropped, b/ (not listed this time) kept
    entries = json.loads(ic.index_cache_path(root).read_text())["entries"]
    assert sorted(entries) == ["a/x.mp4", "b/z.mp4"]
    _probe(root, [x], count)
    assert sorted(json.loads(ic.index_cache_path(root).read_text())["entries"]) == ["a/x.mp4"]
    count.calls.clear()
    assert _probe(root, [x, z], count) == {x: 7, z: 4} and count.calls == [z]


def test_unreadable_files_are_cached_as_their_error(tree) -> None:
    root, _ = tree
    bad = _write(root / "a" / "bad.mp4", 5)
    gone = root / "a" / "gone.mp4"  # listed, then removed before probing
    count = FakeCounter()
    first = _probe(root, [bad, gone], count)
    assert first[bad] == f"video {bad} cannot be opened: broken"
    assert str(gone) in first[gone] and "cannot be opened" in first[gone]
    assert count.calls == [bad]  # a missing file is not probed, and not cached
    count.calls.clear()
    assert _probe(root, [bad], count) == {bad: first[bad]} and count.calls == []


def test_use_cache_false_neither_reads_nor_writes(tree, _private_cache) -> None:
    root, files = tree
    count = FakeCounter()
    for _ in range(2):
        assert _probe(root, files, count, use_cache=False) == _expect(files, [7, 9, 4])
    assert len(count.calls) == 6 and not _private_cache.exists()


def test_cache_file_is_keyed_by_resolved_root_and_max_frames(tree, tmp_path, monkeypatch) -> None:
    root, files = tree
    link = tmp_path / "link"
    link.symlink_to(root)
    assert ic.index_cache_path(link) == ic.index_cache_path(root)
    assert ic.index_cache_path(root, 5) != ic.index_cache_path(root)
    count = FakeCounter()
    _probe(root, files, count)
    count.calls.clear()
    linked = [link / f.relative_to(root) for f in files]
    assert _probe(link, linked, count) == _expect(linked, [7, 9, 4]) and count.calls == []
    assert _probe(root, files, count, max_frames=5) == _expect(files, [5, 5, 4])
    assert len(count.calls) == 3  # a file of its own
    monkeypatch.setenv("LANDMARKS_CACHE", str(tmp_path / "elsewhere"))
    assert ic.index_cache_path(root).is_relative_to(tmp_path / "elsewhere")


def test_a_single_file_root_is_cached_under_its_name(tree) -> None:
    _, (x, _, _) = tree
    count = FakeCounter()
    assert _probe(x, [x], count) == {x: 7} == _probe(x, [x], count) and count.calls == [x]
    assert list(json.loads(ic.index_cache_path(x).read_text())["entries"]) == ["x.mp4"]


@pytest.mark.parametrize("garbage", ["{not json", '{"format": "other"}', "[1, 2]", "\xff"])
def test_corrupt_cache_file_is_ignored_with_a_warning_and_rewritten(tree, garbage) -> None:
    root, files = tree
    path = ic.index_cache_path(root)
    path.parent.mkdir(parents=True)
    path.write_bytes(garbage.encode("latin-1"))
    count = FakeCounter()
    with pytest.warns(UserWarning, match=r"index cache .* (is corrupt|cannot be read)"):
        assert _probe(root, files, count) == _expect(files, [7, 9, 4])
    assert len(count.calls) == 3 and json.loads(path.read_text())["version"] == ic.INDEX_VERSION


def test_cache_file_of_another_root_is_not_used(tree, tmp_path) -> None:
    root, files = tree
    count = FakeCounter()
    _probe(root, files, count)
    path = ic.index_cache_path(root)
    data = json.loads(path.read_text())
    data["root"] = str(tmp_path / "other")  # as after a hash collision, or a copied file
    path.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="is corrupt .*it is for root"):
        _probe(root, files, count)
    assert len(count.calls) == 6


def test_unwritable_cache_warns_once_per_folder(tree, tmp_path, monkeypatch) -> None:
    root, files = tree
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LANDMARKS_CACHE", str(blocker / "cache"))
    count = FakeCounter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            assert _probe(root, files, count) == _expect(files, [7, 9, 4])
    cache_warnings = [str(w.message) for w in caught if "index cache" in str(w.message)]
    assert len(cache_warnings) == 1 and "cannot be written" in cache_warnings[0]
    assert len(count.calls) == 3 * 3  # nothing cached


def test_threads_agree_and_keep_order(tree) -> None:
    root, _ = tree
    files = [_write(root / "c" / f"{i:02d}.mp4", i + 1) for i in range(20)]
    one = _probe(root, files, FakeCounter(), threads=1, use_cache=False)
    many = _probe(root, files, FakeCounter(), threads=8, use_cache=False)
    assert list(one.items()) == list(many.items()) == [(f, i + 1) for i, f in enumerate(files)]
