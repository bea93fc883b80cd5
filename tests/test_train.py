"""The training loop from the command line: faithful to the classic loop, logs, checkpoints, exact resume."""
import csv
import os
import signal
import time

import numpy as np
import pytest

import min_char_rnn as m
from helpers import SMALL, TEXT, cli, popen, write_text
from reference import train_ref

WEIGHTS = ("Wxh", "Whh", "Why", "bh", "by")


def read_rows(run):
    with open(os.path.join(run, "loss.csv"), newline="") as f:
        return list(csv.DictReader(f))


def same_run(a, b):
    """Bit-identical: checkpoint arrays and every output file."""
    with np.load(os.path.join(a, "checkpoint.npz")) as za, np.load(os.path.join(b, "checkpoint.npz")) as zb:
        assert sorted(za.files) == sorted(zb.files)
        for k in za.files:
            np.testing.assert_array_equal(za[k], zb[k], err_msg=k)
    for name in m.RUN_FILES:  # loss.csv, samples.txt, and val.csv where there is one
        assert os.path.exists(os.path.join(a, name)) == os.path.exists(os.path.join(b, name)), name
        if os.path.exists(os.path.join(a, name)):
            with open(os.path.join(a, name), "rb") as fa, open(os.path.join(b, name), "rb") as fb:
                assert fa.read() == fb.read(), name


def test_training_matches_classic_loop_and_loss_falls(tmp_path):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    r = cli(text, *SMALL, "--iters", 400, "--out", run)
    assert r.returncode == 0, r.stderr
    assert "iter 390, loss:" in r.stdout and "----" in r.stdout

    # the weights equal the plain classic loop's (same init draws, data pointer, resets, Adagrad)
    chars, data = m.build_vocab(TEXT)
    assert chars == sorted(set(TEXT))
    params, smooth = train_ref(data, len(chars), 400, hidden_size=16, seq_length=10,
                               sample_every=50, sample_length=30)
    with np.load(os.path.join(run, "checkpoint.npz"), allow_pickle=False) as z:
        for k in WEIGHTS:
            np.testing.assert_allclose(z[k], params[k], rtol=1e-7, atol=1e-12, err_msg=k)
        assert float(z["smooth_loss"]) == pytest.approx(smooth, rel=1e-9)
        assert int(z["n"]) == 400 and [chr(c) for c in z["vocab"]] == chars
        for k in ("mWxh", "mWhh", "mWhy", "mbh", "mby", "hprev", "p", "rng_state", "seq_length",
                  "hidden_size", "learning_rate"):
            assert k in z.files

    rows = read_rows(run)
    # every --log-every iterations, and the run's last iteration (what the console's last line reports)
    assert [int(r["iteration"]) for r in rows] == list(range(0, 400, 10)) + [399]
    first = float(rows[0]["smooth_loss"])
    assert first == pytest.approx(0.999 * np.log(len(chars)) * 10 + 0.001 * float(rows[0]["loss"]))
    last = np.mean([float(r["loss"]) for r in rows[-5:]])
    assert last < 0.4 * float(rows[0]["loss"]), (rows[0], last)

    samples = open(os.path.join(run, "samples.txt"), encoding="utf-8").read()
    assert samples.count("--- iteration ") == 8 and "--- iteration 350 ---" in samples


def test_resume_after_iters_is_bit_identical(tmp_path):
    text = write_text(tmp_path)
    full, split = str(tmp_path / "full"), str(tmp_path / "split")
    assert cli(text, *SMALL, "--iters", 300, "--out", full).returncode == 0
    assert cli(text, *SMALL, "--iters", 130, "--out", split, "--checkpoint-every", 1000).returncode == 0
    r = cli(text, "--iters", 300, "--out", split, "--resume", "--print-interval", "0")  # options from the checkpoint
    assert r.returncode == 0, r.stderr
    assert "resuming at iteration 130" in r.stdout
    same_run(full, split)
    r = cli(text, "--iters", 300, "--out", split, "--resume")
    assert r.returncode == 0 and "0 iterations" in r.stdout  # nothing left to do
    same_run(full, split)


def wait_for(predicate, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def rows_in(run):
    try:
        return len(read_rows(run))
    except (OSError, StopIteration):
        return 0


SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]


@pytest.mark.parametrize("cell,sig", [("rnn", s) for s in SIGNALS] + [("lstm", s) for s in SIGNALS]
                         + [("gru", s) for s in SIGNALS])
