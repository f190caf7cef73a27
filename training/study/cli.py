"""Entry point of experiments/study.py: plan a study, print its commands, or run it and summarise it."""
from __future__ import annotations

import dataclasses
import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

from training.arguments import ArgumentParser
from training.errors import UsageError
from training.study import plan as study_plan

PROG = "study.py"
DEFAULT_TRAIN_ARGS = ("--config", "small", "--features", "mel-power", "--snr-reference", "clip")


def parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Run a study: experiments/train.py once per (method, seed), in parallel processes, then the summary "
            "over seeds (seeds.md, verdict.md, robustness.png in OUT/summary/). CNN-FC is trained once per seed and "
            "reused by that seed's other runs through the classifier cache; DCL takes its stage 1 from the DFE run "
            "of its seed (train.py --dfe-from). Killed at any moment, the same command continues: finished runs "
            "are skipped and interrupted ones resume from their checkpoints. Runs go to OUT/<method>/seed<N>/, "
            "their console output to OUT/logs/.", 79),
        epilog="examples:\n"
        "  python experiments/study.py --methods cnn-fc,sfe,dfe,dcl,dsl --seeds 0-9 --out runs/study\n"
        "  python experiments/study.py --methods dsl --seeds 0-4 --out runs/us8k -- --data-root ~/UrbanSound8K\n"
        "  python experiments/study.py --seeds 0-9 --out /shared/study --print-commands > jobs.sh   # a cluster\n"
        "  python experiments/study.py --seeds 0-9 --out runs/study --summary-only   # summarise what finished\n"
        "exit codes: 0 every run finished and summarised, 1 some run failed, 2 usage error, 130 interrupted")
    p.add_argument("--methods", default="cnn-fc,sfe,dfe,dcl,dsl", metavar="M,M,...",
                   help="methods to run, comma-separated, among cnn-fc,sfe,dfe,dcl,dsl (CNN-FC is always run: every "
                   "other method is measured against it); default: all five")
    p.add_argument("--seeds", default="0-9", metavar="SEEDS",
                   help="seeds, as a range 0-9, a list 0,3,5 or both 0-2,7; default 0-9")
    p.add_argument("--out", required=True, metavar="DIR", help="the study's folder (new, or a study to continue)")
    p.add_argument("--data-seed", type=int, default=None, metavar="N",
                   help="built-in synthetic set only: the seed of its clips, the same for every seed of the study "
                   "(default: the first seed); ignored with --data-root")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="runs at once, each one process with one thread; default: the cores this process may use "
                   f"({len(os.sched_getaffinity(0))} here)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="threads of each run (OMP_NUM_THREADS and MKL_NUM_THREADS); default 1")
    p.add_argument("--only", metavar="METHOD/seedN",
                   help="run just this run of the plan (its dependencies must be finished); what --print-commands "
                   "writes")
    p.add_argument("--print-commands", action="store_true",
                   help="print one shell command per run, in dependency order (waves separated by comment lines), "
                   "and exit: for a cluster scheduler; then rerun with --summary-only where the folders are")
    p.add_argument("--summary-only", action="store_true",
                   help="run nothing: summarise the runs that finished")
    p.add_argument("train_args", nargs="*", metavar="-- TRAIN_FLAGS",
                   help="flags given to every train.py run after a '--' (e.g. -- --data-root PATH --noise-dir PATH); "
                   f"default: {' '.join(DEFAULT_TRAIN_ARGS)} (the calibrated reading, docs/results.md), each of "
                   "them replaced when given")
    return p


@dataclasses.dataclass(frozen=True)
class Study:
    runs: list
    out: Path
    argv: list[str]  # the study's flags, then "--" and every run's train.py flags (for --print-commands)


def _train_args(given: list[str]) -> list[str]:
    own = [f for f in given if f.split("=")[0] in study_plan.OWN_FLAGS]
    if own:
        raise UsageError(f"after '--': {', '.join(own)} is set by the study for each run; use the study's flags")
    args = list(given)
    for flag, value in zip(DEFAULT_TRAIN_ARGS[::2], DEFAULT_TRAIN_ARGS[1::2]):
        if not any(g.split("=")[0] == flag for g in given):
            args += [flag, value]
    return args


