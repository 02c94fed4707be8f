"""Sparse matrices of torch (CPU and CUDA) and CuPy: the core and the estimator give the
dense answer in the data's own library and device, without densifying (issue: real data
shapes). SciPy's sparse input is in test_sparse.py."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from _helpers import Backend, assert_array
from hypothesis import given
from hypothesis import strategies as st

import softmaxreg as sr
from softmaxreg import SoftmaxRegression, backends
from softmaxreg._compat import device as array_device
from softmaxreg._compat import sparse_library, take_sparse_rows

FORMATS = ("csr", "coo", "csc")
NAMES = ("torch", "torch:cuda", "cupy")


def _selected(name: str) -> bool:
    only = os.environ.get("SOFTMAXREG_BACKENDS")
    return not only or name in only.split(",")


@pytest.fixture(params=[pytest.param(n, id=n, marks=[pytest.mark.gpu] if n != "torch" else [])
                        for n in NAMES if _selected(n)])
def sbk(request: pytest.FixtureRequest) -> Backend:
    """The backends with sparse matrices of their own."""
    name = request.param
    if name not in backends.available():
        pytest.skip(f"{name} is not installed or has no GPU here")
    probe = backends.asarray(np.zeros(1), backend=name)
    return Backend(name=name, xp=backends.namespace_of(probe), device=array_device(probe))


def to_sparse(dense: np.ndarray, bk: Backend, fmt: str, *, duplicates: bool = False):
    """``dense`` as a sparse matrix of ``bk``'s library in format ``fmt``; with
    ``duplicates``, a COO matrix holding every entry twice, halved."""
    if bk.library == "torch":
        import torch

        if duplicates:
            rows, cols = np.nonzero(dense)
            vals = dense[rows, cols] / 2
            idx = torch.as_tensor(np.stack([np.r_[rows, rows], np.r_[cols, cols]]))
            return torch.sparse_coo_tensor(idx, torch.as_tensor(np.r_[vals, vals]),
                                           dense.shape, device=bk.device, check_invariants=True)
        t = torch.as_tensor(dense, device=bk.device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch: CSR support is in beta
            return {"csr": t.to_sparse_csr, "coo": t.to_sparse, "csc": t.to_sparse_csc}[fmt]()
    import cupy
    import cupyx.scipy.sparse as csp

    if duplicates:
        rows, cols = np.nonzero(dense)
        vals = dense[rows, cols] / 2
        return csp.coo_matrix((cupy.asarray(np.r_[vals, vals]),
                               (cupy.asarray(np.r_[rows, rows]), cupy.asarray(np.r_[cols, cols]))),
                              shape=dense.shape)
    return getattr(csp, f"{fmt}_matrix")(cupy.asarray(dense))


def random_dense(rng, n, d, density, dtype="float64"):
    dense = rng.normal(size=(n, d)) * (rng.random((n, d)) < density)
    dense[rng.integers(n)] = 0.0  # an empty row
    dense[:, rng.integers(d)] = 0.0  # an empty column
    return dense.astype(dtype)


@given(n=st.sampled_from([1, 9, 300]), d=st.integers(1, 10), C=st.integers(1, 5),
       density=st.sampled_from([0.001, 0.05, 0.5]), fmt=st.sampled_from(FORMATS),
       duplicates=st.booleans(), weighted=st.booleans(), seed=st.integers(0, 2**16))
def test_loss_and_grad_equal_the_dense_ones(sbk, n, d, C, density, fmt, duplicates, weighted,
                                            seed):
    """Any format (duplicate COO entries included) gives the dense loss and gradient to
    1e-12 in float64, as arrays of the data's library on its device; nothing is mutated."""
    rng = np.random.default_rng(seed)
    dense = random_dense(rng, n, d, density)
    X = to_sparse(dense, sbk, fmt, duplicates=duplicates and fmt == "coo")
    y = rng.integers(0, C, n)
    W, b = rng.normal(size=(d, C)), rng.normal(size=C)
    a = sbk.asarray
    kw = {"l2": 0.3}
    ref_kw = dict(kw)
    if weighted:
        sw, cw = rng.uniform(0.1, 2, n), rng.uniform(0.1, 2, C)
        kw |= {"sample_weight": a(sw), "class_weight": a(cw)}
        ref_kw |= {"sample_weight": sw, "class_weight": cw}
    got = sr.loss_and_grad(X, a(y), a(W), a(b), **kw)
    ref = sr.loss_and_grad(dense, y, W, b, **ref_kw)
    for g, r in zip(got, ref, strict=True):
        assert_array(g, r, sbk, dtype="float64", rtol=1e-12, atol=1e-14)
    assert sparse_library(X) == sbk.library  # the input is not converted in place
    assert_array(sr.forward(X, a(W), a(b)), dense @ W + b, sbk, dtype="float64", rtol=1e-12,
                 atol=1e-14)


