"""Choose a backend, move data onto it, and bring results back to NumPy.

Backend names: ``"numpy"`` (the default), ``"torch"``, ``"jax"``, ``"dask"``,
``"cupy"`` and ``"array_api_strict"`` (the standard's reference namespace, for
checking). A device can be given separately (``backend="torch", device="cuda"``)
or in the name (``"torch:cuda"``).

Examples
--------
>>> import numpy as np
>>> from softmaxreg import backends
>>> "numpy" in backends.available()
True
>>> x = backends.asarray(np.ones((2, 2)), backend="numpy", dtype="float32")
>>> x.dtype
dtype('float32')
>>> backends.to_numpy(x).sum()
np.float32(4.0)
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

import numpy as np

from ._compat import (
    BACKENDS,
    is_array,
    is_cupy_array,
    is_dask_array,
    is_scipy_sparse,
    is_torch_array,
    library_name,
    resolve_dtype,
    torch_csr,
)
from ._compat import array_namespace as _array_namespace

__all__ = ["BACKENDS", "asarray", "available", "get_namespace", "import_backend",
           "optional_import", "parse_backend", "to_numpy"]

#: The module behind each backend name.
_MODULES = {"numpy": "numpy", "array_api_strict": "array_api_strict", "torch": "torch",
            "jax": "jax.numpy", "dask": "dask.array", "cupy": "cupy"}
#: The extra that installs each backend (array_api_strict comes with the test extra).
_EXTRAS = {"array_api_strict": "test"}


def optional_import(module: str, extra: str, *, needed_for: str) -> Any:
    """Import an optional library, or raise an ImportError naming the extra that brings it.

    The one place the install hint is written: ``pip install 'softmaxreg[EXTRA]'``
    (``pip install -e '.[EXTRA]'`` in a checkout).
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        msg = (f"{needed_for} needs {top}: install it with `pip install 'softmaxreg[{extra}]'` "
               f"(in a checkout of softmaxreg: `pip install -e '.[{extra}]'`)")
        raise ImportError(msg) from None


def import_backend(name: str) -> Any:
    """Import the module behind a backend name, with an install hint when it is missing."""
    if name not in _MODULES:
        msg = f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}"
        raise ValueError(msg)
    return optional_import(_MODULES[name], _EXTRAS.get(name, name),
                           needed_for=f"backend {name!r}")


@functools.cache
def available() -> tuple[str, ...]:
    """Installed backends that work on this machine, e.g. ``("numpy", "torch", "jax")``.

    GPU entries (``"torch:cuda"``, ``"cupy"``) appear only where a GPU answers.
    """
    found = []
    for name in BACKENDS:
        try:
            mod = import_backend(name)
        except ImportError:
            continue
        if name == "cupy":
            try:
                if mod.cuda.runtime.getDeviceCount() < 1:
                    continue
                mod.zeros(1).sum()
            except Exception:  # noqa: BLE001 - any CUDA failure means "not usable here"
                continue
        found.append(name)
        if name == "torch" and mod.cuda.is_available():
            found.append("torch:cuda")
    return tuple(found)


def parse_backend(backend: str, device: Any = None) -> tuple[str, Any]:
    """Split ``"torch:cuda"`` into ``("torch", "cuda")`` and check the name."""
    if not isinstance(backend, str):
        msg = f"`backend` must be a string such as 'numpy' or 'torch', got {backend!r}"
        raise TypeError(msg)
    name, _, dev = backend.partition(":")
    if dev and device is not None and str(device) != dev:
        msg = f"`backend` names device {dev!r} but `device` is {device!r}; give one of them"
        raise ValueError(msg)
    if name not in BACKENDS:
        msg = f"unknown `backend` {backend!r}; choose one of {', '.join(BACKENDS)}"
        raise ValueError(msg)
    return name, (dev or device)


def get_namespace(backend: str) -> Any:
    """The array-API namespace for a backend name (raises if it is not installed)."""
    return _array_namespace(("x", asarray(np.zeros(1), backend=backend)))


def to_numpy(x: Any) -> np.ndarray:
    """Bring an array of any supported library (on any device) back as a NumPy array.

    Dask arrays are computed; GPU arrays are copied to the host.
    """
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "to_numpy") and not is_array(x):  # pandas
        return x.to_numpy()
    if is_torch_array(x):
        x = x.detach().cpu()
        # NumPy has no bfloat16: such tensors come back as float32, which holds them exactly
        return (x.float() if str(x.dtype) == "torch.bfloat16" else x).numpy()
    if is_cupy_array(x):
        return x.get()
    if is_dask_array(x):
        return to_numpy(x.compute())
    if library_name(x) == "array_api_strict":
        import array_api_strict as xps  # only reached with its arrays

        return np.asarray(xps.asarray(x, device=xps.Device("CPU_DEVICE"))._array)
    return np.asarray(x)


