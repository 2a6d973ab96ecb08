"""Are the backends the same program? Every comparison, its measured difference and its tolerance.

``nst parity`` runs these checks on every pair of installed backends (registry.pairs: today one pair, torch and
mxnet) and prints them as a table per pair (or JSON naming each pair); the test suite asserts them. Both backends of
a pair get the same seeded VGG-19 weights and the same images. Relative differences are max |a - b| / max |b| over a
tensor (or over a run's steps), so that zeros in b do not blow them up.

Why two dtypes: in float32 two programs that compute the same thing drift apart under Adam, because rounding
noise flips the update of pixels whose gradient is near zero; in float64 that noise is gone, so any remaining
difference is a real difference between the programs. float64 is where "the same program" is proven.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from ..core import layers, registry
from ..core.errors import UserError
from ..core.interface import Backend, load_backend
from ..core.objective import LossWeights, make_objective
from ..core.recipe import CONTENT_LAYERS, STYLE_LAYERS
from ..jobs import images, record, samples
from ..jobs.settings import check_size
from .branches import branch_stable_pixels, branches, same_branches
from .checks import (
    GENERATOR_LR,
    GENERATOR_STEPS,
    TOLERANCES,
    Check,
    differences,
    psnr,
    rel_check,
    step_differences,
    table,
)
from .envelope import SEEDS
from .memo import Memo
from .recipe_rate import RECIPE_STEPS, recipe_rate_check
from .trajectories import References, generator_checks, trajectory, trajectory_row

ABOUT = {
    "description": f"Compare every pair of installed backends ({', '.join(registry.NAMES)}) on the same seeded VGG-19 "
    "weights and images: preprocessing, every VGG-19 layer (max and avg pooling), each loss, the gradient and whole "
    "Adam runs, in float32 and float64; a table per pair. Exit code 1 if any check fails."
}
# The flags of nst parity: (names, argparse keywords).
FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--content",), {"help": "content image (default: the bundled sample)"}),
    (("--style",), {"help": "style image (default: the bundled sample)"}),
    (("--size",), {"nargs": 2, "type": int, "default": [48, 64], "metavar": ("H", "W"), "help": "(default 48 64)"}),
    (("--dtype",), {"choices": ("float32", "float64", "both"), "default": "both", "help": "(default both)"}),
    (("--seed",), {"type": int, "default": 0, "help": "seed of the random VGG-19 weights (default 0)"}),
    (("--backends",), {"metavar": "A,B[,...]", "help": "compare these (default: every installed backend)"}),
    (("--json",), {"action": "store_true", "help": "print JSON instead of a table"}),
    (("--quiet",), {"action": "store_true", "help": "no progress lines"}),
)
__all__ = [
    "GENERATOR_LR",
    "GENERATOR_STEPS",
    "TOLERANCES",
    "Check",
    "branch_stable_pixels",
    "branches",
    "differences",
    "psnr",
    "run",
    "same_branches",
    "step_differences",
    "table",
    "trajectory",
]


def run(
    a: Backend,
    b: Backend,
    content: Image.Image,
    style: Image.Image,
    size: tuple[int, int] = (48, 64),
    dtypes: Sequence[str] = ("float32", "float64"),
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    references: References | None = None,
    memo: Memo | None = None,
) -> list[Check]:
    """Every check, backend a against backend b (``references`` keeps the float32 rows' float64 runs and
    envelopes, by row, for a caller that judges other float32 runs against them; ``memo`` keeps each backend's
    training runs, by these inputs, for its other pairs)."""
    checks: list[Check] = []
    say = progress or (lambda message: None)
    inputs = inputs_key(content, style, size, seed)
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
        runs = f" (and the float64 runs of the envelope: {SEEDS} noisy, 2 clean)" if dtype == "float32" else ""
        say(f"{dtype}: HRNet generator output and {GENERATOR_STEPS} training steps{runs}")
        checks += generator_checks(a, b, content, style, size, dtype, seed, references, memo, inputs)
        if dtype == "float64":
            say(f"float64: HRNet generator, {RECIPE_STEPS} steps at the recipe's learning rate, on the bundled samples")
            checks.append(recipe_rate_check(a, b, seed, memo))
        for init in ("content", "noise"):
            say(f"{dtype}: {tol['steps']:.0f} Adam steps from {init} init{runs}")
            check, ia, ib = trajectory_row(a, b, content, style, size, dtype, init, seed, references, memo, inputs)
            checks.append(check)
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


def inputs_key(content: Image.Image, style: Image.Image, size: tuple[int, int], seed: int) -> tuple:
    """What a backend's training runs in nst parity depend on besides the backend: the images' pixels, the size
    and the weights' seed (the start of its keys in a memo)."""
    digests = tuple(
        hashlib.blake2b(f"{im.mode}{im.size}".encode() + im.tobytes()).hexdigest() for im in (content, style)
    )
    return (*digests, tuple(size), seed)


