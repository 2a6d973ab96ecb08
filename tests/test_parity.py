"""The backends are the same program: every check of `nst parity`, each its own test for every pair of backends,
plus the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import BACKEND_NAMES, COMPARED, PAIRS, get_backend, pair_id

import cli
import common
from common.core import registry
from common.jobs import images, samples
from common.studies import envelope, parity, trajectories
from common.studies.recipe_rate import RECIPE_STEPS

# nst parity's default inputs: the bundled sample images at 48x64. (On some inputs float32 Adam runs from the
# content image drift further than 1e-3 from exact arithmetic in both backends: tests/test_pitfalls.py.)
SIZE = (48, 64)
CONTENT = images.load_image(samples.sample_path(samples.CONTENT))
STYLE = images.load_image(samples.sample_path(samples.STYLE))


REFERENCES: dict = {}  # by pair: the float32 rows' float64 runs and envelopes, measured once by the checks fixture


@pytest.fixture(scope="module", params=COMPARED, ids=pair_id)
def pair(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Each backend of the registry with the first (torch): conftest.COMPARED."""
    return request.param


@pytest.fixture(scope="module")
def checks(pair: tuple[str, str]) -> dict[str, parity.Check]:
    """All checks of a pair, the first backend against the second, computed once for this module."""
    a, b = (get_backend(name) for name in pair)
    found = parity.run(a, b, CONTENT, STYLE, SIZE, references=REFERENCES.setdefault(pair, {}))
    return {f"{c.dtype}: {c.what}": c for c in found}


@pytest.fixture(scope="module")
def torch_mxnet_references() -> dict:
    """The torch-mxnet pair's references (the tests below inject errors into those two backends' runs): the checks
    fixture's, or measured as it measures them."""
    pair = ("torch", "mxnet")
    if pair not in REFERENCES:
        parity.run(
            *(get_backend(name) for name in pair), CONTENT, STYLE, SIZE, references=REFERENCES.setdefault(pair, {})
        )
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


def test_the_step_comparison_treats_two_zeros_as_equal_and_a_zero_against_nonzero_as_different() -> None:
    ha, hb = np.array([[0.0, 1.0]]), np.array([[0.0, 1.0 + 1e-12]])
    assert parity.step_differences(ha, hb)[1] == pytest.approx(1e-12, rel=1e-3)
    assert parity.step_differences(np.array([[1e-12]]), np.array([[0.0]]))[1] == pytest.approx(1e-12)


def test_the_content_loss_at_the_content_image_is_exactly_zero(backend) -> None:
    """MXNet with oneDNN computes different conv outputs in training and inference mode unless handled."""
    history, _ = parity.trajectory(backend, CONTENT, STYLE, SIZE, "float32", "content", 1, 0.05)
    assert history[0, 0] == 0.0


def short_training_rows(monkeypatch) -> None:
    """3 steps instead of 10 in the Gatys training rows (and their envelopes): a test about the command."""
    monkeypatch.setitem(parity.TOLERANCES["float32"], "steps", 3)