def asarray(x: Any, backend: str = "numpy", device: Any = None, dtype: Any = None,
            *, chunks: Any = "auto") -> Any:
    """Move NumPy, pandas, lists or any supported array onto ``backend`` (and ``device``).

    Parameters
    ----------
    x : array-like
        NumPy array, pandas object, nested list or an array of any backend.
    backend : str
        A name from :data:`BACKENDS`, optionally with a device: ``"torch:cuda"``.
    device : optional
        Device on that backend (``"cuda"``, ``"cuda:1"``, a ``jax.Device``...).
    dtype : optional
        ``"float32"``/``"float64"`` or a dtype object; by default the dtype is kept.
    chunks : optional
        Row chunks for Dask (columns are never split).
    """
    name, device = parse_backend(backend, device)
    mod = import_backend(name)
    if is_scipy_sparse(x):  # stays sparse: SciPy's on NumPy, CSR on torch and CuPy
        if name == "numpy":
            return x if dtype is None else x.astype(resolve_dtype(np, dtype), copy=False)
        if name in ("torch", "cupy"):
            return _sparse_to(x.tocsr(), name, mod, device, dtype)
        msg = (f"`x` is a scipy.sparse matrix and {name} has no sparse matrices softmaxreg "
               f"trains on (numpy, torch and cupy have); densify it first with x.toarray() "
               f"if it fits in memory")
        raise TypeError(msg)
    if name in ("torch", "jax") and _same_library(x, name):
        out = x  # stays on its library; only the device or dtype may change
    else:
        out = to_numpy(x) if not isinstance(x, (list, tuple)) else np.asarray(x)
    if name == "numpy":
        arr = np.asarray(out)
        return arr if dtype is None else arr.astype(resolve_dtype(np, dtype), copy=False)
    if name == "torch":
        if isinstance(out, np.ndarray) and not out.flags.writeable:
            out = out.copy()  # torch cannot share read-only memory (pandas copy-on-write)
        dt = resolve_dtype(mod, dtype)
        return mod.asarray(out, device=device, dtype=dt)
    if name == "jax":
        import jax  # only reached with JAX arrays

        arr = mod.asarray(out, dtype=resolve_dtype(mod, dtype))
        if device is not None:
            arr = jax.device_put(arr, _jax_device(device))
        return arr
    if name == "cupy":
        dt = resolve_dtype(np, dtype)
        if device is not None:
            with mod.cuda.Device(_cuda_index(device)):
                return mod.asarray(out, dtype=dt)
        return mod.asarray(out, dtype=dt)
    if name == "dask":
        arr = asarray(out, "numpy", dtype=dtype)
        if arr.ndim >= 1 and chunks == "auto":
            chunks = ("auto",) + tuple(-1 for _ in range(arr.ndim - 1))
        return mod.from_array(arr, chunks=chunks)
    # array_api_strict: its devices ("device1", ...) catch arrays made on the wrong device
    arr = np.asarray(out)
    dt = None if dtype is None else resolve_dtype(mod, dtype)
    if device is None:
        return mod.asarray(arr, dtype=dt)
    if isinstance(device, str):
        device = mod.Device(device)
    return mod.asarray(arr, dtype=dt, device=device)


def _sparse_to(X: Any, name: str, mod: Any, device: Any, dtype: Any) -> Any:
    """SciPy CSR moved to torch's CSR tensors or ``cupyx.scipy.sparse``, still sparse."""
    if dtype is not None:
        X = X.astype(resolve_dtype(np, dtype), copy=False)
    if not X.has_canonical_format:  # sorted column indices, duplicates summed (a copy)
        X = X.copy()
        X.sum_duplicates()
    if name == "torch":
        return torch_csr(X.indptr, X.indices, X.data, X.shape, device)
    import cupyx.scipy.sparse  # only reached when moving sparse data to CuPy

    with mod.cuda.Device(_cuda_index(device) if device is not None else None):
        return cupyx.scipy.sparse.csr_matrix(X)


def namespace_of(x: Any) -> Any:
    """Array-API namespace of ``x`` (for users who want to write their own code)."""
    return _array_namespace(("x", x))


def _same_library(x: Any, name: str) -> bool:
    return is_array(x) and library_name(x) == name


def _cuda_index(device: Any) -> int:
    text = str(device)
    return int(text.split(":")[1]) if ":" in text else 0


def _jax_device(device: Any) -> Any:
    import jax  # only reached with JAX arrays

    if not isinstance(device, str):
        return device
    platform, _, index = device.partition(":")
    platform = {"cuda": "gpu"}.get(platform, platform)
    return jax.devices(platform)[int(index) if index else 0]
