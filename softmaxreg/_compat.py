"""The one module that talks to ``array_api_compat``.

Everything else in softmaxreg asks this module for an array namespace, a
device, or a conversion. Public helpers for users live in
:mod:`softmaxreg.backends`, which re-exports what is meant for them.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import array_api_compat as aac
import numpy as np

__all__ = [
    "BACKENDS",
    "array_namespace",
    "backend_name",
    "check_same_device",
    "checked",
    "device",
    "dtype_name",
    "is_array",
    "is_cupy_array",
    "is_cupy_namespace",
    "is_dask_array",
    "is_dask_namespace",
    "is_jax_namespace",
    "is_lazy",
    "is_scipy_sparse",
    "is_sparse_chunked",
    "is_sparse",
    "is_numpy_namespace",
    "is_torch_array",
    "is_torch_namespace",
    "is_writeable",
    "library_name",
    "resolve_dtype",
    "sparse_library",
    "sparse_rows",
    "sparse_values",
    "take_sparse_rows",
    "torch_csr",
    "without_grad",
]

#: Every backend softmaxreg knows by name, in the order ``available()`` lists them.
BACKENDS = ("numpy", "array_api_strict", "torch", "jax", "dask", "cupy")

is_array = aac.is_array_api_obj
is_dask_array = aac.is_dask_array
is_torch_array = aac.is_torch_array
is_cupy_array = aac.is_cupy_array
is_cupy_namespace = aac.is_cupy_namespace
is_numpy_namespace = aac.is_numpy_namespace
is_torch_namespace = aac.is_torch_namespace
is_jax_namespace = aac.is_jax_namespace
is_dask_namespace = aac.is_dask_namespace
is_writeable = aac.is_writeable_array


def _is_strict_array(x: Any) -> bool:
    return type(x).__module__.startswith("array_api_strict")


# (backend name, test for its arrays, test for its namespace)
_KINDS = (
    ("numpy", aac.is_numpy_array, aac.is_numpy_namespace),
    ("torch", aac.is_torch_array, aac.is_torch_namespace),
    ("jax", aac.is_jax_array, aac.is_jax_namespace),
    ("dask", aac.is_dask_array, aac.is_dask_namespace),
    ("cupy", aac.is_cupy_array, aac.is_cupy_namespace),
    ("array_api_strict", _is_strict_array, aac.is_array_api_strict_namespace),
)


def library_name(x: Any) -> str:
    """Name of the array library that ``x`` belongs to (for error messages)."""
    name = next((name for name, is_array, _ in _KINDS if is_array(x)), None)
    return name or type(x).__module__.split(".")[0] + "." + type(x).__name__


def backend_name(xp: Any) -> str:
    """Name of the backend behind a namespace returned by :func:`array_namespace`."""
    name = next((name for name, _, is_ns in _KINDS if is_ns(xp)), None)
    return name or getattr(xp, "__name__", repr(xp))


def array_namespace(*named: tuple[str, Any]) -> Any:
    """Infer the one namespace of the named arrays; ``None`` entries are ignored.

    Takes ``(name, array)`` pairs so that a mix of libraries is reported with
    the argument names: "`X` is a torch array but `W` is a numpy array".
    Python scalars are allowed (they take the namespace of the arrays).
    """
    arrays = _arrays(named)
    if not arrays:
        msg = "no array arguments given: pass at least one array"
        raise TypeError(msg)
    for name, a in arrays:
        if not (is_array(a) or is_sparse(a)):
            msg = (f"`{name}` of type {type(a).__name__} is not a supported array (NumPy, "
                   f"torch, JAX, CuPy, Dask...): convert it first, e.g. numpy.asarray({name})")
            raise TypeError(msg)
    first_name, first = arrays[0]
    _refuse_a_mix(arrays, library_name, TypeError, lambda a, lib_a, b, lib_b: (
        f"`{a}` is a {lib_a} array but `{b}` is a {lib_b} array; put all arrays on one "
        f"backend first, e.g. softmaxreg.backends.asarray({b}, backend={lib_a!r})"))
    try:
        return aac.array_namespace(*(a for _, a in arrays))
    except TypeError as exc:
        msg = f"`{first_name}` of type {type(first).__name__} is not a supported array: {exc}"
        raise TypeError(msg) from None


def check_same_device(*named: tuple[str, Any]) -> Any:
    """Return the device shared by the named arrays, or raise naming the two that differ."""
    # a JAX tracer has no device inside jax.jit: nothing to compare there
    arrays = [(n, a) for n, a in _arrays(named) if device(a) is not None]
    if not arrays:
        return None
    _refuse_a_mix(arrays, device, ValueError, lambda a, dev_a, b, dev_b: (
        f"`{a}` is on device {dev_a!r} but `{b}` is on device {dev_b!r}; "
        f"move them to one device first"))
    return device(arrays[0][1])


def _arrays(named: tuple[tuple[str, Any], ...]) -> list[tuple[str, Any]]:
    """The named arguments that are arrays (not None, not Python scalars); a SciPy sparse
    matrix counts as a NumPy array (it computes with NumPy parameters, on the CPU), a
    CuPy one as a CuPy array on its device (torch's sparse tensors are torch arrays)."""
    return [(n, _stand_in(a)) for n, a in named
            if a is not None and not isinstance(a, (int, float))]


def _stand_in(a: Any) -> Any:
    kind = sparse_library(a)
    if kind == "scipy":
        return np.empty((0,) * a.ndim, dtype=a.dtype)
    if kind == "cupy":
        return a.data[:0]  # its stored values: a CuPy array of its dtype, on its device
    return a


def device(x: Any) -> Any:
    """The device of an array, of a sparse matrix too ("cpu" for SciPy's, and for Dask
    arrays of SciPy chunks, as for Dask arrays of NumPy chunks)."""
    if type(x) is np.ndarray:  # the common case first: every check costs on small data
        return "cpu"
    kind = sparse_library(x)
    if kind == "scipy" or is_sparse_chunked(x):
        return "cpu"
    return x.device if kind == "cupy" else aac.device(x)


def is_sparse_chunked(x: Any) -> bool:
    """A Dask array whose chunks are ``scipy.sparse`` matrices."""
    return aac.is_dask_array(x) and is_scipy_sparse(getattr(x, "_meta", None))


def _refuse_a_mix(arrays: list[tuple[str, Any]], key: Any, error: type[Exception],
                  explain: Any) -> None:
    """Raise ``error(explain(first name, its key, name, key))`` for the first array whose
    ``key`` (library, device) differs from the first array's."""
    first = key(arrays[0][1])
    for name, a in arrays[1:]:
        other = key(a)
        if other != first:
            raise error(explain(arrays[0][0], first, name, other))


def is_lazy(x: Any) -> bool:
    """True when reading a value of ``x`` would force a computation or fail under a trace.

    Concrete JAX arrays are not lazy (their values can be checked); tracers
    inside ``jax.jit`` and every Dask array are.
    """
    if aac.is_jax_array(x):
        import jax  # only reached with JAX arrays

        return isinstance(x, jax.core.Tracer)
    return bool(aac.is_lazy_array(x))


def is_scipy_sparse(x: Any) -> bool:
    """A ``scipy.sparse`` matrix or array (any format), without importing SciPy."""
    return type(x).__module__.startswith("scipy.sparse") and hasattr(x, "tocsr")


def sparse_library(x: Any) -> str | None:
    """"scipy", "torch" or "cupy" for a sparse matrix of that library (any format:
    ``scipy.sparse``, a torch tensor of a sparse layout, ``cupyx.scipy.sparse``);
    None for anything else."""
    if type(x) is np.ndarray:
        return None
    if is_scipy_sparse(x):
        return "scipy"
    if aac.is_torch_array(x) and str(x.layout) != "torch.strided":
        return "torch"
    if type(x).__module__.startswith("cupyx.scipy.sparse") and hasattr(x, "tocsr"):
        return "cupy"
    return None


def is_sparse(x: Any) -> bool:
    return sparse_library(x) is not None


@contextlib.contextmanager
def _quiet_torch_sparse() -> Iterator[None]:
    """torch warns on every new CSR tensor that its CSR support is in beta: a note for
    torch's users, not ours, who passed a sparse matrix of some format."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta",
                                category=UserWarning)
        yield


def sparse_rows(X: Any) -> Any:
    """A sparse matrix in CSR form, the format whose rows the kernel reads (converted
    once; duplicate COO entries are summed; CSR comes back as it is)."""
    if sparse_library(X) != "torch":
        return X.tocsr()
    if str(X.layout) == "torch.sparse_csr":
        return X
    with _quiet_torch_sparse():
        return X.to_sparse_csr()


def sparse_values(X: Any) -> Any:
    """The stored values of a CSR (or any SciPy/CuPy) sparse matrix, as a 1-D array."""
    return X.values() if sparse_library(X) == "torch" else X.data


def take_sparse_rows(X: Any, rows: Any) -> Any:
    """Rows ``rows`` (an index array on ``X``'s device) of a CSR matrix, still CSR.

    SciPy and CuPy index CSR rows themselves; torch cannot, so its rows are
    gathered from the index arrays (one host sync, for the new number of values).
    """
    if sparse_library(X) != "torch":
        return X[rows]
    import torch  # only reached with torch tensors

    crow, col = X.crow_indices(), X.col_indices()
    rows = rows.to(crow.dtype)
    starts = crow[rows]
    counts = crow[rows + 1] - starts
    new_crow = torch.zeros(rows.shape[0] + 1, dtype=crow.dtype, device=crow.device)
    torch.cumsum(counts, 0, out=new_crow[1:])
    nnz = int(new_crow[-1])
    at = torch.repeat_interleave(starts - new_crow[:-1], counts, output_size=nnz)
    at += torch.arange(nnz, dtype=crow.dtype, device=crow.device)
    with _quiet_torch_sparse():
        return torch.sparse_csr_tensor(new_crow, col[at], X.values()[at],
                                       size=(rows.shape[0], X.shape[1]),
                                       check_invariants=False)  # rows of a valid CSR


def torch_csr(indptr: Any, indices: Any, data: Any, shape: tuple[int, int], device: Any) -> Any:
    """A torch CSR tensor from the three arrays of a canonical SciPy CSR matrix (sorted,
    no duplicates), on ``device``."""
    import torch  # only reached when moving sparse data to torch

    with _quiet_torch_sparse():
        return torch.sparse_csr_tensor(*(torch.as_tensor(a, device=device)
                                         for a in (indptr, indices, data)), size=shape,
                                       check_invariants=False)  # SciPy's are canonical


def without_grad(x: Any) -> Any:
    """``x`` cut from torch's autograd graph (the analytic gradient needs none);
    anything else as it is."""
    if getattr(x, "requires_grad", False) and aac.is_torch_array(x):
        return x.detach()
    return x


def checked(A: Any, check: Any, *stats: Any) -> Any:
    """``A`` once ``check(*stats)`` has passed (it raises otherwise); ``stats`` are 0-d
    arrays computed from the inputs.

    Eager arrays are checked now. A Dask ``A`` comes back with the check in its
    graph: whatever is computed from it raises the same error, and nothing is
    computed here. Inside ``jax.jit`` values cannot be read, so nothing is checked.
    """
    if aac.is_dask_array(A):
        import dask.array as da  # only reached with Dask data

        index = "abcdefgh"[: A.ndim]
        pairs = [p for stat in stats for p in (stat, "")]
        return da.blockwise(_check_block, index, A, index, *pairs, check=check,
                            dtype=A.dtype, meta=A._meta)
    if any(is_lazy(stat) for stat in stats):
        return A
    check(*stats)
    return A


def _check_block(block: Any, *stats: Any, check: Any) -> Any:
    check(*stats)
    return block


def dtype_name(dtype: Any) -> str:
    """``"float32"`` for ``torch.float32``, ``np.float32``, ``array_api_strict.float32``..."""
    return str(dtype).rsplit(".", 1)[-1]


def resolve_dtype(xp: Any, dtype: Any) -> Any:
    """Turn ``"float32"``, a NumPy dtype or a namespace dtype into ``xp``'s dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        name = dtype
    elif isinstance(dtype, type) and issubclass(dtype, np.generic):
        name = np.dtype(dtype).name
    elif isinstance(dtype, np.dtype):
        name = dtype.name
    else:
        return dtype
    if name not in ("float32", "float64"):
        msg = f"`dtype` must be 'float32' or 'float64', got {dtype!r}"
        raise ValueError(msg)
    return getattr(xp, name)
