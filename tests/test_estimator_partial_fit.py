"""``partial_fit``: streaming mini-batch epochs as ``SGDClassifier.partial_fit`` defines them."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import assert_array
from sklearn.datasets import load_digits, load_wine
from sklearn.preprocessing import StandardScaler

import softmaxreg as sr
from softmaxreg import SoftmaxRegression


def standardized(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def fit_objective(X, y, model, C=1.0):
    """What ``fit`` minimises (mean cross-entropy + ||W||^2 / (2 C n)), in float64."""
    return float(sr.loss_and_grad(X, y, np.asarray(model.coef_).T, np.asarray(model.intercept_),
                                  l2=1.0 / (C * len(y)))[0])


@pytest.mark.parametrize(("solver", "lr"), [("sgd", 0.05), ("adam", 0.003)])
def test_twenty_calls_reach_the_loss_of_fit(solver, lr):
    """4 chunks x 5 passes against fit's 5 epochs: the same batch size and number of steps
    (1792 rows = 4 chunks of 7 batches of 64, so no call ends on a remainder batch)."""
    X, y = standardized(load_digits)
    X, y = X[:1792], y[:1792]
    kw = dict(solver=solver, learning_rate=lr, batch_size=64, random_state=0)
    whole = SoftmaxRegression(max_iter=5, tol=0.0, **kw).fit(X, y)
    stream = SoftmaxRegression(**kw)
    chunks = np.array_split(np.random.default_rng(0).permutation(len(y)), 4)
    for epoch in range(5):
        for rows in chunks:
            stream.partial_fit(X[rows], y[rows], classes=np.arange(10) if epoch == 0 else None)
    f_whole, f_stream = fit_objective(X, y, whole), fit_objective(X, y, stream)
    assert f_stream <= 1.01 * f_whole, (f_stream, f_whole)
    assert f_whole < 0.5 * np.log(10)  # both have learnt something
    assert len(stream.loss_curve_) == 20 and stream.n_iter_ == 1
    np.testing.assert_array_equal(stream.classes_, np.arange(10))


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_calls_carry_the_optimizer_state(solver):
    """Without a penalty, two calls on all rows are fit's two epochs exactly: the same
    shuffles, and the optimizer's state (Adam's moments and step count) carried over."""
    X, y = standardized(load_wine)
    kw = dict(C=np.inf, solver=solver, learning_rate=0.05, batch_size=32, random_state=4)
    two_epochs = SoftmaxRegression(max_iter=2, tol=0.0, **kw).fit(X, y)
    stream = SoftmaxRegression(**kw).partial_fit(X, y, classes=[0, 1, 2])
    stream.partial_fit(X, y)
    np.testing.assert_allclose(stream.coef_, two_epochs.coef_, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(stream.loss_curve_, two_epochs.loss_curve_, rtol=1e-12)
    if solver == "adam":
        assert stream._stream.state.count == 2 * 6  # 178 rows: 6 batches per pass


def test_on_every_backend(bk):
    X, y = standardized(load_wine)
    kw = dict(solver="adam", learning_rate=0.05, batch_size=32, random_state=1)
    ref = SoftmaxRegression(**kw)
    m = SoftmaxRegression(**kw)
    for rows in (slice(0, 90), slice(90, 178)):
        ref.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        Xb, yb = bk.asarray(X[rows]), bk.asarray(y[rows])
        if bk.lazy:  # on Dask a batch is a chunk
            Xb, yb = Xb.rechunk(32), yb.rechunk(32)
        m.partial_fit(Xb, yb, classes=[0, 1, 2])
    assert m.backend_ == bk.library and len(m.loss_curve_) == 2
    if bk.lazy:
        assert isinstance(m.coef_, np.ndarray)  # the weights live on the client
        assert m.score(X, y) > 0.8
        return
    assert_array(m.coef_, ref.coef_, bk, dtype="float64", rtol=1e-9, atol=1e-12)
    assert_array(m._stream.state.mu[0], ref._stream.state.mu[0], bk, dtype="float64",
                 rtol=1e-9, atol=1e-12)  # the carried state is on the model's backend


def streaming_model():
    X, y = standardized(load_wine)
    m = SoftmaxRegression(solver="sgd", learning_rate=0.05, batch_size=16, random_state=0)
    return m.partial_fit(X[:100], y[:100], classes=[0, 1, 2]), X, y


def assert_unchanged(m, before):
    coef, intercept, curve, state = before
    np.testing.assert_array_equal(m.coef_, coef)
    np.testing.assert_array_equal(m.intercept_, intercept)
    assert m.loss_curve_ == curve and m._stream is state


def snapshot(m):
    return m.coef_.copy(), m.intercept_.copy(), list(m.loss_curve_), m._stream


def test_a_new_label_is_refused_and_the_model_is_unchanged():
    m, X, y = streaming_model()
    before = snapshot(m)
    with pytest.raises(ValueError, match=r"^`y` holds label 7, which is not among the classes "
                                         r"\[0, 1, 2\]$"):
        m.partial_fit(X[100:], np.where(y[100:] == 2, 7, y[100:]))
    assert_unchanged(m, before)
    with pytest.raises(ValueError, match=r"^`classes`=\[0, 1, 2, 3\] is not the same as on the "
                                         r"first call to partial_fit, which was \[0, 1, 2\]$"):
        m.partial_fit(X[100:], y[100:], classes=[0, 1, 2, 3])
    assert_unchanged(m, before)


def test_a_different_feature_count_is_refused_and_the_model_is_unchanged():
    m, X, y = streaming_model()
    before = snapshot(m)
    with pytest.raises(ValueError, match="X has 12 features, but SoftmaxRegression is "
                                         "expecting 13 features as input"):
        m.partial_fit(X[100:, :12], y[100:])
    assert_unchanged(m, before)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="X has 12 features, but SoftmaxRegression is "
                                         "expecting 13 features as input"):
        m.partial_fit(torch.asarray(X[100:, :12]), y[100:])
    assert_unchanged(m, before)


def test_a_different_backend_is_refused_and_the_model_is_unchanged():
    torch = pytest.importorskip("torch")
    m, X, y = streaming_model()
    before = snapshot(m)
    with pytest.raises(ValueError, match=r"^`X` is a torch on cpu array but this model trains "
                                         r"on numpy on cpu; pass numpy on cpu arrays"):
        m.partial_fit(torch.asarray(X[100:]), torch.asarray(y[100:]))
    assert_unchanged(m, before)
    # the other way round: a stream on torch refuses NumPy data...
    t = SoftmaxRegression(solver="sgd", batch_size=16).partial_fit(
        torch.asarray(X[:100]), torch.asarray(y[:100]), classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"trains on torch on cpu; .* set backend='torch'"):
        t.partial_fit(X[100:], y[100:])
    # ...unless the model says where host data goes
    t.set_params(backend="torch").partial_fit(X[100:], y[100:])
    assert t.backend_ == "torch" and len(t.loss_curve_) == 2


@pytest.mark.parametrize(("params", "call", "match"), [
    ({}, dict(classes=None), r"^`classes` is required on the first call to partial_fit"),
    ({}, dict(classes=[1]), r"^`classes` must hold at least two labels, got \[1\]$"),
    ({"class_weight": "balanced"}, dict(classes=[0, 1, 2]),
     r"^class_weight='balanced' needs the whole of `y`"),
    ({"early_stopping": True}, dict(classes=[0, 1, 2]),
     r"^`partial_fit` makes one pass per call and holds out nothing"),
])
def test_first_call_mistakes_leave_the_model_unfitted(params, call, match):
    X, y = standardized(load_wine)
    m = SoftmaxRegression(solver="adam", **params)
    with pytest.raises(ValueError, match=match):
        m.partial_fit(X, y, **call)
    assert not hasattr(m, "classes_") and not hasattr(m, "coef_")


def test_partial_fit_exists_for_minibatch_solvers_only():
    assert not hasattr(SoftmaxRegression(), "partial_fit")
    assert hasattr(SoftmaxRegression(solver="adam"), "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as err:
        SoftmaxRegression(solver="lbfgs").partial_fit  # noqa: B018 - the lookup raises
    assert "needs solver='sgd' or 'adam', got solver='lbfgs'" in str(err.value.__cause__)


def test_partial_fit_continues_a_fitted_model_and_fit_starts_afresh():
    X, y = standardized(load_wine)
    m = SoftmaxRegression(solver="sgd", learning_rate=1e-6, batch_size=32, max_iter=300,
                          tol=0.0, random_state=0).fit(X, y)
    fitted = m.coef_.copy()
    m.partial_fit(X, y)  # no `classes`: the fitted model knows them
    np.testing.assert_allclose(m.coef_, fitted, atol=1e-5)  # a tiny step from fit's weights
    assert not np.array_equal(m.coef_, fitted)
    assert hasattr(m, "_stream")
    m.fit(X[:60], y[:60])
    assert not hasattr(m, "_stream")
