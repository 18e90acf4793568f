"""What the host CPU can do fast: native bfloat16 arithmetic.

Without native bf16 (x86 AVX512-BF16 or AMX, the Arm BF16 extension), PyTorch emulates bf16 matmuls on the CPU by
converting to float32 and back, and a bf16 model runs several times slower than in float32 (6x for Swin-T on an
AVX2-only AMD EPYC).
"""

from __future__ import annotations

import platform
from pathlib import Path

import torch

# /proc/cpuinfo names: x86 "flags" (AVX512-BF16, AMX-BF16) and Arm "Features" (FEAT_BF16).
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str] | None:
    """The feature flags of the first CPU listed in `cpuinfo` (the x86 `flags` or Arm `Features` line), or None
    where the file is missing or lists none (not Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively. Read from /proc/cpuinfo on Linux; elsewhere PyTorch's own CPU
    probe answers on x86, and other CPUs (Apple silicon) count as native."""
    flags = cpu_flags()
    if flags is not None:
        return bool(flags & NATIVE_BF16_FLAGS)
    if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return True


__all__ = ["cpu_flags", "has_native_bf16"]
