"""What a run reports: ``results`` (results.csv, Tables 1 and 2), ``summary`` (summary.md) and ``seed_summary``
(several runs over seeds) with their one table of paired differences (``paired``), ``robustness``
(robustness.png), ``figure`` (Figure 3), all against the paper's numbers in ``paper``."""
