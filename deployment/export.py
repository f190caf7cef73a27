"""Entry point of experiments/export.py: a trained run's model as an AOTInductor package for classify.py
or any C++/Python deployment that has torch and dyconv."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from deployment import aoti_package, trained_model
from training.arguments import ArgumentParser
from training.errors import UsageError
from training.reports.paper import METHODS

PROG = "export.py"


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Export a trained model of a train.py run with torch.export (dynamic batch, "
                "the paper's 1x40x248 features) and compile it with AOTInductor into one .pt2 file. Run it with "
                "`python experiments/classify.py --checkpoint FILE.pt2 ...`, or load it anywhere torch and dyconv are "
                "installed: `import dyconv; torch._inductor.aoti_load_package(FILE)`. The package is compiled code that runs "
                "wherever it is loaded: pass it on only to people who trust you (a models/<method>.pt file is data "
                "only; docs/security.md).")
    p.add_argument("--checkpoint", required=True, metavar="RUN_DIR",
                   help="output folder of experiments/train.py (or one of its models/<method>.pt files)")
    p.add_argument("--method", choices=METHODS,
                   help="which of the run's systems to export; default: the run's method (dsl for a --method all run)")
    p.add_argument("--out", required=True, metavar="FILE.pt2", help="package to write (the name must end in .pt2)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="device the package runs on (it is compiled for that device only)")
    p.add_argument("--features", metavar="READING",
                   help="feature reading the package is for (logmel, mel, mel-magnitude, mel-power); default and the "
                   "only one allowed: the reading the model was trained on, recorded in the package's metadata")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    return p


def main(argv=None) -> int:
    """Exit codes: 0 written and checked, 1 export/compile failed or the package does not match the checkpoint,
    2 user mistake."""
    args = parser().parse_args(argv)
    out = Path(args.out)
    try:
        import torch

        if out.suffix != ".pt2":
            raise UsageError(f"--out must end in .pt2 (AOTInductor's package format), got {out}")
        if out.exists() and not args.overwrite:
            raise UsageError(f"--out: {out} exists; pass --overwrite to replace it")
        if not out.parent.is_dir():
            raise UsageError(f"--out: folder {out.parent} does not exist")
        if args.device == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA GPU is available to this torch; use --device cpu")
        import audiodata

        trained = trained_model.load(trained_model.find(args.checkpoint, args.method), args.device)
        trained_model.check_reading(trained.features, args.features, f"the model in {trained.path}")
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    n_frames = audiodata.FEATURES.n_frames
    print(f"# {trained.method} ({trained.config} config) on {trained.features} features from {trained.path}")
    print(f"exporting and compiling for {args.device} with AOTInductor (a C++ build) ...", flush=True)
    start = time.monotonic()
    try:
        aoti_package.save(trained, n_frames, args.device, out)
    except Exception as e:  # noqa: BLE001 (torch.export / Inductor / the C++ compiler: one line, the cause kept)
        lines = [line for line in str(e).strip().splitlines() if line.strip()]
        print(f"{PROG}: exporting or compiling failed: {type(e).__name__}: {lines[0] if lines else ''} "
              f"(AOTInductor needs a C++ compiler: g++, or the one $CXX names)",
              file=sys.stderr)
        return 1
    seconds = time.monotonic() - start

    package = aoti_package.load(out, args.device)
    x = torch.rand(3, 1, trained.n_mels, n_frames, device=args.device)
    with torch.no_grad():
        want = torch.softmax(trained.model(x), 1)
        got = torch.softmax(package.run(x), 1)
    diff = float((got - want).abs().max())
    same = bool((got.argmax(1) == want.argmax(1)).all())
    size = out.stat().st_size / 2**20
    print(f"wrote {out} ({size:.1f} MB) in {seconds:.0f} s; input (B, 1, {trained.n_mels}, {n_frames}), any B")
    if diff > 1e-4 or not same:
        print(f"{PROG}: the package does not match the checkpoint on a random batch of 3: max |p difference| "
              f"{diff:.2e}, same classes: {same}", file=sys.stderr)
        return 1
    print(f"checked: same probabilities as the checkpoint on a random batch of 3 (max difference {diff:.1e})")
    return 0
