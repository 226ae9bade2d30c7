"""`landmarks eval` on the registered benchmarks (MAFL, AFLW), read from fixtures written in
the datasets' real formats."""

import json
from pathlib import Path

import pytest

from fixtures_faces import write_aflw_fixture, write_celeba_fixture
from landmarks.cli import main
from landmarks.config import load_config, to_dict
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.evaluation.run import available_benchmarks, evaluate_checkpoint
from landmarks.registry import create_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    over = ["model.num_keypoints=6", "model.image_size=32", "model.width=8",
            "model.render_channels=32", "model.min_render_channels=8"]
    cfg = load_config(None, over)
    model = create_model("imm", **{k: v for k, v in to_dict(cfg.model).items() if k != "name"})
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "m.pt",
                           {"model": model.state_dict(), "step": 0, "config": to_dict(cfg)})


def test_registered_benchmarks_are_listed() -> None:
    assert {"realfaces", "mafl", "aflw"} <= set(available_benchmarks())


@pytest.mark.parametrize("name, writer", [("mafl", write_celeba_fixture),
                                          ("aflw", write_aflw_fixture)])
def test_eval_on_a_fixture(name: str, writer, checkpoint: Path, tmp_path: Path) -> None:
    writer(tmp_path / "data")
    res = evaluate_checkpoint(checkpoint, name, tmp_path / "data", device="cpu", draws=2)
    assert res["dataset"] == name and res["num_keypoints"] == 6
    assert res["sizes"]["test"] > 0 and res["sizes"]["train_labelled"] > 0
    assert res["iod_error"]["mean"] is not None and res["iod_error"]["mean"] > 0
    assert len(res["iod_error"]["per_point"]) == 5
    assert res["matching"]["assignment"] and len(set(res["matching"]["assignment"])) == 5
    json.dumps(res)  # JSON-safe


def test_unknown_benchmark_lists_the_known_ones(checkpoint: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", str(checkpoint), "--dataset", "nope", "--root", str(tmp_path),
                 "--out", str(tmp_path / "o.json")]) == 2
    assert "mafl" in capsys.readouterr().err


def test_missing_dataset_file_is_named(checkpoint: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", str(checkpoint), "--dataset", "mafl", "--root", str(tmp_path),
                 "--out", str(tmp_path / "o.json"), "--device", "cpu"]) == 2
    assert str(tmp_path) in capsys.readouterr().err


def test_pck_benchmark_bbcpose(checkpoint: Path, tmp_path: Path) -> None:
    from fixtures_pose import write_bbcpose_fixture

    write_bbcpose_fixture(tmp_path / "bbc")
    res = evaluate_checkpoint(checkpoint, "bbcpose", tmp_path / "bbc", device="cpu", draws=2)
    assert res["pck"]["threshold"] == 6.0
    assert 0.0 <= res["pck"]["at_6"] <= 100.0 and len(res["pck"]["per_part_at_6"]) == 7
    curve = res["pck"]["curve"]
    assert all(a <= b for a, b in zip(curve, curve[1:], strict=False))  # PCK grows with d
    assert res["matching"]["skipped"]  # K=6 < 7 joints: no one-to-one matching
    json.dumps(res)
