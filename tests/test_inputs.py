"""Inputs users really have, each once a silent wrong answer or a crash (issue: correct
on every input). Compared with an independent float64 NumPy reference, never with the
backend itself."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import assert_array
from test_functional import problem, reference

import softmaxreg as sr
from softmaxreg import backends

INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _label_dtypes(bk):
    return [d for d in INT_DTYPES if hasattr(bk.xp, d)]


@pytest.mark.parametrize("n", [128, 300, 20_000])
def test_every_integer_label_dtype_gives_the_int64_answer(bk, n):
    """uint8 labels in a batch of 128 gave a gradient ~8x off (the flat index y * n +
    arange wrapped in the labels' dtype); int8/int16 wrapped; uint64 raised."""
    X, y, W, b, sw, cw = problem(n=n, d=4, C=10, weights=True)
    ref = reference(X, y, W, b, l2=0.1, sw=sw, cw=cw)
    for name in _label_dtypes(bk):
        if bk.library == "torch" and name in ("uint16", "uint32", "uint64"):
            yb = backends.asarray(y.astype(np.int64), backend=bk.name).to(getattr(bk.xp, name))
        else:
            yb = bk.asarray(y.astype(name))
        loss, dW, db = sr.loss_and_grad(bk.asarray(X), yb, bk.asarray(W), bk.asarray(b), l2=0.1,
                                        sample_weight=bk.asarray(sw), class_weight=bk.asarray(cw))
        assert_array(loss, ref[0], bk, dtype="float64", rtol=1e-12)
        assert_array(dW, ref[1], bk, dtype="float64", rtol=1e-12, atol=1e-14)
        assert_array(db, ref[2], bk, dtype="float64", rtol=1e-12, atol=1e-14)
        ce = sr.cross_entropy(sr.forward(bk.asarray(X), bk.asarray(W), bk.asarray(b)), yb)
        assert_array(ce, reference(X, y, W, b)[0], bk, dtype="float64", rtol=1e-12)
        assert_array(sr.one_hot(yb, 10, dtype=bk.xp.float64), np.eye(10)[y], bk)


def test_labels_out_of_range_in_a_wide_unsigned_dtype_are_named():
    X, y, W, b, _, _ = problem(n=5, C=3)
    y = y.astype(np.uint64)
    y[2] = np.uint64(2**63 + 5)
    with pytest.raises(ValueError, match=r"`y` holds label 9223372036854775813, outside \[0, 3\)"):
        sr.loss_and_grad(X, y, W, b)


@pytest.mark.parametrize("fn", ["loss_and_grad", "cross_entropy", "forward", "softmax",
                                "log_softmax", "logsumexp"])
def test_half_precision_is_refused_with_what_to_do(eager_bk, fn):
    """float16 gave loss 0 at 70,000 rows and NaN at 120,000: refused, with the fix."""
    names = [n for n in ("float16", "bfloat16") if hasattr(eager_bk.xp, n)]
    if not names:
        pytest.skip(f"{eager_bk.name} has no half-precision dtype")
    X, y, W, b, _, _ = problem(n=6, C=3)
    for name in names:
        h = getattr(eager_bk.xp, name)
        Xh, Wh, bh = (eager_bk.xp.astype(eager_bk.asarray(a), h) for a in (X, W, b))
        args = {"loss_and_grad": (Xh, eager_bk.asarray(y), Wh, bh),
                "cross_entropy": (eager_bk.xp.astype(eager_bk.asarray(X[:, :3]), h),
                                  eager_bk.asarray(y)),
                "forward": (Xh, Wh, bh)}.get(fn, (Xh,))
        with pytest.raises(TypeError, match=rf"got {name}.*float32"):
            getattr(sr, fn)(*args)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_softmax_keeps_precision_at_large_logits(bk, dtype):
    """log_softmax([1e4, 1e4-1]) in float32 gave [-0.31347656, -1.3134766]."""
    big = np.array([[1e4, 1e4 - 1, 1e4 - 3], [-1e4, -1e4 - 2, -1e4 + 0.5],
                    [3e3, -3e3, 0.0]])
    shifted = big - big.max(axis=1, keepdims=True)  # exact in float64 for these values
    exact = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    Z = bk.asarray(big.astype(dtype))
    tol = {"float32": 2e-7, "float64": 1e-15}[dtype]
    assert_array(sr.log_softmax(Z, axis=1), exact, bk, dtype=dtype, rtol=0, atol=4 * tol)
    y = np.array([1, 0, 2])
    ce = sr.cross_entropy(Z, bk.asarray(y))
    assert_array(ce, -exact[np.arange(3), y].mean(), bk, dtype=dtype, rtol=8 * tol)


def test_torch_tensors_that_require_grad():
    """`add(): functions with out=... arguments don't support automatic differentiation`."""
    torch = pytest.importorskip("torch")
    X, y, W, b, sw, _ = problem(n=20_000, C=3, weights=True)
    ref = reference(X, y, W, b, l2=0.5, sw=sw)
    Xt, Wt, bt, swt = (torch.tensor(a, requires_grad=True) for a in (X, W, b, sw))
    loss, dW, db = sr.loss_and_grad(Xt, torch.from_numpy(y), Wt, bt, l2=0.5, sample_weight=swt)
    assert not loss.requires_grad and loss.grad_fn is None  # no graph was built
    np.testing.assert_allclose(float(loss), ref[0], rtol=1e-12)
    np.testing.assert_allclose(dW.numpy(), ref[1], rtol=1e-10, atol=1e-14)
    for out in (sr.forward(Xt, Wt, bt), sr.softmax(Xt), sr.log_softmax(Xt)):
        assert out.requires_grad  # these stay differentiable, as torch users expect


def test_zero_rows_are_refused_with_a_clear_error(bk):
    X, y, W, b, _, _ = problem(n=5, C=3)
    args = (bk.asarray(X[:0]), bk.asarray(y[:0]), bk.asarray(W), bk.asarray(b))
    with pytest.raises(ValueError, match=r"`X` has 0 rows"):
        sr.loss_and_grad(*args)
    with pytest.raises(ValueError, match=r"`Z` has 0 rows"):
        sr.cross_entropy(bk.asarray(X[:0, :3]), bk.asarray(y[:0]))


def test_dask_arrays_with_unknown_chunk_sizes():
    da = pytest.importorskip("dask.array")
    X, y, W, b, _, _ = problem(n=40, C=3)
    Xd = da.from_array(X, chunks=10)
    Xd = Xd[Xd[:, 0] > -100]  # all rows, but Dask no longer knows how many per chunk
    assert np.isnan(Xd.shape[0])
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        sr.loss_and_grad(Xd, da.from_array(y, chunks=10), da.from_array(W), da.from_array(b))


@pytest.mark.parametrize(("call", "match"), [
    (lambda a: sr.loss_and_grad(*a, l2="0.1"), r"`l2` must be a finite number >= 0.0, got '0.1'"),
    (lambda a: sr.loss_and_grad(*a, l2=-1), r"`l2` must be a finite number >= 0.0, got -1"),
    (lambda a: sr.one_hot(a[1], 2.5), r"`n_classes` must be an integer >= 1, got 2.5"),
    (lambda a: sr.one_hot(a[1], 0), r"`n_classes` must be an integer >= 1, got 0"),
    (lambda a: sr.one_hot(a[1], 2), r"`y` holds label 2, outside \[0, 2\)"),
])
def test_errors_name_the_argument(call, match):
    X, y, W, b, _, _ = problem(n=6, C=3)
    with pytest.raises((TypeError, ValueError), match=match):
        call((X, y, W, b))


def test_dask_values_are_checked_when_computed():
    """Lazy arrays are checked lazily, with the eager messages; nothing computes early."""
    da = pytest.importorskip("dask.array")
    import dask

    X, y, W, b, sw, _ = problem(n=40, C=3, weights=True)
    bad_y, bad_sw = y.copy(), sw.copy()
    bad_y[7], bad_sw[3] = 5, -1.0
    lazy = [da.from_array(a, chunks=10) for a in (X, bad_y, W, b, sw, bad_sw)]

    def forbidden(*args, **kwargs):
        raise AssertionError("computed before asked to")

    with dask.config.set(scheduler=forbidden):
        by_label = sr.loss_and_grad(lazy[0], lazy[1], lazy[2], lazy[3])
        by_weight = sr.loss_and_grad(lazy[0], da.from_array(y, chunks=10), lazy[2], lazy[3],
                                     sample_weight=lazy[5])
    with pytest.raises(ValueError, match=r"`y` holds label 5, outside \[0, 3\)"):
        dask.compute(*by_label)
    with pytest.raises(ValueError, match=r"`sample_weight` must be >= 0, got 1 negative"):
        dask.compute(*by_weight)
