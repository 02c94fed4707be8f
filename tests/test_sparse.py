"""scipy.sparse input: the core and the estimator give the dense answer without ever
densifying (issue: real data shapes)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import softmaxreg as sr
from softmaxreg import SoftmaxRegression
from softmaxreg.backends import asarray as backends_asarray

sp = pytest.importorskip("scipy.sparse")

FORMATS = ("csr_matrix", "csc_matrix", "coo_matrix", "csr_array", "csc_array", "coo_array")


def random_sparse(rng, n, d, density, fmt, dtype="float64", duplicates=False):
    """A sparse matrix with empty rows and columns, and duplicate COO entries if asked."""
    dense = rng.normal(size=(n, d)) * (rng.random((n, d)) < density)
    dense[rng.integers(n)] = 0.0  # an empty row
    dense[:, rng.integers(d)] = 0.0  # an empty column
    if duplicates:  # the same entries stored twice, halved: they add up to the dense values
        rows, cols = np.nonzero(dense)
        vals = dense[rows, cols] / 2
        coo = sp.coo_matrix((np.r_[vals, vals], (np.r_[rows, rows], np.r_[cols, cols])),
                            shape=(n, d))
        return getattr(sp, fmt)(coo).astype(dtype) if fmt != "coo_matrix" else coo.astype(
            dtype), dense.astype(dtype)
    return getattr(sp, fmt)(dense.astype(dtype)), dense.astype(dtype)


@given(n=st.sampled_from([1, 7, 300, 20_000]), d=st.integers(1, 12), C=st.integers(1, 6),
       density=st.sampled_from([0.001, 0.05, 0.5]), fmt=st.sampled_from(FORMATS),
       duplicates=st.booleans(), weighted=st.booleans(), seed=st.integers(0, 2**16))
def test_loss_and_grad_equal_the_dense_ones(n, d, C, density, fmt, duplicates, weighted, seed):
    rng = np.random.default_rng(seed)
    X, dense = random_sparse(rng, n, d, density, fmt, duplicates=duplicates)
    y = rng.integers(0, C, n)
    W, b = rng.normal(size=(d, C)), rng.normal(size=C)
    kw = {"l2": 0.3}
    if weighted:
        kw |= {"sample_weight": rng.uniform(0.1, 2, n), "class_weight": rng.uniform(0.1, 2, C)}
    before = X.copy()
    got = sr.loss_and_grad(X, y, W, b, **kw)
    ref = sr.loss_and_grad(dense, y, W, b, **kw)
    for g, r in zip(got, ref, strict=True):
        assert np.asarray(g).dtype == np.float64  # dense results, as for dense X
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)
    assert (X != before).nnz == 0  # the input is unchanged
    np.testing.assert_allclose(sr.forward(X, W, b), dense @ W + b, rtol=1e-12, atol=1e-14)


def test_float32_sparse_stays_float32():
    rng = np.random.default_rng(1)
    X, dense = random_sparse(rng, 500, 20, 0.1, "csr_array", dtype="float32")
    y = rng.integers(0, 3, 500)
    W, b = np.zeros((20, 3), np.float32), np.zeros(3, np.float32)
    loss, dW, db = sr.loss_and_grad(X, y, W, b)
    assert loss.dtype == dW.dtype == db.dtype == np.float32
    np.testing.assert_allclose(dW, sr.loss_and_grad(dense, y, W, b)[1], rtol=1e-5, atol=1e-7)
    m = SoftmaxRegression().fit(X, y)
    assert m.coef_.dtype == np.float32


def test_stored_nan_or_inf_is_refused_naming_x():
    X = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, np.nan], [np.inf, 0.0]]))
    W, b = np.zeros((2, 2)), np.zeros(2)
    with pytest.raises(ValueError, match=r"`X` contains 2 NaN or infinite stored value"):
        sr.loss_and_grad(X, np.array([0, 1, 0]), W, b)
    with pytest.raises(ValueError, match=r"`X` contains 2 NaN or infinite"):
        SoftmaxRegression().fit(X, [0, 1, 0])


@pytest.mark.parametrize(("solver", "kw"), [
    ("lbfgs", {"tol": 1e-10, "max_iter": 1000}),
    ("gd", {"learning_rate": 1.0, "max_iter": 20}),
    ("sgd", {"batch_size": 32, "max_iter": 4, "tol": 0}),
    ("adam", {"batch_size": 64, "max_iter": 4, "tol": 0, "learning_rate": 0.01}),
])
def test_estimator_on_sparse_equals_dense(solver, kw):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    sw = np.random.default_rng(0).uniform(0.2, 2.0, len(y))
    params = {"solver": solver, "random_state": 0, "class_weight": "balanced", **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few epochs on purpose
        m = SoftmaxRegression(**params).fit(sp.csr_array(X), y, sample_weight=sw)
        ref = SoftmaxRegression(**params).fit(X, y, sample_weight=sw)
    assert isinstance(m.coef_, np.ndarray)  # the weights stay dense
    if solver == "lbfgs":
        # sparse and dense products round their sums differently in the last digits, and
        # the objective is flat to 1e-12 along some directions here (digits has constant
        # pixels): both runs reach the same optimum, which is what is compared
        def objective(model):
            return sr.loss_and_grad(X, y, model.coef_.T, model.intercept_,
                                    l2=1 / sw.sum(), sample_weight=sw)[0]

        np.testing.assert_allclose(objective(m), objective(ref), rtol=1e-7)
    else:  # the first-order paths take the same steps
        np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    for fmt in ("csr_matrix", "csc_array", "coo_array"):
        Xf = getattr(sp, fmt)(X)
        np.testing.assert_array_equal(m.predict(Xf), ref.predict(X))
        np.testing.assert_allclose(m.predict_proba(Xf), ref.predict_proba(X),
                                   atol=1e-5 if solver == "lbfgs" else 1e-10)
    assert m.score(sp.csr_matrix(X), y) == pytest.approx(ref.score(X, y))
    m.set_params(warm_start=True, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(sp.csr_array(X), y, sample_weight=sw)  # warm start from the sparse fit
    assert m.n_iter_ <= 2


def test_scipy_sparse_moves_to_torch_and_is_refused_where_there_is_none():
    """backend='torch' moves SciPy CSR to a torch CSR tensor (still sparse) and gives the
    NumPy fit's answer; JAX has no sparse matrices here, which the error says."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    X, dense = random_sparse(rng, 120, 9, 0.3, "csr_matrix")
    y = rng.integers(0, 3, 120)
    ref = SoftmaxRegression(C=5.0).fit(dense, y)
    m = SoftmaxRegression(C=5.0, backend="torch").fit(X, y)
    assert isinstance(m.coef_, torch.Tensor) and m.backend_ == "torch"
    np.testing.assert_allclose(sr.backends.to_numpy(m.coef_), ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(sr.backends.to_numpy(m.predict(X)), ref.predict(dense))
    pytest.importorskip("jax")
    with pytest.raises(ValueError, match=r"sparse matrix of SciPy.*backend='jax'"):
        SoftmaxRegression(backend="jax").fit(X, y)
    with pytest.raises(ValueError, match=r"model.to\('numpy'\)"):
        ref.to("jax").predict(X)


def test_backends_asarray_keeps_scipy_sparse_sparse():
    X = sp.random(20, 6, density=0.3, format="csr", random_state=0)
    assert backends_asarray(X, "numpy") is X
    assert backends_asarray(X, "numpy", dtype="float32").dtype == np.float32
    pytest.importorskip("jax")
    with pytest.raises(TypeError, match=r"scipy.sparse matrix and jax has no sparse"):
        backends_asarray(X, "jax")


# ----------------------------------------------------------------------------- Dask


@pytest.mark.parametrize("weighted", [False, True])
def test_dask_arrays_of_sparse_chunks_stay_lazy_and_equal_scipy(weighted):
    """Rows of SciPy chunks (CSC here, split by columns too): the loss, gradient and logits are
    lazy Dask arrays equal to the SciPy ones; nothing is densified."""
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(4)
    X, _ = random_sparse(rng, 900, 30, 0.1, "csr_matrix")
    y = rng.integers(0, 4, 900)
    W, b = rng.normal(size=(30, 4)), rng.normal(size=4)
    Xd = da.from_array(X.tocsc(), chunks=(250, 15), asarray=False)  # CSC, split columns too
    kw, dkw = {"l2": 0.2}, {"l2": 0.2}
    if weighted:
        sw, cw = rng.uniform(0.1, 2, 900), rng.uniform(0.1, 2, 4)
        kw |= {"sample_weight": sw, "class_weight": cw}
        dkw |= {"sample_weight": da.from_array(sw, chunks=300), "class_weight": da.asarray(cw)}
    got = sr.loss_and_grad(Xd, da.from_array(y, chunks=300), da.asarray(W), da.asarray(b), **dkw)
    assert all(isinstance(g, da.Array) for g in got)
    for g, r in zip(got, sr.loss_and_grad(X, y, W, b, **kw), strict=True):
        np.testing.assert_allclose(g.compute(), r, rtol=1e-12, atol=1e-14)
    logits = sr.forward(Xd, da.asarray(W), da.asarray(b))
    assert isinstance(logits, da.Array)
    np.testing.assert_allclose(logits.compute(), X @ W + b, rtol=1e-12)


def test_dask_sparse_chunks_with_a_stored_nan_are_refused_naming_x():
    da = pytest.importorskip("dask.array")
    X = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, np.nan], [2.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"`X` contains 1 NaN or infinite"):
        SoftmaxRegression().fit(da.from_array(X, chunks=(2, 2), asarray=False), [0, 1, 0, 1])


