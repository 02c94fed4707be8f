"""One full-batch step (loss, analytic gradient, SGD update) on every backend, and its peers.

Workloads are grouped by shape, so the table reads "one workload, all
backends side by side". Peers: PyTorch's own ``nn.Linear`` + ``cross_entropy``
+ ``backward()`` + ``optimizer.step()``, the same with ``jax.grad`` under
``jax.jit``, and the step's two matrix products alone (its floor).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from _common import assert_close_float32, is_gpu, problem, reference_step, require, shapes, sync

import softmaxreg as sr
from softmaxreg import backends

OURS = ["numpy", "torch", "jax", "jax-jit", "dask", "array_api_strict", "torch:cuda", "cupy"]
PEERS = ["torch-native", "torch:cuda-native", "jax-grad-jit", "numpy-matmuls", "torch:cuda-matmuls",
         "cupy-matmuls"]


def _skip_if_wrong_size(name: str, shape: tuple[int, int, int]) -> None:
    gpu_shape = shape[0] >= 1_000_000
    gpu = is_gpu(name.replace("-native", "").replace("-matmuls", ""))
    if gpu_shape and not gpu:
        pytest.skip("GPU-sized workload")
    if name == "array_api_strict" and shape[0] > 10_000:
        pytest.skip("array_api_strict is a correctness smoke, run on the small workload only")


def _our_step(name: str, X, y, W, b):
    lib = name.replace("-jit", "")
    require(lib)
    a = [backends.asarray(v, backend=lib) for v in (X, y, W, b)]
    if lib == "dask":
        import dask.array as da

        a[0] = a[0].rechunk({0: 50_000}).persist()
        a[1] = a[1].rechunk(a[0].chunks[0]).persist()
        a[2], a[3] = da.from_array(W), da.from_array(b)
    opt = sr.optim.sgd(0.1)
    state = opt.init((a[2], a[3]))

    def step(X, y, W, b):
        loss, dW, db = sr.loss_and_grad(X, y, W, b, l2=1e-4)
        updates, _ = opt.update((dW, db), state, (W, b))
        return (loss, *sr.optim.apply_updates((W, b), updates))

    if name == "jax-jit":
        import jax

        step = jax.jit(step)
    return lambda: sync(step(*a))


def _torch_native(device: str, X, y, W, b):
    torch = pytest.importorskip("torch")
    require("torch:cuda" if device == "cuda" else "torch")
    Xt, yt = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    lin = torch.nn.Linear(X.shape[1], W.shape[1]).to(device)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W.T))
        lin.bias.zero_()
    opt = torch.optim.SGD(lin.parameters(), lr=0.1, weight_decay=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(lin(Xt), yt)
        loss.backward()
        opt.step()
        return sync((loss, lin.weight.T, lin.bias))

    return step


def _jax_grad(X, y, W, b):
    require("jax")
    import jax
    import jax.numpy as jnp

    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    def loss_fn(params):
        W, b = params
        Z = Xj @ W + b
        logp = jax.nn.log_softmax(Z, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, yj[:, None], axis=1)) + 0.5e-4 * jnp.sum(W * W)

    @jax.jit
    def step(params):
        loss, g = jax.value_and_grad(loss_fn)(params)
        return loss, *jax.tree_util.tree_map(lambda p, q: p - 0.1 * q, params, g)

    params = (jnp.asarray(W), jnp.asarray(b))
    return lambda: jax.block_until_ready(step(params))


def _matmuls(lib: str, X, y, W, b):
    """The floor: X @ W and G.T @ X alone, with G of the logits' shape."""
    require(lib)
    Xa, Wa = backends.asarray(X, backend=lib), backends.asarray(W, backend=lib)
    G = backends.asarray(np.ones((X.shape[0], W.shape[1]), np.float32), backend=lib)
    return lambda: sync((Xa @ Wa, G.T @ Xa))


@pytest.mark.parametrize("shape", shapes(), ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("backend", OURS + PEERS)
def test_step(benchmark, backend, shape):
    _skip_if_wrong_size(backend, shape)
    X, y, W, b = problem(*shape)
    if backend in OURS:
        fn = _our_step(backend, X, y, W, b)
    elif backend.endswith("-native"):
        fn = _torch_native("cuda" if "cuda" in backend else "cpu", X, y, W, b)
    elif backend == "jax-grad-jit":
        fn = _jax_grad(X, y, W, b)
    else:
        fn = _matmuls(backend.replace("-matmuls", ""), X, y, W, b)
    first = fn()  # warm-up and compilation outside the timed calls
    _check(backend, first, X, y, W, b)
    benchmark.group = f"step n={shape[0]} d={shape[1]} C={shape[2]}"
    benchmark.extra_info.update({"workload": "step", "n": shape[0], "d": shape[1],
                                 "C": shape[2], "backend": backend})
    benchmark(fn)


def _check(backend: str, out, X, y, W, b) -> None:
    """What is timed is right: a fast wrong kernel fails here, not only in the tests."""
    if backend.endswith("-matmuls"):
        assert_close_float32(out[0], X.astype(np.float64) @ W, f"{backend}: X @ W")
        return
    loss, W1, b1 = reference_step(X, y, W, b)
    if backend.endswith("-native"):  # torch's weight_decay is in the step, not the loss
        loss -= 0.5e-4 * float((W.astype(np.float64) ** 2).sum())
    assert_close_float32(out[0], loss, f"{backend}: loss")
    assert_close_float32(out[1], W1, f"{backend}: W after one step")
    assert_close_float32(out[2], b1, f"{backend}: b after one step")


@pytest.mark.parametrize("backend", ["numpy"])
def test_step_memory(benchmark, backend):
    """Extra peak memory of one loss_and_grad on NumPy, as a fraction of the size of X."""
    X, y, W, b = problem(200_000, 100, 10)
    sr.loss_and_grad(X, y, W, b)
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    sr.loss_and_grad(X, y, W, b)
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    ratio = peak / X.nbytes
    benchmark.group = "memory n=200000 d=100 C=10"
    benchmark.extra_info.update({"workload": "memory", "backend": backend,
                                 "peak_bytes": int(peak), "x_bytes": int(X.nbytes),
                                 "peak_over_x": ratio})
    assert ratio < 0.5, f"loss_and_grad used {ratio:.2f} x the size of X on top of it"
    benchmark(lambda: sr.loss_and_grad(X, y, W, b))
