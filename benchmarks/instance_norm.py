"""The MXNet generator's instance norm: how accurate each way of writing it is in float32, and what it costs.

Accuracy: a 32-channel 48x64 feature map whose channel means are OFFSET x N(0, 1) and spreads 0.1 to 2, normalized in
float32 by each variant; the output and the gradient of sum(G y) against the same norm in float64, as the largest
difference over the largest value, in units of float32 roundoff (u = 2^-24); torch's instance norm beside them.
Speed: the photoreal-hrnet training step (generator and VGG-19, Adam) at SIZE x SIZE with each variant in the MXNet
generator, and torch's with its float64 and its own float32 instance norm, interleaved round by round (torch and
MXNet in one process: compare each backend's variants with each other, not the backends).

    python benchmarks/instance_norm.py                 # accuracy at offsets 0, 3, 30; speed at 256x256, 3 rounds
    python benchmarks/instance_norm.py --rounds 0      # accuracy only

Writes benchmarks/results/instance_norm_<cpu>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import mxnet as mx  # noqa: E402
from mxnet.gluon import nn  # noqa: E402

from backends.mxnet import generator  # noqa: E402
from common.core import cpu  # noqa: E402
from common.jobs.record import versions  # noqa: E402
from common.studies import bench  # noqa: E402

EPS = generator.EPS


class BatchNormInstanceNorm(nn.HybridBlock):
    """BatchNorm in the network's dtype (the generator's norm until 2026-12-06)."""

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.bn = nn.BatchNorm(axis=1, epsilon=EPS, center=False, scale=False, in_channels=channels)

    def hybrid_forward(self, F: Any, x: Any) -> Any:
        """BatchNorm of the one image."""
        return self.bn(x)


class ShiftedInstanceNorm(BatchNormInstanceNorm):
    """BatchNorm of the data less its channel means (gradient stopped): a shifted one-pass variance."""

    def hybrid_forward(self, F: Any, x: Any) -> Any:
        """BatchNorm of the centred image."""
        return self.bn(F.broadcast_sub(x, F.BlockGrad(F.mean(x, axis=(2, 3), keepdims=True))))


class TwoPassInstanceNorm(nn.HybridBlock):
    """Mean, then the mean of squared deviations, with reduction and broadcast operators."""

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)

    def hybrid_forward(self, F: Any, x: Any) -> Any:
        """(x - mean) / sqrt(var + eps) per channel."""
        d = F.broadcast_sub(x, F.mean(x, axis=(2, 3), keepdims=True))
        return F.broadcast_div(d, F.sqrt(F.mean(F.square(d), axis=(2, 3), keepdims=True) + EPS))


class OperatorInstanceNorm(nn.HybridBlock):
    """MXNet's InstanceNorm operator with a fixed scale 1 and shift 0 (it refuses float64)."""

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.gamma = self.params.get("gamma", shape=(channels,), init="ones", grad_req="null")
            self.beta = self.params.get("beta", shape=(channels,), init="zeros", grad_req="null")

    def hybrid_forward(self, F: Any, x: Any, gamma: Any, beta: Any) -> Any:
        """The operator's normalization."""
        return F.InstanceNorm(x, gamma, beta, eps=EPS)


VARIANTS = {
    "float64 BatchNorm (the product)": generator.InstanceNorm,
    "float32 BatchNorm": BatchNormInstanceNorm,
    "InstanceNorm operator": OperatorInstanceNorm,
    "two-pass": TwoPassInstanceNorm,
    "shifted one-pass": ShiftedInstanceNorm,
}


