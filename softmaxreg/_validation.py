"""Input checks and conversions behind :class:`~softmaxreg.SoftmaxRegression`."""

from __future__ import annotations

import math
import numbers
from typing import Any

import array_api_compat as aac
import numpy as np

from . import backends
from ._compat import backend_name, device


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


def check_int(name: str, value: Any, *, lo: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < lo:
        msg = f"`{name}` must be an integer >= {lo}, got {value!r}"
        raise InvalidParameterError(msg)


def seed(random_state: Any) -> Any:
    if isinstance(random_state, np.random.RandomState):
        return random_state.randint(2**31)
    return random_state


def is_numpy(xp: Any) -> bool:
    return aac.is_numpy_namespace(xp)


def is_device_array(x: Any) -> bool:
    """An array of a supported library other than NumPy (those keep their own backend)."""
    return aac.is_array_api_obj(x) and not isinstance(x, (np.ndarray, np.generic))


def needs_move(X: Any, target: tuple[str, Any] | None) -> bool:
    if target is None:
        return False
    if not is_device_array(X):
        return target[0] != "numpy"
    return target[1] is not None and str(device(X)) != str(target[1])


def to_xp(a: np.ndarray, xp: Any, dev: Any) -> Any:
    if is_numpy(xp):
        return a
    return xp.asarray(backends.asarray(a, backend=backend_name(xp)), device=dev)


def weight_sum(w: Any, n: int, xp: Any) -> float:
    if w is None:
        return float(n)
    return float(xp.sum(w))


def labels_to_host(y: Any, X: Any) -> np.ndarray:
    if y is None:
        msg = "SoftmaxRegression requires y to be passed, but the target y is None"
        raise ValueError(msg)
    y = backends.to_numpy(y) if is_device_array(y) or hasattr(y, "to_numpy") else np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        msg = f"`y` must be 1-D, got shape {y.shape}"
        raise ValueError(msg)
    return y


def from_dask_dataframe(X: Any) -> Any:
    mod = type(X).__module__
    if mod.startswith("dask.dataframe") or mod.startswith("dask_expr"):
        return X.to_dask_array(lengths=True)
    return X
