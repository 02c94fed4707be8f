"""One step (loss + analytic gradient + SGD update) across a grid of shapes, every
backend beside its own autodiff and the step's two matrix products (issue "Fast at
every shape").

The grid: few and many classes, few and many features, tall and wide data. The
bars, judged per shape in ``docs/benchmarks.md``: NumPy at least 1.5x faster than
torch autograd; softmaxreg on torch no slower than torch autograd, on JAX (jitted)
no slower than ``jax.value_and_grad`` under ``jit``; NumPy at most 1.3x its two
matrix products. Every timed step is checked against a float64 reference first.
The test command's own run (timing disabled) uses 1/50 of the rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from _common import full_size, problem
from bench_step import _check, _jax_grad, _matmuls, _our_step, _torch_native

GRID = [(10_000, 32, 4), (200_000, 100, 10), (200_000, 20, 2), (100_000, 64, 200),
        (20_000, 512, 1_000), (5_000, 2_048, 1_000), (1_000_000, 10, 3)]
BACKENDS = ["numpy", "numpy-matmuls", "torch", "torch-native", "jax-jit", "jax-grad-jit"]


@pytest.mark.parametrize("shape", GRID, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("backend", BACKENDS)
def test_grid_step(benchmark, backend, shape, request):
    n, d, C = shape
    if not full_size(request.config):
        n = max(n // 50, 200)
    X, y, W, b = problem(n, d, C)
    if backend in ("numpy", "torch", "jax-jit"):
        fn = _our_step(backend, X, y, W, b)
    elif backend == "torch-native":
        fn = _torch_native("cpu", X, y, W, b)
    elif backend == "jax-grad-jit":
        fn = _jax_grad(X, y, W, b)
    else:
        fn = _matmuls("numpy", X, y, W, b)
    _check(backend, fn(), X, y, W, b)
    benchmark.group = f"grid n={n} d={d} C={C}"
    benchmark.extra_info.update({"workload": "grid", "n": n, "d": d, "C": C,
                                 "backend": backend})
    benchmark(fn)


def test_grid_covers_the_issue_shapes():
    """The seven shapes the issue measured are all in the grid."""
    assert len(set(GRID)) == 7 and all(np.prod(s) > 0 for s in GRID)
