"""One prepared command for a GPU machine: build, test, sanitize, time, report.

Written for one H100/H200 lent for a few minutes, with its own CUDA build of
torch, nvcc, compute-sanitizer, no package registry and no internet. From the
repository root, with nothing prepared:

    bash benchmarks/gpu_check.sh --out gpu_report [--wheels DIR]

Stages, each with its own time limit inside one overall budget (default 450 s,
so the whole run ends inside 8 minutes):

  environment  nvidia-smi; torch, CUDA and the GPU's compute capability
  install      pip install --no-build-isolation --no-deps --no-index -e . for that one
               arch (TORCH_CUDA_ARCH_LIST), after installing setuptools, ninja and pytest
               from --wheels when they are missing; then dyconv.cuda_available()
  pytest       pytest -m cuda tests/test_cuda_gpu.py
  memcheck     a few of those tests under compute-sanitizer --tool memcheck
  racecheck    the same under --tool racecheck
  timings      the paper's layers 1, 3, 5 at batch 16 and 64, forward + backward, float32
               and bfloat16: dyconv vs the grouped-conv reference on cuDNN vs a dense
               F.conv2d ceiling; users' depthwise and transposed layers (CondConv k5,
               DyMN k3 d2, StyleGAN2's up-sampling conv; benchmarks/gpu_check_grouped.py),
               float32, dyconv vs cuDNN's grouped conv; a DSL (paper config) training
               step with either op (benchmarks/gpu_check_timing.py, in a process of its own)

It fails soft: a failing stage does not stop the next, a crashing kernel loses only
its own timing cell, and the report in --out (one flat folder, 7 files:
environment.txt, build.log, pytest.txt, sanitizers.txt, timing.log, results.json,
report.md) is rewritten after every stage. Exit code 0 when every stage passed,
1 otherwise. --dry-run (no GPU needed) prints the plan and writes a sample report
from made-up timings, clearly marked as fake.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file (python benchmarks/gpu_check.py): the repository root on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import gpu_check_report as report
from benchmarks import gpu_check_stage as stage
from benchmarks.gpu_check_timing import parse_cell, plan_cells

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
FILES = dict(environment="environment.txt", install="build.log", pytest="pytest.txt",
             sanitizers="sanitizers.txt", timings="timing.log")
# (nominal limit, the least a stage needs to be worth starting), seconds.
LIMITS = dict(environment=(30, 5), install=(240, 60), pytest=(120, 30), memcheck=(75, 25),
              racecheck=(75, 25), timings=(200, 90))
ORDER = ("environment", "install", "pytest", "memcheck", "racecheck", "timings")
# The tests run under compute-sanitizer: conv2d with split-K wgrad, the fused op with two
# channel tiles and each norm, bfloat16 storage, the fused op depthwise (k3 dilation 2) and
# grouped (stride 2), the transposed conv with groups and output padding.
SANITIZER_TESTS = [
    "tests/test_cuda_gpu.py::test_conv2d_cuda_matches_cpu_kernel_and_reference[case4-dtype0]",
    "tests/test_cuda_gpu.py::test_fused_cuda_matches_cpu_kernel_and_reference[case1-layer-relu]",
    "tests/test_cuda_gpu.py::test_fused_cuda_matches_cpu_kernel_and_reference[case2-instance-sigmoid]",
    "tests/test_cuda_gpu.py::test_half_and_bfloat16_storage[none-case0-dtype1]",
    "tests/test_cuda_gpu.py::test_groups_fused_cuda_matches_reference[case2-layer-relu]",
    "tests/test_cuda_gpu.py::test_groups_fused_cuda_matches_reference[case1-instance-sigmoid]",
    "tests/test_cuda_gpu.py::test_conv_transpose2d_cuda_matches_cpu_kernel_and_reference[case1-dtype0]",
]
PYTEST_ARGS = ["-q", "-rfE", "--tb=short", "-p", "no:cacheprovider"]


def reserve_after(name: str) -> float:
    """Seconds the stages after `name` are promised."""
    return sum(LIMITS[s][1] for s in ORDER[ORDER.index(name) + 1:])


def compute_sanitizer() -> str | None:
    found = shutil.which("compute-sanitizer")
    for home in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if not found and home and os.path.exists(os.path.join(home, "bin", "compute-sanitizer")):
            found = os.path.join(home, "bin", "compute-sanitizer")
    return found


def sanitizer_command(tool: str, sanitizer: str, kernel_filter: bool) -> list:
    only_dyconv = ["--kernel-name", "kns=dyconv"] if kernel_filter else []
    return [sanitizer, "--tool", tool, "--error-exitcode", "1", *only_dyconv,
            PY, "-m", "pytest", *PYTEST_ARGS, *SANITIZER_TESTS]


def install_command() -> list:
    return [PY, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index", "-v", "-e", "."]


def timing_command(cells: list, repeats: int, tf32: bool) -> list:
    return [PY, "-m", "benchmarks.gpu_check_timing", "--repeats", str(repeats),
            *(["--tf32"] if tf32 else []), "--cells", *cells]


def collect_cells(cells: list, command_for, limit_s: float, log: Path, env=None,
                  clock=time.monotonic) -> tuple[list, stage.Outcome]:
    """Runs the timing child on `cells` until all are done or the limit is spent; a child
    that dies loses only the cell it was in (marked with an error), the rest go to a new child."""
    start, results, pending = clock(), [], list(cells)
    log.write_text("")
    outcome = stage.Outcome("timings", "skipped", 0.0, limit_s, note="nothing to time")
    while pending:
        left = limit_s - (clock() - start)
        if left < 5:
            results += [dict(parse_cell(c), error="not run: the timing stage's time limit") for c in pending]
            break
        offset = log.stat().st_size
        outcome = stage.run("timings", command_for(pending), left, log, env=env, append=True, cwd=ROOT)
        with open(log) as f:
            f.seek(offset)
            lines = f.read().splitlines()
        started = [ln.split(" ", 1)[1] for ln in lines if ln.startswith("START ")]
        finished = {}
        for ln in lines:
            if ln.startswith("RESULT "):
                r = json.loads(ln[len("RESULT "):])
                finished[r["cell"]] = r
        results += list(finished.values())
        if started and started[-1] not in finished and outcome.status != "ok":
            why = "time limit" if outcome.status == "timeout" else f"process died ({outcome.note})"
            results.append(dict(parse_cell(started[-1]), error=f"crashed: {why}"))
            finished[started[-1]] = None
        pending = [c for c in pending if c not in finished]
        if outcome.status == "ok" or not started:  # done, or the child cannot even start
            said = [ln for ln in lines[1:] if ln.strip() and not ln.startswith(("START ", "RESULT "))]
            why = "; ".join(x for x in (outcome.note or "child ended early", said[-1] if said else "") if x)
            results += [dict(parse_cell(c), error=f"not run: {why}") for c in pending]
            break
    errors = sum("error" in r for r in results)
    status = "ok" if results and not errors else ("failed" if results else outcome.status)
    note = f"{len(results) - errors}/{len(cells)} cells timed" + (f", {errors} failed" if errors else "")
    return results, stage.Outcome("timings", status, clock() - start, limit_s, outcome.returncode,
                                  note, outcome.command)


def fake_timings(seed: int = 0) -> list:
    """Made-up results in the real format, for --dry-run and the report's tests."""
    rng = random.Random(seed)
    out = []
    for cell in plan_cells():
        spec = parse_cell(cell)
        if spec["kind"] == "model":
            med = rng.uniform(0.05, 0.2)
            spec.update(times_s=[med] * 20, median_s=med, repeats=20, warmup=3)
        elif spec["kind"] == "grouped":
            from benchmarks.gpu_check_grouped import ROWS
            flops = ROWS[spec["layer"]].flops
            med = flops / ({"dyconv": 6e12, "reference": 4e12}[spec["contender"]] * rng.uniform(0.5, 1.5))
            spec.update(times_s=[med] * 20, median_s=med, repeats=20, warmup=3, flops=flops,
                        tflops=flops / med / 1e12, problem=ROWS[spec["layer"]].label())
            if spec["contender"] == "dyconv":
                spec["max_rel_diff_vs_reference"] = rng.uniform(1e-7, 1e-6)
        else:
            from benchmarks.contenders import PAPER_LAYERS, Problem
            Cin, Cout, dilation = PAPER_LAYERS[spec["layer"]]
            flops = Problem(spec["batch"], Cin, Cout, dilation).flops("fwd+bwd")
            rate = {"dyconv": 15e12, "reference": 8e12, "dense-conv2d-ceiling": 40e12}[spec["contender"]]
            med = flops / (rate * rng.uniform(0.5, 1.5))
            spec.update(times_s=[med] * 20, median_s=med, repeats=20, warmup=3, flops=flops,
                        tflops=flops / med / 1e12)
            if spec["contender"] == "dyconv":
                spec["max_rel_diff_vs_reference"] = rng.uniform(1e-7, 1e-6)
        out.append(spec)
    return out


