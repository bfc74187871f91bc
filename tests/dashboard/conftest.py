"""Dashboard test fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _keep_main() -> Iterator[None]:
    """Streamlit's script runner installs the page as `__main__`; put the real one back, or
    processes started later in this worker by spawn or forkserver (PyMC's chains, Dask's
    nannies) re-run the page and die."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main
