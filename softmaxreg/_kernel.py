"""The hot kernel behind :func:`softmaxreg.loss_and_grad`: layouts, row blocks, threads.

Everything here trusts its inputs (the public functions in
:mod:`softmaxreg.functional` validate them). One generic class-major path
written against the array API standard, plus faster paths chosen by backend
and each tested against it: NumPy/torch row blocks with in-place temporaries
and a native gather/scatter, NumPy blocks spread over one thread per core,
and row-major fused kernels (JAX under ``jax.jit`` with full float32 matrix
products; PyTorch and CuPy on a GPU with the library's own log-softmax, gather
and scatter, a handful of launches and no host syncs).
"""

from __future__ import annotations

import functools
import math
import operator
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._compat import (
    array_namespace,
    device,
    is_cupy_namespace,
    is_jax_namespace,
    is_numpy_namespace,
    is_scipy_sparse,
    is_sparse_chunked,
    is_torch_namespace,
    is_writeable,
    sparse_library,
)

__all__ = ["BLOCK_ROWS", "CPU_THREADS", "Ops", "available_cpus", "cpu_workers", "kernel", "ops_for"]

#: Rows per block in the CPU hot path: the (C, 8192) temporaries (320 KB in float32
#: at C=10) stay in a core's L2 cache; 8192 measured best of 4096-32768 on NumPy and torch.
BLOCK_ROWS = 8192


@dataclass(frozen=True)
class Ops:
    """How one backend runs the kernel; chosen once by :func:`ops_for`, so the loop below
    asks no questions about libraries.

    A new backend or a new input kind (sparse matrices, a GPU fast path) gets its
    own ``Ops``, tested against the generic one, instead of a new ``if`` in the loop.
    """

    name: str  # "numpy", "torch", "torch-fused", "jax", "cupy", "scipy-sparse" or "generic"
    xp: Any
    # the whole kernel as one row-major (n, C) function, called as
    # ``fused(ops, X, y, W, b, l2=, w=, total=)`` instead of the blocked loop below
    fused: Callable[..., tuple[Any, Any, Any]] | None = None
    matmul: Callable[[Any, Any], Any] = operator.matmul  # A @ B at the backend's full precision
    # the blocked loop's choices (a fused kernel makes its own):
    block_rows: int | None = None  # rows per block (cache-sized on CPUs); None: all at once
    inplace: bool = False  # may update its own temporaries in place
    scatter: bool = False  # a native flat gather/scatter at the labels (else a label mask)
    workers: int = 1  # threads that share the row blocks (NumPy); 1: none
    logits: Callable[[Any, Any, Any], Any] | None = None  # (Xb, W, b) -> fresh (C, nb)
    exp: Callable[[Any], Any] | None = None  # exp(Z), written into Z where ``inplace``
    rows: Callable[[Any, int, int], Any] = field(default=lambda X, start, stop:
                                                  X[start:stop, ...])  # a block of rows


