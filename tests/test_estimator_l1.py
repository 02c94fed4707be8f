"""L1 and elastic-net (``l1_ratio``): scikit-learn's SAGA optimum, exact zeros, every backend,
``sparsify``/``densify``.

The references are ``LogisticRegression(solver="saga", tol=1e-10, max_iter=100000)``,
computed once per module. SAGA takes minutes on digits, so the full grid runs with
SOFTMAXREG_SLOW=1 and a representative part of it (every case on wine, the two strongest
penalties on breast cancer, one on digits) always runs.

Two classes: scikit-learn fits the binomial model with one weight vector ``v``; the
multinomial model with ``W = [-v/2, v/2]`` has the same probabilities, and its penalty
``((1-r)/4 |v|^2 + r |v|_1) / (C S)`` (the L1 term of two columns is minimised by any
split, the L2 term by the symmetric one) is the binomial penalty at
``C' = 2C / (1 + r)``, ``r' = 2r / (1 + r)``. So the binomial reference is fitted at
``(C', r')`` and compared at ``(C, r)``; zeros are compared on ``v = W[:, 1] - W[:, 0]``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import assert_array
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import softmaxreg as sr
from softmaxreg import SoftmaxRegression
from softmaxreg._validation import InvalidParameterError

LOADERS = {"wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}


def standardized(name):
    X, y = LOADERS[name](return_X_y=True)
    return StandardScaler().fit_transform(X), y


def objective(X, y, W, b, C, r, s=None):
    """The elastic-net objective of docs/math.md, in float64, written from its formula."""
    s = np.ones(len(y)) if s is None else np.asarray(s, np.float64)
    codes = np.unique(y, return_inverse=True)[1]
    W, b = np.asarray(W, np.float64), np.asarray(b, np.float64)
    Z = X @ W + b
    Z = Z - Z.max(axis=1, keepdims=True)
    ce = np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(len(y)), codes]
    S = s.sum()
    return float(s @ ce / S + ((1 - r) / 2 * (W**2).sum() + r * np.abs(W).sum()) / (C * S))


def binomial_setting(C, r):
    """The binomial (C', r') whose optimum is the two-class multinomial one at (C, r)."""
    return 2 * C / (1 + r), 2 * r / (1 + r)


def saga_fit(X, y, C, r, sample_weight=None):
    two = len(np.unique(y)) == 2
    Cb, rb = binomial_setting(C, r) if two else (C, r)
    with warnings.catch_warnings():
        # SAGA may stop at max_iter on the weakest penalty: then ours must be lower
        warnings.simplefilter("ignore")
        sk = LogisticRegression(solver="saga", l1_ratio=rb, C=Cb, tol=1e-10, max_iter=100000)
        sk.fit(X, y, sample_weight=sample_weight)
    if two:
        v, c = sk.coef_[0], sk.intercept_[0]
        return np.stack([-v / 2, v / 2], axis=1), np.array([-c / 2, c / 2]), v == 0
    return sk.coef_.T, sk.intercept_, sk.coef_.T == 0


def zero_set(W):
    """What is compared with scikit-learn's zeros: W's, or v's for two classes."""
    W = np.asarray(W)
    return (W[:, 1] - W[:, 0]) == 0 if W.shape[1] == 2 else W == 0


@pytest.fixture(scope="module")
def saga():
    """scikit-learn's SAGA optimum per (data set, l1_ratio, C), computed once per module."""
    cache = {}

    def get(name, r, C):
        if (name, r, C) not in cache:
            X, y = standardized(name)
            cache[name, r, C] = saga_fit(X, y, C, r)
        return cache[name, r, C]

    return get


ALWAYS = ({("wine", r, C) for r in (0.5, 1.0) for C in (0.05, 0.5, 5.0)}
          | {("breast_cancer", r, C) for r in (0.5, 1.0) for C in (0.05, 0.5)}
          | {("digits", 0.5, 0.05)})
GRID = [pytest.param(name, r, C, id=f"{name}-r{r}-C{C}",
                     marks=() if (name, r, C) in ALWAYS else pytest.mark.slow)
        for name in LOADERS for r in (0.5, 1.0) for C in (0.05, 0.5, 5.0)]


