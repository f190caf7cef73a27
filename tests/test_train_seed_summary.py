"""training.seed_summary: per-seed collection from results.csv, mean ± std, paired t intervals."""
import json
import math

import pytest

from training import reports, seed_summary


def _run(tmp_path, name, seed, acc):
    """A run folder whose results.csv has method -> (clean, {snr: [per-noise accuracies]})."""
    rows = []
    for method, (clean, noisy) in acc.items():
        rows.append({"method": method, "split": "dev", "noise": "clean", "snr_db": None, "accuracy": 0.5, "n": 10})
        rows.append({"method": method, "split": "test", "noise": "clean", "snr_db": None, "accuracy": clean, "n": 10})
        for snr, values in noisy.items():
            for noise, a in zip(("babble", "pink"), values):
                rows.append({"method": method, "split": "test", "noise": noise, "snr_db": snr, "accuracy": a,
                             "n": 10})
    run = tmp_path / name
    run.mkdir()
    (run / "results.csv").write_text(reports.results_csv(rows))
    (run / "config.json").write_text(json.dumps({"seed": seed}))
    return run


def test_paired_interval_matches_a_hand_computation():
    a, b = [80.0, 82.0, 78.0], [79.0, 79.0, 79.0]
    mean, lo, hi = seed_summary.paired_interval(a, b)
    d = [1.0, 3.0, -1.0]  # mean 1, sample std 2, t(0.975, 2) = 4.302653
    assert mean == pytest.approx(1.0)
    assert hi - mean == pytest.approx(4.302653 * 2 / math.sqrt(3), rel=1e-5)
    assert mean - lo == pytest.approx(hi - mean)
    assert math.isnan(seed_summary.paired_interval([1.0], [0.0])[1])


def test_collect_averages_noises_per_snr_and_pairs_by_seed(tmp_path):
    runs = [_run(tmp_path, "a", 0, {"cnn-fc": (0.70, {0: [0.30, 0.50]}), "dsl": (0.72, {0: [0.40, 0.50]})}),
            _run(tmp_path, "b", 1, {"cnn-fc": (0.60, {0: [0.20, 0.20]}), "dsl": (0.66, {0: [0.30, 0.30]})})]
    data = seed_summary.collect(runs)
    assert data["cnn-fc"][0]["clean"] == pytest.approx(70.0) and data["cnn-fc"][0][0] == pytest.approx(40.0)
    assert data["dsl"][1][0] == pytest.approx(30.0)
    table = seed_summary.accuracy_table(data)
    assert "| DSL | 2 | 69.0 ± 4.2 | 37.5 ± 10.6 |" in table  # (72, 66) and (45, 30)
    diff = seed_summary.difference_table(data)
    # paired differences: clean (2, 6) -> +4.0, 0 dB (5, 10) -> +7.5
    assert "| DSL − CNN-FC | 2 | +4.0 [" in diff and "| +7.5 [" in diff
    seed_summary.robustness_plot(data, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
