"""Shared fixtures; the shared functions are in helpers.py."""
import os
import sys

import numpy as np
import pytest


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    """undisturbed(*args): the folder of a run of args that nothing disturbed (helpers.py)."""
    from helpers import UndisturbedRuns
    return UndisturbedRuns(tmp_path_factory.mktemp("undisturbed"))


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    """(text, run folder, the checkpoint's arrays) of a finished small vanilla run."""
    from helpers import SMALL, cli, write_text  # once the path above holds tests/
    tmp = tmp_path_factory.mktemp("good")
    text = write_text(tmp)
    run = tmp / "run"
    assert cli(text, *SMALL, "--iters", 100, "--out", run).returncode == 0
    with np.load(run / "checkpoint.npz") as z:
        return text, str(run), dict(z)