@pytest.mark.slow
def test_nst_parity_passes_on_another_image_pair(every_backend, capsys) -> None:
    """scikit-image's astronaut and coffee at 48x64 (the checks fixture runs the bundled pair) through the command:
    JSON, exit 0, every row passes, and each float32 training row within MULTIPLE x its own envelope. The float32
    rows only (--dtype float32, with the float64 runs their envelopes need): the float64 rows, rounding apart, were
    measured on the bundled pair above, and their recipe-rate row always runs on that pair. About a minute."""
    content, style = (samples.sample_path(name) for name in ("astronaut.png", "coffee.png"))
    argv = ["parity", "--content", str(content), "--style", str(style), "--dtype", "float32"]
    code = cli.main([*argv, "--json", "--quiet"])
    report = json.loads(capsys.readouterr().out)
    failed = [f"{c['dtype']}: {c['what']}" for c in report["checks"] if not c["passed"]]
    assert code == 0 and not failed, failed
    assert report["backends"] == list(BACKEND_NAMES) and report["size"] == [48, 64]
    assert report["pairs"] == [list(pair) for pair in PAIRS] and report["not_installed"] == []
    expected = [name for name in expected_names() if name.startswith("float32")]
    assert len(report["checks"]) == len(PAIRS) * len(expected)
    assert all(
        set(c) == {"what", "dtype", "max_abs", "max_rel", "tolerance", "passed", "envelope", "pair"}
        for c in report["checks"]
    )
    for pair in PAIRS:
        rows = [c for c in report["checks"] if c["pair"] == list(pair)]
        got = [f"{c['dtype']}: {c['what']}" for c in rows]
        assert len(got) == len(expected) and all(g.startswith(e) for g, e in zip(got, expected, strict=True))
        training = [c["envelope"] for c in rows if c["envelope"] is not None]
        assert len(training) == 3 and all(t["envelope"] > 0 for t in training)
        assert all("losses of every step" in c["what"] for c in rows if c["envelope"] is not None)
        assert all(max(t[name]["worst_drift_over_allowed"] for name in pair) <= 1 for t in training)


