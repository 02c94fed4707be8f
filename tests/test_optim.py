"""Update steps: pure, backend-agnostic, and they decrease the loss."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import assert_array

import softmaxreg as sr
from softmaxreg import optim


def _problem(seed=0, n=120, d=4, C=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, C, size=n)
    X += 1.5 * np.eye(C, d)[y]  # separable-ish so the loss has room to fall
    return X, y, np.zeros((d, C)), np.zeros(C)


def _run(opt, X, y, W, b, steps=5):
    params = (W, b)
    state = opt.init(params)
    losses = []
    for _ in range(steps):
        loss, dW, db = sr.loss_and_grad(X, y, *params, l2=0.01)
        losses.append(float(loss))
        updates, state = opt.update((dW, db), state, params)
        params = optim.apply_updates(params, updates)
    return params, losses


OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.5),
    "momentum": lambda: optim.sgd(0.3, momentum=0.9),
    "nesterov": lambda: optim.sgd(0.3, momentum=0.9, nesterov=True),
    "adam": lambda: optim.adam(0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_steps_decrease_the_loss_and_agree_with_numpy(bk, name):
    X, y, W, b = _problem()
    ref_params, ref_losses = _run(OPTIMIZERS[name](), X, y, W, b)
    a = bk.asarray
    params, losses = _run(OPTIMIZERS[name](), a(X), a(y), a(W), a(b))
    assert losses[-1] < losses[0] - 0.05, losses
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    for p, e in zip(params, ref_params, strict=True):
        assert_array(p, e, bk, dtype="float64", rtol=1e-10, atol=1e-13)


def test_sgd_matches_the_formula():
    g = (np.array([1.0, -2.0]),)
    p = (np.array([0.5, 0.5]),)
    opt = optim.sgd(0.1, momentum=0.5)
    state = opt.init(p)
    u1, state = opt.update(g, state, p)
    u2, state = opt.update(g, state, p)
    np.testing.assert_allclose(u1[0], -0.1 * g[0])
    np.testing.assert_allclose(u2[0], -0.1 * (0.5 * g[0] + g[0]))
    nest = optim.sgd(0.1, momentum=0.5, nesterov=True)
    u, _ = nest.update(g, nest.init(p), p)
    np.testing.assert_allclose(u[0], -0.1 * (g[0] + 0.5 * g[0]))


def test_adam_matches_torch():
    torch = pytest.importorskip("torch")
    X, y, W, b = _problem(seed=1)
    params, _ = _run(optim.adam(0.05, b1=0.8, b2=0.99, eps=1e-6), X, y, W, b, steps=7)
    tW = torch.zeros(W.shape, dtype=torch.float64, requires_grad=True)
    tb = torch.zeros(b.shape, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Adam([tW, tb], lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    for _ in range(7):
        topt.zero_grad()
        Z = torch.from_numpy(X) @ tW + tb
        loss = torch.nn.functional.cross_entropy(Z, torch.from_numpy(y)) + 0.005 * (tW**2).sum()
        loss.backward()
        topt.step()
    np.testing.assert_allclose(params[0], tW.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(params[1], tb.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_update_is_pure():
    """Same input, same output; the state and params passed in are left alone."""
    X, y, W, b = _problem()
    opt = optim.adam(0.1)
    params = (W + 0.1, b + 0.2)
    state = opt.init(params)
    _, dW, db = sr.loss_and_grad(X, y, *params)
    before = [a.copy() for a in (*params, *state.mu, *state.nu)]
    u1, s1 = opt.update((dW, db), state, params)
    u2, s2 = opt.update((dW, db), state, params)
    for a, c in zip((*params, *state.mu, *state.nu), before, strict=True):
        np.testing.assert_array_equal(a, c)
    for x1, x2 in zip(u1 + s1.mu + s1.nu, u2 + s2.mu + s2.nu, strict=True):
        np.testing.assert_array_equal(x1, x2)


def test_optimizers_run_under_jax_jit():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    X, y, W, b = (jnp.asarray(v) for v in _problem())
    opt = optim.adam(0.1)

    @jax.jit
    def step(params, state):
        _, dW, db = sr.loss_and_grad(X, y, *params, l2=0.01)
        updates, state = opt.update((dW, db), state, params)
        return optim.apply_updates(params, updates), state

    params, state = (W, b), opt.init((W, b))
    for _ in range(3):
        params, state = step(params, state)
    ref, _ = _run(optim.adam(0.1), *(np.asarray(v) for v in (X, y, W, b)), steps=3)
    np.testing.assert_allclose(np.asarray(params[0]), ref[0], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: optim.sgd(0.0), r"`learning_rate` must be a finite number > 0.0, got 0.0"),
        (lambda: optim.sgd(0.1, momentum=1.5), r"`momentum` must be .*< 1.0, got 1.5"),
        (lambda: optim.sgd(0.1, nesterov=True), r"`nesterov=True` needs `momentum` > 0"),
        (lambda: optim.adam(float("nan")), r"`learning_rate` must be a finite number"),
        (lambda: optim.adam(0.1, b2=1.0), r"`b2` must be .*got 1.0"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --------------------------------------------------------------------------- argument checks
# (written to kill mutmut survivors: bounds, open/closed ends and names in the messages)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: optim.sgd(0.0), r"`learning_rate` must be a finite number > 0.0, got 0.0"),
    (lambda: optim.sgd(-1.0), r"`learning_rate` must be a finite number > 0.0, got -1.0"),
    (lambda: optim.sgd(0.1, momentum=-0.1),
     r"`momentum` must be a finite number >= 0.0 and < 1.0, got -0.1"),
    (lambda: optim.sgd(0.1, momentum=1.0),
     r"`momentum` must be a finite number >= 0.0 and < 1.0, got 1.0"),
    (lambda: optim.adam(0.0), r"`learning_rate` must be a finite number > 0.0, got 0.0"),
    (lambda: optim.adam(-0.1), r"`learning_rate` must be a finite number > 0.0, got -0.1"),
    (lambda: optim.adam(0.1, b1=-0.5), r"`b1` must be a finite number >= 0.0 and < 1.0, got -0.5"),
    (lambda: optim.adam(0.1, b1=1.0), r"`b1` must be a finite number >= 0.0 and < 1.0, got 1.0"),
    (lambda: optim.adam(0.1, b1=1.5), r"`b1` must be a finite number >= 0.0 and < 1.0, got 1.5"),
    (lambda: optim.adam(0.1, b2=-0.5), r"`b2` must be a finite number >= 0.0 and < 1.0, got -0.5"),
    (lambda: optim.adam(0.1, b2=1.0), r"`b2` must be a finite number >= 0.0 and < 1.0, got 1.0"),
    (lambda: optim.adam(0.1, eps=-1e-8), r"`eps` must be a finite number >= 0.0, got -1e-08"),
])
def test_optimizer_arguments_out_of_range_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        make()


def test_nesterov_without_momentum_is_refused():
    with pytest.raises(ValueError, match=r"^`nesterov=True` needs `momentum` > 0, "
                       r"got momentum=0.0$"):
        optim.sgd(0.1, nesterov=True)


def test_closed_lower_ends_are_accepted_and_behave():
    """momentum=0, b1=0, b2=0 and eps=0 are allowed (the lower ends are closed)."""
    g = (np.array([2.0, -4.0]),)
    params = (np.zeros(2),)
    plain = optim.sgd(0.5, momentum=0.0)
    state = plain.init(params)
    assert state.momentum is None  # no buffers without momentum
    updates, _ = plain.update(g, state, params)
    np.testing.assert_array_equal(updates[0], [-1.0, 2.0])
    # b1 = b2 = 0: the moments are the last gradient and its square, so the step is -lr*sign(g)
    opt = optim.adam(0.5, b1=0.0, b2=0.0, eps=0.0)
    updates, state = opt.update(g, opt.init(params), params)
    np.testing.assert_array_equal(updates[0], [-0.5, 0.5])
    assert state.count == 1


@pytest.mark.parametrize("make", [lambda: optim.sgd(0.1, momentum=0.5),
                                  lambda: optim.sgd(0.1, momentum=0.5, nesterov=True),
                                  lambda: optim.adam(0.1)], ids=["momentum", "nesterov", "adam"])
def test_gradients_that_do_not_match_the_state_are_refused(make):
    """One gradient per parameter: zip(strict=True) refuses a missing one."""
    opt = make()  # built inside the test, so mutmut maps this test to sgd/adam
    params = (np.zeros((2, 2)), np.zeros(2))
    state = opt.init(params)
    with pytest.raises(ValueError, match="zip"):
        opt.update((np.ones((2, 2)),), state, params)


def test_non_array_params_are_refused_by_name():
    with pytest.raises(TypeError, match=r"^`params` of type list is not a supported array"):
        optim.adam(0.1).init(([0.0, 1.0],))
    with pytest.raises(TypeError, match=r"^`params` of type list is not a supported array"):
        optim.sgd(0.1, momentum=0.5).init(([0.0, 1.0],))


def test_apply_updates_refuses_a_different_number_of_arrays():
    with pytest.raises(ValueError, match=r"^`updates` has 1 arrays but `params` has 2$"):
        optim.apply_updates((np.zeros(2), np.zeros(3)), (np.ones(2),))


# --------------------------------------------------------------------------- L1 proximal steps


def _soft(z, t):
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


def test_sgd_with_l1_soft_thresholds_after_the_step():
    p = (np.array([0.5, -0.02, 0.01, -0.4]), np.array([0.3]))
    g = (np.array([1.0, -0.1, 0.2, -1.0]), np.array([2.0]))
    opt = optim.sgd(0.1, l1=(0.5, 0.0))
    updates, _ = opt.update(g, opt.init(p), p)
    new = optim.apply_updates(p, updates)
    np.testing.assert_allclose(new[0], _soft(p[0] - 0.1 * g[0], 0.05), rtol=1e-15)
    assert new[0][1] == 0.0 and new[0][2] == 0.0  # exactly zero, not 1e-17
    np.testing.assert_array_equal(new[1], p[1] - 0.1 * g[1])  # strength 0: a plain step
    # with momentum the threshold is still learning_rate * strength
    opt = optim.sgd(0.1, momentum=0.5, l1=(0.5, 0.0))
    state = opt.init(p)
    _, state = opt.update(g, state, p)
    updates, _ = opt.update(g, state, p)
    np.testing.assert_allclose(optim.apply_updates(p, updates)[0],
                               _soft(p[0] - 0.1 * 1.5 * g[0], 0.05), rtol=1e-15)


def test_l1_strengths_apply_to_their_own_arrays_in_any_order():
    """A zero strength leaves its array alone and the others are still thresholded;
    a threshold of exactly 1 is a threshold like any other."""
    p = (np.array([0.3, -2.5]), np.array([0.5, -0.02, 1.6]), np.array([0.7]))
    g = (np.array([1.0, 1.0]), np.array([1.0, -0.1, -1.0]), np.array([-3.0]))
    opt = optim.sgd(0.5, l1=(0.0, 2.0, 1.0))  # thresholds 0, 1.0 and 0.5
    new = optim.apply_updates(p, opt.update(g, opt.init(p), p)[0])
    np.testing.assert_array_equal(new[0], p[0] - 0.5 * g[0])
    np.testing.assert_array_equal(new[1], _soft(p[1] - 0.5 * g[1], 1.0))
    assert new[1][0] == new[1][1] == 0.0 and new[1][2] == pytest.approx(1.1)
    np.testing.assert_array_equal(new[2], _soft(p[2] - 0.5 * g[2], 0.5))


def test_l1_step_on_a_list_names_params():
    opt = optim.sgd(0.1, l1=(0.5,))
    with pytest.raises(TypeError, match="`params`"):
        opt.update((np.ones(2),), opt.init((np.ones(2),)), ([1.0, 2.0],))


def test_adam_with_l1_thresholds_in_its_own_metric(bk):
    rng = np.random.default_rng(4)
    p = (rng.normal(size=(3, 2)) * 0.05, rng.normal(size=2))
    g = (rng.normal(size=(3, 2)), rng.normal(size=2))
    lr, a = 0.01, 2.0
    opt = optim.adam(lr, l1=(a, 0.0))
    P, G = tuple(bk.asarray(x) for x in p), tuple(bk.asarray(x) for x in g)
    new = optim.apply_updates(P, opt.update(G, opt.init(P), P)[0])
    # first step: m_hat = g, v_hat = g^2, step per entry lr / (|g| + eps)
    step = lr / (np.abs(g[0]) + 1e-8)
    want = _soft(p[0] - step * g[0], a * step)
    assert_array(new[0], want, bk, dtype="float64", rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(sr.backends.to_numpy(new[0]) == 0, want == 0)  # exact zeros
    assert np.count_nonzero(want == 0) >= 1
    plain = optim.adam(lr)
    same_b = optim.apply_updates(P, plain.update(G, plain.init(P), P)[0])[1]
    assert_array(new[1], sr.backends.to_numpy(same_b), bk, dtype="float64", rtol=0)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: optim.sgd(0.1, l1=(-1.0, 0.0)), r"^`l1` must be a finite number >= 0.0, got -1.0$"),
    (lambda: optim.adam(0.1, l1=0.5), r"^`l1` must be a tuple of strengths, one per parameter "
                                      r"array, got 0.5$"),
    (lambda: optim.sgd(0.1, l1=(0.5,)).update((np.ones(2),), optim.SgdState(None), None),
     r"^an optimizer with `l1` needs `params` in update\(grads, state, params\)$"),
    (lambda: optim.sgd(0.1, l1=(0.5,)).update((np.ones(2), np.ones(1)), optim.SgdState(None),
                                              (np.ones(2), np.ones(1))),
     r"^`l1` has 1 strengths but `params` has 2 arrays$"),
])
def test_l1_arguments_are_checked_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()
