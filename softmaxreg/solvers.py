"""Training loops written once against the array API.

All solvers minimise an :class:`Objective` over a flat parameter vector
``theta = [W.ravel(), b]`` that lives in the parameters' namespace and on
their device. Only the few scalars a stopping test needs come back to the host
each iteration.

- :func:`lbfgs`: full-batch L-BFGS with a strong-Wolfe line search.
- :func:`owlqn`: full-batch OWL-QN (L-BFGS for an added L1 term), for ``l1_ratio > 0``.
- :func:`gradient_descent`: full-batch gradient descent, the lesson's method.
- :func:`minibatch`: shuffled mini-batch epochs with an optimizer from
  :mod:`softmaxreg.optim` (``sgd`` or ``adam``), each step followed by the
  proximal step of the L1 term when there is one.
- :func:`solve`: the estimator's ``solver`` name to one of these.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning  # the class scikit-learn users filter on

from . import optim
from ._compat import device, dtype_name
from .backends import to_numpy

__all__ = ["FitResult", "Objective", "gradient_descent", "lbfgs", "minibatch", "owlqn",
           "solve"]


def host_scalars(xp: Any, *values: Any) -> list[float]:
    """Bring 0-d arrays to the host as floats in one transfer (one sync on a GPU)."""
    if all(isinstance(v, (np.ndarray, np.generic)) for v in values):
        return [float(np.reshape(v, ())) for v in values]  # on the host: nothing to move
    if len(values) == 1:
        return [float(values[0])]
    stacked = xp.stack([xp.reshape(v, ()) for v in values])
    return [float(v) for v in to_numpy(stacked)]


#: ``(W, b, batch) -> (loss, dW, db)``: the objective's value and gradient on one batch
#: of rows (``None``: all of them). What a batch is (an index array, a Dask chunk number)
#: is the data plan's business; the solvers only pass them back.
Evaluate = Callable[[Any, Any, Any], tuple[Any, Any, Any]]


@dataclass
class Objective:
    """``theta -> (f, grad)`` for L2-regularised softmax regression on fixed data.

    Built by the data plan (:mod:`softmaxreg._plans`) that chose the backend;
    the solvers see only these callables and the parameters' namespace. The
    L2 strength inside ``evaluate`` is scaled as scikit-learn scales it,
    ``l2 = 1 / (C * sum(sample_weight))``, and the loss is normalised by the
    sum of the row weights, so the objective equals scikit-learn's.

    ``l1`` is the strength of an L1 term ``l1 * sum|W|`` (the bias is never
    penalised). It is not inside ``evaluate``, which stays smooth: :func:`owlqn`
    and the optimizers' proximal steps handle it.
    """

    evaluate: Evaluate
    batches: Callable[[np.random.Generator | None, int | None], list[Any]]
    n_features: int
    n_classes: int
    fit_intercept: bool
    params_xp: Any  # namespace of the parameters (NumPy when the data is on Dask)
    #: ``theta -> (f, flat grad)`` compiled as a whole (JAX), or None
    flat: Callable[[Any], tuple[Any, Any]] | None = None
    l1: float = 0.0

    @property
    def size(self) -> int:
        return (self.n_features + 1) * self.n_classes

    def unpack(self, theta: Any) -> tuple[Any, Any]:
        d, C = self.n_features, self.n_classes
        W = self.params_xp.reshape(theta[: d * C], (d, C))
        b = theta[d * C :]
        return W, b

    def pack(self, W: Any, b: Any) -> Any:
        params_xp = self.params_xp
        return params_xp.concat([params_xp.reshape(W, (-1,)), b])

    def l1_weights(self, theta: Any) -> Any:
        """The L1 strength of each entry of ``theta``: ``l1`` on ``W``, 0 on the bias."""
        xp, dev = self.params_xp, device(theta)
        n_w = self.n_features * self.n_classes
        return xp.concat([xp.full((n_w,), self.l1, dtype=theta.dtype, device=dev),
                          xp.zeros((self.n_classes,), dtype=theta.dtype, device=dev)])

    def penalty(self, W: Any) -> Any:
        """The L1 term ``l1 * sum|W|`` as a 0-d array."""
        return self.l1 * self.params_xp.sum(self.params_xp.abs(W))

    def grads(self, W: Any, b: Any, batch: Any = None) -> tuple[Any, Any, Any]:
        """Loss, dW, db at ``(W, b)`` on all rows or on one batch from :attr:`batches`."""
        loss, dW, db = self.evaluate(W, b, batch)
        if not self.fit_intercept:
            db = self.params_xp.zeros_like(db)
        return loss, dW, db

    def __call__(self, theta: Any) -> tuple[Any, Any]:
        """Objective and flat gradient on all rows."""
        if self.flat is not None:
            return self.flat(theta)
        W, b = self.unpack(theta)
        loss, dW, db = self.grads(W, b)
        return loss, self.pack(dW, db)


@dataclass
class FitResult:
    theta: Any
    n_iter: int
    converged: bool
    loss_curve: list[float] = field(default_factory=list)
    val_curve: list[float] = field(default_factory=list)
    message: str = ""
    state: Any = None  # the optimizer's state after the last step (first-order solvers)


class Progress:
    """Prints iteration lines at a sensible rate when ``verbose`` is on.

    ``verbose=1`` prints the first iteration, then at most one line every
    ``interval`` seconds, and the last; ``verbose>=2`` prints every iteration.
    """

    def __init__(self, verbose: int, name: str, *, interval: float = 1.0, stream: Any = None):
        self.verbose = int(verbose)
        self.name = name
        self.interval = interval
        self.stream = stream or sys.stdout
        self._last = -math.inf
        self._last_it = -1
        self._start = time.perf_counter()

    def __call__(self, it: int, loss: float, val: float | None = None, *,
                 final: bool = False) -> None:
        if not self.verbose:
            return
        now = time.perf_counter()
        if final and it == self._last_it:
            return  # that line is already on screen
        if self.verbose < 2 and not final and it > 1 and now - self._last < self.interval:
            return
        self._last, self._last_it = now, it
        extra = "" if val is None else f"  val_loss {val:.6g}"
        print(f"[{self.name}] iter {it:4d}  loss {loss:.6g}{extra}  "
              f"({now - self._start:.1f}s)", file=self.stream, flush=True)


class Patience:
    """Stops after ``patience`` checks without an improvement of more than ``tol``,
    and keeps the parameters of the best check.

    The one stopping rule of the first-order solvers (on the epoch's training
    loss) and of early stopping (on the validation loss, any solver).
    """

    def __init__(self, patience: int, tol: float):
        self.patience = patience
        self.tol = tol
        self.best = math.inf
        self.best_theta: Any = None
        self.bad = 0

    def update(self, value: float, theta: Callable[[], Any]) -> bool:
        """Record ``value``; ``theta()`` is called only when it is the best so far.
        True when it is time to stop."""
        if value < self.best - self.tol:
            self.best, self.best_theta, self.bad = value, theta(), 0
        else:
            self.bad += 1
        return self.bad >= self.patience


class EarlyStopper(Patience):
    """:class:`Patience` on a validation loss computed from the parameters."""

    def __init__(self, val_loss: Callable[[Any], float], patience: int, tol: float):
        super().__init__(patience, tol)
        self.val_loss = val_loss

    def __call__(self, theta: Any) -> tuple[float, bool]:
        val = self.val_loss(theta)
        return val, self.update(val, lambda: theta)


# --------------------------------------------------------------------------- L-BFGS


def lbfgs(obj: Objective, theta: Any, *, max_iter: int, tol: float, history: int = 10,
          max_ls: int = 50, progress: Progress | None = None,
          early: EarlyStopper | None = None) -> FitResult:
    """Minimise ``obj`` with L-BFGS and a strong-Wolfe line search (Nocedal & Wright 3.5/3.6).

    Stops when ``max(|grad|) <= tol`` (the projected-gradient test that
    scikit-learn's ``lbfgs`` applies, with the same meaning of ``tol``), or
    when an iteration improves the objective by less than ``64 * eps``
    relative to its size, or when the line search can make no progress.
    History vectors and the two-loop recursion stay on the parameters'
    device; each function evaluation brings back two floats.
    """
    xp = obj.params_xp
    # scikit-learn's threshold, in float64 terms also for float32 data: a float32
    # epsilon (1.2e-7 * 64) would stop before the objective is right to 1e-6
    ftol = 64 * float(np.finfo(np.float64).eps)
    # the objective's own rounding: below it the line search cannot tell steps apart
    eps = float(np.finfo(np.dtype(dtype_name(theta.dtype))).eps)
    last_gain = math.inf
    f_arr, g = obj(theta)
    f, gmax = host_scalars(xp, f_arr, xp.max(xp.abs(g)))
    s_hist: list[Any] = []
    y_hist: list[Any] = []
    rho_hist: list[Any] = []
    curve = [f]
    vals: list[float] = []
    converged = gmax <= tol
    message = "gradient below tol" if converged else ""
    it = 0
    while not converged and it < max_iter:
        it += 1
        d = _two_loop(g, s_hist, y_hist, rho_hist, xp=xp)
        gtd, g_l1 = host_scalars(xp, _dot(xp, g, d), xp.sum(xp.abs(g)))
        if not gtd < 0:  # not a descent direction (rounding): restart from steepest descent
            s_hist.clear(), y_hist.clear(), rho_hist.clear()
            d = -g
            gtd = -float(_dot(xp, g, g))
        # first step: length 1 in the max norm sense, as scipy and torch do
        t0 = min(1.0, 1.0 / max(g_l1, 1e-30)) if not s_hist else 1.0
        f_new, g_new, t = _strong_wolfe(obj, theta, t0, d, f, g, gtd, max_ls=max_ls, eps=eps)
        if t == 0.0 or not f_new <= f:
            # a stale curvature pair can spoil the direction: retry once from steepest
            # descent, unless the objective had already stopped moving at its precision
            if s_hist and last_gain > 16 * eps:
                s_hist.clear(), y_hist.clear(), rho_hist.clear()
                it -= 1
                continue
            message = "line search made no progress (objective at its floating-point precision)"
            converged = True
            break
        step = t * d
        theta = theta + step
        yk = g_new - g
        ys = _dot(xp, yk, step)
        ys_h, yy, ss, gmax = host_scalars(xp, ys, _dot(xp, yk, yk), _dot(xp, step, step),
                                          xp.max(xp.abs(g_new)))
        _keep_pair(s_hist, y_hist, rho_hist, step, yk, ys, ys_h, yy * ss, history)
        f_old, f, g = f, f_new, g_new
        last_gain = (f_old - f) / max(abs(f_old), 1e-300)
        curve.append(f)
        converged, message = _end_of_iteration(
            it, f_old, f, theta, gmax <= tol, "gradient below tol", early=early, vals=vals,
            progress=progress, ftol=ftol, converged=converged, message=message)
    if progress:
        progress(it, f, vals[-1] if vals else None, final=True)
    return FitResult(theta, it, converged, curve, vals, message or "max_iter reached")


def _dot(xp: Any, a: Any, b: Any) -> Any:
    """``sum(a * b)`` of two flat parameter vectors, as a 0-d array on their device: one
    ``vecdot`` call where the namespace has it (0.7 us against 4.2 us on small NumPy
    vectors, where L-BFGS makes ~40 such products an iteration)."""
    vecdot = getattr(xp, "vecdot", None)
    return vecdot(a, b) if vecdot is not None else xp.sum(a * b)


def _keep_pair(s_hist: list[Any], y_hist: list[Any], rho_hist: list[Any], step: Any, yk: Any,
               ys: Any, ys_h: float, yy_ss: float, history: int) -> None:
    """Add the curvature pair ``(step, yk)`` to the history (the oldest goes when it is
    full), only when its curvature ``ys_h = yk . step`` is positive enough."""
    if ys_h > 1e-10 * math.sqrt(yy_ss):
        if len(s_hist) == history:
            s_hist.pop(0), y_hist.pop(0), rho_hist.pop(0)
        s_hist.append(step)
        y_hist.append(yk)
        rho_hist.append(1.0 / ys)


def _end_of_iteration(it: int, f_old: float, f: float, theta: Any, small_gradient: bool,
                      gradient_message: str, *, early: Any, vals: list[float], progress: Any,
                      ftol: float, converged: bool, message: str) -> tuple[bool, str]:
    """Early stopping on validation data, the progress line, and the two convergence
    tests (a small gradient, then a relative improvement below ``ftol``)."""
    val = None
    if early is not None:
        val, stop = early(theta)
        vals.append(val)
        if stop:
            converged, message = True, "validation loss stopped improving"
    if progress:
        progress(it, f, val)
    if small_gradient:
        converged, message = True, gradient_message
    elif (f_old - f) <= ftol * max(abs(f_old), abs(f), 1.0):
        converged, message = True, "relative improvement below 64 * eps"
    return converged, message


def _two_loop(g: Any, s_hist: list[Any], y_hist: list[Any], rho_hist: list[Any], *,
              xp: Any) -> Any:
    """``-H @ g`` for the L-BFGS inverse Hessian estimate, on the device, no host syncs."""
    q = g
    alphas = []
    for s, y, rho in zip(reversed(s_hist), reversed(y_hist), reversed(rho_hist), strict=True):
        a = rho * _dot(xp, s, q)
        alphas.append(a)
        q = q - a * y
    if s_hist:
        s, y = s_hist[-1], y_hist[-1]
        q = q * (_dot(xp, s, y) / _dot(xp, y, y))
    for s, y, rho, a in zip(s_hist, y_hist, rho_hist, reversed(alphas), strict=True):
        beta = rho * _dot(xp, y, q)
        q = q + (a - beta) * s
    return -q


def _cubic_min(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
               bounds: tuple[float, float] | None = None) -> float:
    """Minimiser of the cubic through two points with slopes, clipped to ``bounds``."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    if x1 == x2:
        return (lo + hi) / 2
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_sq = d1 * d1 - g1 * g2
    if d2_sq < 0 or not math.isfinite(d2_sq):
        return (lo + hi) / 2
    d2 = math.sqrt(d2_sq)
    if x1 <= x2:
        den = g2 - g1 + 2 * d2
        pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / den) if den else (lo + hi) / 2
    else:
        den = g1 - g2 + 2 * d2
        pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / den) if den else (lo + hi) / 2
    if not math.isfinite(pos):
        return (lo + hi) / 2
    return min(max(pos, lo), hi)


