"""Killed at any instant, resumed exactly (issue 15), tested deterministically: the trainer is
ended as kill -9 would end it at each step of the checkpoint's write and rotation in turn
(tests/crash_at.py, no hook in the product code), and --resume must end bit-identical to a
run that nothing disturbed. Also: a run remembers the --iters it was started with."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT, SMALL, cli, one_line, same_run, write_text

from charrnn.checkpoint import load_checkpoint, new_state, save_checkpoint
from charrnn.options import HPARAM_DEFAULTS
from charrnn.text import text_sha256


CRASH_AT = os.path.join(ROOT, "tests", "crash_at.py")
KILLED = 137
ITERS = 305  # not a multiple of --log-every, --eval-every or --checkpoint-every: closing rows
# checkpoints at 50, 100, ..., 300 and the last at 305
ARGS = [*SMALL, "--iters", ITERS, "--checkpoint-every", 50]
CELLS = {"rnn": [], "lstm": ["--cell", "lstm", "--val-frac", 0.1, "--eval-every", 100],
         "gru": ["--cell", "gru"]}


def last_line(run, name):
    with open(os.path.join(run, name)) as f:
        return f.read().splitlines()[-1]


def crash_at(op, k, when, *args):
    """The trainer with args, ended (exit 137) at the k-th call of op (see crash_at.py)."""
    return subprocess.run([sys.executable, CRASH_AT, op, str(k), when, "--", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    """(text, cell -> the folder of a run of ARGS with that cell that nothing disturbed)."""
    tmp = tmp_path_factory.mktemp("undisturbed")
    text = write_text(tmp)
    runs = {}

    def run_of(cell):
        if cell not in runs:
            runs[cell] = str(tmp / cell)
            r = cli(text, *ARGS, *CELLS[cell], "--out", runs[cell])
            assert r.returncode == 0, r.stderr
        return runs[cell]
    return text, run_of


# Each cell's run is killed again and again, each time resumed (with the same command and
# --resume) by a process that is itself killed at the next step, until the run is done. A
# process resumed from checkpoint m saves at m + 50, m + 100, ... and at 305. Comments: where
# the kill lands; what the folder holds then.
CHAINS = {
    "rnn": [
        ("fsync", 2, "after"),     # at 100: the temporary file written, before the rotation
        ("link", 2, "after"),      # from 50, at 150: the link made: previous.npz.tmp is left
        ("replace", 3, "after"),   # from 100, at 200: renamed to previous, not yet the new one
        ("replace", 4, "after"),   # from 150, at 250: the final rename done (at 200, checkpoint
                                   # and previous were one file: rename(2) of it did nothing)
        ("replace", 4, "after"),   # from 250, at 305: the last checkpoint, no closing rows yet
    ],
    "lstm": [
        ("savez", 2, "after"),     # at 100: the temporary file not yet synced
        ("link", 2, "before"),     # from 50, at 150: before the link
        ("replace", 3, "before"),  # from 100, at 200: the link made, before renaming it
        ("link", 2, "after"),      # from 150, at 250: the link made
        ("replace", 6, "before"),  # from 200, at 305: before the final rename of the last one
        ("replace", 2, "after"),   # from 250, at 305: the last checkpoint, no closing rows yet
    ],
    "gru": [
        ("replace", 1, "after"),   # at 50: the first checkpoint, no previous one to keep
        ("remove", 6, "after"),    # from 50, at 150: before the temporary file is written (the
                                   # owner's clean-up of half-done files counts 2 removes, the
                                   # save at 100 three: the temporary file, the link before and
                                   # after the rotation)
        ("replace", 2, "before"),  # from 100, at 150: before the final rename
        ("fsync", 3, "before"),    # from 100, at 250: before the temporary file is synced
        ("replace", 6, "after"),   # from 200, at 305: the last checkpoint, no closing rows yet
    ],
}


@pytest.mark.parametrize("cell", list(CHAINS))
def test_killed_at_every_step_of_a_checkpoint_resumes_exactly(tmp_path, undisturbed, cell):
    text, run_of = undisturbed
    run = str(tmp_path / "run")
    command = [text, *ARGS, *CELLS[cell], "--out", run]
    for i, (op, k, when) in enumerate(CHAINS[cell]):
        r = crash_at(op, k, when, *command, *(["--resume"] if i else []))
        assert r.returncode == KILLED, (op, k, when, r.returncode, r.stderr)
        if (op, when) == ("link", "after"):  # what used to block every later rotation
            assert os.path.exists(os.path.join(run, "checkpoint.previous.npz.tmp"))
        state = load_checkpoint(os.path.join(run, "checkpoint.npz"))  # always one to go on from
        assert 0 < state["n"] <= ITERS
    assert state["n"] == ITERS  # the last kill came after the last checkpoint
    assert last_line(run, "loss.csv").startswith("300,")  # not yet the closing row of 304
    if cell == "rnn":  # and a kill in the middle of writing it: half a row
        with open(os.path.join(run, "loss.csv"), "a") as f:
            f.write(last_line(run_of(cell), "loss.csv")[:7])
    # the closing rows come back: on --resume, or (vanilla) on a plain rerun of the command
    again = cli(*command) if cell == "rnn" else cli(*command, "--resume")
    assert again.returncode == 0, again.stderr
    assert "already holds this run, finished" in again.stdout or "leaves 0 to do" in again.stdout
    same_run(run_of(cell), run)
    assert not any(name.endswith(".tmp") for name in os.listdir(run))


def test_a_stale_previous_tmp_never_blocks_the_rotation(tmp_path):
    """A writer killed right after its link leaves checkpoint.previous.npz.tmp: the next save
    must rotate all the same (it used to fail with "cannot write ... File exists")."""
    hp = {**HPARAM_DEFAULTS, "hidden_size": 4}
    state = new_state(list("ab"), text_sha256("abab"), hp, 10)
    ckpt = str(tmp_path / "checkpoint.npz")
    save_checkpoint(ckpt, state)
    for n in (1, 2):
        os.link(ckpt, str(tmp_path / "checkpoint.previous.npz.tmp"))  # what the killed writer left
        state["n"] = n
        save_checkpoint(ckpt, state)
        assert load_checkpoint(ckpt)["n"] == n
        assert load_checkpoint(str(tmp_path / "checkpoint.previous.npz"))["n"] == n - 1
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "checkpoint.previous.npz"]


# --- a run remembers its plan ---------------------------------------------------------

def test_resume_without_iters_goes_on_to_the_run_s_own_iters(tmp_path, undisturbed):
    text, run_of = undisturbed
    run = str(tmp_path / "run")
    # Ctrl-C, deterministically: SIGINT raised in the process as its checkpoint at 100 is written
    r = crash_at("savez", 2, "sigint", text, *ARGS, "--out", run)
    assert r.returncode == 128 + signal.SIGINT, r.stderr
    one_line(r.stderr, f"stopped by SIGINT after 100 of {ITERS} iterations", "--resume")
    stopped = str(tmp_path / "format3")
    os.makedirs(stopped)
    for name in os.listdir(run):
        with open(os.path.join(run, name), "rb") as a, open(os.path.join(stopped, name), "wb") as b:
            b.write(a.read())
    r = cli(text, "--resume", "--out", run)
    assert r.returncode == 0, r.stderr
    assert f"of {ITERS}" in r.stdout
    same_run(run_of("rnn"), run)
    # a checkpoint of format 3 (before iters and the closing rows) still loads and resumes
    ckpt = os.path.join(stopped, "checkpoint.npz")
    with np.load(ckpt) as z:
        arrays = {k: z[k] for k in z.files if k not in ("iters", "loss_csv_closing", "val_csv_closing")}
    arrays["format"] = np.int64(3)
    np.savez(ckpt, **arrays)
    assert load_checkpoint(ckpt)["iters"] is None
    r = cli(text, "--resume", "--iters", ITERS, "--out", stopped)
    assert r.returncode == 0, r.stderr
    same_run(run_of("rnn"), stopped)
