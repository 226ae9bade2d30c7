import sys
from pathlib import Path

import pytest

# tests/fixtures.py (fixture writers in each dataset's real format) is importable as `fixtures`
sys.path.insert(0, str(Path(__file__).resolve().parent))

from landmarks.fetching import cache_dir  # noqa: E402

#: The user's real cache (``$LANDMARKS_CACHE`` or the default), read before any test runs: only
#: tests that look for optional, already-fetched files read it; none writes there.
REAL_CACHE: Path = cache_dir()


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees an empty cache of its own session (``$LANDMARKS_CACHE``), so that caches
    written by the code under test (video frame-count indexes, fetched files) never land in the
    user's real cache."""
    monkeypatch.setenv("LANDMARKS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
