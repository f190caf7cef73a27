"""training.reports.seed_summary: the runs' results.csv as one set of rows over seeds, mean ± std, paired t
intervals."""
import json

import pytest

from training.reports import results, seed_summary
from training.reports.paired import difference_table
from training.reports.robustness import robustness_figure
from training.summarize_cli import main


def _run(tmp_path, name, seed, acc, train_noise=None):
    """A run folder whose results.csv has method -> (clean, {snr: [per-noise accuracies]})."""
    rows = []
    for method, (clean, noisy) in acc.items():
        part = {"fold": 10, "seed": seed, "method": method}
        rows.append({**part, "split": "dev", "noise": "clean", "snr_db": None, "accuracy": 0.5, "n": 10})
        rows.append({**part, "split": "test", "noise": "clean", "snr_db": None, "accuracy": clean, "n": 10})
        for snr, values in noisy.items():
            for noise, a in zip(("babble", "pink"), values):
                rows.append({**part, "split": "test", "noise": noise, "snr_db": snr, "accuracy": a, "n": 10})
    run = tmp_path / name
    run.mkdir()
    (run / "results.csv").write_text(results.results_csv(rows))
    (run / "config.json").write_text(json.dumps({"train_noise": train_noise, "train_noise_classifier": False}))
    return run


def test_collect_averages_noises_per_snr_and_pairs_by_seed(tmp_path):
    runs = [_run(tmp_path, "a", 0, {"cnn-fc": (0.70, {0: [0.30, 0.50]}), "dsl": (0.72, {0: [0.40, 0.50]})}),
            _run(tmp_path, "b", 1, {"cnn-fc": (0.60, {0: [0.20, 0.20]}), "dsl": (0.66, {0: [0.30, 0.30]})})]
    rows = seed_summary.collect(runs)
    cnn_fc, dsl = results.test_rates(rows, "cnn-fc"), results.test_rates(rows, "dsl")
    assert cnn_fc[(10, 0)]["clean"] == pytest.approx(70.0) and cnn_fc[(10, 0)][0] == pytest.approx(40.0)
    assert dsl[(10, 1)][0] == pytest.approx(30.0)
    table = seed_summary.accuracy_table(rows)
    assert "| DSL | 2 | 69.0 ± 4.2 | 37.5 ± 10.6 |" in table  # (72, 66) and (45, 30)
    diff = difference_table(rows, "cnn-fc", paper=True)
    # paired differences: clean (2, 6) -> +4.00, 0 dB (5, 10) -> +7.50
    assert "| DSL − CNN-FC | 2 | +4.00 [" in diff and "| +7.50 [" in diff
    # the paper's: 78.85 - 73.84 clean; at 0 dB over babble and pink (68.45 + 60.93 - 67.98 - 55.44) / 2
    assert "| (paper) DSL − CNN-FC | – | +5.01 | +2.98 |" in diff
    robustness_figure(rows, ("babble", "pink"), [0], tmp_path / "r.png", paper=True)
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_the_command_labels_multi_condition_runs_and_counts_cnn_fc_once_per_seed(tmp_path, capsys):
    clean = {"cnn-fc": (0.70, {0: [0.30, 0.50]}), "dsl": (0.72, {0: [0.40, 0.50]})}
    noisy = {"cnn-fc": (0.70, {0: [0.30, 0.50]}), "dsl": (0.71, {0: [0.50, 0.60]})}
    runs = [_run(tmp_path, f"{kind}{seed}", seed, acc, train_noise)
            for seed in (0, 1) for kind, acc, train_noise in (("clean", clean, None), ("noisy", noisy, "pink"))]
    assert main([*map(str, runs), "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "seeds.md").read_text()
    assert text in capsys.readouterr().out
    assert "| CNN-FC | 2 | 70.0 ± 0.0 | 40.0 ± 0.0 |" in text  # in four runs, once per seed
    assert "| DSL +noise | 2 | 71.0 ± 0.0 | 55.0 ± 0.0 |" in text
    assert "| DSL +noise − CNN-FC | 2 | +1.00 [+1.00, +1.00] | +15.00 [+15.00, +15.00] |" in text
    assert "| DSL +noise − DSL | 2 | -1.00 [-1.00, -1.00] | +10.00 [+10.00, +10.00] |" in text
    assert "| (paper) DSL − CNN-FC | – | +5.01 | +2.98 |" in text and "(paper) DSL +noise" not in text
    assert (tmp_path / "out" / "robustness.png").read_bytes()[:4] == b"\x89PNG"
