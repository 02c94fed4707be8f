"""SoftmaxRegressionCV: LogisticRegressionCV's choices and attributes, on every backend."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _helpers import assert_array
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

import softmaxreg as sr
from softmaxreg import SoftmaxRegression, SoftmaxRegressionCV
from softmaxreg._validation import InvalidParameterError

CS = np.logspace(-4, 4, 10)  # what Cs=10 means to both


def standardized(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def sklearn_cv(X, y, **kw):
    """LogisticRegressionCV with scikit-learn 1.8+'s attributes and no deprecation noise."""
    kw = {"Cs": CS, "l1_ratios": (0.0,), "scoring": None, "use_legacy_attributes": False,
          **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=100 at C=1e4
        return LogisticRegressionCV(**kw).fit(X, y)


def ours_cv(X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the same fits stop at 100
        return SoftmaxRegressionCV(**kw).fit(X, y)


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer, load_digits],
                         ids=["iris", "wine", "breast_cancer", "digits"])
def test_chooses_logistic_regression_cvs_c(loader):
    """Same folds (StratifiedKFold(5)), same scorer (accuracy), default tol and max_iter.

    Two classes: scikit-learn's binomial model at 2C is our multinomial one at C
    (docs/math.md), so our grid is scikit-learn's halved and C_ doubles back.
    """
    X, y = standardized(loader)
    two = len(np.unique(y)) == 2
    sk = sklearn_cv(X, y)
    ours = ours_cv(X, y, Cs=CS / 2 if two else 10)
    assert ours.C_ * (2 if two else 1) == pytest.approx(sk.C_, rel=1e-12)
    assert ours.l1_ratio_ == sk.l1_ratio_ == 0.0
    # every fold's accuracy where the penalty makes the optimum well determined (C <= 1;
    # weaker ones leave a flat objective, where tol=1e-4 stops both anywhere on it): the
    # same but for a borderline row or two
    strong = CS <= 1
    np.testing.assert_allclose(ours.scores_[:, :, strong], sk.scores_[:, :, strong],
                               atol=2.5 / (len(y) / 5))
    k, d = len(np.unique(y)), X.shape[1]
    assert ours.coefs_paths_.shape == (5, 1, 10, k, d + 1)
    assert ours.scores_.shape == ours.n_iter_.shape == (5, 1, 10)
    np.testing.assert_allclose(ours.Cs_, CS / 2 if two else CS)
    np.testing.assert_array_equal(ours.l1_ratios_, [0.0])
    assert ours.coef_.shape == (k, d) and ours.score(X, y) == pytest.approx(sk.score(X, y),
                                                                           abs=2 / len(y))


def test_neg_log_loss_and_refit_false_choose_as_scikit_learn():
    X, y = standardized(load_iris)
    kw = dict(Cs=np.logspace(-3, 2, 6), scoring="neg_log_loss", refit=False, tol=1e-6,
              max_iter=1000)
    sk = sklearn_cv(X, y, **kw)
    ours = ours_cv(X, y, **kw)
    assert ours.C_ == pytest.approx(sk.C_, rel=1e-12)  # the mean of the folds' best Cs
    # 1e-3: at C=100 iris is nearly separable and both stop (tol=1e-6) on a flat objective
    np.testing.assert_allclose(ours.scores_, sk.scores_, rtol=1e-3)
    # refit=False: the weights are the mean of each fold's best
    best = np.argmax(ours.scores_[:, 0, :], axis=1)
    mean = np.mean([ours.coefs_paths_[f, 0, c] for f, c in enumerate(best)], axis=0)
    np.testing.assert_allclose(ours.coef_, mean[:, :-1], rtol=1e-12)
    np.testing.assert_allclose(ours.intercept_, mean[:, -1], rtol=1e-12)


