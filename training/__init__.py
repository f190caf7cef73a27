"""Training and evaluation of the paper's systems: the library behind experiments/train.py,
calibrate.py, summarize_seeds.py and mask_table.py.

Layout, each part importing only the ones below it:

- ``training`` (top level): the paper's recipe: the command line (``cli``, ``options``), the protocol
  (``protocol``, ``plan``, ``rundir``, ``classifier_cache``, ``multi_condition``), the calibration of the readings
  and the summary of runs over seeds (``summarize_cli``).
- ``training.monitor``: what the stages measure besides the loss (masks, gradient norms; masks.csv, training.png).
- ``training.reports``: results.csv, Tables 1 and 2, summary.md, robustness.png, Figure 3, the summary over seeds,
  and the paper's numbers they compare with (``reports.paper``).
- ``training.engine``: one stage's training loop with atomic checkpoints and exact resume, evaluation, torchrun.

Using a trained model (classify.py, export.py) is not training: the ``deployment`` package.
"""
