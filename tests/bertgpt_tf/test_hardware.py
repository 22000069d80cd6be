"""`hardware.cpu_has_bf16` reads the /proc/cpuinfo lines the budget recipe's precision
follows; `native_bf16` answers for the machine the tests run on."""

import pytest

from bertgpt_tf import hardware

INTEL_SPR = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
AMD_ZEN2 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu fma avx avx2 sha_ni\n"
ARM_N2 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\nCPU part\t: 0xd49\n"
ARM_N1 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n"


@pytest.mark.parametrize(
    "cpuinfo, expected",
    [(INTEL_SPR, True), (AMD_ZEN2, False), (ARM_N2, True), (ARM_N1, False), ("", False),
     # a feature's name elsewhere on the line or in another field is not the feature
     ("model name\t: bf16-less avx512_bf16 part\nflags\t\t: avx2\n", False),
     ("flags\t\t: avx512_bf16x avx2\n", False)],
)  # fmt: skip
def test_cpu_has_bf16_reads_the_flags_and_features_lines(cpuinfo, expected):
    assert hardware.cpu_has_bf16(cpuinfo) is expected


def test_native_bf16_answers_for_this_machine():
    try:
        with open("/proc/cpuinfo") as f:
            expected = hardware.cpu_has_bf16(f.read())
    except FileNotFoundError:
        expected = False
    assert hardware.native_bf16() is expected  # the test machines have no GPU
