"""The numerical core of softmax regression, written once against the array API.

Every public function infers the array namespace and device once from its
array arguments (pass ``xp=`` to skip that), validates its inputs, and hands
them to a private kernel that trusts them. Results stay in the input's
namespace, device and floating dtype; inputs are never written to.

The model, as in the lesson the project comes from::

    Z = X @ W + b                       logits, (n, C)
    P = softmax(Z)                      class probabilities
    loss = sum_i w_i * -log P[i, y_i] / sum_i w_i  +  l2 / 2 * ||W||^2

with ``w_i = sample_weight[i] * class_weight[y_i]``. The gradient is
``X.T @ (w * (P - Y)) / sum(w) + l2 * W`` and ``sum_i w_i (P - Y)[i] / sum(w)``
for the bias, computed analytically in the same pass as the loss.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from ._compat import (
    array_namespace,
    check_same_device,
    checked,
    device,
    dtype_name,
    is_sparse,
    sparse_rows,
    sparse_values,
    without_grad,
)
from ._kernel import kernel, ops_for
from ._validation import check_int, check_number, check_some_weight, check_weights

__all__ = [
    "cross_entropy",
    "forward",
    "log_softmax",
    "logsumexp",
    "loss_and_grad",
    "one_hot",
    "softmax",
]



# --------------------------------------------------------------------------- softmax


def logsumexp(Z: Any, /, axis: int = -1, keepdims: bool = False, *, xp: Any = None) -> Any:
    """Numerically stable ``log(sum(exp(Z), axis))``.

    The maximum along ``axis`` is subtracted before exponentiating, which is
    exact in real arithmetic and keeps ``exp`` below 1. Rows of only ``-inf``
    give ``-inf``; ``-inf`` entries in other rows contribute 0.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxreg import logsumexp
    >>> float(logsumexp(np.array([1e4, 1e4], dtype=np.float32)))  # doctest: +ELLIPSIS
    10000.69...
    """
    if xp is None:
        xp = array_namespace(("Z", Z))
    _check_floating(Z, "Z", xp)
    return _logsumexp(Z, axis=axis, keepdims=keepdims, xp=xp)


def log_softmax(Z: Any, /, axis: int = -1, *, xp: Any = None) -> Any:
    """Numerically stable ``log(softmax(Z, axis))``.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxreg import log_softmax
    >>> np.round(log_softmax(np.array([0.0, 0.0])), 4)
    array([-0.6931, -0.6931])
    """
    if xp is None:
        xp = array_namespace(("Z", Z))
    _check_floating(Z, "Z", xp)
    # (Z - m) - log(sum(exp(Z - m))), not Z - (m + log(...)): adding m back before
    # subtracting rounds the result to the precision of the largest logit
    shifted = Z - _safe_max(Z, axis=axis, xp=xp)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def softmax(Z: Any, /, axis: int = -1, *, xp: Any = None) -> Any:
    """Numerically stable softmax: ``exp(Z - max(Z)) / sum(exp(Z - max(Z)))``.

    Finite for float32 logits of any finite magnitude; ``-inf`` logits get
    probability exactly 0 (a row of only ``-inf`` gives NaN, as it has no
    defined distribution).

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxreg import softmax
    >>> softmax(np.array([[1e4, 1e4, -np.inf]], dtype=np.float32))
    array([[0.5, 0.5, 0. ]], dtype=float32)
    """
    if xp is None:
        xp = array_namespace(("Z", Z))
    _check_floating(Z, "Z", xp)
    E = xp.exp(Z - _safe_max(Z, axis=axis, xp=xp))
    return E / xp.sum(E, axis=axis, keepdims=True)


def _safe_max(Z: Any, *, axis: int, xp: Any) -> Any:
    """Max along ``axis`` (kept), with non-finite maxima replaced by 0.

    A row of only ``-inf`` would otherwise give ``-inf - -inf = nan``.
    """
    m = xp.max(Z, axis=axis, keepdims=True)
    return xp.where(xp.isfinite(m), m, xp.zeros_like(m))


def _logsumexp(Z: Any, *, axis: int, keepdims: bool, xp: Any) -> Any:
    m = _safe_max(Z, axis=axis, xp=xp)
    s = xp.sum(xp.exp(Z - m), axis=axis, keepdims=True)
    # an empty sum (a row of only -inf) has log -inf; taking log(0) would also warn
    positive = s > 0
    log_s = xp.where(positive, xp.log(xp.where(positive, s, xp.ones_like(s))),
                     xp.full_like(s, -math.inf))
    out = log_s + m
    return out if keepdims else xp.squeeze(out, axis=axis)


# --------------------------------------------------------------------------- labels


def one_hot(y: Any, n_classes: int, /, dtype: Any = None, *, xp: Any = None) -> Any:
    """Encode integer labels ``y`` of shape (n,) as an (n, n_classes) indicator matrix.

    ``dtype`` defaults to the namespace's default floating dtype on ``y``'s device.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxreg import one_hot
    >>> one_hot(np.array([0, 2]), 3)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    if xp is None:
        xp = array_namespace(("y", y))
    check_int("n_classes", n_classes, lo=1)
    y = _check_labels(y, n_classes, xp)
    dev = device(y)
    if dtype is None:
        dtype = xp.__array_namespace_info__().default_dtypes(device=dev)["real floating"]
    classes = xp.arange(n_classes, device=dev)
    return xp.astype(y[:, None] == classes[None, :], dtype)


