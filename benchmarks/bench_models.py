"""Time one training step (forward + backward + Adam step) of each model.

Example: PYTHONPATH=. python benchmarks/bench_models.py --config small --batch 64
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import models


def step_seconds(model, x, y, repeats: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of one optimizer step on the model's trainable parameters.

    CPU seconds (all threads of this process) are less disturbed than wall time
    on a machine shared with other jobs."""
    model.train()
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-3)
    wall, cpu = [], []
    for _ in range(repeats + 1):  # the first step warms up (allocations, Adam state)
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall[1:]), statistics.median(cpu[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="small", choices=sorted(models.CONFIGS), help="model widths")
    p.add_argument("--models", nargs="+", default=list(models.NAMES), choices=models.NAMES,
                   help="which models to time (default: all)")
    p.add_argument("--batch", type=int, default=64, help="batch size (default 64, the paper's)")
    p.add_argument("--mels", type=int, default=40, help="Mel bins (default 40)")
    p.add_argument("--frames", type=int, default=248, help="time frames (default 248, 4 s clips)")
    p.add_argument("--repeats", type=int, default=3, help="timed steps per model, median reported")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.rand(a.batch, 1, a.mels, a.frames)
    y = torch.randint(0, 10, (a.batch,))
    print(f"config={a.config} batch={a.batch} input=(1, {a.mels}, {a.frames}) "
          f"threads={torch.get_num_threads()} torch={torch.__version__}")
    for name in a.models:
        model = models.build(name, a.config, n_mels=a.mels)
        n_train = sum(p.numel() for p in model.trainable_parameters())
        wall, cpu = step_seconds(model, x, y, a.repeats)
        print(f"{name:7s} trainable params {n_train:>10,d}   step wall {wall:7.3f} s "
              f"({a.batch / wall:6.1f} clips/s)   CPU {cpu:7.3f} s", flush=True)


if __name__ == "__main__":
    main()
