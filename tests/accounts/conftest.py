import pytest


@pytest.fixture(autouse=True)
def _accounts_test_defaults(isolated_cache, fast_password_hashing):
    """Fresh throttle counters and a fast hasher for every test here."""
