"""Write tests/data/fomm_reference.npz from FOMM's own code (run once by hand, not in CI).

The official first-order-model (commit c027484) is read from a folder holding its ``modules/``
and ``sync_batchnorm/`` (never part of this repository), e.g.::

    git --git-dir=FOMM.git archive c027484 modules sync_batchnorm | tar x -C /tmp/fomm_official
    PYTHONPATH=src python tests/make_fomm_reference.py /tmp/fomm_official

It builds FOMM's ``KPDetector`` and ``OcclusionAwareGenerator`` at a small size (K=3, 48 px,
hourglasses of 2 and 3 blocks of 4–16 channels, the detector at 1/4 scale and the dense motion
at 1/2 so that the generator resizes the deformation and the occlusion map), gives every weight,
BatchNorm statistic and the Jacobian head random values, and runs them in eval mode on random
source and driving frames; the outputs are written twice, with ``grid_sample`` as FOMM's code
runs today (``align_corners=False``, keys ``false/…``) and as on torch 1.0, where its
checkpoints were trained (``align_corners=True``, keys ``true/…``: only the outputs that
sampling changes, to keep the file small). The file holds the state
dicts (``kp_detector/<key>``, ``generator/<key>``), the inputs, the expected outputs and the
settings (``config``, JSON). tests/test_fomm.py compares the ``fomm`` model with it.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

#: FOMM's constructor arguments for the fixture (``model_params`` of its YAML, reduced)
COMMON = {"num_kp": 3, "num_channels": 3, "estimate_jacobian": True}
DETECTOR = {"temperature": 0.1, "block_expansion": 4, "max_features": 16, "scale_factor": 0.25,
            "num_blocks": 2}
GENERATOR = {"block_expansion": 4, "max_features": 16, "num_down_blocks": 2,
             "num_bottleneck_blocks": 2, "estimate_occlusion_map": True,
             "dense_motion_params": {"block_expansion": 4, "max_features": 16, "num_blocks": 3,
                                     "scale_factor": 0.5}}
SIZE, BATCH = 48, 2
#: the outputs that depend on grid_sample's convention
SAMPLED = ("deformation", "occlusion_map", "mask", "sparse_deformed", "deformed", "prediction")
OUT = Path(__file__).parent / "data" / "fomm_reference.npz"


def randomise(module: torch.nn.Module, g: torch.Generator) -> None:
    """Random BatchNorm affine parameters and statistics, a random Jacobian head near the
    identity; convolutions keep their (seeded) default initialisation."""
    with torch.no_grad():
        for name, m in module.named_modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.2 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=g))
            elif name == "jacobian":
                m.weight.copy_(0.02 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(m.bias.numel() // 4)
                             + 0.1 * torch.randn(m.bias.numel(), generator=g))


def run(kp_detector: torch.nn.Module, generator: torch.nn.Module, source: torch.Tensor,
        driving: torch.Tensor) -> dict[str, np.ndarray]:
    with torch.no_grad():
        kp_source = kp_detector(source)
        kp_driving = kp_detector(driving)
        out = generator(source, kp_driving=kp_driving, kp_source=kp_source)
        # the generator does not return the deformation: its dense-motion network does
        motion = generator.dense_motion_network(source_image=source, kp_driving=kp_driving,
                                                kp_source=kp_source)
        out["deformation"] = motion["deformation"]
    found = {"source_value": kp_source["value"], "source_jacobian": kp_source["jacobian"],
             "driving_value": kp_driving["value"], "driving_jacobian": kp_driving["jacobian"],
             **{k: out[k] for k in ("deformation", "occlusion_map", "mask", "sparse_deformed",
                                    "deformed", "prediction")}}
    return {k: v.numpy() for k, v in found.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("official", help="folder holding FOMM's modules/ and sync_batchnorm/")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    sys.path.insert(0, str(Path(args.official).resolve()))
    kp_module = importlib.import_module("modules.keypoint_detector")
    gen_module = importlib.import_module("modules.generator")
    torch.manual_seed(0)
    kp_detector = kp_module.KPDetector(**DETECTOR, **COMMON).eval()
    generator = gen_module.OcclusionAwareGenerator(**GENERATOR, **COMMON).eval()
    g = torch.Generator().manual_seed(1)
    randomise(kp_detector, g)
    randomise(generator, g)
    # smooth random frames (noise blurred), so that sampling positions matter
    frames = F.avg_pool2d(torch.rand(2 * BATCH, 3, SIZE + 6, SIZE + 6, generator=g), 7, 1)
    source, driving = frames[:BATCH].contiguous(), frames[BATCH:].contiguous()
    arrays: dict[str, np.ndarray] = {"source": source.numpy(), "driving": driving.numpy()}
    for prefix, module in (("kp_detector", kp_detector), ("generator", generator)):
        arrays.update({f"{prefix}/{k}": v.numpy() for k, v in module.state_dict().items()})
    arrays.update({f"false/{k}": v for k, v in run(kp_detector, generator, source,
                                                  driving).items()})
    plain = F.grid_sample
    F.grid_sample = functools.partial(plain, align_corners=True)  # torch 1.0's convention
    try:
        arrays.update({f"true/{k}": v for k, v in run(kp_detector, generator, source,
                                                     driving).items() if k in SAMPLED})
    finally:
        F.grid_sample = plain
    config = {"common_params": COMMON, "kp_detector_params": DETECTOR,
              "generator_params": GENERATOR, "size": SIZE, "fomm_commit": "c027484",
              "torch": torch.__version__}
    arrays["config"] = np.array(json.dumps(config))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    print(f"{out}: {out.stat().st_size} bytes, {len(arrays)} arrays")


if __name__ == "__main__":
    main()
