import pytest


@pytest.fixture(scope="session")
def classification_data(tmp_path_factory):
    """Synthetic NEU copies with enough pictures per class for a seconds-long training."""
    from shared.synthetic import synthesize

    return synthesize(tmp_path_factory.mktemp("cls-data"), per_class=50, seed=1)


@pytest.fixture(scope="session")
def smoke_run(classification_data, tmp_path_factory):
    """One trained run (smoke recipe) shared by the tests that only read it."""
    import classification  # noqa: F401
    from classification.config import make_config
    from classification.train import train

    config = make_config("smoke", data=str(classification_data), out=str(tmp_path_factory.mktemp("runs")), name="smoke")
    return train(config, progress=False)