def _strong_wolfe(obj: Objective, x: Any, t: float, d: Any, f: float, g: Any, gtd: float, *,
                  c1: float = 1e-4, c2: float = 0.9, max_ls: int = 50, eps: float = 2.2e-16
                  ) -> tuple[float, Any, float]:
    """Step ``t`` along ``d`` meeting the strong Wolfe conditions; returns ``(f, g, t)``.

    Brackets an acceptable step, then zooms in with safeguarded cubic
    interpolation. The step returned is always the lowest objective seen, so
    the result never increases ``f`` (``t = 0`` when nothing was better). The
    zoom gives up once two trial values in a row differ from ``f`` by no more
    than the rounding of the objective (``eps`` is the dtype's epsilon).
    """
    xp = obj.params_xp
    d_norm = float(xp.max(xp.abs(d)))

    def evaluate(step: float) -> tuple[float, Any, float]:
        f_arr, g_arr = obj(x + step * d)
        fv, gv = host_scalars(xp, f_arr, _dot(xp, g_arr, d))
        return fv, g_arr, gv

    f_new, g_new, gtd_new = evaluate(t)
    n_ls = 1
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    while n_ls < max_ls:
        if f_new > f + c1 * t * gtd or (n_ls > 1 and f_new >= f_prev) or not math.isfinite(f_new):
            bracket = [t_prev, t]
            b_f, b_g, b_gtd = [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, b_f, b_g, b_gtd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if gtd_new >= 0:
            bracket = [t_prev, t]
            b_f, b_g, b_gtd = [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                            bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new, gtd_new = evaluate(t)
        n_ls += 1
    else:
        bracket, b_f, b_g, b_gtd = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]

    if not math.isfinite(b_f[-1]):  # overflowed: shrink towards the start point
        b_f[-1] = math.inf
    low, high = (0, 1) if b_f[0] <= b_f[-1] else (1, 0)
    insufficient = False
    flat = 0
    while not done and n_ls < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < 1e-12:
            break
        if math.isfinite(b_f[1]) and math.isfinite(b_f[0]):
            t = _cubic_min(bracket[0], b_f[0], b_gtd[0], bracket[1], b_f[1], b_gtd[1])
        else:
            t = (bracket[0] + bracket[1]) / 2
        hi_b, lo_b = max(bracket), min(bracket)
        margin = 0.1 * (hi_b - lo_b)
        if min(hi_b - t, t - lo_b) < margin:
            if insufficient or t >= hi_b or t <= lo_b:
                t = hi_b - margin if abs(t - hi_b) < abs(t - lo_b) else lo_b + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new, gtd_new = evaluate(t)
        n_ls += 1
        flat = flat + 1 if abs(f_new - f) <= 4 * eps * abs(f) else 0
        if flat >= 2:
            break
        if f_new > f + c1 * t * gtd or f_new >= b_f[low] or not math.isfinite(f_new):
            bracket[high], b_f[high], b_g[high], b_gtd[high] = t, f_new, g_new, gtd_new
            if not math.isfinite(f_new):
                b_f[high] = math.inf
            low, high = (0, 1) if b_f[0] <= b_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], b_f[high] = bracket[low], b_f[low]
                b_g[high], b_gtd[high] = b_g[low], b_gtd[low]
            bracket[low], b_f[low], b_g[low], b_gtd[low] = t, f_new, g_new, gtd_new
    if b_f[low] > f:
        return f, g, 0.0
    return b_f[low], b_g[low], bracket[low]