def test_nst_parity_exits_1_when_a_check_fails(every_backend, monkeypatch, capsys) -> None:
    """--dtype float32 --size 32 40 on one pair, with one tolerance no run can meet: exit 1, only float32 rows, the
    last line counts the failure (every training row cut short: this test is about the command)."""
    short_training_rows(monkeypatch)
    monkeypatch.setattr(trajectories, "GENERATOR_STEPS", 3)
    tolerances = {dtype: dict(t) for dtype, t in parity.TOLERANCES.items()}
    tolerances["float32"]["psnr"] = float("inf")  # no two float32 runs of 10 Adam steps are bit-identical
    monkeypatch.setattr(parity, "TOLERANCES", tolerances)
    code = cli.main(["parity", "--dtype", "float32", "--size", "32", "40", "--backends", "torch,mxnet", "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and out.strip().splitlines()[-1].endswith("FAIL")
    assert "  float32 " in out and "  float64 " not in out


@pytest.mark.parametrize(
    "value,fragment",
    [
        ("torch", "name at least two backends"),
        ("torch,torch", "name at least two"),
        ("torch,tf", "unknown backend 'tf'"),
    ],
)
def test_nst_parity_refuses_backends_it_cannot_compare_in_one_line(value: str, fragment: str, capsys) -> None:
    assert cli.main(["parity", "--backends", value, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err


def test_nst_parity_refuses_bad_settings_in_one_line(capsys) -> None:
    assert cli.main(["parity", "--size", "8", "32"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at least 16" in err


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
    monkeypatch.setattr(recipe_rate, "recipe_run", lambda ops, *args: runs[ops])
    failed = recipe_rate.recipe_rate_check("a", "b", 0)
    runs["b"][-1, 1] = 1 + 5e-10
    passed = recipe_rate.recipe_rate_check("a", "b", 0)
    assert not failed.passed and failed.max_rel == pytest.approx(2e-9) and passed.passed


# The command over pairs, on stand-in backends and checks (no framework computes): every pair of installed backends
# is compared once, each named in the table and the JSON; one pair prints exactly its table, as before pairs.
def fake_parity(
    monkeypatch, names: tuple[str, ...], installed: tuple[str, ...], failing: tuple[str, str] | None = None
) -> list[tuple[str, str]]:
    """Play a registry of ``names`` of which ``installed`` are installed, each pair passing two checks (``failing``
    fails its second); the pairs parity.run is called with."""
    compared = []

    def run(a, b, content, style, size, dtypes, seed, progress) -> list[parity.Check]:
        compared.append((a.name, b.name))
        if progress is not None:
            progress("features")
        return [
            parity.Check(f"{a.name} against {b.name}", "float32", 0.0, 0.0, "rel <= 1", True),
            parity.Check("second", "float64", 1.0, 1.0, "rel <= 1", (a.name, b.name) != failing),
        ]

    monkeypatch.setattr(registry, "NAMES", names)
    monkeypatch.setattr(registry, "BACKENDS", {name: (f"{name}lib", name) for name in names})
    monkeypatch.setattr(registry, "is_installed", lambda name: name in installed)
    monkeypatch.setattr(parity, "load_backend", lambda name: type("Fake", (), {"name": name})())
    monkeypatch.setattr(parity, "run", run)
    monkeypatch.setattr(parity.record, "versions", lambda: {})
    return compared


def test_nst_parity_compares_every_pair_of_installed_backends_once_and_names_each(monkeypatch) -> None:
    compared = fake_parity(monkeypatch, ("a", "b", "c", "d"), ("a", "b", "c"))
    said: list[str] = []
    text, passed = parity.command(None, None, (48, 64), "both", 0, False, said.append)
    assert compared == [("a", "b"), ("a", "c"), ("b", "c")] and passed
    assert said == ["a vs b: features", "a vs c: features", "b vs c: features"]
    assert text.count("what is compared") == 3 and "what is compared (b vs c)" in text
    assert text.splitlines()[-2:] == [
        "3 pairs: 6 of 6 checks pass",
        "d: not compared (its framework, dlib, is not installed)",
    ]
    compared.clear()
    doc = json.loads(parity.command(None, None, (48, 64), "both", 0, True, None)[0])
    assert doc["backends"] == ["a", "b", "c"] and doc["pairs"] == [["a", "b"], ["a", "c"], ["b", "c"]]
    assert [(c["pair"], c["what"]) for c in doc["checks"][::2]] == [([x, y], f"{x} against {y}") for x, y in compared]
    assert doc["not_installed"] == ["d"]


def test_nst_parity_with_backends_compares_just_those(monkeypatch) -> None:
    compared = fake_parity(monkeypatch, ("a", "b", "c", "d"), ("a", "b", "c"))
    doc = json.loads(parity.command(None, None, (48, 64), "both", 0, True, None, "c, a")[0])
    assert compared == [("c", "a")] and doc["pairs"] == [["c", "a"]]
    assert doc["backends"] == ["c", "a"] and doc["not_installed"] == ["d"]  # b was left out by choice


def test_nst_parity_fails_when_a_check_of_any_pair_fails(monkeypatch) -> None:
    fake_parity(monkeypatch, ("a", "b", "c"), ("a", "b", "c"), failing=("b", "c"))
    text, passed = parity.command(None, None, (48, 64), "both", 0, False, None)
    assert not passed and text.splitlines()[-1] == "3 pairs: 5 of 6 checks pass; 1 FAIL"


def test_nst_parity_with_one_pair_prints_just_its_table(monkeypatch) -> None:
    fake_parity(monkeypatch, ("torch", "mxnet"), ("torch", "mxnet"))
    said: list[str] = []
    text, passed = parity.command(None, None, (48, 64), "both", 0, False, said.append)
    assert said == ["features"]
    checks = [
        parity.Check("torch against mxnet", "float32", 0.0, 0.0, "rel <= 1", True),
        parity.Check("second", "float64", 1.0, 1.0, "rel <= 1", True),
    ]
    assert passed and text == parity.table(checks, ("torch", "mxnet"))


def test_nst_parity_with_fewer_than_two_backends_installed_says_what_to_install(monkeypatch) -> None:
    fake_parity(monkeypatch, ("torch", "mxnet"), ("torch",))

    def load(name: str):
        if name == "mxnet":
            raise common.BackendUnavailable("the mxnet backend needs mxnet")
        return type("Fake", (), {"name": name})()

    monkeypatch.setattr(parity, "load_backend", load)
    with pytest.raises(common.BackendUnavailable, match="needs mxnet"):
        parity.command(None, None, (48, 64), "both", 0, False, None)
