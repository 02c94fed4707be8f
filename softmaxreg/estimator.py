"""``SoftmaxRegression``: a scikit-learn classifier that trains on any array backend."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp  # a dependency of scikit-learn, which this module needs anyway
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import backends
from . import solvers as S
from ._compat import array_namespace, dtype_name, is_lazy, without_grad
from ._compat import device as aac_device
from ._plans import (
    SparsePlan,
    input_plan,
    labels_to_host,
    needs_move,
    plan_for,
    plan_of,
    sum_of_weights,
)
from ._validation import (
    InvalidParameterError,
    check_bool,
    check_choice,
    check_frame_columns,
    check_int,
    check_number,
    check_random_state,
    check_some_weight,
    check_values,
    check_weights,
    float32_frame,
    float_dtype_name,
    from_dask_dataframe,
    seed,
)
from .functional import log_softmax, softmax
from .io import load_model, save_model

__all__ = ["SoftmaxBase", "SoftmaxRegression", "final_estimator"]

SOLVERS = ("lbfgs", "gd", "sgd", "adam")
#: the libraries whose sparse matrices train (SciPy's with NumPy parameters); SciPy input
#: moves to torch's or CuPy's CSR when the model's backend is one of them
SPARSE_BACKENDS = ("numpy", "torch", "cupy")
#: scipy.sparse input is converted once to CSR, the format the kernel slices rows of
SPARSE = ["csr"]


@dataclass(frozen=True)
class _Prepared:
    """Training data on its backend, and the plan that knows how to use it."""

    plan: Any
    X: Any
    y: Any  # label codes 0..C-1, beside X
    w: Any  # row weights (sample x class weight) or None
    classes: np.ndarray
    y_host: np.ndarray  # the codes as NumPy (for stratified splits)
    w_sum: float  # sum of the row weights (n when unweighted)
    w_host: np.ndarray | None  # the row weights as NumPy (sums over folds)


@dataclass(frozen=True)
class _Stream:
    """What ``partial_fit`` carries from one call to the next."""

    solver: str
    state: Any  # the optimizer's state, on the model's backend
    rng: np.random.Generator  # shuffles each call's mini-batches
    weight_seen: float  # total row weight of every call so far (scales the penalty)


def penalties(C: float, l1_ratio: float, weight_sum: float) -> dict[str, float]:
    """The objective's ``l2``/``l1`` strengths, ``(1 - l1_ratio) / (C S)`` and
    ``l1_ratio / (C S)`` with ``S`` the sum of the row weights (scikit-learn's scaling);
    none at ``C=inf``. Python floats, whatever number types come in."""
    if math.isinf(C):
        return {"l2": 0.0, "l1": 0.0}
    scale = 1.0 / (float(C) * float(weight_sum))
    return {"l2": (1.0 - float(l1_ratio)) * scale, "l1": float(l1_ratio) * scale}


def encode_labels(y: np.ndarray, classes: np.ndarray, what: str) -> np.ndarray:
    """The codes 0..C-1 of the labels ``y`` among the sorted ``classes``; an error naming
    ``what`` and the first unknown label otherwise."""
    codes = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    unknown = classes[codes] != y
    if unknown.any():
        msg = (f"{what} holds label {y[unknown][0].item()!r}, which is not among the classes "
               f"{classes.tolist()!r}")
        raise ValueError(msg)
    return codes


class SoftmaxBase(ClassifierMixin, BaseEstimator):
    """What every softmax model here shares: preparing data on its backend, predicting,
    ``sparsify``, moving and saving. :class:`SoftmaxRegression` and
    :class:`~softmaxreg.cv.SoftmaxRegressionCV` add their ``fit``.
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True  # scipy.sparse, trained as CSR without densifying
        return tags

    def _set_fitted(self, W: Any, b: Any, *, backend: str, device: Any,
                    classes: np.ndarray | None = None, **fitted: Any) -> None:
        """The one writer of the fitted state: ``fit``, :meth:`to` and ``io.load_model``.

        ``fitted`` holds the other fitted attributes without their trailing underscore
        (``n_iter=3`` sets ``n_iter_``); attributes not given keep their values.
        """
        if classes is not None:
            self.classes_ = classes
        for name, value in fitted.items():
            setattr(self, f"{name}_", value)
        self._W, self._b = W, b
        self.coef_, self.intercept_ = W.T, b
        self.backend_, self.device_ = backend, device

    def _check_shared_params(self) -> None:
        """The parameters every softmax model has (solver, data placement, weights)."""
        check_choice("solver", self.solver, SOLVERS)
        check_bool("fit_intercept", self.fit_intercept)
        check_number("learning_rate", self.learning_rate, lo=0.0)
        check_number("tol", self.tol, lo=0.0, open_lo=False)
        check_int("max_iter", self.max_iter, lo=0)
        check_int("n_iter_no_change", self.n_iter_no_change, lo=1)
        check_int("verbose", self.verbose, lo=0)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, lo=1)
        float_dtype_name(self.dtype)
        check_random_state(self.random_state)
        if self.backend is not None:
            backends.parse_backend(self.backend, self.device)
        cw = self.class_weight
        if not (cw is None or isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
            msg = f"`class_weight` must be None, 'balanced' or a dict, got {cw!r}"
            raise InvalidParameterError(msg)

    # ------------------------------------------------------------------ data

    def _target(self) -> tuple[str, Any] | None:
        if self.backend is None:
            return None
        return backends.parse_backend(self.backend, self.device)

    def _prepare(self, X: Any, y: Any, sample_weight: Any, *, classes: np.ndarray | None = None,
                 reset: bool = True, dtype: str | None = None) -> _Prepared:
        """Validate and move ``X``, ``y``, weights onto the backend; encode the labels.

        The backend is decided here, once, as a data plan (:mod:`softmaxreg._plans`).
        ``classes`` (``partial_fit``) encodes ``y`` against classes known beforehand;
        ``reset=False`` keeps ``n_features_in_``, which ``X`` must then match; ``dtype``
        overrides the one that ``self.dtype`` and the data would give.
        """
        check_frame_columns(X)
        X = without_grad(from_dask_dataframe(X))  # analytic gradients: no autograd graph
        y = from_dask_dataframe(y)
        if input_plan(X) is not None:
            X = self._validate_array(X, reset=reset)
            y_host = labels_to_host(y)
            if len(getattr(y, "shape", ())) == 2:  # scikit-learn's warning, as for NumPy y
                column_or_1d(y_host[:, None], warn=True)
        else:
            # mini-batches gather rows: ask for row-major data in the one conversion
            floats = [np.float32, np.float64] if float32_frame(X) else [np.float64, np.float32]
            X, y_host = validate_data(self, X, y, reset=reset, dtype=floats,
                                      ensure_min_samples=1, ensure_all_finite=False,
                                      accept_sparse=SPARSE, accept_large_sparse=True,
                                      order="C" if self.batch_size is not None else None)
            y_host = np.asarray(y_host)
        check_classification_targets(y_host)
        if classes is None:
            classes, y_codes = np.unique(y_host, return_inverse=True)
            if len(classes) < 2:
                msg = (f"`y` contains only one class ({classes[0]!r}); softmax regression "
                       f"needs samples of at least two classes")
                raise ValueError(msg)
        else:
            y_codes = encode_labels(y_host, classes, "`y`")
        n = y_codes.shape[0]
        if n != X.shape[0]:
            msg = f"`y` has {n} labels but `X` has {X.shape[0]} rows"
            raise ValueError(msg)
        sw = self._row_weights_host(sample_weight, y_codes, classes, n)

        target = self._target()
        if dtype is None:
            dtype = float_dtype_name(self.dtype)
        if dtype is None:
            xd = dtype_name(X.dtype)
            dtype = xd if xd in ("float32", "float64") else "float64"
        if not is_lazy(X):  # lazy (Dask) data is checked as its plan prepares it
            check_values(X, array_namespace(("X", X)), limit_dtype=dtype)
        plan = plan_of(X)
        if target is not None and isinstance(plan, SparsePlan) and (
                plan.name != target[0] or needs_move(X, target)):
            if plan.name != "numpy" or target[0] not in SPARSE_BACKENDS:
                where = "SciPy" if plan.name == "numpy" else f"{plan.name} on {plan.device}"
                msg = (f"`X` is a sparse matrix of {where}, which cannot train with "
                       f"backend={self.backend!r}: sparse data trains on NumPy (SciPy), "
                       f"torch or CuPy; move X there or pass a dense array")
                raise ValueError(msg)
        if target is not None and (plan.name != target[0] or needs_move(X, target)):
            try:
                X = backends.asarray(X, backend=target[0], device=target[1], dtype=dtype)
            except (RuntimeError, AssertionError) as exc:  # torch: no CUDA build, no GPU...
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                msg = (f"backend={self.backend!r}, device={self.device!r} cannot be used "
                       f"here: {reason}; choose another backend or device")
                raise ValueError(msg) from None
            plan = plan_of(X)
        X, y_enc, w = plan.prepare(plan.astype(X, dtype), y_codes, sw, self.batch_size)
        return _Prepared(plan, X, y_enc, w, classes, y_codes,
                         float(n if sw is None else sw.sum()), sw)

    def _row_weights_host(self, sample_weight: Any, y_codes: np.ndarray, classes: np.ndarray,
                          n: int) -> np.ndarray | None:
        sw = None
        if sample_weight is not None:
            sw = np.asarray(backends.to_numpy(sample_weight), dtype=np.float64)
            if sw.ndim == 0:
                sw = np.full(n, float(sw))
            check_weights(sw, "sample_weight", n, "the rows of `X`",
                          array_namespace(("sample_weight", sw)))
        cw = self.class_weight
        if cw is not None:
            base = np.ones(n) if sw is None else sw
            counts = np.bincount(y_codes, weights=base, minlength=len(classes))
            if cw == "balanced":
                per_class = base.sum() / (len(classes) * counts)
            else:
                unknown = [k for k in cw if k not in set(classes.tolist())]
                if unknown:
                    msg = (f"`class_weight` names label(s) {unknown!r} that are not in `y` "
                           f"(classes: {classes.tolist()!r})")
                    raise ValueError(msg)
                per_class = np.array([float(cw.get(c, 1.0)) for c in classes.tolist()])
                if np.any(per_class < 0) or not np.all(np.isfinite(per_class)):
                    msg = f"`class_weight` values must be finite and >= 0, got {cw!r}"
                    raise ValueError(msg)
            sw = base * per_class[y_codes]
        if sw is not None:
            check_some_weight(sw.sum())
        return sw

    def _validate_array(self, X: Any, *, reset: bool) -> Any:
        """Checks for arrays that live outside NumPy (torch, JAX, CuPy, Dask, strict)."""
        xp = array_namespace(("X", X))
        if X.ndim != 2:
            msg = f"Expected 2D array, got {X.ndim}D array of shape {tuple(X.shape)} for `X`"
            raise ValueError(msg)
        if not (xp.isdtype(X.dtype, "real floating") or xp.isdtype(X.dtype, "integral")
                or xp.isdtype(X.dtype, "bool")):
            msg = f"`X` must be numeric, got dtype {dtype_name(X.dtype)}"
            raise TypeError(msg)
        n, d = X.shape
        if n is not None and n < 1:
            msg = (f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a minimum "
                   f"of 1 is required.")
            raise ValueError(msg)
        if reset:
            self.n_features_in_ = int(d)
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif d != self.n_features_in_:
            msg = (f"X has {d} features, but {type(self).__name__} is expecting "
                   f"{self.n_features_in_} features as input.")
            raise ValueError(msg)
        # fit checks the values in _prepare (in DaskPlan.prepare for lazy data, after
        # persisting it once); other lazy data is checked when computed
        return X

    # ------------------------------------------------------------------ predict

    def _predict_input(self, X: Any, *, fitted: bool = True, like: Any = None) -> Any:
        """Validate ``X`` and put it where the model (or the prepared data ``like``) lives."""
        if fitted:
            check_is_fitted(self)
            plan, dtype = plan_for(self.backend_, self.device_), dtype_name(self._W.dtype)
        else:
            plan, dtype = like.plan, dtype_name(like.X.dtype)
        check_frame_columns(X)
        X = from_dask_dataframe(X)
        got = input_plan(X)
        if got is not None:
            if got.name != plan.name or (plan.device is not None and got.device != plan.device):
                where = plan.name + ("" if plan.device is None else f" on {plan.device}")
                msg = (f"`X` is a {got.name} array on {aac_device(X)} but the model lives on "
                       f"{where}; move one of them, e.g. model.to({got.name!r}) or "
                       f"softmaxreg.backends.asarray(X, backend={plan.name!r})")
                raise ValueError(msg)
            X = plan_of(X).check_values(self._validate_array(X, reset=False))
            return got.astype(X, dtype)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32],
                          ensure_all_finite=False, accept_sparse=SPARSE,
                          accept_large_sparse=True)
        sparse = plan_of(X)
        if isinstance(sparse, SparsePlan):
            if plan.name != "numpy" and plan.name not in SPARSE_BACKENDS:
                msg = (f"`X` is a scipy.sparse matrix but the model lives on {plan.name}, "
                       f"which has no sparse matrices; move the model with "
                       f"model.to('numpy') to predict on sparse input")
                raise ValueError(msg)
            X = sparse.check_values(sparse.astype(X, dtype))
            if plan.name == "numpy":
                return X
            return backends.asarray(X, backend=plan.name, device=plan.device)
        check_values(X, array_namespace(("X", X)))
        return backends.asarray(X, backend=plan.name, device=plan.device, dtype=dtype)

    def _logits(self, X: Any) -> tuple[Any, Any]:
        X = self._predict_input(X)
        return plan_for(self.backend_, self.device_).logits(X, self._W, self._b)

    def decision_function(self, X: Any) -> Any:
        """Logits, shape (n, n_classes); for two classes the margin ``z_1 - z_0``, shape (n,).

        The two-class form is what scikit-learn's binary classifiers return:
        positive means ``classes_[1]``.
        """
        Z = self._logits(X)
        if len(self.classes_) == 2:
            return Z[:, 1] - Z[:, 0]
        return Z

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape (n, n_classes), in the model's backend."""
        return softmax(self._logits(X), axis=1)

    def predict_log_proba(self, X: Any) -> Any:
        """Log class probabilities (numerically stable), shape (n, n_classes)."""
        return log_softmax(self._logits(X), axis=1)

    def predict(self, X: Any) -> Any:
        """Predicted labels, as they were given to ``fit``.

        Numeric labels come back in the model's backend; other labels (strings)
        as a NumPy array (Dask: a lazy Dask array).
        """
        Z = self._logits(X)
        idx = array_namespace(("Z", Z)).argmax(Z, axis=1)
        return plan_for(self.backend_, self.device_).pick(idx, self.classes_)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy (weighted by ``sample_weight``), as a Python float."""
        pred = backends.to_numpy(self.predict(X))
        truth = labels_to_host(y)
        n = pred.shape[0]
        if truth.shape[0] != n:
            msg = f"`y` has {truth.shape[0]} labels but `X` has {n} rows"
            raise ValueError(msg)
        hits = (pred == truth).astype(np.float64)
        if sample_weight is None:
            return float(hits.mean())
        sw = np.asarray(backends.to_numpy(sample_weight), dtype=np.float64).reshape(-1)
        if sw.shape[0] != n:
            msg = f"`sample_weight` has {sw.shape[0]} entries but `X` has {n} rows"
            raise ValueError(msg)
        return float((hits * sw).sum() / sw.sum())

    # ------------------------------------------------------------------ sparse coef_

    def sparsify(self) -> SoftmaxBase:
        """Store ``coef_`` as a ``scipy.sparse`` CSR matrix, as scikit-learn's linear
        classifiers do; predictions do not change.

        Worth it when most coefficients are zero (an L1 fit, ``l1_ratio > 0``).
        The matrix is on the host whatever the model's backend; the model keeps
        computing with its dense weights on its backend. :meth:`densify` undoes it.
        """
        check_is_fitted(self)
        self.coef_ = sp.csr_matrix(backends.to_numpy(self._W).T)
        return self

    def densify(self) -> SoftmaxBase:
        """Store ``coef_`` as a dense array in the model's backend again (the default)."""
        check_is_fitted(self)
        self.coef_ = self._W.T
        return self

    # ------------------------------------------------------------------ moving, saving

    def to(self, backend: str, device: Any = None) -> SoftmaxBase:
        """Move a fitted model's weights to another backend or device (in place)."""
        check_is_fitted(self)
        name, dev = backends.parse_backend(backend, device)
        plan = plan_for(name, dev)
        W, b = plan.params(self._W, self._b, dtype_name(self._W.dtype))
        where = None if plan.params_backend != name else aac_device(W)
        sparse = sp.issparse(self.coef_)
        self._set_fitted(W, b, backend=name, device=where)
        return self.sparsify() if sparse else self

    def save(self, path: Any) -> None:
        """Write the fitted model to one ``.npz`` file, atomically; see :mod:`softmaxreg.io`."""
        save_model(self, path)



