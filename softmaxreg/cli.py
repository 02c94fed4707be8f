"""The ``softmaxreg`` command line."""

from __future__ import annotations

import numpy as np

from . import functional as F
from . import optim


def main(argv: list[str] | None = None) -> int:
    """Train the core on a small synthetic problem with Adam and print the loss."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=300)
    X = (rng.normal(size=(300, 2)) + 2.0 * np.eye(3, 2)[y]).astype(np.float32)
    params = (np.zeros((2, 3), np.float32), np.zeros(3, np.float32))
    opt = optim.adam(0.1)
    state = opt.init(params)
    for epoch in range(50):
        loss, dW, db = F.loss_and_grad(X, y, *params, l2=1e-3)
        if epoch % 10 == 0:
            print(f"epoch {epoch:3d}  loss {float(loss):.4f}")
        updates, state = opt.update((dW, db), state, params)
        params = optim.apply_updates(params, updates)
    acc = float(np.mean(np.argmax(F.forward(X, *params), axis=1) == y))
    print(f"train accuracy {acc:.3f}")
    return 0