@pytest.mark.parametrize("n_parts", [1, 2, 3, 4, 5, 7])
def test_tree_sum_adds_every_part_once(n_parts):
    dask = pytest.importorskip("dask")
    from softmaxreg._kernel import tree_sum

    parts = [dask.delayed((2.0**i, -(2.0**i))) for i in range(n_parts)]  # distinct bits
    assert dask.compute(tree_sum(parts))[0] == (2.0**n_parts - 1, -(2.0**n_parts - 1))


def test_chunk_sums_of_one_chunk_are_plain_sums_in_the_chunks_dtype():
    from softmaxreg._kernel import chunk_sums

    rng = np.random.default_rng(8)
    X, _ = random_sparse(rng, 300, 12, 0.2, "coo_matrix", dtype="float32")  # COO: converted
    y, w = rng.integers(0, 3, 300), rng.uniform(0.5, 2.0, 300).astype(np.float32)
    W, b = rng.normal(size=(12, 3)), rng.normal(size=3)  # float64 parameters
    loss, gW, gb, weight = chunk_sums(X, y, W, b, w)
    assert gW.dtype == gb.dtype == np.float32 and gW.shape == (12, 3)
    ref = sr.loss_and_grad(X.astype(np.float64).tocsr(), y, W, b, sample_weight=w)
    total = float(w.astype(np.float64).sum())
    assert float(weight) == pytest.approx(total, rel=1e-6)
    for got, want in zip((loss, gW, gb), ref, strict=True):
        np.testing.assert_allclose(np.asarray(got) / total, want, rtol=2e-5, atol=1e-6)
    assert chunk_sums(X, y, W, b, None)[3] == 300.0


def test_dask_sparse_logits_keep_their_dtype_and_total_one_gives_plain_sums():
    """The logits are a float32 Dask array of NumPy chunks before anything is computed,
    and the kernel's ``total=1`` gives plain sums, as a map over chunks needs."""
    da = pytest.importorskip("dask.array")
    from softmaxreg._kernel import kernel, ops_for

    rng = np.random.default_rng(9)
    X, _ = random_sparse(rng, 400, 10, 0.2, "csr_matrix", dtype="float32")
    Xd = da.from_array(X, chunks=(100, 10), asarray=False)
    yd = da.from_array(rng.integers(0, 3, 400), chunks=100)
    W, b = da.zeros((10, 3), dtype=np.float32), da.zeros(3, dtype=np.float32)
    Z = sr.forward(Xd, W, b)
    assert Z.dtype == np.float32 and isinstance(Z._meta, np.ndarray)
    assert Z.compute().dtype == np.float32
    ops = ops_for(da, Xd)
    sums = kernel(ops, Xd, yd, W, b, l2=0.0, w=None, total=1.0)
    assert float(sums[0].compute()) == pytest.approx(400 * np.log(3), rel=1e-6)
