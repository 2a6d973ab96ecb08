"""common.cpu: the CPU's model and flags read from /proc/cpuinfo, and which precisions it runs fast."""

from __future__ import annotations

import pytest

from common.core import cpu
from common.core.errors import UserError

X86 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu\n"
SPR = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16\n"
ARM = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd sve bf16 i8mm\nCPU implementer\t: 0x41\n"


def test_model_and_flags_come_from_the_first_cpu() -> None:
    assert cpu.model(X86) == "AMD EPYC"
    assert cpu.flags(X86) == {"fpu", "avx", "avx2", "fma"}
    assert cpu.flags(ARM) == {"fp", "asimd", "sve", "bf16", "i8mm"}
    assert cpu.flags("") is None and cpu.bf16_units("") is None


def test_bf16_units_are_amx_avx512_bf16_or_arm_bf16() -> None:
    assert cpu.bf16_units(SPR) is True and cpu.bf16_units(ARM) is True
    assert cpu.bf16_units(X86) is False


def test_check_precision_refuses_bf16_only_on_a_cpu_known_to_lack_bf16_units(tmp_path, monkeypatch) -> None:
    from conftest import play_cpu

    play_cpu(tmp_path, monkeypatch, "avx2 fma")
    with pytest.raises(UserError, match=r"this one \(Test CPU\) has none"):
        cpu.check_precision("bf16", "cpu")
    cpu.check_precision("fp32", "cpu")
    cpu.check_precision("bf16", "cuda:0")  # a GPU's bf16 is its own business
    play_cpu(tmp_path, monkeypatch, "avx2 amx_bf16")
    cpu.check_precision("bf16", "cpu")
    monkeypatch.setenv("NST_CPUINFO", str(tmp_path / "missing"))
    cpu.check_precision("bf16", "cpu")  # flags unknown (no /proc/cpuinfo): not refused


def test_channels_last_fp32_only_on_x86_with_avx2_and_no_avx512() -> None:
    assert cpu.channels_last_fp32(X86) is True
    assert cpu.channels_last_fp32(SPR) is False  # oneDNN's AVX-512 channels_last float32 kernels are less accurate
    assert cpu.channels_last_fp32(ARM) is False and cpu.channels_last_fp32("") is False  # not measured: NCHW
