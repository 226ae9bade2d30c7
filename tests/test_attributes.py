"""Attributes from landmarks: the CelebA attribute file reader (format-exact fixture), the
logistic-regression classifier and the accuracy table on hand values, the attributes derived
from 68 points, and ``landmarks eval --dataset celeba_attributes`` end to end."""

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import expit

from fixtures_faces import write_celeba_fixture
from landmarks.config import load_config, to_dict
from landmarks.data.celeba_attributes import (
    SHAPE_ATTRIBUTES,
    attribute_split,
    read_attributes_file,
)
from landmarks.data.transforms import DatasetError
from landmarks.engine.checkpoint import save_checkpoint
from landmarks.engine.trainer import build_model
from landmarks.evaluation.attributes import (
    attribute_accuracy,
    fit_logistic,
    realfaces_attribute_labels,
)
from landmarks.evaluation.formatting import format_results
from landmarks.evaluation.run import available_benchmarks, evaluate_checkpoint

ROOT = Path(__file__).resolve().parents[1]

#: CelebA's 40 attribute names, in the file's order.
NAMES = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
         "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
         "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
         "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
         "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
         "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
         "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young"]


def write_attributes(root: Path, values: np.ndarray, names: list[str] | None = None) -> Path:
    """``Anno/list_attr_celeba.txt`` as distributed: the count, the 40 names (a trailing
    space), then ``NNNNNN.jpg`` and the values right-aligned in 2 characters, one space apart."""
    names = names or [f"{i + 1:06d}.jpg" for i in range(len(values))]
    rows = [str(len(values)), " ".join(NAMES) + " "]
    rows += [name + " " + " ".join(f"{int(v):2d}" for v in row)
             for name, row in zip(names, values, strict=True)]
    path = root / "Anno" / "list_attr_celeba.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


def test_reader_parses_the_real_format(tmp_path: Path) -> None:
    values = np.where(np.random.default_rng(0).random((3, 40)) > 0.5, 1, -1)
    path = write_attributes(tmp_path, values)
    assert path.read_text().splitlines()[2].startswith("000001.jpg " + f"{values[0, 0]:2d}")
    attrs = read_attributes_file(path)
    assert attrs.names == NAMES and attrs.files == ["000001.jpg", "000002.jpg", "000003.jpg"]
    assert attrs.values.dtype == np.int8 and np.array_equal(attrs.values, values)
    assert np.array_equal(attrs.column("Smiling"), values[:, NAMES.index("Smiling")])
    assert np.array_equal(attrs.select(["000003.jpg", "000001.jpg"]), values[[2, 0]])
    assert set(SHAPE_ATTRIBUTES) <= set(NAMES) and len(SHAPE_ATTRIBUTES) == 13


@pytest.mark.parametrize("edit, match", [
    (lambda ls: ["4", *ls[1:]], "line 1 says 4 images, the file has 3 rows"),
    (lambda ls: ["three", *ls[1:]], "line 1: expected the number of images"),
    (lambda ls: [ls[0], " ".join(NAMES[:39]), *ls[2:]], "line 2: expected 40 attribute names"),
    (lambda ls: [*ls[:3], ls[3].replace(" -1", "  0", 1).replace("  1", "  0", 1), ls[4]],
     "line 4: values must be 1 or -1"),
    (lambda ls: [*ls[:4], ls[4].rsplit(" ", 1)[0]], "line 5: expected an image name and 40"),
    (lambda ls: [*ls[:4], ls[2]], "line 5: image 000001.jpg appears twice"),
])
def test_reader_names_the_bad_line(tmp_path: Path, edit, match: str) -> None:
    values = np.where(np.arange(120).reshape(3, 40) % 3 == 0, 1, -1)
    path = write_attributes(tmp_path, values)
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    with pytest.raises(DatasetError, match=match):
        read_attributes_file(path)
    with pytest.raises(DatasetError, match="missing"):
        read_attributes_file(tmp_path / "nope.txt")


def test_logistic_regression_on_hand_values() -> None:
    # symmetric 1-D data: the bias is 0 by symmetry; the fit satisfies the optimality
    # condition w = c Σ s_i z_i σ(-s_i z_i w) of the L2 objective
    x = np.array([[-2.0], [-1.0], [1.0], [2.0], [-0.5], [0.5]])
    y = np.array([0, 0, 1, 1, 1, 0])
    clf = fit_logistic(x, y)
    assert clf.mean[0] == 0 and clf.scale[0] == pytest.approx(x.std())
    assert abs(clf.bias) < 1e-6 and clf.weight[0] > 0
    z, s = x[:, 0] / x.std(), np.where(y > 0, 1.0, -1.0)
    w = clf.weight[0]
    assert w == pytest.approx((s * z * expit(-s * z * w)).sum(), rel=1e-5)
    assert clf.predict(x).tolist() == [False, False, True, True, False, True]
    # ±1 labels are the same problem; one class only gives a constant classifier
    assert fit_logistic(x, np.where(y > 0, 1, -1)).weight[0] == pytest.approx(w)
    const = fit_logistic(x, np.ones(6))
    assert const.predict(np.array([[-100.0]])).tolist() == [True]


