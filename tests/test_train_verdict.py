"""The verdict over seeds (training/reports/verdict.py): paired t p-values, Holm's correction, the words, and the
refusal to pair runs that did not share a classifier (training/reports/seed_summary.py)."""
import random

import pytest
from scipy import stats

from training.reports import results, seed_summary
from training.reports.verdict import cells, holm, verdict_md


def _rows(method, seed, clean, at0):
    base = {"fold": 10, "seed": seed, "method": method, "split": "test", "n": 200}
    return [{**base, "noise": "clean", "snr_db": None, "accuracy": clean},
            {**base, "noise": "pink", "snr_db": 0.0, "accuracy": at0}]


def _study(seeds=8):
    rng = random.Random(0)
    rows, truth = [], {}
    for s in range(seeds):
        c, n = 0.70 + rng.gauss(0, 0.01), 0.50 + rng.gauss(0, 0.05)
        dsl = (c + rng.gauss(0, 0.005), n + 0.06 + rng.gauss(0, 0.01))  # better under noise, clean the same
        dfe = (c - 0.03 + rng.gauss(0, 0.003), n + rng.gauss(0, 0.02))  # worse on clean data
        rows += _rows("cnn-fc", s, c, n) + _rows("dsl", s, *dsl) + _rows("dfe", s, *dfe)
        truth[s] = {"cnn-fc": (c, n), "dsl": dsl, "dfe": dfe}
    return rows, truth


def test_holm_against_its_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, made monotone
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_cells_match_scipy_paired_t_and_words():
    rows, truth = _study()
    found = {(c.name, c.condition): c for c in cells(rows)}
    a = [100 * truth[s]["dsl"][1] for s in truth]
    b = [100 * truth[s]["cnn-fc"][1] for s in truth]
    cell = found[("DSL − CNN-FC", 0.0)]
    assert cell.mean == pytest.approx(sum(a) / len(a) - sum(b) / len(b))
    assert cell.p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert cell.n == 8 and cell.word == "**established after Holm**"
    assert found[("DFE − CNN-FC", "clean")].word == "**contradicted**"  # the paper: DFE above CNN-FC
    growth = found[("DSL gain at SNR − clean gain", 0.0)]
    gain = [100 * (truth[s]["dsl"][1] - truth[s]["cnn-fc"][1] - truth[s]["dsl"][0] + truth[s]["cnn-fc"][0])
            for s in truth]
    assert growth.mean == pytest.approx(sum(gain) / len(gain)) and growth.family == "growth"
    gains = [c for c in cells(rows) if c.family == "gain"]
    assert [c.p_holm for c in gains] == pytest.approx(holm([c.p for c in gains]))
    assert "| DSL − CNN-FC | 0 dB | 8 |" in verdict_md(rows)


def test_runs_that_did_not_share_a_classifier_are_refused(tmp_path):
    for name, at0 in (("a", 0.50), ("b", 0.55)):
        (tmp_path / name).mkdir()
        rows = _rows("cnn-fc", 0, 0.7, at0) + _rows("dsl", 0, 0.7, 0.6)
        (tmp_path / name / "results.csv").write_text(results.results_csv(rows))
    with pytest.raises(ValueError, match="CNN-FC of seed 0 differs between"):
        seed_summary.collect([tmp_path / "a", tmp_path / "b"])
