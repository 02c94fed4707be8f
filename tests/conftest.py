"""Shared fixtures: one ``bk`` (backend) fixture over every array library.

``SOFTMAXREG_BACKENDS=numpy,torch`` narrows the run; a backend that is not
installed, or a GPU backend on a machine without a GPU, is skipped with the
reason. Functions tagged with ``array_api_extra.testing.lazy_xp_function`` in
a test module run under ``jax.jit`` on JAX and with computing forbidden on
Dask.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import Backend
from hypothesis import HealthCheck, settings
from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    MultiplexedDatabase,
    ReadOnlyDatabase,
)

from softmaxreg import backends
from softmaxreg._compat import device as array_device

try:  # JAX computes in float32 unless told otherwise; the suite checks float64 too
    import jax

    jax.config.update("jax_enable_x64", True)
except ImportError:  # pragma: no cover - jax is part of the test extra
    pass

# Past failures, committed: every run replays them first (read-only here, so a run never
# edits the repository); new failures go to the usual local .hypothesis/ folder. To keep
# one, copy its entry from .hypothesis/examples into tests/hypothesis-db and commit it.
_DB = MultiplexedDatabase(
    DirectoryBasedExampleDatabase(Path(__file__).resolve().parents[1] / ".hypothesis" / "examples"),
    ReadOnlyDatabase(DirectoryBasedExampleDatabase(Path(__file__).with_name("hypothesis-db"))),
)
_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
# ci: a fresh random seed every run (printed in the header; HYPOTHESIS_SEED=N repeats it)
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=_QUIET,
                          print_blob=True, database=_DB)
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=_QUIET, database=_DB)
# fuzz: thousands of draws per property: HYPOTHESIS_PROFILE=fuzz pytest tests/test_fuzz.py
settings.register_profile("fuzz", max_examples=2000, deadline=None,
                          suppress_health_check=_QUIET, print_blob=True, database=_DB)
# mutation: the same draws every run and no example database, so a mutant's verdict depends
# neither on the seed nor on what earlier mutants made hypothesis remember
settings.register_profile("mutation", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=_QUIET, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
SEED = int(os.environ.get("HYPOTHESIS_SEED") or random.SystemRandom().randrange(2**32))


def pytest_configure(config: pytest.Config) -> None:
    # runs before hypothesis's own pytest_configure (conftest hooks are registered
    # later, so they are called first), which applies --hypothesis-seed
    if config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = SEED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` (minutes each) run only with SOFTMAXREG_SLOW=1; each marked
    one has a quicker relative that always runs."""
    if os.environ.get("SOFTMAXREG_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow (minutes: a scikit-learn reference run to tol=1e-10); "
                                   "SOFTMAXREG_SLOW=1 runs it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.getoption("hypothesis_seed", None)
    return f"hypothesis seed: {seed} (repeat this run with HYPOTHESIS_SEED={seed})"


# array_api_strict:device1 runs everything on a non-default device of the reference
# namespace: an array created without `device=` lands on the default one and fails there,
# as it would on a GPU, so those bugs show up on a CPU-only machine
ALL_BACKENDS = ("numpy", "array_api_strict", "array_api_strict:device1", "torch", "torch:cuda",
                "jax", "dask", "cupy")
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
    strict_device = name.startswith("array_api_strict:") and "array_api_strict" in \
        backends.available()
    if name not in backends.available() and not strict_device:
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


@pytest.fixture(params=_params(("numpy", "array_api_strict", "array_api_strict:device1", "torch",
                                "torch:cuda", "jax", "cupy")))
def eager_bk(request: pytest.FixtureRequest) -> Backend:
    """Backends whose values can be read without building a graph (no Dask)."""
    return _make_backend(request.param)


@pytest.fixture
def shared_data() -> Path:
    """The lesson's real data sets, when the shared folder is beside the checkout."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"the lesson's data sets are not at {DATA_DIR} (only in the dev checkout)")
    return DATA_DIR
