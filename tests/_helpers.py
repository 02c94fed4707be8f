"""Helpers shared by the test modules (kept out of conftest so they import by a unique name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from softmaxreg import backends
from softmaxreg._compat import device as array_device
from softmaxreg._compat import library_name


@dataclass(frozen=True)
class Backend:
    """One array library on one device, as the tests see it."""

    name: str  # "numpy", "torch:cuda", ...
    xp: Any
    device: Any

    @property
    def library(self) -> str:
        return self.name.partition(":")[0]

    @property
    def lazy(self) -> bool:
        return self.library in ("dask",)

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        return backends.asarray(np.asarray(a), backend=self.name, dtype=dtype)

    def dtype(self, name: str) -> Any:
        return getattr(self.xp, name)


def assert_array(actual: Any, expected: Any, bk: Backend, *, dtype: str | None = None,
                 rtol: float = 1e-7, atol: float = 0.0) -> None:
    """``actual`` is an array of ``bk``'s library and device, of ``dtype``, close to ``expected``.

    Checks the library, device, dtype and shape as well as the values, so a
    test cannot pass by quietly computing on NumPy.
    """
    assert library_name(actual) == bk.library, f"{library_name(actual)} != {bk.library}"
    assert array_device(actual) == bk.device, f"{array_device(actual)} != {bk.device}"
    if dtype is not None:
        assert actual.dtype == bk.dtype(dtype), f"dtype {actual.dtype} != {dtype}"
    got = backends.to_numpy(actual)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
