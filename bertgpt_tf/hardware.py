"""Whether this machine computes bf16 natively: what the budget recipe's precision
follows.

Keras' "mixed_bfloat16" pays off only where the matmuls and element-wise ops run in
bf16 in hardware. On a CPU without it, TF converts every bf16 op to fp32 and back, and
the step gets slower, not faster. Measured with the main command's model on two CPUs
(docs/experiments.md, `python -m benchmarks.precision_curves`): bf16 is 1.18x fp32 on an
Intel CPU with AVX-512 BF16, and 2.1-2.3x slower than fp32 on an AMD EPYC with AVX2 only.
So bf16 is the default only where the hardware has it; fp32 is the safe choice
elsewhere (it costs at most ~15 % where bf16 would have won).
"""

import functools
import os

# x86 (`flags`) and Arm (`Features`) /proc/cpuinfo names of native bf16 arithmetic.
CPU_BF16_FEATURES = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_has_bf16(cpuinfo: str) -> bool:
    """Whether a /proc/cpuinfo text lists a native bf16 feature on its `flags` (x86) or
    `Features` (Arm) lines.

    >>> cpu_has_bf16("flags\\t\\t: fpu avx2 avx512f avx512_bf16")
    True
    >>> cpu_has_bf16("flags\\t\\t: fpu fma avx avx2")
    False
    """
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() in ("flags", "features") and set(value.split()) & set(
            CPU_BF16_FEATURES
        ):
            return True
    return False


@functools.cache
def native_bf16() -> bool:
    """True when the training device computes bf16 natively: a GPU of compute capability
    8.0 or newer (Ampere), else a CPU whose /proc/cpuinfo lists AVX-512 BF16, AMX or Arm
    BF16. False where it cannot be told (no /proc/cpuinfo, e.g. macOS)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get(
            "compute_capability", (0, 0)
        )
        return tuple(capability) >= (8, 0)
    if not os.path.exists("/proc/cpuinfo"):
        return False
    with open("/proc/cpuinfo") as f:
        return cpu_has_bf16(f.read())
