"""The ``fomm`` model against FOMM's own code (first-order-model, commit c027484).

tests/data/fomm_reference.npz holds small random FOMM-format weights (K=3, 48 px), two source
and two driving frames, and what FOMM's ``KPDetector`` and ``OcclusionAwareGenerator`` computed
from them in eval mode, with ``grid_sample`` as FOMM's code runs on torch >= 1.3 and as on
torch 1.0. It was written once by::

    git --git-dir=FOMM.git archive c027484 modules sync_batchnorm | tar x -C /tmp/fomm_official
    PYTHONPATH=src python tests/make_fomm_reference.py /tmp/fomm_official

(torch 2.13.0; the official code is not part of this repository). Our outputs must equal
FOMM's within 1e-4: keypoints, Jacobians, the dense motion, its masks and occlusion map, the
deformed source and the prediction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from fixtures import write_frame_folder
from landmarks.cli import main
from landmarks.engine.checkpoint import load_checkpoint
from landmarks.geometry.coords import pixels_to_normalized
from landmarks.inference import Detector
from landmarks.models import create_model
from landmarks.models.fomm import (
    FOMM_CONFIGS,
    FommModel,
    jacobians_from_fomm,
    jacobians_to_fomm,
    keypoints_from_fomm,
    keypoints_to_fomm,
    state_dict_from_fomm,
)
from landmarks.models.fomm_nets import fomm_grid, gaussian_kernel

REFERENCE = Path(__file__).parent / "data" / "fomm_reference.npz"
CONFIGS = Path(__file__).parent.parent / "configs"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as f:
        return {k: f[k] for k in f.files}


def fixture_args(reference: dict[str, np.ndarray]) -> dict[str, object]:
    """The ``fomm`` model arguments of the fixture's FOMM settings."""
    cfg = json.loads(str(reference["config"]))
    common, det, gen = (cfg["common_params"], cfg["kp_detector_params"],
                        cfg["generator_params"])
    dense = gen["dense_motion_params"]
    return {"num_keypoints": common["num_kp"], "image_size": cfg["size"],
            "block_expansion": det["block_expansion"], "max_features": det["max_features"],
            "num_blocks": det["num_blocks"], "scale_factor": det["scale_factor"],
            "temperature": det["temperature"],
            "generator_block_expansion": gen["block_expansion"],
            "generator_max_features": gen["max_features"],
            "num_down_blocks": gen["num_down_blocks"],
            "num_bottleneck_blocks": gen["num_bottleneck_blocks"],
            "estimate_occlusion_map": gen["estimate_occlusion_map"],
            "motion_block_expansion": dense["block_expansion"],
            "motion_max_features": dense["max_features"],
            "motion_num_blocks": dense["num_blocks"],
            "motion_scale_factor": dense["scale_factor"]}


def fomm_state(reference: dict[str, np.ndarray]) -> dict[str, dict[str, torch.Tensor]]:
    """FOMM's two state dicts, as its checkpoints hold them."""
    out: dict[str, dict[str, torch.Tensor]] = {"kp_detector": {}, "generator": {}}
    for key, value in reference.items():
        part, _, name = key.partition("/")
        if part in out:
            out[part][name] = torch.from_numpy(value)
    return out


def loaded_model(reference: dict[str, np.ndarray], align_corners: bool) -> FommModel:
    model = create_model("fomm", **fixture_args(reference), sample_align_corners=align_corners)
    state = fomm_state(reference)
    model.load_state_dict(state_dict_from_fomm(state["kp_detector"], state["generator"]))
    return model.eval()


def max_differences(reference: dict[str, np.ndarray], align_corners: bool) -> dict[str, float]:
    """Max absolute difference per output between our model and FOMM's code (FOMM's units)."""
    model = loaded_model(reference, align_corners)
    source = torch.from_numpy(reference["source"])
    driving = torch.from_numpy(reference["driving"])
    size = tuple(source.shape[-2:])
    with torch.no_grad():
        src, drv = model.detect(source), model.detect(driving)
        gen = model.generate(source, src, drv)
        fomm_src = {"value": keypoints_to_fomm(src["keypoints"], size),
                    "jacobian": jacobians_to_fomm(src["jacobians"], size)}
        fomm_drv = {"value": keypoints_to_fomm(drv["keypoints"], size),
                    "jacobian": jacobians_to_fomm(drv["jacobians"], size)}
        dense = model.generator.dense_motion_network(source, fomm_src, fomm_drv)
    ours = {"source_value": fomm_src["value"], "source_jacobian": fomm_src["jacobian"],
            "driving_value": fomm_drv["value"], "driving_jacobian": fomm_drv["jacobian"],
            "deformation": keypoints_to_fomm(gen["deformation"], size),
            "occlusion_map": gen["occlusion"], "mask": gen["masks"],
            "sparse_deformed": dense["sparse_deformed"], "deformed": gen["deformed"],
            "prediction": gen["reconstruction"]}
    prefix = "true/" if align_corners else "false/"
    out = {}
    for name, value in ours.items():
        key = prefix + name
        if key not in reference:  # the torch-1.0 half holds only what sampling changes
            key = "false/" + name
            assert name.endswith(("_value", "_jacobian")), name
        expected = reference[key]
        assert value.shape == expected.shape, name
        out[name] = float((value - torch.from_numpy(expected)).abs().max())
    return out


