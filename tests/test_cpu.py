"""common.cpu: the CPU's model and flags read from /proc/cpuinfo, and which precisions it runs fast.

Each decision is checked on the three CPU kinds the suite must pass on (conftest.CPU_KINDS: Sapphire Rapids, AMD
EPYC Zen 3 and Zen 4), played with their real flag lines whatever this machine is.
"""

from __future__ import annotations

import pytest
from conftest import CPU_DECISIONS, CPU_KINDS, get_backend

from common.core import cpu
from common.core.errors import UserError

X86 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu\n"
ARM = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd sve bf16 i8mm\nCPU implementer\t: 0x41\n"
ARM_FP16 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid\n"


def info(kind: str) -> str:
    """The /proc/cpuinfo text of one of conftest.CPU_KINDS."""
    model, flags = CPU_KINDS[kind]
    return f"processor\t: 0\nmodel name\t: {model}\nflags\t\t: {flags}\n"


def test_model_and_flags_come_from_the_first_cpu() -> None:
    assert cpu.model(X86) == "AMD EPYC"
    assert cpu.flags(X86) == {"fpu", "avx", "avx2", "fma"}
    assert cpu.flags(ARM) == {"fp", "asimd", "sve", "bf16", "i8mm"}
    assert cpu.flags("") is None and cpu.bf16_units("") is None and cpu.fp16_units("") is None
    assert cpu.model(info("zen3")) == "AMD EPYC 7763 64-Core Processor"


@pytest.mark.parametrize("kind", sorted(CPU_KINDS))
def test_each_cpu_kind_gets_its_own_precision_units_and_layout(kind: str) -> None:
    want = CPU_DECISIONS[kind]
    assert cpu.bf16_units(info(kind)) is want["bf16"] and cpu.units("bf16", info(kind)) is want["bf16"]
    assert cpu.fp16_units(info(kind)) is want["fp16"] and cpu.units("fp16", info(kind)) is want["fp16"]
    assert cpu.units("fp32", info(kind)) is True
    # oneDNN's AVX-512 channels_last float32 kernels are less accurate (porting guide, pitfall 16): NCHW there
    assert cpu.channels_last_fp32(info(kind)) is want["channels_last_fp32"]


def test_fp16_units_are_avx512_fp16_amx_fp16_or_arm_fphp_and_not_f16c() -> None:
    assert cpu.fp16_units(ARM_FP16) is True and cpu.fp16_units(ARM) is False
    assert cpu.fp16_units(X86.replace("fma", "fma f16c")) is False  # f16c only converts fp16 <-> fp32
    assert cpu.fp16_units(X86.replace("fma", "fma amx_fp16")) is True
    assert cpu.bf16_units(ARM) is True and cpu.bf16_units(X86) is False


def test_channels_last_fp32_is_nchw_where_the_cpu_is_not_known() -> None:
    assert cpu.channels_last_fp32(X86) is True
    assert cpu.channels_last_fp32(ARM) is False and cpu.channels_last_fp32("") is False  # not measured: NCHW


def test_check_precision_refuses_bf16_only_on_a_cpu_known_to_lack_bf16_units(cpu_kind, tmp_path, monkeypatch) -> None:
    model = CPU_KINDS[cpu_kind][0]
    if CPU_DECISIONS[cpu_kind]["bf16"]:
        cpu.check_precision("bf16", "cpu")
    else:
        with pytest.raises(UserError, match=rf"this one \({model}\) has none"):
            cpu.check_precision("bf16", "cpu")
    cpu.check_precision("fp32", "cpu")
    cpu.check_precision("bf16", "cuda:0")  # a GPU's bf16 is its own business
    monkeypatch.setenv("NST_CPUINFO", str(tmp_path / "missing"))
    cpu.check_precision("bf16", "cpu")  # flags unknown (no /proc/cpuinfo): not refused


def test_the_torch_backend_lays_float32_out_as_the_played_cpu_decides(cpu_kind) -> None:
    ops = get_backend("torch")
    net = ops.vgg19("random", upto="conv1_1")
    assert ops.feature_extractor(net, ["conv1_1"]).module.channels_last is CPU_DECISIONS[cpu_kind]["channels_last_fp32"]
    assert ops.feature_extractor(net, ["conv1_1"], "bf16").module.channels_last is True  # every CPU: oneDNN's bf16
