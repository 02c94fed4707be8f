"""softmaxreg: multinomial logistic regression written once against the array API.

The numerical core (:mod:`softmaxreg.functional`) runs unchanged on NumPy,
PyTorch, CuPy, JAX and Dask arrays; :mod:`softmaxreg.optim` holds optax-style
update steps and :mod:`softmaxreg.backends` moves data between libraries.
:class:`SoftmaxRegression` is the scikit-learn estimator built on them, and
:class:`SoftmaxRegressionCV` chooses its ``C`` and ``l1_ratio`` by cross-validation.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import backends, optim
from ._version import __version__ as __version__
from .functional import (
    cross_entropy,
    forward,
    log_softmax,
    logsumexp,
    loss_and_grad,
    one_hot,
    softmax,
)

__all__ = [
    "SoftmaxRegression",
    "SoftmaxRegressionCV",
    "backends",
    "cross_entropy",
    "forward",
    "log_softmax",
    "logsumexp",
    "loss_and_grad",
    "one_hot",
    "optim",
    "softmax",
    "unscaled_coefficients",
]

# The estimators need scikit-learn; the core needs only NumPy and array-api-compat,
# so these names are imported on first use.
_LAZY = {"SoftmaxRegression": "estimator", "SoftmaxRegressionCV": "cv",
         "unscaled_coefficients": "workflow"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        try:
            module = importlib.import_module(f".{_LAZY[name]}", __name__)
        except ImportError as exc:
            if "sklearn" not in str(exc):
                raise
            msg = (f"softmaxreg.{name} needs scikit-learn: install it with "
                   f"`pip install 'softmaxreg[sklearn]'`")
            raise ImportError(msg) from None
        value = getattr(module, name)
        globals()[name] = value
        return value
    msg = f"module 'softmaxreg' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
