"""What a run reports: ``results`` (results.csv, Tables 1 and 2), ``summary`` (summary.md, paired over a run's
parts), ``robustness`` (robustness.png), ``figure`` (Figure 3), ``seed_summary`` (several runs over seeds), all
against the paper's numbers in ``paper``."""
