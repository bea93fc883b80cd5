"""The training harness with each cell: the classic loop, the held-out loss, exact resume,
sampling from a gated checkpoint, and checkpoints written before the gated cells existed."""
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import min_char_rnn as m
import reference
import reference_gru
import reference_lstm
from helpers import ROOT, SMALL, TEXT, blas_kernels, cli, write_text
from test_cli_errors import assert_one_line_error
from test_train import read_rows, same_run

REFS = {"rnn": reference, "lstm": reference_lstm, "gru": reference_gru}
GATED = ["lstm", "gru"]
BASELINE = os.path.join(ROOT, "tests", "data", "format1-rnn")


@pytest.mark.parametrize("cell", GATED)
def test_gated_training_matches_the_classic_loop_and_loss_falls(tmp_path, cell):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    r = cli(text, *SMALL, "--cell", cell, "--iters", 500, "--out", run)
    assert r.returncode == 0, r.stderr
    chars, data = m.build_vocab(TEXT)
    params, smooth = reference.train_ref(data, len(chars), 500, hidden_size=16, seq_length=10,
                                         sample_every=50, sample_length=30, cell=REFS[cell])
    with np.load(os.path.join(run, "checkpoint.npz"), allow_pickle=False) as z:
        assert str(z["cell"]) == cell
        for k in m.PARAM_NAMES:
            np.testing.assert_allclose(z[k], params[k], rtol=1e-7, atol=1e-12, err_msg=k)
        assert float(z["smooth_loss"]) == pytest.approx(smooth, rel=1e-9)
    rows = read_rows(run)
    last = np.mean([float(row["loss"]) for row in rows[-5:]])
    assert last < 0.5 * float(rows[0]["loss"]), (rows[0], last)


def plain_heldout_bpc(val, params, ref, streams=100):
    """Held-out bits per character by the README's definition, one stream and one step at a time."""
    H = params["Whh"].shape[1]
    pieces = np.array_split(np.arange(len(val) - 1), min(streams, len(val) - 1))
    nats = sum(ref.lossFun_ref([int(val[i]) for i in piece], [int(val[i + 1]) for i in piece],
                               ref.zero_state_ref(H), params)[0] for piece in pieces)
    return nats / (len(val) - 1) / math.log(2)


@pytest.mark.parametrize("cell", ["rnn", *GATED])
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
    chars, data = m.build_vocab(TEXT)
    val = data[len(data) - int(len(data) * 0.25):]
    state = m.load_checkpoint(os.path.join(run, "checkpoint.npz"))
    want = plain_heldout_bpc(val, state["params"], REFS[cell])
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


@pytest.mark.parametrize("cell", GATED)
def test_gated_resume_after_iters_is_bit_identical(tmp_path, cell):
    text = write_text(tmp_path)
    full, split = str(tmp_path / "full"), str(tmp_path / "split")
    args = [text, *SMALL, "--cell", cell, "--val-frac", 0.1, "--eval-every", 50]
    assert cli(*args, "--iters", 300, "--out", full).returncode == 0
    assert cli(*args, "--iters", 150, "--out", split, "--checkpoint-every", 1000).returncode == 0
    r = cli(text, "--iters", 300, "--out", split, "--resume")  # cell and split from the checkpoint
    assert r.returncode == 0, r.stderr
    same_run(full, split)


def test_resume_refuses_another_cell_or_split(tmp_path):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    assert cli(text, *SMALL, "--iters", 20, "--out", run).returncode == 0
    assert_one_line_error(cli(text, "--resume", "--cell", "lstm", "--out", run, "--iters", 40),
                          "--cell rnn, not lstm")
    assert_one_line_error(cli(text, "--resume", "--val-frac", 0.1, "--out", run, "--iters", 40),
                          "--val-frac 0.0, not 0.1")
    assert_one_line_error(cli(text, "--cell", "tree", "--out", tmp_path / "x"), "--cell")
    for frac in ("1", "1.5", "-0.1"):
        assert_one_line_error(cli(text, "--val-frac", frac, "--out", tmp_path / "x"), "--val-frac")
    assert_one_line_error(cli(write_text(tmp_path, TEXT[:60], "short.txt"), "--val-frac", 0.9,
                              "--out", tmp_path / "x"), "holding out 54", "--val-frac 0.9")
    assert not os.path.exists(tmp_path / "x")


@pytest.mark.parametrize("cell", GATED)
def test_sampling_from_a_gated_checkpoint(tmp_path, cell):
    text = write_text(tmp_path)
    run = tmp_path / "run"
    assert cli(text, *SMALL, "--cell", cell, "--iters", 300, "--out", run).returncode == 0
    ckpt = run / "checkpoint.npz"
    g = cli("--sample-from", ckpt, "--strategy", "greedy", "--length", 80, "--prime", "ROMEO:")
    assert g.returncode == 0, g.stderr
    # independently: the prime through the per-step reference, then argmax decoding
    state = m.load_checkpoint(str(ckpt))
    chars, params, ref = state["chars"], state["params"], REFS[cell]
    prime = [chars.index(c) for c in "ROMEO:"]
    h = ref.lossFun_ref(prime[:-1], prime[1:], ref.zero_state_ref(16), params)[-1]
    want = "".join(chars[i] for i in ref.greedy_ref(h, prime[-1], 80, params))
    assert g.stdout == "ROMEO:" + want + "\n"
    m1, m2, m3 = (cli("--sample-from", ckpt, "--length", 80, "--seed", s) for s in (3, 3, 4))
    assert m1.returncode == 0 and m1.stdout == m2.stdout != m3.stdout
    r = cli("--compare", ckpt, "--length", 60, "--samples-dir", tmp_path / "s")
    assert r.returncode == 0, r.stderr
    assert m.CELLS[cell] + ", after 300 iterations" in (tmp_path / "s" / "run.md").read_text()


