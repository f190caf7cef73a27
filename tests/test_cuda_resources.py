"""tests/helpers/ptxas_report.py on fixed inputs: the ptxas log parser, the resource
checks that fail CI (spills, static shared memory, blocks that do not fit) and
the H100 occupancy arithmetic, worked out by hand below. Needs no nvcc."""
from pathlib import Path

import pytest

from helpers import ptxas_report
from helpers.ptxas_report import H100, KernelUsage, occupancy

LOG = """\
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function '_ZN6dyconv4cuda15norm_act_kernelIfEEvxiiNS0_8NormKindE' for 'sm_90'
ptxas info    : Function properties for _ZN6dyconv4cuda15norm_act_kernelIfEEvxiiNS0_8NormKindE
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 26 registers, used 0 barriers
ptxas info    : Compile time = 33.602 ms
ptxas info    : Compiling entry function '_ZN6dyconv4cuda19conv_forward_kernelIfEEvNS0_8ConvDimsE' for 'sm_80'
ptxas info    : Function properties for _ZN6dyconv4cuda19conv_forward_kernelIfEEvNS0_8ConvDimsE
    8 bytes stack frame, 12 bytes spill stores, 16 bytes spill loads
ptxas info    : Used 128 registers, used 1 barriers, 16640 bytes smem, 400 bytes cmem[0]
"""


def test_parse_reads_registers_shared_memory_and_spills():
    rows = ptxas_report.parse(LOG)
    assert rows == [
        KernelUsage("_ZN6dyconv4cuda15norm_act_kernelIfEEvxiiNS0_8NormKindE", "sm_90", 26, 0, 0, 0),
        KernelUsage("_ZN6dyconv4cuda19conv_forward_kernelIfEEvNS0_8ConvDimsE", "sm_80", 128, 16640, 12, 16),
    ]


# (registers, static smem bytes, threads) -> (blocks/SM, warps/SM, limiter), on an H100:
#  128 regs: 128*32 = 4096 regs per warp, 65536 / 4096 = 16 warps = 2 blocks of 8 warps;
#   26 regs: 832 -> 1024 per warp (unit 256), 64 warps = 8 blocks, as many as 2048 threads allow;
#   40 regs: 1280 per warp, 51 warps -> 48 (granularity 4) = 6 blocks;
#  40000 B smem: 40000 + 1024 reserved -> 41088 (unit 128), 233472 / 41088 = 5 blocks;
#   32 regs, 1024 threads: 2048 / 1024 = 2 blocks (threads), registers allow 2 as well.
@pytest.mark.parametrize("regs,smem,threads,blocks,warps,limiter", [
    (128, 16640, 256, 2, 16, "registers"),
    (26, 3072, 256, 8, 64, "threads, registers"),
    (40, 0, 256, 6, 48, "registers"),
    (32, 40000, 256, 5, 40, "shared memory"),
    (32, 0, 1024, 2, 64, "threads, registers"),
])
def test_h100_occupancy(regs, smem, threads, blocks, warps, limiter):
    o = occupancy(regs, smem, threads, H100)
    assert (o.blocks_per_sm, o.warps_per_sm, o.limiter) == (blocks, warps, limiter)
    assert o.fraction == pytest.approx(warps / 64)


def test_problems_flag_spills_shared_memory_and_unlaunchable_blocks():
    ok = KernelUsage("fine", "sm_90", 64, 12928, 0, 0)
    spill = KernelUsage("spills", "sm_80", 255, 0, 4, 0)
    smem = KernelUsage("big_tile", "sm_90", 32, 48 * 1024 + 4, 0, 0)
    fat = KernelUsage("fat", "sm_90", 255, 0, 0, 0)
    assert ptxas_report.problems([ok], 256) == []
    found = ptxas_report.problems([ok, spill, smem], 256)
    assert len(found) == 2
    assert found[0].startswith("spills (sm_80) spills registers: 4 bytes stores")
    assert found[1].startswith("big_tile (sm_90) uses 49156 bytes of static shared memory, expected at most 49152")
    # 255 registers -> 8192 per warp -> 8 warps per SM: a 1024-thread (32-warp) block never fits
    assert ptxas_report.problems([fat], 1024) == [
        "fat (sm_90) needs 255 registers x 1024 threads: no block of it fits on an SM (launch fails)"]


def test_table_and_block_size():
    rows = [KernelUsage("k<float>", "sm_90", 128, 16640, 0, 0), KernelUsage("k<float>", "sm_80", 120, 16640, 0, 0)]
    text = ptxas_report.table(rows, 256)
    assert "occupancy on H100" in text and "25%" in text and "registers" in text
    common = Path(__file__).resolve().parents[1] / "csrc" / "cuda" / "common.cuh"
    assert ptxas_report.kernel_threads(common) == 256
