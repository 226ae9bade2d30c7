"""Unit tests of the evaluation protocol (landmarks.evaluation) on hand-computed values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from landmarks.evaluation import (
    LinearRegressor,
    evaluate_regression,
    fit_linear_regressor,
    format_table,
    group_means,
    inter_ocular_distance,
    iod_error,
    match_keypoints,
    normalized_point_errors,
    pck,
    pck_curve,
    sample_efficiency,
    size_error,
    size_point_errors,
    split_train_val,
    validate_points,
)

EYES = (0, 1)


def _offset_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Zero-mean keypoints (n, 3, 2) and labels (n, 3, 2) = kp @ W + c, eyes ~10 px apart."""
    rng = np.random.default_rng(seed)
    kp = rng.uniform(-1.0, 1.0, size=(n, 3, 2))
    w = rng.uniform(-0.3, 0.3, size=(6, 6))
    c = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 5.0]]).reshape(6)
    labels = (kp.reshape(n, 6) @ w + c).reshape(n, 3, 2)
    return kp, labels, w, c


def _noisy_face_problem(n: int, seed: int, noise: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints around a template (n, 4, 2) and noisy labels (n, 4, 2) in 'pixels'."""
    rng = np.random.default_rng(seed)
    template = np.array([[-0.5, -0.5], [0.5, -0.5], [0.0, 0.2], [0.0, 0.6]])
    kp = template + 0.1 * rng.standard_normal((n, 4, 2))
    w = 50.0 * np.eye(8) + rng.uniform(-2.0, 2.0, size=(8, 8))
    labels = (kp.reshape(n, 8) @ w).reshape(n, 4, 2) + noise * rng.standard_normal((n, 4, 2))
    return kp, labels


# --------------------------------------------------------------------------- regression


def test_exact_recovery_of_linear_map_without_bias() -> None:
    rng = np.random.default_rng(0)
    kp = rng.standard_normal((40, 5, 2))
    w = rng.standard_normal((10, 6))
    labels = (kp.reshape(40, 10) @ w).reshape(40, 3, 2)
    reg = fit_linear_regressor(kp, labels)
    assert reg.weights.shape == (10, 6)
    assert (reg.num_keypoints, reg.num_labels, reg.bias) == (5, 3, False)
    np.testing.assert_allclose(reg.weights, w, atol=1e-10)
    np.testing.assert_allclose(reg.predict(kp), labels, atol=1e-10)


def test_bias_recovers_offset_and_no_bias_cannot() -> None:
    kp, labels, w, c = _offset_problem(60, seed=1)
    with_bias = fit_linear_regressor(kp, labels, bias=True)
    assert with_bias.weights.shape == (7, 6)
    np.testing.assert_allclose(with_bias.weights[:6], w, atol=1e-10)
    np.testing.assert_allclose(with_bias.weights[6], c, atol=1e-10)
    err_bias, _ = iod_error(with_bias.predict(kp), labels, EYES)
    assert err_bias < 1e-8

    no_bias = fit_linear_regressor(kp, labels, bias=False)
    assert no_bias.weights.shape == (6, 6)
    err_no_bias, _ = iod_error(no_bias.predict(kp), labels, EYES)
    assert err_no_bias > 5.0  # a 5-10 px offset on a ~10 px inter-ocular distance


def test_solution_equals_normal_equations() -> None:
    rng = np.random.default_rng(2)
    kp = rng.standard_normal((50, 3, 2))
    labels = rng.standard_normal((50, 2, 2))
    x = kp.reshape(50, 6)
    y = labels.reshape(50, 4)
    w_ne = np.linalg.solve(x.T @ x, x.T @ y)
    np.testing.assert_allclose(fit_linear_regressor(kp, labels).weights, w_ne, atol=1e-10)

    x1 = np.hstack([x, np.ones((50, 1))])
    w_ne1 = np.linalg.solve(x1.T @ x1, x1.T @ y)
    np.testing.assert_allclose(
        fit_linear_regressor(kp, labels, bias=True).weights, w_ne1, atol=1e-10
    )


def test_underdetermined_fit_is_minimum_norm() -> None:
    # One image, 2K = 4 unknowns: the minimum-norm solution is x^T y / |x|^2.
    kp = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    labels = np.array([[[5.0, 6.0]]])
    reg = fit_linear_regressor(kp, labels)
    x = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(reg.weights, np.outer(x, [5.0, 6.0]) / 30.0, atol=1e-12)
    np.testing.assert_allclose(reg.predict(kp), labels, atol=1e-12)


def test_regressor_json_round_trip() -> None:
    kp, labels, _, _ = _offset_problem(20, seed=3)
    reg = fit_linear_regressor(kp, labels, bias=True)
    back = LinearRegressor.from_dict(json.loads(json.dumps(reg.to_dict())))
    assert back.bias and back.num_keypoints == 3 and back.num_labels == 3
    np.testing.assert_array_equal(back.weights, reg.weights)
    with pytest.raises(ValueError, match="weights"):
        LinearRegressor(weights=np.zeros((5, 6)), num_keypoints=3, num_labels=3)


def test_predict_rejects_wrong_number_of_keypoints() -> None:
    reg = LinearRegressor(weights=np.zeros((6, 4)), num_keypoints=3, num_labels=2)
    assert reg.predict(np.zeros((2, 3, 2))).shape == (2, 2, 2)
    with pytest.raises(ValueError, match=r"keypoints: expected shape \(N, 3, 2\), got 4 points"):
        reg.predict(np.zeros((2, 4, 2)))


def test_fit_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="mismatched lengths, 5 vs 4"):
        fit_linear_regressor(np.zeros((5, 3, 2)), np.zeros((4, 2, 2)))


def test_split_train_val_deterministic_ten_percent_disjoint() -> None:
    train, val = split_train_val(100)
    assert train.size == 90 and val.size == 10
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(100))
    train2, val2 = split_train_val(100)
    np.testing.assert_array_equal(train, train2)
    np.testing.assert_array_equal(val, val2)
    _, val_other = split_train_val(100, seed=1)
    assert not np.array_equal(val, val_other)
    assert split_train_val(7)[1].size == 1  # round(0.7) = 1
    assert split_train_val(10, val_fraction=0.0)[1].size == 0
    with pytest.raises(ValueError, match="val_fraction"):
        split_train_val(10, val_fraction=1.0)


def test_evaluate_regression_exact_map() -> None:
    kp, labels, _, _ = _offset_problem(130, seed=4)
    res = evaluate_regression(kp[:100], labels[:100], kp[100:], labels[100:], EYES, bias=True)
    assert (res.train_size, res.val_size, res.test_size) == (90, 10, 30)
    assert res.iod_error_mean < 1e-8 and res.val_iod_error < 1e-8
    assert res.iod_error_per_point.shape == (3,)
    data = json.loads(json.dumps(res.to_dict()))
    assert data["train_size"] == 90 and data["regressor"]["bias"] is True

    res_nb = evaluate_regression(kp[:100], labels[:100], kp[100:], labels[100:], EYES)
    assert res_nb.iod_error_mean > 5.0 and res_nb.val_iod_error > 5.0
    np.testing.assert_allclose(res_nb.iod_error_per_point.mean(), res_nb.iod_error_mean)


def test_evaluate_regression_names_bad_array() -> None:
    kp, labels, _, _ = _offset_problem(30, seed=5)
    with pytest.raises(ValueError, match=r"test_kp: expected shape \(N, 3, 2\), got 4 points"):
        evaluate_regression(kp, labels, np.zeros((5, 4, 2)), labels[:5], EYES)
    with pytest.raises(ValueError, match="test_kp and test_labels: mismatched lengths"):
        evaluate_regression(kp, labels, kp[:5], labels[:4], EYES)
    with pytest.raises(ValueError, match="eye_indices"):
        evaluate_regression(kp, labels, kp, labels, (0, 3))


# --------------------------------------------------------------------------- metrics


def test_iod_normalisation_hand_example() -> None:
    # Eyes 10 px apart; point 2 off by 1 px -> 10% on that point, 10/3 % overall.
    gt = np.array([[[0.0, 0.0], [10.0, 0.0], [5.0, 5.0]]])
    pred = gt.copy()
    pred[0, 2] += [0.0, 1.0]
    np.testing.assert_allclose(inter_ocular_distance(gt, EYES), [10.0])
    np.testing.assert_allclose(normalized_point_errors(pred, gt, EYES), [[0.0, 0.0, 0.1]])
    mean, per_point = iod_error(pred, gt, EYES)
    assert mean == pytest.approx(10.0 / 3.0)
    np.testing.assert_allclose(per_point, [0.0, 0.0, 10.0])


def test_per_point_errors_normalised_per_image() -> None:
    # Image 0: IOD 10, error 1 (10%) on point 2 and 2 (20%) on eye 0 moved in pred only.
    # Image 1: IOD 20, error 4 (20%) on point 2.
    gt = np.array(
        [
            [[0.0, 0.0], [10.0, 0.0], [5.0, 5.0]],
            [[0.0, 0.0], [0.0, 20.0], [5.0, 5.0]],
        ]
    )
    pred = gt.copy()
    pred[0, 2] += [1.0, 0.0]
    pred[0, 0] += [0.0, -2.0]
    pred[1, 2] += [0.0, 4.0]
    np.testing.assert_allclose(
        normalized_point_errors(pred, gt, EYES), [[0.2, 0.0, 0.1], [0.0, 0.0, 0.2]]
    )
    mean, per_point = iod_error(pred, gt, EYES)
    np.testing.assert_allclose(per_point, [10.0, 0.0, 15.0])
    assert mean == pytest.approx(50.0 / 6.0)


def test_zero_inter_ocular_distance_names_image() -> None:
    gt = np.array([[[0.0, 0.0], [10.0, 0.0]], [[3.0, 3.0], [3.0, 3.0]]])
    with pytest.raises(ValueError, match="zero inter-ocular distance.*image index 1"):
        inter_ocular_distance(gt, EYES)
    with pytest.raises(ValueError, match="gt: zero inter-ocular distance"):
        iod_error(gt, gt, EYES)


def test_pck_hand_example() -> None:
    gt = np.zeros((1, 4, 2))
    pred = np.array([[[0.0, 0.0], [3.0, 4.0], [6.0, 0.0], [0.0, 7.0]]])  # dists 0, 5, 6, 7
    overall, per_part = pck(pred, gt)  # default 6 px, inclusive
    assert overall == pytest.approx(75.0)
    np.testing.assert_allclose(per_part, [100.0, 100.0, 100.0, 0.0])
    assert pck(pred, gt, threshold=5.0)[0] == pytest.approx(50.0)
    assert pck(pred, gt, threshold=4.9)[0] == pytest.approx(25.0)


def test_pck_per_part_over_images() -> None:
    gt = np.zeros((4, 2, 2))
    pred = np.zeros((4, 2, 2))
    pred[:, 0, 0] = [1.0, 2.0, 8.0, 9.0]  # part 0 correct in 2 of 4 images at 6 px
    pred[:, 1, 1] = [7.0, 7.0, 7.0, 1.0]  # part 1 correct in 1 of 4
    overall, per_part = pck(pred, gt, threshold=6.0)
    np.testing.assert_allclose(per_part, [50.0, 25.0])
    assert overall == pytest.approx(37.5)


def test_pck_curve_hand_values_and_monotone() -> None:
    gt = np.zeros((1, 4, 2))
    pred = np.array([[[0.0, 0.0], [3.0, 4.0], [6.0, 0.0], [0.0, 7.0]]])
    np.testing.assert_allclose(
        pck_curve(pred, gt, [0.0, 5.0, 6.0, 7.0, 100.0]), [25.0, 50.0, 75.0, 100.0, 100.0]
    )
    rng = np.random.default_rng(6)
    gt_r = rng.uniform(0, 100, size=(30, 5, 2))
    pred_r = gt_r + rng.normal(0, 5, size=gt_r.shape)
    curve = pck_curve(pred_r, gt_r, np.linspace(0, 30, 31))
    assert np.all(np.diff(curve) >= 0)
    assert curve[0] == 0.0 and curve[-1] > 99.0


def _size_problem() -> tuple[np.ndarray, np.ndarray]:
    """3 images × 2 points on a 10 px side; the predictions are off by, per image and point:
    (1, 0) & (0, 1) -> 10% & 10%; (3, 0) & (0, 3) -> 30% & 30%; (6, 8) & (3.6, 4.8) -> 100% & 60%.
    """
    gt = np.arange(12, dtype=np.float64).reshape(3, 2, 2)
    off = np.array([[[1.0, 0.0], [0.0, 1.0]], [[3.0, 0.0], [0.0, 3.0]], [[6.0, 8.0], [3.6, 4.8]]])
    return gt + off, gt


def test_size_error_hand_values() -> None:
    pred, gt = _size_problem()
    np.testing.assert_allclose(size_point_errors(pred, gt, 10),
                               [[10.0, 10.0], [30.0, 30.0], [100.0, 60.0]])
    plain = size_error(pred, gt, 10.0)
    assert set(plain) == {"mean", "per_point"}  # no groups: no per-group figures
    assert plain["mean"] == pytest.approx(40.0)  # (10 + 30 + 80) / 3
    np.testing.assert_allclose(plain["per_point"], [140.0 / 3, 100.0 / 3])
    # images 0 and 1 are group "A" (image means 10 and 30), image 2 group "B" (mean 80)
    grouped = size_error(pred, gt, 10.0, groups=["A", "A", "B"])
    assert grouped["mean"] == pytest.approx(40.0)  # frames weighted: unchanged
    assert grouped["per_group"] == pytest.approx({"A": 20.0, "B": 80.0})
    assert grouped["mean_over_groups"] == pytest.approx(50.0)  # each group counts once
    assert grouped["group_frames"] == {"A": 2, "B": 1}
    # the side scales the error: the same pixels on a 20 px side are half the %
    assert size_error(pred, gt, 20.0)["mean"] == pytest.approx(20.0)
    assert size_error(pred, gt, np.float32(10.0))["mean"] == pytest.approx(40.0)
    json.dumps(grouped)  # plain Python values


def test_group_means_and_size_errors_name_bad_input() -> None:
    assert group_means(np.array([1.0, 2.0, 4.0, 8.0]), ["w", "d", "w", "d"]) == \
        pytest.approx({"d": 5.0, "w": 2.5})
    with pytest.raises(ValueError, match="2 groups for 3 images"):
        group_means(np.zeros(3), ["a", "b"])
    with pytest.raises(ValueError, match="image 1 has group ''"):
        group_means(np.zeros(2), ["a", ""])
    with pytest.raises(ValueError, match="image 0 has group None"):
        group_means(np.zeros(2), [None, "a"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"values: .*shape \(N,\).*\(2, 2\)"):
        group_means(np.zeros((2, 2)), ["a", "b"])
    with pytest.raises(ValueError, match=r"values: .*shape \(N,\).*\(0,\)"):
        group_means(np.zeros(0), [])
    with pytest.raises(ValueError, match="values: .*non-finite.*first at image 1"):
        group_means(np.array([1.0, np.nan]), ["a", "b"])
    pred, gt = _size_problem()
    for side in (0, -3.0, float("nan"), float("inf"), True, "10", None):
        with pytest.raises(ValueError, match="image_side"):
            size_point_errors(pred, gt, side)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pred: .*3 points"):
        size_error(np.zeros((3, 3, 2)), gt, 10.0)
    with pytest.raises(ValueError, match="2 groups for 3 images"):
        size_error(pred, gt, 10.0, groups=["A", "B"])


# --------------------------------------------------------------------------- validation


def test_validate_points_nan_names_array() -> None:
    bad = np.zeros((3, 5, 2))
    bad[2, 4, 1] = np.nan
    with pytest.raises(ValueError, match=r"train_labels: .*NaN.*image 2, point 4"):
        validate_points(bad, "train_labels")


def test_validate_points_wrong_number_of_points() -> None:
    with pytest.raises(ValueError, match=r"test_labels: expected shape \(N, 5, 2\), got 68 points"):
        validate_points(np.zeros((2, 68, 2)), "test_labels", expected_points=5)


def test_validate_points_wrong_ndim_and_last_axis() -> None:
    with pytest.raises(ValueError, match=r"keypoints: expected shape \(N, P, 2\), got 2 dim"):
        validate_points(np.zeros((4, 2)), "keypoints")
    with pytest.raises(ValueError, match=r"keypoints: .*\(x, y\) on the last axis"):
        validate_points(np.zeros((4, 5, 3)), "keypoints")
    out = validate_points([[[1, 2]]], "keypoints")
    assert out.dtype == np.float64 and out.shape == (1, 1, 2)


# --------------------------------------------------------------------------- matching


def test_hungarian_recovers_permutation() -> None:
    rng = np.random.default_rng(7)
    labels = rng.uniform(0, 50, size=(20, 4, 2))
    keypoints = rng.uniform(200, 300, size=(20, 6, 2))  # distractors far away
    perm = np.array([3, 0, 5, 1])
    keypoints[:, perm] = labels
    res = match_keypoints(keypoints, labels, eye_indices=EYES)
    np.testing.assert_array_equal(res.assignment, perm)
    assert res.cost.shape == (4, 6)
    assert res.mean_error == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(res.per_label_error, 0.0, atol=1e-12)
    assert res.iod_error_mean == pytest.approx(0.0, abs=1e-12)


def test_hungarian_cost_is_mean_distance() -> None:
    labels = np.array([[[0.0, 0.0]], [[0.0, 0.0]]])  # L = 1
    keypoints = np.array([[[3.0, 4.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 3.0]]])  # K = 2
    res = match_keypoints(keypoints, labels)
    np.testing.assert_allclose(res.cost, [[3.0, 2.0]])  # (5+1)/2, (1+3)/2
    assert res.assignment.tolist() == [1]
    assert res.mean_error == pytest.approx(2.0)
    assert res.iod_error_mean is None


def test_hungarian_rejects_fewer_keypoints_than_labels() -> None:
    with pytest.raises(ValueError, match="K=3 keypoints for L=5 labels"):
        match_keypoints(np.zeros((2, 3, 2)), np.zeros((2, 5, 2)))


# --------------------------------------------------------------------------- sample efficiency


def test_sample_efficiency_rows_and_trend() -> None:
    kp, labels = _noisy_face_problem(400, seed=8)
    rows = sample_efficiency(kp[:300], labels[:300], kp[300:], labels[300:], EYES, draws=10)
    assert [r["n"] for r in rows] == [1, 5, 10, 100, 300]  # 500+ skipped, "all" = 300
    for r in rows:
        assert set(r) == {"n", "mean", "std", "draws"}
        assert isinstance(r["n"], int) and isinstance(r["draws"], int)
    assert [r["draws"] for r in rows] == [10, 10, 10, 10, 1]
    assert rows[-1]["std"] == 0.0
    assert rows[0]["std"] > 0.0
    means = [r["mean"] for r in rows]
    assert means[0] > means[2] > means[-1]  # n = 1 > n = 10 > all
    assert means[-1] < 2.0  # 0.5 px noise on ~50 px inter-ocular distance

    table = format_table(rows)
    assert len(table.splitlines()) == 2 + len(rows)
    assert "draws" in table and "300" in table.splitlines()[-1]


def test_sample_efficiency_deterministic_under_seed() -> None:
    kp, labels = _noisy_face_problem(120, seed=9)
    args = (kp[:100], labels[:100], kp[100:], labels[100:], EYES)
    a = sample_efficiency(*args, sizes=(1, 10, None), draws=10, seed=3)
    b = sample_efficiency(*args, sizes=(1, 10, None), draws=10, seed=3)
    c = sample_efficiency(*args, sizes=(1, 10, None), draws=10, seed=4)
    assert a == b
    assert a[0]["mean"] != c[0]["mean"]
    # A row does not depend on which other sizes were requested.
    assert sample_efficiency(*args, sizes=(10,), draws=10, seed=3)[0] == a[1]


def test_sample_efficiency_rejects_bad_sizes() -> None:
    kp, labels = _noisy_face_problem(20, seed=10)
    with pytest.raises(ValueError, match="sizes"):
        sample_efficiency(kp, labels, kp, labels, EYES, sizes=(0,))
    with pytest.raises(ValueError, match="draws"):
        sample_efficiency(kp, labels, kp, labels, EYES, draws=0)


def test_sample_efficiency_in_percent_of_image_side() -> None:
    # labels = 2 * keypoints exactly on train (the fit recovers W = 2 I); the test labels are off
    # by (3, 4) px, a 5 px error on every point: 100 * 5 / 20 = 25% of a 20 px side
    rng = np.random.default_rng(11)
    kp = rng.uniform(0.0, 10.0, size=(12, 2, 2))
    test_kp = rng.uniform(0.0, 10.0, size=(3, 2, 2))
    rows = sample_efficiency(kp, 2.0 * kp, test_kp, 2.0 * test_kp + [3.0, 4.0], sizes=(None,),
                             image_side=20)
    assert len(rows) == 1 and rows[0]["n"] == 12 and rows[0]["draws"] == 1
    assert rows[0]["mean"] == pytest.approx(25.0, abs=1e-9) and rows[0]["std"] == 0.0
    # the IOD path is unchanged by the new argument
    assert sample_efficiency(kp, 2.0 * kp, test_kp, 2.0 * test_kp, EYES, sizes=(None,))[0][
        "mean"] == pytest.approx(0.0, abs=1e-9)
    assert "error (% side)" in format_table(rows, error_label="error (% side)").splitlines()[0]


def test_sample_efficiency_needs_exactly_one_normaliser() -> None:
    kp, labels = _noisy_face_problem(20, seed=12)
    with pytest.raises(ValueError, match="exactly one normaliser"):
        sample_efficiency(kp, labels, kp, labels)
    with pytest.raises(ValueError, match="exactly one normaliser"):
        sample_efficiency(kp, labels, kp, labels, EYES, image_side=64)
    with pytest.raises(ValueError, match="image_side"):
        sample_efficiency(kp, labels, kp, labels, image_side=0)


def test_sample_efficiency_checks_image_side_like_the_metrics() -> None:
    # one shared check (metrics.check_image_side): the same values are refused, with the same
    # message, and NumPy numbers are accepted by both
    from landmarks.evaluation.metrics import check_image_side

    kp, labels = _noisy_face_problem(20, seed=13)
    for side in (0, -3.0, float("nan"), float("inf"), True, np.bool_(True), "10"):
        with pytest.raises(ValueError) as shared:
            check_image_side(side)  # type: ignore[arg-type]
        with pytest.raises(ValueError) as used:
            sample_efficiency(kp, labels, kp, labels, image_side=side, sizes=(None,))
        assert str(used.value) == str(shared.value) and "image_side" in str(used.value)
    assert check_image_side(np.int64(64)) == 64.0
    a = sample_efficiency(kp, labels, kp, labels, image_side=np.int64(64), sizes=(None,))
    b = sample_efficiency(kp, labels, kp, labels, image_side=64.0, sizes=(None,))
    assert a == b
