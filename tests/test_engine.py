"""Training engine: checkpoints, resume equality, run-folder safety, DDP on CPU (gloo)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fixtures import write_image_folder
from landmarks.config import ConfigError, load_config, save_config
from landmarks.engine.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from landmarks.engine.trainer import RunDirError, build_model, resume_config, train
from landmarks.visualize import CheckpointPictures

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("images")
    write_image_folder(d, 16, 40)
    return d


def smoke(image_dir: Path, *extra: str):
    return load_config(SMOKE, [f"data.root={image_dir}", "train.device=cpu", *extra])


def test_checkpoint_round_trip_and_atomic_names(tmp_path: Path) -> None:
    state = {"model": {"w": torch.arange(3.0)}, "step": 7, "config": {"a": 1}}
    path = save_checkpoint(tmp_path / "c" / "x.pt", state)
    loaded = load_checkpoint(path)
    assert loaded["step"] == 7 and torch.equal(loaded["model"]["w"], torch.arange(3.0))
    assert loaded["version"]
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["x.pt"]  # no temp file left


def test_bad_checkpoints_are_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(CheckpointError, match="expected keys"):
        load_checkpoint(other)


def test_train_writes_run_folder(image_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = train(smoke(image_dir), run, hooks=[CheckpointPictures()])
    assert result.step == 6
    assert (run / "config.yaml").is_file() and (run / "metrics.csv").is_file()
    assert [p.name for p in list_checkpoints(run)] == ["step_0000003.pt", "step_0000006.pt"]
    assert sorted(p.name for p in (run / "quadruplets").iterdir()) == [
        "step_0000003.png", "step_0000006.png"]
    state = load_checkpoint(latest_checkpoint(run))
    assert {"model", "optimizer", "step", "config", "version"} <= set(state)
    assert state["config"]["model"]["num_keypoints"] == 4
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    assert rows[0].startswith("step,loss") and len(rows) == 1 + 3
    assert torch.isfinite(torch.tensor(result.final_loss))


def test_train_threads_is_applied_for_the_run_and_restored(image_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real_step = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    cfg = smoke(image_dir, "train.steps=2")
    assert cfg.train.threads == 1  # configs/smoke.yaml pins one thread (a shared 2-core box)
    outer = torch.get_num_threads()
    torch.set_num_threads(3)  # not 1, whatever OMP_NUM_THREADS says: the test can fail
    try:
        train(cfg, tmp_path / "run")
        assert torch.get_num_threads() == 3  # restored afterwards
    finally:
        torch.set_num_threads(outer)
    assert seen and set(seen) == {1}
    with pytest.raises(ConfigError, match=r"'train\.threads'.*got -1"):
        smoke(image_dir, "train.threads=-1")


def test_resume_continues_to_identical_state(image_dir: Path, tmp_path: Path) -> None:
    straight = train(smoke(image_dir), tmp_path / "straight")
    train(smoke(image_dir, "train.steps=3"), tmp_path / "split")
    cfg = resume_config(tmp_path / "split", ["train.steps=6"])
    resumed = train(cfg, tmp_path / "split", resume=True)
    assert resumed.step == 6
    a = load_checkpoint(latest_checkpoint(tmp_path / "straight"))
    b = load_checkpoint(latest_checkpoint(tmp_path / "split"))
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"]
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)
    for k, v in a["loss"].items():
        assert torch.equal(v, b["loss"][k]), k
    assert straight.final_loss == pytest.approx(resumed.final_loss, rel=1e-6)


def test_run_folder_is_never_overwritten(image_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(smoke(image_dir, "train.steps=2", "train.checkpoint_every=2"), run)
    before = latest_checkpoint(run).read_bytes()
    with pytest.raises(RunDirError, match="--resume"):
        train(smoke(image_dir), run)
    assert latest_checkpoint(run).read_bytes() == before
    with pytest.raises(RunDirError, match="no checkpoint"):
        train(smoke(image_dir), tmp_path / "empty", resume=True)


def test_too_small_dataset_is_an_error(image_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="train.batch_size"):
        train(smoke(image_dir, "train.batch_size=64"), tmp_path / "run")


def _run_ddp(config: Path, image_dir: Path, tmp_path: Path, *extra: str
             ) -> dict[str, torch.Tensor]:
    """Train ``config`` with 2 gloo processes; checks that both ranks end with the same
    weights, the ones in rank 0's checkpoint, and returns them."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "tests" / "ddp_worker.py"), str(config), str(image_dir),
           str(tmp_path / "run"), str(tmp_path), *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    # rank 0 alone wrote the run folder, and its checkpoint is those weights
    ckpt = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    assert all(torch.equal(ckpt["model"][k], r0[k]) for k in r0)
    return r0


def test_ddp_two_processes_end_with_identical_weights(image_dir: Path, tmp_path: Path) -> None:
    r0 = _run_ddp(SMOKE, image_dir, tmp_path)
    # and training moved them away from the (seeded) initialisation
    torch.manual_seed(0)
    fresh = build_model(load_config(SMOKE)).state_dict()
    assert any(not torch.equal(fresh[k], r0[k]) for k in r0 if r0[k].is_floating_point())