# --------------------------------------------------------------------------- OWL-QN


def owlqn(obj: Objective, theta: Any, *, max_iter: int, tol: float, history: int = 10,
          max_ls: int = 50, progress: Progress | None = None,
          early: EarlyStopper | None = None) -> FitResult:
    """Minimise ``obj + obj.l1 * sum|W|`` with OWL-QN (Andrew & Gao, ICML 2007).

    L-BFGS on the smooth part, steered by the *pseudo-gradient* (the
    subgradient of least norm, which is zero exactly at the optimum): the
    two-loop direction is turned away from coordinates where it disagrees
    with ``-pseudo-gradient``, and every trial point of the backtracking
    (Armijo) line search is projected onto the orthant of the current point, so
    a coordinate that would cross zero stops at exactly zero. That is where
    the exact zeros of the L1 optimum come from. The bias is not penalised
    and not projected.

    Stops when ``max(|pseudo-gradient|) <= tol`` (the meaning of ``tol`` in
    :func:`lbfgs`, which is the same test without the L1 term), when an
    iteration improves the objective by less than ``64 * eps`` relative to its
    size, or when the line search can make no progress. Everything stays on
    the parameters' device; the host reads the same few floats per iteration
    and per function evaluation as in :func:`lbfgs`. The loss curve holds the
    whole objective, L1 term included.
    """
    xp = obj.params_xp
    ftol = 64 * float(np.finfo(np.float64).eps)
    eps = float(np.finfo(np.dtype(dtype_name(theta.dtype))).eps)
    lam = obj.l1_weights(theta)
    penalised = lam > 0
    zero = xp.zeros_like(theta)

    def total(x: Any) -> tuple[Any, Any]:
        f, g = obj(x)
        return f + xp.sum(lam * xp.abs(x)), g

    F_arr, g = total(theta)
    pg = _pseudo_gradient(theta, g, lam, xp=xp)
    F, pgmax = host_scalars(xp, F_arr, xp.max(xp.abs(pg)))
    s_hist: list[Any] = []
    y_hist: list[Any] = []
    rho_hist: list[Any] = []
    curve = [F]
    vals: list[float] = []
    converged = pgmax <= tol
    message = "pseudo-gradient below tol" if converged else ""
    last_gain = math.inf
    it = 0
    while not converged and it < max_iter:
        it += 1
        d = _two_loop(pg, s_hist, y_hist, rho_hist, xp=xp)
        d = xp.where(penalised & (d * pg >= 0), zero, d)  # only where -pg points too
        dd, pg_l1 = host_scalars(xp, _dot(xp, pg, d), xp.sum(xp.abs(pg)))
        if not dd < 0:  # rounding, or nothing left: restart from the steepest descent
            s_hist.clear(), y_hist.clear(), rho_hist.clear()
            d = -pg
            dd = -float(_dot(xp, pg, pg))
        # the orthant explored: the current signs, and for zeros the side -pg points to
        orthant = xp.where(theta != 0, xp.sign(theta), -xp.sign(pg))
        t = min(1.0, 1.0 / max(pg_l1, 1e-30)) if not s_hist else 1.0
        new = _orthant_backtracking(total, theta, d, orthant, penalised, F, pg, t,
                                    max_ls=max_ls, eps=eps, xp=xp)
        if new is None:
            if s_hist and last_gain > 16 * eps:  # a stale pair: once more from steepest
                s_hist.clear(), y_hist.clear(), rho_hist.clear()
                it -= 1
                continue
            message = "line search made no progress (objective at its floating-point precision)"
            converged = True
            break
        theta_new, F_new, g_new = new
        step = theta_new - theta
        yk = g_new - g  # curvature of the smooth part only
        pg = _pseudo_gradient(theta_new, g_new, lam, xp=xp)
        ys = _dot(xp, yk, step)
        ys_h, yy, ss, pgmax = host_scalars(xp, ys, _dot(xp, yk, yk), _dot(xp, step, step),
                                           xp.max(xp.abs(pg)))
        _keep_pair(s_hist, y_hist, rho_hist, step, yk, ys, ys_h, yy * ss, history)
        theta, g = theta_new, g_new
        F_old, F = F, F_new
        last_gain = (F_old - F) / max(abs(F_old), 1e-300)
        curve.append(F)
        converged, message = _end_of_iteration(
            it, F_old, F, theta, pgmax <= tol, "pseudo-gradient below tol", early=early,
            vals=vals, progress=progress, ftol=ftol, converged=converged, message=message)
    if progress:
        progress(it, F, vals[-1] if vals else None, final=True)
    return FitResult(theta, it, converged, curve, vals, message or "max_iter reached")


