"""Fuzz: any input a user can hand the core or the estimator either gives the float64
NumPy reference's answer, leaving every input unchanged bit for bit, or raises a
ValueError/TypeError that names the argument.

Each draw picks a backend, dtypes (every float and integer dtype the backend has,
half precision and unsigned included), a memory layout (C, F, strided views,
read-only, DataFrames), a shape (0, 1 or many rows, above the CPU block size too;
1 feature; 1 to 1,000 classes) and values (normal, huge, all equal, NaN, inf). The
default profile runs a few dozen draws per test; ``HYPOTHESIS_PROFILE=fuzz`` runs
thousands (see docs/guarantees.md).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

import softmaxreg as sr
from softmaxreg import backends
from softmaxreg._kernel import BLOCK_ROWS

INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOATS = ("float16", "bfloat16", "float32", "float64")
LAYOUTS = ("C", "F", "strided", "readonly", "dataframe")
VALUES = ("normal", "huge", "equal", "nan", "inf")
LIBS = tuple(n for n in ("numpy", "array_api_strict", "torch", "jax", "dask")
             if n in backends.available())
ERROR_NAMES = {"X", "y", "W", "b", "Z", "sample_weight", "class_weight", "l2"}


def _namespace(lib):
    return backends.get_namespace(lib)


def _has(lib, dtype):
    if dtype == "bfloat16":
        return lib in ("torch", "jax")
    if lib == "array_api_strict" and dtype == "float16":
        return False
    return True


def _put(a, lib, dtype, layout):
    """``a`` (float64 or int64 NumPy) as ``lib``'s array of ``dtype`` in ``layout``."""
    if layout == "dataframe":
        import pandas as pd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # huge values overflow float16
            a = a.astype(dtype if dtype != "bfloat16" else "float32")
        return pd.DataFrame(a) if a.ndim == 2 else pd.Series(a)
    if layout == "strided":  # every other row of an array twice as long
        a = np.repeat(a, 2, axis=0)[::2]
    if lib == "torch" and dtype in ("bfloat16", "uint16", "uint32", "uint64"):
        import torch  # NumPy has no bfloat16, and torch cannot read wide unsigned arrays

        t = torch.from_numpy(np.ascontiguousarray(a)).to(getattr(torch, dtype))
        return t.T.contiguous().T if layout == "F" and t.ndim == 2 else t
    if lib == "jax" and dtype == "bfloat16":
        import jax.numpy as jnp

        return jnp.asarray(a, dtype=jnp.bfloat16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # huge values overflow in float16
        host = a.astype(dtype)
    if layout == "F":
        host = np.asfortranarray(host)
    if layout == "readonly":
        host.flags.writeable = False
    if lib == "numpy":
        return host
    if lib == "torch" and layout == "F" and host.ndim == 2:
        return backends.asarray(np.ascontiguousarray(host), backend="torch").T.contiguous().T
    return backends.asarray(host, backend=lib)


def _host(x):
    out = backends.to_numpy(x)
    if str(getattr(out, "dtype", "")) == "bfloat16":
        out = out.astype(np.float32)
    return np.array(out, copy=True)


def _reference(X, y, W, b, l2, sw, cw):
    """The lesson's row-major float64 computation, stable softmax, independent of the core."""
    Z = X @ W + b
    Z = Z - Z.max(axis=1, keepdims=True)
    logp = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    n, C = Z.shape
    w = np.ones(n) if sw is None else sw.astype(np.float64)
    if cw is not None:
        w = w * cw.astype(np.float64)[y]
    nll = -logp[np.arange(n), y]
    loss = (w * nll).sum() / w.sum() + l2 / 2 * (W**2).sum()
    G = w[:, None] * (np.exp(logp) - np.eye(C)[y]) / w.sum()
    return loss, X.T @ G + l2 * W, G.sum(axis=0)


def _values(kind, shape, rng):
    if kind == "equal":
        return np.full(shape, 0.75)
    a = rng.normal(size=shape)
    if kind == "huge":
        a *= 1e30
    elif kind in ("nan", "inf") and a.size:
        a.flat[rng.integers(a.size)] = np.nan if kind == "nan" else np.inf
    return a


def _assert_names_an_argument(exc, expect):
    """The message names one of ``expect`` (in backticks, or as a word: scikit-learn's
    own checks say "Input X contains NaN")."""
    text = str(exc)
    assert any(re.search(rf"(?<![A-Za-z_]){name}(?![A-Za-z_])", text) for name in expect), \
        f"error names none of {sorted(expect)}: {exc}"


@st.composite
def core_cases(draw):
    lib = draw(st.sampled_from(LIBS))
    big = draw(st.booleans()) and lib in ("numpy", "torch")
    n = draw(st.sampled_from((2 * BLOCK_ROWS + 3, BLOCK_ROWS + 1)) if big
             else st.sampled_from((0, 1)) | st.integers(2, 40))
    C = draw(st.integers(1, 4) if big else st.integers(1, 5) | st.sampled_from((50, 1000)))
    return {
        "lib": lib, "n": n, "d": draw(st.integers(1, 5)), "C": C,
        "x_dtype": draw(st.sampled_from(FLOATS + ("int32",)).filter(lambda t: _has(lib, t))),
        "y_dtype": draw(st.sampled_from(INTS + ("float64",))),
        "layout": draw(st.sampled_from(LAYOUTS)),
        "values": draw(st.sampled_from(VALUES)),
        "sw": draw(st.sampled_from((None, "positive", "negative", "nan", "zeros"))),
        "cw": draw(st.sampled_from((None, "positive"))),
        "bad_label": draw(st.booleans()) and n > 0,
        "l2": draw(st.sampled_from((0.0, 0.3))),
        "seed": draw(st.integers(0, 2**16)),
    }


def _expected_errors(case):
    """The (exception type, argument names) the core may raise for this case: any one of
    them when several apply (none: it must return the reference's answer). On Dask the
    value checks raise when the result is computed."""
    errors = []
    if case["layout"] == "dataframe":
        errors.append((TypeError, {"X", "y", "W", "b", "sample_weight", "class_weight"}))
    if case["x_dtype"] not in ("float32", "float64"):
        errors.append((TypeError, {"X", "W", "b"}))
    if case["y_dtype"] == "float64":
        errors.append((TypeError, {"y"}))
    if case["n"] == 0:
        errors.append((ValueError, {"X"}))
    if case["bad_label"]:
        errors.append((ValueError, {"y"}))
    if case["sw"] in ("negative", "nan", "zeros"):
        errors.append((ValueError, {"sample_weight", "class_weight"}))
    return errors


@given(case=core_cases())
def test_loss_and_grad_fuzz(case):
    note(case)
    lib, n, d, C = case["lib"], case["n"], case["d"], case["C"]
    rng = np.random.default_rng(case["seed"])
    X = _values(case["values"], (n, d), rng)
    ydt = case["y_dtype"]
    top = C if ydt == "float64" else min(C, int(np.iinfo(ydt).max) + 1)  # labels fit the dtype
    y = rng.integers(0, top, size=n)
    if top < C:  # label C does not fit the dtype (it would wrap to a valid one)
        case = {**case, "bad_label": False}
    if case["bad_label"]:
        y[rng.integers(n)] = C
    W, b = 0.3 * rng.normal(size=(d, C)), rng.normal(size=C)
    sw = {None: None, "positive": rng.uniform(0.1, 2, n), "negative": -rng.uniform(0.1, 2, n),
          "nan": np.full(n, np.nan), "zeros": np.zeros(n)}[case["sw"]]
    cw = None if case["cw"] is None else rng.uniform(0.1, 2, C)
    fdt, layout = case["x_dtype"], case["layout"]
    pdt = fdt if fdt != "int32" else "float64"
    args = [_put(X, lib, fdt, layout), _put(y, lib, case["y_dtype"], layout),
            _put(W, lib, pdt, "C"), _put(b, lib, pdt, "C")]
    kw = {"l2": case["l2"]}
    if sw is not None:
        kw["sample_weight"] = _put(sw, lib, pdt, layout)
    if cw is not None:
        kw["class_weight"] = _put(cw, lib, pdt, "C")
    before = [_host(a) for a in [*args, *kw.values()] if not isinstance(a, float)]
    expected = _expected_errors(case)
    try:
        with warnings.catch_warnings():
            if case["values"] in ("nan", "inf"):
                # NaN in, NaN out (as the reference): NumPy's RuntimeWarnings say so, in
                # Dask's worker threads too, which np.errstate would not reach
                warnings.simplefilter("ignore", RuntimeWarning)
            loss, dW, db = sr.loss_and_grad(*args, **kw)
            if lib == "dask":
                import dask

                loss, dW, db = dask.compute(loss, dW, db)
    except (TypeError, ValueError) as exc:
        assert expected, f"unexpected {exc!r}"
        kinds = [names for kind, names in expected if isinstance(exc, kind)]
        assert kinds, f"{exc!r} is none of {expected}"
        _assert_names_an_argument(exc, set().union(*kinds))
        return
    finally:
        after = [_host(a) for a in [*args, *kw.values()] if not isinstance(a, float)]
        for a0, a1 in zip(before, after, strict=True):
            np.testing.assert_array_equal(a0, a1)  # inputs unchanged, bit for bit
    assert not expected, f"expected one of {expected}, got a result"
    # the reference sees exactly the values the core saw (after the cast to its dtype)
    Xr, Wr, br = (np.asarray(_host(a), np.float64) for a in args[0:1] + args[2:4])
    with np.errstate(all="ignore"):  # NaN/inf input: the reference's NaN is the answer too
        ref = _reference(Xr, y, Wr, br, case["l2"], sw, cw)
    got = [np.asarray(_host(v), np.float64) for v in (loss, dW, db)]
    eps = float(np.finfo(fdt).eps)
    scale = 1.0 + np.abs(Xr).max(initial=0) * np.abs(Wr).sum(axis=0).max() + np.abs(br).max()
    for g, r in zip(got, ref, strict=True):
        # float32 rounds the logits to eps * |logit|; the gradient's error follows them
        np.testing.assert_allclose(g, r, rtol=200 * eps * d,
                                   atol=200 * eps * scale * (1 + np.abs(Xr).max(initial=0)))


@st.composite
def softmax_cases(draw):
    lib = draw(st.sampled_from(LIBS))
    return {"lib": lib,
            "dtype": draw(st.sampled_from(FLOATS).filter(lambda t: _has(lib, t))),
            "shape": draw(st.tuples(st.integers(1, 6), st.integers(1, 7))),
            "values": draw(st.sampled_from(("normal", "huge", "equal", "big-logits"))),
            "fn": draw(st.sampled_from(("softmax", "log_softmax", "logsumexp"))),
            "layout": draw(st.sampled_from(("C", "F", "strided", "readonly"))),
            "seed": draw(st.integers(0, 2**16))}


@given(case=softmax_cases())
def test_softmax_family_fuzz(case):
    note(case)
    rng = np.random.default_rng(case["seed"])
    Z = _values(case["values"] if case["values"] != "big-logits" else "normal",
                case["shape"], rng)
    if case["values"] == "big-logits":
        Z = 1e4 + Z
    Zin = _put(Z, case["lib"], case["dtype"], case["layout"])
    before = _host(Zin)
    fn = getattr(sr, case["fn"])
    try:
        out = fn(Zin, axis=-1)
    except TypeError as exc:
        assert case["dtype"] in ("float16", "bfloat16"), repr(exc)
        _assert_names_an_argument(exc, {"Z"})
        return
    assert case["dtype"] in ("float32", "float64")
    np.testing.assert_array_equal(_host(Zin), before)
    Zr = np.asarray(before, np.float64)
    m = Zr.max(axis=-1, keepdims=True)
    log_s = np.log(np.exp(Zr - m).sum(axis=-1, keepdims=True))
    ref = {"softmax": np.exp((Zr - m) - log_s), "log_softmax": (Zr - m) - log_s,
           "logsumexp": (m + log_s)[..., 0]}[case["fn"]]
    eps = float(np.finfo(case["dtype"]).eps)
    atol = 4 * eps * (1.0 if case["fn"] == "softmax" else
                      (np.abs(Zr).max() if case["fn"] == "logsumexp" else 8.0))
    np.testing.assert_allclose(np.asarray(_host(out), np.float64), ref, rtol=8 * eps,
                               atol=atol)


# ----------------------------------------------------------------------------- estimator


@st.composite
def estimator_cases(draw):
    lib = draw(st.sampled_from(tuple(n for n in ("numpy", "torch") if n in LIBS)))
    return {
        "lib": lib, "n": draw(st.integers(1, 40)), "d": draw(st.integers(1, 4)),
        "C": draw(st.integers(1, 4)),
        "x_dtype": draw(st.sampled_from(("float16", "float32", "float64", "int64", "uint8"))
                        .filter(lambda t: _has(lib, t))),
        "y_kind": draw(st.sampled_from(INTS + ("str", "bool"))),
        "layout": draw(st.sampled_from(LAYOUTS)),
        "values": draw(st.sampled_from(("normal", "huge", "equal", "nan", "inf"))),
        "solver": draw(st.sampled_from(("lbfgs", "adam"))),
        "seed": draw(st.integers(0, 2**16)),
    }


def _labels(kind, codes):
    if kind == "str":
        return np.array([f"class-{c}" for c in codes])
    if kind == "bool":
        return codes % 2 == 1
    return codes.astype(kind)


@given(case=estimator_cases())
@settings(deadline=None)
@example(case={"lib": "torch", "n": 27, "d": 2, "C": 3, "x_dtype": "float32", "y_kind": "int8",
               "layout": "C", "values": "normal", "solver": "adam", "seed": 305})
def test_estimator_fuzz(case):
    """Fit on any dtype/layout/library equals the fit on C-ordered float64 NumPy of the
    same values; bad data gets a ValueError/TypeError naming `X` or `y`."""
    from sklearn.exceptions import ConvergenceWarning

    note(case)
    rng = np.random.default_rng(case["seed"])
    n, d, C = case["n"], case["d"], case["C"]
    X = _values(case["values"], (n, d), rng)
    if case["x_dtype"] in ("int64", "uint8"):
        X = np.abs(np.nan_to_num(np.round(X), nan=1.0, posinf=3.0)).clip(0, 200)
    codes = rng.integers(0, C, size=n)
    y = _labels(case["y_kind"], codes)
    lib, layout = case["lib"], case["layout"]
    if lib == "torch" and (layout == "dataframe" or case["y_kind"] in ("str", "bool")):
        Xin, yin = _put(X, "numpy", case["x_dtype"], layout), y  # torch has no strings
    else:
        Xin = _put(X, lib, case["x_dtype"], layout)
        yin = y if layout == "dataframe" or case["y_kind"] in ("str", "bool") \
            else _put(y, lib, case["y_kind"], "C")
    before = (_host(Xin), np.array(backends.to_numpy(yin), copy=True))
    Xref = np.asarray(before[0], np.float64)
    kw = {"solver": case["solver"], "max_iter": 30, "random_state": 0, "learning_rate": 0.05}
    n_classes = len(np.unique(y))
    dtype = "float32" if case["x_dtype"] == "float32" else "float64"
    limit = np.sqrt(np.finfo(dtype).max) / 1e3  # softmaxreg._validation.check_values
    finite = np.isfinite(Xref).all() and np.abs(Xref).max() <= limit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            m = sr.SoftmaxRegression(**kw).fit(Xin, yin)
        except (TypeError, ValueError) as exc:
            assert not finite or n_classes < 2, f"unexpected {exc!r}"
            _assert_names_an_argument(exc, ({"X"} if not finite else set())
                                      | ({"y"} if n_classes < 2 else set()))
            return
        finally:
            np.testing.assert_array_equal(_host(Xin), before[0])
            np.testing.assert_array_equal(backends.to_numpy(yin), before[1])
        assert finite and n_classes >= 2
        ref = sr.SoftmaxRegression(**kw).fit(Xref.astype(dtype), y)
    np.testing.assert_array_equal(m.classes_, ref.classes_)
    rtol = 1e-4 if case["x_dtype"] == "float32" else 1e-9
    codes = np.unique(y, return_inverse=True)[1]

    def objective(model):
        W, b = (np.asarray(_host(a), np.float64) for a in (model.coef_.T, model.intercept_))
        return _reference(Xref, codes, W, b, 1 / len(y), None, None)[0]

    # Adam divides each step by the gradient's running size: where gradients are near
    # zero (equal rows, unscaled features in the hundreds), rounding differences between
    # libraries become steps of the learning rate's size, so Adam fits agree to 1e-3
    # (float32) and 1e-6 (float64) rather than 1e-4 and 1e-9
    if case["solver"] == "adam":
        obj_rtol = 1e-3 if dtype == "float32" else 1e-6
    else:
        obj_rtol = rtol
    np.testing.assert_allclose(objective(m), objective(ref), rtol=obj_rtol)
    if case["solver"] == "lbfgs" and case["values"] != "equal" and dtype == "float64":
        # the weights themselves only where the optimum is unique (equal rows make a
        # column collinear with the intercept), the path is not Adam's sign-like steps, and
        # float64 keeps 30 unconverged L-BFGS steps reproducible across libraries
        np.testing.assert_allclose(_host(m.coef_), ref.coef_, rtol=rtol,
                                   atol=rtol * (1 + np.abs(ref.coef_).max()))
    if case["solver"] == "adam" and case["values"] == "huge":
        return  # features at 1e30 saturate every probability: Adam's 1e-6 differences in
        # the weights (above) decide rows on their own, so only the objective is compared
    # predictions agree wherever the reference is not at a tie (equal rows, equal logits).
    # float32 Adam fits of two libraries differ by up to ~2e-3 in probability (seen: 1.8e-3
    # with torch vs NumPy, n=27, seed 305, in line with the 1e-3 objective tolerance), so
    # there a row decided by less than 1e-2 counts as a tie
    margin = 1e-2 if case["solver"] == "adam" and dtype == "float32" else 1e-6
    top2 = np.sort(ref.predict_proba(Xref), axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > margin
    np.testing.assert_array_equal(backends.to_numpy(m.predict(Xin))[clear],
                                  ref.predict(Xref)[clear])
