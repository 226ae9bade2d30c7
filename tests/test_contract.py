"""The method contract (:class:`landmarks.models.LandmarkModel`), checked for every registered
model: a method is tested the day it is registered. Only the contract is checked here (shapes,
finite loss, backward, detect, render where offered, parameter groups, checkpoint round trip,
resume); each method's own behaviour has its own tests (test_models.py for IMM)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from fixtures import write_image_folder
from landmarks.config import from_dict, load_config, to_dict
from landmarks.engine.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from landmarks.engine.trainer import resume_config, train
from landmarks.geometry import TPSSpread, sample_tps_pair
from landmarks.losses import Objective, PixelLoss, check_terms
from landmarks.models import (
    LandmarkModel,
    TrainingPair,
    build_model,
    can_render,
    create_model,
    list_models,
)
from landmarks.registry import MODELS, model_arguments

#: every model the library registers (test modules may register fakes of their own)
MODELS_UNDER_TEST = [n for n in list_models()
                     if MODELS.get(n).__module__.startswith("landmarks.")]
K, SIZE, B = 4, 32, 2
#: small sizes for CPU tests, passed only to the models whose factory takes them
SMALL = {"width": 8, "render_channels": 32, "min_render_channels": 8}


def small_args(name: str) -> dict[str, Any]:
    accepted = model_arguments(MODELS.get(name))
    return {k: v for k, v in SMALL.items() if k in accepted}


def small_model(name: str) -> LandmarkModel:
    torch.manual_seed(0)
    return create_model(name, num_keypoints=K, image_size=SIZE, **small_args(name))


def objective_for(model: LandmarkModel) -> Objective:
    """L2 reconstruction (where the model reconstructs) plus every prior the model supports."""
    outputs = model.outputs
    terms = {"reconstruction": 1.0 if "reconstruction" in outputs else 0.0}
    if {"prob_x", "prob_y"} <= outputs:
        terms["concentration"] = 0.1
    terms["separation"] = 0.1
    if "warped_keypoints" in outputs:
        terms["equivariance"] = 1.0
    return Objective(PixelLoss("l2"), terms)


def a_pair() -> TrainingPair:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(B, 3, SIZE, SIZE, generator=g)
    spread = TPSSpread(5.0, 0.1, 0.1, (0.001, 0.01))
    p = sample_tps_pair(images, spread, spread, generator=g)
    return TrainingPair(p.source, p.target, p.mask, p.source_warp)


def test_a_model_is_registered() -> None:
    assert "imm" in MODELS_UNDER_TEST


@pytest.mark.parametrize("name", MODELS_UNDER_TEST)
def test_model_subclasses_the_contract(name: str) -> None:
    model = small_model(name)
    assert isinstance(model, LandmarkModel)
    assert model.num_keypoints == K and model.image_size == SIZE
    assert "keypoints" in model.outputs


@pytest.mark.parametrize("name", MODELS_UNDER_TEST)
def test_training_step_finite_loss_and_backward(name: str) -> None:
    model = small_model(name).train()
    objective = objective_for(model)
    losses, out = model.training_step(a_pair(), objective)
    assert losses["loss"].ndim == 0 and torch.isfinite(losses["loss"])
    for term, weight in objective.weights.items():
        if weight > 0:
            assert term in losses, term  # every active term is logged
    assert out["keypoints"].shape == (B, K, 2)
    assert set(out) <= model.outputs, "the step returns outputs it does not declare"
    if "reconstruction" in out:
        assert out["reconstruction"].shape == (B, 3, SIZE, SIZE)
    losses["loss"].backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(torch.isfinite(g).all() for g in grads if g is not None)
    # the loss reaches the landmark detector (not only the rest of the model): a detector
    # whose output were detached from the loss would learn nothing
    detector = [p for m in model.detector_modules() for p in m.parameters() if p.requires_grad]
    assert detector, "detector_modules() holds no trainable parameter"
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in detector), (
        "no gradient reaches the parameters of detector_modules()")


@pytest.mark.parametrize("name", MODELS_UNDER_TEST)
def test_detect_shapes(name: str) -> None:
    model = small_model(name).eval()
    with torch.no_grad():
        det = model.detect(torch.rand(B, 3, SIZE, SIZE))
    kp = det["keypoints"]
    assert kp.shape == (B, K, 2) and torch.isfinite(kp).all()
    assert kp.abs().max() <= 1.0 + 1e-5
    if "heatmaps" in det:
        assert det["heatmaps"].shape[:2] == (B, K)
    if "jacobians" in det:
        assert det["jacobians"].shape == (B, K, 2, 2)


@pytest.mark.parametrize("name", MODELS_UNDER_TEST)
def test_render_where_offered(name: str) -> None:
    model = small_model(name).eval()
    if not can_render(model):
        pytest.skip(f"model {name!r} does not render")
    images = torch.rand(B, 3, SIZE, SIZE)
    with torch.no_grad():
        kp = model.detect(images)["keypoints"]
        drawn = model.render(images, kp)["reconstruction"]
    assert drawn.shape == (B, 3, SIZE, SIZE) and torch.isfinite(drawn).all()


@pytest.mark.parametrize("name", MODELS_UNDER_TEST)
def test_parameter_groups_hold_every_parameter_once(name: str) -> None:
    model = small_model(name)
    grouped = [p for g in model.parameter_groups() for p in g["params"]]
    assert len(grouped) == len({id(p) for p in grouped})
    assert {id(p) for p in grouped} == {id(p) for p in model.parameters()}


def _config(name: str, root: Path, *extra: str):
    args = [f"model.{k}={v}" for k, v in small_args(name).items()]
    return load_config(None, [f"model.name={name}", f"model.num_keypoints={K}",
                              f"model.image_size={SIZE}", *args, "loss.name=l2",
                              f"data.root={root}", "data.num_workers=0", "train.device=cpu",
                              "train.threads=1", "train.batch_size=2", "train.steps=4",
                              "train.checkpoint_every=2", "train.log_every=2",
                              "train.tensorboard=false", "train.progress=false", *extra])


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("contract_images")
    write_image_folder(d, 6, 40)
    return d


@pytest.mark.parametrize("name", MODELS_UNDER_TEST)
def test_checkpoint_round_trip(name: str, tmp_path: Path, image_dir: Path) -> None:
    cfg = _config(name, image_dir)
    model = build_model(cfg).eval()
    path = save_checkpoint(tmp_path / "m.pt", {"model": model.state_dict(), "step": 0,
                                               "config": to_dict(cfg)})
    state = load_checkpoint(path)
    again = build_model(from_dict(state["config"])).eval()
    again.load_state_dict(state["model"])
    images = torch.rand(B, 3, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(model.detect(images)["keypoints"], again.detect(images)["keypoints"])


@pytest.mark.parametrize("name", MODELS_UNDER_TEST)
def test_resume_gives_the_straight_run(name: str, tmp_path: Path, image_dir: Path) -> None:
    straight = train(_config(name, image_dir), tmp_path / "straight")
    train(_config(name, image_dir, "train.steps=2"), tmp_path / "split")
    resumed = train(resume_config(tmp_path / "split", ["train.steps=4"]), tmp_path / "split",
                    resume=True)
    assert resumed.step == straight.step == 4
    a = load_checkpoint(latest_checkpoint(tmp_path / "straight"))["model"]
    b = load_checkpoint(latest_checkpoint(tmp_path / "split"))["model"]
    for k, v in a.items():
        assert torch.equal(v, b[k]), k
    assert straight.final_loss == resumed.final_loss


class _DetectorOnly(LandmarkModel):
    """A contract model with keypoints only (no reconstruction, no marginals, no warps)."""

    outputs = frozenset({"keypoints"})


def test_a_term_the_model_cannot_feed_is_an_error_before_training(image_dir: Path,
                                                                   tmp_path: Path) -> None:
    cfg = load_config(None, ["loss.terms.equivariance=1", "loss.terms.reconstruction=0"])
    with pytest.raises(ValueError, match=r"'equivariance'.*'warped_keypoints'.*'detector'"):
        check_terms(cfg.loss, _DetectorOnly(), "detector")
    with pytest.raises(ValueError, match=r"'reconstruction'.*model 'detector'"):
        check_terms(load_config(None, []).loss, _DetectorOnly(), "detector")
    check_terms(cfg.loss, small_model("imm"), "imm")  # IMM returns all of them


def test_every_registered_term_is_weighted_and_logged() -> None:
    """All registered terms at once on IMM (L2 reconstruction, an extra L1 term and the
    priors): each is logged unweighted under its name; "loss" is the weighted sum."""
    from landmarks.losses import build_objective, term_names

    assert {"perceptual", "l1", "l2", "concentration", "separation",
            "equivariance"} <= set(term_names())
    weights = {"reconstruction": 0.5, "l1": 2.0, "concentration": 0.1, "separation": 0.3,
               "equivariance": 4.0}
    cfg = load_config(None, ["loss.name=l2", *(f"loss.terms.{k}={v}" for k, v in
                                               weights.items())])
    model = small_model("imm")
    check_terms(cfg.loss, model, "imm")
    objective = build_objective(cfg.loss, SIZE)
    assert objective.needs_warped_target
    losses, _ = model.training_step(a_pair(), objective)
    assert set(weights) <= set(losses)
    total = sum(w * losses[k] for k, w in weights.items())
    assert losses["loss"].item() == pytest.approx(total.item(), rel=1e-5)


def test_unknown_terms_and_repeated_reconstruction_are_config_errors() -> None:
    from landmarks.config import ConfigError

    model = small_model("imm")
    with pytest.raises(ConfigError, match=r"'loss\.terms\.smoothness'.*registered:.*separation"):
        check_terms(load_config(None, ["loss.terms.smoothness=1"]).loss, model, "imm")
    with pytest.raises(ConfigError, match=r"'loss\.terms\.l2'.*already the reconstruction"):
        check_terms(load_config(None, ["loss.name=l2", "loss.terms.l2=1"]).loss, model, "imm")


class _PointsOnly(LandmarkModel):
    """A contract model that detects (fixed points) and cannot render."""

    def __init__(self) -> None:
        super().__init__()
        self.num_keypoints, self.image_size = K, SIZE
        self.bias = torch.nn.Parameter(torch.zeros(K, 2))

    def detect(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"keypoints": self.bias.expand(images.shape[0], K, 2)}


def test_swap_with_a_model_that_cannot_render_names_the_model() -> None:
    from landmarks.commands.swap import RendererError, swap_reconstructions

    assert not can_render(_PointsOnly()) and can_render(small_model("imm"))
    images = torch.rand(2, 3, SIZE, SIZE)
    with pytest.raises(RendererError, match=r"'_PointsOnly' cannot render.*swap.*'imm'"):
        swap_reconstructions(_PointsOnly(), images, images)
