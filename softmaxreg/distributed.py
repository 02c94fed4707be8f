"""Dask: one graph per full-batch evaluation, a map over row chunks and a tree reduction.

Each row chunk of ``X`` (persisted on the workers) goes through the core's own
kernel, which returns its plain sums: weighted loss, ``G @ X``, ``sum(G)`` and
the weight total. The partial sums are added pairwise in a tree and the
client receives only those few small arrays, never ``X``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._compat import checked, is_sparse_chunked
from ._kernel import chunk_sums, finish, tree_sum
from ._validation import nonfinite_message
from .backends import optional_import

__all__ = ["dask_loss_and_grad", "require_dask"]


def require_dask() -> Any:
    """Import dask.array, or say how to install it."""
    return optional_import("dask.array", "dask", needed_for="Dask support")


def dask_loss_and_grad(X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any
                       ) -> tuple[Any, Any, Any]:
    """Loss and gradient of row-chunked Dask data at host parameters ``(W, b)``.

    One ``compute`` per call; the result is NumPy on the client.
    """
    import dask  # only reached with Dask data

    xs = X.to_delayed().ravel()
    ys = y.to_delayed().ravel()
    ws = [None] * len(xs) if w is None else list(w.to_delayed().ravel())
    if len(ys) != len(xs) or len(ws) != len(xs):
        msg = "`X`, `y` and the sample weights must share the same row chunks"
        raise ValueError(msg)
    Wn = np.asarray(W)
    bn = np.asarray(b)
    parts = [dask.delayed(chunk_sums, pure=True)(xc, yc, Wn, bn, wc)
             for xc, yc, wc in zip(xs, ys, ws, strict=True)]
    loss, gW, gb, total = dask.compute(tree_sum(parts))[0]
    loss, dW, db = finish(*(np.asarray(v) for v in (loss, gW, gb)), total=float(total),
                          W=Wn, l2=l2, xp=np)
    return loss.astype(Wn.dtype), dW.astype(Wn.dtype), db.astype(Wn.dtype)


def count_nonfinite(X: Any) -> Any:
    """The number of NaN/inf values in ``X`` (stored values of sparse chunks), lazily."""
    da = require_dask()
    if not is_sparse_chunked(X):
        return da.count_nonzero(~da.isfinite(X))
    counts = X.map_blocks(_nonfinite_in_block, dtype=np.int64, chunks=(1, 1),
                          meta=np.empty((0, 0), np.int64))
    return counts.sum()


def _nonfinite_in_block(block: Any) -> np.ndarray:
    return np.full((1, 1), np.count_nonzero(~np.isfinite(block.data)), np.int64)


def check_finite_lazily(X: Any) -> Any:
    """``X`` with its finiteness check in the graph: computing anything built on it
    raises the same error as eager input when ``X`` holds NaN or inf."""
    return checked(X, _raise_if_nonfinite, count_nonfinite(X))


def _raise_if_nonfinite(bad: Any) -> None:
    if int(bad):
        raise ValueError(nonfinite_message(int(bad)))


def prepare_dask(X: Any, y_codes: np.ndarray, sw: np.ndarray | None, batch_size: int | None
                 ) -> tuple[Any, Any, Any]:
    """Row-chunk ``X`` (one column chunk), persist it on the workers once, check it is finite.

    The encoded labels and row weights follow ``X``'s row chunks. With a
    ``batch_size``, the rows are rechunked so that each chunk is one batch.
    """
    da = require_dask()
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if batch_size is not None:
        X = X.rechunk({0: batch_size})
    X = X.persist()
    bad = int(count_nonfinite(X).compute())
    if bad:
        raise ValueError(nonfinite_message(bad))
    rows = X.chunks[0]
    y = da.from_array(y_codes.astype(np.int64), chunks=(rows,)).persist()
    w = None
    if sw is not None:
        w = da.from_array(sw.astype(X.dtype), chunks=(rows,)).persist()
    return X, y, w
