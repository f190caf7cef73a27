"""Entry point of experiments/classify.py: the top classes of audio files with a trained run's model
(a train.py run folder, one of its models/<method>.pt files, or a .pt2 package from export.py)."""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from training.arguments import ArgumentParser
from training.errors import UsageError
from training.reports.paper import METHODS

PROG = "classify.py"


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Print the predicted classes and their probabilities for each audio file, "
                "with the trained enhancer of a train.py run in front of its classifier (the paper's features: "
                "16 kHz mono, 4 s, 40 Mel bins; any audio format soundfile can read). Files that cannot be read "
                "are reported on their line and skipped; the exit code is then 1.")
    p.add_argument("--checkpoint", required=True, metavar="RUN_DIR",
                   help="output folder of experiments/train.py, one of its models/<method>.pt files, or a .pt2 "
                   "package written by experiments/export.py")
    p.add_argument("--method", choices=METHODS,
                   help="which of the run folder's systems to use; default: the run's method (dsl for a --method "
                   "all run)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to run the model")
    p.add_argument("--features", metavar="READING",
                   help="feature reading to compute (logmel, mel, mel-magnitude, mel-power); default and the only one "
                   "allowed: the reading the model was trained on (recorded in the model); another one is an error")
    p.add_argument("--top-k", type=int, default=1, metavar="K",
                   help="print (and write to --csv) the K most probable classes of each file (default 1)")
    p.add_argument("--csv", metavar="PATH", help="also write the predictions to this CSV file: file, status, "
                   "class_1, p_1, ..., class_K, p_K, error (one row per file, unreadable ones included)")
    p.add_argument("files", nargs="+", metavar="FILE_OR_FOLDER",
                   help="audio files, and folders searched recursively for audio files (by extension: .wav, "
                   ".flac, .ogg, .aiff, ...)")
    return p


def audio_files(paths: list[str]) -> tuple[list[Path], int]:
    """Files named on the command line as given, folders expanded to their audio files (sorted).

    Returns the files and how many files in the folders were passed over as not audio by their extension.
    Raises UsageError for a path that does not exist or a folder without audio files.
    """
    from audiodata.noise import AUDIO_SUFFIXES

    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    files, passed_over = [], 0
    for p in map(Path, paths):
        if not p.is_dir():
            files.append(p)
            continue
        inside = sorted(f for f in p.rglob("*") if f.is_file())
        audio = [f for f in inside if f.suffix.lower() in AUDIO_SUFFIXES]
        if not audio:
            raise UsageError(f"folder {p} holds no audio files (looked for {', '.join(sorted(AUDIO_SUFFIXES))})")
        files += audio
        passed_over += len(inside) - len(audio)
    return files, passed_over


def load_predictor(checkpoint: str, method: str | None, device: str, features: str | None = None):
    """(function x -> logits, class names, one-line description, feature reading) of a run folder, .pt or .pt2
    file; ``features``: the reading the user asked for (None: the model's; another one is a UsageError)."""
    from deployment.trained_model import check_reading

    if Path(checkpoint).suffix == ".pt2" and Path(checkpoint).is_file():
        from deployment import aoti_package

        if method is not None:
            raise UsageError("--method picks a model of a run folder; a .pt2 package holds one model")
        package = aoti_package.load(Path(checkpoint), device)
        reading = check_reading(package.features, features, f"the model in {package.path}")
        return (package.run, package.class_names, f"{package.method} ({package.config} config) on {reading} features "
                f"from {package.path} (AOTInductor package)", reading)
    from deployment import trained_model

    trained = trained_model.load(trained_model.find(checkpoint, method), device)
    reading = check_reading(trained.features, features, f"the model in {trained.path}")
    return (trained.model, trained.class_names,
            f"{trained.method} ({trained.config} config) on {reading} features from {trained.path}", reading)


def format_line(path, names, probs, indices) -> str:
    return f"{path}: " + " | ".join(f"{names[k]} (p = {probs[k]:.3f})" for k in indices)


def main(argv=None) -> int:
    """Exit codes: 0 all files classified, 1 some file could not be read, 2 user mistake."""
    args = parser().parse_args(argv)
    try:
        import torch

        if args.top_k < 1:
            raise UsageError(f"--top-k must be >= 1, got {args.top_k}")
        if args.device == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA GPU is available to this torch; use --device cpu")
        if args.csv and not Path(args.csv).resolve().parent.is_dir():
            raise UsageError(f"--csv: folder {Path(args.csv).resolve().parent} does not exist")
        files, passed_over = audio_files(args.files)
        predict, names, description, reading = load_predictor(args.checkpoint, args.method, args.device,
                                                              args.features)
        import audiodata
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    k = min(args.top_k, len(names))
    rows, failed = [], 0
    print(f"# {description}", flush=True)
    for f in files:
        try:
            features = audiodata.features_from_file(f, audiodata.feature_config(reading))
        except (audiodata.AudioReadError, ValueError, OSError, RuntimeError) as e:
            reason = getattr(e, "reason", None) or str(e)
            print(f"{f}: skipped, {reason}", file=sys.stderr, flush=True)
            rows.append([str(f), "error"] + [""] * (2 * k) + [reason])
            failed += 1
            continue
        x = torch.from_numpy(features)[None, None].to(args.device)
        with torch.no_grad():
            p = torch.softmax(predict(x), dim=1)[0].cpu()
        top = [int(i) for i in p.topk(k).indices]
        print(format_line(f, names, p.tolist(), top), flush=True)
        rows.append([str(f), "ok"] + [v for i in top for v in (names[i], f"{float(p[i]):.6f}")] + [""])
    if args.csv:
        with open(args.csv, "w", newline="") as out:
            w = csv.writer(out)
            w.writerow(["file", "status"] + [c for i in range(1, k + 1) for c in (f"class_{i}", f"p_{i}")] + ["error"])
            w.writerows(rows)
    summary = f"# classified {len(files) - failed} of {len(files)} files"
    if failed:
        summary += f"; {failed} could not be read (listed above)"
    if passed_over:
        summary += f"; {passed_over} file(s) in the folders passed over (not audio by their extension)"
    print(summary + (f"; predictions in {args.csv}" if args.csv else ""))
    return 1 if failed else 0