# --------------------------------------------------------------------------- loss


def forward(X: Any, W: Any, b: Any, /, *, xp: Any = None) -> Any:
    """Logits ``Z = X @ W + b`` for ``X`` (n, d), ``W`` (d, C) and ``b`` (C,).

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxreg import forward
    >>> forward(np.ones((2, 3)), np.ones((3, 2)), np.array([0.0, 1.0]))
    array([[3., 4.],
           [3., 4.]])
    """
    X = as_sparse_rows(X)
    if xp is None:
        xp = array_namespace(("X", X), ("W", W), ("b", b))
    _check_params(X, W, b, xp)
    return ops_for(xp, X).matmul(X, W) + b


def cross_entropy(
    Z: Any,
    y: Any,
    /,
    *,
    sample_weight: Any = None,
    class_weight: Any = None,
    xp: Any = None,
) -> Any:
    """Weighted mean cross-entropy of logits ``Z`` (n, C) against integer labels ``y``.

    Returns a 0-d array: ``sum_i w_i * -log softmax(Z)[i, y_i] / sum_i w_i`` with
    ``w_i = sample_weight[i] * class_weight[y_i]`` (each defaults to ones). This
    is ``torch.nn.functional.cross_entropy(Z, y, weight=class_weight)`` and
    ``sklearn.metrics.log_loss(y, softmax(Z), sample_weight=sample_weight)``.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxreg import cross_entropy
    >>> round(float(cross_entropy(np.zeros((4, 2)), np.array([0, 1, 1, 0]))), 4)
    0.6931
    """
    if xp is None:
        xp = array_namespace(
            ("Z", Z), ("y", y), ("sample_weight", sample_weight), ("class_weight", class_weight)
        )
    check_same_device(("Z", Z), ("y", y), ("sample_weight", sample_weight),
                      ("class_weight", class_weight))  # first: the checks below read values
    _check_floating(Z, "Z", xp)
    if Z.ndim != 2:
        msg = f"`Z` must be 2-D (n_samples, n_classes), got shape {tuple(Z.shape)}"
        raise ValueError(msg)
    n, C = Z.shape
    _check_rows(n, "Z")
    y = _check_labels(y, C, xp, n_rows=n, rows_name="Z")
    sample_weight, class_weight = without_grad(sample_weight), without_grad(class_weight)
    w = _row_weights(y, sample_weight, class_weight, n=n, n_classes=C, dtype=Z.dtype, xp=xp)
    logp = log_softmax(Z, axis=1, xp=xp)
    mask = y[:, None] == xp.arange(C, device=device(Z))[None, :]
    nll = -xp.sum(xp.where(mask, logp, xp.zeros_like(logp)), axis=1)
    if w is None:
        return xp.mean(nll)
    return xp.sum(w * nll) / xp.sum(w)