def test_attribute_accuracy_with_majority_floor() -> None:
    train_x = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    train_y = np.array([[-1, 1], [-1, 1], [1, 1], [1, -1]])  # A: x > 0; B: mostly 1
    test_x = np.array([[-3.0], [3.0], [0.5], [-0.5]])
    test_y = np.array([[-1, 1], [1, 1], [1, -1], [1, 1]])
    out = attribute_accuracy(train_x, train_y, test_x, test_y, ["A", "B"])
    a, b = out["per_attribute"]["A"], out["per_attribute"]["B"]
    assert a["accuracy"] == 75.0  # wrong only on -0.5 (labelled 1)
    assert a["majority"] == 75.0  # train A is 2:2 → majority "positive" (ties → True)
    assert a["positive_rate"] == 75.0
    assert b["majority"] == 75.0 and b["positive_rate"] == 75.0
    assert out["mean"] == pytest.approx((a["accuracy"] + b["accuracy"]) / 2)
    assert out["mean_majority"] == 75.0


def test_realfaces_derived_attributes_on_hand_points() -> None:
    p = np.zeros((2, 68, 2))
    p[:, 36], p[:, 45] = (0, 0), (100, 0)  # outer eye corners: distance 100
    p[:, 48], p[:, 54] = (20, 80), (80, 80)  # mouth 60 wide: not wide (0.6 < 0.65)
    p[:, 62], p[:, 66] = (50, 75), (50, 76)  # closed
    p[:, 30] = (50, 40)  # nose on the eyes' midpoint
    p[1, 66] = (50, 90)  # open: 15 > 10
    p[1, 30] = (65, 40)  # turned: 15 > 10
    p[1, 54] = (90, 80)  # 70 wide
    labels = realfaces_attribute_labels(p)
    assert labels["mouth_open"].tolist() == [False, True]
    assert labels["head_turned"].tolist() == [False, True]
    assert labels["mouth_wide"].tolist() == [False, True]


def test_eval_celeba_attributes_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "celeba"
    info = write_celeba_fixture(root, n=20, partition=[0] * 12 + [1] * 2 + [2] * 6)
    rng = np.random.default_rng(1)
    values = np.where(rng.random((20, 40)) > 0.5, 1, -1)
    write_attributes(root, values, info["names"])
    files, train_values, names = attribute_split(root, "train")
    assert files == info["names"][:12] and np.array_equal(train_values, values[:12])
    cfg = load_config(ROOT / "configs" / "smoke.yaml", ["model.name=zhang"])
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "z.pt", {"model": build_model(cfg).state_dict(),
                                               "step": 0, "config": to_dict(cfg)})
    assert "celeba_attributes" in available_benchmarks()
    results = evaluate_checkpoint(ckpt, "celeba_attributes", root, device="cpu")
    acc = results["attribute_accuracy"]
    assert list(acc["per_attribute"]) == list(SHAPE_ATTRIBUTES)
    assert results["sizes"] == {"train": 12, "test": 6}
    smiling = values[14:, NAMES.index("Smiling")] > 0
    assert acc["per_attribute"]["Smiling"]["positive_rate"] == pytest.approx(100 * smiling.mean())
    assert 0 <= acc["mean"] <= 100
    text = format_results(results)
    assert "Mouth_Slightly_Open" in text and "83.2%" in text


def test_eval_realfaces_attributes_end_to_end(tmp_path: Path) -> None:
    from fixtures import write_realfaces_root
    from landmarks.data.realfaces import load_manifest

    root = write_realfaces_root(tmp_path / "rf", n_labelled=6, n_test=3, crop_size=32)
    cfg = load_config(ROOT / "configs" / "smoke.yaml", ["model.name=zhang"])
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "z.pt", {"model": build_model(cfg).state_dict(),
                                               "step": 0, "config": to_dict(cfg)})
    results = evaluate_checkpoint(ckpt, "realfaces_attributes", root, device="cpu")
    manifest = load_manifest(root)
    test = manifest.split("test")
    want = realfaces_attribute_labels(np.stack([f.landmarks68 for f in test]))
    acc = results["attribute_accuracy"]["per_attribute"]
    assert set(acc) == {"mouth_open", "mouth_wide", "head_turned"}
    assert results["sizes"] == {"train": 6, "test": len(test)}
    for name, labels in want.items():
        assert acc[name]["positive_rate"] == pytest.approx(100 * labels.mean())
    assert "pseudo labels" in results["labels_note"]
    assert "mouth_open: inner-lip gap" in format_results(results)
