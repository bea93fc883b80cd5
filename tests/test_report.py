"""report.py and the trainer feature its restart analysis rests on.

- --init-from starts a new run from a checkpoint's weights with exactly the rest reset: its
  first iteration is checked against one classic training step computed here from those
  weights with zero Adagrad memory, a zero state and the data pointer at 0.
- report.py end to end at its test scale (--scale tiny: a small text, small models, a few
  hundred iterations; about 10 s): it continues an interrupted run with --resume, trains
  the rest, and writes every file its page links (figures in PNG and PDF, CSV data) with
  the tables' numbers consistent with the runs; run again, it reuses every run and writes
  the folder from scratch.
- The small readers of report.py (training samples, the trainer's speed line) on made-up files.
"""
import csv
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import min_char_rnn as m
import report
from helpers import ROOT, SMALL, TEXT, cli, write_text

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_init_from_resets_exactly_memory_state_and_pointer(tmp_path, cell):
    text = write_text(tmp_path)
    src, dst = tmp_path / "src", tmp_path / "dst"
    assert cli(text, *SMALL, "--cell", cell, "--iters", 137, "--out", src).returncode == 0
    start = m.load_checkpoint(str(src / "checkpoint.npz"))
    # the source run has everything --init-from must leave behind
    assert start["p"] > 0 and np.abs(start["hprev"]).max() > 0 and start["n"] == 137
    assert all(np.abs(v).max() > 0 for v in start["mem"].values())

    # no --cell and no --hidden-size: both come from the checkpoint
    r = cli(text, "--init-from", src / "checkpoint.npz", "--seq-length", 10, "--log-every", 1,
            "--iters", 1, "--seed", 5, "--out", dst, "--print-interval", 0)
    assert r.returncode == 0, r.stderr
    got = m.load_checkpoint(str(dst / "checkpoint.npz"))
    assert got["hparams"]["cell"] == cell and got["hparams"]["hidden_size"] == 16

    # one classic step from the source weights, with everything else fresh
    chars, data = m.build_vocab(TEXT)
    assert got["chars"] == chars
    mod = m.cell_module(cell)
    params = {k: v.copy() for k, v in start["params"].items()}
    loss, *grads, h_last = mod.lossFun(data[0:10], data[1:11], mod.zero_state(16), params)
    for k, g in zip(m.PARAM_NAMES, grads):
        np.testing.assert_allclose(got["mem"][k], g * g, rtol=1e-12, atol=0, err_msg=k)  # 0 + g^2
        want = params[k] - 0.1 * g / np.sqrt(g * g + 1e-8)
        np.testing.assert_allclose(got["params"][k], want, rtol=1e-12, atol=1e-15, err_msg=k)
    np.testing.assert_allclose(got["hprev"], h_last, rtol=1e-12, atol=1e-15)  # from a zero state
    assert got["p"] == 10 and got["n"] == 1  # read from the start of the text
    V = len(chars)
    assert got["smooth_loss"] == pytest.approx(-math.log(1 / V) * 10 * 0.999 + loss * 0.001, rel=1e-12)
    with open(dst / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    assert int(rows[0]["iteration"]) == 0 and float(rows[0]["loss"]) == pytest.approx(loss, rel=1e-12)
    # the first step moves every entry with a gradient by about the learning rate
    moved = np.concatenate([np.abs(got["params"][k] - start["params"][k]).ravel() for k in m.PARAM_NAMES])
    assert np.median(moved) > 0.09


def linked_files(page):
    """Every relative link and image target of a Markdown page."""
    return {t for t in re.findall(r"\]\(([^)#]+)\)", page) if "://" not in t}


def run_report(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "report.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_report_end_to_end(tmp_path):
    text = write_text(tmp_path)
    runs, out = tmp_path / "runs", tmp_path / "samples"
    # an interrupted run of the report: the report continues it
    part = cli(text, "--seed", 1, "--hidden-size", 16, "--iters", 150, "--out", runs / "exercise" / "seed-1")
    assert part.returncode == 0, part.stderr
    args = ["--scale", "tiny", "--text", text, "--runs-dir", runs, "--samples-dir", out]
    r = run_report(*args, "--pdf")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"exercise/seed-1: python min_char_rnn.py {text} --resume --iters 300" in r.stdout
    assert "report written to" in r.stdout and "held-out bits per character" in r.stdout

    page = (out / "README.md").read_text()
    for n in range(1, 7):
        assert f"## {n}. " in page
    links = linked_files(page)
    assert {"exercise-loss.png", "decoding.csv", "restart-loss.png", "restart-updates.png",
            "cells-heldout.png", "gradient-flow.png", "clipping.csv"} <= links
    for name in links:
        assert (out / name).is_file(), name
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == PNG
            assert (out / name).with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    for name in os.listdir(out):
        if name.endswith(".csv"):
            assert len(read(out / name)) > 0, name

    # the tables agree with the runs
    seeds = read(out / "exercise-seeds.csv")
    for s, row in zip((1, 2, 3), seeds):
        ck = m.load_checkpoint(str(runs / "exercise" / f"seed-{s}" / "checkpoint.npz"))
        assert ck["n"] == 300
        assert float(row["final smoothed loss"]) == pytest.approx(ck["smooth_loss"], rel=1e-12)
    assert [r["decoding"] for r in read(out / "decoding.csv")] == ["greedy", "T = 0.5", "T = 1.0"] * 5
    jump = {r["run"]: r for r in read(out / "restart-jump.csv")}
    assert jump["--resume"] == {**jump["uninterrupted"], "run": "--resume"}  # the same run, to the bit
    updates = read(out / "restart-updates.csv")
    first = {r["run"]: float(r["all parameters"]) for r in updates if r["update"] == "1"}
    assert first["init-from"] > 10 * first["resumed"]
    cells = read(out / "cells.csv")
    for row, cell in zip(cells, ("rnn", "lstm", "gru")):
        with open(runs / "cells" / cell / "seed-1" / "val.csv") as f:
            last = f.read().splitlines()[-1].split(",")
        assert last[0] == "300" and float(row["final held-out bpc"]) == float(last[1])
    assert len(read(out / "gradient-flow.csv")) == report.SCALES["tiny"]["grad_k"] + 1

    # again: every run reused, the folder written from scratch
    (out / "stale.txt").write_text("from an earlier report")
    r = run_report(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "python min_char_rnn.py" not in r.stdout, r.stdout  # nothing trained
    assert r.stdout.count("finished before, reused") == 10
    assert not (out / "stale.txt").exists() and not (out / "exercise-loss.pdf").exists()
    assert linked_files((out / "README.md").read_text()) == links


def test_report_refuses_runs_of_another_text(tmp_path):
    runs = tmp_path / "runs"
    first = write_text(tmp_path, TEXT[:2000], "a.txt")
    assert cli(first, "--seed", 2, "--hidden-size", 16, "--iters", 20,
               "--out", runs / "exercise" / "seed-2").returncode == 0
    r = run_report("--scale", "tiny", "--text", write_text(tmp_path), "--runs-dir", runs,
                   "--samples-dir", tmp_path / "samples", "--jobs", 1)
    assert r.returncode == 1 and "another text" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "samples").exists()


def test_read_samples_and_training_speed(tmp_path):
    samples = tmp_path / "samples.txt"
    fake = "x\n--- iteration 7 ---\n"  # a sample may hold newlines, even a header-like line
    samples.write_text(f"--- iteration 0 ---\n{'ab'.ljust(len(fake))}\n--- iteration 100 ---\n{fake}\n",
                       encoding="utf-8")
    assert report.read_samples(samples, len(fake)) == [(0, "ab".ljust(len(fake))), (100, fake)]
    log = tmp_path / "run.log"
    log.write_text("$ python min_char_rnn.py ...\n1000 iterations in 2.0 s (500.0 it/s); ...\n"
                   "$ python min_char_rnn.py ... --resume\n3000 iterations in 4.0 s (750.0 it/s); x\n")
    assert report.training_speed(log) == (4000 / 6.0, 6.0)
    assert all(math.isnan(v) for v in report.training_speed(tmp_path / "none.log"))
    np.testing.assert_allclose(report.trailing_mean([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])


def test_report_never_replaces_a_folder_it_did_not_write(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("months of work")
    (tmp_path / "notes.md").write_text("notes")
    for target in (mine, tmp_path / "notes.md"):
        r = run_report("--scale", "tiny", "--samples-dir", target, "--runs-dir", tmp_path / "runs")
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "new or empty folder" in r.stderr
    assert (mine / "thesis.tex").read_text() == "months of work"
    assert (tmp_path / "notes.md").read_text() == "notes"
    assert not (tmp_path / "runs").exists()
