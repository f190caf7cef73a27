"""Peak memory of one forward + backward of a contender, on CPU or CUDA.

CPU: ATen allocates with plain malloc (no caching allocator) and tracemalloc
does not see it, so the measurement is the resident-set high-water mark of a
fresh process: glibc is told to serve every block of 64 KiB or more with its
own mmap (MALLOC_MMAP_THRESHOLD_), so freed tensors leave the resident set at
once; the kernel's peak (VmHWM) is reset through /proc/self/clear_refs after
the inputs exist, and the result is VmHWM minus the resident size then.
CUDA: torch.cuda.max_memory_allocated above the allocation before the pass.

Run as a script (the suite does, one subprocess per measurement; by hand:
`python benchmarks/peak_memory.py dyconv 16 96 96 4 40 248`); prints
the peak in bytes as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a file (python benchmarks/peak_memory.py): the repository root on sys.path
    sys.path.insert(0, str(ROOT))


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _measure(contender_name, B, Cin, Cout, dilation, H, W, device):
    import torch

    from benchmarks.contenders import CONTENDERS, Problem, make_inputs, make_pass

    contender = CONTENDERS[contender_name]
    p = Problem(B, Cin, Cout, dilation, H, W)
    inputs = make_inputs(p, device=device, shared_weight=contender.shared_weight)
    run = make_pass(contender, inputs, dilation, "fwd+bwd")
    if device == "cuda":
        run()  # the grad_out buffer and any workspace exist before the measurement
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    run()
    base = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident size
    run()
    return (_status_kib("VmHWM") - base) * 1024


def peak_memory(contender_name, p, device="cpu", repeats=1, timeout=600):
    """Peak bytes of one forward + backward above the inputs: the median over `repeats`
    fresh processes. On CPU one measurement varies by a few MiB (huge pages are faulted
    in 2 MiB units, and the threads' workspaces overlap more or less in time)."""
    # MALLOC_MMAP_MAX_=0 (the benchmarks' way of keeping freed memory) would turn the mmap threshold off and keep
    # every freed tensor in the resident set: the child measures without it.
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")}
    env.update(MALLOC_MMAP_THRESHOLD_="65536",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, str(Path(__file__).resolve()), contender_name,
           *map(str, (p.B, p.Cin, p.Cout, p.dilation, p.H, p.W)), "--device", device]
    peaks = []
    for _ in range(repeats):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"peak memory of {contender_name} failed:\n{done.stderr[-2000:]}")
        peaks.append(json.loads(done.stdout.strip().splitlines()[-1])["peak_bytes"])
    return statistics.median(peaks)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("contender", help="a name from benchmarks.contenders.CONTENDERS")
    for name in ("B", "Cin", "Cout", "dilation", "H", "W"):
        ap.add_argument(name, type=int, help=f"problem {name}")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to run (default cpu)")
    a = ap.parse_args(argv)
    peak = _measure(a.contender, a.B, a.Cin, a.Cout, a.dilation, a.H, a.W, a.device)
    print(json.dumps({"peak_bytes": peak}))


if __name__ == "__main__":
    main()
