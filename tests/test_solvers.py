"""The training loops and their pieces, on NumPy, against independent float64 references.

The objective here is written out in plain NumPy (not :func:`softmaxreg.loss_and_grad`),
so each solver is checked on its own: where it ends, how it stops, what it reports.
These tests were written to kill the mutants that ``mutmut`` left alive in
``softmaxreg/solvers.py`` (docs/property-tests.md, "Mutation testing").
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

from softmaxreg import optim
from softmaxreg import solvers as S


def _reference(X, y, W, b, l2):
    """Mean cross-entropy + l2/2 |W|^2 and its gradient, float64, written independently."""
    Z = X @ W + b
    Z = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    n = X.shape[0]
    loss = -np.log(P[np.arange(n), y]).mean() + l2 / 2 * np.sum(W * W)
    G = P.copy()
    G[np.arange(n), y] -= 1
    return loss, X.T @ G / n + l2 * W, G.sum(axis=0) / n


def _problem(seed=0, n=60, d=3, C=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, C, size=n)
    X += np.eye(C, d)[y]
    return X, y


def _objective(X, y, *, l2=0.1, fit_intercept=True, calls=None):
    """An Objective over the plain-NumPy reference; ``calls`` records each evaluation."""
    n, d = X.shape
    C = int(y.max()) + 1

    def evaluate(W, b, rows):
        if calls is not None:
            calls.append(rows)
        if rows is None:
            return _reference(X, y, W, b, l2)
        return _reference(X[rows], y[rows], W, b, l2)

    def batches(rng, batch_size):
        if batch_size is None or batch_size >= n:
            return [None]
        order = rng.permutation(n) if rng is not None else np.arange(n)
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]

    return S.Objective(evaluate, batches, d, C, fit_intercept, np)


def _flat_reference(X, y, l2, fit_intercept=True):
    d, C = X.shape[1], int(y.max()) + 1

    def fun(theta):
        W, b = theta[: d * C].reshape(d, C), theta[d * C :]
        loss, dW, db = _reference(X, y, W, b, l2)
        return loss, np.concatenate([dW.ravel(), db if fit_intercept else 0 * db])

    return fun


# --------------------------------------------------------------------------- pieces


def test_host_scalars_returns_python_floats_in_order():
    one = S.host_scalars(np, np.float64(2.5))
    many = S.host_scalars(np, np.asarray(1.0), np.asarray([2.0]), np.asarray(-3.5))
    assert one == [2.5] and type(one[0]) is float
    assert many == [1.0, 2.0, -3.5] and all(type(v) is float for v in many)


def test_objective_pack_unpack_and_gradient_layout():
    X, y = _problem()
    obj = _objective(X, y)
    d, C = 3, 3
    assert obj.size == (d + 1) * C
    theta = np.arange(obj.size, dtype=float)
    W, b = obj.unpack(theta)
    np.testing.assert_array_equal(W, theta[: d * C].reshape(d, C))
    np.testing.assert_array_equal(b, theta[d * C :])
    np.testing.assert_array_equal(obj.pack(W, b), theta)
    theta = np.random.default_rng(1).normal(size=obj.size) / 3
    f, g = obj(theta)
    f_ref, g_ref = _flat_reference(X, y, 0.1)(theta)
    np.testing.assert_allclose(f, f_ref, rtol=1e-14)
    np.testing.assert_allclose(g, g_ref, rtol=1e-14)


def test_objective_without_intercept_has_zero_bias_gradient():
    X, y = _problem()
    obj = _objective(X, y, fit_intercept=False)
    theta = np.random.default_rng(2).normal(size=obj.size)
    W, b = obj.unpack(theta)
    loss, dW, db = obj.grads(W, b)
    ref = _reference(X, y, W, b, 0.1)
    np.testing.assert_allclose(loss, ref[0], rtol=1e-14)
    np.testing.assert_allclose(dW, ref[1], rtol=1e-14)
    np.testing.assert_array_equal(db, np.zeros(3))
    assert np.abs(ref[2]).max() > 1e-3  # the reference bias gradient is not zero here


def test_objective_uses_its_flat_callable_when_given():
    X, y = _problem()
    obj = _objective(X, y)
    obj.flat = lambda theta: ("flat", theta)
    assert obj(np.zeros(obj.size))[0] == "flat"


def test_progress_is_silent_without_verbose():
    out = io.StringIO()
    p = S.Progress(0, "x", stream=out)
    p(1, 0.5)
    p(2, 0.25, final=True)
    assert out.getvalue() == ""


def test_progress_prints_every_iteration_at_verbose_2_and_the_last_once():
    out = io.StringIO()
    p = S.Progress(2, "solver", interval=1e9, stream=out)
    for it in (1, 2, 3):
        p(it, 1.0 / it, val=0.5 if it == 3 else None)
    p(3, 1.0 / 3, 0.5, final=True)  # already printed: not again
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("[solver] iter    1  loss 1  (")
    assert lines[2].startswith("[solver] iter    3  loss 0.333333  val_loss 0.5  (")
    assert lines[2].endswith("s)")


def test_progress_at_verbose_1_prints_first_then_throttles_then_the_final():
    out = io.StringIO()
    p = S.Progress(1, "s", interval=1e9, stream=out)
    for it in (1, 2, 3):
        p(it, 0.1)
    p(4, 0.1, final=True)
    lines = out.getvalue().splitlines()
    assert [ln.split()[2] for ln in lines] == ["1", "4"]
    out2 = io.StringIO()
    fast = S.Progress(1, "s", interval=0.0, stream=out2)
    for it in (1, 2, 3):
        fast(it, 0.1)
    assert len(out2.getvalue().splitlines()) == 3  # interval 0: nothing to throttle


def test_progress_defaults_to_stdout(capsys):
    S.Progress(1, "s")(1, 0.5)
    assert capsys.readouterr().out.startswith("[s] iter    1  loss 0.5")


def test_patience_counts_checks_without_improvement_beyond_tol():
    p = S.Patience(2, tol=0.1)
    seen = []
    assert not p.update(1.0, lambda: seen.append("a") or "a")
    assert not p.update(0.95, lambda: seen.append("b") or "b")  # gain 0.05 <= tol: bad 1
    assert p.bad == 1
    assert not p.update(0.85, lambda: seen.append("c") or "c")  # gain 0.15 > tol: reset
    assert p.bad == 0 and p.best == 0.85 and p.best_theta == "c"
    assert not p.update(0.85, lambda: "d")
    assert p.update(0.80, lambda: "e")  # second check without tol's gain: stop
    assert p.bad == 2 and p.best_theta == "c" and seen == ["a", "c"]


def test_patience_of_one_stops_at_the_first_miss():
    p = S.Patience(1, tol=0.0)
    assert not p.update(1.0, lambda: 1)
    assert p.update(1.0, lambda: 2)  # equal is no improvement


def test_early_stopper_reports_the_validation_loss_and_keeps_the_best_theta():
    losses = iter([3.0, 2.0, 2.5, 2.4])
    stopper = S.EarlyStopper(lambda theta: next(losses), patience=2, tol=0.0)
    assert stopper("t0") == (3.0, False)
    assert stopper("t1") == (2.0, False)
    assert stopper("t2") == (2.5, False)
    assert stopper("t3") == (2.4, True)
    assert stopper.best_theta == "t1" and stopper.best == 2.0


def test_warn_if_not_converged_names_solver_and_max_iter():
    with pytest.warns(S.ConvergenceWarning, match=r"solver 'lbfgs' stopped at max_iter=7 "
                      r"before converging; increase `max_iter` or loosen `tol`"):
        S.warn_if_not_converged(S.FitResult(None, 7, False), "lbfgs", 7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S.warn_if_not_converged(S.FitResult(None, 7, True), "lbfgs", 7)


def test_convergence_warning_is_scikit_learns():
    from sklearn.exceptions import ConvergenceWarning

    assert S.ConvergenceWarning is ConvergenceWarning


# --------------------------------------------------------------------------- L-BFGS pieces


def _dense_lbfgs_direction(g, pairs):
    """-H g with H the L-BFGS inverse Hessian built densely (Nocedal & Wright 7.19)."""
    n = g.size
    if not pairs:
        return -g
    s, yv = pairs[-1]
    H = (s @ yv) / (yv @ yv) * np.eye(n)
    for s, yv in pairs:
        rho = 1 / (yv @ s)
        V = np.eye(n) - rho * np.outer(yv, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return -H @ g


@pytest.mark.parametrize("m", [0, 1, 3])
def test_two_loop_equals_the_dense_inverse_hessian(m):
    rng = np.random.default_rng(m)
    n = 5
    A = rng.normal(size=(n, n))
    A = A @ A.T + n * np.eye(n)  # SPD: every pair has positive curvature
    pairs = [(s, A @ s) for s in rng.normal(size=(m, n))]
    g = rng.normal(size=n)
    got = S._two_loop(g, [p[0] for p in pairs], [p[1] for p in pairs],
                      [1 / (p[1] @ p[0]) for p in pairs], xp=np)
    np.testing.assert_allclose(got, _dense_lbfgs_direction(g, pairs), rtol=1e-12)


def test_cubic_min_finds_the_minimiser_of_a_cubic_from_either_side():
    # f(x) = x^3 - 3x: local minimum at x = 1
    def f(x):
        return x**3 - 3 * x

    def g(x):
        return 3 * x**2 - 3

    assert S._cubic_min(0.0, f(0.0), g(0.0), 2.0, f(2.0), g(2.0)) == pytest.approx(1.0)
    assert S._cubic_min(2.0, f(2.0), g(2.0), 0.0, f(0.0), g(0.0)) == pytest.approx(1.0)
    assert S._cubic_min(-0.5, f(-0.5), g(-0.5), 1.5, f(1.5), g(1.5)) == pytest.approx(1.0)
    assert S._cubic_min(1.5, f(1.5), g(1.5), -0.5, f(-0.5), g(-0.5)) == pytest.approx(1.0)


def test_cubic_min_clips_to_bounds_and_falls_back_to_the_midpoint():
    def f(x):
        return x**3 - 3 * x

    def g(x):
        return 3 * x**2 - 3

    assert S._cubic_min(0.0, f(0.0), g(0.0), 2.0, f(2.0), g(2.0), bounds=(1.5, 3.0)) == 1.5
    assert S._cubic_min(0.0, f(0.0), g(0.0), 2.0, f(2.0), g(2.0), bounds=(-1.0, 0.5)) == 0.5
    assert S._cubic_min(1.0, 0.0, 0.0, 1.0, 0.0, 0.0, bounds=(2.0, 4.0)) == 3.0  # x1 == x2
    assert S._cubic_min(1.0, 0.0, 0.0, 1.0, 0.0, 0.0) == 1.0
    # slopes of the same sign with no curvature to match: d1^2 - g1 g2 < 0, midpoint
    assert S._cubic_min(0.0, 0.0, 1.0, 1.0, 3.0, 10.0) == 0.5
    assert S._cubic_min(0.0, 0.0, 1.0, 1.0, 3.0, 10.0, bounds=(2.0, 3.0)) == 2.5
    assert S._cubic_min(0.0, 0.0, math.inf, 1.0, 0.0, 1.0) == 0.5  # not finite: midpoint


def test_cubic_min_at_the_degenerate_edges():
    """A double root of the cubic's derivative (d2 = 0) still gives the interpolated
    point; a zero denominator gives the midpoint of the bounds, from either side."""
    assert S._cubic_min(0.0, 0.0, 1.0, 1.0, 1.0, 4.0) == pytest.approx(1 / 3, abs=1e-15)
    assert S._cubic_min(0.0, 0.0, 3.0, 1.0, 1.0, 3.0, bounds=(0.2, 0.6)) == \
        pytest.approx(0.4, abs=1e-15)
    assert S._cubic_min(1.0, 1.0, 3.0, 0.0, 0.0, 3.0, bounds=(0.2, 0.6)) == \
        pytest.approx(0.4, abs=1e-15)


def test_cubic_min_of_a_quadratic_is_its_vertex():
    # f(x) = (x - 0.3)^2: the cubic through two points with slopes is this parabola
    assert S._cubic_min(-2.0, 5.29, -4.6, 0.1, 0.04, -0.4) == 0.1  # vertex past x2: clipped
    for x1, x2 in ((0.0, 1.0), (1.0, 0.0), (-2.0, 1.5)):
        got = S._cubic_min(x1, (x1 - 0.3) ** 2, 2 * (x1 - 0.3),
                           x2, (x2 - 0.3) ** 2, 2 * (x2 - 0.3))
        assert got == pytest.approx(0.3, abs=1e-12)


def _quadratic_objective(A, c):
    """f(x) = 1/2 x'Ax - c'x as an Objective (W is x as a column, no bias)."""
    n = c.size

    def evaluate(W, b, rows):
        x = W[:, 0]
        return 0.5 * x @ A @ x - c @ x, (A @ x - c)[:, None], np.zeros(1)

    return S.Objective(evaluate, None, n, 1, False, np)


@pytest.mark.parametrize("t0", [1e-3, 1.0, 30.0])
def test_strong_wolfe_returns_a_step_meeting_both_conditions(t0):
    A = np.diag([1.0, 4.0, 9.0])
    c = np.array([1.0, -2.0, 0.5])
    obj = _quadratic_objective(A, c)
    x = np.zeros(obj.size)
    f, g = obj(x)
    d = -g
    gtd = float(g @ d)
    f_new, g_new, t = S._strong_wolfe(obj, x, t0, d, float(f), g, gtd)
    f_t, g_t = obj(x + t * d)
    assert f_new == pytest.approx(float(f_t)) and np.allclose(g_new, g_t)
    assert f_new <= f + 1e-4 * t * gtd  # sufficient decrease
    assert abs(float(g_t @ d)) <= 0.9 * abs(gtd)  # curvature


def test_strong_wolfe_never_returns_an_increase():
    A = np.eye(2)
    obj = _quadratic_objective(A, np.zeros(2))
    x = np.array([1.0, 0.0, 0.0])  # W = (1, 0); the bias slot is unused
    f, g = obj(x)
    d = np.array([1.0, 0.0, 0.0])  # uphill: every step is worse
    f_new, g_new, t = S._strong_wolfe(obj, x, 1.0, d, float(f), g, 1.0, max_ls=5)
    assert (f_new, t) == (float(f), 0.0) and g_new is g


# --------------------------------------------------------------------------- solvers


def test_lbfgs_reaches_scipys_optimum():
    X, y = _problem(n=80, d=4, C=3)
    obj = _objective(X, y, l2=0.05)
    ref = minimize(_flat_reference(X, y, 0.05), np.zeros(obj.size), jac=True,
                   method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 0, "maxiter": 1000})
    res = S.lbfgs(obj, np.zeros(obj.size), max_iter=200, tol=1e-5)
    assert res.converged and res.message == "gradient below tol"
    f, g = obj(res.theta)
    assert np.abs(g).max() <= 1e-5
    np.testing.assert_allclose(res.theta, ref.x, atol=1e-4)
    tight = S.lbfgs(obj, np.zeros(obj.size), max_iter=200, tol=0.0)  # to float64's limit
    np.testing.assert_allclose(tight.theta, ref.x, atol=1e-7)
    assert tight.converged and tight.n_iter > res.n_iter
    assert res.loss_curve[-1] == pytest.approx(float(f), rel=1e-15)
    assert res.loss_curve[0] == pytest.approx(math.log(3), rel=1e-15)  # theta = 0: uniform
    assert all(b <= a for a, b in zip(res.loss_curve, res.loss_curve[1:], strict=False))
    assert len(res.loss_curve) == res.n_iter + 1
    assert 3 < res.n_iter < 60  # quasi-Newton, not steepest descent


def test_lbfgs_with_a_short_history_still_converges():
    X, y = _problem(n=80, d=4, C=3)
    obj = _objective(X, y, l2=0.05)
    res = S.lbfgs(obj, np.zeros(obj.size), max_iter=300, tol=1e-6, history=1)
    assert res.converged and np.abs(obj(res.theta)[1]).max() <= 1e-6


def test_lbfgs_stops_at_max_iter_and_says_so():
    X, y = _problem()
    obj = _objective(X, y)
    res = S.lbfgs(obj, np.zeros(obj.size), max_iter=2, tol=1e-12)
    assert (res.n_iter, res.converged, res.message) == (2, False, "max_iter reached")
    assert len(res.loss_curve) == 3 and res.loss_curve[2] < res.loss_curve[0]


def test_lbfgs_at_the_optimum_takes_no_step():
    X, y = _problem()
    obj = _objective(X, y)
    theta = S.lbfgs(obj, np.zeros(obj.size), max_iter=200, tol=1e-10).theta
    res = S.lbfgs(obj, theta, max_iter=200, tol=1e-6)
    assert (res.n_iter, res.converged, res.message) == (0, True, "gradient below tol")
    assert res.theta is theta
    res = S.lbfgs(obj, np.zeros(obj.size), max_iter=0, tol=1e-6)
    assert (res.n_iter, res.converged, res.message) == (0, False, "max_iter reached")


def test_lbfgs_stops_on_a_relative_improvement_below_64_eps():
    X, y = _problem()
    obj = _objective(X, y)
    res = S.lbfgs(obj, np.zeros(obj.size), max_iter=500, tol=0.0)
    assert res.converged
    assert res.message in ("relative improvement below 64 * eps",
                           "line search made no progress (objective at its floating-point "
                           "precision)")
    ref = S.lbfgs(obj, np.zeros(obj.size), max_iter=500, tol=1e-10)
    assert res.loss_curve[-1] == pytest.approx(ref.loss_curve[-1], rel=1e-14)


def test_lbfgs_early_stopping_and_progress():
    X, y = _problem()
    obj = _objective(X, y)
    vals = iter([1.0, 2.0, 3.0, 4.0, 5.0])
    early = S.EarlyStopper(lambda theta: next(vals), patience=2, tol=0.0)
    out = io.StringIO()
    res = S.lbfgs(obj, np.zeros(obj.size), max_iter=100, tol=1e-12, early=early,
                  progress=S.Progress(2, "lbfgs", stream=out))
    assert (res.n_iter, res.converged) == (3, True)
    assert res.message == "validation loss stopped improving"
    assert res.val_curve == [1.0, 2.0, 3.0]
    lines = out.getvalue().splitlines()
    assert [ln.split()[2] for ln in lines] == ["1", "2", "3"]
    assert "val_loss 3" in lines[-1]


def test_gradient_descent_one_epoch_is_one_step():
    X, y = _problem()
    obj = _objective(X, y)
    theta = np.random.default_rng(3).normal(size=obj.size) / 4
    res = S.gradient_descent(obj, theta, learning_rate=0.5, max_iter=1, tol=0.0)
    f, g = _flat_reference(X, y, 0.1)(theta)
    np.testing.assert_allclose(res.theta, theta - 0.5 * g, rtol=1e-14)
    assert res.loss_curve == [pytest.approx(f, rel=1e-15)]
    # tol=0 asks for no stopping test: reaching max_iter is convergence
    assert (res.n_iter, res.converged, res.message) == (1, True, "max_iter reached")


def test_gradient_descent_stops_after_n_iter_no_change_and_keeps_the_best():
    X, y = _problem()
    obj = _objective(X, y)
    theta = np.zeros(obj.size)
    res = S.gradient_descent(obj, theta, learning_rate=1e-9, max_iter=50, tol=1e-4,
                             n_iter_no_change=3)
    assert (res.n_iter, res.converged) == (4, True)  # 1 best epoch, then 3 without change
    assert res.message == "loss improved by less than tol for 3 epochs"
    first = S.gradient_descent(obj, theta, learning_rate=1e-9, max_iter=1, tol=0.0)
    np.testing.assert_array_equal(res.theta, first.theta)  # the best (first) epoch's
    assert not np.array_equal(first.theta, theta)
    res = S.gradient_descent(obj, theta, learning_rate=1e-9, max_iter=50, tol=1e-4)
    assert (res.n_iter, res.message) == (6, "loss improved by less than tol for 5 epochs")
    res = S.gradient_descent(obj, theta, learning_rate=0.1, max_iter=3, tol=1e-4)
    assert (res.n_iter, res.converged, res.message) == (3, False, "max_iter reached")
    # with validation data it stops on the validation loss instead
    vals = iter([1.0, 2.0, 3.0, 4.0, 5.0])
    early = S.EarlyStopper(lambda theta: next(vals), patience=2, tol=0.0)
    res = S.gradient_descent(obj, theta, learning_rate=0.1, max_iter=50, tol=0.0,
                             early=early)
    assert (res.n_iter, res.val_curve) == (3, [1.0, 2.0, 3.0])
    res = S.gradient_descent(obj, theta, learning_rate=0.1, max_iter=0, tol=0.0)
    assert (res.n_iter, res.converged, res.loss_curve) == (0, False, [])


def test_a_diverging_learning_rate_is_reported_not_taken_for_convergence():
    X, y = _problem()
    obj = _objective(X, y)
    theta = np.zeros(obj.size)
    res = S.gradient_descent(obj, theta, learning_rate=10.0, max_iter=100, tol=1e-4)
    assert (res.n_iter, res.converged) == (6, False)
    assert res.message.startswith(f"the training loss rose from {res.loss_curve[0]:.6g} to "
                                  f"{res.loss_curve[-1]:.6g} in 6 epochs")
    np.testing.assert_array_equal(res.theta, S.gradient_descent(  # the first epoch's weights
        obj, theta, learning_rate=10.0, max_iter=1, tol=0.0).theta)
    with pytest.warns(S.ConvergenceWarning, match=r"^solver 'gd': the training loss rose .*"
                                                  r"`learning_rate` is too large"):
        S.warn_if_not_converged(res, "gd", 100)
    # a plateau a little above the first epoch is no divergence
    flat = S.gradient_descent(obj, theta, learning_rate=1e-9, max_iter=100, tol=1e-4)
    assert flat.converged and flat.message.startswith("loss improved by less than tol")


def test_minibatch_returns_the_best_epochs_weights_not_the_last():
    X, y = _problem()
    obj = _objective(X, y)
    theta = np.zeros(obj.size)
    # a huge learning rate makes the loss jump up after the first epoch
    res = S.minibatch(obj, theta, optimizer=optim.sgd(50.0), batch_size=None, max_iter=50,
                      tol=1e-3, n_iter_no_change=2, rng=None)
    best = int(np.argmin(res.loss_curve))
    assert res.n_iter == best + 3
    assert not res.converged and res.message.startswith("the training loss rose")  # diverged
    # the parameters returned are those after the best epoch's update
    replay = S.minibatch(obj, theta, optimizer=optim.sgd(50.0), batch_size=None,
                         max_iter=best + 1, tol=0.0, n_iter_no_change=2, rng=None)
    np.testing.assert_array_equal(res.theta, replay.theta)


def test_minibatch_epoch_loss_is_the_mean_over_its_batches():
    X, y = _problem(n=60)
    calls = []
    obj = _objective(X, y, calls=calls)
    theta = np.zeros(obj.size)
    res = S.minibatch(obj, theta, optimizer=optim.sgd(0.2), batch_size=25, max_iter=1, tol=0.0,
                      n_iter_no_change=5, rng=None)
    assert [len(r) for r in calls] == [25, 25, 10]
    # replay the epoch by hand: three SGD steps on rows 0-24, 25-49, 50-59
    W, b = np.zeros((3, 3)), np.zeros(3)
    losses = []
    for rows in (slice(0, 25), slice(25, 50), slice(50, 60)):
        loss, dW, db = _reference(X[rows], y[rows], W, b, 0.1)
        losses.append(loss)
        W, b = W - 0.2 * dW, b - 0.2 * db
    np.testing.assert_allclose(res.theta, np.concatenate([W.ravel(), b]), rtol=1e-14)
    assert res.loss_curve == [pytest.approx(np.mean(losses), rel=1e-14)]


def test_minibatch_shuffles_with_the_given_rng():
    X, y = _problem(n=60)
    calls = []
    obj = _objective(X, y, calls=calls)
    S.minibatch(obj, np.zeros(obj.size), optimizer=optim.sgd(0.1), batch_size=20, max_iter=2,
                tol=0.0, n_iter_no_change=5, rng=np.random.default_rng(7))
    rng = np.random.default_rng(7)
    expected = [p[i : i + 20] for p in (rng.permutation(60), rng.permutation(60))
                for i in (0, 20, 40)]
    assert len(calls) == 6
    for got, want in zip(calls, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_minibatch_with_early_stopping_and_progress():
    X, y = _problem()
    obj = _objective(X, y)
    seen = []

    def val_loss(theta):
        seen.append(theta)
        return [0.5, 0.6, 0.7][len(seen) - 1]

    out = io.StringIO()
    res = S.minibatch(obj, np.zeros(obj.size), optimizer=optim.sgd(0.1), batch_size=None,
                      max_iter=20, tol=1e-3, n_iter_no_change=2, rng=None,
                      early=S.EarlyStopper(val_loss, patience=2, tol=0.0),
                      progress=S.Progress(2, "gd", stream=out))
    assert (res.n_iter, res.converged) == (3, True)
    assert res.message == "validation loss stopped improving"
    assert res.val_curve == [0.5, 0.6, 0.7]
    np.testing.assert_array_equal(res.theta, seen[-1])  # the last epoch's parameters
    assert len(seen[0]) == obj.size
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "val_loss 0.7" in lines[-1]
    # verbose=1 prints the first epoch and then the final one with its own numbers
    seen.clear()
    out = io.StringIO()
    res = S.minibatch(obj, np.zeros(obj.size), optimizer=optim.sgd(0.1), batch_size=None,
                      max_iter=20, tol=1e-3, n_iter_no_change=2, rng=None,
                      early=S.EarlyStopper(val_loss, patience=2, tol=0.0),
                      progress=S.Progress(1, "gd", interval=3600, stream=out))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("[gd] iter    3  loss ")
    assert f"loss {res.loss_curve[-1]:.6g}  val_loss 0.7 " in lines[-1]


def test_minibatch_refuses_a_diverging_learning_rate():
    X, y = _problem()
    X = X * 1e3
    obj = _objective(X, y, l2=0.0)
    with pytest.raises(FloatingPointError, match=r"the training loss became (inf|nan) at "
                       r"epoch \d+: the learning rate is too large for this data; lower "
                       r"`learning_rate`"), np.errstate(all="ignore"):
        S.minibatch(obj, np.zeros(obj.size), optimizer=optim.sgd(1e6), batch_size=None,
                    max_iter=50, tol=0.0, n_iter_no_change=5, rng=None)


# --------------------------------------------------------------------------- OWL-QN


def _l1_reference(X, y, l2, l1):
    """The L1 optimum by an independent route: W = P - N with P, N >= 0, so the L1 term
    is linear, ``l1 * sum(P + N)``, and SciPy's L-BFGS-B solves the smooth problem with
    bounds. A coordinate whose P and N both sit on their bound is exactly zero."""
    d, C = X.shape[1], int(y.max()) + 1
    k = d * C

    def fun(z):
        P, N, b = z[:k], z[k : 2 * k], z[2 * k :]
        W = (P - N).reshape(d, C)
        loss, dW, db = _reference(X, y, W, b, l2)
        g = dW.ravel()
        return loss + l1 * (P.sum() + N.sum()), np.concatenate([g + l1, -g + l1, db])

    bounds = [(0, None)] * (2 * k) + [(None, None)] * C
    res = minimize(fun, np.zeros(2 * k + C), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"gtol": 1e-13, "ftol": 0, "maxiter": 20000, "maxcor": 30})
    W = (res.x[:k] - res.x[k : 2 * k]).reshape(d, C)
    return W, res.x[2 * k :], res.fun


def _whole(X, y, l2, l1, theta, d, C):
    W, b = theta[: d * C].reshape(d, C), theta[d * C :]
    return _reference(X, y, W, b, l2)[0] + l1 * np.abs(W).sum()


@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_owlqn_reaches_the_l1_optimum_with_its_exact_zeros(l2):
    X, y = _problem(n=80, d=6, C=3)
    X[:, 4:] = np.random.default_rng(9).normal(size=(80, 2)) * 0.1  # two weak features
    obj = _objective(X, y, l2=l2)
    obj.l1 = 0.03
    W_ref, b_ref, f_ref = _l1_reference(X, y, l2, 0.03)
    res = S.owlqn(obj, np.zeros(obj.size), max_iter=500, tol=1e-10)
    assert res.converged, res.message
    W, b = obj.unpack(res.theta)
    f = _whole(X, y, l2, 0.03, res.theta, 6, 3)
    assert f <= f_ref + 1e-12 * abs(f_ref)
    assert res.loss_curve[-1] == pytest.approx(f, rel=1e-13)
    zeros = W == 0.0
    assert 3 <= zeros.sum() < zeros.size  # a sparse optimum, not all zero
    # the zero set is L-BFGS-B's (its zeros are where both halves sit on the bound)
    np.testing.assert_array_equal(zeros, np.abs(W_ref) < 1e-9)
    np.testing.assert_allclose(W, W_ref, atol=1e-6)
    assert np.all(np.diff(res.loss_curve) <= 0)  # a descent method
    assert 3 < res.n_iter < 200


def test_owlqn_without_l1_is_lbfgs_optimum_and_never_clips_the_bias():
    X, y = _problem(n=80, d=4, C=3)
    obj = _objective(X, y, l2=0.05)  # obj.l1 = 0: the bias and W move freely
    a = S.owlqn(obj, np.zeros(obj.size), max_iter=300, tol=1e-9)
    b = S.lbfgs(obj, np.zeros(obj.size), max_iter=300, tol=1e-9)
    np.testing.assert_allclose(a.theta, b.theta, atol=1e-7)
    # a strong L1 term zeroes every weight, never the (unpenalised) bias
    y_skew = np.where(np.arange(80) % 5 == 0, 1, 0)
    y_skew[:3] = 2
    obj = _objective(X, y_skew, l2=0.0)
    obj.l1 = 10.0
    res = S.owlqn(obj, np.zeros(obj.size), max_iter=300, tol=1e-9)
    W, bias = obj.unpack(res.theta)
    np.testing.assert_array_equal(W, np.zeros_like(W))
    counts = np.bincount(y_skew) / 80
    np.testing.assert_allclose(np.exp(bias) / np.exp(bias).sum(), counts, atol=1e-7)


def test_pseudo_gradient_is_the_least_norm_subgradient():
    x = np.array([1.0, -2.0, 0.0, 0.0, 0.0, 0.0])
    g = np.array([0.5, 0.5, 0.3, -3.0, 3.0, -1.0])
    lam = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    got = S._pseudo_gradient(x, g, lam, xp=np)
    # away from 0: g + lam sign(x); at 0: 0 if |g| <= lam, else the downhill side
    np.testing.assert_array_equal(got, [1.5, -0.5, 0.0, -2.0, 2.0, -1.0])


def test_owlqn_stops_at_max_iter_and_at_the_optimum_takes_no_step():
    X, y = _problem()
    obj = _objective(X, y)
    obj.l1 = 0.02
    res = S.owlqn(obj, np.zeros(obj.size), max_iter=2, tol=1e-12)
    assert (res.n_iter, res.converged, res.message) == (2, False, "max_iter reached")
    assert len(res.loss_curve) == 3 and res.loss_curve[2] < res.loss_curve[0]
    best = S.owlqn(obj, np.zeros(obj.size), max_iter=300, tol=1e-10).theta
    again = S.owlqn(obj, best, max_iter=300, tol=1e-6)
    assert (again.n_iter, again.converged, again.message) == (0, True,
                                                              "pseudo-gradient below tol")
    assert again.theta is best


def test_owlqn_reads_as_few_host_scalars_as_lbfgs(monkeypatch):
    """One transfer for the start, then per iteration one for the direction, one per
    function evaluation and one for the curvature pair: L-BFGS's count."""
    X, y = _problem(n=80, d=4, C=3)
    reads, evals = [], []
    real = S.host_scalars
    monkeypatch.setattr(S, "host_scalars", lambda xp, *v: reads.append(len(v)) or real(xp, *v))
    obj = _objective(X, y, l2=0.01, calls=evals)
    obj.l1 = 0.02
    res = S.owlqn(obj, np.zeros(obj.size), max_iter=30, tol=1e-8)
    assert res.n_iter > 5
    assert len(reads) == 1 + 2 * res.n_iter + (len(evals) - 1)


