"""SoftmaxRegression on the inputs and parameters users really hand it: each test here
was a silent wrong answer or a crash before (issue: correct on every input)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import softmaxreg as sr
from softmaxreg import SoftmaxRegression


def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def objective(m, X, y, C):
    codes = np.unique(y, return_inverse=True)[1]
    return float(sr.loss_and_grad(X, codes, np.asarray(m.coef_.T, np.float64),
                                  np.asarray(m.intercept_, np.float64),
                                  l2=1 / (C * len(y)))[0])


# ----------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(("params", "match"), [
    ({"fit_intercept": "False"}, r"`fit_intercept` must be a bool \(True or False\), got 'False'"),
    ({"warm_start": "False"}, r"`warm_start` must be a bool \(True or False\), got 'False'"),
    ({"early_stopping": 1}, r"`early_stopping` must be a bool \(True or False\), got 1"),
    ({"verbose": "yes"}, r"`verbose` must be an integer >= 0, got 'yes'"),
    ({"verbose": True}, r"`verbose` must be an integer >= 0, got True"),
    ({"random_state": "0"}, r"`random_state` must be None, an int >= 0, a numpy Generator or "
                            r"RandomState, got '0'"),
    ({"random_state": -1}, r"`random_state` must be None, an int >= 0"),
    ({"max_iter": 10.0}, r"`max_iter` must be an integer >= 0, got 10.0"),
    ({"batch_size": True}, r"`batch_size` must be an integer >= 1, got True"),
    ({"tol": "1e-4"}, r"`tol` must be a finite number >= 0.0, got '1e-4'"),
    ({"dtype": np.dtype("float16")}, r"`dtype` must be None, 'float32' or 'float64', "
                                     r"got dtype\('float16'\)"),
    ({"dtype": "complex128"}, r"`dtype` must be None, 'float32' or 'float64', got 'complex128'"),
    ({"dtype": np.complex128}, r"`dtype` must be None"),
    ({"class_weight": "auto"}, r"`class_weight` must be None, 'balanced' or a dict"),
    ({"validation_fraction": 1.5, "early_stopping": True}, r"`validation_fraction` must be"),
])
def test_parameters_are_validated_at_fit(params, match):
    X, y = iris()
    m = SoftmaxRegression(**params)
    with pytest.raises(ValueError, match=match) as info:
        m.fit(X, y)
    assert isinstance(info.value, TypeError)  # InvalidParameterError is both, as sklearn's
    assert not hasattr(m, "coef_")


def test_float32_and_float64_dtype_objects_are_accepted():
    X, y = iris()
    for dt in ("float32", np.float32, np.dtype("float64")):
        m = SoftmaxRegression(dtype=dt).fit(X, y)
        assert m.coef_.dtype == np.dtype(dt)


@pytest.mark.parametrize("kw", [{}, {"l1_ratio": 0.5}, {"solver": "sgd", "l1_ratio": 1.0},
                                {"solver": "adam", "batch_size": 16}],
                         ids=["lbfgs", "owlqn", "proximal-sgd", "adam"])
def test_max_iter_zero_returns_the_initial_point_with_a_warning(kw):
    """As LogisticRegression(max_iter=0): accepted, the starting point, a warning."""
    X, y = iris()
    with pytest.warns(ConvergenceWarning):
        m = SoftmaxRegression(max_iter=0, **kw).fit(X, y)
    assert m.n_iter_ == 0
    np.testing.assert_array_equal(m.coef_, 0.0)


def test_max_iter_zero_in_cross_validation():
    from softmaxreg import SoftmaxRegressionCV

    X, y = iris()
    with pytest.warns(ConvergenceWarning):
        cv = SoftmaxRegressionCV(Cs=2, cv=3, max_iter=0).fit(X, y)
    np.testing.assert_array_equal(cv.n_iter_, 0)
    np.testing.assert_array_equal(cv.coef_, 0.0)
    assert cv.C_ == cv.Cs_[0]  # every score ties: the smallest C, as scikit-learn picks


# ----------------------------------------------------------------------------- stopping


def test_adam_with_tol_zero_never_stops_early():
    """It stopped at epoch 18 on Adam's early wobble, 0.6% above the optimum."""
    X, y = make_classification(200, 10, n_informative=5, random_state=42)
    kw = {"C": 0.05, "fit_intercept": False}
    best = SoftmaxRegression(tol=1e-10, max_iter=1000, **kw).fit(X, y)
    m = SoftmaxRegression(solver="adam", learning_rate=0.01, max_iter=3000, tol=0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # like scikit-learn's tol=None: no warning either
        m.fit(X, y)
    assert m.n_iter_ == 3000
    f, f_best = objective(m, X, y, 0.05), objective(best, X, y, 0.05)
    # both sit at the optimum: the lower bound allows for rounding in the last digits
    assert f_best * (1 - 1e-12) <= f <= f_best * (1 + 1e-6)


@pytest.mark.parametrize("solver", ["sgd", "adam", "gd"])
def test_patience_keeps_the_best_weights(solver):
    """When the epoch loss stops improving, the weights of the best epoch are kept,
    not those of the last (worse) epoch."""
    X, y = make_classification(300, 8, n_informative=5, n_classes=3, random_state=3)
    lr = {"gd": 3.0, "sgd": 0.5, "adam": 0.3}[solver]
    m = SoftmaxRegression(solver=solver, learning_rate=lr, batch_size=16, max_iter=200,
                          tol=1e-3, n_iter_no_change=3, random_state=0, C=1e4)
    # gd at this rate never beats its first epoch: kept, with the divergence warning
    with (pytest.warns(ConvergenceWarning, match=r"training loss rose") if solver == "gd"
          else warnings.catch_warnings()):
        if solver != "gd":
            warnings.simplefilter("error")
        m.fit(X, y)
    curve = np.asarray(m.loss_curve_)
    assert m.n_iter_ < 200
    best = int(np.argmin(curve))
    assert m.n_iter_ - 1 - best >= 1  # it stopped after worse epochs
    ref = SoftmaxRegression(solver=solver, learning_rate=lr, batch_size=16, max_iter=best + 1,
                            tol=0, random_state=0, C=1e4).fit(X, y)
    np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-12)


