"""softmaxreg: multinomial logistic regression written once against the array API.

The numerical core (:mod:`softmaxreg.functional`) runs unchanged on NumPy,
PyTorch, CuPy, JAX and Dask arrays; :mod:`softmaxreg.optim` holds optax-style
update steps and :mod:`softmaxreg.backends` moves data between libraries.
"""

from . import backends, optim
from .estimator import SoftmaxRegression
from .functional import (
    cross_entropy,
    forward,
    log_softmax,
    logsumexp,
    loss_and_grad,
    one_hot,
    softmax,
)
from .workflow import unscaled_coefficients

__version__ = "0.1.0"

__all__ = [
    "SoftmaxRegression",
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
