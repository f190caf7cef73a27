"""Time one training step (forward + backward + Adam step) of each model.

With several --ops, each model is built once per op (the same initial weights) and their
steps alternate (two steps of one, the second timed, then two of the next), so a load from
other jobs hits them alike; the last column is each op's speed-up over the first one's
median wall time.

Examples:
  python benchmarks/bench_models.py --config small --batch 64
  python benchmarks/bench_models.py --models dsl --config paper --batch 16 --ops reference dyconv
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

if __package__ in (None, ""):  # run as a file (python benchmarks/bench_models.py): the repository root on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dyconv
import models
from benchmarks.contenders import cpu_engine
from models.dynamic_layer import set_conv_norm_act
from training.engine.memory import allocator_in_use

# What the dynamic filter layers run: dyconv's fused op (its CPU engine picked, or one forced),
# or the grouped-conv composite of plain PyTorch ops (dyconv.reference).
OPS = {
    "dyconv": (dyconv.dynamic_conv_norm_act, None),
    "dyconv-winograd": (dyconv.dynamic_conv_norm_act, "winograd"),
    "dyconv-shifted": (dyconv.dynamic_conv_norm_act, "shifted"),
    "reference": (dyconv.reference.dynamic_conv_norm_act, None),
}


def step_seconds(runs: dict, x, y, repeats: int) -> dict:
    """Median (wall, CPU) seconds of one optimizer step on each model's trainable parameters,
    the models' steps alternating. runs: name -> (model, forced CPU engine or None).

    Each timed step follows an untimed step of the same model, as in a training loop: a step
    right after another model's runs slower (measured: 0.1 s of a 1.0 s small-config step
    at batch 64, whichever op it is), the memory the other model just freed being handed out
    again. CPU seconds (all threads of this process) are less disturbed than wall time on a
    machine shared with other jobs."""
    opts = {}
    for name, (model, _) in runs.items():
        model.train()
        opts[name] = torch.optim.Adam(model.trainable_parameters(), lr=1e-3)
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (model, engine) in runs.items():
            with cpu_engine(engine):
                for timed in (False, True):
                    t0, c0 = time.perf_counter(), time.process_time()
                    opts[name].zero_grad()
                    F.cross_entropy(model(x), y).backward()
                    opts[name].step()
                    if timed:
                        wall[name].append(time.perf_counter() - t0)
                        cpu[name].append(time.process_time() - c0)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in runs}


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
    p.add_argument("--ops", nargs="+", default=["dyconv"], choices=list(OPS), metavar="OP",
                   help="what the dynamic filter layers run, timed alternating: dyconv (the fused op), "
                        "dyconv-winograd / dyconv-shifted (its CPU engine forced), reference (grouped "
                        "F.conv2d + norm + affine + activation in plain PyTorch); default: dyconv")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.rand(a.batch, 1, a.mels, a.frames)
    y = torch.randint(0, 10, (a.batch,))
    print(f"config={a.config} batch={a.batch} input=(1, {a.mels}, {a.frames}) "
          f"threads={torch.get_num_threads()} torch={torch.__version__} allocator: {allocator_in_use()}")
    for name in a.models:
        runs = {}
        for op in a.ops:
            torch.manual_seed(0)  # the same initial weights for every op
            model = models.build(name, a.config, n_mels=a.mels)
            fn, engine = OPS[op]
            runs[op] = (set_conv_norm_act(model, fn), engine)
        n_train = sum(p.numel() for p in runs[a.ops[0]][0].trainable_parameters())
        times = step_seconds(runs, x, y, a.repeats)
        first = times[a.ops[0]][0]
        for op, (wall, cpu) in times.items():
            vs = f"   {first / wall:5.2f}x {a.ops[0]}" if len(a.ops) > 1 else ""
            print(f"{name:7s} {op:15s} trainable params {n_train:>10,d}   step wall {wall:7.3f} s "
                  f"({a.batch / wall:6.1f} clips/s)   CPU {cpu:7.3f} s{vs}", flush=True)


if __name__ == "__main__":
    main()
