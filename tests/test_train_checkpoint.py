"""Atomic checkpoint writes and the random state that --resume restores (training.engine.checkpoint)."""
import pickle
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


def _draws():
    return torch.rand(3), np.random.rand(3), np.random.randn(3), random.random()


def _assert_same_draws(a, b):
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2]) and a[3] == b[3]


def test_a_checkpoint_is_plain_data_that_loads_weights_only(tmp_path):
    checkpoint.seed_everything(7)
    np.random.randn(1)  # numpy now holds a cached Gaussian: part of its state
    model = torch.nn.Linear(3, 2)
    checkpoint.save({"epoch": 3, "model": model.state_dict(), "rng": checkpoint.rng_state(),
                     "history": [{"epoch": 0, "loss": 0.5}]}, tmp_path / "c.pt")
    first = _draws()
    saved = torch.load(tmp_path / "c.pt", weights_only=True)  # torch's own loader, nothing allowed beyond its default
    assert saved["epoch"] == 3 and torch.equal(saved["model"]["weight"], model.weight.detach())
    checkpoint.set_rng_state(saved["rng"])
    _assert_same_draws(first, _draws())


def test_a_checkpoint_written_by_earlier_versions_still_loads(tmp_path):
    """Before plain data, rng_state() held numpy's get_state() tuple (str, uint32 array, int, int, float)."""
    checkpoint.seed_everything(11)
    np.random.randn(1)
    old = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    torch.save({"stage": "sfe", "done": False, "epoch": 0, "rng": old}, tmp_path / "old.pt")
    first = _draws()
    with pytest.raises(pickle.UnpicklingError):  # the NumPy types need the allow-list checkpoint.load gives
        torch.load(tmp_path / "old.pt", weights_only=True)
    saved = checkpoint.load(tmp_path / "old.pt")
    assert isinstance(saved["rng"]["numpy"][1], np.ndarray) and saved["rng"]["numpy"][1].dtype == np.uint32
    checkpoint.set_rng_state(saved["rng"])
    _assert_same_draws(first, _draws())
