"""``SoftmaxRegression``: a scikit-learn classifier that trains on any array backend."""

from __future__ import annotations

import math
from typing import Any

import array_api_compat as aac
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import backends, optim
from . import solvers as S
from ._compat import (
    array_namespace,
    backend_name,
    device,
    dtype_name,
    is_dask_namespace,
    library_name,
    without_grad,
)
from ._kernel import _loss_and_grad
from ._validation import (
    InvalidParameterError,
    check_bool,
    check_choice,
    check_finite_host,
    check_int,
    check_magnitude,
    check_number,
    check_random_state,
    float_dtype_name,
    from_dask_dataframe,
    is_device_array,
    is_numpy,
    labels_to_host,
    needs_move,
    nonfinite_message,
    seed,
    to_xp,
    weight_sum,
)
from .functional import forward, log_softmax, softmax

__all__ = ["SoftmaxRegression"]

SOLVERS = ("lbfgs", "gd", "sgd", "adam")


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression that trains on NumPy, PyTorch, CuPy, JAX or Dask.

    Minimises scikit-learn's objective for ``LogisticRegression``::

        (1 / sum(s)) * sum_i s_i * CE_i  +  ||W||^2 / (2 * C * sum(s))

        s_i = sample_weight[i] * class_weight[y_i]

    always in its multinomial form (two classes give two columns of
    probabilities). The intercept is not penalised.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, as in scikit-learn; ``float("inf")``
        for no penalty.
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
        ``"lbfgs"`` stops when ``max|gradient| <= tol`` (scikit-learn's test),
        or when an iteration improves the objective by less than 64 machine
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

    def __init__(self, *, C: float = 1.0, fit_intercept: bool = True, class_weight: Any = None,
                 solver: str = "lbfgs", learning_rate: float = 0.1,
                 batch_size: int | None = None, max_iter: int = 100, tol: float = 1e-4,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 5, backend: str | None = None, device: Any = None,
                 dtype: str | None = None, random_state: Any = None, warm_start: bool = False,
                 verbose: int = 0):
        self.C = C
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

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

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
        data = self._prepare_data(X, y, sample_weight)
        X, y_enc, w, classes, xp = data["X"], data["y"], data["w"], data["classes"], data["xp"]
        n_classes = len(classes)
        dask = is_dask_namespace(xp)
        pxp = backends.get_namespace("numpy") if dask else xp
        dtype = X.dtype
        pdtype = np.dtype(dtype_name(dtype)) if dask else dtype
        pdev = None if dask else device(X)

        rng = np.random.default_rng(seed(self.random_state))
        val = None
        if validation_data is not None:
            if not self.early_stopping:
                msg = "`validation_data` is used for early stopping: set early_stopping=True"
                raise ValueError(msg)
            val = self._prepare_validation(validation_data, classes, X, xp)
        elif self.early_stopping:
            X, y_enc, w, val = self._split_validation(X, y_enc, w, data["y_host"], rng, xp)

        sw_sum = data["w_sum"] if val is None else weight_sum(w, X.shape[0], xp)
        l2 = 0.0 if math.isinf(self.C) else 1.0 / (self.C * sw_sum)
        obj = S.Objective(X=X, y=y_enc, w=w, l2=l2, n_classes=n_classes,
                          fit_intercept=bool(self.fit_intercept), xp=xp, pxp=pxp)
        theta = self._initial_theta(obj, classes, pxp, pdtype, pdev)
        progress = S.Progress(self.verbose, f"SoftmaxRegression({self.solver})")
        early = None
        if val is not None:
            early = S.EarlyStopper(self._val_loss(obj, *val), self.n_iter_no_change, self.tol)

        if self.solver == "lbfgs":
            result = S.lbfgs(obj, theta, max_iter=self.max_iter, tol=self.tol,
                             progress=progress, early=early)
        elif self.solver == "gd":
            result = S.gradient_descent(obj, theta, learning_rate=self.learning_rate,
                                        max_iter=self.max_iter, tol=self.tol,
                                        n_iter_no_change=self.n_iter_no_change,
                                        progress=progress, early=early)
        else:
            opt = (optim.sgd(self.learning_rate) if self.solver == "sgd"
                   else optim.adam(self.learning_rate))
            result = S.minibatch(obj, theta, optimizer=opt, batch_size=self.batch_size,
                                 max_iter=self.max_iter, tol=self.tol,
                                 n_iter_no_change=self.n_iter_no_change, rng=rng,
                                 progress=progress, early=early)
        if early is not None and early.best_theta is not None:
            result.theta = early.best_theta
        S.warn_if_not_converged(result, self.solver, self.max_iter)

        W, b = obj.unpack(result.theta)
        self.classes_ = classes
        self._W, self._b = W, b
        self.coef_ = W.T
        self.intercept_ = b
        self.n_iter_ = int(result.n_iter)
        self.loss_curve_ = list(result.loss_curve)
        self.validation_curve_ = list(result.val_curve)
        self.backend_ = "dask" if dask else library_name(X)
        self.device_ = None if dask else device(X)
        return self

    def _check_params(self) -> None:
        """Every constructor parameter, by type and range, before anything is changed."""
        check_choice("solver", self.solver, SOLVERS)
        check_number("C", self.C, lo=0.0, allow_inf=True)
        for name in ("fit_intercept", "early_stopping", "warm_start"):
            check_bool(name, getattr(self, name))
        check_number("learning_rate", self.learning_rate, lo=0.0)
        check_number("tol", self.tol, lo=0.0, open_lo=False)
        check_int("max_iter", self.max_iter, lo=0)
        check_int("n_iter_no_change", self.n_iter_no_change, lo=1)
        check_int("verbose", self.verbose, lo=0)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, lo=1)
        check_number("validation_fraction", self.validation_fraction, lo=0.0, hi=1.0)
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

    def _prepare_data(self, X: Any, y: Any, sample_weight: Any) -> dict[str, Any]:
        """Validate and move ``X``, ``y``, weights onto the backend; encode the labels."""
        X = from_dask_dataframe(X)
        y = from_dask_dataframe(y)
        if is_device_array(X):
            X = self._validate_array(without_grad(X), reset=True)
            y_host = labels_to_host(y, X)
        else:
            X, y_host = validate_data(self, X, y, dtype=[np.float64, np.float32],
                                      ensure_min_samples=1, ensure_all_finite=False)
            check_finite_host(X)
            y_host = np.asarray(y_host)
        check_classification_targets(y_host)
        classes, y_codes = np.unique(y_host, return_inverse=True)
        if len(classes) < 2:
            msg = (f"`y` contains only one class ({classes[0]!r}); softmax regression needs "
                   f"samples of at least two classes")
            raise ValueError(msg)
        n = y_codes.shape[0]
        if n != X.shape[0]:
            msg = f"`y` has {n} labels but `X` has {X.shape[0]} rows"
            raise ValueError(msg)
        sw = self._row_weights_host(sample_weight, y_codes, classes, n)

        target = self._target()
        dtype = float_dtype_name(self.dtype)
        if dtype is None:
            xd = dtype_name(X.dtype)
            dtype = xd if xd in ("float32", "float64") else "float64"
        if target is not None and library_name(X) != target[0] or needs_move(X, target):
            name, dev = target if target is not None else (library_name(X), None)
            X = backends.asarray(X, backend=name, device=dev, dtype=dtype)
        xp = array_namespace(("X", X))
        if dtype_name(X.dtype) != dtype:
            X = xp.astype(X, getattr(xp, dtype) if not is_dask_namespace(xp) else np.dtype(dtype))
        if not is_dask_namespace(xp):
            check_magnitude(X, xp)
        if is_dask_namespace(xp):
            from .distributed import prepare_dask

            X, y_enc, w = prepare_dask(X, y_codes, sw, self.batch_size)
        else:
            dev = device(X)
            y_enc = xp.asarray(y_codes.astype(np.int64), device=dev) if not is_numpy(xp) \
                else y_codes.astype(np.int64)
            w = None if sw is None else to_xp(sw.astype(dtype), xp, dev)
        w_sum = float(n if sw is None else sw.sum())
        return {"X": X, "y": y_enc, "w": w, "classes": classes, "xp": xp, "y_host": y_codes,
                "w_sum": w_sum}

    def _row_weights_host(self, sample_weight: Any, y_codes: np.ndarray, classes: np.ndarray,
                          n: int) -> np.ndarray | None:
        sw = None
        if sample_weight is not None:
            sw = np.asarray(backends.to_numpy(sample_weight), dtype=np.float64)
            if sw.ndim == 0:
                sw = np.full(n, float(sw))
            if sw.ndim != 1 or sw.shape[0] != n:
                msg = (f"`sample_weight` has shape {sw.shape} but `X` has {n} rows: "
                       f"pass one weight per row")
                raise ValueError(msg)
            if not np.all(np.isfinite(sw)):
                msg = "`sample_weight` contains NaN or infinite values"
                raise ValueError(msg)
            if np.any(sw < 0):
                msg = (f"`sample_weight` must be >= 0, got {int((sw < 0).sum())} negative "
                       f"value(s) (min {sw.min()})")
                raise ValueError(msg)
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
        if sw is not None and not sw.sum() > 0:
            msg = ("the row weights from `sample_weight` and `class_weight` are all zero: "
                   "at least one row needs weight > 0")
            raise ValueError(msg)
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
        if xp.isdtype(X.dtype, "real floating"):
            if is_dask_namespace(xp):
                # lazily: the error comes when the result is computed (fit checks its
                # training data eagerly, after persisting it once)
                from .distributed import check_finite_lazily

                return X if reset else check_finite_lazily(X)
            bad = int(xp.count_nonzero(~xp.isfinite(X)))
            if bad:
                raise ValueError(nonfinite_message(bad))
        return X

    def _split_validation(self, X: Any, y: Any, w: Any, y_host: np.ndarray,
                          rng: np.random.Generator, xp: Any) -> tuple[Any, ...]:
        from sklearn.model_selection import train_test_split

        n = y_host.shape[0]
        try:
            tr, va = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                      stratify=y_host, random_state=rng.integers(2**31))
        except ValueError as exc:
            msg = (f"`validation_fraction`={self.validation_fraction} cannot hold out a "
                   f"stratified validation set of {n} rows ({exc}); use a larger fraction "
                   f"or early_stopping=False")
            raise ValueError(msg) from None
        tr, va = np.sort(tr), np.sort(va)

        def take(A: Any, idx: np.ndarray) -> Any:
            if A is None:
                return None
            if is_dask_namespace(xp):
                return A[idx]
            return xp.take(A, to_xp(idx, xp, device(A)), axis=0)

        Xv, yv, wv = take(X, va), take(y, va), take(w, va)
        return take(X, tr), take(y, tr), take(w, tr), (Xv, yv, wv)

    def _prepare_validation(self, validation_data: Any, classes: np.ndarray, X: Any, xp: Any
                            ) -> tuple[Any, Any, None]:
        """Put ``(X_val, y_val)`` on the training data's backend, labels encoded as in fit."""
        try:
            Xv, yv = validation_data
        except (TypeError, ValueError):
            msg = "`validation_data` must be a pair (X_val, y_val)"
            raise ValueError(msg) from None
        Xv = self._predict_input(Xv, fitted=False, like=X)
        yv = np.asarray(backends.to_numpy(yv) if is_device_array(yv) or hasattr(yv, "to_numpy")
                        else yv).ravel()
        if yv.shape[0] != Xv.shape[0]:
            msg = f"`validation_data` has {yv.shape[0]} labels but {Xv.shape[0]} rows"
            raise ValueError(msg)
        codes = np.searchsorted(classes, yv)
        codes = np.clip(codes, 0, len(classes) - 1)
        unknown = classes[codes] != yv
        if unknown.any():
            msg = (f"`validation_data` holds label {yv[unknown][0]!r}, which is not among the "
                   f"training classes {classes.tolist()!r}")
            raise ValueError(msg)
        if is_dask_namespace(xp):
            da = backends.import_backend("dask")
            return Xv, da.from_array(codes.astype(np.int64), chunks=(Xv.chunks[0],)), None
        return Xv, to_xp(codes.astype(np.int64), xp, device(X)), None

    def _val_loss(self, obj: S.Objective, Xv: Any, yv: Any, wv: Any) -> Any:
        def val_loss(theta: Any) -> float:
            W, b = obj.unpack(theta)
            if is_dask_namespace(obj.xp):
                from .distributed import dask_loss_and_grad

                return float(dask_loss_and_grad(Xv, yv, W, b, l2=0.0, w=wv)[0])
            return float(_loss_and_grad(Xv, yv, W, b, l2=0.0, w=wv, xp=obj.xp)[0])

        return val_loss

    def _initial_theta(self, obj: S.Objective, classes: np.ndarray, pxp: Any, dtype: Any,
                       dev: Any) -> Any:
        if (self.warm_start and hasattr(self, "_W") and len(self.classes_) == len(classes)
                and np.array_equal(self.classes_, classes)
                and self._W.shape[0] == obj.n_features):
            W = backends.asarray(self._W, backend=backend_name(pxp), device=dev, dtype=dtype)
            b = backends.asarray(self._b, backend=backend_name(pxp), device=dev, dtype=dtype)
            return obj.pack(W, b)
        kw = {} if dev is None else {"device": dev}
        return pxp.zeros((obj.size,), dtype=dtype, **kw)

    # ------------------------------------------------------------------ predict

    def _predict_input(self, X: Any, *, fitted: bool = True, like: Any = None) -> Any:
        """Validate ``X`` and put it where the model (or the array ``like``) lives."""
        if fitted:
            check_is_fitted(self)
            backend, dev, dtype = self.backend_, self.device_, dtype_name(self._W.dtype)
        else:
            lazy = aac.is_dask_array(like)
            backend = "dask" if lazy else library_name(like)
            dev, dtype = (None if lazy else device(like)), dtype_name(like.dtype)
        X = from_dask_dataframe(X)
        if is_device_array(X):
            lib = library_name(X)
            if lib != backend or (dev is not None and device(X) != dev):
                where = f"{backend}" + ("" if dev is None else f" on {dev}")
                msg = (f"`X` is a {lib} array on {device(X)} but the model lives on {where}; "
                       f"move one of them, e.g. model.to({lib!r}) or "
                       f"softmaxreg.backends.asarray(X, backend={backend!r})")
                raise ValueError(msg)
            X = self._validate_array(X, reset=False)
            if dtype_name(X.dtype) != dtype:
                xp = array_namespace(("X", X))
                X = xp.astype(X, np.dtype(dtype) if is_dask_namespace(xp) else getattr(xp, dtype))
            return X
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32],
                          ensure_all_finite=False)
        check_finite_host(X)
        if backend == "numpy":
            return X.astype(dtype, copy=False)
        return backends.asarray(X, backend=backend, device=dev, dtype=dtype)

    def _logits(self, X: Any) -> tuple[Any, Any]:
        X = self._predict_input(X)
        xp = array_namespace(("X", X))
        W, b = self._W, self._b
        if is_dask_namespace(xp):
            da = backends.import_backend("dask")
            W, b = da.from_array(np.asarray(W)), da.from_array(np.asarray(b))
        return forward(X, W, b, xp=xp), xp

    def decision_function(self, X: Any) -> Any:
        """Logits, shape (n, n_classes); for two classes the margin ``z_1 - z_0``, shape (n,).

        The two-class form is what scikit-learn's binary classifiers return:
        positive means ``classes_[1]``.
        """
        Z, _ = self._logits(X)
        if len(self.classes_) == 2:
            return Z[:, 1] - Z[:, 0]
        return Z

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape (n, n_classes), in the model's backend."""
        Z, xp = self._logits(X)
        return softmax(Z, axis=1, xp=xp)

    def predict_log_proba(self, X: Any) -> Any:
        """Log class probabilities (numerically stable), shape (n, n_classes)."""
        Z, xp = self._logits(X)
        return log_softmax(Z, axis=1, xp=xp)

    def predict(self, X: Any) -> Any:
        """Predicted labels, as they were given to ``fit``.

        Numeric labels come back in the model's backend; other labels (strings)
        as a NumPy array (Dask: a lazy Dask array).
        """
        Z, xp = self._logits(X)
        idx = xp.argmax(Z, axis=1)
        classes = self.classes_
        if is_dask_namespace(xp):
            return idx.map_blocks(lambda i: classes[i], dtype=classes.dtype)
        if is_numpy(xp) or classes.dtype.kind not in "biuf":
            return classes[backends.to_numpy(idx)]
        if classes.dtype.kind == "u" and classes.dtype.itemsize > 1:
            # torch cannot gather from uint16/32/64 tensors: pick the labels on the host
            labels = classes[backends.to_numpy(idx)]
            return backends.asarray(labels, backend=self.backend_, device=self.device_)
        cls = backends.asarray(classes, backend=self.backend_, device=self.device_)
        return xp.take(cls, idx, axis=0)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy (weighted by ``sample_weight``), as a Python float."""
        pred = backends.to_numpy(self.predict(X))
        truth = labels_to_host(y, X)
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

    # ------------------------------------------------------------------ moving, saving

    def to(self, backend: str, device: Any = None) -> SoftmaxRegression:
        """Move a fitted model's weights to another backend or device (in place)."""
        check_is_fitted(self)
        name, dev = backends.parse_backend(backend, device)
        dtype = dtype_name(self._W.dtype)
        if name == "dask":
            W, b = backends.to_numpy(self._W), backends.to_numpy(self._b)
            W, b = W.astype(dtype), b.astype(dtype)
            self.device_ = None
        else:
            W = backends.asarray(self._W, backend=name, device=dev, dtype=dtype)
            b = backends.asarray(self._b, backend=name, device=dev, dtype=dtype)
            self.device_ = aac.device(W)
        self._W, self._b = W, b
        self.coef_, self.intercept_ = W.T, b
        self.backend_ = name
        return self

    def save(self, path: Any) -> None:
        """Write the fitted model to one ``.npz`` file, atomically; see :mod:`softmaxreg.io`."""
        from .io import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path: Any, backend: str | None = None, device: Any = None
             ) -> SoftmaxRegression:
        """Read a model written by :meth:`save`, onto ``backend`` (default NumPy)."""
        from .io import load_model

        return load_model(cls, path, backend=backend, device=device)
