"""Data plans: the one place where a fit or a prediction decides its backend.

A plan knows how its backend holds the data and the parameters: how to evaluate
the objective on all rows or on a batch, what a batch is, how to take rows,
encode labels next to ``X``, compute logits and pick predicted labels.
:func:`plan_for` returns it from a backend name, once; the estimator and the
solvers then call its methods and never ask which library they are in.

Two plans exist: :class:`EagerPlan` for libraries whose arrays hold values
(NumPy, PyTorch, JAX, CuPy, array_api_strict), and :class:`DaskPlan` for Dask,
whose row chunks stay on the cluster while the parameters live on the client
as NumPy arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import backends
from ._compat import (
    array_namespace,
    device,
    dtype_name,
    is_array,
    is_sparse,
    library_name,
    resolve_dtype,
    sparse_library,
    sparse_rows,
    take_sparse_rows,
    without_grad,
)
from ._kernel import kernel, ops_for
from ._validation import check_values
from .distributed import check_finite_lazily, dask_loss_and_grad, prepare_dask
from .functional import forward
from .solvers import Objective

__all__ = ["DaskPlan", "EagerPlan", "Plan", "input_plan", "is_non_numpy_array", "labels_to_host",
           "needs_move", "plan_for", "plan_of", "sum_of_weights", "SparsePlan"]


def plan_for(backend: str, device: Any = None) -> Plan:
    """The plan of a backend name (as in :data:`softmaxreg.backends.BACKENDS`)."""
    return DaskPlan(backend, None) if backend == "dask" else EagerPlan(backend, device)


def plan_of(X: Any) -> Plan:
    """The plan of the library and device ``X`` lives on."""
    kind = sparse_library(X)
    if kind == "scipy":
        return SparsePlan("numpy", "cpu")
    if kind is not None:  # torch's or CuPy's sparse matrices keep their library and device
        return SparsePlan(kind, device(X))
    name = library_name(X)
    return plan_for(name, None if name == "dask" else device(X))


def is_non_numpy_array(x: Any) -> bool:
    """An array of a supported library other than NumPy (those keep their own backend),
    sparse torch and CuPy matrices included."""
    if sparse_library(x) in ("torch", "cupy"):
        return True
    return is_array(x) and not isinstance(x, (np.ndarray, np.generic))


def input_plan(x: Any) -> Plan | None:
    """The plan of an input that keeps its own library (torch, JAX, CuPy, Dask,
    array_api_strict arrays); None for host data (NumPy, pandas, lists), which
    scikit-learn's validation reads."""
    return plan_of(x) if is_non_numpy_array(x) else None


def needs_move(X: Any, target: tuple[str, Any] | None) -> bool:
    """Whether ``X`` must be moved to reach the ``(backend, device)`` target."""
    if target is None:
        return False
    if not is_non_numpy_array(X):
        return target[0] != "numpy"
    return target[1] is not None and str(device(X)) != str(target[1])


def labels_to_host(y: Any) -> np.ndarray:
    """Labels of any library, list or pandas object as a 1-D NumPy array."""
    if y is None:
        msg = "SoftmaxRegression requires y to be passed, but the target y is None"
        raise ValueError(msg)
    y = backends.to_numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        msg = f"`y` must be 1-D, got shape {y.shape}"
        raise ValueError(msg)
    return y


@dataclass(frozen=True)
class Plan:
    """What every backend's plan provides (see the module docstring)."""

    name: str
    device: Any

    @property
    def params_backend(self) -> str:
        """The library the parameters live in."""
        return self.name

    def params_device(self, X: Any) -> Any:
        return device(X)

    # -- data ------------------------------------------------------------------
    def astype(self, X: Any, dtype: str) -> Any:
        xp = array_namespace(("X", X))
        return X if dtype_name(X.dtype) == dtype else xp.astype(X, getattr(xp, dtype))

    def check_values(self, X: Any) -> Any:
        """``X`` after its NaN/inf check (now, or when computed for lazy data)."""
        raise NotImplementedError

    def prepare(self, X: Any, codes: np.ndarray, sw: np.ndarray | None,
                batch_size: int | None) -> tuple[Any, Any, Any]:
        """``X`` ready for the solver, the label codes and row weights beside it."""
        raise NotImplementedError

    def labels_like(self, codes: np.ndarray, X: Any) -> Any:
        raise NotImplementedError

    def take_rows(self, A: Any, idx: np.ndarray) -> Any:
        raise NotImplementedError

    # -- maths -----------------------------------------------------------------
    def objective(self, X: Any, y: Any, w: Any, *, l2: float, n_classes: int,
                  fit_intercept: bool, l1: float = 0.0) -> Objective:
        raise NotImplementedError

    def loss(self, X: Any, y: Any, w: Any, W: Any, b: Any) -> float:
        """The unpenalised weighted cross-entropy, as a float (validation loss)."""
        raise NotImplementedError

    def logits(self, X: Any, W: Any, b: Any) -> Any:
        return forward(X, W, b)

    def pick(self, idx: Any, classes: np.ndarray) -> Any:
        """The labels ``classes[idx]`` of the predicted class indices."""
        raise NotImplementedError

    def params(self, W: Any, b: Any, dtype: str) -> tuple[Any, Any]:
        """``(W, b)`` moved to where this plan keeps its parameters."""
        return tuple(backends.asarray(a, backend=self.name, device=self.device, dtype=dtype)
                     for a in (W, b))


