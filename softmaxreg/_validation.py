"""Input checks and conversions behind :class:`~softmaxreg.SoftmaxRegression`."""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any

import numpy as np

from ._compat import (
    checked,
    dtype_name,
    is_array,
    is_dask_array,
    is_sparse,
    sparse_values,
    without_grad,
)


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or outside its range (as scikit-learn's error of
    the same name, it is both a ValueError and a TypeError)."""


def check_number(name: str, value: Any, *, lo: float = -math.inf, hi: float = math.inf,
                 open_lo: bool = True, allow_inf: bool = False, closed_hi: bool = False
                 ) -> float:
    """``value`` as a float, or an error naming ``name`` when it is no real number
    (bools and strings included) or lies outside the bounds (``hi`` itself is
    allowed with ``closed_hi=True``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        below_hi = v <= hi if closed_hi else v < hi
        in_range = (v > lo if open_lo else v >= lo) and (below_hi or (allow_inf and v == math.inf))
        ok = in_range and (math.isfinite(v) or (allow_inf and v == math.inf))
    if not ok:
        top = "" if math.isinf(hi) else f" and {'<=' if closed_hi else '<'} {hi}"
        bound = (f"> {lo}" if open_lo else f">= {lo}") + top
        kind = "number" if allow_inf else "finite number"
        msg = f"`{name}` must be a {kind} {bound}, got {value!r}"
        raise InvalidParameterError(msg)
    return v


def check_int(name: str, value: Any, *, lo: int) -> int:
    """``value`` as an int, or an error naming ``name`` (bools and floats are refused)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < lo:
        msg = f"`{name}` must be an integer >= {lo}, got {value!r}"
        raise InvalidParameterError(msg)
    return int(value)


def check_bool(name: str, value: Any) -> bool:
    """A bool (or NumPy bool): the string 'False' is true in Python, so it is refused."""
    if not isinstance(value, (bool, np.bool_)):
        msg = f"`{name}` must be a bool (True or False), got {value!r}"
        raise InvalidParameterError(msg)
    return bool(value)


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    if not any(value is c or (isinstance(value, str) and value == c) for c in choices):
        msg = f"unknown `{name}` {value!r}; choose one of {', '.join(map(str, choices))}"
        raise InvalidParameterError(msg)
    return value


def check_random_state(value: Any) -> None:
    ok = (value is None or isinstance(value, (np.random.Generator, np.random.RandomState))
          or (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0))
    if not ok:
        msg = (f"`random_state` must be None, an int >= 0, a numpy Generator or RandomState, "
               f"got {value!r}")
        raise InvalidParameterError(msg)


def float_dtype_name(dtype: Any) -> str | None:
    """``"float32"``/``"float64"`` for any spelling of those (a string, a NumPy type or
    dtype, a torch/JAX dtype), None for None; anything else (float16, complex) is refused."""
    if dtype is None:
        return None
    name = None
    if isinstance(dtype, str):
        name = dtype
    elif isinstance(dtype, type) and issubclass(dtype, np.generic) or isinstance(dtype, np.dtype):
        name = np.dtype(dtype).name
    elif type(dtype).__module__.split(".")[0] in ("torch", "jax", "jaxlib", "cupy",
                                                  "array_api_strict"):
        name = str(dtype).rsplit(".", 1)[-1]
    if name not in ("float32", "float64"):
        msg = f"`dtype` must be None, 'float32' or 'float64', got {dtype!r}"
        raise InvalidParameterError(msg)
    return name


def seed(random_state: Any) -> Any:
    if isinstance(random_state, np.random.RandomState):
        return random_state.randint(2**31)
    return random_state


def nonfinite_message(bad: int) -> str:
    return f"`X` contains {bad} NaN or infinite value(s); remove or impute them"


def check_values(X: Any, xp: Any, *, limit_dtype: str | None = None) -> None:
    """Refuse NaN/inf in ``X`` (counted, as for every backend) and, with ``limit_dtype``,
    values too large for that dtype's arithmetic; one pass over ``X``.

    A gradient entry is about as large as ``X``, and the line search multiplies two
    of them: past the square root of the dtype's largest number (divided by 1000 for
    the sums) they overflow to inf. For float32 that is 1.8e16, for float64 1e151.
    """
    if is_sparse(X):  # the stored values; the implicit zeros are finite
        X = sparse_values(X)[None, :]
    if X.shape[0] == 0 or X.shape[1] == 0 or xp.isdtype(X.dtype, "bool"):
        return
    X = without_grad(X)  # reading values is no step of a torch graph
    with np.errstate(all="ignore"):  # NaN/inf are reported below, not warned about
        # two reductions and no temporary (abs() would allocate a copy of X);
        # NaN and inf propagate through both
        top = max(abs(float(xp.min(X))), abs(float(xp.max(X))))
        if not math.isfinite(top):
            raise ValueError(nonfinite_message(int(xp.count_nonzero(~xp.isfinite(X)))))
    if limit_dtype is None:
        return
    limit = math.sqrt(float(np.finfo(np.dtype(limit_dtype)).max)) / 1e3
    if top > limit:
        msg = (f"`X` holds values up to {top:.3g}, too large for {limit_dtype} arithmetic (the "
               f"solver's products would overflow past {limit:.2g}): standardise `X` first, "
               f"e.g. with sklearn.preprocessing.StandardScaler"
               + ("" if limit_dtype == "float64" else ", or fit with dtype='float64'"))
        raise ValueError(msg)


def check_frame_columns(X: Any) -> None:
    """Refuse a DataFrame (pandas, polars, Dask) column that is not numbers or booleans,
    naming it: scikit-learn's conversion would say only "could not convert string to
    float", and would turn dates into nanoseconds without a word."""
    columns, dtypes = getattr(X, "columns", None), getattr(X, "dtypes", None)
    if columns is None or dtypes is None or is_array(X):
        return
    for column, dtype in zip(list(columns), list(dtypes), strict=True):
        if _is_numeric_column(dtype) or (str(dtype) == "object" and _holds_numbers(X[column])):
            continue
        what = str(dtype)
        if what.startswith(("datetime", "Datetime", "Date", "timedelta", "Duration")):
            hint = "convert it to numbers first (e.g. days since a reference date)"
        else:
            hint = ("encode it first (e.g. sklearn.preprocessing.OneHotEncoder in a "
                    "ColumnTransformer) or drop it")
        msg = f"`X` column {column!r} has dtype {what}, which is not numeric: {hint}"
        raise ValueError(msg)


