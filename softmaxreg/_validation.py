"""Input checks and conversions behind :class:`~softmaxreg.SoftmaxRegression`."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._compat import is_dask_array


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or outside its range (as scikit-learn's error of
    the same name, it is both a ValueError and a TypeError)."""


def check_number(name: str, value: Any, *, lo: float = -math.inf, hi: float = math.inf,
                 open_lo: bool = True, allow_inf: bool = False) -> float:
    """``value`` as a float, or an error naming ``name`` when it is no real number
    (bools and strings included) or lies outside the bounds."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        in_range = (v > lo if open_lo else v >= lo) and (v < hi or (allow_inf and v == math.inf))
        ok = in_range and (math.isfinite(v) or (allow_inf and v == math.inf))
    if not ok:
        bound = (f"> {lo}" if open_lo else f">= {lo}") + ("" if math.isinf(hi) else f" and < {hi}")
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


def check_finite_host(X: np.ndarray) -> None:
    """NaN/inf in a NumPy ``X``: the same message as for device arrays, no RuntimeWarning."""
    with np.errstate(all="ignore"):
        bad = int(np.count_nonzero(~np.isfinite(X)))
    if bad:
        raise ValueError(nonfinite_message(bad))


def check_magnitude(X: Any, xp: Any) -> None:
    """Refuse values so large that the solver's products overflow in ``X``'s dtype.

    A gradient entry is about as large as ``X``, and the line search multiplies two
    of them: past the square root of the dtype's largest number (divided by 1000 for
    the sums) they overflow to inf. For float32 that is 1.8e16, for float64 1e151.
    """
    if X.shape[0] == 0 or X.shape[1] == 0:
        return
    limit = math.sqrt(float(np.finfo(np.dtype(str(X.dtype).rsplit(".", 1)[-1])).max)) / 1e3
    top = float(xp.max(xp.abs(X)))
    if top > limit:
        name = str(X.dtype).rsplit(".", 1)[-1]
        msg = (f"`X` holds values up to {top:.3g}, too large for {name} arithmetic (the "
               f"solver's products would overflow past {limit:.2g}): standardise `X` first, "
               f"e.g. with sklearn.preprocessing.StandardScaler"
               + ("" if name == "float64" else ", or fit with dtype='float64'"))
        raise ValueError(msg)


def from_dask_dataframe(X: Any) -> Any:
    """Dask DataFrames as Dask arrays, and Dask arrays with known chunk sizes (both take
    one pass over the data when the row counts per chunk are unknown)."""
    mod = type(X).__module__
    if mod.startswith("dask.dataframe") or mod.startswith("dask_expr"):
        return X.to_dask_array(lengths=True)
    if is_dask_array(X) and any(math.isnan(c) for c in X.chunks[0]):
        return X.compute_chunk_sizes()
    return X
