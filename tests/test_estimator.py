"""SoftmaxRegression: scikit-learn's answers, on every backend, with clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _helpers import assert_array
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import softmaxreg as sr
from softmaxreg import SoftmaxRegression


def standardized(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def objective(X, y, W, b, C, s=None):
    """scikit-learn's LogisticRegression objective, evaluated in float64."""
    s = np.ones(len(y)) if s is None else np.asarray(s, dtype=np.float64)
    codes = np.unique(y, return_inverse=True)[1]
    l2 = 0.0 if np.isinf(C) else 1.0 / (C * s.sum())
    return float(sr.loss_and_grad(np.asarray(X, np.float64), codes, np.asarray(W, np.float64),
                                  np.asarray(b, np.float64), l2=l2, sample_weight=s)[0])


def sklearn_params(sk, n_classes):
    """(W, b) in the multinomial form; the binomial optimum at 2C is ±w/2 at C."""
    if n_classes == 2:
        w, c = sk.coef_[0] / 2, sk.intercept_[0] / 2
        return np.stack([-w, w], axis=1), np.array([-c, c])
    return sk.coef_.T, sk.intercept_


CASES = [(load_iris, 0.1), (load_iris, 1.0), (load_iris, 10.0), (load_wine, 0.1),
         (load_wine, 10.0), (load_breast_cancer, 0.05), (load_breast_cancer, 1.0),
         (load_digits, 0.1), (load_digits, 1.0)]


@pytest.mark.parametrize(("loader", "C"), CASES, ids=[f"{f.__name__[5:]}-C{c}" for f, c in CASES])
def test_reaches_sklearn_objective(loader, C):
    X, y = standardized(loader)
    k = len(np.unique(y))
    ours = SoftmaxRegression(C=C, tol=1e-8, max_iter=10000).fit(X, y)
    sk = LogisticRegression(C=2 * C if k == 2 else C, tol=1e-8, max_iter=10000).fit(X, y)
    f_ours = objective(X, y, ours.coef_.T, ours.intercept_, C)
    f_sk = objective(X, y, *sklearn_params(sk, k), C)
    assert abs(f_ours - f_sk) <= 1e-6 * abs(f_sk)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-4)
    assert ours.coef_.shape == (k, X.shape[1]) and ours.intercept_.shape == (k,)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 3.0, 2: 0.5}])
def test_weights_match_sklearn(class_weight):
    X, y = standardized(load_wine)
    sw = np.random.default_rng(0).uniform(0.2, 2.0, size=len(y))
    ours = SoftmaxRegression(C=0.5, class_weight=class_weight, tol=1e-9, max_iter=1000)
    ours.fit(X, y, sample_weight=sw)
    sk = LogisticRegression(C=0.5, class_weight=class_weight, tol=1e-9, max_iter=1000)
    sk.fit(X, y, sample_weight=sw)
    from sklearn.utils.class_weight import compute_class_weight

    cw = compute_class_weight(class_weight, classes=np.unique(y), y=y, sample_weight=sw)
    s = sw * cw[y]
    f_ours = objective(X, y, ours.coef_.T, ours.intercept_, 0.5, s)
    f_sk = objective(X, y, sk.coef_.T, sk.intercept_, 0.5, s)
    assert abs(f_ours - f_sk) <= 1e-6 * abs(f_sk)
    np.testing.assert_allclose(ours.coef_, sk.coef_, atol=1e-4)


