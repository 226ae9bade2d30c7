"""Run by ``torchrun`` in tests/test_engine.py: trains a config (4 steps, or ``train.steps=``
among the extra overrides) and saves this rank's final weights so the test can check that
all ranks agree.

    ddp_worker.py CONFIG DATA_ROOT RUN_DIR OUT [OVERRIDE ...]
"""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from landmarks.config import load_config
from landmarks.engine.trainer import train

if __name__ == "__main__":
    config, data_root, run_dir, out, *extra = sys.argv[1:]
    cfg = load_config(config, [f"data.root={data_root}", "train.steps=4", "train.device=cpu",
                               *extra])
    result = train(cfg, run_dir)
    rank = dist.get_rank() if dist.is_initialized() else 0
    torch.save(result.model.state_dict(), Path(out) / f"rank{rank}.pt")
    if dist.is_initialized():
        dist.destroy_process_group()