class SoftmaxRegression(SoftmaxBase):
    """Multinomial logistic regression that trains on NumPy, PyTorch, CuPy, JAX or Dask.

    Minimises scikit-learn's objective for ``LogisticRegression``::

        (1 / S) * sum_i s_i * CE_i
            + ((1 - l1_ratio) / 2 * ||W||^2 + l1_ratio * ||W||_1) / (C * S)

        s_i = sample_weight[i] * class_weight[y_i],   S = sum_i s_i

    always in its multinomial form (two classes give two columns of
    probabilities). The intercept is not penalised.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, as in scikit-learn; ``float("inf")``
        for no penalty.
    l1_ratio : float in [0, 1], default=0.0
        Elastic-net mixing, scikit-learn's (>= 1.8) parametrisation: 0 is L2,
        1 is L1, in between elastic-net. With ``l1_ratio > 0``, ``"lbfgs"``
        runs OWL-QN and the first-order solvers take a proximal
        (soft-thresholding) step; coefficients the optimum sets to zero are
        exactly zero.
    fit_intercept : bool, default=True
    class_weight : None, "balanced" or dict label -> weight
        ``"balanced"`` is ``sum(s) / (n_classes * weighted count of the class)``,
        scikit-learn's definition.
    solver : {"lbfgs", "gd", "sgd", "adam"}, default="lbfgs"
        ``"lbfgs"``: full-batch L-BFGS with a strong-Wolfe line search, all on
        the data's device. ``"gd"``: full-batch gradient descent with
        ``learning_rate``. ``"sgd"``/``"adam"``: shuffled mini-batch epochs of
        ``batch_size`` (full batch when None).
    learning_rate : float, default=0.1
        Step size of ``"gd"``, ``"sgd"`` and ``"adam"``.
    batch_size : int or None, default=None
    max_iter : int, default=100
        Iterations (``"lbfgs"``) or epochs (the others).
    tol : float, default=1e-4
        ``"lbfgs"`` stops when ``max|gradient| <= tol`` (scikit-learn's test;
        with ``l1_ratio > 0`` the pseudo-gradient, zero at the optimum), or
        when an iteration improves the objective by less than 64 machine
        epsilons relative to its size. The first-order solvers stop when the
        epoch loss has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the rows, track the
        validation cross-entropy, stop after ``n_iter_no_change`` iterations
        without an improvement of ``tol`` and keep the best weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    backend : str or None, default=None
        ``None`` follows the input (torch tensors train on torch, on their
        device). A name from :func:`softmaxreg.backends.available` moves
        NumPy or pandas input there first.
    device : str or None
        Device on ``backend``, e.g. ``"cuda"``.
    dtype : {"float32", "float64"} or None
        ``None`` keeps float32 data float32 and makes other data float64.
    random_state : int, Generator or None
        Seeds the validation split and the mini-batch shuffling.
    warm_start : bool, default=False
        Start from the previous fit's weights when the classes and features match.
    verbose : int, default=0
        ``1`` prints the first iteration and then one line per second at most,
        ``2`` every iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : array of shape (n_classes, n_features), in the model's backend
        (a ``scipy.sparse`` CSR matrix after :meth:`sparsify`)
    intercept_ : array of shape (n_classes,)
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when fitted on a DataFrame
    loss_curve_ : list of float
        Objective per iteration (``"lbfgs"``, starting with the initial point)
        or mean training objective per epoch.
    validation_curve_ : list of float
        Validation cross-entropy per iteration, with ``early_stopping=True``.
    backend_ : str
        Library the model computes with; ``device_`` is its device.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from softmaxreg import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegression(max_iter=200).fit(X, y)
    >>> clf.predict(X[:2]), clf.predict_proba(X[:1]).shape
    (array([0, 0]), (1, 3))
    """

    def __init__(self, *, C: float = 1.0, l1_ratio: float = 0.0, fit_intercept: bool = True,
                 class_weight: Any = None,
                 solver: str = "lbfgs", learning_rate: float = 0.1,
                 batch_size: int | None = None, max_iter: int = 100, tol: float = 1e-4,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 5, backend: str | None = None, device: Any = None,
                 dtype: str | None = None, random_state: Any = None, warm_start: bool = False,
                 verbose: int = 0):
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    def fit(self, X: Any, y: Any, sample_weight: Any = None, *,
            validation_data: tuple[Any, Any] | None = None) -> SoftmaxRegression:
        """Fit the model; on any error the estimator is left as it was before the call.

        ``validation_data=(X_val, y_val)`` gives ``early_stopping`` a validation
        set of your own (the lesson's 70/15/15 split) instead of holding out
        ``validation_fraction`` of ``X``.
        """
        snapshot = dict(self.__dict__)
        try:
            return self._fit(X, y, sample_weight, validation_data)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _fit(self, X: Any, y: Any, sample_weight: Any, validation_data: Any
             ) -> SoftmaxRegression:
        self._check_params()
        data = self._prepare(X, y, sample_weight)
        plan, X, y_enc, w, classes = data.plan, data.X, data.y, data.w, data.classes
        n_classes = len(classes)
        rng = np.random.default_rng(seed(self.random_state))
        val = None
        if validation_data is not None:
            if not self.early_stopping:
                msg = "`validation_data` is used for early stopping: set early_stopping=True"
                raise ValueError(msg)
            val = self._prepare_validation(validation_data, classes, data)
        elif self.early_stopping:
            X, y_enc, w, val = self._split_validation(data, rng)

        sw_sum = data.w_sum if val is None else sum_of_weights(w, X.shape[0])
        obj = plan.objective(X, y_enc, w, **penalties(self.C, self.l1_ratio, sw_sum),
                             n_classes=n_classes, fit_intercept=bool(self.fit_intercept))
        theta = self._initial_theta(obj, classes, plan, X)
        progress = S.Progress(self.verbose, f"SoftmaxRegression({self.solver})")
        early = None
        if val is not None:
            def val_loss(theta: Any) -> float:
                return plan.loss(*val, *obj.unpack(theta))

            early = S.EarlyStopper(val_loss, self.n_iter_no_change, self.tol)

        result = S.solve(obj, theta, solver=self.solver, learning_rate=self.learning_rate,
                         batch_size=self.batch_size, max_iter=self.max_iter, tol=self.tol,
                         n_iter_no_change=self.n_iter_no_change, rng=rng, progress=progress,
                         early=early)
        if early is not None and early.best_theta is not None:
            result.theta = early.best_theta
        S.warn_if_not_converged(result, self.solver, self.max_iter)

        W, b = obj.unpack(result.theta)
        self.__dict__.pop("_stream", None)  # a later partial_fit starts a new optimizer
        self._set_fitted(W, b, backend=plan.name, device=plan.params_device(X),
                         classes=classes, n_iter=int(result.n_iter),
                         loss_curve=list(result.loss_curve),
                         validation_curve=list(result.val_curve))
        return self

    def _streams(self) -> bool:
        """``partial_fit`` exists for the mini-batch solvers only (as on scikit-learn's
        MLPClassifier), so ``hasattr(model, "partial_fit")`` tells whether it streams."""
        if self.solver not in ("sgd", "adam"):
            msg = (f"`partial_fit` continues mini-batch epochs: it needs solver='sgd' or "
                   f"'adam', got solver={self.solver!r}")
            raise AttributeError(msg)
        return True

    @available_if(_streams)
    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
                    ) -> SoftmaxRegression:
        """One pass over the rows given, in shuffled mini-batches of ``batch_size``,
        continuing from the previous call (``solver="sgd"`` or ``"adam"``).

        As ``SGDClassifier.partial_fit``: ``classes`` (every label the stream
        will hold) is required on the first call and, if given later, must be
        the same; later calls must bring the same number of features, on the
        same backend and device as the first. The optimizer's state (Adam's
        moments, SGD's momentum) is carried from call to call on the model's
        backend, so a sequence of calls is the epoch loop of ``fit`` cut into
        pieces. The penalty is scaled by the total row weight of all calls so
        far, which after one pass over a data set is the ``S`` of ``fit``.
        Calling ``partial_fit`` on a model fitted by ``fit`` continues from its
        weights. ``n_iter_`` is the passes made by the last call (1, as
        scikit-learn's); ``loss_curve_`` gains one value per call. On any
        error the model is left as it was.
        """
        snapshot = dict(self.__dict__)
        try:
            return self._partial_fit(X, y, classes, sample_weight)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _partial_fit(self, X: Any, y: Any, classes: Any, sample_weight: Any
                     ) -> SoftmaxRegression:
        self._check_params()
        if self.early_stopping:
            msg = ("`partial_fit` makes one pass per call and holds out nothing: set "
                   "early_stopping=False (score a validation set between calls instead)")
            raise ValueError(msg)
        if isinstance(self.class_weight, str):
            msg = ("class_weight='balanced' needs the whole of `y`, which partial_fit never "
                   "sees; pass a dict, e.g. from sklearn.utils.class_weight."
                   "compute_class_weight")
            raise ValueError(msg)
        first = not hasattr(self, "classes_")
        known = self._stream_classes(classes, first)
        data = self._prepare(X, y, sample_weight, classes=known, reset=first,
                             dtype=None if first else dtype_name(self._W.dtype))
        plan, X = data.plan, data.X
        if not first:
            self._check_same_place(plan, X)
        stream = getattr(self, "_stream", None)
        if stream is not None and stream.solver != self.solver:
            stream = None  # another optimizer: its state starts afresh
        rng = stream.rng if stream else np.random.default_rng(seed(self.random_state))
        weight_seen = (stream.weight_seen if stream else 0.0) + data.w_sum
        obj = plan.objective(X, data.y, data.w,
                             **penalties(self.C, self.l1_ratio, weight_seen),
                             n_classes=len(known), fit_intercept=bool(self.fit_intercept))
        if first:
            theta = backends.asarray(np.zeros(obj.size, dtype=dtype_name(X.dtype)),
                                     backend=plan.params_backend, device=plan.params_device(X))
        else:
            theta = obj.pack(self._W, self._b)
        progress = S.Progress(self.verbose, f"SoftmaxRegression({self.solver}).partial_fit")
        result = S.solve(obj, theta, solver=self.solver, learning_rate=self.learning_rate,
                         batch_size=self.batch_size, max_iter=1, tol=0.0,
                         n_iter_no_change=self.n_iter_no_change, rng=rng, progress=progress,
                         state=None if stream is None else stream.state)
        W, b = obj.unpack(result.theta)
        curve = [] if first or stream is None else list(self.loss_curve_)
        self._stream = _Stream(self.solver, result.state, rng, weight_seen)
        self._set_fitted(W, b, backend=plan.name, device=plan.params_device(X), classes=known,
                         n_iter=int(result.n_iter), loss_curve=curve + list(result.loss_curve),
                         validation_curve=[])
        return self

    def _stream_classes(self, classes: Any, first: bool) -> np.ndarray:
        """The classes of a ``partial_fit`` stream: given on the first call, the same after."""
        if classes is None:
            if first:
                msg = ("`classes` is required on the first call to partial_fit: every label "
                       "the stream will hold, e.g. classes=np.unique(y_all)")
                raise ValueError(msg)
            return self.classes_
        given = np.unique(labels_to_host(classes))
        if first:
            check_classification_targets(given)
            if len(given) < 2:
                msg = f"`classes` must hold at least two labels, got {given.tolist()!r}"
                raise ValueError(msg)
            return given
        if not np.array_equal(given, self.classes_):
            msg = (f"`classes`={given.tolist()!r} is not the same as on the first call to "
                   f"partial_fit, which was {self.classes_.tolist()!r}")
            raise ValueError(msg)
        return self.classes_

    def _check_same_place(self, plan: Any, X: Any) -> None:
        """Later ``partial_fit`` calls train where the model lives (library and device)."""
        dev = plan.params_device(X)
        if plan.name != self.backend_ or str(dev) != str(self.device_):
            where = self.backend_ + ("" if self.device_ is None else f" on {self.device_}")
            got = plan.name + ("" if dev is None else f" on {dev}")
            msg = (f"`X` is a {got} array but this model trains on {where}; pass {where} "
                   f"arrays (or set backend={self.backend_!r} to move host data there), "
                   f"or move the model first with model.to(...)")
            raise ValueError(msg)

    def _check_params(self) -> None:
        """Every constructor parameter, by type and range, before anything is changed."""
        self._check_shared_params()
        check_number("C", self.C, lo=0.0, allow_inf=True)
        check_number("l1_ratio", self.l1_ratio, lo=0.0, hi=1.0, open_lo=False, closed_hi=True)
        for name in ("early_stopping", "warm_start"):
            check_bool(name, getattr(self, name))
        check_number("validation_fraction", self.validation_fraction, lo=0.0, hi=1.0)

    def _split_validation(self, data: _Prepared, rng: np.random.Generator
                          ) -> tuple[Any, ...]:
        from sklearn.model_selection import train_test_split  # the `sklearn` extra

        n = data.y_host.shape[0]
        try:
            tr, va = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                      stratify=data.y_host, random_state=rng.integers(2**31))
        except ValueError as exc:
            msg = (f"`validation_fraction`={self.validation_fraction} cannot hold out a "
                   f"stratified validation set of {n} rows ({exc}); use a larger fraction "
                   f"or early_stopping=False")
            raise ValueError(msg) from None
        tr, va = np.sort(tr), np.sort(va)
        take = data.plan.take_rows
        val = (take(data.X, va), take(data.y, va), take(data.w, va))
        return take(data.X, tr), take(data.y, tr), take(data.w, tr), val

    def _prepare_validation(self, validation_data: Any, classes: np.ndarray,
                            data: _Prepared) -> tuple[Any, Any, None]:
        """Put ``(X_val, y_val)`` on the training data's backend, labels encoded as in fit."""
        try:
            Xv, yv = validation_data
        except (TypeError, ValueError):
            msg = "`validation_data` must be a pair (X_val, y_val)"
            raise ValueError(msg) from None
        Xv = self._predict_input(Xv, fitted=False, like=data)
        yv = labels_to_host(yv)
        if yv.shape[0] != Xv.shape[0]:
            msg = f"`validation_data` has {yv.shape[0]} labels but {Xv.shape[0]} rows"
            raise ValueError(msg)
        codes = encode_labels(yv, classes, "`validation_data`")
        return Xv, data.plan.labels_like(codes, Xv), None

    @classmethod
    def load(cls, path: Any, backend: str | None = None, device: Any = None
             ) -> SoftmaxRegression:
        """Read a model written by :meth:`save`, onto ``backend`` (default NumPy)."""
        return load_model(cls, path, backend=backend, device=device)

    def _initial_theta(self, obj: S.Objective, classes: np.ndarray, plan: Any, X: Any
                       ) -> Any:
        dtype = dtype_name(X.dtype)
        if (self.warm_start and hasattr(self, "_W") and len(self.classes_) == len(classes)
                and np.array_equal(self.classes_, classes)
                and self._W.shape[0] == obj.n_features):
            return obj.pack(*plan.params(self._W, self._b, dtype))
        zeros = np.zeros(obj.size, dtype=dtype)
        return backends.asarray(zeros, backend=plan.params_backend,
                                device=plan.params_device(X))


def final_estimator(model: Any) -> Any:
    """The model at the end of a scikit-learn ``Pipeline``, or ``model`` itself."""
    return model.steps[-1][1] if hasattr(model, "steps") else model