def test_owlqn_early_stopping_and_progress():
    X, y = _problem()
    obj = _objective(X, y)
    obj.l1 = 0.01
    vals = iter([1.0, 2.0, 3.0, 4.0])
    early = S.EarlyStopper(lambda theta: next(vals), patience=2, tol=0.0)
    out = io.StringIO()
    res = S.owlqn(obj, np.zeros(obj.size), max_iter=100, tol=1e-12, early=early,
                  progress=S.Progress(2, "owlqn", stream=out))
    assert (res.n_iter, res.converged, res.val_curve) == (3, True, [1.0, 2.0, 3.0])
    assert res.message == "validation loss stopped improving"
    assert len(out.getvalue().splitlines()) == 3


def test_gradient_descent_with_l1_takes_the_proximal_step():
    X, y = _problem()
    obj = _objective(X, y)
    obj.l1 = 0.05
    theta = np.random.default_rng(3).normal(size=obj.size) / 4
    res = S.gradient_descent(obj, theta, learning_rate=0.5, max_iter=1, tol=0.0)
    f, g = _flat_reference(X, y, 0.1)(theta)
    z = theta - 0.5 * g
    k = obj.n_features * obj.n_classes
    want = z.copy()
    want[:k] = np.sign(z[:k]) * np.maximum(np.abs(z[:k]) - 0.5 * 0.05, 0.0)
    np.testing.assert_allclose(res.theta, want, rtol=1e-14, atol=1e-16)
    assert np.count_nonzero(res.theta[:k] == 0.0) == np.count_nonzero(np.abs(z[:k]) <= 0.025)
    # the loss curve holds the whole objective, L1 term included
    W = theta[:k].reshape(obj.n_features, obj.n_classes)
    assert res.loss_curve == [pytest.approx(f + 0.05 * np.abs(W).sum(), rel=1e-14)]


