"""The numerical core on every backend: values, gradients, stability, laziness, errors."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
from _helpers import assert_array
from array_api_extra.testing import lazy_xp_function
from hypothesis import given
from hypothesis import strategies as st

import softmaxreg as sr
from softmaxreg import _kernel
from softmaxreg._kernel import BLOCK_ROWS, kernel, ops_for
from softmaxreg.testing import check_grad

# On JAX these run under jax.jit, on Dask with compute() forbidden (see conftest).
for _f in (sr.forward, sr.logsumexp, sr.log_softmax, sr.softmax, sr.one_hot,
           sr.cross_entropy, sr.loss_and_grad):
    lazy_xp_function(_f)

ATOL = {"float32": 1e-5, "float64": 1e-12}
RTOL = {"float32": 2e-5, "float64": 1e-10}


def reference(X, y, W, b, l2=0.0, sw=None, cw=None):
    """Plain NumPy float64 loss and gradient, written as in the lesson (row-major)."""
    X, W, b = (np.asarray(a, dtype=np.float64) for a in (X, W, b))
    Z = X @ W + b
    Z = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    n, C = Z.shape
    Y = np.eye(C)[y]
    w = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
    if cw is not None:
        w = w * np.asarray(cw, dtype=np.float64)[y]
    nll = -np.log(P[np.arange(n), y])
    loss = (w * nll).sum() / w.sum() + l2 / 2 * (W**2).sum()
    G = w[:, None] * (P - Y) / w.sum()
    return loss, X.T @ G + l2 * W, G.sum(axis=0)


def problem(seed=0, n=37, d=5, C=4, dtype="float64", weights=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    y = rng.integers(0, C, size=n)
    y[:C] = np.arange(C)
    W = (0.5 * rng.normal(size=(d, C))).astype(dtype)
    b = rng.normal(size=C).astype(dtype)
    sw = rng.uniform(0.1, 3.0, size=n).astype(dtype) if weights else None
    cw = rng.uniform(0.2, 2.0, size=C).astype(dtype) if weights else None
    return X, y, W, b, sw, cw


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weights", [False, True])
def test_loss_and_grad_matches_reference(bk, dtype, weights):
    X, y, W, b, sw, cw = problem(dtype=dtype, weights=weights)
    a = bk.asarray
    loss, dW, db = sr.loss_and_grad(
        a(X), a(y), a(W), a(b), l2=0.3,
        sample_weight=None if sw is None else a(sw),
        class_weight=None if cw is None else a(cw),
    )
    ref_loss, ref_dW, ref_db = reference(X, y, W, b, 0.3, sw, cw)
    tol = {"rtol": RTOL[dtype], "atol": ATOL[dtype]}
    assert_array(loss, ref_loss, bk, dtype=dtype, **tol)
    assert_array(dW, ref_dW, bk, dtype=dtype, **tol)
    assert_array(db, ref_db, bk, dtype=dtype, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_softmax_one_hot(bk, dtype):
    X, y, W, b, _, _ = problem(dtype=dtype)
    a = bk.asarray
    Z = X.astype(np.float64) @ W + b
    tol = {"rtol": RTOL[dtype], "atol": ATOL[dtype]}
    assert_array(sr.forward(a(X), a(W), a(b)), Z, bk, dtype=dtype, **tol)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    Zc = a(Z.astype(dtype))
    assert_array(sr.softmax(Zc), P, bk, dtype=dtype, **tol)
    assert_array(sr.log_softmax(Zc), np.log(P), bk, dtype=dtype, **tol)
    assert_array(sr.logsumexp(Zc), np.log(np.exp(Z).sum(axis=1)), bk, dtype=dtype, **tol)
    assert_array(sr.logsumexp(Zc, axis=0, keepdims=True),
                 np.log(np.exp(Z).sum(axis=0, keepdims=True)), bk, dtype=dtype, **tol)
    assert_array(sr.one_hot(a(y), 4, dtype=bk.dtype(dtype)), np.eye(4)[y], bk, dtype=dtype)


@pytest.mark.parametrize("weights", [False, True])
def test_cross_entropy_matches_torch_and_sklearn(bk, weights):
    torch = pytest.importorskip("torch")
    from sklearn.metrics import log_loss

    X, y, W, b, sw, cw = problem(weights=weights)
    Z = X @ W + b
    a = bk.asarray
    got = sr.cross_entropy(a(Z), a(y), sample_weight=None if sw is None else a(sw),
                           class_weight=None if cw is None else a(cw))
    t_loss = torch.nn.functional.cross_entropy(
        torch.from_numpy(Z), torch.from_numpy(y),
        weight=None if cw is None else torch.from_numpy(cw),
    ).item()
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    row_w = np.ones(len(y)) if sw is None else sw
    if cw is not None:
        row_w = row_w * cw[y]
    sk_loss = log_loss(y, P, sample_weight=row_w, labels=np.arange(4))
    if sw is None:  # torch's `weight=` is the class weight; it has no per-sample weight
        np.testing.assert_allclose(t_loss, sk_loss, rtol=1e-12)
        assert_array(got, t_loss, bk, dtype="float64", rtol=1e-12)
    assert_array(got, sk_loss, bk, dtype="float64", rtol=1e-12)


def test_gradient_matches_torch_autograd(bk):
    torch = pytest.importorskip("torch")
    X, y, W, b, sw, cw = problem(weights=True)
    tW = torch.tensor(W, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    Z = torch.from_numpy(X) @ tW + tb
    nll = torch.nn.functional.cross_entropy(Z, torch.from_numpy(y), reduction="none")
    w = torch.from_numpy(sw * cw[y])
    loss = (w * nll).sum() / w.sum() + 0.7 / 2 * (tW**2).sum()
    loss.backward()
    a = bk.asarray
    got = sr.loss_and_grad(a(X), a(y), a(W), a(b), l2=0.7, sample_weight=a(sw),
                           class_weight=a(cw))
    assert_array(got[0], loss.item(), bk, dtype="float64", rtol=1e-12)
    assert_array(got[1], tW.grad.numpy(), bk, dtype="float64", rtol=1e-10, atol=1e-14)
    assert_array(got[2], tb.grad.numpy(), bk, dtype="float64", rtol=1e-10, atol=1e-14)


def test_backends_agree_with_the_reference(bk):
    """Same inputs, the independent float64 reference's results on every backend."""
    X, y, W, b, sw, cw = problem(seed=3, n=200, d=7, C=3, weights=True)
    expected = reference(X, y, W, b, l2=0.05, sw=sw, cw=cw)
    a = bk.asarray
    got = sr.loss_and_grad(a(X), a(y), a(W), a(b), l2=0.05, sample_weight=a(sw),
                           class_weight=a(cw))
    for g, e in zip(got, expected, strict=True):
        assert_array(g, e, bk, dtype="float64", rtol=1e-12, atol=1e-15)


