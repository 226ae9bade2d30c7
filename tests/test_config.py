from pathlib import Path

import pytest

from landmarks.config import ConfigError, load_config, to_dict

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_the_paper_settings() -> None:
    cfg = load_config()
    assert cfg.model.num_keypoints == 10 and cfg.model.image_size == 128
    assert cfg.model.sigma == 0.1 and cfg.loss.momentum == 0.99
    assert cfg.warp.source_rotation_deg == 5.0 and cfg.warp.target_tps == [0.001, 0.005]


def test_yaml_holds_only_changes_and_overrides_win(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("model:\n  num_keypoints: 30\noptim:\n  lr: 1e-2\n")
    cfg = load_config(f, ["model.num_keypoints=5", "warp.source_tps=[0.1, 0.2]"])
    assert cfg.model.num_keypoints == 5
    assert cfg.optim.lr == pytest.approx(0.01)
    assert cfg.warp.source_tps == [0.1, 0.2]
    assert cfg.model.image_size == 128  # untouched default


@pytest.mark.parametrize("override, key", [
    ("model.foo=1", "model.foo"),
    ("nosection.x=1", "nosection"),
    ("model.num_keypoints=ten", "model.num_keypoints"),
    ("train.amp=3", "train.amp"),
    ("data.frame_gap=5", "data.frame_gap"),
    ("model.image_size=48", "model.image_size"),
])
def test_bad_keys_and_types_name_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])


def test_bad_key_in_file_names_file_and_key(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("model:\n  num_keypointz: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert "model.num_keypointz" in str(err.value) and str(f) in str(err.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    cfg = load_config(path)
    assert to_dict(cfg)["model"]["name"] == "imm"