def test_solve_picks_owlqn_for_an_l1_term_and_carries_the_optimizer_state():
    X, y = _problem()
    obj = _objective(X, y)
    obj.l1 = 0.02
    common = dict(learning_rate=0.1, batch_size=20, max_iter=3, tol=0.0, n_iter_no_change=5,
                  rng=np.random.default_rng(0))
    got = S.solve(obj, np.zeros(obj.size), solver="lbfgs", **common)
    want = S.owlqn(obj, np.zeros(obj.size), max_iter=3, tol=0.0)
    np.testing.assert_array_equal(got.theta, want.theta)
    one = S.solve(obj, np.zeros(obj.size), solver="adam", **{**common, "max_iter": 1})
    assert one.state.count == 3  # three batches of 20 rows
    two = S.solve(obj, one.theta, solver="adam", state=one.state, **{**common, "max_iter": 1})
    assert two.state.count == 6


def _owlqn_reference(fun, x, lam, *, max_iter, history=10, c1=1e-4):
    """Andrew & Gao's OWL-QN (ICML 2007) written out with dense matrices: the inverse
    Hessian by the BFGS update from ``gamma I``, the direction projected onto the
    pseudo-gradient's signs, a backtracking line search projected onto the orthant.
    Returns the objective after each iteration and each iteration's first trial step."""
    def F(x):
        f, g = fun(x)
        return f + lam @ np.abs(x), g

    def pseudo(x, g):
        r, left = g + lam, g - lam
        at_zero = np.where(r < 0, r, np.where(left > 0, left, 0.0))
        return np.where(x > 0, r, np.where(x < 0, left, at_zero))

    f, g = F(x)
    pg, pairs, curve, first_steps = pseudo(x, g), [], [f], []
    for _ in range(max_iter):
        H = np.eye(x.size)
        if pairs:
            s, yv = pairs[-1]
            H *= (s @ yv) / (yv @ yv)
        for s, yv in pairs:  # oldest first
            V = np.eye(x.size) - np.outer(yv, s) / (yv @ s)
            H = V.T @ H @ V + np.outer(s, s) / (yv @ s)
        d = -H @ pg
        d[(lam > 0) & (d * pg >= 0)] = 0.0
        if not pg @ d < 0:
            pairs, d = [], -pg
        orthant = np.where(x != 0, np.sign(x), -np.sign(pg))
        t = 1.0 if pairs else min(1.0, 1.0 / np.abs(pg).sum())
        first_steps.append(t)
        while True:
            trial = x + t * d
            trial[(lam > 0) & (np.sign(trial) != orthant)] = 0.0
            f_new, g_new = F(trial)
            if f_new <= f + c1 * pg @ (trial - x):
                break
            t /= 2
        s, yv = trial - x, g_new - g
        if yv @ s > 1e-10 * np.sqrt((yv @ yv) * (s @ s)):
            pairs = [*pairs, (s, yv)][-history:]
        x, f, g = trial, f_new, g_new
        pg = pseudo(x, g)
        curve.append(f)
    return curve, first_steps