def ops_for(xp: Any, X: Any, *, native: bool = True, block_rows: int | None = None,
            workers: int | None = None) -> Ops:
    """The kernel's operations for data ``X`` of namespace ``xp``.

    ``native=False`` gives the plain generic path written against the standard
    alone; ``block_rows`` and ``workers`` override the defaults. Tests compare
    every native bundle with the generic one.
    """
    if is_scipy_sparse(X):  # CSR rows with NumPy parameters; G @ X is SciPy's product
        # one block per thread: each block's G @ Xb is a dense (C, d) array, which for
        # hashed text (d = 2**18) is far larger than the block's rows; cache-sized blocks
        # took 4.4x the matrix's storage at (50000, 2**18), one per thread 2x
        workers = cpu_workers() if workers is None else workers
        return Ops("scipy-sparse", xp, block_rows=block_rows or max(1, -(-X.shape[0] // workers)),
                   inplace=True, scatter=True, workers=workers, logits=_numpy_logits,
                   exp=_numpy_exp, rows=_sparse_rows)
    if is_sparse_chunked(X):  # Dask rows of SciPy CSR chunks: the SciPy kernel per chunk
        return dask_sparse_ops(xp)
    sparse = sparse_library(X)
    if sparse == "torch":  # CSR tensors: SciPy's products on the CPU, torch's on a GPU
        return torch_host_sparse_ops(xp) if X.device.type == "cpu" else torch_fused_ops(xp)
    if sparse == "cupy":  # cupyx.scipy.sparse CSR: CuPy's sparse products, whole
        return cupy_ops(xp)
    if native and is_numpy_namespace(xp):
        return Ops("numpy", xp, block_rows=block_rows or BLOCK_ROWS, inplace=True, scatter=True,
                   workers=cpu_workers() if workers is None else workers,
                   logits=_numpy_logits, exp=_numpy_exp)
    if native and is_torch_namespace(xp):
        if X.device.type != "cpu" and block_rows is None:
            return torch_fused_ops(xp)
        return Ops("torch", xp, block_rows=block_rows or BLOCK_ROWS, inplace=True, scatter=True,
                   logits=_torch_logits, exp=_torch_exp)
    if native and is_jax_namespace(xp):
        return jax_ops(xp)
    if native and is_cupy_namespace(xp):
        return cupy_ops(xp)
    # lazy (Dask) and traced arrays build one graph: the whole array in one block
    inplace = native and is_writeable(X)
    return Ops("generic", xp, block_rows=block_rows, inplace=inplace, logits=_generic_logits,
               exp=xp.exp)


# GPUs want whole matrix products and few kernel launches, not cache-sized blocks: at
# (200000, 100, 10) on an H200 the class-major torch loop spent 1.27 ms on launches
# around 0.14 ms of matrix products. The fused kernels below are ~8 launches, no syncs.


def torch_fused_ops(xp: Any) -> Ops:
    """PyTorch off the CPU, and sparse CSR tensors anywhere: the row-major kernel on
    torch's own fused ops."""
    return Ops("torch-fused", xp, fused=_torch_fused)


def torch_host_sparse_ops(xp: Any) -> Ops:
    """torch CSR tensors on the CPU: the SciPy kernel on zero-copy views of the tensors.
    torch's CPU sparse products are slow: at (14000, 17000) with 0.3% non-zeros
    ``X @ W`` took 24 ms against SciPy's 4.3, and ``X.t() @ P`` 320 ms against 4.0."""
    return Ops("torch-sparse-cpu", xp, fused=_torch_sparse_on_host)


def dask_sparse_ops(xp: Any) -> Ops:
    """Dask arrays of ``scipy.sparse`` row chunks: each chunk through the SciPy kernel
    (plain sums), added in a tree; the results stay lazy."""
    return Ops("dask-sparse", xp, fused=_dask_sparse_fused, matmul=_dask_sparse_matmul)


def chunk_sums(X: Any, y: Any, W: Any, b: Any, w: Any) -> tuple[Any, Any, Any, Any]:
    """Plain sums of one row chunk (NumPy or SciPy sparse) at host parameters: weighted
    loss, ``G @ X`` as (d, C), ``sum(G)`` and the weight total."""
    if is_scipy_sparse(X):
        X = X.tocsr()
    xp = array_namespace(("X", X))
    W = xp.asarray(W, dtype=X.dtype)
    b = xp.asarray(b, dtype=X.dtype)
    # one thread per chunk: Dask's workers already keep the cores busy
    loss, dW, db = kernel(ops_for(xp, X, workers=1), X, y, W, b, l2=0.0, w=w, total=1.0)
    weight = float(X.shape[0]) if w is None else xp.sum(w)
    return loss, dW, db, weight


def add_sums(a: tuple[Any, ...], c: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(u + v for u, v in zip(a, c, strict=True))


def tree_sum(parts: list[Any]) -> Any:
    """Delayed partial sums added pairwise in a tree."""
    import dask  # only reached with Dask data

    while len(parts) > 1:
        nxt = [dask.delayed(add_sums)(parts[i], parts[i + 1])
               for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def _one_column_chunk(X: Any) -> Any:
    return X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X


def _dask_sparse_matmul(X: Any, W: Any) -> Any:
    import dask.array as da  # only reached with Dask data

    W = da.asarray(W).rechunk(-1)
    return da.blockwise(operator.matmul, "ik", _one_column_chunk(X), "ij", W, "jk",
                        concatenate=True, dtype=X.dtype,
                        meta=np.empty((0, 0), dtype=X.dtype))


def _dask_sparse_fused(ops: Ops, X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any,
                       total: Any = None) -> tuple[Any, Any, Any]:
    import dask  # only reached with Dask data
    import dask.array as da  # only reached with Dask data

    X = _one_column_chunk(X)
    xs, ys = X.to_delayed().ravel(), y.rechunk((X.chunks[0],)).to_delayed().ravel()
    ws = [None] * len(xs) if w is None else w.rechunk((X.chunks[0],)).to_delayed().ravel()
    parts = [dask.delayed(chunk_sums, pure=True)(xc, yc, W, b, wc)
             for xc, yc, wc in zip(xs, ys, ws, strict=True)]
    sums = tree_sum(parts)
    d, C = W.shape
    loss, gW, gb, weight = (da.from_delayed(sums[i], shape=shape, dtype=X.dtype)
                            for i, shape in enumerate([(), (d, C), (C,), ()]))
    return finish(loss, gW, gb, total=weight if total is None else total, W=W, l2=l2,
                  xp=ops.xp)


def cupy_ops(xp: Any) -> Ops:
    """CuPy: the row-major kernel on CuPy's own ops, on the data's device."""
    return Ops("cupy", xp, fused=_cupy_fused)


@functools.cache  # one Ops per namespace: it is jax.jit's static argument
def jax_ops(xp: Any) -> Ops:
    """JAX: the row-major kernel, compiled once per shape (eager calls run it as one XLA
    program, not op by op), with float32 matrix products at full precision: JAX's GPU
    default rounds their inputs to TF32 (gradients off by ~1e-3 relative on an H200)."""
    matmul = functools.partial(xp.matmul, precision="highest")
    return Ops("jax", xp, fused=_jax_compiled(), matmul=matmul)


def kernel(ops: Ops, X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any,
           total: Any = None) -> tuple[Any, Any, Any]:
    """Loss and gradient of softmax regression; trusts its inputs (see functional).

    ``w`` is the per-row weight (None for unweighted). ``total`` is what the
    sums are divided by (default ``sum(w)``, or ``n``); ``total=1`` gives the
    plain sums that a map over row chunks adds up.
    """
    if ops.fused is not None:
        return ops.fused(ops, X, y, W, b, l2=l2, w=w, total=total)
    n = X.shape[0]
    block_rows = max(1, min(ops.block_rows or n, n)) if n else 1
    if ops.workers > 1 and n > block_rows:
        return _parallel_blocks(ops, X, y, W, b, l2=l2, w=w, total=total,
                                block_rows=block_rows)
    xp = ops.xp
    C = W.shape[1]
    dev = device(W)  # the data's device too (checked); sparse X has none of its own
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
        Xb = X if whole else ops.rows(X, start, stop)
        yb = y if whole else y[start:stop]
        wb = None if w is None else (w if whole else w[start:stop])

        Zt = ops.logits(Xb, W, b)
        if ops.inplace:
            Zt -= xp.max(Zt, axis=0, keepdims=True)
        else:
            Zt = Zt - xp.max(Zt, axis=0, keepdims=True)
        if ops.scatter:  # flat indices: one 1-D gather and scatter instead of 2-D fancy indexing
            flat = yb * (stop - start) + xp.arange(stop - start, device=dev)
            Zflat = xp.reshape(Zt, (-1,))  # a view: Zt is contiguous
            z_label = xp.take(Zflat, flat)  # shifted logit of the label
        else:  # a mask over the (C, nb) block, in standard-only code
            mask = classes == yb[None, :]
            z_label = xp.sum(xp.where(mask, Zt, zero), axis=0)
        E = ops.exp(Zt)
        s = xp.sum(E, axis=0)
        nll = xp.log(s) - z_label  # (nb,)
        if wb is None:
            part = xp.sum(nll)
            scale = 1.0 / s
        else:
            part = xp.sum(wb * nll)
            scale = wb / s
        if ops.scatter:
            E *= scale[None, :]
            Zflat[flat] -= 1.0 if wb is None else wb  # w * (P - Y), class-major
            G = E
        else:
            label_term = (xp.astype(mask, X.dtype) if wb is None
                          else xp.where(mask, wb[None, :], zero))
            if ops.inplace:
                E *= scale[None, :]
                E -= label_term
                G = E
            else:
                G = E * scale[None, :] - label_term  # w * (P - Y), class-major
        gW = ops.matmul(G, Xb)  # (C, d)
        gb = xp.sum(G, axis=1)
        if loss_sum is None:
            loss_sum, dWt, db = part, gW, gb
        elif ops.inplace:
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


@functools.cache
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

    return ThreadPoolExecutor(max_workers=available_cpus(), thread_name_prefix="softmaxreg")


# a forked child inherits the pool object but not its threads: give it a new one (and
# look at its CPUs again: it may have been started with another affinity)
os.register_at_fork(after_in_child=_thread_pool.cache_clear)
os.register_at_fork(after_in_child=available_cpus.cache_clear)

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
        from threadpoolctl import ThreadpoolController  # optional: without it, no threads
    except ImportError:
        return None
    return ThreadpoolController()


def _parallel_blocks(ops: Ops, X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any,
                     total: Any, block_rows: int) -> tuple[Any, Any, Any]:
    """NumPy row blocks dealt round-robin to ``ops.workers`` threads, BLAS single-threaded.

    The softmax passes between the two matrix products run in one thread
    each, so BLAS's own threads would leave the other cores idle there;
    giving every core whole blocks keeps them busy (about 20% faster on 2
    cores at (200000, 100, 10)). Each thread returns plain sums, added in a
    fixed order, so results do not depend on timing (a call made while
    another holds the BLAS limit computes the same groups in its own thread).
    Without threadpoolctl the serial path runs instead.
    """
    serial = replace(ops, workers=1)
    controller = _blas_controller()
    n = X.shape[0]
    if controller is None:
        return kernel(serial, X, y, W, b, l2=l2, w=w, total=total)
    # no more threads than blocks; at least two, as kernel() calls this for n > block_rows
    workers = min(ops.workers, -(-n // block_rows))
    # the same number of equal blocks for every thread, none over the cache-sized size:
    # at n = 10000 two blocks of 5000 rows, not 8192 and 1808
    per_thread = -(-n // (workers * block_rows))
    block_rows = -(-n // (workers * per_thread))
    starts = list(range(0, n, block_rows))
    work = _block_sums(serial, X, y, W, b, w=w, block_rows=block_rows)
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
        total = default_total(w, n, xp=ops.xp)
    return finish(loss, dW, db, total=total, W=W, l2=l2, xp=ops.xp)


def _block_sums(ops: Ops, X: Any, y: Any, W: Any, b: Any, *, w: Any, block_rows: int
                ) -> Callable[[list[int]], tuple[Any, Any, Any]]:
    """A worker: the plain sums over the row blocks starting at the given rows."""

    def work(group: list[int]) -> tuple[Any, Any, Any]:
        sums = None
        for start in group:
            rows = slice(start, start + block_rows)
            part = kernel(ops, ops.rows(X, start, start + block_rows), y[rows], W, b, l2=0.0,
                          w=None if w is None else w[rows], total=1.0)
            sums = part if sums is None else tuple(a + c for a, c in
                                                   zip(sums, part, strict=True))
        return sums

    return work


def _row_major(ops: Ops, X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any,
               total: Any = None) -> tuple[Any, Any, Any]:
    """The same kernel with row-major (n, C) logits, in one fused expression.

    XLA fuses this layout into fewer passes than the class-major one (about
    2x faster under ``jax.jit`` on CPU), so JAX takes it; the tests compare
    it with the class-major code.
    """
    xp, mm = ops.xp, ops.matmul
    n, C = X.shape[0], W.shape[1]
    Z = mm(X, W) + b
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
    loss, dW = add_l2(loss, mm(X.T, G), W=W, l2=l2, xp=xp)
    return loss, dW, xp.sum(G, axis=0)


@functools.cache
def _jax_compiled() -> Callable[..., tuple[Any, Any, Any]]:
    import jax  # only reached with JAX arrays

    # l2 is static: add_l2 skips the penalty for l2 == 0 in Python
    return jax.jit(_row_major, static_argnums=0, static_argnames="l2")


def _torch_fused(ops: Ops, X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any,
                 total: Any = None) -> tuple[Any, Any, Any]:
    """Row-major kernel on torch's own ops: ``log_softmax``, one gather and one scatter
    at the labels, ``exp`` in place, two matrix products; no host syncs."""
    import torch  # only reached with torch tensors

    n = X.shape[0]
    logp = torch.log_softmax(torch.addmm(b, X, W), dim=1)  # (n, C), stable
    index = y[:, None]
    picked = logp.gather(1, index)[:, 0]  # log p(label) per row
    loss_sum = -(picked.sum() if w is None else torch.dot(w, picked))
    P = logp.exp_()
    if w is None:
        P.scatter_add_(1, index, P.new_full(index.shape, -1.0))  # G = P - Y
    else:
        P.mul_(w[:, None])
        P.scatter_add_(1, index, -w[:, None])  # G = w * (P - Y)
    if total is None:
        total = default_total(w, n, xp=ops.xp)
    # t(): a CSR tensor has no .T; its t() is CSC, which torch multiplies as well
    return finish(loss_sum, X.t() @ P, P.sum(0), total=total, W=W, l2=l2, xp=ops.xp)


def _torch_sparse_on_host(ops: Ops, X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any,
                          total: Any = None) -> tuple[Any, Any, Any]:
    try:
        import scipy.sparse  # SciPy's sparse products, when installed
    except ImportError:  # torch's own, slower
        return _torch_fused(ops, X, y, W, b, l2=l2, w=w, total=total)
    import torch  # only reached with torch tensors

    Xs = scipy.sparse.csr_array((X.values().numpy(), X.col_indices().numpy(),
                                 X.crow_indices().numpy()), shape=tuple(X.shape))
    host = ops_for(array_namespace(("X", Xs)), Xs)

    def view(a: Any) -> Any:
        return a.numpy() if isinstance(a, torch.Tensor) else a  # CPU tensors share memory

    out = kernel(host, Xs, view(y), view(W), view(b), l2=l2, w=view(w), total=view(total))
    return tuple(torch.from_numpy(np.asarray(a)) for a in out)


def _cupy_fused(ops: Ops, X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any,
                total: Any = None) -> tuple[Any, Any, Any]:
    import cupy  # only reached with CuPy arrays
    import cupyx.scipy.special  # only reached with CuPy arrays

    with X.device:  # temporaries on the data's GPU, not the current one
        return numpy_like_fused(ops, X, y, W, b, l2=l2, w=w, total=total, lib=cupy,
                                log_softmax=cupyx.scipy.special.log_softmax)


def numpy_like_fused(ops: Ops, X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any,
                     total: Any, lib: Any, log_softmax: Callable[..., Any]
                     ) -> tuple[Any, Any, Any]:
    """Row-major kernel on a NumPy-like library's own ops (CuPy; NumPy in the tests):
    ``log_softmax``, fancy indexing at the labels (each row once), ``exp`` in place."""
    n = X.shape[0]
    Z = X @ W
    Z += b
    logp = log_softmax(Z, axis=1)
    rows = lib.arange(n)
    picked = logp[rows, y]
    loss_sum = -(picked.sum() if w is None else w @ picked)
    P = logp
    lib.exp(P, out=P)
    if w is None:
        P[rows, y] -= 1.0
    else:
        P *= w[:, None]
        P[rows, y] -= w  # G = w * (P - Y)
    if total is None:
        total = default_total(w, n, xp=ops.xp)
    return finish(loss_sum, X.T @ P, P.sum(axis=0), total=total, W=W, l2=l2, xp=ops.xp)


# The class-major logits ``W.T @ Xb.T + b[:, None]``, shape (C, nb): the softmax
# reductions then run over the short axis. On NumPy and torch the row-major product
# ``Xb @ W`` is faster than BLAS on the transposed operands; its transpose is written
# into a fresh contiguous block in the same pass that adds the bias.


def _numpy_logits(Xb: Any, W: Any, b: Any) -> Any:
    Zr = Xb @ W
    return np.add(Zr.T, b[:, None], out=np.empty((Zr.shape[1], Zr.shape[0]), Zr.dtype))


def _torch_logits(Xb: Any, W: Any, b: Any) -> Any:
    import torch  # only reached with torch arrays

    Zr = Xb @ W
    out = torch.empty((Zr.shape[1], Zr.shape[0]), dtype=Zr.dtype, device=Zr.device)
    return torch.add(Zr.T, b[:, None], out=out)


def _sparse_rows(X: Any, start: int, stop: int) -> Any:
    return X[start:stop]  # CSR row slices; sparse matrices take no Ellipsis


def _generic_logits(Xb: Any, W: Any, b: Any) -> Any:
    return W.T @ Xb.T + b[:, None]


def _numpy_exp(Z: Any) -> Any:
    return np.exp(Z, out=Z)


def _torch_exp(Z: Any) -> Any:
    return Z.exp_()
