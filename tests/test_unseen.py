"""Issue 14: the unseen-people headline, validation held out by identity, and the refusal to
score a checkpoint whose training data held test people."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fake_detector import DetectorLike
from fixtures import write_realfaces_root
from landmarks.cli import main
from landmarks.config import load_config, to_dict
from landmarks.data.realfaces import load_manifest, load_split_images
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.evaluation.formatting import format_results
from landmarks.evaluation.identity import (
    TestIdentityError,
    realfaces_validation_groups,
    training_overlap,
    training_root_without,
)
from landmarks.evaluation.run import evaluate_checkpoint
from landmarks.geometry.coords import pixels_to_normalized
from landmarks.inference import Detector
from landmarks.models import create_model

TINY = {"num_keypoints": 5, "image_size": 32, "width": 8, "render_channels": 32,
        "min_render_channels": 8}


def _checkpoint(path: Path, data_root: str) -> Path:
    cfg = load_config(None, [*(f"model.{k}={v}" for k, v in TINY.items()),
                             f"data.root={data_root}"])
    model = create_model("imm", **TINY)
    return save_checkpoint(path, {"model": model.state_dict(), "step": 0,
                                  "config": to_dict(cfg)})


def _regroup(root: Path, groups: dict[str, str]) -> None:
    """Give frames (by id) new identity groups in the manifest."""
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    for fid, group in groups.items():
        data["frames"][fid]["group"] = group
    path.write_text(json.dumps(data))


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return write_realfaces_root(tmp_path / "rf", n_labelled=16, n_test=4, n_stills=2,
                                crop_size=32)


class _Oracle(DetectorLike):
    """Each crop's 5 labels, reversed; on the unseen people's crops moved ``offset`` px along
    the direction in which the fixture's faces move from frame to frame (so the move lies in
    what the regressor has seen): after the regressor undoes the order, the seen faces score 0
    and the unseen ones ``offset`` / IOD."""

    def __init__(self, root: Path, offset: float) -> None:
        manifest = load_manifest(root)
        self.crop_size = int(manifest.crop_size)
        self.table: dict[bytes, torch.Tensor] = {}
        for name in ("train_labelled", "test"):
            frames = manifest.split(name)
            for im, f in zip(load_split_images(frames, self.crop_size), frames, strict=True):
                shift = offset if (name == "test" and not f.person_in_train) else 0.0
                pts = torch.tensor(f.mafl5, dtype=torch.float64).flip(0)
                pts += shift * torch.tensor([2.0, -1.0], dtype=torch.float64) / 5 ** 0.5
                self.table[self._hash(im)] = pts
        self.image_size, self.num_keypoints, self.training_root = self.crop_size, 5, ""

    @staticmethod
    def _hash(im: torch.Tensor) -> bytes:
        return hashlib.sha1(im.contiguous().numpy().tobytes()).digest()

    def detect_tensor(self, images: torch.Tensor) -> torch.Tensor:
        px = torch.stack([self.table[self._hash(im)] for im in images])
        return pixels_to_normalized(px, (self.crop_size, self.crop_size)).float()


def test_unseen_and_seen_figures_have_known_values(root: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    offset = 0.8
    oracle = _Oracle(root, offset)
    monkeypatch.setattr(Detector, "from_checkpoint",
                        classmethod(lambda cls, path, device="auto": oracle))
    res = evaluate_checkpoint(_checkpoint(tmp_path / "c.pt", ""), "realfaces", root,
                              device="cpu", draws=2)
    test = load_manifest(root).split("test")
    unseen = [f for f in test if not f.person_in_train]
    labels = np.stack([f.mafl5 for f in unseen])
    iod = np.linalg.norm(labels[:, 0] - labels[:, 1], axis=-1)
    assert res["iod_error_unseen"]["frames"] == len(unseen) == 2
    assert res["iod_error_seen"]["frames"] == len(test) - 2 == 4
    assert res["iod_error_unseen"]["mean"] == pytest.approx(100 * offset * np.mean(1 / iod),
                                                            rel=1e-4)
    assert res["iod_error_seen"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert res["identity_check"]["checked"] is False  # no training root recorded
    text = format_results(res)
    first = text.index("PEOPLE NEVER SEEN IN TRAINING")
    assert first < text.index("the person also seen in training") < text.index(
        "IOD error on the test split")


def test_validation_holds_out_whole_people(root: Path, tmp_path: Path) -> None:
    manifest = load_manifest(root)
    labelled = [f.id for f in manifest.split("train_labelled")]
    # four more people beside personA (whose later frames are the seen-person test)
    _regroup(root, {fid: f"p{i % 4}" for i, fid in enumerate(labelled[2:])})
    groups, held = realfaces_validation_groups(load_manifest(root))
    assert held and "personA" not in held
    res = evaluate_checkpoint(_checkpoint(tmp_path / "c.pt", ""), "realfaces", root,
                              device="cpu", draws=2)
    split = res["val_split"]
    assert split["by"] == "identity" and split["groups"] == held
    assert split["frames"] == sum(g in held for g in groups)


def test_refuses_a_checkpoint_trained_on_test_frames(root: Path, tmp_path: Path) -> None:
    # a copy of the benchmark's frames under another name still holds the test faces
    leaked = tmp_path / "mytraining"
    for f in (root / "frames").rglob("*.png"):
        dest = leaked / f.relative_to(root / "frames").as_posix().replace("/", "_")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(f.read_bytes())
    ckpt = _checkpoint(tmp_path / "leak.pt", str(leaked))
    with pytest.raises(TestIdentityError, match=r"mytraining.*personA") as err:
        evaluate_checkpoint(ckpt, "realfaces", root, device="cpu", draws=2)
    assert "--allow-test-identities" in str(err.value)
    res = evaluate_checkpoint(ckpt, "realfaces", root, device="cpu", draws=2,
                              allow_test_identities=True)
    check = res["identity_check"]
    assert check["allowed"] and check["test_frames_in_training"] == 6
    assert "WARNING" in format_results(res)
    # the CLI: refused with one line naming the folder, allowed and recorded with the flag
    out = tmp_path / "e.json"
    args = ["eval", str(ckpt), "--dataset", "realfaces", "--root", str(root), "--out", str(out),
            "--device", "cpu", "--draws", "2"]
    assert main(args) != 0 and not out.exists()
    assert main([*args, "--allow-test-identities"]) == 0
    assert json.loads(out.read_text())["identity_check"]["allowed"] is True


def test_training_on_the_train_folder_passes_the_check(root: Path, tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path / "ok.pt", str(root / "frames" / "train"))
    res = evaluate_checkpoint(ckpt, "realfaces", root, device="cpu", draws=2)
    assert res["identity_check"]["checked"] is True
    assert res["identity_check"]["test_frames_in_training"] == 0


def test_training_root_without_leaves_out_whole_folders(root: Path, tmp_path: Path) -> None:
    manifest = load_manifest(root)
    without = training_root_without(manifest, ["personA"], tmp_path / "sel")
    assert list(without.iterdir()) == []  # every training folder is personA's
    kept = training_root_without(manifest, ["nobody"], tmp_path / "sel")
    assert [p.name for p in kept.iterdir()] == ["clipA"]
    test = manifest.split("test")
    assert training_overlap(kept, [f.image for f in test], [f.group for f in test]) == []
    (tmp_path / "sel" / "mine.txt").write_text("not a link")
    with pytest.raises(ValueError, match="mine.txt"):
        training_root_without(manifest, [], tmp_path / "sel")


def test_report_table_leads_with_unseen_people() -> None:
    from landmarks.report.evaluation import _error_table

    ev = {"metric": "iod", "num_keypoints": 10, "point_names": ["a", "b"],
          "iod_error": {"mean": 9.0, "per_point": [8.0, 10.0]}, "val_iod_error": 11.0,
          "val_split": {"by": "identity", "groups": ["x", "y"], "frames": 30},
          "iod_error_unseen": {"mean": 12.5, "frames": 156, "mean_shape": 23.0},
          "iod_error_seen": {"mean": 6.25, "frames": 72, "mean_shape": 25.0}}
    html = _error_table(ev)
    assert html.index("never seen in training") < html.index("also seen in training") < \
        html.index("all test faces") < html.index("2 people held out")
    assert "12.5" in html and "6.25" in html
