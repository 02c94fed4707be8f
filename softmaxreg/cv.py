"""``SoftmaxRegressionCV``: ``C`` and ``l1_ratio`` chosen by cross-validation, as
scikit-learn's ``LogisticRegressionCV`` chooses them, on any array backend."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import get_scorer, make_scorer
from sklearn.model_selection import check_cv

from . import backends
from . import solvers as S
from ._compat import array_namespace, dtype_name
from ._validation import (
    InvalidParameterError,
    check_bool,
    check_int,
    check_number,
    seed,
)
from .estimator import SoftmaxBase, SoftmaxRegression, penalties

__all__ = ["SoftmaxRegressionCV"]


class SoftmaxRegressionCV(SoftmaxBase):
    """Softmax regression with ``C`` (and ``l1_ratio``) chosen by cross-validation.

    A drop-in for scikit-learn's ``LogisticRegressionCV``: for every fold of
    ``cv`` (``StratifiedKFold(cv)`` for an integer, as scikit-learn) and every
    ``l1_ratio``, the path over ``Cs`` is fitted from the strongest penalty to
    the weakest, each fit starting from the previous one's weights; each fit
    is scored on the held-out fold with ``scoring``. With ``refit=True`` the
    ``(C, l1_ratio)`` of the best mean score is refitted on all rows, starting
    from the folds' mean weights; with ``refit=False`` the weights and
    ``C``/``l1_ratio`` of each fold's best are averaged. Everything runs on the
    data's backend and device; only the scores come to the host.

    The objective of each fit is :class:`SoftmaxRegression`'s, with ``S`` the
    weight of the fold's training rows (``class_weight="balanced"`` is computed
    once on all rows, as scikit-learn does). Ties between scores go to the
    smallest ``C``, then the first ``l1_ratio``, as in scikit-learn.

    Parameters
    ----------
    Cs : int or sequence of float, default=10
        The ``C`` values, or their number on ``np.logspace(-4, 4, Cs)``.
    l1_ratios : sequence of float in [0, 1], default=(0.0,)
        Elastic-net mixing values to try (0: L2, 1: L1).
    cv : int, cross-validation splitter or iterable, default=5
    scoring : None, str or callable, default=None
        None is accuracy (scikit-learn's ``None``); a name from
        ``sklearn.metrics.get_scorer_names()`` or a scorer ``(model, X, y)``.
    refit : bool, default=True
    fit_intercept, class_weight, solver, learning_rate, batch_size, max_iter, tol,
    n_iter_no_change, backend, device, dtype, random_state, verbose
        As for :class:`SoftmaxRegression`, for every fit of the path.

    Attributes
    ----------
    C_ : float
    l1_ratio_ : float
    Cs_ : ndarray of shape (n_cs,)
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_cs)
    coefs_paths_ : array of shape (n_folds, n_l1_ratios, n_cs, n_classes, n_features + 1)
        In the model's backend; the last column is the intercept (absent with
        ``fit_intercept=False``).
    n_iter_ : ndarray of shape (n_folds, n_l1_ratios, n_cs)
    coef_, intercept_, classes_, n_features_in_, backend_, device_
        The final model, as on :class:`SoftmaxRegression`.

    These are the shapes of ``LogisticRegressionCV(use_legacy_attributes=False)``
    (scikit-learn 1.8+), except that two classes keep two rows of
    coefficients (the model is multinomial).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from softmaxreg import SoftmaxRegressionCV
    >>> X, y = load_iris(return_X_y=True)
    >>> cv = SoftmaxRegressionCV(Cs=5).fit(StandardScaler().fit_transform(X), y)
    >>> cv.scores_.shape, float(cv.C_) in cv.Cs_
    ((5, 1, 5), True)
    """

    def __init__(self, *, Cs: Any = 10, l1_ratios: Any = (0.0,), cv: Any = 5,
                 scoring: Any = None, refit: bool = True, fit_intercept: bool = True,
                 class_weight: Any = None, solver: str = "lbfgs", learning_rate: float = 0.1,
                 batch_size: int | None = None, max_iter: int = 100, tol: float = 1e-4,
                 n_iter_no_change: int = 5, backend: str | None = None, device: Any = None,
                 dtype: str | None = None, random_state: Any = None, verbose: int = 0):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ parameters

    def _check_params(self) -> tuple[np.ndarray, np.ndarray]:
        """Every parameter, checked; returns the grids ``(Cs, l1_ratios)``."""
        self._check_shared_params()
        check_bool("refit", self.refit)
        if isinstance(self.Cs, (int, np.integer)) and not isinstance(self.Cs, bool):
            Cs = np.logspace(-4, 4, check_int("Cs", self.Cs, lo=1))
        else:
            Cs = self._grid("Cs", self.Cs, lambda v: check_number("Cs", v, lo=0.0))
        ratios = self._grid("l1_ratios", self.l1_ratios, lambda v: check_number(
            "l1_ratios", v, lo=0.0, hi=1.0, open_lo=False, closed_hi=True))
        s = self.scoring
        if not (s is None or isinstance(s, str) or callable(s)):
            msg = f"`scoring` must be None, a scorer name or a callable, got {s!r}"
            raise InvalidParameterError(msg)
        return Cs, ratios

    @staticmethod
    def _grid(name: str, values: Any, check: Any) -> np.ndarray:
        if isinstance(values, str) or not hasattr(values, "__iter__"):
            msg = f"`{name}` must be a sequence of numbers, got {values!r}"
            raise InvalidParameterError(msg)
        out = np.asarray([check(v) for v in values], dtype=np.float64)
        if out.size == 0:
            msg = f"`{name}` must hold at least one value, got {values!r}"
            raise InvalidParameterError(msg)
        return out

    # ------------------------------------------------------------------ fit

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SoftmaxRegressionCV:
        """Cross-validate the path, then fit the final model; on any error the estimator
        is left as it was before the call."""
        snapshot = dict(self.__dict__)
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _fit(self, X: Any, y: Any, sample_weight: Any) -> SoftmaxRegressionCV:
        Cs, ratios = self._check_params()
        data = self._prepare(X, y, sample_weight)
        plan, classes = data.plan, data.classes
        n = data.y_host.shape[0]
        sw_raw = (None if sample_weight is None
                  else np.broadcast_to(np.asarray(backends.to_numpy(sample_weight),
                                                  dtype=np.float64), (n,)))
        folds = list(check_cv(self.cv, data.y_host, classifier=True)
                     .split(np.zeros((n, 1)), data.y_host))
        rng = np.random.default_rng(seed(self.random_state))
        scorer = self._scorer(classes)
        order = np.argsort(Cs, kind="stable")  # strong to weak penalty: warm starts
        n_f, n_r, n_c = len(folds), len(ratios), len(Cs)
        # in scikit-learn's layout (folds, Cs, l1_ratios), so that sums and ties agree
        scores = np.empty((n_f, n_c, n_r))
        n_iter = np.zeros((n_f, n_r, n_c), dtype=np.int64)
        paths: list[list[list[Any]]] = [[[None] * n_c for _ in range(n_r)] for _ in range(n_f)]
        take = plan.take_rows
        for k, (train, test) in enumerate(folds):
            X_tr, y_tr, w_tr = take(data.X, train), take(data.y, train), take(data.w, train)
            X_te = take(data.X, test)
            weight = float(train.size if data.w_host is None else data.w_host[train].sum())
            y_te = classes[data.y_host[test]]
            sw_te = None if sw_raw is None else sw_raw[test]
            for j, ratio in enumerate(ratios):
                theta = None
                for i in order:
                    obj = plan.objective(X_tr, y_tr, w_tr, **penalties(Cs[i], ratio, weight),
                                         n_classes=len(classes),
                                         fit_intercept=bool(self.fit_intercept))
                    if theta is None:
                        theta = self._zeros(obj, plan, X_tr)
                    result = self._solve(obj, theta, rng, f"fold {k}, C={Cs[i]:.4g}")
                    theta = result.theta
                    W, b = obj.unpack(theta)
                    paths[k][j][i] = self._path_entry(W, b)
                    n_iter[k, j, i] = result.n_iter
                    scores[k, i, j] = scorer(plan, W, b, X_te, y_te, sw_te)

        best = self._best(scores, Cs, ratios, paths, data, rng)
        xp = array_namespace(("coef", paths[0][0][0]))
        self.coefs_paths_ = xp.stack([xp.stack([xp.stack(row) for row in fold])
                                      for fold in paths])
        self.scores_ = np.moveaxis(scores, 2, 1)  # (folds, l1_ratios, Cs)
        self.Cs_, self.l1_ratios_ = Cs, ratios
        self.n_iter_ = n_iter
        return best

    def _best(self, scores: np.ndarray, Cs: np.ndarray, ratios: np.ndarray,
              paths: list[list[list[Any]]], data: Any, rng: np.random.Generator
              ) -> SoftmaxRegressionCV:
        """Choose ``C_``/``l1_ratio_`` and set the final model, as scikit-learn does."""
        plan, classes = data.plan, data.classes
        n_f, n_c, n_r = scores.shape
        if self.refit:
            c, r = np.unravel_index(np.argmax(scores.sum(axis=0)), (n_c, n_r))
            self.C_, self.l1_ratio_ = float(Cs[c]), float(ratios[r])
            W0, b0 = self._mean_entry([paths[k][r][c] for k in range(n_f)])
            obj = plan.objective(data.X, data.y, data.w,
                                 **penalties(self.C_, self.l1_ratio_, data.w_sum),
                                 n_classes=len(classes), fit_intercept=bool(self.fit_intercept))
            result = self._solve(obj, obj.pack(W0, b0), rng, "refit")
            W, b = obj.unpack(result.theta)
            curve = list(result.loss_curve)
        else:
            picks = [np.unravel_index(np.argmax(scores[k]), (n_c, n_r)) for k in range(n_f)]
            self.C_ = float(np.mean([Cs[c] for c, _ in picks]))
            self.l1_ratio_ = float(np.mean([ratios[r] for _, r in picks]))
            W, b = self._mean_entry([paths[k][r][c] for k, (c, r) in enumerate(picks)])
            curve = []
        X = data.X
        self._set_fitted(W, b, backend=plan.name, device=plan.params_device(X), classes=classes,
                         loss_curve=curve, validation_curve=[])
        return self

    # ------------------------------------------------------------------ pieces

    def _zeros(self, obj: S.Objective, plan: Any, X: Any) -> Any:
        return backends.asarray(np.zeros(obj.size, dtype=dtype_name(X.dtype)),
                                backend=plan.params_backend, device=plan.params_device(X))

    def _solve(self, obj: S.Objective, theta: Any, rng: np.random.Generator,
               what: str) -> S.FitResult:
        progress = S.Progress(self.verbose, f"SoftmaxRegressionCV({self.solver}) {what}")
        result = S.solve(obj, theta, solver=self.solver, learning_rate=self.learning_rate,
                         batch_size=self.batch_size, max_iter=self.max_iter, tol=self.tol,
                         n_iter_no_change=self.n_iter_no_change, rng=rng, progress=progress)
        S.warn_if_not_converged(result, self.solver, self.max_iter)
        return result

    def _path_entry(self, W: Any, b: Any) -> Any:
        """``[coef | intercept]``, shape (n_classes, n_features + 1), as scikit-learn's paths."""
        if not self.fit_intercept:
            return W.T
        xp = array_namespace(("W", W))
        return xp.concat([W.T, b[:, None]], axis=1)

    def _mean_entry(self, entries: list[Any]) -> tuple[Any, Any]:
        xp = array_namespace(("coef", entries[0]))
        mean = xp.mean(xp.stack(entries), axis=0)
        if not self.fit_intercept:
            return mean.T, xp.zeros_like(mean[:, 0])
        return mean[:, :-1].T, mean[:, -1]

    def _scorer(self, classes: np.ndarray) -> Any:
        """``(plan, W, b, X_test, y_test, sample_weight) -> float`` for ``self.scoring``.

        None: the (weighted) accuracy, from the predicted classes computed on the
        device, in scikit-learn's arithmetic (``np.average``) so that ties break
        alike. Otherwise scikit-learn's scorer on a model whose outputs it reads as
        NumPy arrays, with ``labels=classes`` where the metric takes them (a test
        fold may lack a class), as ``LogisticRegressionCV`` does.
        """
        if self.scoring is None:
            def accuracy(plan: Any, W: Any, b: Any, X: Any, y: np.ndarray,
                         sw: np.ndarray | None) -> float:
                Z = plan.logits(X, W, b)
                codes = backends.to_numpy(array_namespace(("Z", Z)).argmax(Z, axis=1))
                return float(np.average(classes[codes] == y, weights=sw))

            return accuracy
        scorer = get_scorer(self.scoring) if isinstance(self.scoring, str) else self.scoring
        func = getattr(scorer, "_score_func", None)
        if func is not None and "labels" in inspect.signature(func).parameters:
            extra = {}
            if len(classes) == 2 and "pos_label" in inspect.signature(func).parameters:
                extra["pos_label"] = classes[-1]
            scorer = make_scorer(func, greater_is_better=scorer._sign == 1,
                                 response_method=scorer._response_method, labels=classes,
                                 **extra, **getattr(scorer, "_kwargs", {}))

        def score(plan: Any, W: Any, b: Any, X: Any, y: np.ndarray,
                  sw: np.ndarray | None) -> float:
            model = SoftmaxRegression()
            model.n_features_in_ = int(X.shape[1])
            model._set_fitted(W, b, backend=plan.name, device=plan.params_device(X),
                              classes=classes)
            kwargs = {} if sw is None else {"sample_weight": sw}
            return float(scorer(_HostOutputs(model), X, y, **kwargs))

        return score

    # ------------------------------------------------------------------ saving

    def save(self, path: Any) -> None:
        """Write the final model as a :class:`SoftmaxRegression` file (with ``C=C_`` and
        ``l1_ratio=l1_ratio_``); read it with ``SoftmaxRegression.load``. The
        cross-validation results are not saved."""
        self.as_softmax_regression().save(path)

    def as_softmax_regression(self) -> SoftmaxRegression:
        """The final model as a fitted :class:`SoftmaxRegression` sharing its weights."""
        shared = {k: v for k, v in self.get_params().items()
                  if k in SoftmaxRegression().get_params()}
        model = SoftmaxRegression(C=self.C_, l1_ratio=self.l1_ratio_, **shared)
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self, name):
                setattr(model, name, getattr(self, name))
        model._set_fitted(self._W, self._b, backend=self.backend_, device=self.device_,
                          classes=self.classes_, n_iter=int(np.max(self.n_iter_)),
                          loss_curve=list(self.loss_curve_), validation_curve=[])
        return model


class _HostOutputs(ClassifierMixin, BaseEstimator):
    """A fitted model as scikit-learn's scorers see it: its outputs as NumPy arrays
    (the metrics read host arrays; the predictions themselves run on the device)."""

    def __init__(self, model: Any = None):
        self.model = model
        if model is not None:
            self.classes_ = model.classes_

    def predict(self, X: Any) -> np.ndarray:
        return backends.to_numpy(self.model.predict(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        return backends.to_numpy(self.model.predict_proba(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        return backends.to_numpy(self.model.predict_log_proba(X))

    def decision_function(self, X: Any) -> np.ndarray:
        return backends.to_numpy(self.model.decision_function(X))