def feature_checks(
    a: Backend, b: Backend, X: np.ndarray, dtype: str, seed: int, say: Callable[[str], None]
) -> list[Check]:
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
            CONTENT_LAYERS,
            STYLE_LAYERS,
            LossWeights(),
            seed=seed,
            dtype=dtype,
        )
        losses, grad = ops.gradient(objective, ops.to_tensor(pixels, dtype))
        results.setdefault("total loss (d2l layers and weights)", []).append(np.array(losses))
        results.setdefault(f"gradient of the total loss w.r.t. the image ({where})", []).append(ops.to_numpy(grad))
    checks = [rel_check(what, dtype, va, vb, tol) for what, (va, vb) in results.items()]
    return [replace(c, passed=False) if "NO image" in c.what else c for c in checks]


def command(
    content: str | None,
    style: str | None,
    size: tuple[int, int],
    dtype: str,
    seed: int,
    as_json: bool,
    say: Callable[[str], None] | None,
    backends: str | None = None,
) -> tuple[str, bool]:
    """nst parity: every check on the given images (default: the bundled samples), for every pair of the given
    backends (comma-separated; default every installed one), as tables or JSON, and whether all passed."""
    size = check_size(size)
    if min(size) < layers.min_side(layers.VGG19[-1]):
        raise UserError(f"--size {size[0]} {size[1]}: parity compares every layer down to pool5, which needs 32")
    if seed < 0:
        raise UserError(f"--seed must be a non-negative integer, not {seed}")
    content_img = images.load_image(content or samples.sample_path(samples.CONTENT), "content")
    style_img = images.load_image(style or samples.sample_path(samples.STYLE), "style")
    if backends is not None:
        try:
            names = list(dict.fromkeys(registry.check_names(backends)))
        except ValueError as e:
            raise UserError(f"--backends: {e}") from e
        if len(names) < 2:
            raise UserError(f"--backends {backends!r}: name at least two backends to compare")
    else:
        names = [name for name in registry.NAMES if registry.is_installed(name)]
    if len(names) < 2:
        names = list(registry.NAMES)  # loading each says which framework is missing (BackendUnavailable)
    ops = {name: load_backend(name) for name in names}
    pairs = registry.pairs(names)
    dtypes = ("float32", "float64") if dtype == "both" else (dtype,)
    results = []
    memo: Memo = {}  # a backend's training runs are the same in each of its pairs: made once
    for a, b in pairs:
        tell = say if say is None or len(pairs) == 1 else (lambda message, p=f"{a} vs {b}": say(f"{p}: {message}"))
        results.append(((a, b), run(ops[a], ops[b], content_img, style_img, size, dtypes, seed, tell, memo=memo)))
    passed = all(c.passed for _, checks in results for c in checks)
    left_out = [name for name in registry.NAMES if name not in ops and not registry.is_installed(name)]
    if as_json:
        return json.dumps(report(results, names, left_out, size, seed), indent=2), passed
    return tables(results, left_out), passed


def tables(results: list[tuple[tuple[str, str], list[Check]]], left_out: list[str]) -> str:
    """nst parity's text: a table per pair (one pair: just its table), then the backends not compared."""
    text = "\n\n".join(table(checks, pair) for pair, checks in results)
    if len(results) > 1:
        count = sum(len(checks) for _, checks in results)
        failed = sum(not c.passed for _, checks in results for c in checks)
        text += f"\n\n{len(results)} pairs: {count - failed} of {count} checks pass"
        text += f"; {failed} FAIL" if failed else ""
    for name in left_out:
        text += f"\n{name}: not compared (its framework, {registry.BACKENDS[name][0]}, is not installed)"
    return text


def report(
    results: list[tuple[tuple[str, str], list[Check]]],
    names: list[str],
    left_out: list[str],
    size: tuple[int, int],
    seed: int,
) -> dict[str, Any]:
    """nst parity --json: the backends compared, each pair, and every check naming its pair."""
    return {
        "backends": names,
        "pairs": [list(pair) for pair, _ in results],
        "size": list(size),
        "seed": seed,
        "versions": record.versions(),
        "checks": [{**c.as_dict(), "pair": list(pair)} for pair, checks in results for c in checks],
        "not_installed": left_out,
    }
