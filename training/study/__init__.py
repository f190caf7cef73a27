"""A study: every (method, seed) run of experiments/train.py planned, run in parallel and resumably, then summarised
(experiments/study.py)."""
