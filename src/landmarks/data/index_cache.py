"""A persistent cache of the frame counts of video files, so that indexing a video dataset a
second time opens no video.

Building the index of a video dataset (:class:`~landmarks.data.video.VideoFramePairs`, hence
``data.kind=video`` and ``data.kind=voxceleb``) needs the number of frames of every video
file, which means opening each one (150k clips in VoxCeleb1, 1M in VoxCeleb2). The counts are
kept in one JSON file per dataset root, outside the repository:

* **where**: ``landmarks.fetching.cache_dir()/index/frames-<hash>.json``, i.e. under
  ``$LANDMARKS_CACHE``, else ``$XDG_CACHE_HOME/unsupervised-landmarks``, else
  ``~/.cache/unsupervised-landmarks`` (:func:`index_cache_path` gives the file of a root).
  ``<hash>`` = the first 16 hex digits of the SHA-256 of :data:`INDEX_VERSION`, the *resolved*
  root and ``max_frames`` (the only option that changes a count; frame gaps, crops and image
  sizes are applied after the lookup, so they share one file).
* **what**: ``{"format", "version", "root", "max_frames", "entries"}`` with ``entries`` =
  ``{file path relative to root (POSIX; the file's name when the root is one file): [size in
  bytes, mtime in ns, frames (int, capped at max_frames) or the error message (str) of a file
  that cannot be opened or decoded]}``. Files that cannot be read are cached as their error, so
  they are still skipped (with the same message) without being reopened. Frame folders are not
  in it: listing them opens no file.
* **what invalidates an entry**: the file's current ``(st_size, st_mtime_ns)`` differing from
  the stored ones (the file alone is probed again; a file rewritten in place with the same size
  *and* the same mtime is not noticed: delete the cache then); the file no longer being listed
  (its entry is dropped, except under the top-level folders the caller asks to ``keep``); a
  different root path or ``max_frames`` (another file); a new :data:`INDEX_VERSION` (another
  file); a malformed entry (probed again). A cache file that cannot be read or parsed, or that
  belongs to another root, is ignored with a warning and rewritten.
* **writing**: only when an entry was added, changed or dropped, to a temporary file in the same
  folder then ``os.replace`` (atomic: concurrent processes, e.g. DDP ranks, can lose each other's
  additions but never leave a torn file). A cache folder that cannot be written degrades to no
  caching, with one warning per folder and process, never an error.
* **deleting it**: always safe; the next construction probes every file again and rewrites it.
  Remove one file, or all of them with
  ``rm -r "$(python -c 'from landmarks.fetching import cache_dir; print(cache_dir())')/index"``.
  ``VideoFramePairs(..., index_cache=False)`` neither reads nor writes it.

Cache misses are probed on up to :data:`PROBE_THREADS` threads (each opens its own file). The
probing function defaults to :func:`landmarks.data.video_io.count_frames` (the stream's frame
count from the container metadata, decoding only when the container does not say).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from landmarks import fetching
from landmarks.data.transforms import DatasetError
from landmarks.data.video_io import count_frames

__all__ = ["INDEX_VERSION", "PROBE_THREADS", "Probe", "index_cache_path", "probe_frame_counts"]

#: Version of the cache format (part of the cache file's hash: bump it to orphan old files).
INDEX_VERSION = 1
#: Most threads probing uncached files at once.
PROBE_THREADS = 8
#: A probed file: its frame count (capped at ``max_frames``) or why it cannot be read.
Probe = int | str
_FORMAT = "landmarks-frame-count-index"
_Entry = tuple[int, int, Probe]  # (size in bytes, mtime in ns, probe)
_warned_dirs: set[str] = set()  # cache folders already warned about as unwritable


def index_cache_path(root: str | Path, max_frames: int = 0) -> Path:
    """The cache file of the dataset ``root`` read with ``max_frames`` (0 = all frames):
    ``cache_dir()/index/frames-<16 hex digits>.json`` (module docstring)."""
    key = json.dumps([INDEX_VERSION, str(Path(root).expanduser().resolve()), int(max_frames)])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return fetching.cache_dir() / "index" / f"frames-{digest}.json"


def probe_frame_counts(root: str | Path, paths: Sequence[Path], max_frames: int = 0, *,
                       keep: Iterable[str] = (), use_cache: bool = True,
                       threads: int = PROBE_THREADS,
                       count: Callable[[Path, int], int] | None = None) -> dict[Path, Probe]:
    """Frame counts of the video files ``paths`` (all under ``root``, or ``root`` itself when
    it is one file), through the cache of ``root`` (module docstring).

    Returns ``{path: frames capped at max_frames (int) | error message naming the file (str)}``.
    Files whose cached ``(size, mtime_ns)`` still match are not opened; the others are probed
    with ``count(path, max_frames)`` (default :func:`landmarks.data.video_io.count_frames`; it
    raises :class:`DatasetError` for a file it cannot read) on up to ``threads`` threads. The new
    cache holds the entries of ``paths`` plus the old entries under the top-level folders of
    ``root`` named in ``keep`` (parts of ``root`` that this listing did not cover); every other
    old entry is dropped. The file is rewritten only when an entry was added, changed or
    dropped. ``use_cache=False`` probes every file and neither reads nor writes the cache.
    """
    if count is None:
        count = count_frames
    root = Path(root).expanduser()
    max_frames = int(max_frames)
    if not use_cache:
        return dict(zip(paths, _probe_all(list(paths), max_frames, threads, count), strict=True))
    resolved = root.resolve()
    path = index_cache_path(root, max_frames)
    old = _load(path, resolved, max_frames)
    out: dict[Path, Probe] = {}
    entries: dict[str, _Entry] = {}
    todo: list[tuple[Path, str, os.stat_result]] = []
    prefix = os.path.join(str(root), "")  # "root/": cheaper than Path.relative_to per file
    for clip in paths:
        rel = _relative(clip, root, prefix)
        try:
            st = clip.stat()
        except OSError as err:  # vanished or unreadable since listed: skipped, not cached
            out[clip] = f"video {clip} cannot be opened: {err}"
            continue
        hit = old.get(rel)
        if _valid_entry(hit) and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            out[clip] = hit[2]
            entries[rel] = (hit[0], hit[1], hit[2])
        else:
            todo.append((clip, rel, st))
    probes = _probe_all([clip for clip, _, _ in todo], max_frames, threads, count)
    for (clip, rel, st), probe in zip(todo, probes, strict=True):
        out[clip] = probe
        entries[rel] = (st.st_size, st.st_mtime_ns, probe)  # stat taken before probing
    kept = set(keep)
    for rel, entry in old.items():  # parts of root this listing did not cover: kept as they are
        if rel not in entries and rel.split("/", 1)[0] in kept and _valid_entry(entry):
            entries[rel] = (entry[0], entry[1], entry[2])
    if todo or entries.keys() != old.keys():
        _save(path, resolved, max_frames, entries)
    return out


def _relative(clip: Path, root: Path, prefix: str) -> str:
    """``clip``'s cache key: its path relative to ``root`` in POSIX form (its name when it is
    ``root`` itself, a single-file root)."""
    text = str(clip)
    if text.startswith(prefix):
        return text[len(prefix):].replace(os.sep, "/")
    if clip == root:
        return clip.name
    return clip.relative_to(root).as_posix()


def _probe_all(paths: list[Path], max_frames: int, threads: int,
               count: Callable[[Path, int], int]) -> list[Probe]:
    """``count(path, max_frames)`` of each path, or the message of the :class:`DatasetError` it
    raised, in order, on up to ``threads`` threads."""

    def probe(path: Path) -> Probe:
        try:
            return count(path, max_frames)
        except DatasetError as err:
            return str(err)

    n_threads = max(1, min(int(threads), len(paths)))
    if n_threads == 1:
        return [probe(p) for p in paths]
    with ThreadPoolExecutor(n_threads, thread_name_prefix="frame-count-probe") as pool:
        return list(pool.map(probe, paths))


def _valid_entry(entry: Any) -> bool:
    return (isinstance(entry, list) and len(entry) == 3
            and all(type(v) is int for v in entry[:2])
            and ((type(entry[2]) is int and entry[2] >= 0) or isinstance(entry[2], str)))


def _load(path: Path, root: Path, max_frames: int) -> dict[str, Any]:
    """The entries of the cache file ``path`` (values not validated yet), or ``{}`` when it is
    missing; an unreadable or corrupt file is ignored with a warning."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # no cache yet (an unwritable folder is
        return {}                                       # reported once, when writing)
    except (OSError, UnicodeDecodeError) as err:
        warnings.warn(f"video index cache {path} cannot be read ({err}); ignoring it, every "
                      f"video file is probed again", stacklevel=4)
        return {}
    try:
        data = json.loads(text)
        if not (isinstance(data, dict) and data.get("format") == _FORMAT
                and data.get("version") == INDEX_VERSION):
            raise ValueError(f"not a {_FORMAT} file of version {INDEX_VERSION}")
        if data.get("root") != str(root) or data.get("max_frames") != max_frames:
            raise ValueError(f"it is for root {data.get('root')!r}, max_frames "
                             f"{data.get('max_frames')!r}")
        entries = data.get("entries")
        if not isinstance(entries, dict):
            raise ValueError("'entries' is not an object")
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        warnings.warn(f"video index cache {path} is corrupt ({err}); ignoring it, every video "
                      f"file is probed again and the cache rewritten", stacklevel=4)
        return {}
    return entries


def _save(path: Path, root: Path, max_frames: int, entries: dict[str, _Entry]) -> None:
    """Write the cache file atomically (temporary file + ``os.replace``); an unwritable folder
    gives one warning per folder and process, never an error."""
    data = {"format": _FORMAT, "version": INDEX_VERSION, "root": str(root),
            "max_frames": max_frames, "entries": entries}
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the index holds nothing private
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, separators=(",", ":"))
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        if str(path.parent) not in _warned_dirs:
            _warned_dirs.add(str(path.parent))
            warnings.warn(f"video index cache {path} cannot be written ({err}); the index is "
                          f"not cached, so every construction opens every video file (set "
                          f"$LANDMARKS_CACHE to a writable folder)", stacklevel=4)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