@pytest.mark.parametrize(("history", "l1"), [(10, 0.03), (3, 0.03), (10, 0.2)])
def test_owlqn_takes_the_steps_of_a_dense_reference(history, l1, monkeypatch):
    """Every iteration's objective equals the dense reference's, so the direction,
    its projection, the first step and the line search are each the paper's."""
    X, y = _problem(n=80, d=6, C=3)
    obj = _objective(X, y, l2=0.01)
    obj.l1 = l1
    lam = np.concatenate([np.full(18, l1), np.zeros(3)])
    theta = np.random.default_rng(5).normal(size=obj.size) / 3  # signs of both kinds
    theta[::4] = 0.0
    steps = []
    real = S._orthant_backtracking
    monkeypatch.setattr(S, "_orthant_backtracking",
                        lambda *a, **k: steps.append(a[7]) or real(*a, **k))
    kw = {} if history == 10 else {"history": history}  # 10: the default
    res = S.owlqn(obj, theta.copy(), max_iter=12, tol=0.0, **kw)
    assert res.n_iter == 12
    curve, first = _owlqn_reference(_flat_reference(X, y, 0.01), theta.copy(), lam,
                                    max_iter=12, history=history)
    np.testing.assert_allclose(res.loss_curve, curve, rtol=1e-11)
    np.testing.assert_allclose(steps, first, rtol=1e-12)


