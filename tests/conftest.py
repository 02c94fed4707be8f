"""Shared fixtures: one ``bk`` (backend) fixture over every array library.

``SOFTMAXREG_BACKENDS=numpy,torch`` narrows the run; a backend that is not
installed, or a GPU backend on a machine without a GPU, is skipped with the
reason. Functions tagged with ``array_api_extra.testing.lazy_xp_function`` in
a test module run under ``jax.jit`` on JAX and with computing forbidden on
Dask.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import Backend
from hypothesis import HealthCheck, settings

from softmaxreg import backends
from softmaxreg._compat import device as array_device

try:  # JAX computes in float32 unless told otherwise; the suite checks float64 too
    import jax

    jax.config.update("jax_enable_x64", True)
except ImportError:  # pragma: no cover - jax is part of the test extra
    pass

settings.register_profile(
    "ci", derandomize=True, max_examples=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.register_profile(
    "dev", max_examples=100, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ALL_BACKENDS = ("numpy", "array_api_strict", "torch", "torch:cuda", "jax", "dask", "cupy")
GPU_BACKENDS = ("torch:cuda", "cupy")
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


def _selected() -> tuple[str, ...]:
    wanted = os.environ.get("SOFTMAXREG_BACKENDS")
    if not wanted:
        return ALL_BACKENDS
    names = tuple(n.strip() for n in wanted.split(",") if n.strip())
    unknown = set(names) - set(ALL_BACKENDS)
    if unknown:
        msg = f"SOFTMAXREG_BACKENDS names unknown backends {sorted(unknown)}"
        raise pytest.UsageError(msg)
    return names


def _make_backend(name: str) -> Backend:
    if name not in backends.available():
        if name in GPU_BACKENDS:
            pytest.skip(f"{name} needs a CUDA GPU, none answers on this machine")
        pytest.skip(f"backend {name} is not installed")
    probe = backends.asarray(np.zeros(1), backend=name)
    return Backend(name=name, xp=backends.namespace_of(probe), device=array_device(probe))


def _params(names: tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(n, marks=[pytest.mark.gpu] if n in GPU_BACKENDS else [], id=n)
        for n in names
        if n in _selected()
    ]


@pytest.fixture(params=_params(ALL_BACKENDS))
def bk(request: pytest.FixtureRequest) -> Any:
    """Every backend; lazy-tagged functions are jitted (JAX) or compute-free (Dask)."""
    from array_api_extra.testing import patch_lazy_xp_functions

    backend = _make_backend(request.param)
    with patch_lazy_xp_functions(request, xp=backend.xp):
        yield backend


@pytest.fixture(params=_params(("numpy", "array_api_strict", "torch", "torch:cuda", "jax",
                                "cupy")))
def eager_bk(request: pytest.FixtureRequest) -> Backend:
    """Backends whose values can be read without building a graph (no Dask)."""
    return _make_backend(request.param)


@pytest.fixture(params=_params(("numpy",)))
def numpy_bk(request: pytest.FixtureRequest) -> Backend:
    return _make_backend(request.param)


@pytest.fixture
def shared_data() -> Path:
    """The lesson's real data sets, when the shared folder is beside the checkout."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"the lesson's data sets are not at {DATA_DIR} (only in the dev checkout)")
    return DATA_DIR