@pytest.mark.parametrize("align_corners", [False, True],
                         ids=["grid_sample-as-today", "grid_sample-torch-1.0"])
def test_outputs_equal_fomms_own_code(reference: dict[str, np.ndarray],
                                      align_corners: bool) -> None:
    diffs = max_differences(reference, align_corners)
    assert max(diffs.values()) <= TOLERANCE, diffs


def test_the_two_sampling_conventions_differ(reference: dict[str, np.ndarray]) -> None:
    """The fixture tells them apart (else the torch-1.0 half would test nothing): the sampled
    frames differ by 0.4, the masks and occlusion by 0.03, the prediction by 2e-3."""
    for name, least in (("deformed", 0.1), ("mask", 0.01), ("prediction", 10 * TOLERANCE)):
        gap = np.abs(reference[f"true/{name}"] - reference[f"false/{name}"]).max()
        assert gap > least, name


def test_keypoints_in_the_package_units(reference: dict[str, np.ndarray]) -> None:
    model = loaded_model(reference, False)
    source = torch.from_numpy(reference["source"])
    with torch.no_grad():
        det = model.detect(source)
    size = tuple(source.shape[-2:])
    expected = keypoints_from_fomm(torch.from_numpy(reference["false/source_value"]), size)
    assert torch.allclose(det["keypoints"], expected, atol=TOLERANCE)
    assert det["heatmaps"].sum(dim=(2, 3)).sub(1).abs().max() < 1e-5


def test_conversion_by_hand() -> None:
    # FOMM's -1 and +1 are the centres of the border pixels; ours at W = 4 are -0.75 and 0.75
    p = torch.tensor([[-1.0, 1.0], [1.0, 0.0]])
    assert torch.allclose(keypoints_from_fomm(p, (4, 4)), torch.tensor([[-0.75, 0.75],
                                                                        [0.75, 0.0]]))
    # a point at pixel x_px: 2 x_px / (W - 1) - 1 for FOMM, (2 x_px + 1) / W - 1 here
    h, w = 6, 10
    px = torch.tensor([[0.0, 5.0], [3.5, 2.25], [9.0, 0.0]])
    fomm_units = 2 * px / torch.tensor([w - 1.0, h - 1.0]) - 1
    assert torch.allclose(keypoints_from_fomm(fomm_units, (h, w)),
                          pixels_to_normalized(px, (h, w)), atol=1e-6)
    assert torch.allclose(keypoints_to_fomm(keypoints_from_fomm(p, (h, w)), (h, w)), p)
    # a Jacobian maps driving displacements to source ones: A J A^-1 with A = diag(9/10, 5/6)
    jac = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = torch.diag(torch.tensor([0.9, 5 / 6]))
    assert torch.allclose(jacobians_from_fomm(jac, (h, w)), a @ jac @ torch.linalg.inv(a))
    assert torch.allclose(jacobians_to_fomm(jacobians_from_fomm(jac, (h, w)), (h, w)), jac)
    assert torch.equal(jacobians_from_fomm(jac, (8, 8)), jac)  # square frames: unchanged


def test_fomm_grid_and_kernel_by_hand() -> None:
    grid = fomm_grid(2, 3)
    assert torch.equal(grid[..., 0], torch.tensor([[-1.0, 0.0, 1.0]] * 2))
    assert torch.equal(grid[..., 1], torch.tensor([[-1.0] * 3, [1.0] * 3]))
    k = gaussian_kernel(0.25)  # σ 1.5 on 13 taps
    assert k.shape == (13, 13)
    assert abs(float(k.sum()) - 1) < 1e-6
    centre = k[6, 6] / k[6, 7]
    assert abs(float(centre) - float(np.exp(1 / (2 * 1.5**2)))) < 1e-5