def _pseudo_gradient(x: Any, g: Any, lam: Any, *, xp: Any) -> Any:
    """The least-norm subgradient of ``f + sum(lam * |x|)`` from the smooth gradient ``g``.

    Away from zero it is ``g + lam * sign(x)``; at zero it is the one-sided
    derivative that points downhill, or 0 when ``|g| <= lam`` (zero is optimal
    in that coordinate).
    """
    right, left = g + lam, g - lam  # derivatives as x_j leaves zero to the right / left
    at_zero = xp.where(right < 0, right, xp.where(left > 0, left, xp.zeros_like(g)))
    return xp.where(x > 0, right, xp.where(x < 0, left, at_zero))


def _orthant_backtracking(total: Callable[[Any], tuple[Any, Any]], x: Any, d: Any,
                          orthant: Any, penalised: Any, F: float, pg: Any, t: float, *,
                          max_ls: int, eps: float, xp: Any, c1: float = 1e-4
                          ) -> tuple[Any, float, Any] | None:
    """Halve ``t`` until the projected point ``P(x + t d)`` decreases the objective enough.

    ``P`` sets to zero each penalised coordinate that left ``orthant``. The
    test is Andrew & Gao's Armijo condition on the pseudo-gradient,
    ``F(new) <= F + c1 * pg . (new - x)``. Gives up once two trial values in a
    row differ from ``F`` by no more than its rounding (``eps`` is the dtype's
    epsilon: in float32 near the optimum every halving would otherwise cost a
    pass over the data for nothing) and returns the lowest point seen; None
    when no trial point decreased ``F`` at all.
    """
    zero = xp.zeros_like(x)
    best = None
    flat = 0
    for _ in range(max_ls):
        trial = x + t * d
        trial = xp.where(penalised & (xp.sign(trial) != orthant), zero, trial)
        F_arr, g = total(trial)
        F_new, decrease = host_scalars(xp, F_arr, xp.sum(pg * (trial - x)))
        if math.isfinite(F_new) and F_new <= F + c1 * decrease:
            return trial, F_new, g
        if math.isfinite(F_new) and F_new < F and (best is None or F_new < best[1]):
            best = (trial, F_new, g)
        flat = flat + 1 if abs(F_new - F) <= 4 * eps * abs(F) else 0
        if flat >= 2:
            break
        t *= 0.5
    return best


