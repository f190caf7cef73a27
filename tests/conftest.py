import pytest


@pytest.fixture(scope="session")
def train_cache(tmp_path_factory):
    """One feature and classifier cache for every CLI test: the tiny set's features are extracted once."""
    return tmp_path_factory.mktemp("train-cache")