def test_path_is_warm_started_and_the_refit_is_the_chosen_model():
    X, y = standardized(load_wine)
    Cs = [10.0, 0.01, 1.0, 0.1]
    cv = ours_cv(X, y, Cs=Cs, tol=1e-8, max_iter=1000, cv=3)
    np.testing.assert_array_equal(cv.Cs_, Cs)  # the order given
    train, _ = next(iter(StratifiedKFold(3).split(X, y)))
    cold = [SoftmaxRegression(C=C, tol=1e-8, max_iter=1000).fit(X[train], y[train])
            for C in Cs]
    # each path entry of fold 0 is the optimum on that fold's training rows (to 2e-5: at
    # C=10 a gradient of 1e-8 still leaves the weights that far apart)...
    for i, model in enumerate(cold):
        np.testing.assert_allclose(cv.coefs_paths_[0, 0, i, :, :-1], model.coef_, atol=2e-5)
        np.testing.assert_allclose(cv.coefs_paths_[0, 0, i, :, -1], model.intercept_,
                                   atol=2e-5)
    # ...reached in fewer iterations: each fit starts from the previous (stronger) one
    assert cv.n_iter_[0, 0].sum() < sum(m.n_iter_ for m in cold)
    final = SoftmaxRegression(C=cv.C_, tol=1e-8, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(cv.coef_, final.coef_, atol=2e-5)
    assert cv.C_ in cv.Cs_


def test_elastic_net_grid():
    X, y = standardized(load_wine)
    cv = ours_cv(X, y, Cs=[0.05, 0.5, 5.0], l1_ratios=(0.0, 0.5, 1.0), cv=3, tol=1e-6,
                 max_iter=500)
    assert cv.scores_.shape == (3, 3, 3) and cv.coefs_paths_.shape == (3, 3, 3, 3, 14)
    assert cv.l1_ratio_ in (0.0, 0.5, 1.0) and cv.C_ in (0.05, 0.5, 5.0)
    # the path at l1_ratio=1, C=0.05 is sparse; its L2 neighbour is not
    assert np.mean(cv.coefs_paths_[:, 2, 0, :, :-1] == 0) > 0.5
    assert np.mean(cv.coefs_paths_[:, 0, 0, :, :-1] == 0) == 0
    best = np.unravel_index(np.argmax(cv.scores_.sum(axis=0).T), (3, 3))
    assert (cv.C_, cv.l1_ratio_) == ((0.05, 0.5, 5.0)[best[0]], (0.0, 0.5, 1.0)[best[1]])


def test_on_every_backend(bk):
    X, y = standardized(load_iris)
    kw = dict(Cs=[0.01, 0.1, 1.0], cv=3, tol=1e-8, max_iter=500)
    ref = ours_cv(X, y, **kw)
    got = ours_cv(bk.asarray(X), bk.asarray(y), **kw)
    assert got.C_ == ref.C_ and got.backend_ == bk.library
    np.testing.assert_allclose(got.scores_, ref.scores_, atol=1e-12)
    if bk.lazy:  # Dask keeps the (small) weights on the client, as NumPy
        np.testing.assert_allclose(got.coefs_paths_, ref.coefs_paths_, atol=1e-5)
        return
    assert_array(got.coefs_paths_, ref.coefs_paths_, bk, dtype="float64", atol=1e-5)
    assert_array(got.coef_, ref.coef_, bk, dtype="float64", atol=1e-5)
    assert_array(got.predict(bk.asarray(X)), ref.predict(X), bk)


def test_scorers_and_splitters_of_scikit_learn():
    X, y = standardized(load_breast_cancer)
    kw = dict(Cs=[0.01, 1.0], tol=1e-6, max_iter=500)
    folds = KFold(4, shuffle=True, random_state=0)
    auc = ours_cv(X, y, scoring="roc_auc", cv=folds, **kw)
    assert auc.scores_.shape == (4, 1, 2) and np.all(auc.scores_ > 0.9)
    custom = ours_cv(X, y, scoring=lambda est, X_, y_: float(np.mean(est.predict(X_) == y_)),
                     cv=folds, **kw)
    plain = ours_cv(X, y, cv=folds, **kw)
    np.testing.assert_allclose(custom.scores_, plain.scores_, rtol=1e-15)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    weighted = SoftmaxRegressionCV(cv=folds, **kw).fit(X, y, sample_weight=sw)
    assert not np.allclose(weighted.scores_, plain.scores_)  # weighted accuracy on each fold


@pytest.mark.parametrize(("params", "match"), [
    (dict(Cs=0), r"^`Cs` must be an integer >= 1, got 0$"),
    (dict(Cs=[1.0, -1.0]), r"^`Cs` must be a finite number > 0.0, got -1.0$"),
    (dict(Cs=[]), r"^`Cs` must hold at least one value, got \[\]$"),
    (dict(l1_ratios=1.5), r"^`l1_ratios` must be a sequence of numbers, got 1.5$"),
    (dict(l1_ratios=(0.5, 2.0)), r"^`l1_ratios` must be a finite number >= 0.0 and <= 1.0, "
                                 r"got 2.0$"),
    (dict(scoring=3), r"^`scoring` must be None, a scorer name or a callable, got 3$"),
    (dict(refit="yes"), r"^`refit` must be a bool \(True or False\), got 'yes'$"),
    (dict(solver="newton"), r"^unknown `solver` 'newton'"),
])
def test_bad_parameters_are_refused_and_a_fitted_model_is_kept(params, match):
    X, y = standardized(load_iris)
    cv = ours_cv(X, y, Cs=[1.0], cv=3)
    coef = cv.coef_.copy()
    cv.set_params(**params)
    with pytest.raises(InvalidParameterError, match=match):
        cv.fit(X, y)
    np.testing.assert_array_equal(cv.coef_, coef)
    assert cv.Cs_.tolist() == [1.0]


def test_save_writes_the_final_model(tmp_path):
    X, y = standardized(load_wine)
    cv = ours_cv(X, y, Cs=[0.1, 1.0], l1_ratios=(0.5,), cv=3)
    cv.save(tmp_path / "m.npz")
    back = SoftmaxRegression.load(tmp_path / "m.npz")
    assert (back.C, back.l1_ratio) == (cv.C_, 0.5)
    np.testing.assert_array_equal(back.predict_proba(X), cv.predict_proba(X))
    assert not hasattr(cv, "partial_fit")
    assert sr.SoftmaxRegressionCV is SoftmaxRegressionCV