@pytest.mark.parametrize(("name", "r", "C"), GRID)
def test_reaches_sagas_objective_and_zeros(saga, name, r, C):
    X, y = standardized(name)
    W_sk, b_sk, zeros_sk = saga(name, r, C)
    ours = SoftmaxRegression(C=C, l1_ratio=r, tol=1e-10, max_iter=10000).fit(X, y)
    f_ours = objective(X, y, ours.coef_.T, ours.intercept_, C, r)
    f_sk = objective(X, y, W_sk, b_sk, C, r)
    assert f_ours <= f_sk + 1e-6 * abs(f_sk), (f_ours - f_sk) / f_sk
    agree = np.mean(zero_set(ours.coef_.T) == zeros_sk)
    assert agree >= 0.99, agree
    assert 0 < np.mean(zeros_sk) < 1  # the grid has sparse optima, not trivial ones


def test_weights_scale_the_penalty_as_scikit_learn_does():
    """Row weights and class weights enter S as in scikit-learn; integer weights are
    repeated rows (S counts them), and SAGA with the same weights finds the same optimum."""
    X, y = standardized("wine")
    sw = np.random.default_rng(0).integers(1, 4, size=len(y)).astype(float)
    model = SoftmaxRegression(C=0.5, l1_ratio=0.7, tol=1e-10, max_iter=5000)
    weighted = model.fit(X, y, sample_weight=sw).coef_.copy()
    rows = np.repeat(np.arange(len(y)), sw.astype(int))
    repeated = SoftmaxRegression(C=0.5, l1_ratio=0.7, tol=1e-10, max_iter=5000)
    np.testing.assert_allclose(weighted, repeated.fit(X[rows], y[rows]).coef_, atol=1e-7)
    W_sk, b_sk, _ = saga_fit(X, y, 0.5, 0.7, sample_weight=sw)
    f_ours = objective(X, y, weighted.T, model.intercept_, 0.5, 0.7, sw)
    assert f_ours <= objective(X, y, W_sk, b_sk, 0.5, 0.7, sw) * (1 + 1e-6)
    np.testing.assert_array_equal(weighted == 0, W_sk.T == 0)


@pytest.mark.parametrize("r", [0.5, 1.0])
def test_same_result_on_every_backend(bk, r):
    X, y = standardized("wine")
    kw = dict(C=0.5, l1_ratio=r, tol=1e-10, max_iter=5000)
    ref = SoftmaxRegression(**kw).fit(X, y)
    got = SoftmaxRegression(**kw).fit(bk.asarray(X), bk.asarray(y))
    if bk.lazy:  # Dask models keep their (small) weights on the client, as NumPy
        np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-6)
    else:
        assert_array(got.coef_, ref.coef_, bk, dtype="float64", rtol=0, atol=1e-6)
        assert_array(got.intercept_, ref.intercept_, bk, dtype="float64", rtol=0, atol=1e-6)
    np.testing.assert_array_equal(sr.backends.to_numpy(got.coef_) == 0, ref.coef_ == 0)
    assert np.mean(ref.coef_ == 0) > 0.3


@pytest.mark.parametrize(("solver", "kw", "slack", "agree"), [
    ("gd", dict(learning_rate=0.5, max_iter=4000), 1e-6, 1.0),
    ("sgd", dict(learning_rate=0.2, batch_size=32, max_iter=300), 1e-2, 0.6),
    ("adam", dict(learning_rate=0.01, batch_size=32, max_iter=300), 1e-2, 0.85),
], ids=["gd", "sgd", "adam"])
def test_first_order_solvers_take_proximal_steps(solver, kw, slack, agree):
    """Exact zeros from soft-thresholding, and the objective near OWL-QN's. Full-batch
    proximal gradient (gd) converges to the optimum and its zeros; with a constant step
    the stochastic ones settle in a neighbourhood of it, where the noise of each step
    keeps some coordinates off zero (plain SGD most: its zero set is the least exact)."""
    X, y = standardized("wine")
    best = SoftmaxRegression(C=0.5, l1_ratio=1.0, tol=1e-10, max_iter=5000).fit(X, y)
    f_best = objective(X, y, best.coef_.T, best.intercept_, 0.5, 1.0)
    m = SoftmaxRegression(C=0.5, l1_ratio=1.0, solver=solver, random_state=0, tol=0.0,
                          **kw).fit(X, y)
    f = objective(X, y, m.coef_.T, m.intercept_, 0.5, 1.0)
    assert f_best <= f <= f_best * (1 + slack)
    zeros = m.coef_ == 0
    assert zeros.mean() > 0.3
    assert np.mean(zeros == (best.coef_ == 0)) >= agree
    # the loss curve is the whole objective, L1 term included: its last epoch ends near f
    assert m.loss_curve_[-1] == pytest.approx(f, rel=0.01)