def plan(args) -> list[str]:
    """What a real run does, in order, with each stage's nominal limit."""
    cs = compute_sanitizer() or "compute-sanitizer"
    lines = [f"budget {args.budget:.0f} s; stages run in this order, each limited to min(nominal, "
             "what is left after promising the later stages their minimum):"]
    cmds = dict(
        environment=[["nvidia-smi"], [PY, "-c", "<torch / CUDA / device probe>"]],
        install=([[PY, "-m", "pip", "install", "--no-index", "--find-links", str(args.wheels), "<setuptools, ninja, pytest: those missing>"]]
                 if args.wheels else []) + [["TORCH_CUDA_ARCH_LIST=<the GPU's>", *install_command()]],
        pytest=[[PY, "-m", "pytest", "-m", "cuda", "tests/test_cuda_gpu.py", *PYTEST_ARGS]],
        memcheck=[sanitizer_command("memcheck", cs, True)],
        racecheck=[sanitizer_command("racecheck", cs, True)],
        timings=[timing_command(["<%d cells>" % len(plan_cells())], args.repeats, args.tf32)],
    )
    for name in ORDER:
        nominal, least = LIMITS[name]
        lines.append(f"- {name} (limit {nominal} s, needs {least} s):")
        lines += [f"    {' '.join(map(str, c))}" for c in cmds[name]]
    lines.append(f"timing cells: {', '.join(plan_cells())}")
    return lines