# ----------------------------------------------------------------------------- score


def test_score_refuses_mismatched_lengths():
    X, y = iris()
    m = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"`y` has 1 labels but `X` has 150 rows"):
        m.score(X, y[:1])
    with pytest.raises(ValueError, match=r"`sample_weight` has 1 entries but `X` has 150 rows"):
        m.score(X, y, sample_weight=np.ones(1))
    sw = np.linspace(0, 2, len(y))
    hits = m.predict(X) == y
    assert m.score(X, y, sample_weight=sw) == pytest.approx((hits * sw).sum() / sw.sum())


# ----------------------------------------------------------------------------- torch, Dask


def test_fit_on_tensors_that_require_grad():
    torch = pytest.importorskip("torch")
    X, y = iris()
    Xt = torch.tensor(X, requires_grad=True)
    m = SoftmaxRegression().fit(Xt, torch.from_numpy(y))
    ref = SoftmaxRegression().fit(X, y)
    np.testing.assert_allclose(m.coef_.detach().numpy(), ref.coef_, rtol=1e-8, atol=1e-10)
    assert not m.coef_.requires_grad
    assert m.predict_proba(Xt).shape == (150, 3)


@pytest.fixture
def dask_model():
    da = pytest.importorskip("dask.array")
    X, y = iris()
    m = SoftmaxRegression().fit(da.from_array(X, chunks=50), da.from_array(y, chunks=50))
    return da, X, y, m


def test_dask_predict_with_nan_rows_raises_when_computed(dask_model):
    """It returned classes_[0] for NaN rows without error."""
    da, X, y, m = dask_model
    Xn = X.copy()
    Xn[[3, 70], 1] = np.nan
    for method in (m.predict, m.predict_proba, m.decision_function):
        lazy = method(da.from_array(Xn, chunks=50))  # lazy: no error before compute
        with pytest.raises(ValueError, match=r"`X` contains 2 NaN or infinite value\(s\)"):
            lazy.compute()