def test_inputs_are_not_mutated(bk):
    X, y, W, b, sw, cw = problem(weights=True)
    arrays = [bk.asarray(v) for v in (X, y, W, b, sw, cw)]
    sr.loss_and_grad(*arrays[:4], l2=0.1, sample_weight=arrays[4], class_weight=arrays[5])
    sr.softmax(arrays[0])
    for got, orig in zip(arrays, (X, y, W, b, sw, cw), strict=True):
        np.testing.assert_array_equal(sr.backends.to_numpy(got), orig)


@pytest.mark.parametrize("name", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("block_rows", [1, 7, 64, 10_000])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("workers", [1, 3])
def test_blocked_and_native_paths_equal_generic(name, block_rows, weights, workers):
    """The fast paths (CPU row blocks, in-place temporaries, NumPy's threads over blocks,
    JAX's row-major layout) equal the plain generic class-major code."""
    pytest.importorskip(name)
    X, y, W, b, sw, cw = problem(seed=5, n=300, weights=weights)
    a = [sr.backends.asarray(v, backend=name) for v in (X, y, W, b)]
    w = None if sw is None else sr.backends.asarray(sw * cw[y], backend=name)
    xp = sr.backends.namespace_of(a[0])
    generic = ops_for(xp, a[0], native=False, block_rows=300)
    native = ops_for(xp, a[0], block_rows=block_rows, workers=workers)
    assert generic.name == "generic" and native.name == name
    plain = kernel(generic, *a, l2=0.2, w=w)
    fast = kernel(native, *a, l2=0.2, w=w)
    for p, f in zip(plain, fast, strict=True):
        assert type(p) is type(f)
        np.testing.assert_allclose(sr.backends.to_numpy(f), sr.backends.to_numpy(p),
                                   rtol=1e-12, atol=1e-15)


def _fused_ops(name, xp):
    """The GPU kernels, run here on CPU arrays: torch's on CPU tensors, CuPy's code
    (written for any NumPy-like library) on NumPy with SciPy's log_softmax."""
    if name == "torch-fused":
        return _kernel.torch_fused_ops(xp)
    scipy_special = pytest.importorskip("scipy.special")
    fused = functools.partial(_kernel.numpy_like_fused, lib=np,
                              log_softmax=scipy_special.log_softmax)
    return dataclasses.replace(_kernel.cupy_ops(xp), name="numpy-like", fused=fused)


@pytest.mark.parametrize(("name", "lib"), [("torch-fused", "torch"), ("numpy-like", "numpy")])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gpu_fused_kernels_equal_generic(name, lib, weights, dtype):
    """The row-major GPU kernels (torch's ops; CuPy's NumPy-like code) equal the generic
    class-major path, weighted or not, with logits up to ~50 (float32: to its precision)."""
    pytest.importorskip(lib)
    X, y, W, b, sw, cw = problem(seed=9, n=257, weights=weights, dtype=dtype)
    a = [sr.backends.asarray(v, backend=lib) for v in (X, y, W * 8, b)]
    w = None if sw is None else sr.backends.asarray((sw * cw[y]).astype(dtype), backend=lib)
    xp = sr.backends.namespace_of(a[0])
    ops = _fused_ops(name, xp)
    assert ops.fused is not None
    plain = kernel(ops_for(xp, a[0], native=False), *a, l2=0.2, w=w)
    fast = kernel(ops, *a, l2=0.2, w=w)
    tol = {"rtol": 1e-12, "atol": 1e-14} if dtype == "float64" else {"rtol": 2e-5, "atol": 1e-6}
    for p, f in zip(plain, fast, strict=True):
        assert f.dtype == p.dtype and tuple(f.shape) == tuple(p.shape)
        np.testing.assert_allclose(sr.backends.to_numpy(f), sr.backends.to_numpy(p), **tol)


def test_ops_for_picks_the_fused_kernel_off_the_cpu():
    torch = pytest.importorskip("torch")
    xp = sr.backends.get_namespace("torch")
    on_cpu = ops_for(xp, torch.ones((2, 2)))
    assert on_cpu.name == "torch" and on_cpu.fused is None
    meta = ops_for(xp, torch.ones((2, 2), device="meta"))  # any non-CPU device
    assert meta.name == "torch-fused" and meta.fused is not None and meta.block_rows is None


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta:UserWarning")
def test_each_kind_of_data_gets_the_ops_that_docs_architecture_lists():
    """ops_for's choice for every input kind this machine has, checked against the
    kernel table of docs/architecture.md (name, and the fused kernel or blocked loop)."""
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
    if not page.exists():  # tests copied without the docs (mutmut's mutants/ folder)
        pytest.skip("docs/architecture.md is not beside the tests")
    table = page.read_text()
    sp = pytest.importorskip("scipy.sparse")
    X = np.ones((4, 2))
    cases = [(np, X, "numpy", False), (np, sp.csr_matrix(X), "scipy-sparse", False),
             (sr.backends.get_namespace("array_api_strict"), None, "generic", False),
             (None, None, "cupy", True)]
    torch = pytest.importorskip("torch")
    tx = sr.backends.get_namespace("torch")
    cases += [(tx, torch.ones((4, 2)), "torch", False),
              (tx, torch.ones((4, 2), device="meta"), "torch-fused", True),
              (tx, torch.ones((4, 2)).to_sparse_csr(), "torch-sparse-cpu", True)]
    da = pytest.importorskip("dask.array")
    cases += [(da, da.from_array(sp.csr_matrix(X), asarray=False), "dask-sparse", True),
              (sr.backends.get_namespace("dask"), da.ones((4, 2)), "generic", False)]
    jnp = pytest.importorskip("jax.numpy")
    cases += [(sr.backends.get_namespace("jax"), jnp.ones((4, 2)), "jax", True)]
    for xp, data, name, fused in cases:
        if name == "cupy":  # no CuPy here: its constructor, on any namespace
            ops = _kernel.cupy_ops(np)
        elif data is None:
            ops = ops_for(xp, xp.ones((4, 2)))
        else:
            ops = ops_for(xp, data)
        assert ops.name == name and (ops.fused is not None) == fused, (name, ops)
        assert f"| `{name}` |" in table, name


def test_jax_matrix_products_run_at_full_precision():
    """JAX's GPU default rounds float32 matrix-product inputs to TF32 (gradients were off
    by 1.6e-3 relative on an H200): every product in the traced loss, gradient and
    logits asks for the highest precision, which a CPU run can read from the jaxpr."""
    jax = pytest.importorskip("jax")
    X, y, W, b, _, _ = problem(dtype="float32")
    a = [sr.backends.asarray(v, backend="jax") for v in (X, y, W, b)]
    for fn in (lambda *v: sr.loss_and_grad(*v, l2=0.1), lambda X, y, W, b: sr.forward(X, W, b)):
        text = str(jax.make_jaxpr(fn)(*a))
        dots = text.count("dot_general[")
        assert dots >= 1
        assert text.count("precision=(Precision.HIGHEST, Precision.HIGHEST)") == dots, text


# ----------------------------------------------------------------------------- gradients

shapes = st.tuples(st.integers(1, 12), st.integers(1, 4), st.integers(2, 4))


LABEL_DTYPES = ("int8", "int16", "int32", "int64", "uint8")  # every backend has these


@given(shape=shapes, seed=st.integers(0, 2**32 - 1), sample_w=st.booleans(),
       class_w=st.booleans(), label_dtype=st.sampled_from(LABEL_DTYPES),
       l2=st.sampled_from([0.0, 1e-3, 0.5, 3.0]), scale=st.sampled_from([1.0, 10.0]))
def test_gradient_equals_finite_differences(bk, shape, seed, sample_w, class_w, label_dtype,
                                            l2, scale):
    """Analytic gradient = central finite differences of the loss, float64, any backend."""
    n, d, C = shape
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, d))
    y = rng.integers(0, C, size=n).astype(label_dtype)
    W = scale * rng.uniform(-2, 2, size=(d, C))  # logits up to about 100 at scale 10
    b = rng.uniform(-2, 2, size=C)
    kw = {"l2": l2}
    if sample_w:
        sw = rng.uniform(0, 3, size=n)
        sw[0] = 1.0  # at least one row carries weight
        kw["sample_weight"] = bk.asarray(sw)
    if class_w:
        kw["class_weight"] = bk.asarray(rng.uniform(0.1, 3, size=C))
    a = bk.asarray
    # check_grad reads float losses, so on Dask it computes outside the core on purpose
    assert check_grad(a(X), a(y), a(W), a(b), **kw) < 1e-6


