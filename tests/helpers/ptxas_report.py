"""ptxas's resource report (nvcc -Xptxas -v) read as a table, checked against the
limits a GPU enforces, with the theoretical occupancy of each kernel on an H100.

Used by tests/test_cuda_compile.py (real nvcc output) and
tests/test_cuda_resources.py (the parser and the arithmetic on fixed inputs).
Occupancy follows the CUDA occupancy calculator for compute capability 9.0.
"""
from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ENTRY = re.compile(r"ptxas info\s*: Compiling entry function '(\S+)' for '(sm_\d+)'")
SPILL = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")
USAGE = re.compile(r"Used (\d+) registers(.*)")
SMEM = re.compile(r"(\d+) bytes smem")

# Static shared memory one block may declare (every architecture; more needs dynamic smem + opt-in).
STATIC_SMEM_LIMIT = 48 * 1024


@dataclass(frozen=True)
class Gpu:
    """Per-SM limits of the occupancy calculation."""
    name: str
    regs_per_sm: int = 65536
    reg_alloc_unit: int = 256      # registers, allocated per warp
    max_regs_per_thread: int = 255
    warp_alloc_granularity: int = 4
    smem_per_sm: int = 228 * 1024
    smem_reserved_per_block: int = 1024  # system use, cc 8.0+
    smem_alloc_unit: int = 128
    max_threads_per_sm: int = 2048
    max_blocks_per_sm: int = 32


H100 = Gpu("H100 (sm_90)")


@dataclass(frozen=True)
class KernelUsage:
    kernel: str
    arch: str
    registers: int
    smem: int  # static shared memory, bytes
    spill_stores: int
    spill_loads: int


@dataclass(frozen=True)
class Occupancy:
    blocks_per_sm: int
    warps_per_sm: int
    fraction: float  # active warps / maximum warps per SM
    limiter: str     # what bounds blocks_per_sm: "registers", "shared memory", "threads", "blocks" (or several)


def kernel_threads(common_cuh: Path) -> int:
    """kThreads of csrc/cuda/common.cuh: the block size every kernel is launched with."""
    m = re.search(r"constexpr int kThreads = (\d+);", common_cuh.read_text())
    if not m:
        raise ValueError(f"no 'constexpr int kThreads = N;' in {common_cuh}")
    return int(m.group(1))


def parse(log: str) -> list[KernelUsage]:
    """Each entry function's registers, static shared memory and spills, in log order."""
    rows, current = [], None
    for line in log.splitlines():
        if m := ENTRY.search(line):
            current = dict(kernel=m.group(1), arch=m.group(2), spill_stores=0, spill_loads=0)
        elif current is not None and (m := SPILL.search(line)):
            current.update(spill_stores=int(m.group(1)), spill_loads=int(m.group(2)))
        elif current is not None and (m := USAGE.search(line)):
            smem = SMEM.search(m.group(2))
            rows.append(KernelUsage(registers=int(m.group(1)), smem=int(smem.group(1)) if smem else 0,
                                    **current))
            current = None
    return rows


def demangle(rows: list[KernelUsage]) -> list[KernelUsage]:
    """Short readable kernel names (conv_forward_kernel<float>), when c++filt is there."""
    cxxfilt = shutil.which("c++filt")
    if not cxxfilt or not rows:
        return rows
    out = subprocess.run([cxxfilt], input="\n".join(r.kernel for r in rows), capture_output=True,
                         text=True).stdout.splitlines()
    if len(out) != len(rows):
        return rows
    short = []
    for row, full in zip(rows, out):
        full = full.split("(")[0].replace("dyconv::cuda::", "").removeprefix("void ")
        name = full.replace("__nv_bfloat16", "bf16").replace("__half", "half")
        short.append(KernelUsage(name, *[getattr(row, f) for f in
                                         ("arch", "registers", "smem", "spill_stores", "spill_loads")]))
    return short


def occupancy(registers: int, smem: int, threads: int, gpu: Gpu = H100) -> Occupancy:
    """Theoretical occupancy of a kernel launched with `threads` per block."""
    warps_per_block = math.ceil(threads / 32)
    max_warps = gpu.max_threads_per_sm // 32
    limits = {"blocks": gpu.max_blocks_per_sm, "threads": max_warps // warps_per_block}
    if registers > 0:
        regs_per_warp = math.ceil(registers * 32 / gpu.reg_alloc_unit) * gpu.reg_alloc_unit
        warps = gpu.regs_per_sm // regs_per_warp
        warps -= warps % gpu.warp_alloc_granularity
        limits["registers"] = warps // warps_per_block
    per_block = math.ceil((smem + gpu.smem_reserved_per_block) / gpu.smem_alloc_unit) * gpu.smem_alloc_unit
    limits["shared memory"] = gpu.smem_per_sm // per_block
    blocks = min(limits.values())
    limiter = ", ".join(k for k, v in limits.items() if v == blocks)
    return Occupancy(blocks, blocks * warps_per_block, blocks * warps_per_block / max_warps, limiter)


def problems(rows: list[KernelUsage], threads: int, gpu: Gpu = H100) -> list[str]:
    """What would fail or slow down on a GPU: spills, too much static shared memory,
    more registers than one block of `threads` can get."""
    found = []
    for r in rows:
        where = f"{r.kernel} ({r.arch})"
        if r.spill_stores or r.spill_loads:
            found.append(f"{where} spills registers: {r.spill_stores} bytes stores, "
                         f"{r.spill_loads} bytes loads (expected 0)")
        if r.smem > STATIC_SMEM_LIMIT:
            found.append(f"{where} uses {r.smem} bytes of static shared memory, "
                         f"expected at most {STATIC_SMEM_LIMIT} (48 KiB, the sm_80 per-block limit)")
        if r.registers > gpu.max_regs_per_thread or occupancy(r.registers, r.smem, threads, gpu).blocks_per_sm < 1:
            found.append(f"{where} needs {r.registers} registers x {threads} threads: "
                         f"no block of it fits on an SM (launch fails)")
    return found


def table(rows: list[KernelUsage], threads: int, gpu: Gpu = H100) -> str:
    """Registers, shared memory, spills and (for sm_90 code) occupancy on `gpu`, one kernel per line."""
    head = (f"{'kernel':<34} {'arch':<6} {'regs':>4} {'smem B':>7} {'spill':>5}  "
            f"{'blocks/SM':>9} {'warps/SM':>8} {'occupancy':>9}  limiter")
    lines = [f"ptxas resources, {threads} threads per block; occupancy on {gpu.name}:", head]
    for r in sorted(rows, key=lambda r: (r.kernel, r.arch)):
        spill = r.spill_stores + r.spill_loads
        if r.arch == "sm_90":
            o = occupancy(r.registers, r.smem, threads, gpu)
            occ = f"{o.blocks_per_sm:>9} {o.warps_per_sm:>8} {o.fraction:>9.0%}  {o.limiter}"
        else:
            occ = f"{'-':>9} {'-':>8} {'-':>9}"
        lines.append(f"{r.kernel:<34} {r.arch:<6} {r.registers:>4} {r.smem:>7} {spill:>5}  {occ}")
    return "\n".join(lines)
