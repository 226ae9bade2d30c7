"""The trainer's loop and hooks: the step alone, hooks in order, no host sync per step, a loss
that stops being finite, the time limit, the caller's config left alone."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest
import torch

import landmarks.engine.trainer as trainer_module
from fixtures import write_image_folder
from landmarks.config import load_config, to_dict
from landmarks.engine.checkpoint import list_checkpoints
from landmarks.engine.hook_base import Hook, LastStep
from landmarks.engine.trainer import Trainer, train

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("images")
    write_image_folder(d, 40, 40)
    return d


def smoke(image_dir: Path, *extra: str):
    return load_config(SMOKE, [f"data.root={image_dir}", "train.device=cpu", *extra])


def test_run_step_is_short_and_only_steps() -> None:
    lines = inspect.getsource(Trainer.run_step).splitlines()
    assert len(lines) <= 40, len(lines)


def test_run_step_on_a_batch_without_a_run(image_dir: Path) -> None:
    """The speed benchmark's use: a trainer from a config alone, one step on a batch."""
    torch.manual_seed(0)
    t = Trainer(smoke(image_dir))
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    losses = t.run_step({"image": torch.rand(4, 3, 32, 32)})
    assert t.step == 1 and {"loss", "grad_norm", "health/spread_x"} <= set(losses)
    assert any(not torch.equal(before[k], v) for k, v in t.model.state_dict().items())
    assert t.window.steps == 1 and t.last is not None


class Recorder(Hook):
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def before_train(self) -> None:
        self.calls.append(("before_train", self.trainer.step))

    def after_step(self) -> None:
        self.calls.append(("after_step", self.trainer.step))

    def after_checkpoint(self, run_dir: Path, step: int, last: LastStep) -> None:
        assert (run_dir / "checkpoints" / f"step_{step:07d}.pt").is_file()
        self.calls.append(("after_checkpoint", step))

    def after_train(self) -> None:
        self.calls.append(("after_train", self.trainer.step))


def test_user_hooks_run_after_the_engine_hooks(image_dir: Path, tmp_path: Path) -> None:
    hook = Recorder()
    train(smoke(image_dir, "train.steps=4", "train.checkpoint_every=2"), tmp_path / "run",
          hooks=[hook])
    assert hook.calls == [("before_train", 0), ("after_step", 1), ("after_checkpoint", 2),
                          ("after_step", 2), ("after_step", 3), ("after_checkpoint", 4),
                          ("after_step", 4), ("after_train", 4)]


def test_no_host_sync_per_step(image_dir: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's code reads tensors back (bool, float, int, item, tolist) per log row and
    per checkpoint, not per step: 3 and 9 steps with one row and one checkpoint read the same.
    (PyTorch's own reads, e.g. Adam's step counts, which are host tensors, are not counted.)"""
    counts: list[int] = []
    library = str(Path(trainer_module.__file__).parents[1])
    for name in ("__bool__", "__float__", "__int__", "item", "tolist"):
        real = getattr(torch.Tensor, name)

        def spy(self, *args, _real=real, **kwargs):
            if sys._getframe(1).f_code.co_filename.startswith(library):
                counts.append(1)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    reads = []
    for steps in (3, 9):
        counts.clear()
        train(smoke(image_dir, f"train.steps={steps}", f"train.log_every={steps}",
                    f"train.checkpoint_every={steps}"), tmp_path / f"run{steps}")
        reads.append(len(counts))
    assert reads[0] == reads[1], reads


def test_a_loss_that_is_not_finite_stops_before_its_checkpoint(
        image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = trainer_module.training_step
    calls = [0]

    def nan_at_step_2(*args, **kwargs):
        losses, out, pair = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == 2:
            losses = {**losses, "loss": losses["loss"] * torch.nan}
        return losses, out, pair

    monkeypatch.setattr(trainer_module, "training_step", nan_at_step_2)
    # a log row at step 2: found there
    with pytest.raises(FloatingPointError, match="steps 1–2"):
        train(smoke(image_dir), tmp_path / "logged")
    assert list_checkpoints(tmp_path / "logged") == []
    # no log row before the checkpoint at step 3: found by the checkpoint, which is not written
    calls[0] = 0
    with pytest.raises(FloatingPointError, match="no checkpoint"):
        train(smoke(image_dir, "train.log_every=5"), tmp_path / "checkpointed")
    assert list_checkpoints(tmp_path / "checkpointed") == []


def test_time_limit_stops_with_a_checkpoint(image_dir: Path, tmp_path: Path) -> None:
    result = train(smoke(image_dir, "train.time_limit_minutes=1e-9", "train.progress=true",
                         "train.steps=50"), tmp_path / "run")
    assert result.step == 1
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step_0000001.pt"]
    assert [row["step"] for row in result.history] == [1]


def test_the_callers_config_is_not_changed(image_dir: Path, tmp_path: Path) -> None:
    cfg = smoke(image_dir, "train.steps=1")
    before = to_dict(cfg)
    result = train(cfg, tmp_path / "run")
    assert to_dict(cfg) == before
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "softmax_scale" in saved and "softmax_scale" not in str(before)  # resolved copy
    assert result.step == 1


def test_cosine_schedule_decays_to_its_floor_over_the_steps(image_dir: Path,
                                                            tmp_path: Path) -> None:
    result = train(smoke(image_dir, "optim.schedule=cosine", "optim.lr=1e-3",
                         "optim.cosine_floor=0.1", "train.steps=4", "train.log_every=1"),
                   tmp_path / "run")
    lrs = [row["lr"] for row in result.history]
    # a row's rate is the one the next step gets: half a cosine from 1e-3, 0.1e-3 at step 4
    assert lrs[1] == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))
    assert lrs[-1] == pytest.approx(1e-4)
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))
    assert trainer_module.cosine_factor(4, 4, 0.1) == pytest.approx(0.1)
    assert trainer_module.cosine_factor(9, 4, 0.1) == pytest.approx(0.1)
