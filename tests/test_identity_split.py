"""Validation held out by identity: whole people, never on both sides (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest

from landmarks.evaluation import evaluate_regression, split_train_val_by_group
from landmarks.evaluation.protocol import IodMetric

GROUPS = (["woman"] * 100 + ["man"] * 24 + ["franck"] * 240 + ["cap"] * 105
          + [f"photo{i}" for i in range(20) for _ in range(3)] + ["party"] * 10)


def test_no_group_on_both_sides_and_deterministic():
    fit, val = split_train_val_by_group(GROUPS, 0.2, seed=0)
    fit_groups = {GROUPS[i] for i in fit}
    val_groups = {GROUPS[i] for i in val}
    assert not fit_groups & val_groups
    assert sorted(np.concatenate([fit, val]).tolist()) == list(range(len(GROUPS)))
    assert 0.2 * len(GROUPS) <= len(val) <= 0.3 * len(GROUPS)
    again = split_train_val_by_group(GROUPS, 0.2, seed=0)
    assert np.array_equal(fit, again[0]) and np.array_equal(val, again[1])
    other = split_train_val_by_group(GROUPS, 0.2, seed=3)
    assert not np.array_equal(val, other[1])


def test_keep_groups_stay_in_fit_and_huge_groups_are_not_swallowed():
    for seed in range(10):
        fit, val = split_train_val_by_group(GROUPS, 0.2, seed=seed, keep=["woman"])
        assert "woman" not in {GROUPS[i] for i in val}
        assert "franck" not in {GROUPS[i] for i in val}  # 240 > 1.5 × 20% of 539
    with pytest.raises(ValueError, match="identity groups"):
        split_train_val_by_group(["a"] * 5, 0.2)


def test_regression_validation_scores_held_out_people():
    # each person: one look (keypoints) and one face (labels), each image a near copy of them.
    # A random image split leaves copies of every validation person in the fit, which the
    # regressor memorises; holding out whole people scores it on faces it has not seen.
    rng = np.random.default_rng(0)
    people, per = 8, 5
    looks, faces = rng.normal(size=(people, 20, 2)), rng.normal(size=(people, 5, 2)) * 10
    kp = np.repeat(looks, per, axis=0) + 0.01 * rng.normal(size=(people * per, 20, 2))
    labels = np.repeat(faces, per, axis=0)
    groups = [f"p{i // per}" for i in range(people * per)]
    by_image = evaluate_regression(kp, labels, kp, labels, (0, 1), val_fraction=0.2)
    by_person = evaluate_regression(kp, labels, kp, labels, (0, 1), val_fraction=0.2,
                                    train_groups=groups)
    assert len(by_person.val_groups) >= 1 and by_person.val_size % per == 0
    assert by_person.val_iod_error > 3 * by_image.val_iod_error
    with pytest.raises(ValueError, match="one group per training image"):
        evaluate_regression(kp, labels, kp, labels, (0, 1), train_groups=groups[:5])


def test_iod_metric_records_the_identity_split():
    rng = np.random.default_rng(1)
    kp = rng.normal(size=(30, 5, 2))
    groups = [f"p{i // 3}" for i in range(30)]
    scored = IodMetric((0, 1)).score(kp, kp, kp, kp, draws=1, train_groups=groups)
    split = scored.entries["val_split"]
    assert split["by"] == "identity" and split["frames"] == scored.fit_sizes["regression_val"]
    assert 6 <= split["frames"] <= 9 and all(g in groups for g in split["groups"])
    plain = IodMetric((0, 1)).score(kp, kp, kp, kp, draws=1)
    assert plain.entries["val_split"] == {"by": "image", "frames": 3}
