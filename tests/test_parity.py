"""The backends are the same program: every check of `nst parity`, each its own test for every pair of backends
(the command itself: tests/test_parity_command.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import COMPARED, get_backend, pair_id

import common
from common.jobs import images, samples
from common.studies import envelope, parity, trajectories
from common.studies.recipe_rate import RECIPE_STEPS

# nst parity's default inputs: the bundled sample images at 48x64. (On some inputs float32 Adam runs from the
# content image drift further than 1e-3 from exact arithmetic in both backends: tests/test_pitfalls.py.)
SIZE = (48, 64)
CONTENT = images.load_image(samples.sample_path(samples.CONTENT))
STYLE = images.load_image(samples.sample_path(samples.STYLE))


REFERENCES: dict = {}  # by pair: the float32 rows' float64 runs and envelopes, measured once by the checks fixture
RUNS: dict = {}  # each backend's training runs, made once for all its pairs (as nst parity makes them)


@pytest.fixture(scope="module", params=COMPARED, ids=pair_id)
def pair(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Each backend of the registry with the first (torch): conftest.COMPARED."""
    return request.param


@pytest.fixture(scope="module")
def checks(pair: tuple[str, str]) -> dict[str, parity.Check]:
    """All checks of a pair, the first backend against the second, computed once for this module."""
    a, b = (get_backend(name) for name in pair)
    found = parity.run(a, b, CONTENT, STYLE, SIZE, references=REFERENCES.setdefault(pair, {}), memo=RUNS)
    return {f"{c.dtype}: {c.what}": c for c in found}


@pytest.fixture(scope="module")
def torch_mxnet_references() -> dict:
    """The torch-mxnet pair's references (the tests below inject errors into those two backends' runs): the checks
    fixture's, or measured as it measures them."""
    pair = ("torch", "mxnet")
    if pair not in REFERENCES:
        references = REFERENCES.setdefault(pair, {})
        parity.run(*(get_backend(name) for name in pair), CONTENT, STYLE, SIZE, references=references, memo=RUNS)
    return REFERENCES[pair]


def expected_names() -> list[str]:
    names = []
    for dtype, tol in parity.TOLERANCES.items():
        names.append(f"{dtype}: preprocessing")
        layer_names = common.core.layers.NAMES
        names += [f"{dtype}: features {layer} ({p} pooling)" for p in ("max", "avg") for layer in layer_names]
        names += [
            f"{dtype}: {what}"
            for what in (
                "gram",
                "content loss",
                "style loss",
                "TV loss",
                "total loss (d2l layers and weights)",
                "gradient of the total loss w.r.t. the image",
            )
        ]
        names.append(f"{dtype}: HRNet generator: output for the content image")
        names.append(
            f"{dtype}: HRNet generator: {parity.GENERATOR_STEPS} Adam steps (lr {parity.GENERATOR_LR:g}): losses of "
            "every step"
        )
        if dtype == "float64":
            names.append(
                f"{dtype}: HRNet generator: {RECIPE_STEPS} Adam steps at the recipe's lr 0.005 (bundled samples, 48x64)"
            )
        for init in ("content", "noise"):
            names.append(
                f"{dtype}: {tol['steps']:.0f} Adam steps (lr {tol['lr']:g}) from {init} init: losses of every step"
            )
            names.append(f"{dtype}: {init} init: final 8-bit images")
    return names


def find(checks: dict[str, parity.Check], name: str) -> parity.Check:
    matches = [c for key, c in checks.items() if key.startswith(name)]
    assert len(matches) == 1, f"{name}: {len(matches)} checks"
    return matches[0]


@pytest.mark.parametrize("name", expected_names())
def test_check(checks, name: str) -> None:
    check = find(checks, name)
    assert check.passed, f"{name}: max abs {check.max_abs:.3g}, max rel {check.max_rel:.3g}, need {check.tolerance}"


def test_there_are_no_other_checks(checks) -> None:
    assert len(checks) == len(expected_names())


def test_float64_runs_agree_far_beyond_their_tolerance(checks, pair) -> None:
    """The backends are the same program, not merely close: float64 differences are rounding (1e-15), grown by
    training to at most 1e-12 (2e-14 over the generator's 20 steps at lr 1e-4), every row of every pair. The
    generator's 60 steps at the recipe's lr 5e-3 amplify a difference about 10x a step (docs/porting.md): there
    JAX's float64 instance norm computes torch's CPU kernel's values (1e-14 from exact, as MXNet's), not the exact
    ones, which put its runs 2e-12 from the others'."""
    for key, check in checks.items():
        if key.startswith("float64") and "PSNR" not in key:
            assert check.max_rel < 1e-12, key


