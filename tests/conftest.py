"""Shared fixtures: backends (required ones fail rather than skip), small images and image files."""

from __future__ import annotations

import os

# Tests import torch in places before the torch backend does; the backend's reproducibility setting
# (MKL_CBWR, read when MKL loads) must be in place before any of them.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
# The JAX backend keeps XLA's compiled programs on disk (by default in the user's cache): the session's processes (xdist
# workers and the commands tests start, which inherit this) share one fresh folder, so a program a test compiled is
# not compiled again in the next process, and nothing from outside the session is used.
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    import atexit
    import shutil
    import tempfile

    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="nst-jax-compiled-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
from pathlib import Path

import pytest
from helpers import random_pixels, smooth_image
from PIL import Image
from xdist_groups import pytest_xdist_make_scheduler  # noqa: F401  (the hook: pytest finds it here)

import common

BACKEND_NAMES = common.core.registry.NAMES  # the one list of backends
PAIRS = common.core.registry.pairs()  # every two of them, each pair once
# The pairs the cross-backend tests run: every backend against the first (torch), each once. Agreement is transitive
# within the sum of two tolerances, and each backend's float32 parity rows are judged against its own float64 run,
# so the other pairs (mxnet-jax) add test time and no backend; nst parity itself compares every pair (PAIRS).
COMPARED = [(BACKEND_NAMES[0], name) for name in BACKEND_NAMES[1:]]
# CI sets NST_REQUIRED_BACKENDS=torch,mxnet: a backend listed here that cannot be imported fails every test
# that uses it, so a broken install can never hide behind a skip.
REQUIRED = {name.strip() for name in os.environ.get("NST_REQUIRED_BACKENDS", "").split(",") if name.strip()}

_loaded: dict[str, common.Backend] = {}


def get_backend(name: str) -> common.Backend:
    """The backend, loaded once per session; fail if it is required and will not import, else skip."""
    if name not in _loaded:
        try:
            _loaded[name] = common.load_backend(name)
        except common.BackendUnavailable as e:
            if name in REQUIRED:
                pytest.fail(f"backend {name} is required (NST_REQUIRED_BACKENDS) but will not import: {e}")
            pytest.skip(f"backend {name} not installed: {e}")
    return _loaded[name]


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> common.Backend:
    """Each backend in turn."""
    return get_backend(request.param)


def pair_id(pair: tuple[str, str]) -> str:
    """A pair's name in test ids: "torch-mxnet"."""
    return "-".join(pair)


@pytest.fixture(params=COMPARED, ids=pair_id)
def both(request: pytest.FixtureRequest) -> tuple[common.Backend, common.Backend]:
    """Each backend of the registry with the first (torch) in turn, for cross-backend comparisons."""
    return get_backend(request.param[0]), get_backend(request.param[1])


@pytest.fixture
def every_backend() -> tuple[common.Backend, ...]:
    """Every backend of the registry, loaded (for a command that compares all that are installed)."""
    return tuple(get_backend(name) for name in BACKEND_NAMES)


@pytest.fixture
def image_files(tmp_path: Path) -> tuple[Path, Path]:
    """A content and a style image file, 48x64 and 40x40."""
    content, style = tmp_path / "content.png", tmp_path / "style.jpg"
    smooth_image(48, 64, seed=1).save(content)
    Image.fromarray(random_pixels(40, 40, seed=2)).save(style, quality=95)
    return content, style


# What this machine's CPU really has, before any test plays another CPU: MXNet 1.9's oneDNN has no bf16
# convolution without AVX-512 ("could not create a primitive descriptor"), so its bf16 path cannot run here.
REAL_CPUINFO = common.core.cpu.cpuinfo()
REAL_BF16_UNITS, REAL_CPU = common.core.cpu.bf16_units(REAL_CPUINFO), common.core.cpu.model(REAL_CPUINFO)


def skip_without_avx512(what: str) -> None:
    """Skip a test of oneDNN behaviour seen on an AVX-512 Xeon and not on an AVX2-only CPU (other kernels there)."""
    flags = common.core.cpu.flags(REAL_CPUINFO)
    if flags is not None and "avx512f" not in flags:
        pytest.skip(f"{what}: seen with oneDNN's AVX-512 kernels; this CPU ({REAL_CPU}) has no AVX-512")


def skip_mxnet_bf16_without_units(name: str) -> None:
    """Skip an MXNet bf16 test on a CPU without bf16 units, where MXNet cannot build a bf16 convolution."""
    if name == "mxnet" and REAL_BF16_UNITS is False:
        pytest.skip(f"MXNet's oneDNN has no bf16 convolution on this CPU ({REAL_CPU}: no AVX-512 bf16)")


def skip_jax_reduced_precision(name: str) -> None:
    """Skip a test of bf16/fp16 arithmetic on jax: it refuses them on a CPU, where XLA computes float32's forward
    pass (tests/test_jax.py tests the refusal, tests/test_pitfalls_jax.py what XLA does)."""
    if name == "jax":
        pytest.skip('jax refuses --precision bf16/fp16 on a CPU (docs/porting.md, pitfall "bfloat16 on a CPU")')


