"""pytest-benchmark suite: dyconv against the alternatives a PyTorch user would write.

Full run (the paper's shapes): ``pytest benchmarks/ --benchmark-only
--benchmark-json=bench.json``, then ``python benchmarks/report.py bench.json``.
Without ``--benchmark-only`` the shapes are small (a plain ``pytest`` stays quick);
under ``--benchmark-disable`` (CI) each benchmark runs once, so the float64
correctness checks run on every push.
"""
