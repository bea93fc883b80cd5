"""Advice that works (issue 15): every error message that tells the user what to do next is
triggered, and the command it advises is run, literally, and must succeed. Also: divergence
is said in one line, and options a command does not use are refused."""
import os
import shutil

import numpy as np
import pytest
from helpers import SMALL, advised_command, cli, fsize_limit, one_line, read_rows, write_text


ARGS = [*SMALL, "--iters", 20, "--checkpoint-every", 10]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(text, folder) of a small finished run (ARGS), to copy."""
    tmp = tmp_path_factory.mktemp("finished")
    text = write_text(tmp)
    run = str(tmp / "run")
    r = cli(text, *ARGS, "--out", run)
    assert r.returncode == 0, r.stderr
    return text, run


def copy_of(run, tmp_path, name="run"):
    shutil.copytree(run, tmp_path / name)
    return str(tmp_path / name)


def n_of(run):
    with np.load(os.path.join(run, "checkpoint.npz")) as z:
        return int(z["n"])


def advised(*args, cwd=None):
    """The advised command must succeed."""
    r = cli(*args, cwd=cwd)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


# (a failed write that kept a checkpoint, ": --resume continues from it", is followed in
# test_faults.py, test_a_full_disk_stops_in_one_line_and_resume_is_exact; the stop line's
# "continue with --resume" in test_kill_points.py and test_training.py)

# Each case triggers one message, checks its advice, and follows it: (text, finished run, tmp)

def write_failed_before_a_checkpoint(text, _, tmp):
    run = str(tmp / "run")
    command = [text, *SMALL, "--iters", 200, "--sample-length", 500, "--out", run]
    r = cli(*command, preexec_fn=fsize_limit(3000))
    one_line(r.stderr, "file too large", "no checkpoint was written yet; start the run again")
    advised(*command)


def diverged_before_a_checkpoint(text, _, tmp):
    run = str(tmp / "run")
    command = [text, *ARGS, "--iters", 100, "--checkpoint-every", 1000, "--out", run]
    r = cli(*command, "--learning-rate", "1e9")
    one_line(r.stderr, "diverged", "start the run again with a smaller --learning-rate")
    advised(*command, "--learning-rate", "0.1")


def diverged_after_a_checkpoint(text, _, tmp):
    run = str(tmp / "run")
    command = [text, *ARGS, "--iters", 100, "--checkpoint-every", 5, "--out", run]
    r = cli(*command, "--learning-rate", "1e9")
    one_line(r.stderr, "diverged", "start a new run with a smaller --learning-rate and another --out")
    advised(*command[:-1], str(tmp / "another"), "--learning-rate", "0.1")


def not_utf8(_, __, tmp):
    path = tmp / "latin.txt"
    path.write_bytes("caf\u00e9 au lait, ".encode("latin-1") * 50)
    r = cli(path, *ARGS, "--out", tmp / "run")
    one_line(r.stderr, "pass --encoding latin-1")
    advised(path, *ARGS, "--out", tmp / "run", "--encoding", "latin-1")


def stopped_run_started_again(text, run, tmp):
    run = copy_of(run, tmp)
    r = cli(text, *SMALL, "--iters", 40, "--out", run)
    line = one_line(r.stderr, "continue it with python", "--resume", "or choose another --out")
    advised(*advised_command(line, "continue it with "))  # the exact command, as given
    assert n_of(run) == 40
    advised(text, *SMALL, "--iters", 40, "--out", tmp / "another")


def finished_run_resumed(text, run, tmp):
    run = copy_of(run, tmp)
    r = advised(text, "--resume", "--out", run)  # exit 0, but nothing to do
    assert "give a larger --iters to train on" in r.stdout
    advised(text, "--resume", "--out", run, "--iters", 30)
    assert n_of(run) == 30


def other_option_without_resume(text, run, tmp):
    run = copy_of(run, tmp)
    r = cli(text, *ARGS, "--hidden-size", 8, "--iters", 30, "--out", run)
    one_line(r.stderr, "choose another --out (or drop the option and use --resume")
    advised(text, *ARGS, "--iters", 30, "--out", run, "--resume")
    assert n_of(run) == 30
    advised(text, *ARGS, "--hidden-size", 8, "--iters", 30, "--out", tmp / "another")


def other_option_with_resume(text, run, tmp):
    run = copy_of(run, tmp)
    r = cli(text, "--resume", "--hidden-size", 8, "--iters", 30, "--out", run)
    line = one_line(r.stderr, "drop the option", "another --out")
    advised(text, "--resume", "--iters", 30, "--out", run)
    # another --out holds no run to resume: the advice must say to start one there
    resume = [] if "without --resume" in line else ["--resume"]
    advised(text, *resume, "--hidden-size", 8, "--iters", 30, "--out", tmp / "another")


def resume_without_a_checkpoint(text, _, tmp):
    r = cli(text, *ARGS, "--resume", "--out", tmp / "run")
    one_line(r.stderr, "start the run without --resume")
    advised(text, *ARGS, "--out", tmp / "run")


def model_too_large(text, _, tmp):
    r = cli(text, *ARGS, "--hidden-size", 10 ** 7, "--out", tmp / "run")
    one_line(r.stderr, "choose a smaller --hidden-size or --seq-length")
    advised(text, *ARGS, "--hidden-size", 16, "--out", tmp / "run")


def option_training_does_not_use(text, _, tmp):
    r = cli(text, *ARGS, "--temperature", 2, "--out", tmp / "run")
    one_line(r.stderr, "--temperature is not used by training: drop it")
    advised(text, *ARGS, "--out", tmp / "run")


def options_sampling_does_not_use(_, run, tmp):
    ckpt = os.path.join(run, "checkpoint.npz")
    r = cli("--sample-from", ckpt, "--hidden-size", 3, "--cell", "gru", "--length", 20)
    one_line(r.stderr, "--hidden-size", "--cell", "are not used by --sample-from: drop them")
    advised("--sample-from", ckpt, "--length", 20)


def sample_from_and_compare(_, run, tmp):
    ckpt = os.path.join(run, "checkpoint.npz")
    r = cli("--sample-from", ckpt, "--compare", ckpt, "--length", 20)
    one_line(r.stderr, "give one of --sample-from and --compare")
    advised("--sample-from", ckpt, "--length", 20)
    advised("--compare", ckpt, "--length", 20, "--samples-dir", tmp / "s")


def a_file_that_is_not_a_log(text, _, tmp):
    os.makedirs(tmp / "run")
    (tmp / "run" / "loss.csv").write_text("my numbers\n")
    r = cli(text, *ARGS, "--out", tmp / "run")
    one_line(r.stderr, "move it, or choose another --out")
    shutil.move(tmp / "run" / "loss.csv", tmp / "loss.csv")
    advised(text, *ARGS, "--out", tmp / "run")
    advised(text, *ARGS, "--out", tmp / "another")


def a_log_edited_since(text, run, tmp):
    run = copy_of(run, tmp)
    saved = (tmp / "run" / "loss.csv").read_bytes()
    (tmp / "run" / "loss.csv").write_bytes(saved.replace(b"\n", b"\r\n"))
    r = cli(text, "--resume", "--iters", 30, "--out", run)
    one_line(r.stderr, "restore the file or start a new run in another --out")
    advised(text, *ARGS, "--iters", 30, "--out", tmp / "another")
    (tmp / "run" / "loss.csv").write_bytes(saved)
    advised(text, "--resume", "--iters", 30, "--out", run)


def another_text(text, run, tmp):
    run = copy_of(run, tmp)
    other = write_text(tmp, open(text).read()[::-1], name="other.txt")
    r = cli(other, "--resume", "--iters", 30, "--out", run)
    one_line(r.stderr, "give its text, or choose another --out")
    advised(text, "--resume", "--iters", 30, "--out", run)
    advised(other, *ARGS, "--out", tmp / "another")


def resume_and_init_from(text, run, tmp):
    copy = copy_of(run, tmp)
    r = cli(text, "--resume", "--init-from", os.path.join(run, "checkpoint.npz"), "--iters", 30,
            "--out", copy)
    one_line(r.stderr, "give one of them")
    advised(text, "--resume", "--iters", 30, "--out", copy)
    advised(text, *ARGS, "--init-from", os.path.join(run, "checkpoint.npz"), "--out", tmp / "new")


def empty_out(text, _, tmp):
    r = cli(text, *ARGS, "--out", "")
    one_line(r.stderr, "leave the option out")
    advised(text, *ARGS, cwd=tmp)
    assert (tmp / "runs" / "seed-1" / "checkpoint.npz").exists()


def no_text(text, _, tmp):
    r = cli(*ARGS, "--out", tmp / "run")
    one_line(r.stderr, "give a training text (python min_char_rnn.py input.txt)")
    advised(text, *ARGS, "--out", tmp / "run")


ADVICE = [write_failed_before_a_checkpoint,
          diverged_before_a_checkpoint, diverged_after_a_checkpoint, not_utf8,
          stopped_run_started_again, finished_run_resumed, other_option_without_resume,
          other_option_with_resume, resume_without_a_checkpoint, model_too_large,
          option_training_does_not_use, options_sampling_does_not_use, sample_from_and_compare,
          a_file_that_is_not_a_log, a_log_edited_since, another_text, resume_and_init_from,
          empty_out, no_text]


@pytest.mark.parametrize("case", ADVICE, ids=[c.__name__ for c in ADVICE])
def test_the_advised_command_succeeds(finished, tmp_path, case):
    text, run = finished
    case(text, run, tmp_path)


# --- divergence is said ---------------------------------------------------------------

@pytest.mark.parametrize("rate", ["1e9", "100"])
def test_a_diverging_run_stops_in_one_line(finished, tmp_path, rate):
    text, _ = finished
    r = cli(text, *SMALL, "--iters", 300, "--learning-rate", rate, "--out", tmp_path / "run")
    assert r.returncode == 1
    # two logged rows in a row above twice a uniform guess's loss: found at iteration 20
    one_line(r.stderr, "diverged", "at iteration 20", "smaller --learning-rate")


def test_a_default_run_is_far_from_the_divergence_line(finished):
    _, run = finished
    chars = len(set(open(os.path.join(os.path.dirname(run), "text.txt")).read()))
    uniform = 10 * np.log(chars)  # SMALL's --seq-length 10
    rows = read_rows(run)
    assert rows and max(float(row["smooth_loss"]) for row in rows) < 1.01 * uniform  # the line: 2x


# --- options a command does not use are refused ---------------------------------------

@pytest.mark.parametrize("extra,named", [
    (["--sample-from", "CKPT", "--hidden-size", 3], "--hidden-size"),
    (["--compare", "CKPT", "--strategy", "greedy"], "--strategy"),
    (["TEXT", "--temperature", 2], "--temperature"),
    (["--sample-from", "CKPT", "--compare", "CKPT"], "--compare"),
])
def test_an_option_the_command_does_not_use_is_refused(finished, tmp_path, extra, named):
    text, run = finished
    values = {"CKPT": os.path.join(run, "checkpoint.npz"), "TEXT": text}
    r = cli(*[values.get(a, a) for a in extra], cwd=tmp_path)
    assert r.returncode == 2
    one_line(r.stderr, named)
    assert sorted(os.listdir(tmp_path)) == []


def test_compare_writes_into_comparisons_by_default(finished, tmp_path):
    _, run = finished
    advised("--compare", os.path.join(run, "checkpoint.npz"), "--length", 20, cwd=tmp_path)
    assert os.listdir(tmp_path) == ["comparisons"] and os.listdir(tmp_path / "comparisons") == ["run.md"]
