"""The shared L-BFGS computes what torch.optim.LBFGS computes, and drives both backends alike."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import get_backend

from common.core import lbfgs


def rosenbrock(x: np.ndarray) -> tuple[float, np.ndarray]:
    """A classic non-quadratic test function in any even dimension, and its gradient."""
    a, b = x[0::2], x[1::2]
    f = float(np.sum(100 * (b - a**2) ** 2 + (1 - a) ** 2))
    g = np.zeros_like(x)
    g[0::2] = -400 * a * (b - a**2) - 2 * (1 - a)
    g[1::2] = 200 * (b - a**2)
    return f, g


@pytest.mark.parametrize("lr,history", [(1.0, 100), (0.5, 3)])
def test_every_iteration_matches_torch_optim_lbfgs(lr: float, history: int) -> None:
    get_backend("torch")
    import torch

    x0 = np.random.default_rng(0).uniform(-1.5, 1.5, 10)
    p = torch.tensor(x0, requires_grad=True)
    reference = torch.optim.LBFGS([p], lr=lr, max_iter=1, history_size=history)

    def closure():
        reference.zero_grad()
        a, b = p[0::2], p[1::2]
        f = torch.sum(100 * (b - a**2) ** 2 + (1 - a) ** 2)
        f.backward()
        return f

    ours, x = lbfgs.LBFGS(lr=lr, history_size=history), x0.copy()
    for _ in range(40):
        reference.step(closure)
        x = ours.step(x, rosenbrock(x)[1])
        np.testing.assert_allclose(x, p.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_it_minimizes_a_quadratic_then_stops_where_torch_stops() -> None:
    """From |x| = 1 to 1e-5 in 20 iterations; then the directional derivative is under tolerance_change (1e-9)
    and, like torch.optim.LBFGS, it stops moving."""
    A = np.diag(np.arange(1.0, 11.0))
    x, opt = np.ones(10), lbfgs.LBFGS()
    for _ in range(20):
        x = opt.step(x, A @ x)
    assert np.abs(x).max() < 2e-5
    assert np.array_equal(opt.step(x, A @ x), x)


def test_state_round_trips_and_continues_identically() -> None:
    x, a = np.random.default_rng(1).uniform(-1, 1, 6), lbfgs.LBFGS(history_size=4)
    for _ in range(7):
        x = a.step(x, rosenbrock(x)[1])
    b = lbfgs.LBFGS(history_size=4)
    b.load_state(a.state())
    y = x.copy()
    for _ in range(5):
        x, y = a.step(x, rosenbrock(x)[1]), b.step(y, rosenbrock(y)[1])
    np.testing.assert_array_equal(x, y)


def test_a_converged_point_is_left_where_it_is() -> None:
    x = np.ones(4)
    assert np.array_equal(lbfgs.LBFGS().step(x, np.zeros(4)), x)
