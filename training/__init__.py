"""Training and evaluation of the paper's systems: the library behind experiments/train.py and classify.py.

``training.cli.main`` runs the paper's protocol (``training.protocol``); ``training.engine.loop.train_stage`` trains
one stage with atomic per-epoch checkpoints and exact resume; ``training.reports`` writes results.csv and the
paper's Tables 1 and 2; ``training.reports.figure`` its Figure 3; ``training.engine.distributed`` the torchrun support.
"""
