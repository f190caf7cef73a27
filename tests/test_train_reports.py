"""results.csv and the paper-layout tables (training.reports.results), parsed back and checked cell by cell."""
import itertools

import pytest

from training.reports import results
from training.reports.paper import TABLE1, TABLE2

NOISES = ("babble", "f16", "factory1", "factory2", "leopard", "pink", "destroyer")
SNRS = (20, 15, 10, 5, 0)


def _rows(methods, fold=10, seed=0):
    """Distinct accuracies per cell so a mixed-up cell shows."""
    rows, k = [], itertools.count(1)
    for m in methods:
        part = {"fold": fold, "seed": seed, "method": m}
        rows.append({**part, "split": "dev", "noise": "clean", "snr_db": None, "accuracy": next(k) / 97, "n": 97})
        rows.append({**part, "split": "test", "noise": "clean", "snr_db": None, "accuracy": next(k) / 89, "n": 89})
        for snr, noise in itertools.product(SNRS, NOISES):
            rows.append({**part, "split": "test", "noise": noise, "snr_db": snr, "accuracy": next(k) / 401, "n": 89})
    return rows


def _table(text):
    lines = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return cells[0], cells[2:]  # header, body (without the --- line)


def _acc(rows, method, split, noise, snr=None):
    (r,) = [r for r in rows if (r["method"], r["split"], r["noise"], r["snr_db"]) == (method, split, noise, snr)]
    return 100 * r["accuracy"]


def test_results_csv_round_trip(tmp_path):
    rows = _rows(["cnn-fc", "dsl"])
    (tmp_path / "r.csv").write_text(results.results_csv(rows))
    back = results.read_results_csv(tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text().splitlines()[0] == "fold,seed,method,split,noise,snr_db,accuracy,n"
    assert len(back) == len(rows) == 2 * (2 + 35)
    for a, b in zip(rows, back):
        assert a["accuracy"] == pytest.approx(b["accuracy"], abs=1e-6)
        assert (a["fold"], a["seed"], a["method"], a["split"], a["noise"], a["snr_db"], a["n"]) == (
            b["fold"], b["seed"], b["method"], b["split"], b["noise"], b["snr_db"], b["n"])


@pytest.mark.parametrize("methods", [["cnn-fc", "dsl"], ["cnn-fc", "sfe", "dfe", "dcl", "dsl"]])
def test_table1_layout_and_values(methods):
    rows = _rows(methods[::-1])  # the table orders methods as the paper does, whatever the row order
    header, body = _table(results.table1(rows))
    names = {"cnn-fc": "CNN-FC", "sfe": "SFE", "dfe": "DFE", "dcl": "DCL", "dsl": "DSL"}
    assert header == [""] + [names[m] for m in methods] + [f"{names[m]} (paper)" for m in methods]
    assert [r[0] for r in body] == ["Dev", "Test", "Difference"]
    for j, m in enumerate(methods):
        dev, test = _acc(rows, m, "dev", "clean"), _acc(rows, m, "test", "clean")
        assert float(body[0][1 + j]) == pytest.approx(dev, abs=0.006)
        assert float(body[1][1 + j]) == pytest.approx(test, abs=0.006)
        assert float(body[2][1 + j]) == pytest.approx(abs(dev - test), abs=0.006)
        paper = [float(body[i][1 + len(methods) + j]) for i in range(3)]
        assert paper == list(TABLE1[m])


def test_table2_layout_and_values():
    methods = ["cnn-fc", "sfe", "dfe", "dcl", "dsl"]
    rows = _rows(methods)
    header, body = _table(results.table2(rows, NOISES, SNRS))
    assert header[:2] == ["SNR (dB)", "Method"] and len(header) == 2 + 2 * len(NOISES)
    assert len(body) == len(SNRS) * len(methods)
    names = {"CNN-FC": "cnn-fc", "SFE": "sfe", "DFE": "dfe", "DCL": "dcl", "DSL": "dsl"}
    for i, row in enumerate(body):
        snr, m = int(row[0]), names[row[1]]
        assert (snr, m) == (SNRS[i // len(methods)], methods[i % len(methods)])
        for j, noise in enumerate(NOISES):
            assert float(row[2 + j]) == pytest.approx(_acc(rows, m, "test", noise, snr), abs=0.006)
        assert [float(v) for v in row[2 + len(NOISES):]] == [float(v) for v in TABLE2[snr][m]]



def _two_seeds(methods):
    """Seed 1 with other rates than seed 0, so mean and std are not degenerate."""
    rows = _rows(methods)
    return rows + [{**r, "seed": 1, "accuracy": r["accuracy"] * (0.8 + 0.01 * (i % 7))} for i, r in enumerate(rows)]


def test_tables_show_mean_and_std_over_parts():
    import statistics

    rows = _two_seeds(["cnn-fc", "dsl"])
    text = results.table1(rows)
    assert "mean ± std over 2 seeds" in text
    header, body = _table(text)

    def cell(values):
        return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"

    for j, m in enumerate(["cnn-fc", "dsl"]):
        dev = [_acc([r for r in rows if r["seed"] == s], m, "dev", "clean") for s in (0, 1)]
        test = [_acc([r for r in rows if r["seed"] == s], m, "test", "clean") for s in (0, 1)]
        assert [body[i][1 + j] for i in range(3)] == [cell(dev), cell(test), cell([abs(a - b) for a, b in
                                                                                   zip(dev, test)])]
    header, body = _table(results.table2(rows, NOISES, SNRS))
    for row in body:
        m = {"CNN-FC": "cnn-fc", "DSL": "dsl"}[row[1]]
        for j, noise in enumerate(NOISES):
            per_seed = [_acc([r for r in rows if r["seed"] == s], m, "test", noise, int(row[0])) for s in (0, 1)]
            assert row[2 + j] == cell(per_seed)


def test_table2_has_paper_columns_only_for_the_papers_noises():
    noises = ("crowd", "destroyerengine", "pink")
    rows = [r for r in _rows(["cnn-fc"]) if r["noise"] in ("clean", "pink")]
    rows += [{**r, "noise": n} for r in rows if r["noise"] == "pink" for n in ("crowd", "destroyerengine")]
    header, body = _table(results.table2(rows, noises, SNRS))
    assert header == ["SNR (dB)", "Method", "crowd", "destroyerengine", "pink", "destroyer (paper)", "pink (paper)"]
    for row, snr in zip(body, SNRS):
        assert [float(v) for v in row[5:]] == [float(TABLE2[snr]["cnn-fc"][6]), float(TABLE2[snr]["cnn-fc"][5])]


def test_paired_interval_is_the_student_t_interval():
    from scipy import stats

    from training.reports.paired import paired_interval

    d = [1.5, -0.25, 2.0, 0.75]
    mean, low, high = paired_interval(d)
    reference = stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
    assert mean == pytest.approx(sum(d) / 4)
    assert (low, high) == pytest.approx((reference.low, reference.high))
    assert paired_interval([2.0]) == (2.0, None, None)