# --------------------------------------------------------------------------- first order


def gradient_descent(obj: Objective, theta: Any, *, learning_rate: float, max_iter: int,
                     tol: float, n_iter_no_change: int = 5, progress: Progress | None = None,
                     early: EarlyStopper | None = None) -> FitResult:
    """Full-batch gradient descent: ``theta -= learning_rate * grad`` each epoch.

    Stops when the objective has not improved by ``tol`` for
    ``n_iter_no_change`` epochs in a row (or, with early stopping, when the
    validation loss has not).
    """
    opt = optim.sgd(learning_rate, l1=(obj.l1, 0.0) if obj.l1 else None)
    return minibatch(obj, theta, optimizer=opt, batch_size=None,
                     max_iter=max_iter, tol=tol, n_iter_no_change=n_iter_no_change,
                     rng=None, progress=progress, early=early)


def minibatch(obj: Objective, theta: Any, *, optimizer: optim.GradientTransformation,
              batch_size: int | None, max_iter: int, tol: float, n_iter_no_change: int,
              rng: np.random.Generator | None, progress: Progress | None = None,
              early: EarlyStopper | None = None, state: Any = None) -> FitResult:
    """Epochs of shuffled mini-batches (full batch when ``batch_size`` is None).

    The loss curve holds the mean training objective of each epoch's batches
    (the L1 term included). ``state`` continues from an optimizer state that an
    earlier call returned in :attr:`FitResult.state` (``partial_fit``); None
    starts afresh.
    """
    params = obj.unpack(theta)
    if state is None:
        state = optimizer.init(params)
    curve: list[float] = []
    vals: list[float] = []
    # tol=0 never stops on the training loss (scikit-learn's tol=None)
    patience = Patience(n_iter_no_change, tol) if early is None and tol > 0 else None
    converged = stop = False  # stop: the loop ends (early stopping, patience, divergence)
    message = "max_iter reached"
    epoch = 0
    for epoch in range(1, max_iter + 1):
        batches = obj.batches(rng, batch_size)
        total = None
        for batch in batches:
            loss, dW, db = obj.grads(*params, batch)
            if obj.l1:
                loss = loss + obj.penalty(params[0])
            total = loss if total is None else total + loss
            updates, state = optimizer.update((dW, db), state, params)
            params = optim.apply_updates(params, updates)
        epoch_loss = float(total) / len(batches)
        curve.append(epoch_loss)
        if not math.isfinite(epoch_loss):
            msg = (f"the training loss became {epoch_loss} at epoch {epoch}: the learning rate "
                   f"is too large for this data; lower `learning_rate`")
            raise FloatingPointError(msg)
        val = None
        if early is not None:
            val, stop = early(obj.pack(*params))
            vals.append(val)
            if stop:
                converged, message = True, "validation loss stopped improving"
        elif patience is not None and patience.update(epoch_loss, lambda p=params: p):
            converged = stop = True
            message = f"loss improved by less than tol for {patience.bad} epochs"
            params = patience.best_theta  # the best epoch's weights, not the last
            # no epoch did better than the first, and the loss grew: not a noisy plateau
            if min(curve) == curve[0] and epoch_loss > 1.1 * curve[0]:
                converged = False  # diverged: a warning, the first epoch's weights
                message = (f"{DIVERGED} from {curve[0]:.6g} to {epoch_loss:.6g} "
                           f"in {epoch} epochs and never fell below its first value: "
                           f"`learning_rate` is too large for this data; lower it")
        if progress:
            progress(epoch, epoch_loss, val)
        if stop:
            break
    if progress:
        progress(epoch, curve[-1] if curve else math.nan, vals[-1] if vals else None,
                 final=True)
    # with tol=0 no stopping test is asked for, so reaching max_iter is no failure
    converged = converged or (early is None and tol == 0 and max_iter > 0)
    return FitResult(obj.pack(*params), epoch, converged, curve, vals, message, state)


