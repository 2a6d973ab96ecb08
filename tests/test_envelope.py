"""The rule a float32 training row of nst parity is held to (common/studies/envelope.py), on made-up runs: a drift
within MULTIPLE x the envelope passes, one beyond it FAILS, whatever the other backend does."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from helpers import random_pixels, smooth_image
from PIL import Image

from common.studies import envelope, trajectories

STEPS = 6
CLEAN = np.tile(np.array([[1.0, 2.0, 0.5, 3.5]]), (STEPS, 1))
ENVELOPE = np.array([0.0, 1e-7, 1e-5, 1e-4, 1e-4, 2e-4])  # steps 1 and 2 below FLOOR / MULTIPLE


def reference() -> envelope.Reference:
    return envelope.Reference((CLEAN, CLEAN.copy()), ENVELOPE)


def drifted(rel: np.ndarray) -> np.ndarray:
    """CLEAN with its style loss (column 1) off by rel (per step), relative."""
    h = CLEAN.copy()
    h[:, 1] *= 1 + rel
    return h


def test_a_drift_within_the_allowance_passes_and_one_beyond_it_fails_at_that_step() -> None:
    allowed = np.maximum(envelope.MULTIPLE * ENVELOPE, envelope.FLOOR)
    within = drifted(0.9 * allowed)
    assert envelope.judge(within, CLEAN, reference()).passed
    for step in range(STEPS):
        beyond = 0.9 * allowed
        beyond[step] = 1.1 * allowed[step]
        verdict = envelope.judge(CLEAN, drifted(beyond), reference())
        assert not verdict.passed, step
        assert verdict.ratios[0] == 0.0 and verdict.ratios[1] == pytest.approx(1.1)


def test_the_first_steps_are_held_to_the_floor_not_to_a_zero_envelope() -> None:
    early = np.zeros(STEPS)
    early[0] = 0.5 * envelope.FLOOR  # float32's rounding of the first steps: allowed
    assert envelope.judge(drifted(early), CLEAN, reference()).passed
    early[1] = 2 * envelope.FLOOR  # twice that at step 2, where the envelope is 1e-7: FAIL
    assert not envelope.judge(drifted(early), CLEAN, reference()).passed


def test_whole_run_judging_allows_the_largest_envelope_at_every_step() -> None:
    late_size_early = np.zeros(STEPS)
    late_size_early[1] = 1.5 * envelope.MULTIPLE * 1e-4  # within 4x the run's largest envelope (2e-4), not step 2's
    assert not envelope.judge(drifted(late_size_early), CLEAN, reference()).passed
    assert envelope.judge(drifted(late_size_early), CLEAN, reference(), whole_run=True).passed
    too_far = np.full(STEPS, 1.01 * envelope.MULTIPLE * 2e-4)
    assert not envelope.judge(drifted(too_far), CLEAN, reference(), whole_run=True).passed


def recorded(start: dict, move: dict) -> envelope.FirstUpdate:
    """A FirstUpdate as a float32 run's first step leaves it: its start and its move."""
    first = envelope.FirstUpdate(None)
    first.start, first.update = start, move
    return first


