"""Entry point of experiments/classify.py: class and probability of audio files with a trained run's model."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.errors import UsageError

PROG = "classify.py"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Print the predicted class and its probability for each audio file, "
                "with the trained enhancer of a train.py run in front of its classifier (the paper's features: "
                "16 kHz mono, 4 s, 40 Mel bins; any audio format soundfile/librosa can read).")
    p.add_argument("--checkpoint", required=True, metavar="RUN_DIR",
                   help="output folder of experiments/train.py (or one of its models/<method>.pt files)")
    p.add_argument("--method", choices=["cnn-fc", "sfe", "dfe", "dcl", "dsl"],
                   help="which of the run's systems to use; default: the run's method (dsl for a --method all run)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to run the model")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files to classify")
    return p


def model_path(checkpoint: str, method: str | None) -> Path:
    path = Path(checkpoint)
    if path.is_file():
        return path
    if not path.is_dir():
        raise UsageError(f"--checkpoint: {path} is neither a run folder nor a model file")
    if method is None:
        config = path / "config.json"
        if not config.is_file():
            raise UsageError(f"--checkpoint: {path} holds no config.json; is it an output folder of train.py?")
        method = json.loads(config.read_text())["method"]
        method = "dsl" if method == "all" else method
    found = path / "models" / f"{method}.pt"
    if not found.is_file():
        have = sorted(p.stem for p in (path / "models").glob("*.pt"))
        raise UsageError(f"--checkpoint: {path} has no trained {method} model (models/{method}.pt); it has: "
                         f"{', '.join(have) or 'none (did the run finish?)'}")
    return found


def main(argv=None) -> int:
    """Exit codes: 0 all files classified, 1 some file could not be read, 2 user mistake."""
    args = parser().parse_args(argv)
    try:
        import torch

        if args.device == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA GPU is available to this torch; use --device cpu")
        missing = [f for f in args.files if not Path(f).is_file()]
        if missing:
            raise UsageError(f"no such file: {', '.join(missing)}")
        path = model_path(args.checkpoint, args.method)
        import audiodata
        import models

        saved = torch.load(path, map_location="cpu", weights_only=False)
        names = saved["class_names"]
        model = models.build(saved["method"], saved["config"], len(names), saved["n_mels"])
        model.load_state_dict(saved["state_dict"])
        model.to(args.device).eval()
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    failed = 0
    print(f"# {saved['method']} ({saved['config']} config) from {path}")
    for f in args.files:
        try:
            features = audiodata.features_from_file(f)
        except (ValueError, OSError, RuntimeError) as e:
            print(f"{f}: cannot read it ({e})", file=sys.stderr)
            failed += 1
            continue
        x = torch.from_numpy(features)[None, None].to(args.device)
        with torch.no_grad():
            p = torch.softmax(model(x), dim=1)[0]
        k = int(p.argmax())
        print(f"{f}: {names[k]} (p = {float(p[k]):.3f})")
    return 1 if failed else 0
