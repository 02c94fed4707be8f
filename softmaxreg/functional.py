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
import os
from typing import Any

import numpy as np

from ._compat import (
    array_namespace,
    check_same_device,
    device,
    dtype_name,
    is_jax_namespace,
    is_lazy,
    is_numpy_namespace,
    is_torch_namespace,
    is_writeable,
)

__all__ = [
    "cross_entropy",
    "forward",
    "log_softmax",
    "logsumexp",
    "loss_and_grad",
    "one_hot",
    "softmax",
]

#: Rows per block in the CPU hot path: the (C, 8192) temporaries (320 KB in float32
#: at C=10) stay in a core's L2 cache; 8192 measured best of 4096-32768 on NumPy and torch.
BLOCK_ROWS = 8192


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
    return Z - _logsumexp(Z, axis=axis, keepdims=True, xp=xp)


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
    out = xp.log(xp.sum(xp.exp(Z - m), axis=axis, keepdims=True)) + m
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
    _check_labels(y, n_classes, xp)
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
    if xp is None:
        xp = array_namespace(("X", X), ("W", W), ("b", b))
    _check_params(X, W, b, xp)
    return X @ W + b


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
    _check_floating(Z, "Z", xp)
    if Z.ndim != 2:
        msg = f"`Z` must be 2-D (n_samples, n_classes), got shape {tuple(Z.shape)}"
        raise ValueError(msg)
    n, C = Z.shape
    _check_labels(y, C, xp, n_rows=n, rows_name="Z")
    check_same_device(("Z", Z), ("y", y), ("sample_weight", sample_weight),
                      ("class_weight", class_weight))
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
    stays contiguous; on CPU the rows go through blocks of ``BLOCK_ROWS`` so
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
    if xp is None:
        xp = array_namespace(
            ("X", X), ("y", y), ("W", W), ("b", b),
            ("sample_weight", sample_weight), ("class_weight", class_weight),
        )
    _check_params(X, W, b, xp)
    n, C = X.shape[0], W.shape[1]
    _check_labels(y, C, xp, n_rows=n, rows_name="X")
    check_same_device(("X", X), ("y", y), ("W", W), ("b", b),
                      ("sample_weight", sample_weight), ("class_weight", class_weight))
    l2 = float(l2)
    if not (l2 >= 0.0 and math.isfinite(l2)):
        msg = f"`l2` must be a finite number >= 0, got {l2!r}"
        raise ValueError(msg)
    w = _row_weights(y, sample_weight, class_weight, n=n, n_classes=C, dtype=X.dtype, xp=xp)
    return _loss_and_grad(X, y, W, b, l2=l2, w=w, xp=xp)


def _block_rows(X: Any, xp: Any) -> int:
    """Row-block size: blocks on eager CPU backends, one block elsewhere.

    Lazy backends (Dask, traced JAX) build one graph, and GPUs want big
    matrix products, so they get the whole array at once.
    """
    n = X.shape[0]
    if is_numpy_namespace(xp) or (is_torch_namespace(xp) and X.device.type == "cpu"):
        return BLOCK_ROWS
    return n