def test_l1_ratio_zero_is_l2_and_no_penalty_at_c_inf():
    X, y = standardized("wine")
    l2 = SoftmaxRegression(C=0.5, tol=1e-9, max_iter=1000).fit(X, y)
    explicit = SoftmaxRegression(C=0.5, l1_ratio=0.0, tol=1e-9, max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(l2.coef_, explicit.coef_)
    free = SoftmaxRegression(C=np.inf, l1_ratio=1.0, tol=1e-9, max_iter=50).fit(X[:60], y[:60])
    plain = SoftmaxRegression(C=np.inf, tol=1e-9, max_iter=50).fit(X[:60], y[:60])
    np.testing.assert_array_equal(free.coef_, plain.coef_)  # C=inf: no penalty at all


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.5", None, float("nan"), True])
def test_bad_l1_ratio_is_refused_and_the_model_is_unchanged(bad):
    X, y = standardized("wine")
    m = SoftmaxRegression(C=0.5, l1_ratio=1.0, max_iter=200).fit(X, y)
    before = m.coef_.copy()
    m.set_params(l1_ratio=bad)
    with pytest.raises(InvalidParameterError,
                       match=rf"^`l1_ratio` must be a finite number >= 0.0 and <= 1.0, "
                             rf"got {re.escape(repr(bad))}$"):
        m.fit(X[:30], y[:30])
    np.testing.assert_array_equal(m.coef_, before)
    assert m.n_features_in_ == X.shape[1]


def test_sparsify_and_densify(tmp_path):
    X, y = standardized("wine")
    m = SoftmaxRegression(C=0.1, l1_ratio=1.0, tol=1e-8, max_iter=2000).fit(X, y)
    dense, proba, pred = m.coef_.copy(), m.predict_proba(X), m.predict(X)
    assert m.sparsify() is m
    assert sp.issparse(m.coef_) and m.coef_.format == "csr"
    assert m.coef_.nnz == np.count_nonzero(dense) < dense.size / 2
    np.testing.assert_array_equal(m.coef_.toarray(), dense)
    np.testing.assert_array_equal(m.predict_proba(X), proba)
    np.testing.assert_array_equal(m.predict(X), pred)
    m.save(tmp_path / "m.npz")
    loaded = SoftmaxRegression.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.coef_, dense)
    assert m.densify() is m
    assert isinstance(m.coef_, np.ndarray)
    np.testing.assert_array_equal(m.coef_, dense)


def test_sparsify_on_another_backend_keeps_computing_there():
    torch = pytest.importorskip("torch")
    X, y = standardized("wine")
    m = SoftmaxRegression(C=0.1, l1_ratio=1.0, max_iter=500).fit(torch.asarray(X),
                                                                 torch.asarray(y))
    dense = m.coef_.clone()
    pred = m.predict(torch.asarray(X))
    m.sparsify()
    assert sp.issparse(m.coef_)  # the host matrix scikit-learn's users expect
    np.testing.assert_array_equal(m.coef_.toarray(), dense.numpy())
    assert torch.equal(m.predict(torch.asarray(X)), pred)
    m.to("numpy")
    assert sp.issparse(m.coef_)  # moving keeps the choice
    assert isinstance(m.densify().coef_, np.ndarray)


def test_sparsify_before_fit_is_refused():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SoftmaxRegression().sparsify()
    with pytest.raises(NotFittedError):
        SoftmaxRegression().densify()