def _study(a) -> Study:
    try:
        methods = study_plan.parse_methods(a.methods)
        seeds = study_plan.parse_seeds(a.seeds)
    except ValueError as e:
        raise UsageError(f"--{'methods' if 'method' in str(e) else 'seeds'}: {e}") from None
    for flag, value in (("--jobs", a.jobs), ("--threads", a.threads)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be >= 1, got {value}")
    train_args = _train_args(a.train_args)
    synthetic = not any(t.split("=")[0] == "--data-root" for t in train_args)
    data_seed = (seeds[0] if a.data_seed is None else a.data_seed) if synthetic else None
    out = Path(a.out).resolve()
    runs = study_plan.make_plan(methods, seeds, out, train_args, data_seed)
    from training import options
    for r in runs:  # every run's flags checked before anything starts
        options.parse(list(r.train_args))
    own = ["--methods", ",".join(methods), "--seeds", a.seeds, "--out", str(out)]
    if a.data_seed is not None and data_seed is not None:
        own += ["--data-seed", str(data_seed)]
    return Study(runs, out, [*own, "--", *train_args])


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    try:
        study = _study(a)
        if a.print_commands:
            for i, wave in enumerate(study_plan.levels(study.runs)):
                print(f"# wave {i + 1}" + (" (after the waves above)" if i else ""))
                for r in wave:
                    print(study_plan.shell_command(r, study.argv))
            return 0
        from training.engine.log import Log
        log = Log()
        if not a.summary_only:
            study.out.mkdir(parents=True, exist_ok=True)
            log.to_file(study.out / "study.log")
            code = _run(study, a, log)
            if code:
                return code
        return _summarize(study, log)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; run the same command again to continue", file=sys.stderr)
        return 130


def _run(study: Study, a, log) -> int:
    from training.engine.log import duration
    from training.study import runner
    runs = study.runs
    if a.only:
        run = next((r for r in runs if r.name == a.only), None)
        if run is None:
            raise UsageError(f"--only: expected a run of the plan like {runs[-1].name}, got {a.only!r}")
        waiting = [n for n in run.after if next(r for r in runs if r.name == n).state() != "done"]
        if waiting:
            raise UsageError(f"--only {run.name}: {', '.join(waiting)} must finish first")
        runs = [dataclasses.replace(run, after=())]
    jobs = a.jobs or len(os.sched_getaffinity(0))
    states = [r.state() for r in runs]
    log(f"study: {len(runs)} runs ({states.count('done')} finished earlier, {states.count('started')} to resume), "
        f"{jobs} at a time, {a.threads} thread(s) each; runs in {study.out}")
    if any("--dfe-from" in r.train_args for r in runs):
        log("  dcl/seedN takes its stage 1 (DFE) from dfe/seedN: train.py --dfe-from, the result of training it again")
    t0 = time.perf_counter()
    outcome = runner.execute(runs, jobs, log, a.threads)
    log(f"study: {len(outcome.done)} of {len(runs)} runs finished ({duration(time.perf_counter() - t0)} this time)")
    for r, code in outcome.failed:
        log(f"  failed: {r.name} (exit {code}); log: {r.log}")
    if outcome.blocked:
        log(f"  not run: {', '.join(r.name for r in outcome.blocked)} (they wait on failed runs)")
    return 1 if outcome.failed else 0


def _summarize(study: Study, log) -> int:
    from training.summarize_cli import summarize
    done = [r for r in study.runs if r.state() == "done"]
    if not done:
        raise UsageError(f"no finished run in {study.out} to summarise yet")
    text = summarize([r.folder for r in done], study.out / "summary")
    log(text)
    seeds = sorted({r.seed for r in done})
    log(f"summary of {len(done)} of {len(study.runs)} runs (seeds {','.join(map(str, seeds))})"
        + ("" if len(done) == len(study.runs) else "; the rest not finished yet"))
    return 0