def _loss_and_grad(
    X: Any,
    y: Any,
    W: Any,
    b: Any,
    *,
    l2: float,
    w: Any,
    xp: Any,
    total: Any = None,
    block_rows: int | None = None,
    native: bool = True,
    workers: int | None = None,
) -> tuple[Any, Any, Any]:
    """The kernel behind :func:`loss_and_grad`; trusts its inputs.

    ``w`` is the per-row weight (None for unweighted). ``total`` is what the
    sums are divided by (default ``sum(w)``, or ``n``); ``total=1`` gives the
    plain sums that a map over row chunks adds up. ``block_rows``, ``native``
    and ``workers`` (threads for NumPy's row blocks; default
    :func:`cpu_workers`, 1 for none) exist so that tests can compare the fast
    paths against the plain generic one.
    """
    if native and is_jax_namespace(xp):
        return _loss_and_grad_row_major(X, y, W, b, l2=l2, w=w, xp=xp, total=total)
    n = X.shape[0]
    C = W.shape[1]
    dev = device(X)
    if block_rows is None:
        block_rows = _block_rows(X, xp)
    block_rows = max(1, min(block_rows, n)) if n else 1
    if native and is_numpy_namespace(xp):
        workers = cpu_workers() if workers is None else workers
        if workers > 1 and n >= 2 * block_rows:
            return _parallel_blocks(X, y, W, b, l2=l2, w=w, xp=xp, total=total,
                                    block_rows=block_rows, workers=workers)
    Wt = W.T  # (C, d), a view
    classes = xp.arange(C, device=dev)[:, None]
    if total is None:
        total = xp.sum(w) if w is not None else n
    zero = xp.zeros((), dtype=X.dtype, device=dev)

    loss_sum = None
    dWt = None
    db = None
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        whole = start == 0 and stop == n
        Xb = X if whole else X[start:stop, ...]
        yb = y if whole else y[start:stop]
        wb = None if w is None else (w if whole else w[start:stop])

        Zt = _class_major_logits(Xb, W, Wt, b, xp=xp, native=native)
        inplace = native and is_writeable(Zt)
        if inplace:
            Zt -= xp.max(Zt, axis=0, keepdims=True)
        else:
            Zt = Zt - xp.max(Zt, axis=0, keepdims=True)
        # gather/scatter at the labels: native indexing where the library has it
        # (NumPy, torch), a mask over the (C, nb) block in standard-only code
        scatter = inplace and (is_numpy_namespace(xp) or is_torch_namespace(xp))
        if scatter:  # flat indices: one 1-D gather and scatter instead of 2-D fancy indexing
            flat = yb * (stop - start) + xp.arange(stop - start, device=dev)
            Zflat = xp.reshape(Zt, (-1,))  # a view: Zt is contiguous
            z_label = xp.take(Zflat, flat)  # shifted logit of the label
        else:
            mask = classes == yb[None, :]
            z_label = xp.sum(xp.where(mask, Zt, zero), axis=0)
        E = _exp(Zt, xp=xp, inplace=inplace)
        s = xp.sum(E, axis=0)
        nll = xp.log(s) - z_label  # (nb,)
        if wb is None:
            part = xp.sum(nll)
            scale = 1.0 / s
        else:
            part = xp.sum(wb * nll)
            scale = wb / s
        if scatter:
            E *= scale[None, :]
            Zflat[flat] -= 1.0 if wb is None else wb  # w * (P - Y), class-major
            G = E
        else:
            label_term = (xp.astype(mask, X.dtype) if wb is None
                          else xp.where(mask, wb[None, :], zero))
            if inplace:
                E *= scale[None, :]
                E -= label_term
                G = E
            else:
                G = E * scale[None, :] - label_term  # w * (P - Y), class-major
        gW = G @ Xb  # (C, d)
        gb = xp.sum(G, axis=1)
        if loss_sum is None:
            loss_sum, dWt, db = part, gW, gb
        elif is_writeable(dWt) and native:
            loss_sum += part
            dWt += gW
            db += gb
        else:
            loss_sum, dWt, db = loss_sum + part, dWt + gW, db + gb

    loss = loss_sum / total
    dW = dWt.T / total
    db = db / total
    if l2:
        loss = loss + (l2 / 2) * xp.sum(W * W)
        dW = dW + l2 * W
    return loss, dW, db


#: Threads for NumPy's row blocks; None means one per CPU core
#: (``SOFTMAXREG_CPU_THREADS`` in the environment overrides it).
CPU_THREADS: int | None = None


def cpu_workers() -> int:
    """Threads the NumPy path splits its row blocks over (1: no threads)."""
    if CPU_THREADS is not None:
        return max(1, int(CPU_THREADS))
    env = os.environ.get("SOFTMAXREG_CPU_THREADS")
    if env:
        return max(1, int(env))
    return os.cpu_count() or 1


@functools.cache
def _thread_pool() -> Any:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                              thread_name_prefix="softmaxreg")


# a forked child inherits the pool object but not its threads: give it a new one
os.register_at_fork(after_in_child=_thread_pool.cache_clear)


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's handle on the loaded BLAS, or None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _parallel_blocks(X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any, xp: Any,
                     total: Any, block_rows: int, workers: int) -> tuple[Any, Any, Any]:
    """NumPy row blocks dealt round-robin to ``workers`` threads, BLAS single-threaded.

    The softmax passes between the two matrix products run in one thread
    each, so BLAS's own threads would leave the other cores idle there;
    giving every core whole blocks keeps them busy (about 20% faster on 2
    cores at (200000, 100, 10)). Each thread returns plain sums, added in a
    fixed order, so results do not depend on timing. Without threadpoolctl
    the serial path runs instead.
    """
    controller = _blas_controller()
    n = X.shape[0]
    starts = list(range(0, n, block_rows))
    workers = min(workers, len(starts))
    if controller is None or workers < 2:
        return _loss_and_grad(X, y, W, b, l2=l2, w=w, xp=xp, total=total,
                              block_rows=block_rows, workers=1)

    def work(group: list[int]) -> tuple[Any, Any, Any]:
        sums = None
        for start in group:
            rows = slice(start, start + block_rows)
            part = _loss_and_grad(X[rows], y[rows], W, b, l2=0.0,
                                  w=None if w is None else w[rows], xp=xp, total=1.0,
                                  block_rows=block_rows, workers=1)
            sums = part if sums is None else tuple(a + c for a, c in
                                                   zip(sums, part, strict=True))
        return sums

    groups = [starts[i::workers] for i in range(workers)]
    with controller.limit(limits=1, user_api="blas"):
        parts = list(_thread_pool().map(work, groups))
    loss, dW, db = parts[0]
    for part in parts[1:]:
        loss, dW, db = loss + part[0], dW + part[1], db + part[2]
    if total is None:
        total = xp.sum(w) if w is not None else n
    loss, dW, db = loss / total, dW / total, db / total
    if l2:
        loss = loss + (l2 / 2) * xp.sum(W * W)
        dW = dW + l2 * W
    return loss, dW, db


