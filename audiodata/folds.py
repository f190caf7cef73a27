"""Which folds are test, dev and train: the paper's 1-8 / 9 / 10, or any test fold of a 10-fold run."""
from .config import ALL_FOLDS, TEST_FOLDS


def _fold(value, what):
    if isinstance(value, bool) or not hasattr(value, "__index__"):  # ints and numpy ints, not 1.5 or "3"
        raise ValueError(f"{what}: expected a fold number 1-10, got {value!r}")
    value = value.__index__()
    if value not in ALL_FOLDS:
        raise ValueError(f"{what}: expected a fold number 1-10, got {value}")
    return value


def fold_split(test_fold=TEST_FOLDS[0], dev_fold=None):
    """(test fold, dev fold, train folds). ``dev_fold`` defaults to the fold before the test fold
    (``test_fold - 1``, 10 for test fold 1); train is the other eight folds, in order. ValueError for a fold
    outside 1-10 or a dev fold equal to the test fold."""
    test = _fold(test_fold, "test_fold")
    dev = ALL_FOLDS[ALL_FOLDS.index(test) - 1] if dev_fold is None else _fold(dev_fold, "dev_fold")
    if dev == test:
        raise ValueError(f"dev_fold: expected a fold other than the test fold {test}, got {dev}")
    return test, dev, tuple(f for f in ALL_FOLDS if f not in (test, dev))

