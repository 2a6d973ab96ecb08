"""`--precision auto`: the precision a run computes in, chosen before any framework loads.

auto is bf16 where the run is on a CPU with bf16 units (AMX, AVX-512 bf16, Arm BF16) and its backend runs bf16 on a
CPU (backends/<name>/precision.toml), else fp32. bf16 is the fast mode: VGG in bfloat16, the losses in float32
(docs/speed.md). A CPU whose flags cannot be read counts as one without bf16 units: bf16 there may run 40x slower
than fp32 (common/core/cpu.py). On a GPU auto is fp32: nothing here measured what a GPU does best.
"""

from __future__ import annotations

from . import cpu, registry

AUTO = "auto"


def bf16_on_cpu(backend: str) -> bool:
    """Whether a backend runs --precision bf16 on a CPU with bf16 units (its precision.toml, no framework import)."""
    return bool(registry.declared(backend, "precision")["bf16_on_cpu"])


def auto(backend: str, device: str, text: str | None = None) -> tuple[str, str]:
    """(precision, why) for --precision auto on ``device`` with this CPU (``text``: /proc/cpuinfo's, for tests)."""
    if device != "cpu":
        return "fp32", f"auto chooses bf16 on CPUs only; on {device} give --precision bf16 or fp16 yourself"
    if not bf16_on_cpu(backend):
        return "fp32", f"the {backend} backend does not run bf16 on a CPU"
    units = cpu.bf16_units(text)
    if units is None:
        return "fp32", "this CPU's flags cannot be read, so its bf16 units are unknown"
    if not units:
        return "fp32", f"this CPU ({cpu.model(text)}) has no bf16 units"
    return "bf16", f"this CPU ({cpu.model(text)}) has bf16 units"