@dataclass(frozen=True)
class EagerPlan(Plan):
    """Arrays with values: the whole fit runs in the data's library, on its device."""

    def check_values(self, X: Any) -> Any:
        check_values(X, array_namespace(("X", X)))
        return X

    def prepare(self, X: Any, codes: np.ndarray, sw: np.ndarray | None,
                batch_size: int | None) -> tuple[Any, Any, Any]:
        X = without_grad(X)  # the gradient is analytic: no autograd graph is needed
        if batch_size is not None and batch_size < X.shape[0]:
            X = self._rows_contiguous(X)
        y = self.labels_like(codes, X)
        w = None if sw is None else self._put(sw.astype(dtype_name(X.dtype)), X)
        return X, y, w

    def _rows_contiguous(self, X: Any) -> Any:
        """``X`` with each row contiguous in memory (one copy, only when it is not).

        A mini-batch gathers rows: from a column-major array (a DataFrame's
        values, ``np.asfortranarray``) each row is spread over the whole array,
        which made an SGD epoch 250x slower at (100000, 50).
        """
        if self.name == "numpy" and not X.flags.c_contiguous:
            return np.ascontiguousarray(X)
        if self.name == "torch" and not X.is_contiguous():
            return X.contiguous()
        return X

    def _put(self, a: np.ndarray, like: Any) -> Any:
        if isinstance(like, np.ndarray):
            return a
        xp = array_namespace(("X", like))
        return xp.asarray(backends.asarray(a, backend=self.name), device=device(like))

    def labels_like(self, codes: np.ndarray, X: Any) -> Any:
        return self._put(codes.astype(np.int64), X)

    def take_rows(self, A: Any, idx: np.ndarray) -> Any:
        if A is None:
            return None
        xp = array_namespace(("A", A))
        return xp.take(A, self._put(idx, A), axis=0)

    def objective(self, X: Any, y: Any, w: Any, *, l2: float, n_classes: int,
                  fit_intercept: bool, l1: float = 0.0) -> Objective:
        xp = array_namespace(("X", X))
        ops = ops_for(xp, X)
        n = int(X.shape[0])
        dev = self.params_device(X)

        def evaluate(W: Any, b: Any, rows: Any) -> tuple[Any, Any, Any]:
            if rows is None:
                return kernel(ops, X, y, W, b, l2=l2, w=w)

            def take(A: Any) -> Any:
                return self._gather(A, rows, xp)

            return kernel(ops, take(X), take(y), W, b, l2=l2,
                          w=None if w is None else take(w))

        def batches(rng: np.random.Generator | None, batch_size: int | None) -> list[Any]:
            if batch_size is None or batch_size >= n:
                return [None]
            order = rng.permutation(n) if rng is not None else np.arange(n)
            return [xp.asarray(order[i : i + batch_size], device=dev)
                    for i in range(0, n, batch_size)]

        flat = None
        if ops.name == "jax":  # one compiled program for the whole objective
            flat = functools.partial(_jax_flat_objective(), X=X, y=y, w=w, l2=l2,
                                     n_classes=n_classes, fit_intercept=fit_intercept)
        return Objective(evaluate, batches, int(X.shape[1]), n_classes, fit_intercept, xp,
                         flat, l1=l1)

    def _gather(self, A: Any, rows: Any, xp: Any) -> Any:
        """The rows ``rows`` (an index array on ``A``'s device) of ``A``."""
        return xp.take(A, rows, axis=0)

    def loss(self, X: Any, y: Any, w: Any, W: Any, b: Any) -> float:
        xp = array_namespace(("X", X))
        return float(kernel(ops_for(xp, X), X, y, W, b, l2=0.0, w=w)[0])

    def pick(self, idx: Any, classes: np.ndarray) -> Any:
        if self.name == "numpy" or classes.dtype.kind not in "biuf":
            return classes[backends.to_numpy(idx)]  # strings stay NumPy
        if classes.dtype.kind == "u" and classes.dtype.itemsize > 1:
            # torch cannot gather from uint16/32/64 tensors: pick the labels on the host
            return backends.asarray(classes[backends.to_numpy(idx)], backend=self.name,
                                    device=self.device)
        cls = backends.asarray(classes, backend=self.name, device=self.device)
        xp = array_namespace(("idx", idx))
        return xp.take(cls, idx, axis=0)