def solve(obj: Objective, theta: Any, *, solver: str, learning_rate: float,
          batch_size: int | None, max_iter: int, tol: float, n_iter_no_change: int,
          rng: np.random.Generator | None, progress: Progress | None = None,
          early: EarlyStopper | None = None, state: Any = None) -> FitResult:
    """Run the estimator's ``solver`` (``"lbfgs"``, ``"gd"``, ``"sgd"``, ``"adam"``) on ``obj``.

    ``"lbfgs"`` is :func:`owlqn` when the objective has an L1 term; the
    first-order solvers take a proximal step for it after each update.
    """
    if solver == "lbfgs":
        method = owlqn if obj.l1 else lbfgs
        return method(obj, theta, max_iter=max_iter, tol=tol, progress=progress, early=early)
    if solver == "gd":
        return gradient_descent(obj, theta, learning_rate=learning_rate, max_iter=max_iter,
                                tol=tol, n_iter_no_change=n_iter_no_change, progress=progress,
                                early=early)
    l1 = (obj.l1, 0.0) if obj.l1 else None
    opt = (optim.sgd(learning_rate, l1=l1) if solver == "sgd"
           else optim.adam(learning_rate, l1=l1))
    return minibatch(obj, theta, optimizer=opt, batch_size=batch_size, max_iter=max_iter,
                     tol=tol, n_iter_no_change=n_iter_no_change, rng=rng, progress=progress,
                     early=early, state=state)


#: how :func:`minibatch` reports a learning rate so large that no epoch beat the first
DIVERGED = "the training loss rose"


def warn_if_not_converged(result: FitResult, solver: str, max_iter: int) -> None:
    if not result.converged:
        msg = (f"solver {solver!r}: {result.message}"
               if result.message.startswith(DIVERGED)
               else f"solver {solver!r} stopped at max_iter={max_iter} before converging; "
                    f"increase `max_iter` or loosen `tol`")
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