def _loss_and_grad_row_major(X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any, xp: Any,
                             total: Any = None) -> tuple[Any, Any, Any]:
    """The same kernel with row-major (n, C) logits, in one fused expression.

    XLA fuses this layout into fewer passes than the class-major one (about
    2x faster under ``jax.jit`` on CPU), so JAX takes it; the tests compare
    it with the class-major code.
    """
    n, C = X.shape[0], W.shape[1]
    Z = X @ W + b
    Z = Z - xp.max(Z, axis=1, keepdims=True)
    mask = y[:, None] == xp.arange(C, device=device(X))[None, :]
    E = xp.exp(Z)
    s = xp.sum(E, axis=1, keepdims=True)
    nll = xp.log(s[:, 0]) - xp.sum(xp.where(mask, Z, xp.zeros_like(Z)), axis=1)
    Y = xp.astype(mask, X.dtype)
    if total is None:
        total = xp.sum(w) if w is not None else n
    if w is None:
        loss = xp.sum(nll) / total
        G = (E / s - Y) / total
    else:
        loss = xp.sum(w * nll) / total
        G = (E / s - Y) * (w / total)[:, None]
    dW = X.T @ G
    db = xp.sum(G, axis=0)
    if l2:
        loss = loss + (l2 / 2) * xp.sum(W * W)
        dW = dW + l2 * W
    return loss, dW, db


def _class_major_logits(Xb: Any, W: Any, Wt: Any, b: Any, *, xp: Any, native: bool) -> Any:
    """``W.T @ Xb.T + b[:, None]``, shape (C, nb): the softmax reductions then run
    over the short axis.

    On NumPy and torch the row-major product ``Xb @ W`` is faster than BLAS on
    the transposed operands; its transpose is written into a fresh contiguous
    block in the same pass that adds the bias. Elsewhere the library chooses.
    """
    if native and is_numpy_namespace(xp):
        Zr = Xb @ W
        return np.add(Zr.T, b[:, None], out=np.empty((Zr.shape[1], Zr.shape[0]), Zr.dtype))
    if native and is_torch_namespace(xp):
        Zr = Xb @ W
        out = xp.empty((Zr.shape[1], Zr.shape[0]), dtype=Zr.dtype, device=Zr.device)
        return xp.add(Zr.T, b[:, None], out=out)
    return Wt @ Xb.T + b[:, None]


def _exp(Z: Any, *, xp: Any, inplace: bool) -> Any:
    """``exp(Z)``, written into ``Z`` (a temporary of ours) where the backend allows it."""
    if inplace and is_numpy_namespace(xp):
        return np.exp(Z, out=Z)
    if inplace and is_torch_namespace(xp):
        return Z.exp_()
    return xp.exp(Z)


# --------------------------------------------------------------------------- validation


def _check_floating(A: Any, name: str, xp: Any) -> None:
    if not xp.isdtype(A.dtype, "real floating"):
        got = dtype_name(A.dtype)
        msg = f"`{name}` must have a real floating dtype (float32 or float64), got {got}"
        raise TypeError(msg)


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
) -> None:
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
    if is_lazy(y) or y.shape[0] == 0:
        return  # values of lazy arrays are not read here; see CONVENTIONS
    lo, hi = xp.min(y), xp.max(y)
    if is_lazy(lo):  # concrete arrays captured inside jax.jit give traced reductions
        return
    lo, hi = int(lo), int(hi)
    if lo < 0 or hi >= n_classes:
        bad = lo if lo < 0 else hi
        msg = f"`y` holds label {bad}, outside [0, {n_classes}) for {n_classes} classes"
        raise ValueError(msg)


def _check_weights(A: Any, name: str, length: int, what: str, xp: Any) -> None:
    if not (xp.isdtype(A.dtype, "real floating") or xp.isdtype(A.dtype, "integral")):
        msg = f"`{name}` must be a real numeric array, got dtype {dtype_name(A.dtype)}"
        raise TypeError(msg)
    if A.ndim != 1 or A.shape[0] != length:
        msg = f"`{name}` must have shape ({length},) to match {what}, got {tuple(A.shape)}"
        raise ValueError(msg)
    if is_lazy(A) or length == 0:
        return
    n_neg = xp.count_nonzero(A < 0)
    if is_lazy(n_neg):
        return
    if n_neg := int(n_neg):
        msg = f"`{name}` must be >= 0, got {n_neg} negative value(s) (min {float(xp.min(A))})"
        raise ValueError(msg)
    if not bool(xp.all(xp.isfinite(A))):
        msg = f"`{name}` must be finite, got NaN or infinite values"
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
        _check_weights(sample_weight, "sample_weight", n, "the rows", xp)
        w = xp.astype(sample_weight, dtype)
    if class_weight is not None:
        _check_weights(class_weight, "class_weight", n_classes, "the classes", xp)
        cw = xp.take(xp.astype(class_weight, dtype), y, axis=0)
        w = cw if w is None else w * cw
    positive = None if w is None or n == 0 else xp.sum(w) > 0
    if positive is not None and not is_lazy(positive) and not bool(positive):
        msg = "the sample and class weights are all zero: at least one row needs weight > 0"
        raise ValueError(msg)
    return w
