"""report.py and the trainer feature its restart analysis rests on.

- --init-from starts a new run from a checkpoint's weights with exactly the rest reset: its
  first iteration is checked against one classic training step computed here from those
  weights with zero Adagrad memory, a zero state and the data pointer at 0.
- report.py end to end at its test scale (--scale tiny: a small text, small models, a few
  hundred iterations; about 10 s): it continues an interrupted run with --resume, trains
  the rest, and writes every file its page links (figures in PNG and PDF, CSV data) with
  the tables' numbers consistent with the runs; run again, it reuses every run and writes
  the folder from scratch. Every CSV file it writes reads back with the csv module, each
  cell a number float() reads or, in a column of names, text.
- The small pieces of report_sections/ on made-up input: the training samples' reader, the
  training speed from the kept outcomes, the trailing mean, a CSV cell of a NumPy number.
"""
import csv
import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT, SMALL, TEXT, cli, tree_digest, write_text

import min_char_rnn as m
from charrnn.checkpoint import load_checkpoint
from charrnn.model import cell_module
from charrnn.text import build_vocab
from report_sections import folder
from report_sections import long_range_dependency as long_range
from report_sections import lstm_gru_vs_vanilla as cells_section
from report_sections.folder import write_manifest
from report_sections.page import csv_cell
from report_sections.plan import CELL_RUNS, SCALES
from report_sections.runs import read_samples
from report_sections.training import keep_outcome, training_speed
from report_sections.why_reloading_is_not_resuming import trailing_mean


PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_init_from_resets_exactly_memory_state_and_pointer(tmp_path, cell):
    text = write_text(tmp_path)
    src, dst = tmp_path / "src", tmp_path / "dst"
    assert cli(text, *SMALL, "--cell", cell, "--iters", 137, "--out", src).returncode == 0
    start = load_checkpoint(str(src / "checkpoint.npz"))
    # the source run has everything --init-from must leave behind
    assert start["p"] > 0 and np.abs(start["hprev"]).max() > 0 and start["n"] == 137
    assert all(np.abs(v).max() > 0 for v in start["mem"].values())

    # no --cell and no --hidden-size: both come from the checkpoint
    r = cli(text, "--init-from", src / "checkpoint.npz", "--seq-length", 10, "--log-every", 1,
            "--iters", 1, "--seed", 5, "--out", dst, "--print-interval", 0)
    assert r.returncode == 0, r.stderr
    got = load_checkpoint(str(dst / "checkpoint.npz"))
    assert got["hparams"]["cell"] == cell and got["hparams"]["hidden_size"] == 16

    # one classic step from the source weights, with everything else fresh
    chars, data = build_vocab(TEXT)
    assert got["chars"] == chars
    mod = cell_module(cell)
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