def loss_and_grad(
    X: Any,
    y: Any,
    W: Any,
    b: Any,
    /,
    *,
    l2: float = 0.0,
    sample_weight: Any = None,
    class_weight: Any = None,
    xp: Any = None,
) -> tuple[Any, Any, Any]:
    """Loss and analytic gradient of L2-regularised softmax regression in one pass.

    Parameters
    ----------
    X : array of shape (n, d), real floating
    y : integer array of shape (n,) with labels in ``[0, C)``
    W : array of shape (d, C), same dtype as ``X``
    b : array of shape (C,), same dtype as ``X``
    l2 : float
        Strength of ``l2 / 2 * sum(W**2)``; the bias is not penalised.
    sample_weight : array of shape (n,), optional
    class_weight : array of shape (C,), optional
    xp : namespace, optional
        Skip namespace inference.

    Returns
    -------
    loss : 0-d array
        :func:`cross_entropy` of ``forward(X, W, b)`` plus the L2 term.
    dW, db : arrays shaped like ``W`` and ``b``

    Notes
    -----
    The logits are formed class-major, ``W.T @ X.T`` of shape (C, n), so that
    the max, exp and sum run over the short leading axis while the long axis
    stays contiguous; on CPU the rows go through blocks of ``_kernel.BLOCK_ROWS`` so
    the temporaries stay in cache. The hot path is two matrix products plus a
    few passes over the logits, and ``X`` is never copied or upcast.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxreg import loss_and_grad
    >>> X = np.array([[1.0, 2.0], [3.0, -1.0]]); y = np.array([0, 1])
    >>> loss, dW, db = loss_and_grad(X, y, np.zeros((2, 2)), np.zeros(2))
    >>> round(float(loss), 4), dW.shape, db.shape
    (0.6931, (2, 2), (2,))
    """
    X = as_sparse_rows(X)
    if xp is None:
        xp = array_namespace(
            ("X", X), ("y", y), ("W", W), ("b", b),
            ("sample_weight", sample_weight), ("class_weight", class_weight),
        )
    # devices first: the label and weight checks below read values from the arrays
    check_same_device(("X", X), ("y", y), ("W", W), ("b", b),
                      ("sample_weight", sample_weight), ("class_weight", class_weight))
    _check_params(X, W, b, xp)
    n, C = X.shape[0], W.shape[1]
    _check_rows(n, "X")
    y = _check_labels(y, C, xp, n_rows=n, rows_name="X")
    check_number("l2", l2, lo=0.0, open_lo=False)
    l2 = float(l2)
    # the gradient is analytic: tensors that require grad are read, no graph is built
    X, W, b, sample_weight, class_weight = (
        without_grad(A) for A in (X, W, b, sample_weight, class_weight))
    w = _row_weights(y, sample_weight, class_weight, n=n, n_classes=C, dtype=X.dtype, xp=xp)
    return kernel(ops_for(xp, X), X, y, W, b, l2=l2, w=w)


def as_sparse_rows(X: Any) -> Any:
    """A sparse ``X`` (``scipy.sparse``, a sparse torch tensor, ``cupyx.scipy.sparse``) in
    CSR form, converted once and never densified, checked for what the kernel cannot
    use; anything else as it is."""
    if not is_sparse(X):
        return X
    if X.ndim != 2:
        msg = f"`X` must be 2-D, got a sparse array of shape {tuple(X.shape)}"
        raise ValueError(msg)
    X = sparse_rows(X)  # CSC/COO/... once (duplicate COO entries are summed); CSR as it is
    values = sparse_values(X)
    xp = array_namespace(("X", values))
    finite = xp.isfinite(values)
    if not bool(xp.all(finite)):
        bad = int(xp.count_nonzero(~finite))
        msg = f"`X` contains {bad} NaN or infinite stored value(s); remove or impute them"
        raise ValueError(msg)
    return X


def _check_floating(A: Any, name: str, xp: Any) -> None:
    if not xp.isdtype(A.dtype, "real floating"):
        got = dtype_name(A.dtype)
        msg = f"`{name}` must have a real floating dtype (float32 or float64), got {got}"
        raise TypeError(msg)
    if A.dtype not in (xp.float32, getattr(xp, "float64", xp.float32)):
        # float16 sums of exp() overflow past 65504 and lose every digit long before:
        # 70,000 rows gave a loss of 0, 120,000 gave NaN
        got = dtype_name(A.dtype)
        msg = (f"`{name}` must be float32 or float64, got {got}: half-precision sums over "
               f"many rows overflow or lose all precision; convert first, e.g. "
               f"xp.astype({name}, xp.float32)")
        raise TypeError(msg)


