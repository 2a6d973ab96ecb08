"""What the CPU is and which reduced precision it runs fast: read from /proc/cpuinfo, no framework needed."""

from __future__ import annotations

import os
import platform

from .errors import UserError

# CPU flags of bf16 matrix arithmetic: Intel AMX and AVX-512 bf16 (x86), the BF16 extension (Arm, "Features").
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16", "bf16"})
# CPU flags of fp16 arithmetic: AVX-512 FP16 and AMX FP16 (x86), half-precision float and SIMD (Arm). Not f16c,
# which only converts fp16 to and from fp32 (AMD EPYC Zen 3 and Zen 4 have it and emulate fp16 products).
FP16_FLAGS = frozenset({"avx512_fp16", "amx_fp16", "fphp", "asimdhp"})


def cpuinfo() -> str:
    """The text of /proc/cpuinfo (or of the file $NST_CPUINFO names: tests play other CPUs), "" where there is none."""
    try:
        with open(os.environ.get("NST_CPUINFO") or "/proc/cpuinfo", encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def model(text: str | None = None) -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    for line in (cpuinfo() if text is None else text).splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def flags(text: str | None = None) -> frozenset[str] | None:
    """The first CPU's feature flags ("flags" on x86, "Features" on Arm), or None where they cannot be read."""
    for line in (cpuinfo() if text is None else text).splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def bf16_units(text: str | None = None) -> bool | None:
    """Whether the CPU has bf16 matrix arithmetic (AMX, AVX-512 bf16, Arm BF16); None where unknown."""
    found = flags(text)
    return None if found is None else bool(found & BF16_FLAGS)


def fp16_units(text: str | None = None) -> bool | None:
    """Whether the CPU has fp16 arithmetic (AVX-512 FP16, AMX FP16, Arm FP16); None where unknown."""
    found = flags(text)
    return None if found is None else bool(found & FP16_FLAGS)


def units(precision: str, text: str | None = None) -> bool | None:
    """Whether the CPU has arithmetic units for a precision (fp32 always; bf16, fp16 by its flags); None if unknown."""
    if precision == "fp32":
        return True
    return {"bf16": bf16_units, "fp16": fp16_units}[precision](text)


def channels_last_fp32(text: str | None = None) -> bool:
    """Whether torch's float32 convolutions run channels_last here: on x86 CPUs with AVX2 and no AVX-512.

    Measured on an AMD EPYC Zen 3 (AVX2 only): a d2l step at 300x450 was 20% faster channels_last, the convolutions
    as accurate as NCHW. With AVX-512 oneDNN's channels_last float32 kernels were 3x less accurate on a Sapphire
    Rapids Xeon and 6x on an AMD EPYC Zen 4 (1.8e-6 against 3.0e-7 relative), enough to fail float32 gradient parity
    (porting guide, pitfall 16), so NCHW stays there and wherever flags are unknown.
    """
    found = flags(text)
    return found is not None and "avx2" in found and "avx512f" not in found


RESUMED_BF16 = (
    "the checkpoint was made in bf16: resume it on a CPU with bf16 units, or start again with --precision fp32"
)


def check_precision(precision: str, device: str, resuming: bool = False) -> None:
    """UserError for --precision bf16 on a CPU known to lack bf16 units, where it would run far slower than fp32
    (a resumed run cannot change its precision, so it is not told to use fp32).

    Measured on an AMD EPYC Zen 3 (AVX2 only): a bf16 matrix product ran at 0.9 GFLOP/s against fp32's 165, and a
    torch step of the d2l recipe at 300x450 took 74 s in bf16 against 2.0 s in fp32.
    """
    if precision == "bf16" and device == "cpu" and bf16_units() is False:
        advice = RESUMED_BF16 if resuming else "use --precision fp32"
        raise UserError(
            f"--precision bf16 needs a CPU with bf16 units (AMX or AVX-512 bf16); this one ({model()}) has none "
            f"and would run it about 40x slower than fp32: {advice}"
        )