def importable(module: str, env=None) -> bool:
    done = subprocess.run([PY, "-c", f"import {module}"], capture_output=True, env=env, cwd=ROOT, timeout=60)
    return done.returncode == 0


def probe_torch(log: Path, env) -> dict:
    code = ("import json, torch; c = torch.cuda.is_available(); print('PROBE ' + json.dumps(dict("
            "torch=torch.__version__, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(), "
            "gpu=c, device=torch.cuda.get_device_name() if c else None, "
            "capability=list(torch.cuda.get_device_capability()) if c else None)))")
    stage.run("environment", [PY, "-c", code], 60, log, env=env, append=True, cwd=ROOT)
    for line in log.read_text().splitlines():
        if line.startswith("PROBE "):
            return json.loads(line[len("PROBE "):])
    return {}


def last_line(path: Path, words=("passed", "failed", "error", "skipped", "no tests ran")) -> str:
    lines = [ln for ln in path.read_text().splitlines() if any(w in ln for w in words)] if path.exists() else []
    return lines[-1].strip("= ") if lines else "no summary line (see the log)"


def real_run(args, out: Path, results: dict) -> int:
    budget = stage.Budget(args.budget)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PATH=os.path.dirname(PY) + os.pathsep + os.environ.get("PATH", ""))  # pip-installed ninja
    meta, stages, summaries = results["meta"], results["stages"], results["summaries"]

    def record(o: stage.Outcome):
        stages.append(o.as_dict())
        report.write(out, results)
        print(f"[gpu_check] {o.stage}: {o.status} in {o.seconds:.0f} s {o.note}", flush=True)

    # environment
    log = out / FILES["environment"]
    record(stage.run("environment", ["nvidia-smi"], budget.limit(20, 0), log, env=env))
    probe = probe_torch(log, env)
    meta.update(torch=probe.get("torch"), device=probe.get("device"), cuda=probe.get("cuda"))
    cap = probe.get("capability")
    meta["arch_list"] = f"{cap[0]}.{cap[1]}" if cap else None
    if not cap:
        for name in ORDER[1:]:
            record(stage.Outcome(name, "skipped", 0.0, 0.0, note="torch sees no CUDA device (environment.txt)"))
        return 1

    # install
    log = out / FILES["install"]
    log.write_text("")
    have_pytest = importable("pytest", env)
    if args.wheels:
        missing = [m for m in ("setuptools", "pytest") if not importable(m, env)]
        missing += [] if shutil.which("ninja", path=env["PATH"]) else ["ninja"]
        if missing:
            stage.run("install", [PY, "-m", "pip", "install", "--no-index", "--find-links", str(args.wheels),
                                  *missing], budget.limit(60, reserve_after("install") + 60), log,
                      env=env, append=True, cwd=ROOT)
            have_pytest = importable("pytest", env)
    if args.skip_build:
        record(stage.Outcome("install", "skipped", 0.0, 0.0, note="--skip-build"))
    else:
        benv = dict(env, TORCH_CUDA_ARCH_LIST=meta["arch_list"], FORCE_CUDA="1",
                    MAX_JOBS=str(os.cpu_count() or 4))
        record(stage.run("install", install_command(),
                         budget.limit(LIMITS["install"][0], reserve_after("install")), log, env=benv,
                         append=True, cwd=ROOT))
    code = "import dyconv, torch; print('CUDA_AVAILABLE', dyconv.cuda_available())"
    stage.run("environment", [PY, "-c", code], 60, out / FILES["environment"], env=env, append=True, cwd=ROOT)
    meta["cuda_available"] = "CUDA_AVAILABLE True" in (out / FILES["environment"]).read_text()
    report.write(out, results)

    # tests
    if have_pytest:
        o = stage.run("pytest", [PY, "-m", "pytest", "-m", "cuda", "tests/test_cuda_gpu.py", *PYTEST_ARGS],
                      budget.limit(LIMITS["pytest"][0], reserve_after("pytest")), out / FILES["pytest"],
                      env=env, cwd=ROOT)
        summaries["pytest -m cuda"] = last_line(out / FILES["pytest"])
    else:
        (out / FILES["pytest"]).write_text("pytest is not installed and no --wheels folder provides it\n")
        o = stage.Outcome("pytest", "skipped", 0.0, 0.0, note="pytest missing (pass --wheels DIR)")
    record(o)
    cs, log = compute_sanitizer(), out / FILES["sanitizers"]
    log.write_text("")
    kernel_filter = bool(cs) and "--kernel-name" in subprocess.run(
        [cs, "--help"], capture_output=True, text=True, timeout=60).stdout
    for tool in ("memcheck", "racecheck"):
        if not (cs and have_pytest):
            record(stage.Outcome(tool, "skipped", 0.0, 0.0,
                                 note="compute-sanitizer not found" if not cs else "pytest missing"))
            continue
        limit = budget.limit(LIMITS[tool][0], reserve_after(tool))
        o = stage.run(tool, sanitizer_command(tool, cs, kernel_filter), limit, log, env=env, append=True, cwd=ROOT)
        if kernel_filter and o.status == "failed" and o.seconds < 15 and "SUMMARY" not in log.read_text():
            kernel_filter = False  # this compute-sanitizer did not take the kernel filter: check every kernel
            o = stage.run(tool, sanitizer_command(tool, cs, False), budget.limit(limit, reserve_after(tool)),
                          log, env=env, append=True, cwd=ROOT)
        record(o)
        summaries[f"compute-sanitizer {tool}"] = last_line(log, ("SUMMARY",))

    # timings
    cells = [c for c in plan_cells() if meta["cuda_available"] or "/dyconv" not in c]
    timings, o = collect_cells(cells, lambda pending: timing_command(pending, args.repeats, args.tf32),
                               budget.limit(LIMITS["timings"][0], 0), out / FILES["timings"], env=env)
    results["timings"] = timings
    if not meta["cuda_available"]:
        o.note += "; dyconv cells left out: dyconv has no CUDA kernels in this build"
    record(o)
    failed = [s["stage"] for s in stages if s["status"] != "ok"]
    print(f"[gpu_check] done in {args.budget - budget.left():.0f} s; report: {out / report.REPORT}"
          + (f"; not ok: {', '.join(failed)}" if failed else "; every stage ok"))
    return 1 if failed else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/gpu_check.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("gpu_report"),
                    help="folder for the report (flat, 7 files; created; default gpu_report/)")
    ap.add_argument("--wheels", type=Path, default=None,
                    help="folder of wheels (setuptools, ninja, pytest and its dependencies iniconfig, pluggy, "
                         "packaging) installed with pip --no-index when missing; without it, a missing "
                         "pytest skips the test stages")
    ap.add_argument("--budget", type=float, default=450,
                    help="wall-clock seconds for all stages together (default 450: done inside 8 minutes)")
    ap.add_argument("--repeats", type=int, default=25, help="timed calls per cell, median reported (default 25)")
    ap.add_argument("--tf32", action="store_true",
                    help="allow TF32 in cuDNN/cuBLAS for float32 (default off: float32 means float32)")
    ap.add_argument("--skip-build", action="store_true", help="use the dyconv already installed (a rerun)")
    ap.add_argument("--dry-run", action="store_true",
                    help="no GPU needed: print the plan, write a sample report from FAKE timings")
    args = ap.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        ap.error(f"--out {args.out} exists and is not a folder")
    if args.wheels is not None and not args.wheels.is_dir():
        ap.error(f"--wheels {args.wheels} is not a folder")
    least = sum(least for _, least in LIMITS.values())
    if args.budget < least:
        ap.error(f"--budget must be at least {least} seconds (every stage's minimum), got {args.budget:g}")
    if args.repeats < 20:
        ap.error(f"--repeats must be at least 20 (the median of >= 20 calls), got {args.repeats}")
    args.wheels = args.wheels.resolve() if args.wheels else None
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results = dict(fake=args.dry_run, meta=dict(
        started=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        budget_s=args.budget, repeats=args.repeats, tf32=args.tf32, plan=plan(args)),
        stages=[], summaries={}, timings=[])
    print("\n".join(results["meta"]["plan"]), flush=True)
    if args.dry_run:
        results["meta"].update(device="none (dry run)", arch_list="9.0 (assumed)")
        results["stages"] = [stage.Outcome(s, "dry-run", 0.0, LIMITS[s][0], note="not run").as_dict() for s in ORDER]
        results["timings"] = fake_timings()
        report.write(out, results)
        print(f"[gpu_check] dry run: sample report with FAKE timings in {out / report.REPORT}")
        return 0
    return real_run(args, out, results)


if __name__ == "__main__":
    sys.exit(main())