def test_each_training_row_compares_two_runs_not_one_run_with_itself(checks, pair) -> None:
    """Every row of losses over training steps differs somewhere: each backend's run is its own, also where a run
    comes from the memo of runs made for another pair (a key without its backend would compare a run with
    itself and pass whatever the backends do)."""
    rows = {key: c for key, c in checks.items() if key.endswith("losses of every step")}
    assert len(rows) == 7 and all(c.max_abs > 0 for c in rows.values()), {k: c.max_abs for k, c in rows.items()}


def test_the_step_comparison_treats_two_zeros_as_equal_and_a_zero_against_nonzero_as_different() -> None:
    ha, hb = np.array([[0.0, 1.0]]), np.array([[0.0, 1.0 + 1e-12]])
    assert parity.step_differences(ha, hb)[1] == pytest.approx(1e-12, rel=1e-3)
    assert parity.step_differences(np.array([[1e-12]]), np.array([[0.0]]))[1] == pytest.approx(1e-12)


def test_the_content_loss_at_the_content_image_is_exactly_zero(backend) -> None:
    """MXNet with oneDNN computes different conv outputs in training and inference mode unless handled."""
    history, _ = parity.trajectory(backend, CONTENT, STYLE, SIZE, "float32", "content", 1, 0.05)
    assert history[0, 0] == 0.0


# A float32 training row FAILS when one backend's float32 run strays from its own float64 run further than
# float32-sized rounding carries it (common/studies/envelope.py): shown by injecting float32-only errors into one
# backend's run, judged against the float64 runs and envelope that the checks fixture measured.
def injected(inject: dict[str, envelope.Wrap], name: str, wrap: envelope.Wrap | None) -> envelope.Wrap | None:
    """The row's wrap (which records the first update) around the error injected into this backend's trainer."""
    error = inject.get(name)
    if error is None or wrap is None:
        return error or wrap
    return lambda trainer: wrap(error(trainer))


def content_row(inject: dict[str, envelope.Wrap], references: dict) -> parity.Check:
    """The float32 row of the Adam run from the content image, with a wrapper for some backends' float32 trainers."""
    tol = parity.TOLERANCES["float32"]
    steps, lr = int(tol["steps"]), tol["lr"]

    def run(ops, dtype: str, wrap):
        wrap = injected(inject, ops.name, wrap) if dtype == "float32" else wrap
        return parity.trajectory(ops, CONTENT, STYLE, SIZE, dtype, "content", steps, lr, 0, wrap)[0]

    what = f"{steps} Adam steps (lr {lr:g}) from content init: losses of every step"
    assert what in references
    return trajectories.float32_row(get_backend("torch"), get_backend("mxnet"), what, run, references=references)