def float32_frame(X: Any) -> bool:
    """A DataFrame or Arrow table whose columns are all float32 (pandas, polars, pyarrow):
    its values stay float32, as a float32 NumPy array's do."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None and hasattr(X, "schema") and hasattr(X, "column_names"):  # pyarrow
        dtypes = X.schema.types
    if dtypes is None or is_array(X):
        return False
    names = [str(d) for d in list(dtypes)]
    return bool(names) and all(n in ("float32", "Float32", "float") for n in names)


def _holds_numbers(column: Any) -> bool:
    """An object column of Python numbers converts as scikit-learn would convert it."""
    try:
        np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _is_numeric_column(dtype: Any) -> bool:
    if hasattr(dtype, "is_numeric"):  # polars
        return bool(dtype.is_numeric()) or str(dtype) == "Boolean"
    # NumPy dtypes and pandas' own (Int64, Float64, boolean, float64[pyarrow]) have a kind
    return getattr(dtype, "kind", "O") in "biuf"


def from_dask_dataframe(X: Any) -> Any:
    """Dask DataFrames as Dask arrays, and Dask arrays with known chunk sizes (both take
    one pass over the data when the row counts per chunk are unknown)."""
    mod = type(X).__module__
    if mod.startswith("dask.dataframe") or mod.startswith("dask_expr"):
        return X.to_dask_array(lengths=True)
    if is_dask_array(X) and any(math.isnan(c) for c in X.chunks[0]):
        return X.compute_chunk_sizes()
    return X


def check_weights(A: Any, name: str, length: int, what: str, xp: Any) -> Any:
    """Weights: real numbers, one per row (or class), >= 0 and finite; returns ``A``
    (a Dask ``A`` with the value checks in its graph, see ``_compat.checked``)."""
    if not (xp.isdtype(A.dtype, "real floating") or xp.isdtype(A.dtype, "integral")):
        msg = f"`{name}` must be a real numeric array, got dtype {dtype_name(A.dtype)}"
        raise TypeError(msg)
    if A.ndim != 1 or A.shape[0] != length:
        msg = (f"`{name}` has shape {tuple(A.shape)} but must have shape ({length},) to "
               f"match {what}")
        raise ValueError(msg)
    if length == 0:
        return A
    finite = xp.isfinite(A) if xp.isdtype(A.dtype, "real floating") else A == A
    return checked(A, functools.partial(_check_weight_values, name=name),
                   xp.count_nonzero(A < 0), xp.min(A), xp.count_nonzero(~finite))


def _check_weight_values(n_neg: Any, low: Any, n_bad: Any, *, name: str) -> None:
    if n_neg := int(n_neg):
        msg = f"`{name}` must be >= 0, got {n_neg} negative value(s) (min {float(low)})"
        raise ValueError(msg)
    if int(n_bad):
        msg = f"`{name}` must be finite, got NaN or infinite values"
        raise ValueError(msg)


def check_some_weight(total: Any) -> None:
    if not float(total) > 0:
        msg = ("the row weights from `sample_weight` and `class_weight` are all zero: at least "
               "one row needs weight > 0")
        raise ValueError(msg)
