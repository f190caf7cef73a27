"""pytest-benchmark suite: dyconv against the alternatives a PyTorch user would write.

Full run: ``pytest benchmarks/ --benchmark-only --benchmark-json=bench.json``, then
``python benchmarks/report.py bench.json``. Under ``--benchmark-disable`` (CI) each
benchmark runs once on small shapes, so the correctness checks still run.
"""