def test_ddp_trains_a_model_with_parameters_that_get_no_gradient(image_dir: Path,
                                                                 tmp_path: Path) -> None:
    """``motion`` with ``occlusion: false`` computes an occlusion map that reaches no loss, so
    its head gets no gradient; DDP must still reduce the rest (and leave that head alone)."""
    cfg = load_config(SMOKE, ["model.name=motion", "model.generator_width=8",
                              "model.res_blocks=1", "loss.name=pyramid_perceptual",
                              "loss.pyramid_scales=[1.0, 0.5]", "loss.use_mask=false",
                              "model.occlusion=false", "train.steps=2"])
    for key in ("render_channels", "min_render_channels"):  # imm's arguments in smoke.yaml
        del cfg.model.args[key]
    config = tmp_path / "motion.yaml"
    save_config(cfg, config)
    r0 = _run_ddp(config, image_dir, tmp_path, "train.steps=2", "train.checkpoint_every=2")
    torch.manual_seed(0)
    fresh = build_model(cfg).state_dict()
    head = [k for k in r0 if k.startswith("dense_motion.occlusion_head.")]
    assert head and all(torch.equal(fresh[k], r0[k]) for k in head)  # no gradient, no step
    moved = [k for k in r0 if r0[k].is_floating_point() and not torch.equal(fresh[k], r0[k])]
    assert any(k.startswith("kp_detector.") for k in moved)


def _csv_steps(path: Path) -> list[int]:
    import csv

    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [int(float(r["step"])) for r in rows]


def test_resume_drops_log_rows_past_the_checkpoint(image_dir: Path, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    # 6 steps, a log row every 2 and a checkpoint every 3, TensorBoard on
    train(smoke(image_dir, "train.tensorboard=true"), run)
    assert _csv_steps(run / "metrics.csv") == [2, 4, 6]
    # a run killed after step 6 was logged but before its checkpoint was written, and later
    # rows (8, 10) and a line cut short by the kill: the last checkpoint is step 3
    latest_checkpoint(run).unlink()
    assert latest_checkpoint(run).name == "step_0000003.pt"
    stale = (run / "metrics.csv").read_text().splitlines()[-1].split(",")
    with (run / "metrics.csv").open("a") as f:
        f.write(",".join(["8", *stale[1:]]) + "\n" + ",".join(["10", *stale[1:]]) + "\n")
        f.write("12,0.5")
    tb_before = EventAccumulator(str(run / "tensorboard"))
    tb_before.Reload()
    assert [e.step for e in tb_before.Scalars("loss")] == [2, 4, 6]

    resumed = train(resume_config(run, ["train.steps=6"]), run, resume=True)
    assert resumed.step == 6
    steps = _csv_steps(run / "metrics.csv")
    assert steps == [2, 4, 6]  # no duplicate, no stale row, strictly increasing
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss") and len(rows) == 4
    assert not list(run.glob(".metrics.csv.*"))  # the atomic rewrite left no temporary file
    tb = EventAccumulator(str(run / "tensorboard"))
    tb.Reload()
    tb_steps = [e.step for e in tb.Scalars("loss")]
    assert tb_steps == [2, 4, 6]
    # the rows logged after the resume are those of the resumed run (step 2 kept from before)
    assert tb.Scalars("loss")[1].value == pytest.approx(resumed.history[0]["loss"], rel=1e-6)
    assert resumed.history[0]["step"] == 4


def test_truncate_metrics_keeps_rows_up_to_the_step(tmp_path: Path) -> None:
    from landmarks.engine.trainer import truncate_metrics

    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n2,1.0\n4,0.9\n6,0.8\n4,0.7\n8,0.6\n10,0.")
    assert truncate_metrics(path, 4) == 4
    # step 4 was logged twice (an earlier resume): the later row is the resumed run's
    assert path.read_text().splitlines() == ["step,loss", "2,1.0", "4,0.7"]
    assert truncate_metrics(path, 4) == 0  # nothing past the step: the file is left as it is
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def test_init_checks_the_checkpoint_before_making_the_run_folder(image_dir: Path,
                                                                 tmp_path: Path) -> None:
    source = tmp_path / "source"
    train(smoke(image_dir, "train.steps=2", "train.checkpoint_every=2"), source)
    ckpt = latest_checkpoint(source)
    out = tmp_path / "finetune"
    # another K: the file and both K are named; no run folder is left behind
    with pytest.raises(CheckpointError) as err:
        train(smoke(image_dir, "model.num_keypoints=5"), out, init=ckpt)
    msg = str(err.value)
    assert str(ckpt) in msg
    assert "model.num_keypoints=4" in msg and "model.num_keypoints=5" in msg
    assert not out.exists()
    # same K, another width: the parameter and both shapes are named
    with pytest.raises(CheckpointError) as err:
        train(smoke(image_dir, "model.width=16"), out, init=ckpt)
    msg = str(err.value)
    assert str(ckpt) in msg and "landmark_encoder.layers.0.0.weight: [8, 3, 7, 7] in the " \
        "checkpoint, [16, 3, 7, 7] in this model" in msg and "model.width 8 vs 16" in msg
    assert not out.exists()
    # a missing or corrupt file is named, and nothing is left behind either
    with pytest.raises(CheckpointError, match=r"--init: checkpoint .*nothere\.pt does not exist"):
        train(smoke(image_dir), out, init=tmp_path / "nothere.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError,
                       match=r"--init: .*junk\.pt is not a checkpoint: not a PyTorch file"):
        train(smoke(image_dir), out, init=junk)
    assert not out.exists()
    # the corrected run goes into the same folder and starts from the checkpoint's weights
    result = train(smoke(image_dir, "train.steps=1", "optim.lr=0"), out, init=ckpt)
    assert result.step == 1
    start = load_checkpoint(ckpt)["model"]
    for k, v in result.model.state_dict().items():
        if k.endswith(".weight"):  # lr 0: weights stay (BatchNorm statistics move)
            assert torch.equal(v, start[k]), k