def make_tiny_report(folder):
    """The report at --scale tiny, with --pdf, in folder, after an interrupted run of it: the
    report continues that run. Its printed lines are kept in folder/stdout.txt."""
    text = write_text(folder)
    # an interrupted run of the report: the report continues it
    part = cli(text, "--seed", 1, "--hidden-size", 16, "--iters", 150,
               "--out", folder / "runs" / "exercise" / "seed-1")
    assert part.returncode == 0, part.stderr
    r = run_report("--scale", "tiny", "--text", text, "--runs-dir", folder / "runs",
                   "--samples-dir", folder / "samples", "--pdf")
    assert r.returncode == 0, r.stdout + r.stderr
    (folder / "stdout.txt").write_text(r.stdout)


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """(the text, the runs folder, the samples folder, the printed lines) of make_tiny_report,
    made once for all the test workers (pytest-xdist): the tests only read it."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "tiny-report"
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker makes it, the others wait for it
        if not (folder / "stdout.txt").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make_tiny_report(folder)
    return str(folder / "text.txt"), folder / "runs", folder / "samples", (folder / "stdout.txt").read_text()


def test_report_end_to_end(tiny_report, tmp_path):
    text, runs, shared, stdout = tiny_report
    assert f"exercise/seed-1: python min_char_rnn.py {text} --resume --iters 300" in stdout
    assert "report written to" in stdout and "held-out bits per character" in stdout
    out = tmp_path / "samples"  # a copy: this test replaces it
    shutil.copytree(shared, out)

    page = (out / "README.md").read_text()
    for n in range(1, 7):
        assert f"## {n}. " in page
    links = linked_files(page)
    assert {"exercise-loss.png", "decoding.csv", "restart-loss.png", "restart-updates.png",
            "cells-heldout.png", "gradient-flow.png", "clipping.csv"} <= links
    assert {"long-range.png", "long-range.csv", "truncation.png", "truncation-costs.csv",
            "long-range-more.csv"} <= links  # issue 17
    more = SCALES["tiny"]["recall_more"]  # the longer training: every cell, truncation and seed
    got = [(r["cell"], int(r["seq_length"]), int(r["iterations"])) for r in read(out / "long-range-more.csv")]
    assert sorted(got) == sorted((c, T, more["chars"] // T) for c in ("vanilla RNN", "LSTM", "GRU")
                                 for T in more["seq"] for _ in more["seeds"])
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
        ck = load_checkpoint(str(runs / "exercise" / f"seed-{s}" / "checkpoint.npz"))
        assert ck["n"] == 300
        assert float(row["final smoothed loss"]) == pytest.approx(ck["smooth_loss"], rel=1e-12)
    primes = SCALES["tiny"]["primes"]
    decodings = [r["decoding"] for r in read(out / "decoding.csv")]
    assert decodings == ["greedy", "T = 0.5", "T = 1.0"] * 5 * primes
    jump = {r["run"]: r for r in read(out / "restart-jump.csv")}
    # the same run, to the bit
    assert jump["--resume"] == {**jump["uninterrupted"], "run": "--resume", "reset": "nothing"}
    # the ablation: resetting only the Adagrad memory raises the loss after the restart
    assert float(jump["reset Adagrad memory only"]["first update, mean abs change per entry"]) > \
        10 * float(jump["--resume"]["first update, mean abs change per entry"])
    updates = read(out / "restart-updates.csv")
    first = {r["run"]: float(r["all parameters"]) for r in updates if r["update"] == "1"}
    assert first["init-from"] > 10 * first["resumed"]
    cells = read(out / "cells.csv")
    keys = [(run, seed) for run in CELL_RUNS for seed in SCALES["tiny"]["cell_seeds"]]
    assert len(cells) == len(keys)
    for row, (cell, seed) in zip(cells, keys):
        assert int(row["seed"]) == seed
        with open(runs / "cells" / cell / f"seed-{seed}" / "val.csv") as f:
            last = f.read().splitlines()[-1].split(",")
        assert last[0] == "300" and float(row["final held-out bpc"]) == float(last[1])
        # the speed: the trainer's own outcomes, kept beside the job's log
        with open(runs / "logs" / f"cells-{cell}-seed-{seed}.json") as f:
            outcomes = json.load(f)
        assert [o["status"] for o in outcomes] == ["trained"] and outcomes[0]["iterations"] == 300
        assert float(row["iterations per second"]) == pytest.approx(300 / outcomes[0]["seconds"])
        # equal time: the iterations times the update time measured by the report itself
        assert float(row["seconds of updates"]) == pytest.approx(
            300 * float(row["milliseconds per update (measured)"]) / 1e3)
    assert len(read(out / "gradient-flow.csv")) == SCALES["tiny"]["grad_k"] + 1
    check_written_again(text, runs, out, links)


def check_written_again(text, runs, out, links):
    """The manifest of a report's folder; the report run again over it: refused while a file of
    the user's is in it, then every run reused and the folder written from scratch."""
    # the manifest lists every file, with its hash
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["scale"] == "tiny" and set(manifest["files"]) == set(os.listdir(out)) - {"MANIFEST.json"}
    assert manifest["files"]["README.md"] == hashlib.sha256((out / "README.md").read_bytes()).hexdigest()

    # a file of the user's in the folder: refused, nothing touched
    (out / "seed-1.md").write_text("my comparison")
    before = tree_digest(out)
    r = run_report("--scale", "tiny", "--text", text, "--runs-dir", runs, "--samples-dir", out)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "'seed-1.md'" in r.stderr, r.stderr
    assert "move it out" in r.stderr and r.stdout == "" and tree_digest(out) == before
    (out / "seed-1.md").unlink()

    # again: every run reused, the folder written from scratch
    r = run_report("--scale", "tiny", "--text", text, "--runs-dir", runs, "--samples-dir", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "python min_char_rnn.py" not in r.stdout, r.stdout  # nothing trained
    jobs = [n for n in os.listdir(runs / "logs") if n.endswith(".json")]  # one per job
    assert r.stdout.count("finished before, reused") == len(jobs)
    assert not (out / "exercise-loss.pdf").exists()
    assert linked_files((out / "README.md").read_text()) == links
    assert [p for p in os.listdir(out.parent) if p.startswith(".")] == []  # no folder left beside it


# The columns of the report's CSV files that hold names or text; every other cell is a number.
TEXT_COLUMNS = {"run", "cell", "weights", "model", "decoding", "loop", "sample", "text", "prime",
                "reset", "block", "network"}


def test_every_csv_of_the_report_reads_back_as_numbers(tiny_report):
    _, _, out, _ = tiny_report
    names = sorted(n for n in os.listdir(out) if n.endswith(".csv"))
    assert len(names) >= 12, names  # the six sections write twelve
    for name in names:
        with open(out / name, newline="", encoding="utf-8") as f:
            header, *rows = list(csv.reader(f))
        assert rows and all(len(row) == len(header) for row in rows), name
        for row in rows:
            for column, cell in zip(header, row):
                if column not in TEXT_COLUMNS:  # a number, or "nan" where there is none
                    assert cell == "nan" or math.isfinite(float(cell)), (name, column, cell)


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


def test_read_samples_training_speed_and_csv_cells(tmp_path):
    samples = tmp_path / "samples.txt"
    fake = "x\n--- iteration 7 ---\n"  # a sample may hold newlines, even a header-like line
    samples.write_text(f"--- iteration 0 ---\n{'ab'.ljust(len(fake))}\n--- iteration 100 ---\n{fake}\n",
                       encoding="utf-8")
    assert read_samples(samples, len(fake)) == [(0, "ab".ljust(len(fake))), (100, fake)]
    # the speed of a job: all its commands' iterations over all their seconds
    kept = tmp_path / "logs" / "cells-rnn-seed-1.json"
    kept.parent.mkdir()
    keep_outcome(str(kept), {"status": "stopped", "iterations": 1000, "seconds": 2.0})
    keep_outcome(str(kept), {"status": "trained", "iterations": 3000, "seconds": 4.0})
    assert training_speed(str(kept)) == (4000 / 6.0, 6.0)
    assert all(math.isnan(v) for v in training_speed(str(tmp_path / "none.json")))
    np.testing.assert_allclose(trailing_mean([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    # NumPy's numbers are written as Python's: all digits, and read back by float()
    assert [csv_cell(v) for v in (np.float64(0.1), np.float32(0.5), np.int64(7), float("nan"), None, "a")] \
        == ["0.1", "0.5", 7, "nan", "nan", "a"]  # a missing number is "nan": float() reads every cell


def refused(*args):
    """report.py refuses up front: exit 2, one line on stderr (returned), nothing printed."""
    r = run_report("--scale", "tiny", *args)
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


def test_report_never_replaces_a_folder_it_did_not_write(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("months of work")
    (tmp_path / "notes.md").write_text("notes")
    for target in (mine, tmp_path / "notes.md"):
        assert "new or empty" in refused("--samples-dir", target, "--runs-dir", tmp_path / "runs")
    assert (mine / "thesis.tex").read_text() == "months of work"
    assert (tmp_path / "notes.md").read_text() == "notes"

    # a full report (its manifest) with a symbolic link in it, or a subfolder; a link as the folder
    full = tmp_path / "full"
    full.mkdir()
    (full / "README.md").write_text("# the full report")
    write_manifest(str(full), ["README.md"], "full")
    (full / "link.csv").symlink_to(mine / "thesis.tex")
    why = refused("--samples-dir", full, "--runs-dir", tmp_path / "runs")
    assert "'link.csv', which is a symbolic link" in why
    (full / "link.csv").unlink()
    (full / "sub").mkdir()
    assert "'sub', which is a folder" in refused("--samples-dir", full, "--runs-dir", tmp_path / "runs")
    (full / "sub").rmdir()
    (tmp_path / "link").symlink_to(full)
    assert "symbolic link" in refused("--samples-dir", tmp_path / "link", "--runs-dir", tmp_path / "runs")
    # a tiny report never replaces the full one unasked
    assert "--replace-full-report" in refused("--samples-dir", full, "--runs-dir", tmp_path / "runs")
    assert (full / "README.md").read_text() == "# the full report"
    assert sorted(os.listdir(tmp_path)) == ["full", "link", "mine", "notes.md"]  # no runs folder either


def test_the_shipped_report_is_all_the_report_wrote():
    """samples/ holds only the files its manifest lists, unchanged: the next report may replace it."""
    folder.check_replaceable(os.path.join(ROOT, "samples"), "samples", "full", False)


def interrupt_report(args, line, group):
    """Start report.py, send SIGINT (to it, or to its process group as a terminal does) once it
    prints a line holding `line`; returns (stdout, stderr, exit code)."""
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "report.py"), *map(str, args)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen = []
    for out_line in p.stdout:
        seen.append(out_line)
        if line in out_line:
            (os.killpg if group else os.kill)(p.pid, signal.SIGINT)
            break
    out, err = p.communicate(timeout=120)
    assert line in "".join(seen), "".join(seen) + out + err
    return "".join(seen) + out, err, p.returncode


def same_page(page, cmd, runs):
    """A page with what differs between invocations masked: its command and runs folder, the
    date and times of its head, and sections 4 and 8, whose comparisons at equal training time
    rest on update times measured as the page is written."""
    page = page.replace(cmd, "CMD").replace(str(runs), "RUNS")
    page = re.sub(r"Generated by .*? Every number", "HEAD", page, flags=re.S)
    # the truncation section: its times are measured as the page is written
    page = re.sub(r"^## \d+\. What truncating backpropagation.*?(?=^## |\Z)", "TRUNCATION", page,
                  flags=re.S | re.M)
    return re.sub(r"^## 4\. .*?^## 5\. ", "SECTION 4", page, flags=re.S | re.M)


def test_report_stopped_and_started_again(tiny_report, tmp_path):
    """Ctrl-C right after the start, while the first runs train (to the whole process group)
    and while the page is written: each stops cleanly, and the next invocation goes on."""
    text, fixture_runs, fixture_out, _ = tiny_report
    runs = tmp_path / "runs"
    args = ["--scale", "tiny", "--text", text, "--runs-dir", runs]  # the page goes to runs/samples
    # the first line; the third run's start (the first two started together: one has
    # finished, the other is training); the first section of the page written
    moments = [("report (tiny)", False), ("cells/rnn/seed-1: python", True), ("] exercise: done", True)]
    for line, group in moments:
        out, err, code = interrupt_report(args, line, group)
        assert code == 130 and err.count("\n") == 1 and "run the same command again" in err, (line, err)
        assert "report written" not in out and not (runs / "samples").exists(), line
        if runs.exists():  # no folder half-written beside the samples folder
            assert [p for p in os.listdir(runs) if p.startswith(".")] == [], line
    outcomes = [o for name in os.listdir(runs / "logs") if name.endswith(".json")
                for o in json.loads((runs / "logs" / name).read_text())]
    assert {o["status"] for o in outcomes} <= {"trained", "stopped"}, outcomes  # never "failed"

    r = run_report(*args)
    assert r.returncode == 0 and r.stderr == "", r.stdout + r.stderr
    jobs = [n for n in os.listdir(runs / "logs") if n.endswith(".json")]  # one per job
    assert r.stdout.count("finished before, reused") == len(jobs)
    assert f"{runs / 'samples'}/README.md" in r.stdout
    fixture_cmd = (f"python report.py --scale tiny --text {text} --runs-dir {fixture_runs} "
                   f"--samples-dir {fixture_out} --pdf")
    want = same_page((fixture_out / "README.md").read_text(), fixture_cmd, fixture_runs)
    got = same_page((runs / "samples" / "README.md").read_text(),
                    f"python report.py --scale tiny --text {text} --runs-dir {runs}", runs)
    assert got == want


def test_equal_time_verdicts_count_the_timing_error():
    """A difference counts at equal time only beyond twice the seed sd and the timing band."""
    # rows of cells-summary.csv: name, seeds, params, mean, sd, gap, mean at equal time, sd, it/s, ms, band
    rows = [["A", 3, 1, 3.0, 0.01, 0, 3.00, 0.01, 1, 1, 0.05],
            ["B", 3, 1, 3.0, 0.01, 0, 3.08, 0.01, 1, 1, 0.05],
            ["C", 3, 1, 3.0, 0.01, 0, 3.20, 0.01, 1, 1, 0.05]]
    assert "not shown" in cells_section.versus(rows, "A", "B", 6, 7, 10)  # 0.08 > 2 sd, but <= 0.05 + 0.05
    beyond = cells_section.versus(rows, "A", "C", 6, 7, 10)  # 0.20: beyond both
    assert "the A lower by 0.200" in beyond and "not shown" not in beyond
    assert "not shown" not in cells_section.versus(rows, "A", "B", 6, 7)  # at equal iterations: no band
    # the order must hold over the budgets: a lead that changes sign on the way is not shown
    times = np.array([6.0, 8.0, 10.0])
    flips = (times, {"A": np.array([3.0, 3.0, 3.0]), "C": np.array([2.9, 3.1, 3.2])})
    holds = (times, {"A": np.array([3.0, 3.0, 3.0]), "C": np.array([3.1, 3.15, 3.2])})
    assert cells_section.judge(rows, "A", "C", 6, 7, 10, holds)[0]
    shown, words = cells_section.judge(rows, "A", "C", 6, 7, 10, flips)
    assert not shown and "the order changes" in words
    # the band: how far a reading moves when the time is 10% off, either way the curve reaches
    secs, bpc = np.array([0.0, 10.0, 20.0]), np.array([5.0, 4.0, 2.0])
    assert cells_section.timing_band(secs, bpc, 10.0) == pytest.approx(0.2)  # 11 s: 3.8; 9 s: 4.1
    assert cells_section.timing_band(secs, bpc, 20.0) == pytest.approx(0.4)  # the end: only 18 s


def recall_row(cell, L, T, seed, bits, chars=1000):
    """A row as long-range.csv's: cell, L, seq_length, seed, recall bits, ..., characters seen."""
    return [cell, L, T, seed, bits, 0.0, 1, chars // T, chars, 0.0]


def test_long_range_conclusion_takes_each_cells_best_setting_over_its_seeds():
    row = recall_row
    rows = [row("GRU", 20, 25, 1, 0.1), row("GRU", 20, 25, 2, 1.9),  # mean 1.0
            row("GRU", 40, 50, 1, 0.6), row("GRU", 40, 50, 2, 0.7),  # mean 0.65: the best
            row("GRU", 10, 25, 1, 0.0), row("GRU", 10, 25, 2, 0.0)]  # below L0: not counted
    mean, lo, hi, L, T, chars = long_range.best_setting(rows, "gru", 20)
    assert (L, T, lo, hi, chars) == (40, 50, 0.6, 0.7, 1000) and mean == pytest.approx(0.65)
