"""The training loop from the command line, with each cell: faithful to the classic loop,
its logs, the held-out loss, checkpoints and exact resume, and the default vanilla run
bit-identical to the code before the gated cells."""
import json
import math
import os
import signal

import numpy as np
import pytest
import reference
import reference_gru
import reference_lstm
from helpers import (
    ROOT,
    SMALL,
    TEXT,
    blas_kernels,
    cli,
    popen,
    read_rows,
    rows_in,
    same_run,
    tree_digest,
    wait_for,
    write_text,
)

import min_char_rnn as m
from charrnn.checkpoint import load_checkpoint
from charrnn.text import build_vocab


REFS = {"rnn": reference, "lstm": reference_lstm, "gru": reference_gru}
BASELINE = os.path.join(ROOT, "tests", "data", "format1-rnn")


# iterations and how far the loss falls in them
CLASSIC = [("rnn", 400, 0.4), ("lstm", 500, 0.5), ("gru", 500, 0.5)]


@pytest.mark.parametrize("cell,iters,fall", CLASSIC)
def test_training_matches_classic_loop_and_loss_falls(tmp_path, cell, iters, fall):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    r = cli(text, *SMALL, "--cell", cell, "--iters", iters, "--out", run)
    assert r.returncode == 0, r.stderr
    assert "iter 390, loss:" in r.stdout and "----" in r.stdout

    # the weights equal the plain classic loop's (same init draws, data pointer, resets, Adagrad)
    chars, data = build_vocab(TEXT)
    assert chars == sorted(set(TEXT))
    params, smooth = reference.train_ref(data, len(chars), iters, hidden_size=16, seq_length=10,
                                         sample_every=50, sample_length=30, cell=REFS[cell])
    with np.load(os.path.join(run, "checkpoint.npz"), allow_pickle=False) as z:
        assert str(z["cell"]) == cell
        for k in m.PARAM_NAMES:
            np.testing.assert_allclose(z[k], params[k], rtol=1e-7, atol=1e-12, err_msg=k)
        assert float(z["smooth_loss"]) == pytest.approx(smooth, rel=1e-9)
        assert int(z["n"]) == iters and [chr(c) for c in z["vocab"]] == chars
        for k in ("mWxh", "mWhh", "mWhy", "mbh", "mby", "hprev", "p", "rng_state", "seq_length",
                  "hidden_size", "learning_rate"):
            assert k in z.files

    rows = read_rows(run)
    # every --log-every iterations, and the run's last iteration (what the console's last line reports)
    assert [int(r["iteration"]) for r in rows] == list(range(0, iters, 10)) + [iters - 1]
    first = float(rows[0]["smooth_loss"])
    assert first == pytest.approx(0.999 * np.log(len(chars)) * 10 + 0.001 * float(rows[0]["loss"]))
    last = np.mean([float(r["loss"]) for r in rows[-5:]])
    assert last < fall * float(rows[0]["loss"]), (rows[0], last)

    samples = open(os.path.join(run, "samples.txt"), encoding="utf-8").read()
    assert samples.count("--- iteration ") == iters // 50 and "--- iteration 350 ---" in samples


# vanilla: no held-out part (the classic run); the gated runs also hold out text, so that
# val.csv is resumed too
RESUMED = [("rnn", 130, []), ("lstm", 150, ["--val-frac", 0.1, "--eval-every", 50]),
           ("gru", 150, ["--val-frac", 0.1, "--eval-every", 50])]


@pytest.mark.parametrize("cell,stop,extra", RESUMED)
def test_resume_after_iters_is_bit_identical(tmp_path, cell, stop, extra):
    text = write_text(tmp_path)
    full, split = str(tmp_path / "full"), str(tmp_path / "split")
    args = [text, *SMALL, "--cell", cell, *extra]
    assert cli(*args, "--iters", 300, "--out", full).returncode == 0
    assert cli(*args, "--iters", stop, "--out", split, "--checkpoint-every", 1000).returncode == 0
    # options, cell and split from the checkpoint
    r = cli(text, "--iters", 300, "--out", split, "--resume", "--print-interval", "0")
    assert r.returncode == 0, r.stderr
    assert f"resuming at iteration {stop}" in r.stdout
    same_run(full, split)
    r = cli(text, "--iters", 300, "--out", split, "--resume")
    assert r.returncode == 0 and "0 iterations" in r.stdout  # nothing left to do
    same_run(full, split)


SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]


@pytest.mark.parametrize("cell,sig", [("rnn", s) for s in SIGNALS] + [("lstm", s) for s in SIGNALS]
                         + [("gru", s) for s in SIGNALS])
