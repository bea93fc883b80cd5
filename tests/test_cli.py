"""The command line (charrnn.cli): every user error is a non-zero exit and one line on stderr
naming the problem, no traceback, no damage; sampling from a checkpoint of each cell; the
--outcome file a training child writes for its parent."""
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import reference
import reference_gru
import reference_lstm
from helpers import (
    ROOT,
    SMALL,
    TEXT,
    assert_one_line_error,
    cli,
    popen,
    rows_in,
    tree_digest,
    wait_for,
    write_text,
)

from charrnn.checkpoint import load_checkpoint
from charrnn.model import CELLS


REFS = {"rnn": reference, "lstm": reference_lstm, "gru": reference_gru}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished small run, to resume, damage and sample from."""
    tmp = tmp_path_factory.mktemp("trained")
    text = write_text(tmp)
    run = str(tmp / "run")
    r = cli(text, *SMALL, "--iters", 200, "--out", run)
    assert r.returncode == 0, r.stderr
    return text, run


def test_bad_texts(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "short.txt").write_text("abcdefghij")  # 10 < seq_length + 2
    (tmp_path / "latin1.txt").write_bytes(("café crème " * 20).encode("latin-1"))
    (tmp_path / "adir").mkdir()
    out = str(tmp_path / "out")
    cases = [("missing.txt", ["not found", "missing.txt"]),
             ("adir", ["directory"]),
             ("empty.txt", ["empty"]),
             ("short.txt", ["10 characters", "seq_length + 2"]),
             ("latin1.txt", ["not valid utf-8", "--encoding"])]
    for name, words in cases:
        r = cli(tmp_path / name, "--seq-length", 25, "--out", out)
        assert_one_line_error(r, *words)
    assert not os.path.exists(out)
    # --encoding is the way out for the latin-1 file
    r = cli(tmp_path / "latin1.txt", "--encoding", "latin-1", "--iters", 3, "--out", out)
    assert r.returncode == 0, r.stderr
    assert_one_line_error(cli(tmp_path / "latin1.txt", "--encoding", "klingon", "--out", out + "2"),
                          "unknown encoding")


@pytest.mark.parametrize("option,value,words", [
    ("--seq-length", "0", ["--seq-length", ">= 1"]),
    ("--hidden-size", "0", ["--hidden-size", ">= 1"]),
    ("--learning-rate", "0", ["--learning-rate", "> 0"]),
    ("--learning-rate", "-0.1", ["--learning-rate"]),
    ("--learning-rate", "nan", ["--learning-rate"]),
    ("--iters", "-1", ["--iters", ">= 0"]),
    ("--iters", "ten", ["--iters", "not a number"]),
    ("--hidden-size", "1e2", ["--hidden-size", "not a number"]),
    ("--seed", "x", ["--seed"]),
    ("--seed", "-3", ["--seed", ">= 0"]),
    ("--temperature", "0", ["--temperature"]),
    # what a checkpoint cannot store and reopen (int64), or the sampler cannot use
    ("--seed", str(2 ** 63), ["--seed", "<= 9223372036854775807"]),
    ("--iters", str(2 ** 70), ["--iters", "<="]),
    ("--log-every", str(2 ** 63), ["--log-every", "<="]),
    ("--temperature", "1e308", ["--temperature", "<= 1000000.0"]),
    ("--sample-length", "1000000000", ["--sample-length", "<= 1000000"]),
])
def test_bad_numbers(tmp_path, option, value, words):
    text = write_text(tmp_path)
    r = cli(text, option, value, "--out", tmp_path / "out")
    assert_one_line_error(r, *words)
    assert not os.path.exists(tmp_path / "out")


def test_resume_problems_leave_the_run_untouched(trained, tmp_path):
    text, run = trained
    before = tree_digest(run)
    other = write_text(tmp_path, TEXT.replace("q", "Q"), "other.txt")  # another vocabulary
    same_chars = write_text(tmp_path, TEXT[::-1], "reversed.txt")  # same characters, other text
    cases = [
        ([text, "--resume", "--out", tmp_path / "nothing"], ["no checkpoint"]),
        ([other, "--resume", "--out", run], ["vocabulary"]),
        ([same_chars, "--resume", "--out", run], ["different text"]),
        ([text, "--resume", "--out", run, "--hidden-size", 32], ["--hidden-size 16, not 32"]),
        ([text, "--resume", "--out", run, "--learning-rate", 0.05], ["--learning-rate"]),
        ([text, "--resume", "--out", run, "--seq-length", 25], ["--seq-length"]),
        ([text, "--out", run], ["already holds a run", "--resume"]),
    ]
    for args, words in cases:
        assert_one_line_error(cli(*args, "--iters", 400), *words)
    assert tree_digest(run) == before


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing-array", "encrypted", "bad-deflate"])
def test_corrupt_checkpoint(trained, tmp_path, damage):
    text, run = trained
    copy = str(tmp_path / "copy")
    shutil.copytree(run, copy)
    ckpt = os.path.join(copy, "checkpoint.npz")
    raw = open(ckpt, "rb").read()
    if damage == "truncate":
        open(ckpt, "wb").write(raw[: len(raw) // 2])
    elif damage == "garbage":
        open(ckpt, "wb").write(b"not a zip file at all" * 10)
    elif damage == "encrypted":  # the flag bit in every central directory entry
        raw = bytearray(raw)
        for i in range(len(raw) - 8):
            if raw[i:i + 4] == b"PK\x01\x02":
                raw[i + 8] |= 1
        open(ckpt, "wb").write(raw)
    elif damage == "bad-deflate":  # a compressed checkpoint, its data damaged
        with zipfile.ZipFile(ckpt) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        with zipfile.ZipFile(ckpt, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for n, d in members.items():
                zf.writestr(n, d)
        raw = bytearray(open(ckpt, "rb").read())
        raw[200:260] = b"\xff" * 60
        open(ckpt, "wb").write(raw)
    else:
        with np.load(ckpt) as z:
            arrays = {k: z[k] for k in z.files if k != "mWhh"}
        np.savez(ckpt, **arrays)
    before = tree_digest(copy)
    assert_one_line_error(cli(text, "--resume", "--out", copy, "--iters", 400), "corrupt", "checkpoint")
    assert_one_line_error(cli("--sample-from", ckpt), "corrupt")
    assert tree_digest(copy) == before


def test_unwritable_output_directory(tmp_path):
    text = write_text(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_one_line_error(cli(text, "--out", blocker / "run"), "cannot write", "a-file")


def test_no_text_and_unknown_option(tmp_path):
    assert_one_line_error(cli(), "give a training text")
    assert_one_line_error(cli(write_text(tmp_path), "--hiden-size", 3), "unknown option --hiden-size",
                          "did you mean --hidden-size?")


def test_sample_from_checkpoint(trained):
    text, run = trained
    ckpt = os.path.join(run, "checkpoint.npz")
    g1 = cli("--sample-from", ckpt, "--strategy", "greedy", "--length", 80, "--prime", "ROMEO:")
    g2 = cli("--sample-from", ckpt, "--strategy", "greedy", "--length", 80, "--prime", "ROMEO:",
             "--temperature", 0.5, "--seed", 9)
    assert g1.returncode == 0, g1.stderr
    assert g1.stdout == g2.stdout  # greedy ignores temperature and seed
    assert g1.stdout.startswith("ROMEO:") and len(g1.stdout) == len("ROMEO:") + 80 + 1
    m1 = cli("--sample-from", ckpt, "--length", 80, "--seed", 3, "--temperature", 0.8)
    m2 = cli("--sample-from", ckpt, "--length", 80, "--seed", 3, "--temperature", 0.8)
    m3 = cli("--sample-from", ckpt, "--length", 80, "--seed", 4, "--temperature", 0.8)
    assert m1.returncode == 0 and m1.stdout == m2.stdout != m3.stdout
    assert set(m1.stdout) <= set(TEXT)
    assert_one_line_error(cli("--sample-from", ckpt, "--prime", "ROMEO~"), "prime", "'~'")
    assert_one_line_error(cli("--sample-from", str(ckpt) + ".nope"), "no checkpoint")
    assert_one_line_error(cli("--sample-from", ckpt, "--strategy", "beam"), "--strategy")


def test_help_and_small_tools(trained, tmp_path):

    text, run = trained
    assert_one_line_error(cli("--sample-from", os.path.join(run, "loss.csv")), "not a checkpoint")
    h = cli("--help")
    assert h.returncode == 0
    for words in ("(default 100)", "(default 25)", "(default 0.1)", "(default 20000)",
                  "also of the draws of --sample-from and --compare", "ignores --temperature and --seed",
                  "uses --prime, --length, --temperature and --seed"):
        assert words in " ".join(h.stdout.split()), words
    tool = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_input.py"), "--help"],
                          capture_output=True, text=True)
    assert tool.returncode == 0 and "usage:" in tool.stdout and not tool.stderr
    bench = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_train.py"),
                            "--iters", "0"], capture_output=True, text=True)
    assert bench.returncode == 2 and "--iters" in bench.stderr and "Traceback" not in bench.stderr


def test_empty_out_and_a_spreadsheet_saved_loss_csv(trained, tmp_path):

    text, run = trained
    assert_one_line_error(cli(text, "--out", ""), "--out is empty")
    # a loss.csv re-saved with a byte-order mark, as a spreadsheet does, still plots
    bom = tmp_path / "loss.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + open(os.path.join(run, "loss.csv"), "rb").read())
    r = subprocess.run([sys.executable, os.path.join(ROOT, "plot_loss.py"), bom, "-o", tmp_path / "p.png"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and (tmp_path / "p.png").exists(), r.stderr


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


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_sampling_from_a_gated_checkpoint(tmp_path, cell):
    text = write_text(tmp_path)
    run = tmp_path / "run"
    assert cli(text, *SMALL, "--cell", cell, "--iters", 300, "--out", run).returncode == 0
    ckpt = run / "checkpoint.npz"
    g = cli("--sample-from", ckpt, "--strategy", "greedy", "--length", 80, "--prime", "ROMEO:")
    assert g.returncode == 0, g.stderr
    # independently: the prime through the per-step reference, then argmax decoding
    state = load_checkpoint(str(ckpt))
    chars, params, ref = state["chars"], state["params"], REFS[cell]
    prime = [chars.index(c) for c in "ROMEO:"]
    h = ref.lossFun_ref(prime[:-1], prime[1:], ref.zero_state_ref(16), params)[-1]
    want = "".join(chars[i] for i in reference.greedy_ref(h, prime[-1], 80, params, ref.step_ref))
    assert g.stdout == "ROMEO:" + want + "\n"
    m1, m2, m3 = (cli("--sample-from", ckpt, "--length", 80, "--seed", s) for s in (3, 3, 4))
    assert m1.returncode == 0 and m1.stdout == m2.stdout != m3.stdout
    r = cli("--compare", ckpt, "--length", 60, "--samples-dir", tmp_path / "s")
    assert r.returncode == 0, r.stderr
    assert CELLS[cell] + ", after 300 iterations" in (tmp_path / "s" / "run.md").read_text()


# ---------------------------------------------------------------------------
# --outcome: how a training child ended, for its parent (charrnn.pool)
# ---------------------------------------------------------------------------

def read_outcome(path):
    with open(path) as f:
        return json.load(f)


def test_outcome_of_a_trained_run_and_of_a_finished_one(tmp_path):
    text = write_text(tmp_path)
    run, path = tmp_path / "run", tmp_path / "outcome.json"
    args = [text, *SMALL, "--iters", 30, "--out", run, "--outcome", path]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    got = read_outcome(path)
    assert got["status"] == "trained" and got["exit_code"] == 0 and got["message"] == ""
    assert got["iteration"] == 30 and got["iterations"] == 30 and got["seconds"] > 0
    r = cli(*args)  # again: the run is there, finished
    assert r.returncode == 0 and "already holds this run, finished" in r.stdout
    got = read_outcome(path)
    assert got["status"] == "finished before" and got["exit_code"] == 0 and got["iterations"] == 0


def test_outcome_of_a_run_stopped_by_ctrl_c(tmp_path):
    text = write_text(tmp_path)
    run, path = tmp_path / "run", tmp_path / "outcome.json"
    proc = popen(text, *SMALL, "--iters", 10 ** 6, "--out", run, "--outcome", path)
    assert wait_for(lambda: rows_in(run) > 5)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 128 + signal.SIGINT, err
    got = read_outcome(path)
    assert got["status"] == "stopped" and got["exit_code"] == 128 + signal.SIGINT
    assert "stopped by SIGINT after" in got["message"] and "--resume" in got["message"]
    assert 0 < got["iteration"] < 10 ** 6 and got["iterations"] == got["iteration"]


def test_outcome_of_a_failed_run(tmp_path):
    text = write_text(tmp_path)
    path = tmp_path / "outcome.json"
    r = cli(text, "--out", "", "--outcome", path)  # refused before anything starts
    assert_one_line_error(r, "--out is empty")
    got = read_outcome(path)
    assert got["status"] == "failed" and got["exit_code"] == r.returncode == 2
    r = cli(tmp_path / "missing.txt", "--out", tmp_path / "run", "--outcome", path)  # a user error
    assert_one_line_error(r, "not found")
    got = read_outcome(path)
    assert got["status"] == "failed" and got["exit_code"] == 1 and "missing.txt" in got["message"]
    assert got["iteration"] is None and got["iterations"] == 0