def test_dask_validation_data_with_nan_is_refused(dask_model):
    da, X, y, _ = dask_model
    Xv = X[:30].copy()
    Xv[0, 0] = np.inf
    m = SoftmaxRegression(early_stopping=True, solver="adam", max_iter=20)
    with pytest.raises(ValueError, match=r"`X` contains 1 NaN or infinite value\(s\)"):
        m.fit(da.from_array(X, chunks=50), da.from_array(y, chunks=50),
              validation_data=(da.from_array(Xv, chunks=10), y[:30]))
    assert not hasattr(m, "coef_")


def test_dask_training_data_with_nan_is_refused(dask_model):
    da, X, y, _ = dask_model
    Xn = X.copy()
    Xn[100, 2] = np.nan
    with pytest.raises(ValueError, match=r"`X` contains 1 NaN or infinite value\(s\)"):
        SoftmaxRegression().fit(da.from_array(Xn, chunks=50), da.from_array(y, chunks=50))


def test_dask_unknown_chunk_sizes_are_computed(dask_model):
    da, X, y, ref = dask_model
    Xd = da.from_array(X, chunks=50)
    keep = Xd[:, 0] > -100  # every row, but the chunk sizes become unknown
    Xd, yd = Xd[keep], da.from_array(y, chunks=50)[keep]
    assert np.isnan(Xd.shape[0])
    m = SoftmaxRegression().fit(Xd, yd)
    np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- behaviour
# Each of these was a one-line bug that no test caught (a mutation-testing sample).


def test_warm_start_starts_from_the_previous_optimum():
    """Ignoring warm_start still passed the old test (86 < 89 iterations)."""
    from sklearn.datasets import load_digits

    X = StandardScaler().fit_transform(load_digits().data)
    y = load_digits().target
    m = SoftmaxRegression(tol=1e-5, max_iter=1000).fit(X, y)
    assert m.n_iter_ > 20
    m.set_params(warm_start=True)
    m.fit(X, y)
    assert m.n_iter_ <= 2  # already at the optimum
    m.set_params(warm_start=False)
    m.fit(X, y)
    assert m.n_iter_ > 20


def test_early_stopping_tol_is_the_improvement_needed():
    X, y = iris()
    kw = {"solver": "adam", "learning_rate": 0.01, "max_iter": 100, "early_stopping": True,
          "n_iter_no_change": 3, "random_state": 0}
    m = SoftmaxRegression(tol=10.0, **kw).fit(X, y)
    assert m.n_iter_ == 4  # the first epoch sets the best; no later one gains 10
    with pytest.warns(ConvergenceWarning):  # still improving by more than 1e-4 at 100
        m = SoftmaxRegression(tol=1e-4, **kw).fit(X, y)
    assert m.n_iter_ == 100


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_sample_weights_are_refused(bad):
    X, y = iris()
    sw = np.ones(len(y))
    sw[4] = bad
    with pytest.raises(ValueError, match=r"`sample_weight` must be finite, got NaN or infinite"):
        SoftmaxRegression().fit(X, y, sample_weight=sw)


