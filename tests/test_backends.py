"""Moving data between backends and back."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import assert_array

from softmaxreg import backends


def test_available_lists_working_backends_only():
    names = backends.available()
    assert names[0] == "numpy"
    assert set(names) <= {"numpy", "array_api_strict", "torch", "torch:cuda", "jax", "dask",
                          "cupy"}
    torch = pytest.importorskip("torch")
    assert ("torch:cuda" in names) == torch.cuda.is_available()


@pytest.mark.parametrize("dtype", [None, "float32", "float64"])
def test_asarray_and_to_numpy_round_trip(bk, dtype):
    data = np.arange(12, dtype=np.float64).reshape(4, 3) / 7
    x = backends.asarray(data, backend=bk.name, dtype=dtype)
    assert_array(x, data, bk, dtype=dtype or "float64", rtol=1e-6 if dtype == "float32" else 0)
    back = backends.to_numpy(x)
    assert isinstance(back, np.ndarray)


def test_asarray_from_pandas_and_between_backends(bk):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    x = backends.asarray(frame, backend=bk.name)
    assert_array(x, frame.to_numpy(), bk, dtype="float64")
    torch = pytest.importorskip("torch")
    t = backends.asarray(x, backend="torch")
    assert isinstance(t, torch.Tensor)
    assert t.device == x.device if bk.library == "torch" else t.device.type == "cpu"
    np.testing.assert_array_equal(backends.to_numpy(t), frame.to_numpy())


def test_device_in_the_backend_name():
    torch = pytest.importorskip("torch")
    x = backends.asarray(np.ones(3), backend="torch:meta")
    assert x.device == torch.device("meta")
    assert backends.parse_backend("torch:cuda") == ("torch", "cuda")


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: backends.asarray([1.0], backend="tensorflow"), ValueError,
         r"unknown `backend` 'tensorflow'; choose one of numpy, "),
        (lambda: backends.asarray([1.0], backend=3), TypeError, r"`backend` must be a string"),
        (lambda: backends.parse_backend("torch:cuda", "cpu"), ValueError,
         r"`backend` names device 'cuda' but `device` is 'cpu'"),
        (lambda: backends.asarray([1.0], dtype="int8"), ValueError,
         r"`dtype` must be 'float32' or 'float64', got 'int8'"),
    ],
)
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_missing_backend_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("cupy"):
            raise ImportError("no cupy")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'softmaxreg\[cupy\]'"):
        backends.asarray([1.0], backend="cupy")


def test_core_needs_only_numpy_and_array_api_compat():
    """The functional core imports without scikit-learn; the estimator says what to install."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import numpy as np, softmaxreg as sr\n"
        "loss, dW, db = sr.loss_and_grad(np.ones((2, 2)), np.array([0, 1]), np.zeros((2, 2)),"
        " np.zeros(2))\n"
        "assert abs(float(loss) - np.log(2)) < 1e-12\n"
        "try:\n"
        "    sr.SoftmaxRegression\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "needs scikit-learn: install it with `pip install 'softmaxreg[sklearn]'`" in done.stdout
