"""Shared pieces of the benchmark suite: problems, backends and device synchronisation.

Run for real with::

    python -m pytest benchmarks --benchmark-enable --benchmark-json=benchmarks/results/cpu.json

The test command runs each benchmark once with timing disabled
(``--benchmark-disable`` is in the default options), so the suite cannot rot.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from softmaxreg import backends

try:
    import jax

    jax.config.update("jax_enable_x64", True)  # float32 data stays float32; x64 allows float64
except ImportError:  # pragma: no cover
    pass

CPU_SHAPES = [(10_000, 32, 4), (200_000, 100, 10)]
GPU_SHAPES = [(1_000_000, 256, 10), (1_000_000, 256, 100)]


def full_size(config: pytest.Config) -> bool:
    """Whether timings are taken (``--benchmark-enable``): the suite's own run (timing
    disabled) only checks each benchmark still works and still gets the right answer, on
    a smaller problem, so the test command stays quick."""
    return bool(config.getoption("benchmark_enable", False)) or not config.getoption(
        "benchmark_disable", False)


def sized(config: pytest.Config, shape: tuple[int, ...], rows: int) -> tuple[int, ...]:
    """``shape`` when timing, else the same problem with ``rows`` rows."""
    return shape if full_size(config) else (rows, *shape[1:])


def has_gpu() -> bool:
    names = backends.available()
    return "torch:cuda" in names or "cupy" in names


def shapes() -> list[tuple[int, int, int]]:
    out = list(CPU_SHAPES)
    if has_gpu() and not os.environ.get("SOFTMAXREG_BENCH_CPU_ONLY"):
        out += GPU_SHAPES
    return out


def problem(n: int, d: int, C: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """float32 data with a learnable signal, labels, and small starting weights."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    W_true = rng.standard_normal((d, C)).astype(np.float32)
    y = np.argmax(X @ (0.3 * W_true) + rng.gumbel(size=(n, C)).astype(np.float32), axis=1)
    W = (0.01 * rng.standard_normal((d, C))).astype(np.float32)
    b = np.zeros(C, dtype=np.float32)
    return X, y.astype(np.int64), W, b


def sync(x: Any) -> Any:
    """Wait for an asynchronous device so that the timer measures the work itself."""
    from array_api_compat import is_cupy_array, is_dask_array, is_jax_array, is_torch_array

    items = x if isinstance(x, (tuple, list)) else (x,)
    for a in items:
        if is_torch_array(a) and a.device.type == "cuda":
            import torch

            torch.cuda.synchronize()
            break
        if is_cupy_array(a):
            import cupy

            cupy.cuda.Device().synchronize()
            break
        if is_jax_array(a):
            a.block_until_ready()
    if any(is_dask_array(a) for a in items):
        import dask

        return dask.compute(*items)
    return x


def require(name: str) -> None:
    if name.partition(":")[0] in ("torch", "jax", "dask", "cupy", "array_api_strict") \
            and name not in backends.available():
        reason = "needs a CUDA GPU" if name in ("torch:cuda", "cupy") else "is not installed"
        pytest.skip(f"{name} {reason}")


def is_gpu(name: str) -> bool:
    return name in ("torch:cuda", "cupy")


def reference_step(X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray, *,
                   l2: float = 1e-4, lr: float = 0.1) -> tuple[float, np.ndarray, np.ndarray]:
    """Loss at ``(W, b)`` and the parameters after one SGD step, in float64 NumPy, written
    out independently of softmaxreg's kernel: what every timed step must reproduce."""
    X64, W64, b64 = (np.asarray(a, np.float64) for a in (X, W, b))
    Z = X64 @ W64 + b64
    Z -= Z.max(axis=1, keepdims=True)
    logp = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    n = X.shape[0]
    loss = -logp[np.arange(n), y].mean() + l2 / 2 * (W64**2).sum()
    G = np.exp(logp)
    G[np.arange(n), y] -= 1.0
    G /= n
    return loss, W64 - lr * (X64.T @ G + l2 * W64), b64 - lr * G.sum(axis=0)


def assert_close_float32(got: Any, expected: Any, what: str) -> None:
    """float32 results against a float64 reference: rounding of sums over many rows."""
    got = np.asarray(backends.to_numpy(got), np.float64)
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-6, err_msg=what)