def test_resume_after_a_signal_is_bit_identical(tmp_path, cell, sig):
    text = write_text(tmp_path)
    full, split = str(tmp_path / "full"), str(tmp_path / "split")
    iters = 6000 if cell == "rnn" else 2500  # the gated runs also hold out text: val.csv is resumed too
    extra = [] if cell == "rnn" else ["--cell", cell, "--val-frac", 0.1, "--eval-every", 100]
    args = [text, *SMALL, *extra, "--iters", iters, "--checkpoint-every", 100]
    proc = popen(*args, "--out", split)
    ckpt = os.path.join(split, "checkpoint.npz")
    assert wait_for(lambda: os.path.exists(ckpt) and rows_in(split) > 25)
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        with np.load(ckpt) as z:
            n = int(z["n"])
        assert n % 100 == 0 and 0 < n < iters
    else:
        assert proc.returncode == 128 + sig, err
        assert f"stopped by {signal.Signals(sig).name}" in err and "--resume" in err
        with np.load(ckpt) as z:
            n = int(z["n"])
        assert 0 < n < iters, "the signal must arrive mid-run"
        assert int(read_rows(split)[-1]["iteration"]) == (n - 1) // 10 * 10
    r = cli(text, "--iters", iters, "--checkpoint-every", 100, "--out", split, "--resume")
    assert r.returncode == 0, r.stderr
    assert cli(*args, "--out", full).returncode == 0
    same_run(full, split)


def test_nan_loss_stops_and_keeps_last_checkpoint(tmp_path):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    r = cli(text, *SMALL, "--iters", 500, "--checkpoint-every", 1, "--learning-rate", "1e308", "--out", run)
    assert r.returncode != 0
    assert "loss became nan" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    # the only checkpoint (iteration 1) held finite weights whose loss was NaN: not a good one,
    # so it is set aside and the message says no good checkpoint is left (test_faults.py has
    # the case where an earlier, good one is put back)
    assert "no good checkpoint" in r.stderr
    assert not os.path.exists(os.path.join(run, "checkpoint.npz"))
    with np.load(os.path.join(run, "checkpoint.diverged.npz")) as z:
        assert all(np.isfinite(z[k]).all() for k in WEIGHTS) and int(z["n"]) == 1


def test_default_output_folder_follows_the_seed(tmp_path):
    text = write_text(tmp_path)
    for seed in (0, 7):
        r = cli(text, *SMALL, "--iters", 3, "--seed", seed, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "runs" / f"seed-{seed}" / "checkpoint.npz").exists()
    assert not (tmp_path / "runs" / "seed-1").exists()


def test_rerunning_a_finished_run_reports_it_and_touches_nothing(tmp_path):
    from helpers import tree_digest
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    args = [text, *SMALL, "--iters", 200, "--out", run]
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    before = tree_digest(run)
    # the console's last figure is loss.csv's last row: iteration 199, the run's last
    last = read_rows(run)[-1]
    assert last["iteration"] == "199"
    assert f"smoothed loss {float(last['smooth_loss']):.2f} per 10-character chunk" in first.stdout
    assert f"{float(last['smooth_bpc']):.3f} bits per character" in first.stdout
    again = cli(*args)
    assert again.returncode == 0 and again.stderr == ""
    assert "already holds this run, finished" in again.stdout and "at iteration 199" in again.stdout
    low = cli(text, "--iters", 150, "--out", run, "--resume")
    assert low.returncode == 0 and "already at iteration 200" in low.stdout and "0 iterations" in low.stdout
    assert tree_digest(run) == before
    # a run that stopped part-way is only continued on request
    r = cli(text, *SMALL, "--iters", 300, "--out", run)
    assert r.returncode != 0 and "stopped at iteration 200" in r.stderr and "--resume" in r.stderr
    assert tree_digest(run) == before


def test_loss_csv_columns(tmp_path):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    # a huge learning rate makes the gradients large: clipping bites, and the column says where
    assert cli(text, *SMALL, "--iters", 100, "--learning-rate", 5, "--out", run).returncode == 0
    rows = read_rows(run)
    assert list(rows[0]) == ["iteration", "loss", "smooth_loss", "smooth_bpc", "clipped"]
    for row in rows:
        assert float(row["smooth_bpc"]) == pytest.approx(float(row["smooth_loss"]) / 10 / np.log(2), rel=1e-12)
        assert set(row["clipped"].split()) <= set(m.PARAM_NAMES)
    assert any(row["clipped"] for row in rows)
    # the column is right: the state at the start of iteration 90 (a run stopped there) gives
    # the gradient of iteration 90, whose clipped parameters row 90 names
    at90 = str(tmp_path / "at90")
    assert cli(text, *SMALL, "--iters", 90, "--learning-rate", 5, "--out", at90).returncode == 0
    state = m.load_checkpoint(os.path.join(at90, "checkpoint.npz"))
    _, data = m.build_vocab(TEXT)
    p, h = state["p"], state["hprev"]
    if p + 10 + 1 >= len(data):
        p, h = 0, np.zeros_like(h)
    grads = m.lossFun(data[p:p + 10], data[p + 1:p + 11], h, state["params"])[1:6]
    want = [k for k, g in zip(m.PARAM_NAMES, grads) if np.abs(g).max() == 5]
    assert rows[9]["iteration"] == "90" and rows[9]["clipped"].split() == want
