"""Update steps shaped like optax: pure ``init``/``update`` pairs.

An optimizer is a :class:`GradientTransformation`: ``init(params) -> state``
and ``update(grads, state, params) -> (updates, state)``. ``params`` and
``grads`` are tuples of arrays such as ``(W, b)``; ``updates`` are deltas that
:func:`apply_updates` adds to the params. Nothing is written in place, so the
same code runs on JAX (also under ``jax.jit``) and on every other backend.

``l1=(a_W, a_b)`` adds an L1 term ``sum_k a_k * |params_k|_1`` as a proximal
step: after the plain step ``z = p + u`` each entry is soft-thresholded,
``sign(z) * max(|z| - step * a, 0)``, so it lands on exactly zero where the
term wins. ``step`` is the optimizer's own step size for that entry
(``learning_rate`` for SGD; ``learning_rate / (sqrt(v_hat) + eps)`` for Adam,
the proximal step in Adam's diagonal metric). ``update`` then needs ``params``.

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


def sgd(learning_rate: float, momentum: float = 0.0, nesterov: bool = False,
        l1: tuple[float, ...] | None = None) -> GradientTransformation:
    """Stochastic gradient descent, optionally with (Nesterov) momentum and an L1 term.

    With momentum ``m``: ``v <- m * v + g`` and the update is ``-lr * v``
    (or ``-lr * (g + m * v)`` with ``nesterov=True``), as in PyTorch and optax.
    ``l1``: one strength per parameter array, applied as a proximal step
    (see the module docstring).
    """
    lr = check_number("learning_rate", learning_rate, lo=0.0)
    mom = check_number("momentum", momentum, lo=0.0, hi=1.0, open_lo=False)
    if nesterov and mom == 0.0:
        msg = "`nesterov=True` needs `momentum` > 0, got momentum=0.0"
        raise ValueError(msg)
    strengths = _check_l1(l1)

    def init(params: Params) -> SgdState:
        if mom == 0.0:
            return SgdState(momentum=None)
        return SgdState(momentum=tuple(_zeros_like(p) for p in params))

    def update(grads: Params, state: SgdState, params: Params | None = None
               ) -> tuple[Params, SgdState]:
        if state.momentum is None:
            step, new_state = grads, state
        else:
            velocity = tuple(mom * v + g for v, g in zip(state.momentum, grads, strict=True))
            if nesterov:
                step = tuple(g + mom * v for g, v in zip(grads, velocity, strict=True))
            else:
                step = velocity
            new_state = SgdState(momentum=velocity)
        updates = tuple(-lr * s for s in step)
        if strengths is not None:
            updates = _proximal_l1(params, updates, tuple(lr * a for a in strengths))
        return updates, new_state

    return GradientTransformation(init, update)


def adam(learning_rate: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
         l1: tuple[float, ...] | None = None) -> GradientTransformation:
    """Adam (Kingma & Ba, 2015) with bias correction, as in optax and PyTorch.

    ``l1``: one strength per parameter array, applied as a proximal step in
    Adam's metric (see the module docstring).
    """
    lr = check_number("learning_rate", learning_rate, lo=0.0)
    b1 = check_number("b1", b1, lo=0.0, hi=1.0, open_lo=False)
    b2 = check_number("b2", b2, lo=0.0, hi=1.0, open_lo=False)
    eps = check_number("eps", eps, lo=0.0, open_lo=False)
    strengths = _check_l1(l1)

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
        updates, steps = [], []
        for m, v in zip(mu, nu, strict=True):
            xp = array_namespace(("grads", m))
            step = lr / (xp.sqrt(v / c2) + eps)  # per entry
            updates.append(-step * (m / c1))
            steps.append(step)
        if strengths is not None:
            thresholds = tuple(a * s if a else 0.0 for a, s in zip(strengths, steps, strict=True))
            updates = _proximal_l1(params, updates, thresholds)
        return tuple(updates), AdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init, update)


def _check_l1(l1: Any) -> tuple[float, ...] | None:
    if l1 is None:
        return None
    if not isinstance(l1, (tuple, list)):
        msg = f"`l1` must be a tuple of strengths, one per parameter array, got {l1!r}"
        raise ValueError(msg)
    return tuple(check_number("l1", a, lo=0.0, open_lo=False) for a in l1)


def _proximal_l1(params: Params | None, updates: Params, thresholds: tuple[Any, ...]
                 ) -> Params:
    """Updates that land on ``soft_threshold(params + updates, thresholds)``.

    The difference ``new - p`` is added back to ``p`` by :func:`apply_updates`:
    where ``new`` is zero that sum is ``p + (-p)``, exactly zero in IEEE arithmetic.
    """
    if params is None:
        msg = "an optimizer with `l1` needs `params` in update(grads, state, params)"
        raise ValueError(msg)
    if len(thresholds) != len(params):
        msg = f"`l1` has {len(thresholds)} strengths but `params` has {len(params)} arrays"
        raise ValueError(msg)
    out = []
    for p, u, t in zip(params, updates, thresholds, strict=True):
        if isinstance(t, float) and t == 0.0:
            out.append(u)
            continue
        xp = array_namespace(("params", p))
        z = p + u
        shrunk = xp.abs(z) - t
        out.append(xp.where(shrunk > 0, xp.sign(z) * shrunk, xp.zeros_like(z)) - p)
    return tuple(out)


def _zeros_like(p: Any) -> Any:
    xp = array_namespace(("params", p))
    return xp.zeros_like(p)
