"""benchmarks/compare_runs.py: dyconv's rows of two saved benchmark runs side by side, ratios against each run's
own baseline, and the rows whose speed-up fell."""
import json
import subprocess
import sys

from helpers.train_cli import ROOT


def _run_json(path, rows):
    """A pytest-benchmark JSON holding `rows`: (extra_info, min time) pairs."""
    benchmarks = [{"name": f"b{i}", "stats": {"min": t}, "extra_info": {"flops": 1e9, "device": "cpu", **info}}
                  for i, (info, t) in enumerate(rows)]
    path.write_text(json.dumps({"machine_info": {}, "benchmarks": benchmarks}))
    return path


def _layer(contender):
    return {"kind": "layer", "layer": "layer3", "B": 16, "pass_name": "fwd+bwd", "contender": contender}


def _users(contender, row="odconv"):
    return {"kind": "users", "row": row, "label": "B32 512->512", "contender": contender}


def compare(tmp_path, *args):
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compare_runs.py"), *map(str, args)],
                          capture_output=True, text=True)


def test_speed_up_ratios_against_each_runs_own_baseline(tmp_path):
    # before: layer3 2.0x, odconv 1.0x; after, on a machine 10 % slower: layer3 2.2x (faster), odconv 0.8x (slower)
    before = _run_json(tmp_path / "a.json", [(_layer("dyconv"), 0.1), (_layer("reference"), 0.2),
                                             (_users("dyconv"), 0.2), (_users("grouped"), 0.2),
                                             (_users("dyconv", "condinst"), 0.1)])
    after = _run_json(tmp_path / "b.json", [(_layer("dyconv"), 0.1), (_layer("reference"), 0.22),
                                            (_users("dyconv"), 0.275), (_users("grouped"), 0.22),
                                            (_users("dyconv", "strided"), 0.1), (_users("grouped", "strided"), 0.1)])
    proc = compare(tmp_path, before, after, "--labels", "old", "new")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("| row | old: dyconv | speed-up | new: dyconv |")
    assert "| layer3 B16 fwd+bwd | 100.0 ms | 2.00x | 100.0 ms | 2.20x | 1.10 | 1.00 |" in lines
    assert "| users odconv (B32 512->512) | 200.0 ms | 1.00x | 275.0 ms | 0.80x | 0.80 | 0.73 |" in lines
    assert "2 rows in both runs; speed-up ratio new / old: median 0.95, range 0.80-1.10." in proc.stdout
    assert "Speed-up fell by more than 5%: users odconv (B32 512->512): 1.00x -> 0.80x." in proc.stdout
    assert "In one run only (not compared): users strided (B32 512->512)." in proc.stdout  # condinst: no baseline


def test_unreadable_or_disjoint_runs_are_one_line_errors(tmp_path):
    run = _run_json(tmp_path / "a.json", [(_layer("dyconv"), 0.1), (_layer("reference"), 0.2)])
    other = _run_json(tmp_path / "b.json", [(_users("dyconv"), 0.1), (_users("grouped"), 0.2)])
    for args, message in (((run, tmp_path / "missing.json"), "cannot read benchmark JSON"),
                          ((run, other), "no dyconv row in common")):
        proc = compare(tmp_path, *args)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
