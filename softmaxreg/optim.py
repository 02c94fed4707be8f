"""Update steps shaped like optax: pure ``init``/``update`` pairs.

An optimizer is a :class:`GradientTransformation`: ``init(params) -> state``
and ``update(grads, state, params) -> (updates, state)``. ``params`` and
``grads`` are tuples of arrays such as ``(W, b)``; ``updates`` are deltas that
:func:`apply_updates` adds to the params. Nothing is written in place, so the
same code runs on JAX (also under ``jax.jit``) and on every other backend.

Examples
--------
>>> import numpy as np
>>> from softmaxreg import loss_and_grad, optim
>>> X = np.array([[1.0, 2.0], [3.0, -1.0]]); y = np.array([0, 1])
>>> params = (np.zeros((2, 2)), np.zeros(2))
>>> opt = optim.adam(0.1)
>>> state = opt.init(params)
>>> for _ in range(3):
...     loss, dW, db = loss_and_grad(X, y, *params)
...     updates, state = opt.update((dW, db), state, params)
...     params = optim.apply_updates(params, updates)
>>> float(loss_and_grad(X, y, *params)[0]) < float(loss)
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ._compat import array_namespace
from ._validation import check_number

__all__ = [
    "AdamState",
    "GradientTransformation",
    "SgdState",
    "adam",
    "apply_updates",
    "sgd",
]

Params = tuple[Any, ...]


class GradientTransformation(NamedTuple):
    """An optimizer: a pair of pure functions."""

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params | None], tuple[Params, Any]]


class SgdState(NamedTuple):
    """Momentum buffers (``None`` without momentum)."""

    momentum: Params | None


class AdamState(NamedTuple):
    """Step count and the first and second moment estimates."""

    count: int
    mu: Params
    nu: Params


def apply_updates(params: Params, updates: Params) -> Params:
    """Return ``params + updates``, element by element, as new arrays."""
    if len(params) != len(updates):
        msg = f"`updates` has {len(updates)} arrays but `params` has {len(params)}"
        raise ValueError(msg)
    return tuple(p + u for p, u in zip(params, updates, strict=True))


def sgd(learning_rate: float, momentum: float = 0.0, nesterov: bool = False
        ) -> GradientTransformation:
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    With momentum ``m``: ``v <- m * v + g`` and the update is ``-lr * v``
    (or ``-lr * (g + m * v)`` with ``nesterov=True``), as in PyTorch and optax.
    """
    lr = check_number("learning_rate", learning_rate, lo=0.0)
    mom = check_number("momentum", momentum, lo=0.0, hi=1.0, open_lo=False)
    if nesterov and mom == 0.0:
        msg = "`nesterov=True` needs `momentum` > 0, got momentum=0.0"
        raise ValueError(msg)

    def init(params: Params) -> SgdState:
        if mom == 0.0:
            return SgdState(momentum=None)
        return SgdState(momentum=tuple(_zeros_like(p) for p in params))

    def update(grads: Params, state: SgdState, params: Params | None = None
               ) -> tuple[Params, SgdState]:
        if state.momentum is None:
            return tuple(-lr * g for g in grads), state
        velocity = tuple(mom * v + g for v, g in zip(state.momentum, grads, strict=True))
        if nesterov:
            step = tuple(g + mom * v for g, v in zip(grads, velocity, strict=True))
        else:
            step = velocity
        return tuple(-lr * s for s in step), SgdState(momentum=velocity)

    return GradientTransformation(init, update)


def adam(learning_rate: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
         ) -> GradientTransformation:
    """Adam (Kingma & Ba, 2015) with bias correction, as in optax and PyTorch."""
    lr = check_number("learning_rate", learning_rate, lo=0.0)
    b1 = check_number("b1", b1, lo=0.0, hi=1.0, open_lo=False)
    b2 = check_number("b2", b2, lo=0.0, hi=1.0, open_lo=False)
    eps = check_number("eps", eps, lo=0.0, open_lo=False)

    def init(params: Params) -> AdamState:
        zeros = tuple(_zeros_like(p) for p in params)
        return AdamState(count=0, mu=zeros, nu=zeros)

    def update(grads: Params, state: AdamState, params: Params | None = None
               ) -> tuple[Params, AdamState]:
        count = state.count + 1
        mu = tuple(b1 * m + (1 - b1) * g for m, g in zip(state.mu, grads, strict=True))
        nu = tuple(b2 * v + (1 - b2) * (g * g) for v, g in zip(state.nu, grads, strict=True))
        c1 = 1 - b1**count
        c2 = 1 - b2**count
        updates = []
        for m, v in zip(mu, nu, strict=True):
            xp = array_namespace(("grads", m))
            updates.append(-lr * (m / c1) / (xp.sqrt(v / c2) + eps))
        return tuple(updates), AdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init, update)


def _zeros_like(p: Any) -> Any:
    xp = array_namespace(("params", p))
    return xp.zeros_like(p)