def _scripted_search(values, *, F, eps, t=1.0, max_ls=50):
    """``_orthant_backtracking`` from x = 1 along d = -1 (pseudo-gradient 1, nothing
    penalised), the objective read from ``values`` in turn; returns what it returned and
    the step of each trial point."""
    trials = []
    values = iter(values)

    def total(trial):
        trials.append(1.0 - float(trial[0]))
        return np.asarray(next(values)), np.zeros(1)

    one = np.ones(1)
    out = S._orthant_backtracking(total, one, -one, one, np.zeros(1, bool), F, one, t,
                                  max_ls=max_ls, eps=eps, xp=np)
    return out, trials


def test_orthant_backtracking_accepts_exactly_armijos_sufficient_decrease():
    c1 = 1e-4
    # F + c1 * pg.(trial - x) at t = 1 and t = 0.5 is 1 - 1e-4 and 1 - 5e-5
    out, trials = _scripted_search([1 + c1 * -1.0], F=1.0, eps=1e-16)
    assert trials == [1.0] and float(out[1]) == 1 + c1 * -1.0  # equality is enough
    out, trials = _scripted_search([1.00005, 0.99993], F=1.0, eps=1e-16, t=0.5)
    assert trials == [0.5, 0.25] and float(out[1]) == 0.99993
    assert out[0] == pytest.approx([0.75], abs=0)
    # a decrease smaller than Armijo's asks for halves the step again
    out, trials = _scripted_search([0.99995, 0.99999, 0.99998, 0.99], F=1.0, eps=1e-16)
    assert trials == [1.0, 0.5, 0.25, 0.125] and float(out[1]) == 0.99