def test_seeds_train_a_gated_cell(tmp_path):
    text = write_text(tmp_path)
    r = cli(text, *SMALL, "--cell", "gru", "--val-frac", 0.1, "--iters", 60, "--seeds", 1, 2,
            "--out", tmp_path / "g")
    assert r.returncode == 0, r.stdout + r.stderr
    single = tmp_path / "single"
    assert cli(text, *SMALL, "--cell", "gru", "--val-frac", 0.1, "--iters", 60, "--seed", 2,
               "--out", single).returncode == 0
    same_run(single, tmp_path / "g" / "seed-2")


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
    for g, w in zip(got, want):  # to rounding on any machine
        for k in ("loss", "smooth_loss"):
            assert float(g[k]) == pytest.approx(float(w[k]), rel=1e-6), (g, w)
    if (blas_kernels(), np.__version__) != (made["blas_kernels"], made["numpy"]):
        pytest.skip("bit-identity holds on the machine and library build that wrote the baseline")
    # every digit of the columns the previous code wrote (new columns follow them)
    assert [{k: row[k] for k in want[0]} for row in got[:len(want)]] == want
    with open(os.path.join(run, "samples.txt"), "rb") as a, open(os.path.join(BASELINE, "samples.txt"), "rb") as b:
        assert a.read() == b.read()
    with np.load(os.path.join(run, "checkpoint.npz")) as za, np.load(os.path.join(BASELINE, "checkpoint.npz")) as zb:
        for k in m.PARAM_NAMES:
            np.testing.assert_array_equal(za[k], zb[k], err_msg=k)


def test_format_1_checkpoints_still_load(tmp_path):
    made = baseline_args()
    old = tmp_path / "old"
    shutil.copytree(BASELINE, old)
    ckpt = old / "checkpoint.npz"
    with np.load(ckpt) as z:
        assert int(z["format"]) == 1 and "cell" not in z.files
    g = cli("--sample-from", ckpt, "--strategy", "greedy", "--length", 40, "--prime", "ROMEO:")
    assert g.returncode == 0 and g.stdout.startswith("ROMEO:") and len(g.stdout) == 6 + 40 + 1, g.stderr
    r = cli("--compare", ckpt, "--length", 40, "--samples-dir", tmp_path / "s")
    assert r.returncode == 0 and "vanilla RNN, after 300" in (tmp_path / "s" / "old.md").read_text(), r.stderr
    text = write_text(tmp_path)
    r = cli(text, "--resume", "--out", old, "--iters", 400, "--print-interval", 0)
    assert r.returncode == 0, r.stderr
    assert "resuming at iteration 300" in r.stdout
    with np.load(ckpt) as z:
        assert int(z["format"]) == m.CHECKPOINT_FORMAT and str(z["cell"]) == "rnn" and int(z["n"]) == 400
    rows = read_rows(old)
    assert list(rows[0]) == ["iteration", "loss", "smooth_loss"]  # the old file keeps its columns
    assert [int(row["iteration"]) for row in rows] == list(range(0, 400, 10)) + [399]
    # on the machine that wrote it, the continued run equals one that never stopped
    if (blas_kernels(), np.__version__) == (made["blas_kernels"], made["numpy"]):
        full = tmp_path / "full"
        args = list(made["args"])
        args[args.index("--iters") + 1] = "400"
        assert cli(text, *args, "--out", full).returncode == 0
        with np.load(ckpt) as za, np.load(full / "checkpoint.npz") as zb:
            for k in [*m.PARAM_NAMES, "mWxh", "mWhh", "mWhy", "mbh", "mby", "hprev", "p", "rng_state"]:
                np.testing.assert_array_equal(za[k], zb[k], err_msg=k)
        assert (old / "samples.txt").read_bytes() == (full / "samples.txt").read_bytes()
        assert rows == [{k: row[k] for k in rows[0]} for row in read_rows(full)]


def test_plot_draws_the_heldout_curve(tmp_path):
    text = write_text(tmp_path)
    run = tmp_path / "run"
    assert cli(text, *SMALL, "--iters", 200, "--val-frac", 0.2, "--eval-every", 50,
               "--out", run).returncode == 0
    import plot_loss
    (it, _, _, bpc), (val_it, val_bpc) = plot_loss.read_run(str(run / "loss.csv"))
    assert val_it == [0, 50, 100, 150, 200] and len(it) == 21  # every 10, and the last, 199
    assert val_bpc[-1] < val_bpc[0]
    r = subprocess.run([sys.executable, os.path.join(ROOT, "plot_loss.py"), run / "loss.csv",
                        "-o", tmp_path / "p.png"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(tmp_path / "p.png") > 5000


def test_rerunning_an_init_from_command_reports_the_finished_run(tmp_path):
    from helpers import tree_digest
    text = write_text(tmp_path)
    base, again = tmp_path / "base", tmp_path / "again"
    assert cli(text, *SMALL, "--iters", 50, "--out", base).returncode == 0
    args = [text, *SMALL, "--iters", 30, "--init-from", base / "checkpoint.npz", "--out", again]
    assert cli(*args).returncode == 0
    before = tree_digest(again)
    r = cli(*args)
    assert r.returncode == 0 and "already holds this run, finished" in r.stdout, r.stderr
    assert tree_digest(again) == before