@st.composite
def big_cases(draw):
    """Shapes past the CPU block size (blocked and threaded paths), or many classes."""
    n = draw(st.sampled_from([1, 2, 37, BLOCK_ROWS - 1, BLOCK_ROWS + 1, 2 * BLOCK_ROWS + 5]))
    C = draw(st.sampled_from([1, 2, 3, 10, 200, 1000]) if n < BLOCK_ROWS
             else st.sampled_from([1, 2, 3, 10]))
    return n, draw(st.integers(1, 6)), C


@given(shape=big_cases(), seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(
    ["float32", "float64"]), sample_w=st.booleans(), class_w=st.booleans(),
    label_dtype=st.sampled_from(LABEL_DTYPES))
def test_loss_and_grad_property_against_the_reference(bk, shape, seed, dtype, sample_w,
                                                      class_w, label_dtype):
    n, d, C = shape
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    top = min(C, np.iinfo(label_dtype).max + 1)
    y = rng.integers(0, top, size=n)
    W = rng.normal(size=(d, C)).astype(dtype)
    b = rng.normal(size=C).astype(dtype)
    sw = rng.uniform(0.1, 3, size=n).astype(dtype) if sample_w else None
    cw = rng.uniform(0.1, 3, size=C).astype(dtype) if class_w else None
    a = bk.asarray
    got = sr.loss_and_grad(a(X), a(y.astype(label_dtype)), a(W), a(b), l2=0.1,
                           sample_weight=None if sw is None else a(sw),
                           class_weight=None if cw is None else a(cw))
    ref = reference(X, y, W, b, 0.1, sw, cw)
    tol = {"rtol": 50 * RTOL[dtype], "atol": 50 * ATOL[dtype]}  # sums over up to 16k rows
    for g, r in zip(got, ref, strict=True):
        assert_array(g, r, bk, dtype=dtype, **tol)