def test_resume_after_a_signal_is_bit_identical(tmp_path, undisturbed, cell, sig):
    text = write_text(tmp_path)
    split = str(tmp_path / "split")
    iters = 6000 if cell == "rnn" else 2500  # the gated runs also hold out text: val.csv is resumed too
    extra = [] if cell == "rnn" else ["--cell", cell, "--val-frac", 0.1, "--eval-every", 100]
    options = [*SMALL, *extra, "--iters", iters, "--checkpoint-every", 100]
    proc = popen(text, *options, "--out", split)
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
    same_run(undisturbed(*options), split)  # one undisturbed run per cell, for the three signals


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
        assert all(np.isfinite(z[k]).all() for k in m.PARAM_NAMES) and int(z["n"]) == 1


def test_default_output_folder_follows_the_seed(tmp_path):
    text = write_text(tmp_path)
    for seed in (0, 7):
        r = cli(text, *SMALL, "--iters", 3, "--seed", seed, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "runs" / f"seed-{seed}" / "checkpoint.npz").exists()
    assert not (tmp_path / "runs" / "seed-1").exists()


def test_rerunning_a_finished_run_reports_it_and_touches_nothing(tmp_path):
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
    assert low.returncode == 0 and "has done its 200 iterations" in low.stdout and "leaves 0" in low.stdout
    assert tree_digest(run) == before
    # a run that stopped part-way is only continued on request
    r = cli(text, *SMALL, "--iters", 300, "--out", run)
    assert r.returncode != 0 and "stopped after 200 iterations" in r.stderr and "--resume" in r.stderr
    assert tree_digest(run) == before


def test_loss_csv_columns(tmp_path):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    # a huge learning rate makes the gradients large: clipping bites, and the column says where
    assert cli(text, *SMALL, "--iters", 100, "--learning-rate", 5, "--out", run).returncode == 0
    rows = read_rows(run)
    assert list(rows[0]) == ["iteration", "loss", "smooth_loss", "smooth_bpc", "clipped"]
    for row in rows:
        bpc = float(row["smooth_loss"]) / 10 / np.log(2)
        assert float(row["smooth_bpc"]) == pytest.approx(bpc, rel=1e-12)
        assert set(row["clipped"].split()) <= set(m.PARAM_NAMES)
    assert any(row["clipped"] for row in rows)
    # the column is right: the state at the start of iteration 90 (a run stopped there) gives
    # the gradient of iteration 90, whose clipped parameters row 90 names
    at90 = str(tmp_path / "at90")
    assert cli(text, *SMALL, "--iters", 90, "--learning-rate", 5, "--out", at90).returncode == 0
    state = load_checkpoint(os.path.join(at90, "checkpoint.npz"))
    _, data = build_vocab(TEXT)
    p, h = state["p"], state["hprev"]
    if p + 10 + 1 >= len(data):
        p, h = 0, np.zeros_like(h)
    grads = m.lossFun(data[p:p + 10], data[p + 1:p + 11], h, state["params"])[1:6]
    want = [k for k, g in zip(m.PARAM_NAMES, grads, strict=True) if np.abs(g).max() == 5]
    assert rows[9]["iteration"] == "90" and rows[9]["clipped"].split() == want


def plain_heldout_bpc(val, params, ref, start, streams=100, warmup=100):
    """Held-out bits per character by the README's definition, one stream and one step at a
    time: each piece scored after reading the warmup characters before it, from start."""
    pieces = np.array_split(np.arange(len(val) - 1), min(streams, len(val) - 1))
    nats = 0.0
    for piece in pieces:
        before = np.arange(max(0, piece[0] - warmup), piece[0])
        state = start
        if len(before):  # the warm-up: read, its loss not counted
            state = ref.lossFun_ref([int(val[i]) for i in before], [int(val[i + 1]) for i in before],
                                    start, params)[-1]
        nats += ref.lossFun_ref([int(val[i]) for i in piece], [int(val[i + 1]) for i in piece],
                                state, params)[0]
    return nats / (len(val) - 1) / math.log(2)


@pytest.mark.parametrize("cell", list(REFS))
def test_heldout_bpc_matches_a_plain_computation(tmp_path, cell):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    r = cli(text, *SMALL, "--cell", cell, "--iters", 250, "--val-frac", 0.25, "--eval-every", 100,
            "--out", run)
    assert r.returncode == 0, r.stderr
    assert "held-out" in r.stdout
    rows = [line.split(",") for line in open(os.path.join(run, "val.csv")).read().splitlines()]
    assert rows[0] == ["iteration", "val_bpc"]
    assert [int(row[0]) for row in rows[1:]] == [0, 100, 200, 250]  # every 100 and at the end
    chars, data = build_vocab(TEXT)
    val = data[len(data) - int(len(data) * 0.25):]
    state = load_checkpoint(os.path.join(run, "checkpoint.npz"))
    # the last row is of the run's end: its streams start from the state the run carries then
    want = plain_heldout_bpc(val, state["params"], REFS[cell], state["hprev"])
    assert float(rows[-1][1]) == pytest.approx(want, rel=1e-9)
    assert float(rows[1][1]) == pytest.approx(math.log2(len(chars)), abs=0.01)  # untrained: uniform
    assert float(rows[-1][1]) < 0.7 * float(rows[1][1])
    # the held-out part is never trained on: the data pointer wraps before it
    assert int(state["p"]) + 10 + 1 < len(data) - len(val)