def test_a_first_step_of_another_size_than_the_float64_ones_fails_whatever_the_drift() -> None:
    """A float32 first step 1e-3 longer than the float64 one, as float32 can hold it, FAILS; the float32 grid's own
    quantization of the move (up to 3e-4 of it here: a change of a move smaller than that shows only on average),
    and moves the other way, do not count."""
    rng = np.random.default_rng(1)
    start = {"param.0": rng.uniform(0.1, 0.5, 5000).astype(np.float32), "param.1": np.zeros(3, np.float32)}
    sizes = np.where(np.arange(5000) % 10 == 0, rng.uniform(0, 1e-4, 5000), 1e-4)  # Adam's first step: mostly lr
    move64 = {"param.0": np.sign(rng.standard_normal(5000)) * sizes, "param.1": np.zeros(3)}

    def float32_move(scale: float) -> dict:
        """The float64 move, times scale, as float32 holds it (some moves the other way)."""
        out = {}
        for key, m in move64.items():
            m = np.where(np.arange(m.size) % 50 == 0, -m, m) * scale
            out[key] = (start[key] + m).astype(np.float32).astype(np.float64) - start[key]
        return out

    raw = np.abs(float32_move(1.0)["param.0"]) / np.abs(move64["param.0"])
    assert np.abs(raw - 1).max() > 1e-4  # what the grid does to a move of 1e-4
    exact, longer = recorded(start, float32_move(1.0)), recorded(start, float32_move(1.001))
    assert envelope.first_step_error(exact, move64) < 1e-8
    assert envelope.first_step_error(longer, move64) == pytest.approx(1e-3, rel=0.2)
    ref = envelope.Reference((CLEAN, CLEAN.copy()), ENVELOPE, first=(move64, move64))
    assert envelope.judge(CLEAN, CLEAN, ref, first=(exact, exact)).passed
    verdict = envelope.judge(CLEAN, CLEAN, ref, first=(exact, longer))
    assert not verdict.passed and verdict.ratios == (0.0, 0.0)
    assert verdict.as_dict(("torch", "mxnet"))["mxnet"]["first_step_size_error"] == pytest.approx(1e-3, rel=0.2)
    assert envelope.judge(CLEAN, CLEAN, reference(), first=(longer, longer)).passed  # float64 moves unknown: no test


def test_two_runs_drifting_in_opposite_directions_are_reported_against_the_sum_of_their_allowances() -> None:
    allowed = np.maximum(envelope.MULTIPLE * ENVELOPE, envelope.FLOOR)
    verdict = envelope.judge(drifted(0.99 * allowed), drifted(-0.99 * allowed), reference())
    assert verdict.passed and verdict.mutual == pytest.approx(0.99)
    # beyond it only when a drift is beyond its own allowance: the rule is the drifts', the sum is reported
    far = envelope.judge(drifted(3 * allowed), drifted(-3 * allowed), reference())
    assert far.mutual == pytest.approx(3) and not far.passed and min(far.ratios) == pytest.approx(3)


def test_the_report_holds_the_envelope_and_each_backends_drift() -> None:
    verdict = envelope.judge(drifted(np.full(STEPS, 1e-4)), CLEAN, reference())
    report = verdict.as_dict(("torch", "mxnet"))
    assert report["envelope"] == 2e-4 and report["multiple"] == envelope.MULTIPLE
    assert report["torch"]["drift"] == pytest.approx(1e-4) and report["mxnet"]["drift"] == 0.0
    assert report["torch"]["worst_drift_over_allowed"] == pytest.approx(1e-4 / envelope.FLOOR)
    assert len(report["envelope_per_step"]) == len(report["torch"]["per_step"]) == STEPS
    # at step 1 the runs differ by 1e-4 (relative) where each may drift FLOOR: 1e-4 / (2 FLOOR) of the bound
    assert report["a_minus_b_over_bound"] == pytest.approx(1e-4 / (2 * envelope.FLOOR))
    line = envelope.describe(report, ("torch", "mxnet"))
    assert line.startswith("envelope 2.0e-04; drift from its own float64 run: torch 1.0e-04, mxnet 0.0e+00; allowed 4x")
    assert f"at least 1e-05): worst {1e-4 / envelope.FLOOR:.2f} and 0.00 of it; first step's size off by" in line


