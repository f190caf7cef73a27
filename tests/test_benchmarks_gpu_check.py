"""The GPU check's own logic, without a GPU: the dry run (plan + sample report from
fake timings), stage time limits that end everything a stage started, and the
timing loop that keeps every finished cell when a kernel crashes its process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from benchmarks import gpu_check, gpu_check_report, gpu_check_stage
from benchmarks.gpu_check_grouped import ROWS
from benchmarks.gpu_check_timing import plan_cells

ROOT = Path(__file__).resolve().parents[1]


def test_dry_run_writes_a_flat_sample_report(tmp_path):
    out = tmp_path / "report"
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHON=sys.executable), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "- timings (limit 200 s" in done.stdout and "pip install --no-build-isolation --no-deps" in done.stdout
    files = sorted(p.name for p in out.iterdir())
    assert files == ["report.md", "results.json"] and all((out / f).is_file() for f in files)
    results = json.loads((out / "results.json").read_text())
    assert results["fake"] is True and len(results["timings"]) == len(plan_cells()) == 44
    text = (out / "report.md").read_text()
    assert "FAKE" in text.splitlines()[2]
    # every (layer, batch, dtype) row, with the speed-up and TFLOP/s of its three cells
    by = {(t["layer"], t["batch"], t["dtype"], t["contender"]): t for t in results["timings"]}
    for layer in ("layer1", "layer3", "layer5"):
        for batch in (16, 64):
            for dtype in ("float32", "bfloat16"):
                dy, ref = by[layer, batch, dtype, "dyconv"], by[layer, batch, dtype, "reference"]
                row = next(ln for ln in text.splitlines() if ln.startswith(f"| {layer} | {batch} | {dtype} |"))
                cols = [c.strip() for c in row.strip("|").split("|")]
                assert cols[6] == f"{ref['median_s'] / dy['median_s']:.2f}x"
                assert cols[7] == f"{dy['flops'] / dy['median_s'] / 1e12:.1f}"
    # the grouped rows: dyconv vs cuDNN's grouped conv, each with its problem and speed-up
    for name, row in ROWS.items():
        dy, ref = by[name, row.B, "float32", "dyconv"], by[name, row.B, "float32", "reference"]
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| {name} | {row.label()} | float32 |"))
        cols = [c.strip() for c in line.strip("|").split("|")]
        assert cols[5] == f"{ref['median_s'] / dy['median_s']:.2f}x"
        assert cols[6] == f"{row.flops / dy['median_s'] / 1e12:.1f}"
    steps = {t["contender"]: t for t in results["timings"] if t["kind"] == "model"}
    assert f"{steps['reference']['median_s'] / steps['dyconv']['median_s']:.2f}x" in text


@pytest.mark.parametrize("args,message", [
    (["--budget", "10"], "--budget must be at least 235 seconds (every stage's minimum)"),
    (["--repeats", "5"], "--repeats must be at least 20"),
    (["--wheels", "/nonexistent/wheels"], "--wheels /nonexistent/wheels is not a folder"),
])
def test_usage_errors_exit_2_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        gpu_check.main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_stage_time_limit_ends_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    script = (f"import subprocess, time; p = subprocess.Popen(['sleep', '60']); "
              f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    t0 = time.monotonic()
    o = gpu_check_stage.run("slow", [sys.executable, "-c", script], 2, tmp_path / "log.txt")
    assert o.status == "timeout" and time.monotonic() - t0 < 20
    assert "killed after its 2 s limit" in (tmp_path / "log.txt").read_text()
    pid = int(pidfile.read_text())
    for _ in range(50):  # the grandchild is gone too (reaped by init shortly after the kill)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"grandchild {pid} survived the stage's time limit")


def test_stage_outcomes(tmp_path):
    ok = gpu_check_stage.run("ok", [sys.executable, "-c", "print('hi')"], 30, tmp_path / "a.txt")
    bad = gpu_check_stage.run("bad", [sys.executable, "-c", "raise SystemExit(3)"], 30, tmp_path / "b.txt")
    none = gpu_check_stage.run("none", ["true"], 0, tmp_path / "c.txt")
    assert (ok.status, bad.status, bad.returncode, none.status) == ("ok", "failed", 3, "skipped")
    assert "hi" in (tmp_path / "a.txt").read_text()


def test_budget_cuts_a_stage_to_keep_the_later_stages_minimum():
    now = [0.0]
    b = gpu_check_stage.Budget(450, clock=lambda: now[0])
    assert b.limit(240, 170) == 240
    now[0] = 200
    assert b.limit(240, 170) == 80   # 250 s left, 170 promised to the stages after
    now[0] = 440
    assert b.limit(240, 170) == 0


# A stand-in for benchmarks.gpu_check_timing: prints START/RESULT per cell, dies on CRASH, hangs on HANG.
FAKE_CHILD = textwrap.dedent("""
    import json, os, sys, time
    for cell in sys.argv[1:]:
        print("START " + cell, flush=True)
        if cell == os.environ.get("CRASH"):
            os.abort()
        if cell == os.environ.get("HANG"):
            time.sleep(60)
        what, batch, dtype, contender = cell.split("/")
        print("RESULT " + json.dumps(dict(cell=cell, kind="layer", layer=what, batch=int(batch[1:]), dtype=dtype,
                                          contender=contender, median_s=0.001)), flush=True)
""")


def collect(tmp_path, cells, limit, **env):
    script = tmp_path / "child.py"
    script.write_text(FAKE_CHILD)
    runs = []

    def command_for(pending):
        runs.append(list(pending))
        return [sys.executable, str(script), *pending]

    results, outcome = gpu_check.collect_cells(cells, command_for, limit, tmp_path / "timing.log",
                                               env=dict(os.environ, **env))
    return {r["cell"]: r for r in results}, outcome, runs


def test_a_crashing_cell_loses_only_itself(tmp_path):
    cells = plan_cells()[:6]
    results, outcome, runs = collect(tmp_path, cells, 60, CRASH=cells[2])
    assert set(results) == set(cells) and len(runs) == 2 and runs[1] == cells[3:]
    assert results[cells[2]]["error"].startswith("crashed: process died")
    assert all("error" not in results[c] and results[c]["median_s"] == 0.001 for c in cells if c != cells[2])
    assert outcome.status == "failed" and outcome.note == "5/6 cells timed, 1 failed"
    # the report shows the finished cells and names the crashed one
    text = gpu_check_report.markdown(dict(timings=list(results.values()), stages=[outcome.as_dict()]))
    assert f"- {cells[2]}: crashed: process died" in text and "| layer1 | 16 | float32 | - | 1 | 1 | - |" in text


def test_a_hanging_cell_ends_at_the_limit_and_the_rest_are_marked(tmp_path):
    cells = plan_cells()[:4]
    t0 = time.monotonic()
    results, outcome, runs = collect(tmp_path, cells, 10, HANG=cells[1])
    assert time.monotonic() - t0 < 40
    assert "error" not in results[cells[0]]
    assert results[cells[1]]["error"] == "crashed: time limit"
    assert all(results[c]["error"].startswith("not run") for c in cells[2:])


def test_sanitizer_tests_are_collected_tests():
    """Every test the compute-sanitizer stages name exists (a renamed test would silently run nothing)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider",
                           "tests/test_cuda_gpu.py"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    collected = set(done.stdout.split())
    missing = [t for t in gpu_check.SANITIZER_TESTS if t not in collected]
    assert not missing, f"SANITIZER_TESTS not collected from tests/test_cuda_gpu.py: {missing}"