def test_orthant_backtracking_falls_back_to_the_lowest_point_seen():
    # no trial meets Armijo; the search ends after two values flat within 4 eps |F|
    F, eps = 2.0, 1e-9
    flat = [2 - 4e-9, 2 + 1e-9]
    # Armijo asks for 2 - 1e-4 t: 1.9999 at t = 1, 1.99995 at t = 0.5, ...
    out, trials = _scripted_search([1.99996, 1.99996, 1.99998, 2.5, *flat], F=F, eps=eps)
    assert len(trials) == 6
    assert float(out[1]) == 1.99996 and out[0] == pytest.approx([0.0], abs=0)  # the first
    # NaN and inf, values equal to F and increases are never kept: None
    out, trials = _scripted_search([np.nan, np.inf, 2.0, 3.0, 2.0, 2.0], F=F, eps=0.0,
                                   max_ls=6)
    assert out is None and len(trials) == 6
    out, trials = _scripted_search([-np.inf, 2.0, 2.0], F=F, eps=eps)
    assert out is None and len(trials) == 3


def test_orthant_backtracking_gives_up_after_two_flat_values_in_a_row():
    F, eps = 2.0, 2.0**-10  # 4 eps |F| = 2**-7 exactly
    edge, beyond = 2 + 2.0**-7, 2 + 1.1 * 2.0**-7
    for values, n in [([edge, beyond, edge, beyond, edge, edge], 6),
                      ([beyond, edge, 3.0, edge, edge], 5),
                      ([edge, edge, edge], 2)]:
        out, trials = _scripted_search(values + [3.0] * 10, F=F, eps=eps)
        assert out is None and len(trials) == n, values
    out, trials = _scripted_search([3.0] * 7, F=F, eps=eps, max_ls=7)  # max_ls trials
    assert out is None and trials == [0.5**k for k in range(7)]
