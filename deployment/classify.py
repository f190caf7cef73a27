"""Entry point of experiments/classify.py: the top classes of audio files with a trained run's model
(a train.py run folder, one of its models/<method>.pt files, or a .pt2 package from export.py)."""
from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import sys
from pathlib import Path
from typing import Iterator

import numpy as np

from training.arguments import ArgumentParser
from training.errors import UsageError
from training.reports.paper import METHODS

PROG = "classify.py"
BATCH = 16  # windows run through the model at once
LONG_SECONDS = 60  # recordings longer than this get a progress bar


class StoreNamingTheFlag(argparse.Action):
    """Stores the value, and in ``<dest>_flag`` the spelling the user typed (for messages that name it)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_flag", option_string)


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Print the predicted classes and their probabilities for each audio file, "
                "with the trained enhancer of a train.py run in front of its classifier (the paper's features: "
                "16 kHz mono, 4 s, 40 Mel bins; any audio format soundfile can read). A file up to 4 s long is one "
                "clip, zero padded to 4 s as in the paper: one line. A longer recording is classified window by "
                "window (4 s windows every --hop seconds, the last one ending at the end of the file): one line per "
                "window with its start and end, or one line per file with --summary. Files that cannot be read are "
                "reported on their line and skipped; the exit code is then 1. A model file (.pt) is read as data "
                "only (tensors, numbers, strings) and refused if it holds anything else; a .pt2 package is compiled "
                "code that runs on this machine: use only packages from a trusted source (docs/security.md).")
    p.add_argument("--checkpoint", required=True, metavar="RUN_DIR",
                   help="output folder of experiments/train.py, one of its models/<method>.pt files, or a .pt2 "
                   "package written by experiments/export.py (compiled code: only from a trusted source)")
    p.add_argument("--method", choices=METHODS,
                   help="which of the run folder's systems to use; default: the run's method (dsl for a --method "
                   "all run)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to run the model")
    p.add_argument("--features", metavar="READING",
                   help="feature reading to compute (logmel, mel, mel-magnitude, mel-power); default and the only one "
                   "allowed: the reading the model was trained on (recorded in the model); another one is an error")
    p.add_argument("--top-k", type=int, default=1, metavar="K",
                   help="print (and write to --out) the K most probable classes of each file or window (default 1)")
    p.add_argument("--hop", type=float, default=4.0, metavar="SECONDS",
                   help="seconds between the starts of consecutive windows of a recording longer than 4 s "
                   "(default 4: windows side by side; less: overlapping windows)")
    p.add_argument("--summary", action="store_true",
                   help="one line (and CSV row) per file: the classes of the mean of its windows' probabilities")
    p.add_argument("--out", "--csv", dest="out", metavar="PATH", action=StoreNamingTheFlag,
                   help="also write the predictions to this CSV file: file, status, start, end (seconds), class_1, "
                   "p_1, ..., class_K, p_K, error; one row per window (per file with --summary), unreadable files "
                   "included (--csv is the older name of this flag)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (shown on stderr for recordings longer than a minute)")
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


def window_probabilities(predict, path, cfg, hop: float, device: str) -> Iterator[tuple[float, float, list]]:
    """(start s, end s, class probabilities) of each window of ``path`` (audiodata.windows), computed in batches
    of BATCH windows: memory is bounded by a batch, whatever the file's length."""
    import torch

    from audiodata.windows import windows

    batch: list = []

    def run():
        x = torch.from_numpy(np.stack([features for _, _, features in batch]))[:, None].to(device)
        with torch.no_grad():
            p = torch.softmax(predict(x), dim=1).cpu().tolist()
        return [(start, end, probs) for (start, end, _), probs in zip(batch, p)]

    for window in windows(path, hop, cfg):
        batch.append(window)
        if len(batch) == BATCH:
            yield from run()
            batch = []
    if batch:
        yield from run()


def top(probs: list, k: int) -> list[int]:
    return sorted(range(len(probs)), key=lambda i: -probs[i])[:k]