def inputs(offset: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The feature map (float32 values) and the output gradient."""
    rng = np.random.default_rng(seed)
    shape = (1, 32, 48, 64)
    X = offset * rng.standard_normal((1, 32, 1, 1)) + rng.standard_normal(shape) * rng.uniform(0.1, 2, (1, 32, 1, 1))
    return X.astype(np.float32), rng.standard_normal(shape)


def normalized(block_class: Any, X: np.ndarray, G: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """A variant's output and input gradient, in training mode as the generator runs it."""
    block = block_class(X.shape[1])
    block.initialize()
    block.cast(dtype)
    block.hybridize()
    data = mx.nd.array(X, dtype=dtype)
    data.attach_grad()
    with mx.autograd.record(train_mode=True):
        y = block(data)
        (y * mx.nd.array(G, dtype=dtype)).sum().backward()
    return y.asnumpy().astype(np.float64), data.grad.asnumpy().astype(np.float64)


def torch_normalized(X: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """torch's float32 instance norm: output and input gradient."""
    import torch

    data = torch.tensor(X, requires_grad=True)
    y = torch.nn.functional.instance_norm(data)
    (y * torch.tensor(G, dtype=torch.float32)).sum().backward()
    return y.detach().double().numpy(), data.grad.double().numpy()


def accuracy(offsets: list[float]) -> dict[str, dict[str, list[float]]]:
    """Per variant and offset: (output error, gradient error) in units of float32 roundoff."""
    u = 2.0**-24
    found: dict[str, dict[str, list[float]]] = {}
    for offset in offsets:
        X, G = inputs(offset)
        exact = normalized(TwoPassInstanceNorm, X.astype(np.float64), G, "float64")
        runs = {name: (lambda X, G, c=c: normalized(c, X, G, "float32")) for name, c in VARIANTS.items()}
        runs["torch instance_norm"] = torch_normalized
        for name, run in runs.items():
            y, g = run(X, G)
            errors = [float(np.abs(a - b).max() / np.abs(b).max() / u) for a, b in zip((y, g), exact, strict=True)]
            found.setdefault(name, {})[f"offset {offset:g}"] = errors
    return found


def torch_variants() -> dict[str, object]:
    """The torch generator's instance norm: the product's (float64, rounded once) and torch's own in float32."""
    import torch.nn.functional as F

    from backends.torch import generator as torch_generator

    return {"torch: float64 (the product)": torch_generator.instance_norm, "torch: float32": F.instance_norm}


def speed(size: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per photoreal training step with each variant, interleaved round by round (torch's, then MXNet's)."""
    from backends.torch import generator as torch_generator

    torch_norms = torch_variants()
    times: dict[str, list[float]] = {name: [] for name in [*torch_norms, *VARIANTS]}
    for r in range(rounds):
        for name, norm in torch_norms.items():
            torch_generator.instance_norm = norm
            times[name] += bench.photoreal_step_times("torch", (size, size), 1, 3)
        for name, block_class in VARIANTS.items():
            generator.InstanceNorm = block_class
            times[name] += bench.photoreal_step_times("mxnet", (size, size), 1, 3)
        print(f"round {r + 1}: " + ", ".join(f"{k} {np.median(v):.3f}" for k, v in times.items()), flush=True)
    torch_generator.instance_norm = torch_norms["torch: float64 (the product)"]
    generator.InstanceNorm = VARIANTS["float64 BatchNorm (the product)"]
    return times


def main() -> int:
    """Measure, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    acc = accuracy([0.0, 3.0, 30.0])
    for name, by_offset in acc.items():
        cells = "; ".join(f"{k}: {y:.1f} u / {g:.1f} u" for k, (y, g) in by_offset.items())
        print(f"{name:32} output / gradient error: {cells}")
    times = speed(args.size, args.rounds) if args.rounds else {}
    for name, t in times.items():
        base = np.median(times["torch: float32" if name.startswith("torch") else "float32 BatchNorm"])
        print(f"{name:32} {np.median(t):.3f} s/step ({np.median(t) / base:.2f}x the float32 norm)")
    slug = "".join(ch if ch.isalnum() else "_" for ch in cpu.model()).strip("_").lower()
    out = Path(args.out) if args.out else HERE / "results" / f"instance_norm_{slug}.json"
    doc = {"machine": versions(), "size": args.size, "accuracy_units": acc, "step_seconds": times}
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