def test_lbfgs_iterations_are_on_par_with_scikit_learn():
    """Without the initial Hessian scaling L-BFGS takes 3-5x more iterations."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    X = StandardScaler().fit_transform(load_digits().data)
    y = load_digits().target
    ours = SoftmaxRegression(tol=1e-6, max_iter=2000).fit(X, y).n_iter_
    theirs = int(LogisticRegression(tol=1e-6, max_iter=2000).fit(X, y).n_iter_[0])
    assert ours <= 1.5 * theirs, (ours, theirs)


# ----------------------------------------------------------------------------- DataFrames


def _frame_problem():
    X, y = iris()
    return X[:, :3], y


def test_pandas_nullable_and_arrow_columns_give_the_numpy_answer():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X, y = _frame_problem()
    Xi = np.round(X * 10)  # integers, for the nullable integer column
    frame = pd.DataFrame({"a": pd.array(Xi[:, 0].astype(int), dtype="Int64"),
                          "b": pd.array(X[:, 1], dtype="Float64"),
                          "c": pd.array(X[:, 2], dtype="float64[pyarrow]")})
    ref = SoftmaxRegression().fit(np.column_stack([Xi[:, 0], X[:, 1], X[:, 2]]), y)
    m = SoftmaxRegression().fit(frame, y)
    np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-10)
    assert list(m.feature_names_in_) == ["a", "b", "c"]
    frame.loc[3, "a"] = pd.NA
    with pytest.raises(ValueError, match=r"`X` contains 1 NaN or infinite"):
        SoftmaxRegression().fit(frame, y)


@pytest.mark.parametrize(("column", "match"), [
    ("category", r"column '(bad|c)' has dtype category, which is not numeric: encode it"),
    ("object", r"column '(bad|c)' has dtype (object|str), which is not numeric: encode it"),
    ("datetime", r"column '(bad|c)' has dtype datetime64\[\w+\], which is not numeric: "
                 r"convert it to numbers"),
])
def test_non_numeric_pandas_columns_are_refused_by_name(column, match):
    pd = pytest.importorskip("pandas")
    X, y = _frame_problem()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    values = {"category": pd.Categorical(np.where(y == 0, "x", "y")),
              "object": np.where(y == 0, "1.5", "x").astype(object),
              "datetime": pd.date_range("2020-01-01", periods=len(y))}[column]
    frame["bad"] = values
    with pytest.raises(ValueError, match="`X` " + match):
        SoftmaxRegression().fit(frame, y)
    numbers = frame.assign(bad=(np.arange(len(y)) % 3).astype(object))  # object: all numbers
    assert SoftmaxRegression().fit(numbers, y).n_features_in_ == 4
    m = SoftmaxRegression().fit(frame[["a", "b", "c"]], y)
    with pytest.raises(ValueError, match="`X` " + match):  # at predict time too
        m.predict(frame[["a", "b"]].assign(c=values))


@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_polars_frames_give_the_numpy_answer(solver):
    pl = pytest.importorskip("polars")
    X, y = _frame_problem()
    kw = {"solver": solver, "random_state": 0, "max_iter": 5 if solver == "sgd" else 100,
          "batch_size": 16 if solver == "sgd" else None}
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    frame = pl.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = SoftmaxRegression(**kw).fit(X, names)
        m = SoftmaxRegression(**kw).fit(frame, pl.Series(names))
    np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    assert list(m.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_array_equal(m.predict(frame), ref.predict(X))
    bad = frame.with_columns(pl.Series("b", np.where(y == 0, "x", "y")))
    with pytest.raises(ValueError, match=r"`X` column 'b' has dtype String, which is not numeric"):
        SoftmaxRegression().fit(bad, y)


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_float32_frames_stay_float32(kind):
    lib = pytest.importorskip(kind)
    X, y = _frame_problem()
    X32 = X.astype(np.float32)
    columns = {"a": X32[:, 0], "b": X32[:, 1], "c": X32[:, 2]}
    frame = lib.table(columns) if kind == "pyarrow" else lib.DataFrame(columns)
    m = SoftmaxRegression().fit(frame, y)
    assert m.coef_.dtype == np.float32
    np.testing.assert_allclose(m.coef_, SoftmaxRegression().fit(X32, y).coef_, rtol=1e-6)


def test_an_unusable_device_is_refused_naming_backend_and_device():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    X, y = _frame_problem()
    m = SoftmaxRegression(backend="torch", device="cuda")
    with pytest.raises(ValueError, match=r"backend='torch', device='cuda' cannot be used here"):
        m.fit(X, y)
    assert not hasattr(m, "coef_")


@pytest.mark.parametrize("kind", ["numpy", "torch", "dask"])
def test_column_vector_labels_warn_as_scikit_learn_does_and_train_the_same(kind):
    from sklearn.exceptions import DataConversionWarning

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ref = SoftmaxRegression().fit(X, y)
    if kind == "torch":
        torch = pytest.importorskip("torch")
        X, y = torch.from_numpy(X), torch.from_numpy(y)
    elif kind == "dask":
        da = pytest.importorskip("dask.array")
        X, y = da.from_array(X, chunks=50), da.from_array(y, chunks=50)
    with pytest.warns(DataConversionWarning, match=r"^A column-vector y was passed"):
        m = SoftmaxRegression().fit(X, y[:, None])
    np.testing.assert_allclose(sr.backends.to_numpy(m.coef_), ref.coef_, atol=1e-6)
