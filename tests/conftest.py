import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference" / "kirchhoffnet"
TOY = ("twomoon", "8gaussians", "pinwheel", "swissroll", "circle", "2spirals")
ALL_REFERENCE = TOY + ("potential1", "potential2", "mnist", "genmnist")

# Each xdist worker gets one core; torch would otherwise oversubscribe the two.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    import torch

    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def reference():
    if not REFERENCE.is_dir():
        pytest.skip(f"reference checkpoints not found at {REFERENCE} (../shared is absent)")
    return REFERENCE