@dataclass(frozen=True)
class SparsePlan(EagerPlan):
    """Sparse rows (CSR, never densified): ``scipy.sparse`` with NumPy parameters, torch
    sparse tensors and ``cupyx.scipy.sparse`` matrices with parameters of their library
    on their device; the kernel's sparse ``Ops`` do the products."""

    def params_device(self, X: Any) -> Any:
        return self.device

    def astype(self, X: Any, dtype: str) -> Any:
        if dtype_name(X.dtype) == dtype:
            return X
        if self.name == "torch":
            return X.to(resolve_dtype(array_namespace(("X", X)), dtype))
        return X.astype(dtype)

    def prepare(self, X: Any, codes: np.ndarray, sw: np.ndarray | None,
                batch_size: int | None) -> tuple[Any, Any, Any]:
        X = sparse_rows(without_grad(X))
        w = None if sw is None else self._on_device(sw.astype(dtype_name(X.dtype)))
        return X, self._on_device(codes.astype(np.int64)), w

    def _on_device(self, a: np.ndarray) -> Any:
        if self.name == "numpy":
            return a
        return backends.asarray(a, backend=self.name, device=self.device)

    def take_rows(self, A: Any, idx: np.ndarray) -> Any:
        return None if A is None else self._gather(A, self._on_device(idx), None)

    def _gather(self, A: Any, rows: Any, xp: Any) -> Any:
        # CSR rows, and the labels and weights beside them
        return take_sparse_rows(A, rows) if is_sparse(A) else A[rows]


@dataclass(frozen=True)
class DaskPlan(Plan):
    """Row chunks on a Dask cluster; parameters on the client as NumPy arrays."""

    @property
    def params_backend(self) -> str:
        return "numpy"

    def params_device(self, X: Any) -> Any:
        return None

    def astype(self, X: Any, dtype: str) -> Any:
        return X if X.dtype == np.dtype(dtype) else X.astype(dtype)

    def check_values(self, X: Any) -> Any:
        return check_finite_lazily(X)

    def prepare(self, X: Any, codes: np.ndarray, sw: np.ndarray | None,
                batch_size: int | None) -> tuple[Any, Any, Any]:
        return prepare_dask(X, codes, sw, batch_size)

    def labels_like(self, codes: np.ndarray, X: Any) -> Any:
        da = backends.import_backend("dask")
        return da.from_array(codes.astype(np.int64), chunks=(X.chunks[0],))

    def take_rows(self, A: Any, idx: np.ndarray) -> Any:
        return None if A is None else A[idx]

    def objective(self, X: Any, y: Any, w: Any, *, l2: float, n_classes: int,
                  fit_intercept: bool, l1: float = 0.0) -> Objective:
        n_chunks = len(X.chunks[0])

        def evaluate(W: Any, b: Any, chunk: int | None) -> tuple[Any, Any, Any]:
            if chunk is None:
                return dask_loss_and_grad(X, y, W, b, l2=l2, w=w)
            return dask_loss_and_grad(X.blocks[chunk], y.blocks[chunk], W, b, l2=l2,
                                      w=None if w is None else w.blocks[chunk])

        def batches(rng: np.random.Generator | None, batch_size: int | None) -> list[Any]:
            if batch_size is None:
                return [None]
            # the chunks are the batches (prepare rechunked X to batch_size), shuffled
            order = rng.permutation(n_chunks) if rng is not None else np.arange(n_chunks)
            return [int(k) for k in order]

        return Objective(evaluate, batches, int(X.shape[1]), n_classes, fit_intercept,
                         backends.get_namespace("numpy"), l1=l1)

    def loss(self, X: Any, y: Any, w: Any, W: Any, b: Any) -> float:
        return float(dask_loss_and_grad(X, y, W, b, l2=0.0, w=w)[0])

    def logits(self, X: Any, W: Any, b: Any) -> Any:
        da = backends.import_backend("dask")
        return forward(X, da.from_array(np.asarray(W)), da.from_array(np.asarray(b)))

    def pick(self, idx: Any, classes: np.ndarray) -> Any:
        return idx.map_blocks(lambda i: classes[i], dtype=classes.dtype)

    def params(self, W: Any, b: Any, dtype: str) -> tuple[Any, Any]:
        return tuple(backends.to_numpy(a).astype(dtype) for a in (W, b))


@functools.cache
def _jax_flat_objective() -> Callable[..., tuple[Any, Any]]:
    """One compiled objective for all JAX fits; the data are arguments, not closure
    constants that XLA would fold into the program, so fits of the same shapes
    reuse the compilation."""
    import jax  # only reached with JAX arrays
    import jax.numpy as jnp  # only reached with JAX arrays

    def flat(theta: Any, X: Any, y: Any, w: Any, *, l2: float, n_classes: int,
             fit_intercept: bool) -> tuple[Any, Any]:
        d = X.shape[1]
        W = jnp.reshape(theta[: d * n_classes], (d, n_classes))
        b = theta[d * n_classes :]
        loss, dW, db = kernel(ops_for(jnp, X), X, y, W, b, l2=l2, w=w)
        if not fit_intercept:
            db = jnp.zeros_like(db)
        return loss, jnp.concat([jnp.reshape(dW, (-1,)), db])

    return jax.jit(flat, static_argnames=("l2", "n_classes", "fit_intercept"))


def sum_of_weights(w: Any, n: int) -> float:
    """The weight total that scales scikit-learn's penalty (``n`` when unweighted)."""
    if w is None:
        return float(n)
    return float(array_namespace(("w", w)).sum(w))  # computes a lazy (Dask) sum