# The three CPU kinds the suite must pass on, as /proc/cpuinfo shows them (model name, flags): tests play each on any
# machine ($NST_CPUINFO) to check the decisions the product makes from them. Sapphire Rapids: AVX-512, AMX and
# AVX-512 bf16 and fp16 units. AMD EPYC Zen 3: AVX2 only, no bf16 or fp16 units (f16c only converts). Zen 4 (the flags
# line of a real one, a 2-core VM whose model name reads only "AMD EPYC"): AVX-512 with AVX-512 bf16, no AMX, no fp16.
CPU_KINDS = {
    "sapphire-rapids": (
        "Intel(R) Xeon(R) Platinum 8480+",
        "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss "
        "ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology "
        "nonstop_tsc cpuid aperfmperf tsc_known_freq pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg "
        "fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand "
        "lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cat_l2 cdp_l3 invpcid_single intel_ppin cdp_l2 ssbd mba "
        "ibrs ibpb stibp ibrs_enhanced tpr_shadow flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 avx2 smep "
        "bmi2 erms invpcid cqm rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb intel_pt avx512cd "
        "sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local "
        "split_lock_detect avx_vnni avx512_bf16 wbnoinvd dtherm ida arat pln pts hwp hwp_act_window hwp_epp "
        "hwp_pkg_req vnmi avx512vbmi umip pku ospke waitpkg avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni "
        "avx512_bitalg tme avx512_vpopcntdq la57 rdpid bus_lock_detect cldemote movdiri movdir64b enqcmd fsrm md_clear "
        "serialize tsxldtrk pconfig arch_lbr ibt amx_bf16 avx512_fp16 amx_tile amx_int8 flush_l1d arch_capabilities",
    ),
    "zen3": (
        "AMD EPYC 7763 64-Core Processor",
        "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall "
        "nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf "
        "rapl pni pclmulqdq monitor ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand "
        "lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce "
        "topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 invpcid_single hw_pstate ssbd mba "
        "ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed adx smap clflushopt clwb "
        "sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf "
        "xsaveerptr rdpru wbnoinvd amd_ppin brs arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid "
        "decodeassists pausefilter pfthreshold v_vmsave_vmload vgif v_spec_ctrl umip pku ospke vaes vpclmulqdq rdpid "
        "overflow_recov succor smca fsrm",
    ),
    "zen4": (
        "AMD EPYC 9654 96-Core Processor",
        "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall "
        "nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid extd_apicid "
        "tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes "
        "xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw "
        "topoext cpuid_fault vmmcall fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed adx "
        "smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx512_bf16 "
        "clzero xsaveerptr arat avx512vbmi umip avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg "
        "avx512_vpopcntdq rdpid fsrm",
    ),
}

# What the product decides on each kind: bf16 units (else bf16 is refused), fp16 units, float32 channels_last.
CPU_DECISIONS = {
    "sapphire-rapids": {"bf16": True, "fp16": True, "channels_last_fp32": False},
    "zen3": {"bf16": False, "fp16": False, "channels_last_fp32": True},
    "zen4": {"bf16": True, "fp16": False, "channels_last_fp32": False},
}


def play_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: str, model: str = "Test CPU") -> None:
    """Make this process and its children read a /proc/cpuinfo with these flags (common.cpu, $NST_CPUINFO)."""
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: {model}\nflags\t\t: {flags}\n", encoding="utf-8")
    monkeypatch.setenv("NST_CPUINFO", str(info))


def play_cpu_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """Play one of CPU_KINDS, under its own model name."""
    model, flags = CPU_KINDS[kind]
    play_cpu(tmp_path, monkeypatch, flags, model)


@pytest.fixture(params=sorted(CPU_KINDS))
def cpu_kind(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each of the three CPU kinds in turn, played whatever this machine has; the kind's name."""
    play_cpu_kind(tmp_path, monkeypatch, request.param)
    return request.param


@pytest.fixture
def cpu_with_bf16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Sapphire Rapids (AMX and AVX-512 bf16 and fp16 units) named "Test CPU", whatever this machine has: the bf16
    path runs (slowly where it is emulated)."""
    play_cpu(tmp_path, monkeypatch, CPU_KINDS["sapphire-rapids"][1])


@pytest.fixture
def cpu_without_bf16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An AMD EPYC Zen 3 (AVX2, no bf16 or fp16 units) named "Test CPU", whatever this machine has."""
    play_cpu(tmp_path, monkeypatch, CPU_KINDS["zen3"][1])


@pytest.fixture
def cpu_zen4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An AMD EPYC Zen 4 (AVX-512 bf16 units, no fp16 units, no AMX) named "Test CPU", whatever this machine has."""
    play_cpu(tmp_path, monkeypatch, CPU_KINDS["zen4"][1])
