"""A large float32 matmul: the rate this machine's BLAS reaches, the yardstick of the FLOP rates."""
from __future__ import annotations

import pytest
import torch

from benchmarks.conftest import DEVICES, ROUNDS, record_rate, sync_for


@pytest.mark.parametrize("device", DEVICES)
def test_matmul(benchmark, quick, device):
    n = 512 if quick else 4096
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=g).to(device) for _ in range(2))
    want = (a.double() @ b.double()).float()
    torch.testing.assert_close(a @ b, want, rtol=1e-4, atol=1e-3 * n ** 0.5)
    flops = 2 * n ** 3
    benchmark.group = f"matmul | {device}"
    benchmark.extra_info.update(kind="matmul", n=n, device=device, flops=flops)
    sync = sync_for(device)

    def run():
        torch.mm(a, b)
        sync()

    benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1)
    record_rate(benchmark, flops)
