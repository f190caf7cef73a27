"""Atomic checkpoint writes and the random state that --resume restores (training.engine.checkpoint)."""
import random

import numpy as np
import pytest
import torch

from training.engine import checkpoint


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save({"epoch": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        checkpoint.save({"epoch": 2, "bad": Unpicklable()}, path)
    assert checkpoint.load(path) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left behind


def test_rng_state_round_trip():
    checkpoint.seed_everything(5)
    state = checkpoint.rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(10), np.random.rand(10), random.random()
    checkpoint.set_rng_state(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]