def test_no_penalty_and_no_intercept():
    X, y = standardized(load_iris)
    m = SoftmaxRegression(C=0.3, fit_intercept=False, tol=1e-9, max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(m.intercept_, 0.0)
    sk = LogisticRegression(C=0.3, fit_intercept=False, tol=1e-9, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(m.coef_, sk.coef_, atol=1e-5)
    # separable classes: without a penalty the loss falls towards 0 as the weights grow
    free = SoftmaxRegression(C=float("inf")).fit(X, y == 0)
    held = SoftmaxRegression(C=1.0).fit(X, y == 0)
    assert free.loss_curve_[-1] < 1e-3 < held.loss_curve_[-1]
    assert np.abs(free.coef_).max() > 2 * np.abs(held.coef_).max()


def test_two_classes_are_multinomial():
    X, y = standardized(load_breast_cancer)
    m = SoftmaxRegression().fit(X, y)
    P = m.predict_proba(X)
    assert P.shape == (len(y), 2)
    margin = m.decision_function(X)
    assert margin.shape == (len(y),)
    np.testing.assert_array_equal(m.predict(X), m.classes_[(margin > 0).astype(int)])
    np.testing.assert_allclose(P[:, 1], 1 / (1 + np.exp(-margin)), rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fits_on_every_backend(bk, dtype):
    X, y = standardized(load_iris)
    X = X.astype(dtype)
    ref = SoftmaxRegression(tol=1e-7, max_iter=500).fit(X, y)
    m = SoftmaxRegression(tol=1e-7, max_iter=500).fit(bk.asarray(X), bk.asarray(y))
    tol = {"float32": 2e-3, "float64": 1e-6}[dtype]
    assert m.backend_ == bk.library
    if bk.lazy:  # Dask models keep their (small) weights on the client, as NumPy
        assert isinstance(m.coef_, np.ndarray)
        np.testing.assert_allclose(m.coef_, ref.coef_, atol=tol)
    else:
        assert_array(m.coef_, ref.coef_, bk, dtype=dtype, atol=tol)
        assert_array(m.intercept_, ref.intercept_, bk, dtype=dtype, atol=tol)
    P = m.predict_proba(bk.asarray(X))
    assert_array(P, ref.predict_proba(X), bk, dtype=dtype, atol=tol)
    pred = m.predict(bk.asarray(X))
    assert_array(pred, ref.predict(X), bk)
    assert m.score(bk.asarray(X), y) == pytest.approx(ref.score(X, y))


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_minibatches_on_every_backend(bk, solver):
    """Mini-batch epochs on each backend take the same batches and reach NumPy's weights."""
    X, y = standardized(load_iris)
    kw = {"solver": solver, "batch_size": 16, "max_iter": 5, "tol": 0, "random_state": 3,
          "learning_rate": 0.05}
    ref = SoftmaxRegression(**kw).fit(X, y)
    if bk.lazy:  # on Dask a batch is a chunk: 16-row chunks, visited in shuffled order
        m = SoftmaxRegression(**kw).fit(bk.asarray(X).rechunk(16), bk.asarray(y).rechunk(16))
        assert m.n_iter_ == 5 and m.loss_curve_[-1] < m.loss_curve_[0]
        return
    m = SoftmaxRegression(**kw).fit(bk.asarray(X), bk.asarray(y))
    assert_array(m.coef_, ref.coef_, bk, dtype="float64", rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("layout", ["F", "pandas", "strided"])
def test_minibatches_on_any_layout_equal_c_order(layout):
    import pandas as pd

    X, y = standardized(load_iris)
    kw = {"solver": "sgd", "batch_size": 8, "max_iter": 4, "tol": 0, "random_state": 0}
    ref = SoftmaxRegression(**kw).fit(X, y)
    Xl = {"F": np.asfortranarray(X), "pandas": pd.DataFrame(X),
          "strided": np.repeat(X, 2, axis=0)[::2]}[layout]
    before = np.array(Xl, copy=True)
    m = SoftmaxRegression(**kw).fit(Xl, y)
    np.testing.assert_array_equal(m.coef_, ref.coef_)
    np.testing.assert_array_equal(np.asarray(Xl), before)  # the user's data is untouched


def test_backend_parameter_moves_host_data():
    torch = pytest.importorskip("torch")
    X, y = standardized(load_iris)
    m = SoftmaxRegression(backend="torch", dtype="float32").fit(X, y)
    assert isinstance(m.coef_, torch.Tensor) and m.coef_.dtype == torch.float32
    assert isinstance(m.predict_proba(X), torch.Tensor)  # NumPy input follows the model
    with pytest.raises(ValueError, match=r"`X` is a jax array .* the model lives on torch"):
        jnp = pytest.importorskip("jax.numpy")
        m.predict(jnp.asarray(X))
    m.to("numpy")
    assert isinstance(m.coef_, np.ndarray) and m.coef_.dtype == np.float32
    with pytest.raises(ValueError, match=r"`X` is a torch array .* model lives on numpy"):
        m.predict(torch.from_numpy(X))


def test_labels_come_back_unchanged():
    X, y = standardized(load_iris)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    m = SoftmaxRegression().fit(X, names)
    assert list(m.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(m.predict(X)) <= set(names)
    assert m.score(X, names) > 0.95
    b = SoftmaxRegression().fit(X, y == 0)
    assert m.predict(X).dtype.kind == "U" and b.predict(X).dtype == bool


def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = standardized(load_iris)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    m = SoftmaxRegression().fit(frame, y)
    assert list(m.feature_names_in_) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match=r"feature names should match"):
        m.predict(frame[["b", "a", "c", "d"]].rename(columns={"b": "x"}))


# ----------------------------------------------------------------------------- solvers


# Full-batch GD converges to the optimum; constant-step mini-batch methods only
# reach a noise ball around it whose size grows with the step, hence 5% there.
@pytest.mark.parametrize(("solver", "kw", "slack"), [
    ("gd", {"learning_rate": 1.0, "max_iter": 2000, "tol": 1e-7}, 1.001),
    ("sgd", {"learning_rate": 0.3, "batch_size": 32, "max_iter": 500, "tol": 1e-6}, 1.05),
    ("adam", {"learning_rate": 0.01, "batch_size": 32, "max_iter": 300, "tol": 1e-6}, 1.05),
])
def test_first_order_solvers_approach_the_optimum(solver, kw, slack):
    X, y = standardized(load_iris)
    best = SoftmaxRegression(tol=1e-9, max_iter=1000).fit(X, y)
    f_best = objective(X, y, best.coef_.T, best.intercept_, 1.0)
    m = SoftmaxRegression(solver=solver, random_state=0, n_iter_no_change=10, **kw).fit(X, y)
    f = objective(X, y, m.coef_.T, m.intercept_, 1.0)
    assert f_best <= f <= f_best * slack
    assert len(m.loss_curve_) == m.n_iter_
    assert m.loss_curve_[-1] < m.loss_curve_[0]
    again = SoftmaxRegression(solver=solver, random_state=0, n_iter_no_change=10, **kw)
    np.testing.assert_array_equal(again.fit(X, y).coef_, m.coef_)  # random_state fixes it


def test_lbfgs_loss_curve_decreases_and_warns_at_max_iter():
    X, y = standardized(load_digits)
    with pytest.warns(ConvergenceWarning, match=r"'lbfgs' stopped at max_iter=5"):
        m = SoftmaxRegression(max_iter=5).fit(X, y)
    assert m.n_iter_ == 5 and len(m.loss_curve_) == 6
    assert all(b < a for a, b in zip(m.loss_curve_, m.loss_curve_[1:], strict=False))


@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_a_learning_rate_too_large_to_learn_anything_warns(solver):
    """The loss never fell below its first epoch's: the model is the first epoch's, and
    the user is told why instead of getting a silent 1/3 accuracy."""
    X, y = standardized(load_iris)
    with pytest.warns(ConvergenceWarning, match=rf"^solver '{solver}': the training loss rose "
                                                r"from .* `learning_rate` is too large"):
        m = SoftmaxRegression(solver=solver, learning_rate=50.0, random_state=0).fit(X, y)
    assert m.n_iter_ == 6  # the default patience of 5 epochs after the first


def test_early_stopping_keeps_the_best_weights():
    X, y = standardized(load_digits)
    m = SoftmaxRegression(solver="adam", learning_rate=0.05, max_iter=200, early_stopping=True,
                          validation_fraction=0.2, n_iter_no_change=4, random_state=1, C=1e4)
    m.fit(X, y)
    curve = m.validation_curve_
    assert m.n_iter_ < 200 and len(curve) == m.n_iter_
    best = int(np.argmin(curve))
    assert m.n_iter_ - 1 - best >= 4  # stopped after n_iter_no_change epochs without gain
    # the kept weights are the best epoch's: refit for exactly best+1 epochs to compare
    ref = SoftmaxRegression(solver="adam", learning_rate=0.05, max_iter=best + 1, tol=0.0,
                            n_iter_no_change=10_000, early_stopping=True,
                            validation_fraction=0.2, random_state=1, C=1e4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y)
    np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-12)


def test_warm_start_continues():
    X, y = standardized(load_digits)
    m = SoftmaxRegression(tol=1e-6, max_iter=1000).fit(X, y)
    cold = m.n_iter_
    m.set_params(warm_start=True, C=1.1)
    m.fit(X, y)
    assert m.n_iter_ < cold


def test_verbose_reports_progress(capsys):
    X, y = standardized(load_iris)
    with pytest.warns(ConvergenceWarning):
        SoftmaxRegression(verbose=2, max_iter=3, solver="gd").fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert lines[0].startswith("[SoftmaxRegression(gd)] iter    1  loss ")
    assert len(lines) == 3  # one line per epoch; the final line is not repeated
    SoftmaxRegression(verbose=1, early_stopping=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "val_loss" in out


# ----------------------------------------------------------------------------- errors


def test_bad_input_errors():
    X, y = standardized(load_iris)
    Xn = X.copy()
    Xn[[1, 5, 7], 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN"):
        SoftmaxRegression().fit(Xn, y)
    with pytest.raises(ValueError, match=r"only one class \(np.int64\(1\)\)|only one class"):
        SoftmaxRegression().fit(X, np.ones(len(y), dtype=int))
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples"):
        SoftmaxRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"`sample_weight` must be >= 0, got 1 negative"):
        SoftmaxRegression().fit(X, y, sample_weight=np.r_[-1.0, np.ones(len(y) - 1)])
    with pytest.raises(ValueError, match=r"`sample_weight` has shape \(3,\)"):
        SoftmaxRegression().fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"could not convert string to float"):
        SoftmaxRegression().fit(np.array([["a", "b"], ["c", "d"]]), [0, 1])
    m = SoftmaxRegression()
    with pytest.raises(NotFittedError):
        m.predict(X)
    m.fit(X, y)
    with pytest.raises(ValueError, match=r"X has 3 features, but SoftmaxRegression is expecting 4"):
        m.predict(X[:, :3])
    with pytest.raises(ValueError, match=r"unknown `solver` 'newton'; choose one of lbfgs"):
        SoftmaxRegression(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match=r"unknown `backend` 'tf'"):
        SoftmaxRegression(backend="tf").fit(X, y)
    with pytest.raises(ValueError, match=r"`C` must be a number > 0.0, got -1"):
        SoftmaxRegression(C=-1).fit(X, y)
    with pytest.raises(ValueError, match=r"`class_weight` names label\(s\) \[7\]"):
        SoftmaxRegression(class_weight={7: 1.0}).fit(X, y)


def test_bad_input_on_a_device_backend():
    torch = pytest.importorskip("torch")
    X, y = standardized(load_iris)
    Xt = torch.from_numpy(X.copy())
    Xt[3, 1] = float("inf")
    with pytest.raises(ValueError, match=r"`X` contains 1 NaN or infinite value"):
        SoftmaxRegression().fit(Xt, torch.from_numpy(y))
    m = SoftmaxRegression().fit(torch.from_numpy(X), torch.from_numpy(y))
    with pytest.raises(ValueError, match=r"X has 2 features, but SoftmaxRegression is expecting 4"):
        m.predict(torch.from_numpy(X[:, :2]))


def test_failed_fit_leaves_the_model_unchanged():
    X, y = standardized(load_iris)
    m = SoftmaxRegression().fit(X, y)
    before = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in vars(m).items()}
    with pytest.raises(ValueError, match=r"X has|NaN"):
        Xbad = np.c_[X, X][:, :6]
        Xbad[0, 0] = np.nan
        m.fit(Xbad, y)
    with pytest.raises(ValueError, match=r"only one class"):
        m.fit(X[:, :2], np.zeros(len(y)))
    assert m.n_features_in_ == 4
    for k, v in before.items():
        now = vars(m)[k]
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(now, v)
        else:
            assert now == v
    assert m.predict(X).shape == (len(y),)
