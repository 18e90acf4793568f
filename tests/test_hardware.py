"""`has_native_bf16` reads the CPU's flags: AVX512-BF16, AMX or Arm BF16 count as native, AVX2 alone does not."""

from __future__ import annotations

import pytest
import torch

from transformers_videoswin import hardware

X86_AVX2 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse sse2 avx avx2 fma\n\nprocessor\t: 1\n"
X86_AMX = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\nCPU implementer\t: 0x41\n"


@pytest.mark.parametrize(
    "cpuinfo, native", [(X86_AVX2, False), (X86_AMX, True), (ARM_BF16, True)], ids=["avx2", "amx", "arm-bf16"]
)
def test_native_bf16_follows_the_cpu_flags(tmp_path, monkeypatch, cpuinfo, native):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    flags = hardware.cpu_flags(path)
    assert "fpu" in flags or "fp" in flags
    monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
    assert hardware.has_native_bf16() is native


def test_cpu_flags_without_cpuinfo(tmp_path):
    assert hardware.cpu_flags(tmp_path / "missing") is None
    (tmp_path / "empty").write_text("processor\t: 0\n")
    assert hardware.cpu_flags(tmp_path / "empty") is None


@pytest.mark.parametrize("supported", [False, True])
def test_native_bf16_without_cpuinfo_asks_torch_on_x86(monkeypatch, supported):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: None)
    monkeypatch.setattr(hardware.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: supported, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert hardware.has_native_bf16() is supported
