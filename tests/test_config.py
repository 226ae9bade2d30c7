from pathlib import Path

import pytest

from landmarks.config import ConfigError, from_dict, load_config, to_dict
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.engine.trainer import model_kwargs, train
from landmarks.inference import Detector
from landmarks.models import list_models
from landmarks.registry import ModelArgumentError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_the_paper_settings() -> None:
    cfg = load_config()
    assert cfg.model.num_keypoints == 10 and cfg.model.image_size == 128
    assert model_kwargs(cfg)["sigma"] == 0.1 and cfg.loss.momentum == 0.99
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
    f.write_text("optim:\n  lrr: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert "optim.lrr" in str(err.value) and str(f) in str(err.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    """Each shipped recipe loads, names a registered model (imm; zhang_*.yaml: zhang;
    motion_*.yaml: motion; fomm_*.yaml: fomm) and gives it arguments its factory takes."""
    cfg = load_config(path)
    name = to_dict(cfg)["model"]["name"]
    prefix = path.name.split("_")[0]
    assert name == (prefix if prefix in ("zhang", "motion", "fomm") else "imm")
    assert name in list_models()
    model_kwargs(cfg)  # checked against the factory (ModelArgumentError otherwise)


def test_model_arguments_are_open_and_checked_against_the_model(tmp_path: Path) -> None:
    cfg = load_config(None, ["model.width=16", "model.softmax_scale=4"])
    assert cfg.model.args == {"width": 16, "softmax_scale": 4}
    assert cfg.model.width == 16
    flat = to_dict(cfg)["model"]
    assert flat["width"] == 16 and "args" not in flat
    assert from_dict(to_dict(cfg)).model.args == cfg.model.args  # round trip
    kw = model_kwargs(cfg)
    assert kw["width"] == 16 and kw["softmax_scale"] == 4.0 and kw["sigma"] == 0.1
    for override, match in (("model.foo=1", r"'model\.foo'.*'imm' takes no argument 'foo'"),
                            ("model.width=wide", r"'model\.width'.*expects int"),
                            ("model.heatmap_size=256", r"model 'imm': heatmap_size 256")):
        bad = load_config(None, [override, f"data.root={tmp_path}"])
        with pytest.raises(ModelArgumentError, match=match):
            train(bad, tmp_path / "run")
        assert not (tmp_path / "run").exists()  # checked before anything is written


def test_old_checkpoint_configs_still_load() -> None:
    old = {"model": {"name": "imm", "num_keypoints": 10, "image_size": 64, "sigma": 0.1,
                     "width": 16, "heatmap_size": 16, "render_channels": 128,
                     "min_render_channels": 16},
           "optim": {"lr": 1e-3, "weight_decay": 5e-4, "schedule": "constant"}}
    cfg = from_dict(old)
    kw = model_kwargs(cfg)
    assert kw["width"] == 16 and kw["softmax_scale"] == 1.0  # the official softmax


def test_from_dict_validates_so_checkpoint_configs_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'model\.image_size'.*in ckpt\.pt"):
        from_dict({"model": {"image_size": 48}}, origin="ckpt.pt")
    with pytest.raises(ConfigError, match=r"'optim\.schedule'"):
        from_dict({"optim": {"schedule": "linear"}})
    with pytest.raises(ConfigError, match=r"'optim\.cosine_floor'"):
        from_dict({"optim": {"schedule": "cosine", "cosine_floor": 2}})
    # a checkpoint whose config is invalid is named when it is loaded for inference
    bad = to_dict(load_config())
    bad["data"]["frame_gap"] = [5, 1]
    path = save_checkpoint(tmp_path / "bad.pt", {"model": {}, "step": 0, "config": bad})
    with pytest.raises(ConfigError, match=r"'data\.frame_gap'.*bad\.pt"):
        Detector.from_checkpoint(path, device="cpu")


def test_a_typo_in_code_fails_as_on_the_command_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as cli:
        load_config(None, ["train.stpes=5"])
    cfg = load_config()
    with pytest.raises(ConfigError) as code:
        cfg.train.stpes = 5
    assert str(code.value) == str(cli.value).replace("command line", "code")
    with pytest.raises(ConfigError, match="unknown config key 'trian'"):
        cfg.trian = None
    # a model argument is open (each model has its own) and checked when the model is built,
    # from the command line and from code alike, before anything is written
    with pytest.raises(ModelArgumentError) as cli_model:
        train(load_config(None, ["model.widht=16"]), tmp_path / "a")
    cfg = load_config()
    cfg.model.widht = 16
    with pytest.raises(ModelArgumentError) as code_model:
        train(cfg, tmp_path / "b")
    assert str(code_model.value) == str(cli_model.value)
    # a wrong type or value set in code: the trainer checks its config as a load does
    cfg = load_config()
    cfg.train.steps = "5"
    with pytest.raises(ConfigError, match=r"'train\.steps'.*expected int"):
        train(cfg, tmp_path / "c")
    cfg = load_config()
    cfg.model.image_size = 100
    with pytest.raises(ConfigError, match=r"'model\.image_size'"):
        train(cfg, tmp_path / "d")
    assert not any(tmp_path.iterdir())