def format_line(label, names, probs, indices) -> str:
    return f"{label}: " + " | ".join(f"{names[k]} (p = {probs[k]:.3f})" for k in indices)


def csv_row(path, start: float, end: float, names, probs, indices) -> list:
    return ([str(path), "ok", f"{start:.3f}", f"{end:.3f}"] + [v for i in indices for v in (names[i], f"{probs[i]:.6f}")]
            + [""])


def progress(path: Path, hop: float, quiet: bool):
    """A tqdm bar over the windows of ``path`` when it is longer than LONG_SECONDS (and not ``quiet``)."""
    from tqdm import tqdm

    from audiodata.windows import duration, window_count

    seconds = duration(path)
    return tqdm(total=window_count(seconds, hop), desc=path.name, unit="window", leave=False, dynamic_ncols=True,
                file=sys.stderr, disable=quiet or seconds <= LONG_SECONDS)


def classify_file(path: Path, predict, names, cfg, args, k: int, write_row) -> None:
    """Print the lines of ``path`` (one per window, or one for the file) and write its CSV rows."""
    from tqdm import tqdm

    results = window_probabilities(predict, path, cfg, args.hop, args.device)
    with progress(path, args.hop, args.quiet) as bar:
        head = list(itertools.islice(results, 2))  # a file of one window keeps the one-clip line, without times
        one_window = len(head) == 1
        total, count = np.zeros(len(names)), 0
        for start, end, probs in itertools.chain(head, results):
            bar.update()
            total, count = total + probs, count + 1
            if not args.summary:
                best = top(probs, k)
                label = path if one_window else f"{path} [{start:.2f}-{end:.2f} s]"
                tqdm.write(format_line(label, names, probs, best), file=sys.stdout)
                sys.stdout.flush()
                write_row(csv_row(path, start, end, names, probs, best))
    if args.summary:
        mean = (total / count).tolist()
        best = top(mean, k)
        print(format_line(path, names, mean, best), flush=True)
        write_row(csv_row(path, 0.0, end, names, mean, best))


def main(argv=None) -> int:
    """Exit codes: 0 all files classified, 1 some file could not be read, 2 user mistake."""
    args = parser().parse_args(argv)
    try:
        import torch

        if args.top_k < 1:
            raise UsageError(f"--top-k must be >= 1, got {args.top_k}")
        if not args.hop > 0:
            raise UsageError(f"--hop must be > 0 seconds, got {args.hop}")
        if args.device == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA GPU is available to this torch; use --device cpu")
        if args.out and not Path(args.out).resolve().parent.is_dir():
            raise UsageError(f"{args.out_flag}: folder {Path(args.out).resolve().parent} does not exist")
        files, passed_over = audio_files(args.files)
        predict, names, description, reading = load_predictor(args.checkpoint, args.method, args.device,
                                                              args.features)
        import audiodata
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    k = min(args.top_k, len(names))
    cfg = audiodata.feature_config(reading)
    failed = 0
    print(f"# {description}", flush=True)
    with open(args.out, "w", newline="") if args.out else contextlib.nullcontext() as table:
        write_row = csv.writer(table).writerow if table else (lambda row: None)
        write_row(["file", "status", "start", "end"] + [c for i in range(1, k + 1) for c in (f"class_{i}", f"p_{i}")]
                  + ["error"])
        for f in files:
            try:
                classify_file(f, predict, names, cfg, args, k, write_row)
            except (audiodata.AudioReadError, ValueError, OSError, RuntimeError) as e:
                reason = getattr(e, "reason", None) or str(e)
                print(f"{f}: skipped, {reason}", file=sys.stderr, flush=True)
                write_row([str(f), "error", "", ""] + [""] * (2 * k) + [reason])
                failed += 1
    summary = f"# classified {len(files) - failed} of {len(files)} files"
    if failed:
        summary += f"; {failed} could not be read (listed above)"
    if passed_over:
        summary += f"; {passed_over} file(s) in the folders passed over (not audio by their extension)"
    print(summary + (f"; predictions in {args.out}" if args.out else ""))
    return 1 if failed else 0