def test_heldout_text_is_never_trained_on(tmp_path):
    # the held-out quarter is made of characters the training part never shows as targets after
    # 'q'; a run that read the held-out part would learn 'q' -> 'Z' and have a low held-out loss
    train_part = "qa" * 300
    text = write_text(tmp_path, train_part + "qZ" * 100)
    run = str(tmp_path / "run")
    r = cli(text, *SMALL, "--iters", 400, "--val-frac", 0.25, "--out", run)
    assert r.returncode == 0, r.stderr
    with np.load(os.path.join(run, "checkpoint.npz")) as z:
        assert str(z["cell"]) == "rnn" and float(z["val_frac"]) == 0.25
    last = float(open(os.path.join(run, "val.csv")).read().splitlines()[-1].split(",")[1])
    assert last > 2.0  # 'Z' after 'q' is a surprise every other character


def baseline_args():
    with open(os.path.join(BASELINE, "MADE_WITH.json")) as f:
        return json.load(f)


def test_default_vanilla_run_is_bit_identical_to_the_previous_code(tmp_path):
    """tests/data/format1-rnn was written by the code before the gated cells (MADE_WITH.json)."""
    made = baseline_args()
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    r = cli(text, *made["args"], "--out", run)
    assert r.returncode == 0, r.stderr
    got, want = read_rows(run), read_rows(BASELINE)
    assert [row["iteration"] for row in got[:len(want)]] == [row["iteration"] for row in want]
    for g, w in zip(got, want, strict=False):  # to rounding on any machine
        for k in ("loss", "smooth_loss"):
            assert float(g[k]) == pytest.approx(float(w[k]), rel=1e-6), (g, w)
    if (blas_kernels(), np.__version__) != (made["blas_kernels"], made["numpy"]):
        pytest.skip("bit-identity holds on the machine and library build that wrote the baseline")
    # every digit of the columns the previous code wrote (new columns follow them)
    assert [{k: row[k] for k in want[0]} for row in got[:len(want)]] == want
    with open(os.path.join(run, "samples.txt"), "rb") as a:
        with open(os.path.join(BASELINE, "samples.txt"), "rb") as b:
            assert a.read() == b.read()
    baseline_ckpt = os.path.join(BASELINE, "checkpoint.npz")
    with np.load(os.path.join(run, "checkpoint.npz")) as za, np.load(baseline_ckpt) as zb:
        for k in m.PARAM_NAMES:
            np.testing.assert_array_equal(za[k], zb[k], err_msg=k)


def test_rerunning_an_init_from_command_reports_the_finished_run(tmp_path):
    text = write_text(tmp_path)
    base, again = tmp_path / "base", tmp_path / "again"
    assert cli(text, *SMALL, "--iters", 50, "--out", base).returncode == 0
    args = [text, *SMALL, "--iters", 30, "--init-from", base / "checkpoint.npz", "--out", again]
    assert cli(*args).returncode == 0
    before = tree_digest(again)
    r = cli(*args)
    assert r.returncode == 0 and "already holds this run, finished" in r.stdout, r.stderr
    assert tree_digest(again) == before


def test_the_data_pointer_wraps_where_the_classic_loop_does(tmp_path):
    # 2001 characters, chunks of 10: at p = 1990 the chunk's last target is the text's last
    # character, and the classic loop (p + seq_length + 1 >= len(data)) already starts over
    short = TEXT[:2001]
    text = write_text(tmp_path, short)
    run = str(tmp_path / "run")
    r = cli(text, *SMALL, "--iters", 230, "--sample-every", 0, "--out", run)
    assert r.returncode == 0, r.stderr
    chars, data = build_vocab(short)
    params, smooth = reference.train_ref(data, len(chars), 230, hidden_size=16, seq_length=10,
                                         sample_every=0)
    with np.load(os.path.join(run, "checkpoint.npz")) as z:
        assert int(z["p"]) == 310  # started over at iteration 199, 31 chunks ago
        for k in m.PARAM_NAMES:
            np.testing.assert_allclose(z[k], params[k], rtol=1e-7, atol=1e-12, err_msg=k)
        assert float(z["smooth_loss"]) == pytest.approx(smooth, rel=1e-9)