def test_published_settings_have_fomms_parameter_counts() -> None:
    """vox-256 built here has exactly the parameters FOMM's code builds (counted with it:
    detector 14,215,368; generator 45,575,391 of which dense motion 37,730,268)."""
    with torch.device("meta"):
        model = create_model("fomm", **FOMM_CONFIGS["vox-256"])

    def count(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    assert count(model.kp_detector) == 14_215_368
    assert count(model.generator) == 45_575_391
    assert count(model.generator.dense_motion_network) == 37_730_268


@pytest.mark.parametrize("name", ["vox256", "taichi256"])
def test_configs_hold_fomms_published_settings(name: str) -> None:
    cfg = yaml.safe_load((CONFIGS / f"fomm_{name}.yaml").read_text())["model"]
    fomm_name = name.replace("256", "-256")
    assert cfg.pop("name") == "fomm"
    assert cfg == FOMM_CONFIGS[fomm_name]


# ----------------------------------------------------------------------------------------------
# landmarks import fomm


@pytest.fixture(scope="module")
def imported(reference: dict[str, np.ndarray],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fixture's weights as a FOMM checkpoint (with the extra entries FOMM's hold), our
    YAML for its settings, and `landmarks import fomm` of it (both sampling conventions). The
    config says 64 px (our configs take powers of two); the networks are convolutional, so the
    imported model still runs the fixture's 48-px frames."""
    base = tmp_path_factory.mktemp("fomm_import")
    state = fomm_state(reference)
    ckpt = base / "tiny-cpk.pth.tar"
    # torch 1.0 wrote the published files in the legacy (pre-zip) format
    torch.save({**state, "discriminator": {}, "optimizer_generator": {"state": {},
                "param_groups": [{"lr": 2e-4, "betas": (0.5, 0.999)}]}, "epoch": 99}, ckpt,
               _use_new_zipfile_serialization=False)
    config = base / "fomm_tiny.yaml"
    config.write_text(yaml.safe_dump({"model": {"name": "fomm", **fixture_args(reference),
                                                "image_size": 64}}))
    paths = {"fomm": ckpt, "config": config, "false": base / "tiny.pt",
             "true": base / "tiny_torch10.pt"}
    assert main(["import", "fomm", str(ckpt), "--config", str(config), "--out",
                 str(paths["false"])]) == 0
    assert main(["import", "fomm", str(ckpt), "--config", str(config), "--out",
                 str(paths["true"]), "--torch10-sampling"]) == 0
    return paths


@pytest.mark.parametrize("align_corners", [False, True],
                         ids=["grid_sample-as-today", "grid_sample-torch-1.0"])
def test_imported_checkpoint_equals_fomm(reference: dict[str, np.ndarray],
                                         imported: dict[str, Path], align_corners: bool) -> None:
    prefix = "true" if align_corners else "false"
    state = load_checkpoint(imported[prefix])
    assert state["imported"]["epoch"] == 99 and state["imported"]["format"] == "fomm"
    detector = Detector.load(imported[prefix])
    assert detector.config.model.name == "fomm"
    source = torch.from_numpy(reference["source"])
    driving = torch.from_numpy(reference["driving"])
    size = tuple(source.shape[-2:])
    with torch.no_grad():
        src, drv = detector.model.detect(source), detector.model.detect(driving)
        prediction = detector.model.generate(source, src, drv)["reconstruction"]
    expected = keypoints_from_fomm(torch.from_numpy(reference["false/driving_value"]), size)
    assert (drv["keypoints"] - expected).abs().max() <= TOLERANCE
    want = torch.from_numpy(reference[f"{prefix}/prediction"])
    assert (prediction - want).abs().max() <= TOLERANCE


def test_animate_runs_an_imported_checkpoint(imported: dict[str, Path], tmp_path: Path,
                                             capsys) -> None:
    frames = write_frame_folder(tmp_path / "driving", 4, (80, 64))
    out = tmp_path / "animation.mp4"
    assert main(["animate", str(imported["false"]), "--source", str(frames[0]), "--driving",
                 str(tmp_path / "driving"), "--out", str(out)]) == 0
    assert "4 frames" in capsys.readouterr().out
    assert out.stat().st_size > 0


def test_import_errors_are_one_line(imported: dict[str, Path], tmp_path: Path,
                                    capsys) -> None:
    config = str(imported["config"])
    garbage = tmp_path / "garbage.pth.tar"
    garbage.write_bytes(b"not a checkpoint at all")
    wrong = tmp_path / "wrong.pth.tar"
    torch.save({"generator": {}}, wrong)
    smaller = tmp_path / "k2.yaml"
    smaller.write_text(imported["config"].read_text().replace("num_keypoints: 3",
                                                              "num_keypoints: 2"))
    cases = [
        ([str(garbage), "--config", config], f"{garbage} is not a FOMM checkpoint"),
        ([str(wrong), "--config", config], "expected the keys kp_detector and generator"),
        ([str(imported["fomm"]), "--config", str(smaller)], "does not fit --config"),
        ([str(imported["fomm"]), "--config", "vox-512"], "vox-256, taichi-256"),
        ([str(tmp_path / "absent.pth.tar"), "--config", config], "does not exist"),
        ([str(imported["fomm"]), "--config", config, "--out", str(imported["false"])],
         "already exists"),
    ]
    for args, message in cases:
        out = [] if "--out" in args else ["--out", str(tmp_path / "x.pt")]
        assert main(["import", "fomm", *args, *out]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.pt").exists()


def test_release_of_an_imported_checkpoint_says_where_it_came_from(
        imported: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "release"
    assert main(["export", str(imported["false"]), "--format", "safetensors", "--out",
                 str(folder)]) == 0
    card = (folder / "README.md").read_text()
    assert "imported with `landmarks import fomm` from `tiny-cpk.pth.tar`" in card
    assert "its epoch 99" in card and "training steps" not in card
    again = tmp_path / "again"  # the release keeps it
    assert main(["export", str(folder), "--format", "safetensors", "--out", str(again)]) == 0
    assert "`tiny-cpk.pth.tar`" in (again / "README.md").read_text()
