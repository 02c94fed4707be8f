"""Gradient checking that users can run on their own backend too.

Examples
--------
>>> import numpy as np
>>> from softmaxreg.testing import check_grad
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(6, 3)); y = np.array([0, 1, 2, 0, 1, 2])
>>> W = rng.normal(size=(3, 3)); b = rng.normal(size=3)
>>> check_grad(X, y, W, b, l2=0.1) < 1e-6
True
"""

from __future__ import annotations

from typing import Any

from ._compat import array_namespace, device
from .functional import loss_and_grad

__all__ = ["check_grad", "numerical_grad"]


def numerical_grad(X: Any, y: Any, W: Any, b: Any, /, *, h: float = 1e-6,
                   xp: Any = None, **loss_kwargs: Any) -> tuple[Any, Any]:
    """Central finite differences of :func:`~softmaxreg.loss_and_grad`'s loss.

    Returns ``(dW, db)`` as arrays of the inputs' namespace and device. Costs
    two loss evaluations per parameter: meant for small problems in float64.
    """
    if xp is None:
        xp = array_namespace(("X", X), ("W", W), ("b", b))

    def loss(W_: Any, b_: Any) -> float:
        return float(loss_and_grad(X, y, W_, b_, xp=xp, **loss_kwargs)[0])

    def partials(P: Any, make: Any) -> Any:
        flat = xp.reshape(P, (-1,))
        size = flat.shape[0]
        idx = xp.arange(size, device=device(P))
        out = []
        for k in range(size):
            bump = xp.reshape(xp.astype(idx == k, P.dtype) * h, P.shape)
            out.append((loss(*make(P + bump)) - loss(*make(P - bump))) / (2 * h))
        return xp.reshape(xp.asarray(out, dtype=P.dtype, device=device(P)), P.shape)

    dW = partials(W, lambda W_: (W_, b))
    db = partials(b, lambda b_: (W, b_))
    return dW, db


def check_grad(X: Any, y: Any, W: Any, b: Any, /, *, h: float = 1e-6, xp: Any = None,
               **loss_kwargs: Any) -> float:
    """Relative error between the analytic and the finite-difference gradient.

    ``||g_analytic - g_numeric|| / max(||g_numeric||, 1e-4)`` over ``W`` and
    ``b`` together; below 1e-6 in float64 for a correct gradient. The floor
    keeps a gradient that is nearly zero from turning the finite differences'
    own rounding (about ``1e-16 * |loss| / h``) into a large relative error.
    """
    if xp is None:
        xp = array_namespace(("X", X), ("W", W), ("b", b))
    _, dW, db = loss_and_grad(X, y, W, b, xp=xp, **loss_kwargs)
    nW, nb = numerical_grad(X, y, W, b, h=h, xp=xp, **loss_kwargs)
    diff = float(xp.sum((dW - nW) ** 2) + xp.sum((db - nb) ** 2)) ** 0.5
    scale = float(xp.sum(nW**2) + xp.sum(nb**2)) ** 0.5
    return diff / max(scale, 1e-4)