def test_float32_stays_float32_and_nan_is_refused_naming_x(sbk):
    rng = np.random.default_rng(1)
    dense = random_dense(rng, 200, 12, 0.2, dtype="float32")
    X = to_sparse(dense, sbk, "csr")
    y = rng.integers(0, 3, 200)
    W, b = np.zeros((12, 3), np.float32), np.zeros(3, np.float32)
    got = sr.loss_and_grad(X, sbk.asarray(y), sbk.asarray(W), sbk.asarray(b))
    for g, r in zip(got, sr.loss_and_grad(dense, y, W, b), strict=True):
        assert_array(g, r, sbk, dtype="float32", rtol=1e-5, atol=1e-7)
    bad = dense.copy()
    bad[3, 4], bad[7, 1] = np.nan, np.inf
    with pytest.raises(ValueError, match=r"`X` contains 2 NaN or infinite stored value"):
        sr.loss_and_grad(to_sparse(bad, sbk, "coo"), sbk.asarray(y), sbk.asarray(W),
                         sbk.asarray(b))
    with pytest.raises(ValueError, match=r"`X` contains 2 NaN or infinite"):
        SoftmaxRegression().fit(to_sparse(bad, sbk, "csr"), sbk.asarray(y))


def test_rows_of_a_csr_matrix(sbk):
    """Mini-batches take CSR rows (repeated, empty, in any order) without densifying."""
    rng = np.random.default_rng(2)
    dense = random_dense(rng, 50, 7, 0.3)
    X = to_sparse(dense, sbk, "csr")
    rows = np.r_[rng.integers(0, 50, 30), 0, 0, 49]
    got = take_sparse_rows(X, sbk.asarray(rows))
    assert sparse_library(got) == sbk.library
    got_dense = got.to_dense() if sbk.library == "torch" else got.toarray()
    assert_array(got_dense, dense[rows], sbk, dtype="float64", rtol=0)


@pytest.mark.parametrize(("solver", "kw"), [
    ("lbfgs", {"tol": 1e-10, "max_iter": 1000}),
    ("sgd", {"batch_size": 64, "max_iter": 3, "tol": 0}),
])
def test_estimator_on_sparse_equals_dense(sbk, solver, kw):
    """Fits on the library's sparse matrices equal the dense NumPy fit (L-BFGS: the same
    objective; SGD: the same steps), stay on the library and device, and predict on any
    format, SciPy's included (moved to the model's library)."""
    sp = pytest.importorskip("scipy.sparse")
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16.0
    y = y[:600]
    sw = np.random.default_rng(0).uniform(0.2, 2.0, len(y))
    params = {"solver": solver, "random_state": 0, "class_weight": "balanced", **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few epochs on purpose
        m = SoftmaxRegression(**params).fit(to_sparse(X, sbk, "csr"), sbk.asarray(y),
                                            sample_weight=sbk.asarray(sw))
        ref = SoftmaxRegression(**params).fit(X, y, sample_weight=sw)
    assert m.backend_ == sbk.library and str(array_device(m.coef_)) == str(sbk.device)
    coef = backends.to_numpy(m.coef_)
    if solver == "lbfgs":  # as for SciPy: both runs reach the same flat optimum
        def objective(W, b):
            return sr.loss_and_grad(X, y, W.T, b, l2=1 / sw.sum(), sample_weight=sw)[0]

        np.testing.assert_allclose(objective(coef, backends.to_numpy(m.intercept_)),
                                   objective(ref.coef_, ref.intercept_), rtol=1e-7)
    else:
        np.testing.assert_allclose(coef, ref.coef_, rtol=1e-8, atol=1e-10)
    for Xf in (to_sparse(X, sbk, "coo"), to_sparse(X, sbk, "csc"), sp.csr_matrix(X)):
        pred = m.predict(Xf)
        assert sparse_library(Xf) == "scipy" or array_device(pred) == sbk.device
        np.testing.assert_array_equal(backends.to_numpy(pred), ref.predict(X))
        np.testing.assert_allclose(backends.to_numpy(m.predict_proba(Xf)), ref.predict_proba(X),
                                   atol=1e-5 if solver == "lbfgs" else 1e-10)