class FakeTrainer:
    """A trainer whose one parameter is a vector of ones, recording what each step saw; each step adds ``update``."""

    def __init__(self, update: np.ndarray | None = None) -> None:
        self.params = {"param.0": np.ones(1000), "optimizer.moment0.0": np.ones(1000)}
        self.seen: list[np.ndarray] = []
        self.update = update

    def state(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.params = {k: v.copy() for k, v in state.items()}

    def step(self) -> tuple[float, float, float, float]:
        self.seen.append(self.params["param.0"].copy())
        if self.update is not None:
            self.params["param.0"] = self.params["param.0"] + self.update
        return 0.0, 0.0, 0.0, 0.0


def test_the_first_update_records_its_signs_and_a_noisy_run_takes_them_with_its_own_sizes() -> None:
    """The envelope's noisy runs move each parameter as far as their own (float64) first update does, in the
    direction the float32 run moved it: its signs, never its sizes; later steps are their own."""
    rng = np.random.default_rng(0)
    float32_update = rng.standard_normal(1000) * 1e-3
    float32_update[:10] = 0.0  # not moved at all: the noisy run keeps its own update there
    recorder = envelope.FirstUpdate(FakeTrainer(float32_update))
    recorder.step()
    recorder.step()
    assert np.array_equal(recorder.signs["param.0"], np.sign(float32_update)) and set(recorder.signs) == {"param.0"}
    assert np.array_equal(recorder.start["param.0"], np.ones(1000))  # where the first step started
    own = rng.standard_normal(1000) * 2e-3  # the float64 run's own first update: other signs, other sizes
    inner = FakeTrainer(own)
    noisy = envelope.NoisyTrainer(inner, seed=0, noise=0.0, signs=recorder.signs)
    noisy.step()
    moved = inner.params["param.0"] - 1
    expected = np.where(float32_update == 0, own, np.sign(float32_update) * np.abs(own))
    assert np.allclose(moved, expected, rtol=0, atol=1e-15)
    noisy.step()  # the second update is the run's own
    assert np.allclose(inner.params["param.0"] - 1 - moved, own, rtol=0, atol=1e-15)


def test_the_noise_is_float32_sized_seeded_and_applied_to_the_parameters_after_every_step() -> None:
    inner = FakeTrainer()
    noisy = envelope.NoisyTrainer(inner, seed=3)
    for _ in range(3):
        noisy.step()
    start, first, second = (x - 1 for x in inner.seen)
    assert not start.any()  # the first step starts from the run's own numbers
    assert 0.5 * envelope.NOISE < first.std() < 2 * envelope.NOISE  # relative noise of size 2^-24
    assert np.abs(second - first).std() > 0.5 * envelope.NOISE  # new noise each step
    assert np.array_equal(inner.params["optimizer.moment0.0"], np.ones(1000))  # only the parameters
    again = FakeTrainer()
    envelope.NoisyTrainer(again, seed=3).step()
    envelope.NoisyTrainer(again, seed=3).step()
    assert np.array_equal(again.seen[1], inner.seen[1])  # seeded


def test_measure_takes_the_seeds_in_turn_on_the_two_backends_and_the_running_largest_spread() -> None:
    calls: list[tuple[str, int | None]] = []

    def fake(name: str, clean: np.ndarray):
        def run(wrap):
            noisy = wrap(FakeTrainer())
            if isinstance(noisy, envelope.FirstUpdate):  # a clean run, its first update recorded
                calls.append((name, None))
                return clean
            assert noisy.signs["param.0"][0] == (1 if name == "a" else -1)  # its own backend's float32 signs
            calls.append((name, int(noisy.rng.integers(1 << 30))))
            h = clean.copy()
            h[len(calls) - 2, 2] *= 1 + 1e-3 * len(calls)  # each noisy run off at one step, by its own amount
            return h

        return run

    signs = ({"param.0": np.ones(1000)}, {"param.0": -np.ones(1000)})
    ref = envelope.measure(fake("a", CLEAN), fake("b", 2 * CLEAN), signs, seeds=4)
    seeds = [np.random.default_rng([s, 24]).integers(1 << 30) for s in range(4)]
    assert calls == [("a", None), ("b", None), ("a", seeds[0]), ("b", seeds[1]), ("a", seeds[2]), ("b", seeds[3])]
    # the noisy runs are off at steps 2..5 (1-based) by 3e-3 .. 6e-3 from their own backend's clean run (not the
    # other's, which is 2x): the envelope is the running largest of these
    assert ref.envelope == pytest.approx([0, 3e-3, 4e-3, 5e-3, 6e-3, 6e-3])
    assert ref.clean[1] is not ref.clean[0] and np.array_equal(ref.clean[1], 2 * CLEAN)


def test_a_backends_runs_are_made_once_across_its_pairs_and_judged_as_if_made_again() -> None:
    """nst parity's memo: with three backends, a's runs of a row (float32, clean float64, its noisy seeds) are made
    for its first pair and taken from the memo for the second, whose check is the one a fresh measurement gives;
    other inputs are other runs."""
    calls: list[tuple[str, str]] = []
    targets = {"a": 0.5, "b": 0.5 + 1e-9, "c": 0.5 - 1e-9}

    class Descent(FakeTrainer):
        """Adam-like sign steps towards the backend's target; losses from the parameters, in the run's dtype."""

        def __init__(self, name: str, dtype: str) -> None:
            super().__init__()
            self.target, self.dtype = targets[name], np.dtype(dtype)

        def step(self) -> tuple[float, float, float, float]:
            p = self.params["param.0"].astype(self.dtype)
            self.params["param.0"] = (p - 1e-2 * np.sign(p - self.target)).astype(self.dtype)
            loss = float(((self.params["param.0"] - self.target) ** 2).sum())
            return loss, 2 * loss, 0.0, 3 * loss

    def run(ops, dtype: str, wrap) -> np.ndarray:
        calls.append((ops.name, dtype))
        trainer = Descent(ops.name, dtype)
        trainer = wrap(trainer) if wrap is not None else trainer
        return np.array([trainer.step() for _ in range(STEPS)])

    a, b, c = (SimpleNamespace(name=n) for n in "abc")
    memo: dict = {}
    trajectories.float32_row(a, b, "row", run, memo=memo, inputs=("x",))
    assert calls.count(("a", "float32")) == 1 and calls.count(("a", "float64")) == 3  # clean, seeds 0 and 2
    del calls[:]
    remembered = trajectories.float32_row(a, c, "row", run, memo=memo, inputs=("x",))
    assert sorted(calls) == [("c", "float32"), *[("c", "float64")] * 3]  # c's clean run and seeds 1 and 3
    fresh = trajectories.float32_row(a, c, "row", run)
    assert calls.count(("a", "float32")) == 1  # the fresh one's
    drop = "float64_runs_seconds"
    assert {k: v for k, v in remembered.envelope.items() if k != drop} == {
        k: v for k, v in fresh.envelope.items() if k != drop
    }
    assert (remembered.max_abs, remembered.max_rel, remembered.passed) == (fresh.max_abs, fresh.max_rel, fresh.passed)
    del calls[:]
    trajectories.float32_row(a, c, "row", run, memo=memo, inputs=("y",))
    assert calls.count(("a", "float32")) == 1 and calls.count(("c", "float32")) == 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_noise_of_zero_leaves_a_real_run_bit_identical(backend, dtype, monkeypatch) -> None:
    """Taking the state and loading it back after every step (as the envelope's runs do) changes nothing, so the
    envelope measures the noise alone: both backends, both dtypes, the Gatys run and the generator's training
    (3 steps of each)."""
    monkeypatch.setattr(trajectories, "GENERATOR_STEPS", 3)
    content, style = smooth_image(32, 48, seed=1), Image.fromarray(random_pixels(32, 32, seed=2))

    def silent(trainer):
        return envelope.NoisyTrainer(trainer, seed=0, noise=0.0)

    runs = [
        trajectories.trajectory(backend, content, style, (32, 48), dtype, "noise", 3, 0.05, 0, w)
        for w in (None, silent)
    ]
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    plain = trajectories.generator_run(backend, content, style, (32, 48), dtype, 0)
    assert np.array_equal(plain, trajectories.generator_run(backend, content, style, (32, 48), dtype, 0, silent))