def _check_rows(n: Any, name: str) -> None:
    """A known, positive row count: the mean over no rows is undefined."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        msg = (f"`{name}` has an unknown number of rows (a Dask array with unknown chunk "
               f"sizes): call {name}.compute_chunk_sizes() first, or build it with "
               f"dataframe.to_dask_array(lengths=True)")
        raise ValueError(msg)
    if n == 0:
        msg = f"`{name}` has 0 rows: the loss is a mean over rows and needs at least one"
        raise ValueError(msg)


def _check_params(X: Any, W: Any, b: Any, xp: Any) -> None:
    for name, A, nd in (("X", X, 2), ("W", W, 2), ("b", b, 1)):
        _check_floating(A, name, xp)
        if A.ndim != nd:
            msg = f"`{name}` must be {nd}-D, got shape {tuple(A.shape)}"
            raise ValueError(msg)
    if X.dtype != W.dtype or W.dtype != b.dtype:
        msg = (
            f"`X`, `W` and `b` must share one dtype, got {dtype_name(X.dtype)}, "
            f"{dtype_name(W.dtype)} and {dtype_name(b.dtype)}; "
            f"cast the parameters with xp.astype(W, X.dtype)"
        )
        raise TypeError(msg)
    if X.shape[1] != W.shape[0]:
        msg = f"`X` has {X.shape[1]} features (columns) but `W` has {W.shape[0]} rows"
        raise ValueError(msg)
    if b.shape[0] != W.shape[1]:
        msg = f"`b` has {b.shape[0]} entries but `W` has {W.shape[1]} classes (columns)"
        raise ValueError(msg)
    if W.shape[1] < 1:
        msg = f"`W` must have at least one class column, got shape {tuple(W.shape)}"
        raise ValueError(msg)
    check_same_device(("X", X), ("W", W), ("b", b))


def _check_labels(
    y: Any, n_classes: int, xp: Any, *, n_rows: int | None = None, rows_name: str = "X"
) -> Any:
    """Check integer labels in ``[0, n_classes)``; return them in the index dtype.

    Labels of any integer dtype (uint8 as in MNIST, int16, uint64...) become the
    namespace's default integer dtype, so that index arithmetic such as
    ``y * n_rows + arange(n_rows)`` cannot wrap, and every backend can gather with them.
    """
    if not xp.isdtype(y.dtype, "integral"):
        got = dtype_name(y.dtype)
        msg = f"`y` must hold integer class labels in [0, {n_classes}), got dtype {got}"
        raise TypeError(msg)
    if y.ndim != 1:
        msg = f"`y` must be 1-D, got shape {tuple(y.shape)}"
        raise ValueError(msg)
    if n_rows is not None and y.shape[0] != n_rows:
        msg = f"`y` has {y.shape[0]} labels but `{rows_name}` has {n_rows} rows"
        raise ValueError(msg)
    index = xp.__array_namespace_info__().default_dtypes(device=device(y))["integral"]
    given = y.dtype
    if given != index:
        y = xp.astype(y, index)
    if y.shape[0] == 0:
        return y
    bits = xp.iinfo(given).bits if xp.isdtype(given, "unsigned integer") else None
    # eager arrays are checked now; Dask when the result is computed (see CONVENTIONS)
    return checked(y, functools.partial(_check_label_range, n_classes=n_classes, bits=bits),
                   xp.min(y), xp.max(y))


def _check_label_range(lo: Any, hi: Any, *, n_classes: int, bits: int | None) -> None:
    lo, hi = int(lo), int(hi)
    if lo < 0 or hi >= n_classes:
        bad = lo if lo < 0 else hi
        if bad < 0 and bits is not None:
            bad += 2**bits  # a huge unsigned label wrapped in the cast to the index dtype
        msg = f"`y` holds label {bad}, outside [0, {n_classes}) for {n_classes} classes"
        raise ValueError(msg)


def _row_weights(
    y: Any,
    sample_weight: Any,
    class_weight: Any,
    *,
    n: int,
    n_classes: int,
    dtype: Any,
    xp: Any,
) -> Any:
    """Per-row weights ``sample_weight[i] * class_weight[y_i]`` in ``dtype``, or None."""
    w = None
    if sample_weight is not None:
        sample_weight = check_weights(sample_weight, "sample_weight", n, "the rows", xp)
        w = xp.astype(sample_weight, dtype)
    if class_weight is not None:
        class_weight = check_weights(class_weight, "class_weight", n_classes, "the classes", xp)
        cw = xp.take(xp.astype(class_weight, dtype), y, axis=0)
        w = cw if w is None else w * cw
    if w is None or n == 0:
        return w
    return checked(w, check_some_weight, xp.sum(w))
