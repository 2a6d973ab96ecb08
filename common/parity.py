"""Are the two backends the same program? Every comparison, its measured difference and its tolerance.

``nst parity`` prints these checks as a table (or JSON) and the test suite asserts them. Both backends get the
same seeded VGG-19 weights and the same images. Relative differences are max |a - b| / max |b| over a tensor
(or over a run's steps), so that zeros in b do not blow them up.

Why two dtypes: in float32 two programs that compute the same thing drift apart under Adam, because rounding
noise flips the update of pixels whose gradient is near zero; in float64 that noise is gone, so any remaining
difference is a real difference between the programs. float64 is where "the same program" is proven.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

from . import layers
from .interface import Backend
from .job import noise_image
from .objective import LossWeights, make_objective
from .settings import D2L_CONTENT_LAYERS, D2L_STYLE_LAYERS

# Tolerances (issue 3). float32 runs 10 Adam steps at lr 0.05; float64 runs 60 steps of the d2l settings
# (lr 0.3, x0.8 every 50 steps) so that the decay happens inside the run.
TOLERANCES: dict[str, dict[str, float]] = {
    "float32": {"preprocess": 1e-5, "rel": 1e-4, "steps": 10, "lr": 0.05, "step_rel": 1e-3, "psnr": 40.0},
    "float64": {"preprocess": 1e-10, "rel": 1e-10, "steps": 60, "lr": 0.3, "step_rel": 1e-9, "psnr": 80.0},
}
DECAY_EVERY, DECAY_FACTOR = 50, 0.8
# The HRNet generator's training run: 20 Adam steps of the photoreal-hrnet objective, x0.9 every 10 steps. Not the
# recipe's lr 5e-3: there the training itself is chaotic (a 1e-13 change of one weight in one framework grows to
# 1e-3 in 13 steps, tests/test_pitfalls.py), so no two programs can agree to 1e-9 however exactly they compute.
GENERATOR_STEPS, GENERATOR_LR, GENERATOR_DECAY_EVERY = 20, 1e-4, 10


@dataclass(frozen=True)
class Check:
    """One comparison: what, in which dtype, how far apart, against which tolerance."""

    what: str
    dtype: str
    max_abs: float
    max_rel: float
    tolerance: str
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        """The check as JSON-friendly values."""
        return asdict(self)


def differences(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(max |a - b|, max |a - b| / max |b|) as float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    scale = float(np.abs(b).max()) if b.size else 0.0
    return diff, (diff / scale if scale > 0 else diff)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two 8-bit images, in dB (inf when identical)."""
    mse = float(((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def rel_check(what: str, dtype: str, a: np.ndarray, b: np.ndarray, tol: float) -> Check:
    """A check passing when the relative difference is at most tol."""
    diff, rel = differences(a, b)
    return Check(what, dtype, diff, rel, f"rel <= {tol:g}", rel <= tol)


def trajectory(
    ops: Backend,
    content: Image.Image,
    style: Image.Image,
    size: tuple[int, int],
    dtype: str,
    init: str,
    steps: int,
    lr: float,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(losses of every step, shape (steps, 4); the final image as 8-bit pixels) of a d2l-layer Adam run."""
    content_X, style_X = ops.preprocess(content, size, dtype), ops.preprocess(style, size, dtype)
    objective = make_objective(ops, content_X, style_X, D2L_CONTENT_LAYERS, D2L_STYLE_LAYERS, seed=seed, dtype=dtype)
    init_X = content_X if init == "content" else ops.to_tensor(noise_image(seed, size), dtype)
    trainer = ops.trainer(ops.synthesized_image(init_X), objective, lr, DECAY_EVERY, DECAY_FACTOR)
    history = np.array([trainer.step() for _ in range(steps)])
    return history, np.asarray(ops.postprocess(trainer.image()), np.float64)


def run(
    a: Backend,
    b: Backend,
    content: Image.Image,
    style: Image.Image,
    size: tuple[int, int] = (48, 64),
    dtypes: Sequence[str] = ("float32", "float64"),
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[Check]:
    """Every check, backend a against backend b."""
    checks: list[Check] = []
    say = progress or (lambda message: None)
    for dtype in dtypes:
        tol = TOLERANCES[dtype]
        say(f"{dtype}: preprocessing")
        pa, pb = a.to_numpy(a.preprocess(content, size, dtype)), b.to_numpy(b.preprocess(content, size, dtype))
        diff, rel = differences(pa, pb)
        checks.append(
            Check("preprocessing", dtype, diff, rel, f"abs <= {tol['preprocess']:g}", diff <= tol["preprocess"])
        )
        checks += feature_checks(a, b, pa, dtype, seed, say)
        checks += loss_checks(a, b, content, style, size, dtype, seed)
        say(f"{dtype}: HRNet generator output and {GENERATOR_STEPS} training steps")
        checks += generator_checks(a, b, content, style, size, dtype, seed)
        for init in ("content", "noise"):
            say(f"{dtype}: {tol['steps']:.0f} Adam steps from {init} init")
            steps, lr = int(tol["steps"]), tol["lr"]
            ha, ia = trajectory(a, content, style, size, dtype, init, steps, lr, seed)
            hb, ib = trajectory(b, content, style, size, dtype, init, steps, lr, seed)
            checks.append(trajectory_check(a, b, content, style, size, dtype, init, seed, ha, hb))
            quality = psnr(ia, ib)
            diff = float(np.abs(ia - ib).max())
            checks.append(
                Check(
                    f"{init} init: final 8-bit images, PSNR {quality:.1f} dB",
                    dtype,
                    diff,
                    diff / 255,
                    f"PSNR >= {tol['psnr']:g} dB",
                    quality >= tol["psnr"],
                )
            )
    return checks


def trajectory_check(
    a: Backend,
    b: Backend,
    content: Image.Image,
    style: Image.Image,
    size: tuple[int, int],
    dtype: str,
    init: str,
    seed: int,
    ha: np.ndarray,
    hb: np.ndarray,
) -> Check:
    """Per-step losses of both backends' runs against the tolerance, or, in float32, against rounding.

    A float32 Adam run is itself up to a few 1e-3 from the same run in float64 (docs/porting.md, "float32 Adam
    runs drift"), more than the 1e-3 tolerance at some inputs, so no float32 program can be held to it there.
    Beyond the tolerance, the row runs both backends in float64 too and passes only if those agree to 1e-12:
    then the float32 difference is rounding, since |a32 - b32| <= |a32 - a64| + |a64 - b64| + |b64 - b32| at
    every step and loss (checked). The row then rests on float64 parity, which is where sameness is proven; it
    says so, with each backend's own float32 error.
    """
    tol = TOLERANCES[dtype]
    steps, lr = int(tol["steps"]), tol["lr"]
    diff, rel = step_differences(ha, hb)
    what = f"{steps} Adam steps (lr {lr:g}) from {init} init: losses of every step"
    if rel <= tol["step_rel"] or dtype != "float32":
        return Check(what, dtype, diff, rel, f"rel <= {tol['step_rel']:g}", rel <= tol["step_rel"])
    a64 = trajectory(a, content, style, size, "float64", init, steps, lr, seed)[0]
    b64 = trajectory(b, content, style, size, "float64", init, steps, lr, seed)[0]
    own_a, own_b = step_differences(ha, a64)[1], step_differences(hb, b64)[1]
    # the triangle inequality, evaluated with a 1e-12 relative slack: it is tight when the two float32 runs
    # round to opposite sides of the exact value
    bound = np.abs(ha - a64) + np.abs(a64 - b64) + np.abs(b64 - hb) + 1e-12 * np.abs(a64)
    explained = bool(np.all(np.abs(ha - hb) <= bound)) and step_differences(a64, b64)[1] <= 1e-12
    what += f" (over 1e-3; each backend alone is {own_a:.1e} and {own_b:.1e} from its float64 run)"
    return Check(what, dtype, diff, rel, "rel <= 0.001 or rounding", explained)


def generator_run(
    ops: Backend, content: Image.Image, style: Image.Image, size: tuple[int, int], dtype: str, seed: int
) -> np.ndarray:
    """Losses of every step, shape (steps, 4), of training the seeded HRNet generator on the photoreal objective."""
    from .photoreal import random_generator
    from .photoreal_objective import PhotorealObjective
    from .presets import get

    recipe = get("photoreal-hrnet").values
    names = tuple(dict.fromkeys(recipe["content_layers"] + recipe["style_layers"]))
    net = ops.vgg19("random", seed=seed, dtype=dtype, upto=layers.deepest(names).name)
    content_X, style_X = ops.preprocess(content, size, dtype), ops.preprocess(style, size, dtype)
    weights = LossWeights(recipe["content_weight"], recipe["style_weight"], 0.0, recipe["style_layer_weights"])
    objective = PhotorealObjective(
        ops,
        ops.feature_extractor(net, names),
        recipe["content_layers"],
        recipe["style_layers"],
        content_X,
        style_X,
        weights,
    )
    generator = ops.generator(random_generator(seed), dtype)
    trainer = ops.trainer(
        generator, objective, GENERATOR_LR, GENERATOR_DECAY_EVERY, recipe["lr_decay_factor"], inputs=(content_X,)
    )
    return np.array([trainer.step() for _ in range(GENERATOR_STEPS)])


def generator_checks(
    a: Backend, b: Backend, content: Image.Image, style: Image.Image, size: tuple[int, int], dtype: str, seed: int
) -> list[Check]:
    """The seeded HRNet generator's output for the content image, and a training run's losses at every step.

    The size is cut down to multiples of 4, which the generator needs. float32 runs are held to rel <= 1e-3 or,
    beyond it, to rounding, exactly as trajectory_check holds the Gatys runs: training the generator in float32
    is itself up to a few 1e-3 from float64 in either framework.
    """
    from .photoreal import random_generator

    size = (size[0] // 4 * 4, size[1] // 4 * 4)
    tol = TOLERANCES[dtype]
    outputs = []
    for ops in (a, b):
        generator = ops.generator(random_generator(seed), dtype)
        outputs.append(ops.to_numpy(generator(ops.preprocess(content, size, dtype))))
    checks = [rel_check("HRNet generator: output for the content image", dtype, outputs[0], outputs[1], tol["rel"])]
    ha, hb = (generator_run(ops, content, style, size, dtype, seed) for ops in (a, b))
    diff, rel = step_differences(ha, hb)
    what = f"HRNet generator: {GENERATOR_STEPS} Adam steps (lr {GENERATOR_LR:g}): losses of every step"
    if rel <= tol["step_rel"] or dtype != "float32":
        return [*checks, Check(what, dtype, diff, rel, f"rel <= {tol['step_rel']:g}", rel <= tol["step_rel"])]
    a64, b64 = (generator_run(ops, content, style, size, "float64", seed) for ops in (a, b))
    own_a, own_b = step_differences(ha, a64)[1], step_differences(hb, b64)[1]
    bound = np.abs(ha - a64) + np.abs(a64 - b64) + np.abs(b64 - hb) + 1e-12 * np.abs(a64)
    explained = bool(np.all(np.abs(ha - hb) <= bound)) and step_differences(a64, b64)[1] <= 1e-12
    what += f" (over 1e-3; each backend alone is {own_a:.1e} and {own_b:.1e} from its float64 run)"
    return [*checks, Check(what, dtype, diff, rel, "rel <= 0.001 or rounding", explained)]


def step_differences(ha: np.ndarray, hb: np.ndarray) -> tuple[float, float]:
    """Largest absolute and relative difference of any loss at any step (a loss that is 0 in both is equal)."""
    diff = np.abs(ha - hb)
    scale = np.abs(hb)
    rel = np.where(diff == 0, 0.0, diff / np.where(scale > 0, scale, 1.0))
    return float(diff.max()), float(rel.max())


def feature_checks(a: Backend, b: Backend, X: np.ndarray, dtype: str, seed: int, say) -> list[Check]:
    """The output of every named VGG-19 layer, max and average pooling."""
    checks = []
    for pooling in ("max", "avg"):
        say(f"{dtype}: features, {pooling} pooling")
        outputs = []
        for ops in (a, b):
            net = ops.vgg19("random", seed=seed, pooling=pooling, dtype=dtype)
            out = ops.feature_extractor(net, layers.NAMES)(ops.asarray(X))
            outputs.append({name: ops.to_numpy(value) for name, value in out.items()})
        for name in layers.NAMES:
            checks.append(
                rel_check(
                    f"features {name} ({pooling} pooling)",
                    dtype,
                    outputs[0][name],
                    outputs[1][name],
                    TOLERANCES[dtype]["rel"],
                )
            )
    return checks


def branches(ops: Backend, pixels: np.ndarray, dtype: str, seed: int, upto: str = "conv5_1") -> dict[str, np.ndarray]:
    """The branch VGG-19 takes at every ReLU (input > 0) and max-pool window (which input is largest) up to a layer.

    The gradient is discontinuous where a ReLU input is 0 or two inputs of a pooling window are equal; near such
    a point, float32 rounding decides the branch, and one branch taken differently changes the gradient of every
    pixel below it by far more than rounding (a pitfall in docs/porting.md).
    """
    last = layers.resolve(upto)
    convs = [c for c in layers.CONV_LAYERS if c.index < last.index]  # followed by a ReLU inside the graph
    before_pools = [layers.VGG19[p.index - 1] for p in layers.VGG19 if p.kind == "pool" and p.index <= last.index]
    net = ops.vgg19("random", seed=seed, dtype=dtype, upto=last.name)
    names = [layer.name for layer in convs + before_pools]
    out = {k: ops.to_numpy(v) for k, v in ops.feature_extractor(net, names)(ops.to_tensor(pixels, dtype)).items()}
    pattern = {c.name: out[c.name] > 0 for c in convs}
    for layer in before_pools:
        a = out[layer.name][0]
        c, h, w = a.shape[0], a.shape[1] // 2, a.shape[2] // 2
        windows = a[:, : 2 * h, : 2 * w].reshape(c, h, 2, w, 2).transpose(0, 1, 3, 2, 4).reshape(c, h, w, 4)
        pattern[layer.name] = np.where(windows.max(axis=-1) > 0, windows.argmax(axis=-1), -1)
    return pattern


def same_branches(p: dict[str, np.ndarray], q: dict[str, np.ndarray]) -> bool:
    """Whether two branch patterns agree everywhere."""
    return all(np.array_equal(p[name], q[name]) for name in p)


def branch_stable_pixels(
    a: Backend, b: Backend, size: tuple[int, int], dtype: str, seed: int, tries: int = 20
) -> tuple[np.ndarray, int]:
    """Random pixels (and their index) at which both backends in ``dtype`` branch as float64 does everywhere."""
    for k in range(tries):
        pixels = np.random.default_rng([seed, 7, k]).integers(0, 256, (*size, 3), dtype=np.uint8)
        truth = branches(a, pixels, "float64", seed)
        if all(same_branches(branches(ops, pixels, dtype, seed), truth) for ops in (a, b)):
            return pixels, k
    return pixels, -1


def loss_checks(
    a: Backend, b: Backend, content: Image.Image, style: Image.Image, size: tuple[int, int], dtype: str, seed: int
) -> list[Check]:
    """gram, content, style, TV and total loss on identical inputs, and the gradient of the total loss."""
    tol = TOLERANCES[dtype]["rel"]
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((1, 64, size[0] // 2, size[1] // 2)).astype(dtype)
    Z = rng.standard_normal(Y.shape).astype(dtype)
    X = rng.standard_normal((1, 3, *size)).astype(dtype)
    G = (Z.reshape(64, -1) @ Z.reshape(64, -1).T / Z.size).astype(dtype)
    results: dict[str, list[np.ndarray]] = {}
    pixels, k = branch_stable_pixels(a, b, size, dtype, seed)
    where = (
        f"at random image {k}, where both branch as float64 at every ReLU and max-pool"
        if k >= 0
        else ("at a random image: NO image of 20 tried has both backends branch as float64 does")
    )
    for ops in (a, b):
        t = ops.asarray
        results.setdefault("gram", []).append(ops.to_numpy(ops.gram(t(Y))))
        results.setdefault("content loss", []).append(ops.to_numpy(ops.content_loss(t(Y), t(Z))))
        results.setdefault("style loss", []).append(ops.to_numpy(ops.style_loss(t(Y), t(G))))
        results.setdefault("TV loss", []).append(ops.to_numpy(ops.tv_loss(t(X))))
        objective = make_objective(
            ops,
            ops.preprocess(content, size, dtype),
            ops.preprocess(style, size, dtype),
            D2L_CONTENT_LAYERS,
            D2L_STYLE_LAYERS,
            LossWeights(),
            seed=seed,
            dtype=dtype,
        )
        losses, grad = ops.gradient(objective, ops.to_tensor(pixels, dtype))
        results.setdefault("total loss (d2l layers and weights)", []).append(np.array(losses))
        results.setdefault(f"gradient of the total loss w.r.t. the image ({where})", []).append(ops.to_numpy(grad))
    checks = [rel_check(what, dtype, va, vb, tol) for what, (va, vb) in results.items()]
    return [replace(c, passed=False) if "NO image" in c.what else c for c in checks]


def table(checks: Sequence[Check], names: tuple[str, str]) -> str:
    """The checks as a fixed-width text table."""
    first = f"what is compared ({names[0]} vs {names[1]})"
    width = max([len(first)] + [len(c.what) for c in checks])
    header = f"{first:{width}s}  {'dtype':8s} {'max abs':>9s} {'max rel':>9s}  {'tolerance':16s} result"
    lines = [header, "-" * len(header)]
    for c in checks:
        verdict = "pass" if c.passed else "FAIL"
        lines.append(f"{c.what:{width}s}  {c.dtype:8s} {c.max_abs:9.2e} {c.max_rel:9.2e}  {c.tolerance:16s} {verdict}")
    failed = sum(not c.passed for c in checks)
    lines.append(f"{len(checks) - failed} of {len(checks)} checks pass" + (f"; {failed} FAIL" if failed else ""))
    return "\n".join(lines)