# ----------------------------------------------------------------------------- stability


@given(rows=st.lists(st.lists(st.floats(-1e4, 1e4, width=32), min_size=2, max_size=6)
                     .filter(lambda r: len(r) > 1), min_size=1, max_size=5),
       dtype=st.sampled_from(["float32", "float64"]))
def test_softmax_properties(eager_bk, rows, dtype):
    width = min(len(r) for r in rows)
    Z = np.array([r[:width] for r in rows], dtype=dtype)
    P = sr.softmax(eager_bk.asarray(Z))
    got = sr.backends.to_numpy(P)
    assert got.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(got)) and np.all(got >= 0) and np.all(got <= 1)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5 if dtype == "float32" else 1e-12)
    # exact shift invariance: the max-shift removes any common shift, and shifts by
    # the row's own max keep every difference exact in floating point
    shifted = sr.softmax(eager_bk.asarray(Z - Z.max(axis=1, keepdims=True)))
    np.testing.assert_array_equal(sr.backends.to_numpy(shifted), got)
    # log_softmax agrees with log(softmax) where the probability is not tiny
    logp = sr.backends.to_numpy(sr.log_softmax(eager_bk.asarray(Z)))
    big = got > 1e-6
    np.testing.assert_allclose(np.exp(logp[big]), got[big], rtol=1e-4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_large_logits_and_inf(bk, dtype):
    Z = np.array([[1e4, 1e4 - 1.0, -1e4], [0.0, -np.inf, 1.0], [-np.inf, 5.0, -np.inf]],
                 dtype=dtype)
    e1 = np.exp(-1.0)
    expected = np.array([[1 / (1 + e1), e1 / (1 + e1), 0.0],
                         [1 / (1 + np.e), 0.0, np.e / (1 + np.e)],
                         [0.0, 1.0, 0.0]])
    tol = {"rtol": RTOL[dtype], "atol": ATOL[dtype]}
    assert_array(sr.softmax(bk.asarray(Z)), expected, bk, dtype=dtype, **tol)
    lse = np.array([1e4 + np.log1p(e1), np.log1p(np.e), 5.0])
    assert_array(sr.logsumexp(bk.asarray(Z)), lse, bk, dtype=dtype, **tol)
    # a row of only -inf: logsumexp is -inf (the log of an empty sum), not NaN
    all_inf = bk.asarray(np.array([[-np.inf, -np.inf], [0.0, 0.0]], dtype=dtype))
    assert_array(sr.logsumexp(all_inf), np.array([-np.inf, np.log(2.0)]), bk, dtype=dtype,
                 **tol)
    # the naive formula overflows in float32: the max-shift is what makes this finite
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(Z[:1]) / np.exp(Z[:1]).sum()
    if dtype == "float32":
        assert not np.all(np.isfinite(naive))


def test_loss_at_large_logits_is_finite(bk):
    X = np.array([[1e3, -1e3], [-1e3, 1e3]], dtype=np.float32)
    W = np.array([[10.0, -10.0], [-10.0, 10.0]], dtype=np.float32)
    b = np.zeros(2, dtype=np.float32)
    y = np.array([1, 1])
    a = bk.asarray
    loss, dW, db = sr.loss_and_grad(a(X), a(y), a(W), a(b))
    # row 0 is confidently wrong by a logit gap of 4e4: loss 2e4, no overflow
    assert_array(loss, 2e4, bk, dtype="float32", rtol=1e-6)
    assert np.all(np.isfinite(sr.backends.to_numpy(dW)))
    assert np.all(np.isfinite(sr.backends.to_numpy(db)))


# ----------------------------------------------------------------------------- laziness


def test_jax_jit_of_the_core_equals_eager():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    X, y, W, b, sw, cw = problem(weights=True)
    args = [jnp.asarray(v) for v in (X, y, W, b, sw, cw)]

    def step(X, y, W, b, sw, cw):
        return sr.loss_and_grad(X, y, W, b, l2=0.1, sample_weight=sw, class_weight=cw)

    jitted = jax.jit(step)(*args)
    for j, e in zip(jitted, reference(X, y, W, b, l2=0.1, sw=sw, cw=cw), strict=True):
        np.testing.assert_allclose(np.asarray(j), e, rtol=1e-10, atol=1e-14)


def test_dask_core_builds_a_graph_without_computing():
    da = pytest.importorskip("dask.array")
    import dask

    X, y, W, b, sw, cw = problem(n=500, weights=True)
    Xd = da.from_array(X, chunks=(100, -1))
    yd = da.from_array(y, chunks=100)
    swd = da.from_array(sw, chunks=100)
    calls = []

    def forbidden(*args, **kwargs):
        calls.append(1)
        raise AssertionError("the core must not compute a Dask graph")

    with dask.config.set(scheduler=forbidden):
        loss, dW, db = sr.loss_and_grad(Xd, yd, da.from_array(W), da.from_array(b), l2=0.1,
                                        sample_weight=swd, class_weight=da.from_array(cw))
    assert not calls
    assert all(isinstance(v, da.Array) for v in (loss, dW, db))
    expected = reference(X, y, W, b, l2=0.1, sw=sw, cw=cw)
    for g, e in zip(dask.compute(loss, dW, db), expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------- errors


def test_shape_errors_name_the_arguments(bk):
    X, y, W, b, _, _ = problem()
    a = bk.asarray
    with pytest.raises(ValueError, match=r"`X` has 5 features .* `W` has 4 rows"):
        sr.loss_and_grad(a(X), a(y), a(W[:4]), a(b))
    with pytest.raises(ValueError, match=r"`b` has 3 entries but `W` has 4 classes"):
        sr.loss_and_grad(a(X), a(y), a(W), a(b[:3]))
    with pytest.raises(ValueError, match=r"`y` has 36 labels but `X` has 37 rows"):
        sr.loss_and_grad(a(X), a(y[1:]), a(W), a(b))
    with pytest.raises(ValueError,
                       match=r"`sample_weight` has shape \(3,\) but must have shape \(37,\)"):
        sr.loss_and_grad(a(X), a(y), a(W), a(b), sample_weight=a(np.ones(3)))
    with pytest.raises(TypeError, match=r"`X` must have a real floating dtype"):
        sr.loss_and_grad(a(X.astype(np.int64)), a(y), a(W), a(b))
    with pytest.raises(TypeError, match=r"`y` must hold integer class labels"):
        sr.loss_and_grad(a(X), a(y.astype(np.float64)), a(W), a(b))
    with pytest.raises(TypeError, match=r"share one dtype, got float32, float64"):
        sr.loss_and_grad(a(X.astype(np.float32)), a(y), a(W), a(b))


def test_value_errors_on_eager_backends(eager_bk):
    X, y, W, b, _, _ = problem()
    a = eager_bk.asarray
    bad = y.copy()
    bad[3] = 4
    with pytest.raises(ValueError, match=r"`y` holds label 4, outside \[0, 4\)"):
        sr.loss_and_grad(a(X), a(bad), a(W), a(b))
    bad[3] = -1
    with pytest.raises(ValueError, match=r"`y` holds label -1"):
        sr.cross_entropy(a(X[:, :4]), a(bad))
    sw = np.ones(len(y))
    sw[2] = -0.5
    with pytest.raises(ValueError, match=r"`sample_weight` must be >= 0, got 1 negative"):
        sr.loss_and_grad(a(X), a(y), a(W), a(b), sample_weight=a(sw))
    with pytest.raises(ValueError, match=r"`sample_weight` and `class_weight` are all zero"):
        sr.loss_and_grad(a(X), a(y), a(W), a(b), sample_weight=a(np.zeros(len(y))))
    with pytest.raises(ValueError, match=r"`l2` must be a finite number >= 0.0, got -1.0"):
        sr.loss_and_grad(a(X), a(y), a(W), a(b), l2=-1.0)


def test_mixed_libraries_are_named():
    torch = pytest.importorskip("torch")
    X, y, W, b, _, _ = problem()
    with pytest.raises(TypeError, match=r"`X` is a numpy array but `W` is a torch array"):
        sr.loss_and_grad(X, y, torch.from_numpy(W), b)


def test_mixed_devices_are_named():
    torch = pytest.importorskip("torch")
    X, y, W, b, _, _ = problem()
    t = [torch.from_numpy(v) for v in (X, y, W, b)]
    with pytest.raises(ValueError, match=r"`X` is on device .*cpu.* but `W` is on device .*meta"):
        sr.loss_and_grad(t[0], t[1], t[2].to("meta"), t[3])


def test_numpy_threads_are_configurable_and_deterministic(monkeypatch):
    import softmaxreg._kernel as F

    X, y, W, b, sw, cw = problem(seed=9, n=5000, weights=True)
    monkeypatch.setattr(F, "BLOCK_ROWS", 256)
    monkeypatch.setenv("SOFTMAXREG_CPU_THREADS", "1")
    assert F.cpu_workers() == 1
    serial = sr.loss_and_grad(X, y, W, b, l2=0.1, sample_weight=sw, class_weight=cw)
    monkeypatch.setenv("SOFTMAXREG_CPU_THREADS", "4")
    assert F.cpu_workers() == 4
    runs = [sr.loss_and_grad(X, y, W, b, l2=0.1, sample_weight=sw, class_weight=cw)
            for _ in range(3)]
    for run in runs[1:]:  # a fixed order of partial sums: identical bits every time
        for r, first in zip(run, runs[0], strict=True):
            np.testing.assert_array_equal(r, first)
    for r, s in zip(runs[0], serial, strict=True):
        np.testing.assert_allclose(r, s, rtol=1e-12)
    monkeypatch.setattr(F, "CPU_THREADS", 2)
    assert F.cpu_workers() == 2  # the module setting wins over the environment


# Python >= 3.12, and JAX once it has run, warn about fork() in a process with threads;
# forking such a process is the point of this test
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_threaded_path_survives_fork():
    """A child forked after the thread pool exists gets a working pool of its own."""
    import multiprocessing

    X, y, W, b, _, _ = problem(seed=4, n=40_000)
    expected = sr.loss_and_grad(X, y, W, b)  # creates the pool in this process
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(sr.loss_and_grad, (X, y, W, b)).get(timeout=60)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6)


# --------------------------------------------------------------------------- mutation survivors
# (mutmut left these alive: argument names in errors, and the axis logsumexp removes)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sr.logsumexp([1.0, 2.0]), r"^`Z` of type list is not a supported array"),
    (lambda: sr.loss_and_grad([[0.0, 1.0]], np.array([0]), np.zeros((2, 2)), np.zeros(2)),
     r"^`X` of type list is not a supported array .*: convert it first, e.g. "
     r"numpy.asarray\(X\)"),
    (lambda: sr.logsumexp(np.array([1, 2])),
     r"^`Z` must have a real floating dtype \(float32 or float64\), got int64$"),
    (lambda: sr.one_hot([0, 1], 2), r"^`y` of type list is not a supported array"),
    (lambda: sr.forward([[1.0]], np.ones((1, 2)), np.ones(2)), r"^`X` of type list"),
    (lambda: sr.forward(np.ones((1, 1)), [[1.0, 2.0]], np.ones(2)), r"^`W` of type list"),
    (lambda: sr.forward(np.ones((1, 1)), np.ones((1, 2)), [1.0, 2.0]), r"^`b` of type list"),
])
def test_errors_name_the_argument(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_logsumexp_removes_only_the_reduced_axis():
    Z = np.array([[0.0, np.log(3.0)]])  # one row: squeezing every axis would give shape ()
    got = sr.logsumexp(Z, axis=1)
    assert got.shape == (1,)
    np.testing.assert_allclose(got, [np.log(4.0)], rtol=1e-15)
    got = sr.logsumexp(Z.T, axis=0)
    assert got.shape == (1,)
    np.testing.assert_allclose(got, [np.log(4.0)], rtol=1e-15)
    assert sr.logsumexp(Z, axis=1, keepdims=True).shape == (1, 1)


def test_one_hot_defaults_to_the_default_float_on_the_labels_device():
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    y = strict.asarray([0, 2, 1], device=dev)
    got = sr.one_hot(y, 3)
    assert got.device == dev and got.dtype == strict.float64
    np.testing.assert_array_equal(np.asarray(strict.asarray(got, device=strict.Device(
        "CPU_DEVICE"))), np.eye(3)[[0, 2, 1]])
    assert sr.one_hot(np.array([1, 0]), 2).dtype == np.float64
    assert sr.one_hot(np.array([1, 0]), 2, dtype=np.float32).dtype == np.float32


def _ce_args(**change):
    Z = np.zeros((4, 3))
    args = {"Z": Z, "y": np.array([0, 1, 2, 1]), "sample_weight": np.ones(4),
            "class_weight": np.ones(3)}
    args.update(change)
    return args


def _ce(args):
    return sr.cross_entropy(args["Z"], args["y"], sample_weight=args["sample_weight"],
                            class_weight=args["class_weight"])


@pytest.mark.parametrize("name", ["Z", "y", "sample_weight", "class_weight"])
def test_cross_entropy_names_each_argument_from_another_library_or_device(name):
    torch = pytest.importorskip("torch")
    args = _ce_args()
    with pytest.raises(TypeError, match=rf"`{name}` of type list is not a supported array"):
        _ce({**args, name: args[name].tolist()})
    mixed = ("`Z` is a torch array but `y` is a numpy array" if name == "Z"
             else f"`Z` is a numpy array but `{name}` is a torch array")
    with pytest.raises(TypeError, match=mixed):
        _ce({**args, name: torch.from_numpy(args[name])})
    t = {k: torch.from_numpy(v) for k, v in args.items()}
    apart = ("`Z` is on device .*meta.* but `y` is on device .*cpu" if name == "Z"
             else f"`Z` is on device .*cpu.* but `{name}` is on device .*meta")
    with pytest.raises(ValueError, match=apart):
        _ce({**t, name: t[name].to("meta")})


@pytest.mark.parametrize(("Z", "y", "message"), [
    (np.zeros(4), np.zeros(4, int), r"^`Z` must be 2-D \(n_samples, n_classes\), got shape "
                                    r"\(4,\)$"),
    (np.zeros((4, 3)), np.zeros(3, int), r"^`y` has 3 labels but `Z` has 4 rows"),
    (np.zeros((4, 3), int), np.zeros(4, int), r"^`Z` must have a real floating dtype"),
])
def test_cross_entropy_shape_and_dtype_errors_name_z(Z, y, message):
    with pytest.raises((ValueError, TypeError), match=message):
        sr.cross_entropy(Z, y)


@pytest.mark.parametrize("fn", [sr.log_softmax, sr.softmax])
def test_softmax_family_names_z(fn):
    with pytest.raises(TypeError, match=r"^`Z` of type list is not a supported array"):
        fn([1.0, 2.0])
    with pytest.raises(TypeError, match=r"^`Z` must have a real floating dtype"):
        fn(np.array([1, 2]))


def test_cross_entropy_weights_take_the_logits_dtype():
    Z = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    y = np.array([0, 1])
    got = sr.cross_entropy(Z, y, sample_weight=np.array([1.0, 3.0]))
    assert got.dtype == np.float32
    logp = Z.astype(np.float64) - np.log(np.exp(Z.astype(np.float64)).sum(1, keepdims=True))
    assert float(got) == pytest.approx(-(logp[0, 0] + 3 * logp[1, 1]) / 4, rel=1e-6)


@pytest.mark.parametrize("block_rows", [4, None])  # the blocked loop; the fused kernel
@pytest.mark.parametrize("weighted", [False, True])
def test_torch_kernels_make_every_array_on_the_datas_device(block_rows, weighted):
    """On torch's "meta" device (shapes without values) every temporary the kernel makes
    must be on the data's device: an array made on the CPU fails here, as it would on a
    GPU."""
    torch = pytest.importorskip("torch")
    xp = sr.backends.get_namespace("torch")
    meta = {"device": "meta"}
    X, W, b = torch.ones((10, 3), **meta), torch.zeros((3, 2), **meta), torch.zeros(2, **meta)
    y = torch.zeros(10, dtype=torch.int64, **meta)
    w = torch.ones(10, **meta) if weighted else None
    ops = ops_for(xp, X, block_rows=block_rows)
    assert ops.name == ("torch" if block_rows else "torch-fused")
    out = kernel(ops, X, y, W, b, l2=0.1, w=w)
    assert [(o.device.type, tuple(o.shape)) for o in out] == [("meta", ()), ("meta", (3, 2)),
                                                               ("meta", (2,))]


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta:UserWarning")
def test_torch_sparse_on_the_cpu_without_scipy_uses_torchs_own_products(monkeypatch):
    """Without SciPy, torch CSR tensors on the CPU compute with torch's sparse products
    (slower), to the same answer; with a given total, plain sums."""
    torch = pytest.importorskip("torch")
    import sys

    X, y, W, b, sw, cw = problem(seed=3, n=60, weights=True)
    Xt = torch.from_numpy(X * (np.abs(X) > 1)).to_sparse_csr()
    args = [torch.from_numpy(v) for v in (y, W, b)]
    w = torch.from_numpy(sw * cw[y])
    ops = ops_for(sr.backends.get_namespace("torch"), Xt)
    with_scipy = kernel(ops, Xt, *args, l2=0.3, w=w)
    sums = kernel(ops, Xt, *args, l2=0.0, w=w, total=1.0)
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)  # import scipy.sparse fails
    without = kernel(ops, Xt, *args, l2=0.3, w=w)
    for a, c in zip(with_scipy, without, strict=True):
        np.testing.assert_allclose(c.numpy(), a.numpy(), rtol=1e-12)
    total = float(w.sum())
    for s, a in zip(sums, kernel(ops, Xt, *args, l2=0.0, w=w), strict=True):
        np.testing.assert_allclose(s.numpy() / total, a.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_row_major_kernel_is_stable_per_row_and_keeps_the_dtype(dtype):
    """The row-major kernel (JAX's; written against the standard, run here on NumPy):
    each row shifted by its own maximum, so rows whose logits lie ~1e3 apart (which a
    shift by one global maximum would underflow) give the float64 reference; its
    arrays keep the data's dtype."""
    X, y, W, b, sw, cw = problem(seed=2, n=40, weights=True)
    X = X.astype(dtype)
    X[:, 0] = np.where(np.arange(len(X)) % 2, 3.0, -3.0)
    W = W.astype(dtype)
    W[0, :] = 300.0  # every logit of a row near +900 or near -900, by row
    b = b.astype(dtype)
    w = (sw * cw[y]).astype(dtype)
    ops = ops_for(np, X, native=False)
    got = _kernel._row_major(ops, X, y, W, b, l2=0.1, w=w)
    ref = kernel(ops_for(np, X.astype(np.float64), native=False), X.astype(np.float64), y,
                 W.astype(np.float64), b.astype(np.float64), l2=0.1, w=w.astype(np.float64))
    Z = X @ W
    assert np.isfinite(ref[0]) and Z.max(axis=1).min() < -800 < 800 < Z.max()
    tol = {"rtol": 1e-12} if dtype == "float64" else {"rtol": 1e-4, "atol": 1e-3}
    for g, r in zip(got, ref, strict=True):
        assert g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g, r, **tol)