def generator_row(inject: dict[str, envelope.Wrap], references: dict) -> parity.Check:
    """The float32 row of the HRNet generator's training, with a wrapper for some backends' float32 trainers."""
    size = (SIZE[0] // 4 * 4, SIZE[1] // 4 * 4)

    def run(ops, dtype: str, wrap):
        wrap = injected(inject, ops.name, wrap) if dtype == "float32" else wrap
        return trajectories.generator_run(ops, CONTENT, STYLE, size, dtype, 0, wrap)

    what = f"HRNet generator: {parity.GENERATOR_STEPS} Adam steps (lr {parity.GENERATOR_LR:g}): losses of every step"
    assert what in references
    return trajectories.float32_row(
        get_backend("torch"), get_backend("mxnet"), what, run, whole_run=True, references=references
    )


def ratios(check: parity.Check, pair: tuple[str, str] = ("torch", "mxnet")) -> tuple[float, float]:
    """Each backend's worst drift over its allowance (above 1: beyond MULTIPLE x the envelope)."""
    return check.envelope[pair[0]]["worst_drift_over_allowed"], check.envelope[pair[1]]["worst_drift_over_allowed"]


def test_the_float32_training_rows_report_the_envelope_and_each_drift_and_pass(checks, pair) -> None:
    rows = [c for key, c in checks.items() if key.startswith("float32") and "losses of every step" in key]
    assert len(rows) == 3
    text = parity.table(rows, pair).splitlines()
    a, b = pair
    for row in rows:
        assert row.passed and row.envelope["envelope"] > 0 and max(ratios(row, pair)) <= 1
        under = text[text.index(next(line for line in text if line.startswith(row.what))) + 1]
        a_drift, b_drift = row.envelope[a]["drift"], row.envelope[b]["drift"]
        assert under.startswith(f"    envelope {row.envelope['envelope']:.1e}; drift from its own float64 run: ")
        assert f"{a} {a_drift:.1e}, {b} {b_drift:.1e}; allowed {envelope.MULTIPLE:g}x" in under
        sizes = [row.envelope[name]["first_step_size_error"] for name in pair]
        assert max(sizes) <= envelope.STEP_SIZE and f"first step's size off by {sizes[0]:.1e} and" in under
    assert "\n".join(text).count(f"<= {envelope.MULTIPLE:g}x envelope") == 3


def test_an_adam_epsilon_in_the_wrong_place_in_one_backends_float32_run_fails_the_row(
    torch_mxnet_references, monkeypatch
):
    assert content_row({}, torch_mxnet_references).passed  # the unmodified runs, judged again: pass
    import backends.mxnet.trainer as mxnet_trainer

    real = mxnet_trainer.TorchAdam.update

    def mxnets_own_adam_in_float32(self, index, weight, grad, state):
        """MXNet's built-in formula (epsilon added before bias correction), for float32 weights only."""
        if weight.dtype != np.float32:
            return real(self, index, weight, grad, state)
        self._update_count(index)
        t, lr = self._index_update_count[index], self._get_lr(index)
        m, v = self.moments.setdefault(index, [mxnet_trainer.nd.zeros_like(weight) for _ in range(2)])
        g = grad * self.rescale_grad
        m[:] = m + (1 - self.beta1) * (g - m)
        v[:] = v * self.beta2 + (1 - self.beta2) * g * g
        step = lr * (1 - self.beta2**t) ** 0.5 / (1 - self.beta1**t)
        weight[:] = weight - step * m / (mxnet_trainer.nd.sqrt(v) + self.epsilon)

    monkeypatch.setattr(mxnet_trainer.TorchAdam, "update", mxnets_own_adam_in_float32)
    check = content_row({}, torch_mxnet_references)
    assert not check.passed
    assert ratios(check)[0] <= 1 < ratios(check)[1]  # torch within its allowance, mxnet beyond


def test_a_perturbed_step_in_one_backends_float32_run_fails_the_row(torch_mxnet_references) -> None:
    """Parameters off by 1e-4 relative at every step (about 1700 float32 roundings) in torch's float32 run."""
    noisy = {"torch": lambda trainer: envelope.NoisyTrainer(trainer, seed=0, noise=1e-4)}
    check = content_row(noisy, torch_mxnet_references)
    assert not check.passed
    assert ratios(check)[1] <= 1 < ratios(check)[0]


class LongerSteps(envelope.Wrapped):
    """A trainer whose every update is made ``factor`` times as long (as with a larger learning rate), through the
    Trainer contract's state() and load_state()."""

    def __init__(self, trainer, factor: float) -> None:
        self.trainer, self.factor = trainer, factor

    def step(self):
        before = self.trainer.state()
        losses = self.trainer.step()
        after = self.trainer.state()
        for key in (k for k in after if k.startswith("param.")):
            after[key] = (before[key] + self.factor * (after[key] - before[key])).astype(after[key].dtype)
        self.trainer.load_state(after)
        return losses


@pytest.mark.parametrize("factor", [1.1, 1.001])
def test_steps_too_long_in_one_backends_float32_generator_training_fail_the_row(torch_mxnet_references, factor):
    """Steps 10% too long go beyond the envelope; steps 0.1% too long stay within it (the generator's training is
    chaotic and its row is judged over the whole run) but make the first step 1e-3 longer than the float64 run's,
    as float32 holds it, where rounding leaves it within 4e-9 (measured): both fail the row."""
    check = generator_row({"mxnet": lambda trainer: LongerSteps(trainer, factor)}, torch_mxnet_references)
    assert not check.passed
    sizes = [check.envelope[name]["first_step_size_error"] for name in ("torch", "mxnet")]
    assert sizes[0] <= envelope.STEP_SIZE and sizes[1] == pytest.approx(factor - 1, rel=0.01)
    if factor > 1.01:
        assert ratios(check)[0] <= 1 < ratios(check)[1]


def test_the_recipe_rate_row_fails_when_one_step_differs_by_more_than_1e_9(monkeypatch) -> None:
    from common.studies import recipe_rate

    runs = {"a": np.ones((recipe_rate.RECIPE_STEPS, 4)), "b": np.ones((recipe_rate.RECIPE_STEPS, 4))}
    runs["b"][-1, 1] += 2e-9  # the last step's style loss
    monkeypatch.setattr(recipe_rate, "recipe_run", lambda ops, *args: runs[ops.name])
    a, b = SimpleNamespace(name="a"), SimpleNamespace(name="b")
    failed = recipe_rate.recipe_rate_check(a, b, 0)
    runs["b"][-1, 1] = 1 + 5e-10
    passed = recipe_rate.recipe_rate_check(a, b, 0)
    assert not failed.passed and failed.max_rel == pytest.approx(2e-9) and passed.passed


# The command over pairs, on stand-in backends and checks (no framework computes): every pair of installed backends
# is compared once, each named in the table and the JSON; one pair prints exactly its table, as before pairs.
