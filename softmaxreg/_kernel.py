"""The hot kernel behind :func:`softmaxreg.loss_and_grad`: layouts, row blocks, threads.

Everything here trusts its inputs (the public functions in
:mod:`softmaxreg.functional` validate them). One generic class-major path
written against the array API standard, plus faster paths chosen by backend
and each tested against it: NumPy/torch row blocks with in-place temporaries
and a native gather/scatter, NumPy blocks spread over one thread per core,
and a row-major fused kernel for JAX.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._compat import (
    device,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
    is_writeable,
)

__all__ = ["BLOCK_ROWS", "CPU_THREADS", "available_cpus", "cpu_workers"]

#: Rows per block in the CPU hot path: the (C, 8192) temporaries (320 KB in float32
#: at C=10) stay in a core's L2 cache; 8192 measured best of 4096-32768 on NumPy and torch.
BLOCK_ROWS = 8192


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
        total = default_total(w, n, xp=xp)
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

    return finish(loss_sum, dWt.T, db, total=total, W=W, l2=l2, xp=xp)


def default_total(w: Any, n: int, *, xp: Any) -> Any:
    """What the sums are divided by: the sum of the row weights, or the row count."""
    return xp.sum(w) if w is not None else n


def finish(loss_sum: Any, dW_sum: Any, db_sum: Any, *, total: Any, W: Any, l2: float,
           xp: Any) -> tuple[Any, Any, Any]:
    """Divide summed loss and gradients by ``total`` and add the L2 term on ``W``."""
    return add_l2(loss_sum / total, dW_sum / total, W=W, l2=l2, xp=xp) + (db_sum / total,)


def add_l2(loss: Any, dW: Any, *, W: Any, l2: float, xp: Any) -> tuple[Any, Any]:
    """``loss + l2 / 2 * sum(W**2)`` and ``dW + l2 * W`` (the bias is not penalised)."""
    if not l2:
        return loss, dW
    return loss + (l2 / 2) * xp.sum(W * W), dW + l2 * W


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
    return available_cpus()


#: Where the CPU quota of this process's cgroup is read (v2 ``cpu.max``, v1 ``cpu.cfs_*``).
CGROUP_DIRS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/cpu"),
               Path("/sys/fs/cgroup/cpu,cpuacct"))


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask (``taskset``), capped by a
    cgroup CPU quota (containers, ``docker --cpus``), rounded up."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity mask
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(n, quota) if quota else n)


def _cgroup_cpu_quota() -> int | None:
    for folder in CGROUP_DIRS:
        try:
            v2 = (folder / "cpu.max").read_text().split()
            if v2 and v2[0] != "max":
                return math.ceil(int(v2[0]) / int(v2[1]))
            if v2:
                return None
        except (OSError, ValueError, IndexError):
            pass
        try:
            quota = int((folder / "cpu.cfs_quota_us").read_text())
            period = int((folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return math.ceil(quota / period) if quota > 0 and period > 0 else None
    return None


@functools.cache
def _thread_pool() -> Any:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=available_cpus(), thread_name_prefix="softmaxreg")


# a forked child inherits the pool object but not its threads: give it a new one
os.register_at_fork(after_in_child=_thread_pool.cache_clear)

#: Held while the BLAS is limited to one thread. One call at a time limits it: a call
#: that finds it held runs its blocks serially instead. Nested limits set and restored
#: by concurrent calls would otherwise be undone out of order and leave the user's BLAS
#: at one thread for good.
_BLAS_LIMITED = threading.Lock()
os.register_at_fork(after_in_child=lambda: globals().update(_BLAS_LIMITED=threading.Lock()))


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
    fixed order, so results do not depend on timing (a call made while
    another holds the BLAS limit computes the same groups in its own thread).
    Without threadpoolctl the serial path runs instead.
    """
    controller = _blas_controller()
    n = X.shape[0]
    starts = list(range(0, n, block_rows))
    workers = min(workers, len(starts))
    if controller is None or workers < 2:
        return _loss_and_grad(X, y, W, b, l2=l2, w=w, xp=xp, total=total,
                              block_rows=block_rows, workers=1)
    work = _block_sums(X, y, W, b, w=w, xp=xp, block_rows=block_rows)
    groups = [starts[i::workers] for i in range(workers)]
    if _BLAS_LIMITED.acquire(blocking=False):
        try:
            with controller.limit(limits=1, user_api="blas"):
                parts = list(_thread_pool().map(work, groups))
        finally:
            _BLAS_LIMITED.release()
    else:  # another call holds the BLAS limit: the same sums, in this thread
        parts = [work(group) for group in groups]

    loss, dW, db = parts[0]
    for part in parts[1:]:
        loss, dW, db = loss + part[0], dW + part[1], db + part[2]
    if total is None:
        total = default_total(w, n, xp=xp)
    return finish(loss, dW, db, total=total, W=W, l2=l2, xp=xp)


def _block_sums(X: Any, y: Any, W: Any, b: Any, *, w: Any, xp: Any, block_rows: int
                ) -> Callable[[list[int]], tuple[Any, Any, Any]]:
    """A worker: the plain sums over the row blocks starting at the given rows."""

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

    return work


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
        total = default_total(w, n, xp=xp)
    if w is None:
        loss = xp.sum(nll) / total
        G = (E / s - Y) / total
    else:
        loss = xp.sum(w * nll) / total
        G = (E / s - Y) * (w / total)[:, None]
    loss, dW = add_l2(loss, X.T @ G, W=W, l2=l2, xp=xp)
    return loss, dW, xp.sum(G, axis=0)


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
